"""The one pager: ◀ Previous and Next ▶ under a paginated list (leaderboards, the shop, the ledger).

Each feature makes its own persistent page button (its custom id carries the page and whatever
the list depends on, so the buttons work after a restart); this module gives them one look and
one layout: both buttons are shown, disabled at the ends, so the message never jumps.
"""

from __future__ import annotations

from collections.abc import Callable

import discord

from pegasus.i18n import N_, _

__all__ = ["NEXT", "PREVIOUS", "PageButtonMaker", "page_button", "page_buttons", "pager"]

# English, marked for the catalogs; the buttons show them translated.
PREVIOUS, NEXT = N_("◀ Previous"), N_("Next ▶")

# (page the button shows, label, disabled) → the feature's button.
PageButtonMaker = Callable[[int, str, bool], discord.ui.Item[discord.ui.View]]


def page_button(custom_id: str, label: str, disabled: bool) -> discord.ui.Button:
    """The look of every page button."""
    return discord.ui.Button(
        style=discord.ButtonStyle.secondary, label=label, custom_id=custom_id, disabled=disabled
    )


def page_buttons(make: PageButtonMaker, page: int, pages: int) -> discord.ui.View:
    """Previous and next buttons for `page` of `pages`, disabled where there is no such page."""
    view = discord.ui.View(timeout=None)
    view.add_item(make(max(page - 1, 0), _(PREVIOUS), page <= 1))
    view.add_item(make(page + 1, _(NEXT), page >= pages))
    return view


def pager(make: PageButtonMaker, page: int, pages: int) -> discord.ui.View | None:
    """`page_buttons`, or None when everything fits on one page."""
    return page_buttons(make, page, pages) if pages > 1 else None
