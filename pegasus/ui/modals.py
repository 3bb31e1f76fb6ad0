"""A base for modals whose checks and errors behave like slash commands'.

A modal is submitted some time after it was opened, by then the member may be blacklisted or
over the rate limit; and discord.py only logs a modal's exceptions, so the member would see
"Something went wrong". Subclasses of `PegasusModal` run the tree's interaction checks before
`on_submit`, and report its errors the way commands do.
"""

from __future__ import annotations

import discord

from pegasus.tree import passes_interaction_checks, report_interaction_error

__all__ = ["PegasusModal"]


class PegasusModal(discord.ui.Modal):
    """Define text inputs and `on_submit` as for `discord.ui.Modal`."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await passes_interaction_checks(interaction)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:
        await report_interaction_error(interaction, error)
