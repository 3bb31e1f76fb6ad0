"""Core: keeps guilds, users and members in the database, and answers /ping and /help."""

from __future__ import annotations

import logging
import math

import discord
from discord import app_commands
from discord.ext import commands

from pegasus.bot import Pegasus
from pegasus.errors import NotFoundError
from pegasus.services import directory
from pegasus.ui.format import BLURPLE, clip
from pegasus.ui.users import member_info, user_info

log = logging.getLogger(__name__)

EMBED_COLOUR = BLURPLE
AnyCommand = app_commands.Command | app_commands.Group


def feature_of(command: AnyCommand | app_commands.ContextMenu) -> str:
    """The feature a command belongs to, from its extension (cogs.economy.admin → Economy):
    a cog's class name or a group without a cog would read as jargon or "Other"."""
    parts = (command.module or "").split(".")
    if len(parts) > 1 and parts[0] == "cogs":
        return parts[1].replace("_", " ").title()
    return "Other"


class Core(commands.Cog):
    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    async def _store_guild(self, guild: discord.Guild) -> None:
        await directory.mark_guild_joined(guild.id)
        await directory.upsert_members(guild.id, [member_info(m) for m in guild.members])

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self._store_guild(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._store_guild(guild)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await directory.mark_guild_left(guild.id)

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        await directory.upsert_members(member.guild.id, [member_info(member)])

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.nick != after.nick:
            await directory.upsert_members(after.guild.id, [member_info(after)])

    @commands.Cog.listener()
    async def on_user_update(self, before: discord.User, after: discord.User) -> None:
        if (before.name, before.global_name, before.avatar) != (
            after.name,
            after.global_name,
            after.avatar,
        ):
            await directory.upsert_users_now([user_info(after)])

    @app_commands.command(name="ping", description="Check that Pegasus is awake.")
    async def ping(self, interaction: discord.Interaction) -> None:
        latency = self.bot.latency
        shown = f"{latency * 1000:.0f} ms" if math.isfinite(latency) else "not measured yet"
        await interaction.response.send_message(f"Pong! Gateway latency: {shown}.", ephemeral=True)

    @app_commands.command(name="help", description="List what Pegasus can do and how to use it.")
    @app_commands.describe(command="A command to explain in detail, e.g. giveaway start.")
    async def help(self, interaction: discord.Interaction, command: str | None = None) -> None:
        if command is None:
            embed = self.overview_embed()
        else:
            found = self.find_command(command)
            if found is None:
                raise NotFoundError(
                    f"There is no command `/{command.strip().lstrip('/')}`. "
                    "Run /help to see them all."
                )
            embed = self.command_embed(found)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @help.autocomplete("command")
    async def help_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.strip().lstrip("/").lower()
        names = [c.qualified_name for c in self.bot.tree.walk_commands()]
        return [app_commands.Choice(name=f"/{n}", value=n) for n in sorted(names) if needle in n][
            :25
        ]

    def find_command(self, name: str) -> AnyCommand | None:
        wanted = " ".join(name.strip().lstrip("/").lower().split())
        for command in self.bot.tree.walk_commands():
            if command.qualified_name == wanted:
                return command
        return None

    def overview_embed(self) -> discord.Embed:
        """One field per feature (cog), so every command fits in one embed."""
        embed = discord.Embed(
            title="Pegasus",
            description=(
                "Moderation, economy, levels, tickets and giveaways in one bot. "
                "`/help command:<name>` explains a command and its options."
            ),
            colour=EMBED_COLOUR,
        )
        by_feature: dict[str, list[str]] = {}
        for command in self.bot.tree.get_commands():
            by_feature.setdefault(feature_of(command), []).append(f"`/{command.name}`")
        for label, names in sorted(by_feature.items()):
            embed.add_field(name=label, value=clip(" ".join(sorted(names))), inline=False)
        return embed

    @staticmethod
    def command_embed(command: AnyCommand) -> discord.Embed:
        embed = discord.Embed(
            title=f"/{command.qualified_name}", description=command.description, colour=EMBED_COLOUR
        )
        if isinstance(command, app_commands.Group):
            lines = [f"`/{c.qualified_name}` — {c.description}" for c in command.walk_commands()]
            embed.add_field(name="Subcommands", value=clip("\n".join(lines)))
        else:
            lines = [
                f"`{p.display_name}`{'' if p.required else ' (optional)'} — {p.description}"
                for p in command.parameters
            ]
            if lines:
                embed.add_field(name="Options", value=clip("\n".join(lines)))
        return embed


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Core(bot))
