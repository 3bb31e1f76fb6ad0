"""Durations as people type them: 30s, 10m, 2h, 7d, 1w and combinations such as 1h30m."""

from __future__ import annotations

import re

from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import N_, _

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\d+\s*[smhdw]\s*)+$")
# The units stay s, m, h, d and w in every language: the parser reads only them.
ACCEPTED_FORMS = N_("30s, 10m, 2h, 7d, 1w or combinations such as 1h30m")
MAX_SECONDS = 10 * 365 * 86400
AT_MOST = N_("The duration can be at most {duration}.")


def parse_duration(text: str, *, maximum: int = MAX_SECONDS, minimum: int = 1) -> int:
    """Seconds in `text`; raises ValidationError with the accepted forms otherwise."""
    cleaned = (text or "").strip().lower()
    if cleaned.isdigit():
        cleaned += "s"
    if not cleaned or not _WHOLE.match(cleaned):
        raise ValidationError(
            _("{text} is not a duration. Use {forms}.").format(
                text=shown_input(text), forms=_(ACCEPTED_FORMS)
            )
        )
    parts = _PART.findall(cleaned)
    # A number longer than any allowed duration is refused before int() (which stops at 4,300
    # digits with a ValueError).
    if any(len(number.lstrip("0")) > len(str(maximum)) for number, _unit in parts):
        raise ValidationError(_(AT_MOST).format(duration=format_duration(maximum)))
    seconds = sum(int(n) * UNIT_SECONDS[u] for n, u in parts)
    if seconds < minimum:
        raise ValidationError(
            _("The duration must be at least {duration}.").format(
                duration=format_duration(minimum)
            )
        )
    if seconds > maximum:
        raise ValidationError(_(AT_MOST).format(duration=format_duration(maximum)))
    return seconds


def format_duration(seconds: int) -> str:
    """`5400` → `1h 30m`; the largest units first, zero parts left out."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts)
