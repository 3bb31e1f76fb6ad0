"""How values read in Discord: timestamps, numbers, colours, and text cut to embed limits.

Every feature renders these the same way, so they live here once. Nothing here talks to Discord;
the functions are pure and take plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pegasus.i18n import _, format_number

__all__ = [
    "BLUE",
    "BLURPLE",
    "DARK_RED",
    "DESCRIPTION_LIMIT",
    "EMERALD",
    "FIELD_VALUE_LIMIT",
    "GOLD",
    "GREEN",
    "GREY",
    "GREYPLE",
    "MIDNIGHT",
    "ORANGE",
    "PURPLE",
    "RED",
    "SCARLET",
    "amount",
    "clip",
    "page_of",
    "plural",
    "timestamp",
    "user_mentions",
]

# ------------------------------------------------------------------------------------------------
# Embed colours: Discord's own palette first, then the classic embed colours features use.

BLURPLE = 0x5865F2  # neutral information
GREEN = 0x57F287  # something was added or succeeded
RED = 0xED4245  # something was removed, refused or is alarming
GREYPLE = 0x99AAB5  # switched off
GOLD = 0xF1C40F
ORANGE = 0xE67E22
PURPLE = 0x9B59B6
BLUE = 0x3498DB
EMERALD = 0x2ECC71
SCARLET = 0xE74C3C
DARK_RED = 0x992D22
GREY = 0x95A5A6
MIDNIGHT = 0x2C3E50

# ------------------------------------------------------------------------------------------------
# Embed limits: Discord refuses the whole message when one of them is exceeded.

FIELD_VALUE_LIMIT = 1024
DESCRIPTION_LIMIT = 4096


def timestamp(moment: datetime, style: str = "R") -> str:
    """Discord timestamp markup: every reader sees the moment in their own time zone.

    `style` is Discord's letter: R relative ("in 2 hours"), f date and time, D date, and so on.
    """
    return f"<t:{int(moment.timestamp())}:{style}>"


def amount(value: int) -> str:
    """A whole number with the current language's separators: 1234567 → 1,234,567."""
    return format_number(value)


def plural(count: int, one: str, many: str | None = None) -> str:
    """`count` with the English word in the right number: 1 entry, 2 entries, 1,000 days.

    English only: a text people read counts with `ngettext` instead.
    """
    return f"{amount(count)} {one if count == 1 else (many or one + 's')}"


def page_of(page: int, pages: int) -> str:
    """Where a paginated list is: "Page 2 of 5"."""
    return _("Page {page} of {pages}").format(page=amount(page), pages=amount(pages))


def clip(text: str, limit: int = FIELD_VALUE_LIMIT) -> str:
    """`text` cut to at most `limit` characters, ending in … when something was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user_mentions(user_ids: Sequence[int], *, separator: str = ", ") -> str:
    """Mentions of the users, joined by `separator`."""
    return separator.join(f"<@{user_id}>" for user_id in user_ids)
