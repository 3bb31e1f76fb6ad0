"""Colours as people type them: one grammar for every command and the API.

`#5865F2`, `5865F2`, `0x5865F2`, the short `#fff`, or a name (`blue`, `green`, `purple`...);
stored and returned as 0xRRGGBB.
"""

from __future__ import annotations

import re

from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import N_, _

__all__ = [
    "COLOUR_FORMS",
    "NAMED_COLOURS",
    "format_colour",
    "parse_colour",
    "parse_optional_colour",
]

_HEX_COLOUR = re.compile(r"^(?:#|0x)?([0-9a-f]{6}|[0-9a-f]{3})$")

NAMED_COLOURS: dict[str, int] = {
    "black": 0x000000,
    "white": 0xFFFFFF,
    "red": 0xED4245,
    "green": 0x57F287,
    "blue": 0x3498DB,
    "blurple": 0x5865F2,
    "yellow": 0xFEE75C,
    "orange": 0xE67E22,
    "purple": 0x9B59B6,
    "pink": 0xEB459E,
    "grey": 0x95A5A6,
    "gray": 0x95A5A6,
    "teal": 0x1ABC9C,
    "navy": 0x1F2A44,
}
# The colour names stay English: the parser reads only them. Shown with `_(COLOUR_FORMS)`.
COLOUR_FORMS = N_(
    "a colour like #5865F2, 5865F2, #fff or a name such as blue, green or purple"
)


def parse_colour(text: str) -> int:
    """`#5865F2`, `5865f2`, `0x5865F2`, `#fff` or a colour name → 0xRRGGBB; refused otherwise."""
    cleaned = (text or "").strip().lower()
    if cleaned in NAMED_COLOURS:
        return NAMED_COLOURS[cleaned]
    match = _HEX_COLOUR.match(cleaned)
    if match is None:
        raise ValidationError(
            _("{text} is not a colour: use {forms}.").format(
                text=shown_input(text), forms=_(COLOUR_FORMS)
            )
        )
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return int(digits, 16)


def parse_optional_colour(text: str | None) -> int | None:
    """Like `parse_colour`, with nothing typed (None or blanks) meaning no colour."""
    if text is None or not text.strip():
        return None
    return parse_colour(text)


def format_colour(value: int) -> str:
    """0x5865F2 → `#5865F2`."""
    return f"#{value:06X}"
