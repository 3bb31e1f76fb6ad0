"""Durations as people type them: 30s, 10m, 2h, 7d, 1w and combinations such as 1h30m.

Shown with Babel's narrow units of the current language ("1h 30m", "1h 30 Min."); read back in
the English letters (accepted in every language) and in the current language's units as Babel
writes them, narrow, short or long, so whatever a member is shown they can type back.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from babel import Locale
from babel.units import format_unit

from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import N_, _, current_locale

__all__ = [
    "ACCEPTED_FORMS",
    "MAX_SECONDS",
    "UNIT_SECONDS",
    "VARYING",
    "accepted_forms",
    "format_duration",
    "parse_duration",
]

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Babel's (CLDR's) duration units, largest first, with their English letters.
_UNITS = (("week", "w"), ("day", "d"), ("hour", "h"), ("minute", "m"), ("second", "s"))
# Units whose length varies: refused by name rather than misread ("1 mois" is not one minute).
_VARYING_UNITS = ("month", "year")
_LENGTHS = ("narrow", "short", "long")
# A number and the word after it; the unit is a whole word (so "min" is never read as "m" + "in")
# and a trailing dot is dropped ("Std." = "Std").
_PART = re.compile(r"\s*(\d+)\s*([^\W\d_]+)\.?")
_SECONDS_ONLY = re.compile(r"\d+")
ACCEPTED_FORMS = N_("{a}, {b}, {c}, {d}, {e} or combinations such as {f}")
# The combination example ends without a dot in every language (no "30 Min.." before a full stop).
_EXAMPLES = (30, 600, 7200, 2 * 86400, 604800, 86400 + 12 * 3600)
MAX_SECONDS = 10 * 365 * 86400
AT_MOST = N_("The duration can be at most {duration}.")
VARYING = N_("{text}: months and years vary in length, so they are not accepted. Use {forms}.")


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


@lru_cache(maxsize=4096)
def _narrow(code: str, unit: str, count: int) -> str:
    # format="0": digits without grouping, so the number reads back as typed.
    return format_unit(count, f"duration-{unit}", length="narrow", format="0", locale=_locale(code))


def format_duration(seconds: int) -> str:
    """`5400` → `1h 30m` (`1h 30 Min.` in German); the largest units first, zero parts left out."""
    code = current_locale()
    if seconds <= 0:
        return _narrow(code, "second", 0)
    parts = []
    for unit, letter in _UNITS:
        count, seconds = divmod(seconds, UNIT_SECONDS[letter])
        if count:
            parts.append(_narrow(code, unit, count))
    return " ".join(parts)


def _unit_words(locale: Locale, unit: str) -> set[str]:
    """Every way Babel writes `unit` in `locale` (all lengths and plural forms), normalised."""
    words = set()
    for length in _LENGTHS:
        # Each plural form the language has, plus 0 and 1 (French "0 seconde").
        for count in (0, 1, 2, 5, 21, 1_000_000):
            shown = format_unit(count, f"duration-{unit}", length=length, format="0", locale=locale)
            word = _normalise(shown.replace(str(count), "", 1))
            if _PART.fullmatch(f"1{word}"):
                words.add(word)
    return words


def _normalise(word: str) -> str:
    return word.strip().removesuffix(".").strip().casefold()


@cache
def _unit_table(code: str) -> tuple[dict[str, int], frozenset[str]]:
    """The seconds per unit word in `code`, and the words of units refused (months, years).

    The English letters come first and win any clash (German "M" and Spanish "m." are months in
    Babel, but "m" has always been minutes here)."""
    locale = _locale(code)
    english = _locale("en")
    seconds: dict[str, int] = dict(UNIT_SECONDS)
    for unit, letter in _UNITS:
        for word in _unit_words(english, unit) | _unit_words(locale, unit):
            seconds.setdefault(word, UNIT_SECONDS[letter])
    refused = {
        word
        for unit in _VARYING_UNITS
        for source in (english, locale)
        for word in _unit_words(source, unit)
        if word not in seconds
    }
    return seconds, frozenset(refused)


def accepted_forms() -> str:
    """The refusal's examples, in the current language's units."""
    return _(ACCEPTED_FORMS).format(
        **dict(zip("abcdef", map(format_duration, _EXAMPLES), strict=True))
    )


def _not_a_duration(text: str) -> ValidationError:
    return ValidationError(
        _("{text} is not a duration. Use {forms}.").format(
            text=shown_input(text), forms=accepted_forms()
        )
    )


def _parts(text: str) -> list[tuple[str, int]]:
    """(number, seconds per unit) for each part of `text`; refuses anything else."""
    cleaned = (text or "").strip()
    if _SECONDS_ONLY.fullmatch(cleaned):
        return [(cleaned, 1)]
    seconds, refused = _unit_table(current_locale())
    parts: list[tuple[str, int]] = []
    position = 0
    while position < len(cleaned):
        match = _PART.match(cleaned, position)
        if match is None:
            raise _not_a_duration(text)
        number, word = match.group(1), match.group(2).casefold()
        if word in refused:
            raise ValidationError(_(VARYING).format(text=shown_input(text), forms=accepted_forms()))
        if word not in seconds:
            raise _not_a_duration(text)
        parts.append((number, seconds[word]))
        position = match.end()
    if not parts:
        raise _not_a_duration(text)
    return parts


def parse_duration(text: str, *, maximum: int = MAX_SECONDS, minimum: int = 1) -> int:
    """Seconds in `text`; raises ValidationError with the accepted forms otherwise."""
    parts = _parts(text)
    # A number longer than any allowed duration is refused before int() (which stops at 4,300
    # digits with a ValueError).
    if any(len(number.lstrip("0")) > len(str(maximum)) for number, _size in parts):
        raise ValidationError(_(AT_MOST).format(duration=format_duration(maximum)))
    seconds = sum(int(number) * size for number, size in parts)
    if seconds < minimum:
        raise ValidationError(
            _("The duration must be at least {duration}.").format(duration=format_duration(minimum))
        )
    if seconds > maximum:
        raise ValidationError(_(AT_MOST).format(duration=format_duration(maximum)))
    return seconds
