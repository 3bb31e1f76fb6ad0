"""Core: keeps guilds, users and members in the database, and answers /ping and /help."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from pegasus.bot import Pegasus
from pegasus.errors import NotFoundError
from pegasus.i18n import N_, _, pgettext
from pegasus.longlived import LongLivedHeap
from pegasus.outage import health, is_database_unreachable
from pegasus.services import directory, stats
from pegasus.tree import command_mention
from pegasus.ui.format import BLURPLE, clip
from pegasus.ui.users import member_info, member_rows_from_payload, user_info

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


# The features as `feature_of` names them, marked for the catalogs (/help shows them translated).
FEATURE_NAMES = (
    N_("Automod"),
    N_("Community"),
    N_("Core"),
    N_("Economy"),
    N_("Giveaways"),
    N_("Language"),
    N_("Levels"),
    N_("Logs"),
    N_("Moderation"),
    N_("Other"),
    N_("Privacy"),
    N_("Public Pages"),
    N_("Raid Response"),
    N_("Retention"),
    N_("Role Menus"),
    N_("Security"),
    N_("Tickets"),
)

# The gateway events whose members the directory stores, read before discord.py builds objects,
# and READY, at which discord.py empties its cache when a new session begins.
MEMBER_PAYLOAD_EVENTS = ("GUILD_CREATE", "GUILD_MEMBERS_CHUNK", "READY")


class Core(commands.Cog):
    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        self.heap = LongLivedHeap()
        self.directory = directory.DirectorySync(
            on_error=self._directory_write_failed, on_idle=self._directory_idle
        )
        self._parsers: dict[str, Callable[[dict[str, Any]], None]] = {}

    async def cog_load(self) -> None:
        # Members come in GUILD_CREATE (small guilds) and in GUILD_MEMBERS_CHUNK (large guilds,
        # after GUILD_CREATE, and whenever chunks are asked for): both are stored as they
        # arrive, from the payload, a batch at a time in the background.
        parsers = self.bot._connection.parsers
        self.heap.defer()  # the guilds' members are about to be cached and stored
        for event in MEMBER_PAYLOAD_EVENTS:
            self._parsers[event] = parsers[event]
        parsers["GUILD_CREATE"] = self._parse_guild_create
        parsers["GUILD_MEMBERS_CHUNK"] = self._parse_members_chunk
        parsers["READY"] = self._parse_ready

    async def cog_unload(self) -> None:
        self.bot._connection.parsers.update(self._parsers)
        await self.directory.drained()  # a clean stop stores everything already received
        self.heap.close()

    def _parse_ready(self, data: dict[str, Any]) -> None:
        # A new session: discord.py drops the cached guilds, which the collector must free.
        if self.heap.frozen:
            self.heap.release()
        self.heap.defer()
        self._parsers["READY"](data)

    def _parse_guild_create(self, data: dict[str, Any]) -> None:
        self.heap.defer()
        self._parsers["GUILD_CREATE"](data)
        if data.get("unavailable") is True:
            return  # an outage: the guild and its members come with the next GUILD_CREATE
        guild_id = int(data["id"])
        self.directory.guild_available(guild_id)
        rows = member_rows_from_payload(data.get("members") or ())
        self.directory.member_rows_seen(guild_id, rows)

    def _parse_members_chunk(self, data: dict[str, Any]) -> None:
        self.heap.defer()
        self._parsers["GUILD_MEMBERS_CHUNK"](data)
        guild_id = int(data["guild_id"])
        if self.bot.get_guild(guild_id) is None:
            return  # discord.py ignores chunks of guilds it does not know; so do we
        rows = member_rows_from_payload(data.get("members") or ())
        self.directory.member_rows_seen(guild_id, rows)

    def _directory_idle(self) -> None:
        # Before ready, more guilds and chunks are coming: the cache is not built yet.
        if self.bot.is_ready():
            self.heap.settle()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self.directory.idle:
            self.heap.settle()

    def _directory_write_failed(self, error: BaseException) -> None:
        if is_database_unreachable(error):
            health.report(error)  # an outage, logged once
        else:
            log.error("Storing guild members failed", exc_info=error)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.directory.guild_left(guild.id, now=discord.utils.utcnow())
        # The guild's cached objects refer to each other: let the collector see them, and
        # once the directory has stored the leave, collect fully once and freeze again.
        self.heap.release()
        self.heap.defer()

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        self.directory.members_seen(member.guild.id, [member_info(member)])
        await self._count_member_event(member.guild.id, joined=True)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        await self._count_member_event(payload.guild_id, joined=False)

    async def _count_member_event(self, guild_id: int, *, joined: bool) -> None:
        """The day's join or leave count of the dashboard's overview."""
        record = stats.record_join if joined else stats.record_leave
        try:
            await record(guild_id, discord.utils.utcnow())
        except Exception as error:
            if not is_database_unreachable(error):
                raise
            health.report(error)  # a figure of the overview is lost; the outage is logged once

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.nick != after.nick:
            self.directory.members_seen(after.guild.id, [member_info(after)])

    @commands.Cog.listener()
    async def on_user_update(self, before: discord.User, after: discord.User) -> None:
        if (before.name, before.global_name, before.avatar) != (
            after.name,
            after.global_name,
            after.avatar,
        ):
            self.directory.users_seen([user_info(after)])

    @app_commands.command(name="ping", description="Check that Pegasus is awake.")
    async def ping(self, interaction: discord.Interaction) -> None:
        latency = self.bot.latency
        if math.isfinite(latency):
            shown = _("{milliseconds} ms").format(milliseconds=f"{latency * 1000:.0f}")
        else:
            shown = _("not measured yet")
        await interaction.response.send_message(
            _("Pong! Gateway latency: {latency}.").format(latency=shown), ephemeral=True
        )

    @app_commands.command(name="help", description="List what Pegasus can do and how to use it.")
    @app_commands.describe(command="A command to explain in detail, e.g. giveaway start.")
    async def help(self, interaction: discord.Interaction, command: str | None = None) -> None:
        if command is None:
            embed = self.overview_embed()
        else:
            found = self.find_command(command)
            if found is None:
                raise NotFoundError(
                    _("There is no command `/{command}`. Run /help to see them all.").format(
                        command=command.strip().lstrip("/")
                    )
                )
            embed = self.command_embed(found)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @help.autocomplete("command")
    async def help_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.strip().lstrip("/").lower()
        # Each command as the member's app lists it (its name in their language).
        shown = sorted(
            (command_mention(c), c.qualified_name) for c in self.bot.tree.walk_commands()
        )
        return [
            app_commands.Choice(name=mention, value=name)
            for mention, name in shown
            if needle in name or needle in mention.lower()
        ][:25]

    def find_command(self, name: str) -> AnyCommand | None:
        """The command named `name`, in English or as the member's app lists it."""
        wanted = " ".join(name.strip().lstrip("/").lower().split())
        for command in self.bot.tree.walk_commands():
            if wanted in (command.qualified_name, command_mention(command).lstrip("/")):
                return command
        return None

    def overview_embed(self) -> discord.Embed:
        """One field per feature (cog), so every command fits in one embed."""
        embed = discord.Embed(
            title=_("Pegasus"),
            description=_(
                "Moderation, economy, levels, tickets and giveaways in one bot. "
                "`/help command:<name>` explains a command and its options."
            ),
            colour=EMBED_COLOUR,
        )
        by_feature: dict[str, list[str]] = {}
        for command in self.bot.tree.get_commands():
            feature = feature_of(command)  # English, marked in FEATURE_NAMES
            name = pgettext("command name", command.name)
            by_feature.setdefault(_(feature), []).append(f"`/{name}`")
        for label, names in sorted(by_feature.items()):
            embed.add_field(name=label, value=clip(" ".join(sorted(names))), inline=False)
        return embed

    @staticmethod
    def command_embed(command: AnyCommand) -> discord.Embed:
        embed = discord.Embed(
            title=command_mention(command),
            description=_(command.description),
            colour=EMBED_COLOUR,
        )
        if isinstance(command, app_commands.Group):
            lines = [
                f"`{command_mention(c)}` — {_(c.description)}" for c in command.walk_commands()
            ]
            embed.add_field(name=_("Subcommands"), value=clip("\n".join(lines)))
        else:
            optional = " " + _("(optional)")
            lines = [
                f"`{pgettext('option name', p.display_name)}`{'' if p.required else optional}"
                f" — {_(p.description)}"
                for p in command.parameters
            ]
            if lines:
                embed.add_field(name=_("Options"), value=clip("\n".join(lines)))
        return embed


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Core(bot))
