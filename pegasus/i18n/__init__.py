"""Pegasus's languages: gettext catalogs managed with Babel, and the language each text is for.

Every text people read goes through `_` (or `ngettext` for counted nouns, `pgettext` where the
same English word needs different translations), in the language of the current context:

- a member's own replies (the answer to their command or button) are in their language: their
  `/language me` choice, else their Discord client's (the interaction's locale); the bot sets it
  before the handler runs, so a handler just calls `_`;
- posts to the whole server (level-ups, giveaways, logs, announcements) are in the server's
  language (`/language server`): wrap them in `with for_guild(guild_id):`.

English is the source language: the message ids are the English texts, so English needs no
catalog. Placeholders are brace fields (`{member}`), the same in every language, filled with
`.format()` after translating, never inside an f-string (the catalog could not hold it).

This module imports no `discord`: services translate their refusals with it too.
"""

from __future__ import annotations

import contextvars
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.dates import format_time as _format_time
from babel.dates import format_timedelta, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

__all__ = [
    "DEFAULT_LOCALE",
    "LANGUAGES",
    "N_",
    "_",
    "current_locale",
    "for_direct_message",
    "for_guild",
    "format_datetime",
    "format_number",
    "format_utc",
    "gettext_in",
    "guild_locale",
    "language_name",
    "ngettext",
    "pgettext",
    "pgettext_in",
    "remember_guild_locale",
    "remember_user_locale",
    "replace_known_locales",
    "reply_locale",
    "reset_locale",
    "set_locale",
    "supported_locale",
    "use_locale",
]

DEFAULT_LOCALE = "en"
# The languages Pegasus speaks, by code, each named in itself (as pickers show them).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "es": "Español",
    "fr": "Français",
}
CATALOG_DIR = Path(__file__).parent / "locales"

_locale: contextvars.ContextVar[str] = contextvars.ContextVar(
    "pegasus_locale", default=DEFAULT_LOCALE
)
# Each server's language when not English, as the bot last read or set it (`guilds.language`);
# each member's own choice (`users.preferred_locale`), likewise.
_guild_locales: dict[int, str] = {}
_user_locales: dict[int, str] = {}


def supported_locale(tag: str | None) -> str | None:
    """The language Pegasus speaks for a locale tag (Discord's `es-ES`, `es-419`, a browser's
    `fr-CA`, `de_DE`), or None when it speaks none of it."""
    if not tag:
        return None
    language = tag.replace("_", "-").split("-", 1)[0].strip().lower()
    return language if language in LANGUAGES else None


def language_name(locale: str) -> str:
    return LANGUAGES.get(locale, locale)


def current_locale() -> str:
    return _locale.get()


def set_locale(locale: str | None) -> contextvars.Token[str]:
    """Make `locale` (or English, when unsupported) the language of this context."""
    return _locale.set(supported_locale(locale) or DEFAULT_LOCALE)


def reset_locale(token: contextvars.Token[str]) -> None:
    _locale.reset(token)


@contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Translate into `locale` inside the block."""
    token = set_locale(locale)
    try:
        yield _locale.get()
    finally:
        _locale.reset(token)


def remember_guild_locale(guild_id: int, locale: str | None) -> None:
    """Note a server's language (read from or written to `guilds.language`)."""
    chosen = supported_locale(locale) or DEFAULT_LOCALE
    if chosen == DEFAULT_LOCALE:
        _guild_locales.pop(guild_id, None)
    else:
        _guild_locales[guild_id] = chosen


def guild_locale(guild_id: int | None) -> str:
    """The language of posts to the whole server `guild_id`."""
    if guild_id is None:
        return DEFAULT_LOCALE
    return _guild_locales.get(guild_id, DEFAULT_LOCALE)


def replace_known_locales(guilds: dict[int, str], users: dict[int, str]) -> None:
    """Everything known at once (read again from the database): choices gone are forgotten."""
    fresh_guilds = {g: loc for g, code in guilds.items() if (loc := supported_locale(code))}
    fresh_users = {u: loc for u, code in users.items() if (loc := supported_locale(code))}
    _guild_locales.clear()
    _guild_locales.update({g: loc for g, loc in fresh_guilds.items() if loc != DEFAULT_LOCALE})
    _user_locales.clear()
    _user_locales.update(fresh_users)


def remember_user_locale(user_id: int, locale: str | None) -> None:
    """Note a member's own language choice (None: they follow their Discord client)."""
    chosen = supported_locale(locale)
    if chosen is None:
        _user_locales.pop(user_id, None)
    else:
        _user_locales[user_id] = chosen


def user_choice(user_id: int) -> str | None:
    return _user_locales.get(user_id)


def reply_locale(user_id: int | None, client_locale: str | None) -> str:
    """The language of replies to a member: their own choice, else their Discord client's."""
    chosen = _user_locales.get(user_id) if user_id is not None else None
    return chosen or supported_locale(client_locale) or DEFAULT_LOCALE


@contextmanager
def for_guild(guild_id: int | None) -> Iterator[str]:
    """Translate into the language of server `guild_id` inside the block (a post to everyone)."""
    with use_locale(guild_locale(guild_id)) as locale:
        yield locale


@contextmanager
def for_direct_message(user_id: int | None, guild_id: int | None) -> Iterator[str]:
    """Translate a direct message to a member about a server (a punishment, a prize, a rating
    prompt): into their own choice, else the server's language, since no app locale comes
    with it."""
    chosen = _user_locales.get(user_id) if user_id is not None else None
    with use_locale(chosen or guild_locale(guild_id)) as locale:
        yield locale


def _catalog_files(locale: str) -> list[Path]:
    return sorted((CATALOG_DIR / locale / "LC_MESSAGES").glob("*.po"))


def _compile(path: Path) -> Translations:
    """A catalog compiled in memory: what `pybabel compile` would write, without a file."""
    with path.open("rb") as source:
        catalog = read_po(source, locale=path.parent.parent.name, domain=path.stem)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=path.stem)


@cache
def translations(locale: str) -> NullTranslations:
    """Every domain of `locale` merged into one catalog, compiled at first use."""
    merged: NullTranslations = NullTranslations()
    for path in _catalog_files(locale):
        domain = _compile(path)
        if isinstance(merged, Translations):
            merged.merge(domain)
        else:
            merged = domain
    return merged


def gettext_in(locale: str, message: str) -> str:
    if locale == DEFAULT_LOCALE:
        return message
    return translations(locale).gettext(message)


def pgettext_in(locale: str, context: str, message: str) -> str:
    if locale == DEFAULT_LOCALE:
        return message
    return translations(locale).pgettext(context, message)


def _(message: str) -> str:
    """`message` in the current language."""
    return gettext_in(_locale.get(), message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted text for `n` in the current language (its own plural rules)."""
    locale = _locale.get()
    if locale == DEFAULT_LOCALE:
        return singular if n == 1 else plural
    return translations(locale).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` in the current language, where `context` tells apart English homonyms."""
    return pgettext_in(_locale.get(), context, message)


def N_(message: str) -> str:
    """Marks a text for the catalogs where it is declared (a constant, a label); translate it
    with `_` where it is shown."""
    return message


@cache
def _babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


def format_number(value: float, *, decimals: int | None = None) -> str:
    """A number as the current language writes it (1,234.5 / 1.234,5 / 1 234,5)."""
    locale = _babel_locale(_locale.get())
    if decimals is None:
        return format_decimal(value, locale=locale)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=locale)


def format_datetime(moment: datetime, *, style: str = "medium") -> str:
    """A date and time as the current language writes it."""
    return _format_datetime(moment, format=style, locale=_babel_locale(_locale.get()))


def format_utc(moment: datetime, *, seconds: bool = False) -> str:
    """A moment in UTC as the current language writes it, the zone named so readers know it is
    not theirs: "Mar 5, 2026, 2:07 PM UTC", "05.03.2026, 14:07 UTC". A naive moment is taken
    to be UTC already (as SQLite may return it)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    locale = _babel_locale(_locale.get())
    time_pattern = locale.time_formats["medium" if seconds else "short"].pattern
    # "UTC" written out in every language (Babel's French would say "TU", which fewer know).
    time = _format_time(moment, f"{time_pattern} 'UTC'", tzinfo=UTC, locale=locale)
    date = _format_date(moment, format="medium", locale=locale)
    return get_datetime_format("medium", locale=locale).replace("{1}", date).replace("{0}", time)


def format_date(moment: datetime, *, style: str = "medium") -> str:
    return _format_date(moment, format=style, locale=_babel_locale(_locale.get()))


def format_span(seconds: float, *, granularity: str = "second") -> str:
    """A duration in words in the current language ("3 hours", "3 Stunden")."""
    return format_timedelta(
        timedelta(seconds=seconds),
        granularity=granularity,
        threshold=1,
        locale=_babel_locale(_locale.get()),
    )
