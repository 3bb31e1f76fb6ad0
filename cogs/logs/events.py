"""The server log's listeners for what the community cog does not report: bulk deletions,
nicknames, voice, channels and roles of the server, and changes of Pegasus' settings.

Each event goes through `post_log`, which posts it in its category's channel when the server
logs it. Settings changes are read back from the audit log when a change is announced (in this
process, or on PostgreSQL from another one such as the REST API's), so what is posted is what
was stored, with who made it and the values before and after.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import discord
from discord.ext import commands
from discord.utils import escape_markdown, utcnow

from pegasus import notify
from pegasus.bot import Pegasus
from pegasus.i18n import N_, _, for_guild, format_number, ngettext
from pegasus.services.community import GuildConfig, LogEvent
from pegasus.services.durations import format_duration
from pegasus.services.log_readers import AuditEntry, settings_changes_since
from pegasus.ui.format import BLURPLE, GREEN, GREY, ORANGE, PURPLE, RED, clip
from pegasus.ui.logpost import post_log
from pegasus.ui.logreaders import describe_value, member_line

log = logging.getLogger(__name__)

COLOUR_CREATED = GREEN
COLOUR_DELETED = RED
COLOUR_CHANGED = BLURPLE
COLOUR_VOICE = PURPLE
COLOUR_MEMBER = ORANGE
COLOUR_SETTINGS = GREY
SHOWN_BULK_MESSAGES = 15
# Changes committed this long before the announcement that follows them are still read: a
# change stamped before another's commit may be announced after it.
SETTINGS_OVERLAP = timedelta(seconds=10)
REMEMBERED_CHANGES = 500


def _names(items: Iterable[Any]) -> str:
    return ", ".join(f"`{item}`" for item in items) or _("none")


class ServerLogEvents(commands.Cog):
    """Posts bulk deletions, nickname, voice, channel, role and settings changes to the log."""

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        self._since: dict[int, datetime] = {}  # per guild: the newest change posted
        self._locks: dict[int, asyncio.Lock] = {}
        self._posted: deque[str] = deque(maxlen=REMEMBERED_CHANGES)
        self._started = utcnow()
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Any = None

    async def cog_load(self) -> None:
        self._started = utcnow()
        self._unsubscribe = notify.subscribe(self.on_change_announced)

    async def cog_unload(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in self._tasks:
            task.cancel()

    async def _config(self, guild_id: int) -> GuildConfig:
        return await self.bot.guild_configs.get(guild_id)

    # -- messages ---------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        guild = self.bot.get_guild(payload.guild_id) if payload.guild_id else None
        if guild is None:
            return
        config = await self._config(guild.id)
        if config.logs(LogEvent.MESSAGE_BULK_DELETE) is None:
            return
        if payload.channel_id in config.log_channel_ids:
            return  # a cleanup of the log itself
        known = sorted(payload.cached_messages, key=lambda message: message.id)
        count = len(payload.message_ids)
        with for_guild(guild.id):
            embed = bulk_delete_embed(payload.channel_id, count, known)
        await post_log(guild, config, LogEvent.MESSAGE_BULK_DELETE, embed)

    # -- members ----------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.nick == after.nick:
            return
        config = await self._config(after.guild.id)
        if config.logs(LogEvent.NICKNAME_CHANGE) is None:
            return
        with for_guild(after.guild.id):
            embed = discord.Embed(
                title=_("Nickname changed"), description=member_line(after), colour=COLOUR_MEMBER
            )
            embed.add_field(name=_("Before"), value=escape_markdown(before.nick or _("none")))
            embed.add_field(name=_("After"), value=escape_markdown(after.nick or _("none")))
            embed.set_footer(text=_("User id {id}").format(id=after.id))
        await post_log(after.guild, config, LogEvent.NICKNAME_CHANGE, embed)

    # -- voice ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        old, new = before.channel, after.channel
        if old == new:
            return  # muted, deafened, streaming: not a move
        if old is None and new is not None:
            event, title, where = LogEvent.VOICE_JOIN, N_("Joined voice"), new.mention
        elif new is None and old is not None:
            event, title, where = LogEvent.VOICE_LEAVE, N_("Left voice"), old.mention
        elif old is not None and new is not None:
            event, title, where = (
                LogEvent.VOICE_MOVE,
                N_("Moved in voice"),
                (f"{old.mention} → {new.mention}"),
            )
        else:
            return
        config = await self._config(member.guild.id)
        if config.logs(event) is None:
            return
        with for_guild(member.guild.id):
            embed = discord.Embed(
                title=_(title), description=f"{member_line(member)}\n{where}", colour=COLOUR_VOICE
            )
            embed.set_footer(text=_("User id {id}").format(id=member.id))
        await post_log(member.guild, config, event, embed)

    # -- channels ---------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        await self._channel_event(channel, N_("Channel created"), COLOUR_CREATED, [])

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await self._channel_event(channel, N_("Channel deleted"), COLOUR_DELETED, [])

    @commands.Cog.listener()
    async def on_guild_channel_update(
        self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel
    ) -> None:
        with for_guild(after.guild.id):
            changes = channel_changes(before, after)
        if changes:
            await self._channel_event(after, N_("Channel changed"), COLOUR_CHANGED, changes)

    async def _channel_event(
        self,
        channel: discord.abc.GuildChannel,
        title: str,
        colour: int,
        changes: list[tuple[str, str]],
    ) -> None:
        config = await self._config(channel.guild.id)
        if config.logs(LogEvent.CHANNEL_CHANGE) is None:
            return
        kind = str(channel.type).replace("_", " ")
        with for_guild(channel.guild.id):
            embed = discord.Embed(
                title=_(title),
                description=f"{channel.mention} · **{escape_markdown(channel.name)}** ({kind})",
                colour=colour,
            )
            for name, value in changes[:20]:
                embed.add_field(name=name, value=clip(value), inline=False)
            embed.set_footer(text=_("Channel id {id}").format(id=channel.id))
        await post_log(channel.guild, config, LogEvent.CHANNEL_CHANGE, embed)

    # -- roles ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_guild_role_create(self, role: discord.Role) -> None:
        await self._role_event(role, N_("Role created"), COLOUR_CREATED, [])

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        await self._role_event(role, N_("Role deleted"), COLOUR_DELETED, [])

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        with for_guild(after.guild.id):
            changes = role_changes(before, after)
        if changes:  # a move in the list alone shifts many roles: not worth a post each
            await self._role_event(after, N_("Role changed"), COLOUR_CHANGED, changes)

    async def _role_event(
        self, role: discord.Role, title: str, colour: int, changes: list[tuple[str, str]]
    ) -> None:
        config = await self._config(role.guild.id)
        if config.logs(LogEvent.SERVER_ROLE_CHANGE) is None:
            return
        with for_guild(role.guild.id):
            embed = discord.Embed(
                title=_(title),
                description=f"**{escape_markdown(role.name)}** ({role.mention})",
                colour=colour,
            )
            for name, value in changes[:20]:
                embed.add_field(name=name, value=clip(value), inline=False)
            embed.set_footer(text=_("Role id {id}").format(id=role.id))
        await post_log(role.guild, config, LogEvent.SERVER_ROLE_CHANGE, embed)

    # -- Pegasus settings ---------------------------------------------------------------------

    async def on_change_announced(self, change: notify.Change) -> None:
        """A settings change was committed: post it from a task of its own, so the command
        that made it answers without waiting for the log."""
        if change.topic is not notify.Topic.SETTINGS or change.guild_id is None:
            return
        guild = self.bot.get_guild(change.guild_id)
        if guild is None:
            return  # another process runs this guild's shard
        task = asyncio.create_task(
            self.post_settings_changes(guild), name=f"pegasus: settings log of {guild.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post_settings_changes(self, guild: discord.Guild) -> None:
        """Post the guild's settings changes not posted yet, oldest first: each is marked as
        posted before its post is sent (so a change is posted once however many announcements
        read it), and one guild's batches take turns (so its posts stay in order)."""
        lock = self._locks.setdefault(guild.id, asyncio.Lock())
        async with lock:
            try:
                await self._post_new_settings_changes(guild)
            except Exception:
                log.exception("Could not post the settings changes of guild %s", guild.id)

    async def _post_new_settings_changes(self, guild: discord.Guild) -> None:
        since = max(self._since.get(guild.id, self._started) - SETTINGS_OVERLAP, self._started)
        for entry in await settings_changes_since(guild.id, since):
            if str(entry.id) in self._posted:
                continue
            self._posted.append(str(entry.id))
            self._since[guild.id] = max(self._since.get(guild.id, since), entry.created_at)
            # Read after the change: the change that switches the log on is posted too.
            config = await self.bot.guild_configs.get(guild.id)
            with for_guild(guild.id):
                embed = settings_embed(entry)
            await post_log(guild, config, LogEvent.SETTINGS_CHANGE, embed)


def settings_embed(entry: AuditEntry) -> discord.Embed:
    """A settings change as the server log shows it: who, which feature, before → after."""
    who = f"<@{entry.actor_id}>" if entry.actor_id else "Pegasus"
    described = (
        _("{member} changed the **{feature}** settings over the REST API ({action})")
        if entry.source.value == "api"
        else _("{member} changed the **{feature}** settings ({action})")
    )
    embed = discord.Embed(
        title=_("Settings changed"),
        description=described.format(member=who, feature=entry.feature, action=f"`{entry.action}`"),
        colour=COLOUR_SETTINGS,
        timestamp=entry.created_at,
    )
    before: Mapping[str, Any] = entry.before or {}
    after: Mapping[str, Any] = entry.after or {}
    for name in list(after)[:20]:
        embed.add_field(
            name=name,
            value=clip(
                f"{describe_value(name, before.get(name))} → "
                f"{describe_value(name, after.get(name))}"
            ),
            inline=False,
        )
    return embed


def channel_changes(
    before: discord.abc.GuildChannel, after: discord.abc.GuildChannel
) -> list[tuple[str, str]]:
    """What an update changed that people care about (not its position among the others)."""
    changes: list[tuple[str, str]] = []
    if before.name != after.name:
        changes.append(
            (_("Name"), f"{escape_markdown(before.name)} → {escape_markdown(after.name)}")
        )
    old_topic, new_topic = getattr(before, "topic", None), getattr(after, "topic", None)
    if old_topic != new_topic:
        changes.append((_("Topic"), f"{old_topic or _('none')} → {new_topic or _('none')}"))
    if before.category_id != after.category_id:
        changes.append((_("Category"), f"{_category(before)} → {_category(after)}"))
    old_delay = getattr(before, "slowmode_delay", None)
    new_delay = getattr(after, "slowmode_delay", None)
    if old_delay != new_delay:
        changes.append(
            (
                _("Slowmode"),
                f"{format_duration(old_delay or 0)} → {format_duration(new_delay or 0)}",
            )
        )
    if getattr(before, "nsfw", None) != getattr(after, "nsfw", None):
        changes.append(
            (_("Age-restricted"), _("on") if getattr(after, "nsfw", False) else _("off"))
        )
    if before.overwrites != after.overwrites:
        changes.append((_("Permissions"), overwrite_changes(before, after)))
    return changes


def _category(channel: discord.abc.GuildChannel) -> str:
    return channel.category.mention if channel.category else _("none")


def overwrite_changes(before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> str:
    lines = []
    targets = {*before.overwrites, *after.overwrites}
    for target in sorted(targets, key=lambda item: item.id):
        old = before.overwrites.get(target, discord.PermissionOverwrite())
        new = after.overwrites.get(target, discord.PermissionOverwrite())
        if old == new:
            continue
        changed = [
            f"{name} {_state(value)}"
            for (name, value), (_name, was) in zip(iter(new), iter(old), strict=True)
            if value != was
        ]
        lines.append(f"{_overwrite_target(target)}: {', '.join(changed)}")
    return "\n".join(lines) or _("changed")


def _overwrite_target(target: discord.Role | discord.Member | discord.Object) -> str:
    """The role or member an overwrite is for; a member who left (or a role not cached yet) is a
    bare id with its type, still shown as a mention."""
    if isinstance(target, discord.Role | discord.Member):
        return target.mention
    return f"<@&{target.id}>" if target.type is discord.Role else f"<@{target.id}>"


def _state(value: bool | None) -> str:
    return {True: _("allowed"), False: _("denied"), None: _("inherited")}[value]


def role_changes(before: discord.Role, after: discord.Role) -> list[tuple[str, str]]:
    changes: list[tuple[str, str]] = []
    if before.name != after.name:
        changes.append(
            (_("Name"), f"{escape_markdown(before.name)} → {escape_markdown(after.name)}")
        )
    if before.colour != after.colour:
        changes.append((_("Colour"), f"{before.colour} → {after.colour}"))
    if before.hoist != after.hoist:
        changes.append((_("Shown separately"), _("on") if after.hoist else _("off")))
    if before.mentionable != after.mentionable:
        changes.append((_("Mentionable"), _("on") if after.mentionable else _("off")))
    if before.permissions != after.permissions:
        given = [
            name
            for name, value in after.permissions
            if value and not getattr(before.permissions, name)
        ]
        taken = [
            name
            for name, value in before.permissions
            if value and not getattr(after.permissions, name)
        ]
        changes.append(
            (
                _("Permissions"),
                _("given: {given}\ntaken: {taken}").format(
                    given=_names(given), taken=_names(taken)
                ),
            )
        )
    return changes


def bulk_delete_embed(channel_id: int, count: int, known: list[discord.Message]) -> discord.Embed:
    """A bulk deletion as the server log shows it: how many, and the last texts known."""
    embed = discord.Embed(
        title=_("Messages deleted in bulk"),
        description=ngettext(
            "{count} message in {channel}", "{count} messages in {channel}", count
        ).format(count=format_number(count), channel=f"<#{channel_id}>"),
        colour=RED,
    )
    lines = [
        f"**{escape_markdown(str(message.author))}**: "
        f"{clip(message.content or _('*no text*'), 120)}"
        for message in known[-SHOWN_BULK_MESSAGES:]
    ]
    if lines:
        embed.add_field(name=_("Last messages I knew"), value=clip("\n".join(lines)), inline=False)
    unknown = count - len(known)
    if unknown:
        embed.add_field(
            name=_("Not known"),
            value=_("{count} sent before I started: their text is not known.").format(
                count=format_number(unknown)
            ),
            inline=False,
        )
    return embed
