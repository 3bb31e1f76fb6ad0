"""`/audit`: the audit log, read a page at a time (`pegasus.ui.logreaders` renders it)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from pegasus.bot import Pegasus
from pegasus.services.log_readers import audit_features
from pegasus.ui.logreaders import DYNAMIC_ITEMS, MAX_FILTER_LENGTH, clean_filter, show_audit

__all__ = ["LogReaders"]


class LogReaders(commands.Cog):
    """`/audit`: who changed which settings, a page at a time."""

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @app_commands.command(name="audit", description="Read recent settings changes: who, what, "
                          "before and after.")
    @app_commands.describe(
        member="Only changes made by this member",
        feature="Only changes of this feature, e.g. economy, community, moderation",
        page="The page to show (newest changes first)",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def audit(
        self,
        interaction: discord.Interaction,
        member: discord.User | None = None,
        feature: app_commands.Range[str, 1, MAX_FILTER_LENGTH] | None = None,
        page: app_commands.Range[int, 1, 100_000] = 1,
    ) -> None:
        await show_audit(interaction, page, member.id if member else None, clean_filter(feature))

    @audit.autocomplete("feature")
    async def _features(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        typed = current.strip().lower()
        features = await audit_features(interaction.guild_id, limit=100)
        return [app_commands.Choice(name=f, value=f) for f in features if typed in f][:25]
