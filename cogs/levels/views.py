"""The leaderboard's previous/next buttons: DynamicItems, so they work after a restart."""

from __future__ import annotations

import re

import discord

from pegasus.services.levels import LeaderboardCategory
from pegasus.ui.cogs import running_cog
from pegasus.ui.dynamic import PegasusButton
from pegasus.ui.pager import page_button, page_buttons

CATEGORIES = "|".join(c.value for c in LeaderboardCategory)


class LeaderboardPageButton(
    PegasusButton,
    template=rf"pegasus:levels:board:(?P<category>{CATEGORIES}):(?P<page>[0-9]{{1,6}})",
):
    """Shows page `page` of a board; the state is all in the custom id."""

    def __init__(
        self, category: LeaderboardCategory, page: int, *, label: str, disabled: bool = False
    ) -> None:
        super().__init__(
            page_button(f"pegasus:levels:board:{category.value}:{page}", label, disabled)
        )
        self.category = category
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Button,
        match: re.Match[str],
        /,
    ) -> LeaderboardPageButton:
        return cls(
            LeaderboardCategory(match["category"]), int(match["page"]), label=item.label or ""
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        from .cog import Levels

        cog = running_cog(interaction.client, Levels)
        await cog.show_leaderboard(interaction, self.category, self.page, edit=True)


def leaderboard_view(category: LeaderboardCategory, page: int, pages: int) -> discord.ui.View:
    """◀ and ▶ buttons, on a board of one page too (so the layout never jumps)."""
    return page_buttons(
        lambda shown, label, disabled: LeaderboardPageButton(
            category, shown, label=label, disabled=disabled
        ),
        page,
        pages,
    )
