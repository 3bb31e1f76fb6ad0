"""The Discord side of moderation, shared by the commands, the timers and the automations.

`Enforcer` performs an action on Discord (DM first where it applies, then the ban, kick, timeout or
role change), records it through `pegasus.services.moderation` and posts the case to the modlog.
The checks here are the Discord-side rules the services cannot see: role hierarchy and who the
target is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import discord

from pegasus.bot import Pegasus
from pegasus.errors import NotFoundError, PermissionDenied, ValidationError
from pegasus.services import moderation
from pegasus.services.durations import format_duration
from pegasus.services.moderation import AutomationActionType, Case, CaseType
from pegasus.ui import hierarchy
from pegasus.ui.format import (
    DARK_RED,
    EMERALD,
    GOLD,
    GREY,
    ORANGE,
    SCARLET,
    clip,
    plural,
    timestamp,
)
from pegasus.ui.roles import vet_grants

log = logging.getLogger(__name__)

MUTE_ROLE_NAME = "Muted"
# What a muted member may not do in any channel.
MUTE_OVERWRITE = discord.PermissionOverwrite(
    send_messages=False,
    send_messages_in_threads=False,
    create_public_threads=False,
    create_private_threads=False,
    add_reactions=False,
    speak=False,
)
MUTABLE_CHANNELS = (discord.CategoryChannel, discord.TextChannel, discord.VoiceChannel)
CASE_COLOURS = {
    CaseType.WARN: GOLD,
    CaseType.MUTE: ORANGE,
    CaseType.UNMUTE: EMERALD,
    CaseType.TIMEOUT: ORANGE,
    CaseType.UNTIMEOUT: EMERALD,
    CaseType.KICK: SCARLET,
    CaseType.BAN: DARK_RED,
    CaseType.UNBAN: EMERALD,
    CaseType.PURGE: GREY,
}
PAST_TENSE = {
    CaseType.WARN: "warned",
    CaseType.MUTE: "muted",
    CaseType.UNMUTE: "unmuted",
    CaseType.TIMEOUT: "timed out",
    CaseType.UNTIMEOUT: "released from timeout",
    CaseType.KICK: "kicked",
    CaseType.BAN: "banned",
    CaseType.UNBAN: "unbanned",
    CaseType.PURGE: "purged",
}


def utcnow() -> datetime:
    return discord.utils.utcnow()


def audit_reason(actor: discord.abc.User | None, reason: str | None) -> str:
    """The text Discord keeps in its own audit log for the action."""
    who = f"{actor} ({actor.id})" if actor is not None else "Pegasus"
    return f"{who}: {reason or 'no reason given'}"[:512]


def _moderator(interaction: discord.Interaction) -> tuple[discord.Guild, discord.Member]:
    guild = interaction.guild
    moderator = interaction.user
    if guild is None or not isinstance(moderator, discord.Member):
        raise PermissionDenied("This works only in a server.")
    return guild, moderator


def check_target(
    interaction: discord.Interaction,
    target: discord.Member | discord.User,
    verb: str,
    *,
    bot_must_outrank: bool = True,
) -> None:
    """`pegasus.ui.hierarchy.check_target` for the member running the command."""
    guild, moderator = _moderator(interaction)
    hierarchy.check_target(guild, moderator, target, verb, bot_must_outrank=bot_must_outrank)


def check_record_change(
    interaction: discord.Interaction,
    *,
    verb: str,
    record: str,
    subject_id: int | None,
    issuer_id: int | None,
) -> None:
    """`pegasus.ui.hierarchy.check_record_change` for the member running the command."""
    guild, moderator = _moderator(interaction)
    hierarchy.check_record_change(
        guild, moderator, verb=verb, record=record, subject_id=subject_id, issuer_id=issuer_id
    )


def describe_action(action: Mapping[str, Any]) -> str:
    """An automation's action as staff read it: `timeout for 1h`, `ban`, `give role @Role`,
    `DM: ...`."""
    kind = AutomationActionType(action["type"])
    duration = action.get("duration_seconds")
    if kind is AutomationActionType.ROLE:
        return f"give role <@&{action['role_id']}>"
    if kind is AutomationActionType.MESSAGE:
        text = action["message"]
        return f"DM: “{text[:60]}{'…' if len(text) > 60 else ''}”"
    if duration:
        return f"{kind} for {format_duration(int(duration))}"
    return str(kind)


def case_embed(case: Case) -> discord.Embed:
    """The case as posted to the modlog and shown by /case."""
    kind = case.type
    embed = discord.Embed(
        title=f"Case #{case.case_number} · {kind.capitalize()}",
        colour=CASE_COLOURS[kind],
        timestamp=case.created_at,
    )
    user_id = case.user_id
    moderator_id = case.moderator_id
    if user_id is not None:
        embed.add_field(name="Member", value=f"<@{user_id}> (`{user_id}`)", inline=True)
    automatic = case.metadata.get("automatic") or case.metadata.get("automation_id")
    moderator = f"<@{moderator_id}>" if moderator_id else "Unknown"
    if automatic:
        moderator += " (automatic)"
    elif case.metadata.get("source") == "discord":
        moderator += " (in Discord)"  # read from the audit log, not done through Pegasus
    embed.add_field(name="Moderator", value=moderator, inline=True)
    if case.channel_id:
        embed.add_field(name="Channel", value=f"<#{case.channel_id}>", inline=True)
    if case.duration_seconds:
        ends = f", ends {timestamp(case.expires_at)}" if case.expires_at else ""
        embed.add_field(
            name="Duration", value=f"{format_duration(case.duration_seconds)}{ends}", inline=True
        )
    elif kind in (CaseType.BAN, CaseType.MUTE):
        embed.add_field(name="Duration", value="Permanent", inline=True)
    if "deleted" in case.metadata:
        embed.add_field(name="Messages deleted", value=f"{case.metadata['deleted']:,}")
    warn_id = case.metadata.get("warn_id")
    if kind is CaseType.WARN and warn_id:
        embed.add_field(
            name="Warning",
            value=f"`{warn_id}` · level {case.metadata.get('level', 1)}",
            inline=True,
        )
    if "automation_name" in case.metadata:
        after = f" after warning `{warn_id}`" if warn_id else ""
        embed.add_field(
            name="Automation", value=f"{case.metadata['automation_name']}{after}", inline=True
        )
    embed.add_field(name="Reason", value=case.reason or "No reason given", inline=False)
    if case.proof:
        embed.add_field(name="Proof", value=clip("\n".join(case.proof)), inline=False)
    if case.reason_edited_at is not None:
        editor = case.reason_edited_by_id
        by = f"by <@{editor}> " if editor else ""
        embed.add_field(
            name="Reason edited", value=f"{by}{timestamp(case.reason_edited_at)}", inline=False
        )
    return embed


class Enforcer:
    """Performs moderation on Discord and records it; one per bot."""

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    @property
    def bot_id(self) -> int:
        assert self.bot.user is not None
        return self.bot.user.id

    # -- modlog ------------------------------------------------------------------------------

    async def post_case(self, guild: discord.Guild, case: Case) -> discord.Message | None:
        """Post the case to the guild's modlog channel, if one is set and usable."""
        settings = await moderation.get_settings(guild.id)
        channel = guild.get_channel(settings.modlog_channel_id or 0)
        if not isinstance(channel, discord.TextChannel):
            return None
        try:
            message = await channel.send(embed=case_embed(case))
        except discord.HTTPException as error:
            log.warning("Could not post case %s to the modlog of %s: %s", case, guild.id, error)
            return None
        await moderation.set_modlog_message(case.id, message.id)
        return message

    async def refresh_modlog(self, guild: discord.Guild, case: Case) -> None:
        """Edit the case's modlog post after an amendment (best effort)."""
        settings = await moderation.get_settings(guild.id)
        channel = guild.get_channel(settings.modlog_channel_id or 0)
        if not isinstance(channel, discord.TextChannel) or not case.modlog_message_id:
            return
        try:
            await channel.get_partial_message(case.modlog_message_id).edit(embed=case_embed(case))
        except discord.HTTPException as error:
            log.warning("Could not update the modlog post of %s: %s", case, error)

    # -- notices -----------------------------------------------------------------------------

    async def notify(
        self,
        user: discord.abc.User,
        guild: discord.Guild,
        action: str,
        reason: str | None,
        *,
        duration_seconds: int | None = None,
        extra: str | None = None,
    ) -> bool:
        """Tell the member by DM what happened (best effort: DMs may be closed)."""
        embed = discord.Embed(
            title=f"You were {action} in {guild.name}",
            description=reason or "No reason given.",
            colour=SCARLET,
        )
        if duration_seconds:
            ends = utcnow() + timedelta(seconds=duration_seconds)
            embed.add_field(
                name="Duration",
                value=f"{format_duration(duration_seconds)}, ends {timestamp(ends)}",
            )
        if extra:
            embed.add_field(name="Details", value=clip(extra), inline=False)
        try:
            await user.send(embed=embed)
        except discord.HTTPException:
            return False
        return True

    # -- actions -----------------------------------------------------------------------------

    async def _record(
        self,
        guild: discord.Guild,
        case_type: CaseType,
        user_id: int | None,
        moderator: discord.abc.User | None,
        reason: str | None,
        *,
        duration_seconds: int | None = None,
        proof: Sequence[str] = (),
        channel_id: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Case:
        """Store the case and post it to the modlog; no `moderator` means the bot acted alone
        (a timer or an automation)."""
        case = await moderation.record_action(
            guild_id=guild.id,
            case_type=case_type,
            user_id=user_id,
            moderator_id=moderator.id if moderator is not None else self.bot_id,
            reason=reason,
            now=utcnow(),
            duration_seconds=duration_seconds,
            proof=proof,
            channel_id=channel_id,
            metadata=metadata,
        )
        await self.post_case(guild, case)
        if case.expires_at is not None and case.expires_at - utcnow() < timedelta(seconds=5):
            self.bot.scheduler.wake()  # due almost at once: do not wait for the next poll
        return case

    async def ban(
        self,
        guild: discord.Guild,
        user: discord.Member | discord.User,
        *,
        moderator: discord.abc.User | None,
        reason: str | None,
        duration_seconds: int | None = None,
        delete_message_seconds: int = 0,
        metadata: Mapping[str, Any] | None = None,
    ) -> Case:
        moderation.clean_reason(reason)  # refuse a bad reason before anything happens
        if isinstance(user, discord.Member):
            await self.notify(user, guild, "banned", reason, duration_seconds=duration_seconds)
        await guild.ban(
            user,
            reason=audit_reason(moderator, reason),
            delete_message_seconds=delete_message_seconds,
        )
        return await self._record(
            guild,
            CaseType.BAN,
            user.id,
            moderator,
            reason,
            duration_seconds=duration_seconds,
            metadata=metadata,
        )

    async def unban(
        self,
        guild: discord.Guild,
        user: discord.abc.User,
        *,
        moderator: discord.abc.User,
        reason: str | None,
    ) -> Case:
        moderation.clean_reason(reason)
        try:
            await guild.unban(user, reason=audit_reason(moderator, reason))
        except discord.NotFound:
            raise NotFoundError(f"{user.mention} is not banned here.") from None
        return await self._record(guild, CaseType.UNBAN, user.id, moderator, reason)

    async def kick(
        self,
        member: discord.Member,
        *,
        moderator: discord.abc.User | None,
        reason: str | None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Case:
        moderation.clean_reason(reason)
        await self.notify(member, member.guild, "kicked", reason)
        await member.kick(reason=audit_reason(moderator, reason))
        return await self._record(
            member.guild,
            CaseType.KICK,
            member.id,
            moderator,
            reason,
            metadata=metadata,
        )

    async def timeout(
        self,
        member: discord.Member,
        *,
        moderator: discord.abc.User | None,
        reason: str | None,
        duration_seconds: int,
        metadata: Mapping[str, Any] | None = None,
    ) -> Case:
        if duration_seconds > moderation.MAX_TIMEOUT_SECONDS:
            raise ValidationError(
                "Discord allows timeouts of at most 28 days; use /mute for longer ones."
            )
        moderation.clean_reason(reason)
        await member.timeout(
            timedelta(seconds=duration_seconds), reason=audit_reason(moderator, reason)
        )
        await self.notify(
            member, member.guild, "timed out", reason, duration_seconds=duration_seconds
        )
        return await self._record(
            member.guild,
            CaseType.TIMEOUT,
            member.id,
            moderator,
            reason,
            duration_seconds=duration_seconds,
            metadata=metadata,
        )

    async def untimeout(
        self, member: discord.Member, *, moderator: discord.abc.User, reason: str | None
    ) -> Case:
        moderation.clean_reason(reason)
        if not member.is_timed_out():
            raise ValidationError(f"{member.mention} is not timed out.")
        await member.timeout(None, reason=audit_reason(moderator, reason))
        return await self._record(member.guild, CaseType.UNTIMEOUT, member.id, moderator, reason)

    async def mute(
        self,
        member: discord.Member,
        *,
        moderator: discord.abc.User | None,
        reason: str | None,
        duration_seconds: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Case:
        moderation.clean_reason(reason)
        await self.give_mute_role(member, reason=audit_reason(moderator, reason))
        await self.notify(member, member.guild, "muted", reason, duration_seconds=duration_seconds)
        return await self._record(
            member.guild,
            CaseType.MUTE,
            member.id,
            moderator,
            reason,
            duration_seconds=duration_seconds,
            metadata=metadata,
        )

    async def unmute(
        self, member: discord.Member, *, moderator: discord.abc.User, reason: str | None
    ) -> Case:
        moderation.clean_reason(reason)
        running = await moderation.active_case(member.guild.id, member.id, CaseType.MUTE)
        role = await self.existing_mute_role(member.guild)
        if running is None and (role is None or role not in member.roles):
            raise ValidationError(f"{member.mention} is not muted.")
        if role is not None and role in member.roles:
            await member.remove_roles(role, reason=audit_reason(moderator, reason))
        return await self._record(member.guild, CaseType.UNMUTE, member.id, moderator, reason)

    async def purge(
        self,
        channel: discord.TextChannel,
        *,
        moderator: discord.abc.User,
        count: int,
        member: discord.abc.User | None,
    ) -> tuple[int, Case]:
        """Delete the `count` newest messages (of `member`, when given) younger than 14 days."""
        cutoff = utcnow() - timedelta(days=14) + timedelta(minutes=1)
        chosen: list[discord.Message] = []
        # Look further back when filtering by author, but not without bound.
        async for message in channel.history(limit=count if member is None else 500):
            if message.created_at < cutoff:
                break  # bulk delete refuses older messages; the rest are older still
            if member is None or message.author.id == member.id:
                chosen.append(message)
                if len(chosen) >= count:
                    break
        for start in range(0, len(chosen), 100):
            batch = chosen[start : start + 100]
            if len(batch) == 1:
                await batch[0].delete()
            else:
                await channel.delete_messages(batch, reason=audit_reason(moderator, "purge"))
        case = await self._record(
            channel.guild,
            CaseType.PURGE,
            member.id if member else None,
            moderator,
            f"Purged {plural(len(chosen), 'message')}",
            channel_id=channel.id,
            metadata={"deleted": len(chosen), "requested": count},
        )
        return len(chosen), case

    # -- the mute role -----------------------------------------------------------------------

    async def existing_mute_role(self, guild: discord.Guild) -> discord.Role | None:
        settings = await moderation.get_settings(guild.id)
        role = guild.get_role(settings.mute_role_id or 0)
        if role is None:
            role = discord.utils.get(guild.roles, name=MUTE_ROLE_NAME)
        return role

    async def mute_role(self, guild: discord.Guild) -> discord.Role:
        """The guild's mute role: the configured one, else one named "Muted", else a new one
        with overwrites in every channel so its members cannot speak anywhere."""
        role = await self.existing_mute_role(guild)
        settings = await moderation.get_settings(guild.id)
        if role is None:
            role = await guild.create_role(
                name=MUTE_ROLE_NAME,
                permissions=discord.Permissions.none(),
                reason="Pegasus: role for muted members",
            )
            for channel in guild.channels:
                await self.apply_mute_overwrite(channel, role)
        if settings.mute_role_id != role.id:
            await moderation.set_mute_role(guild.id, role.id, actor_id=self.bot_id)
        return role

    async def give_mute_role(self, member: discord.Member, *, reason: str) -> discord.Role:
        """Give the mute role, unless it is one the bot may not hand out (an elevated permission,
        say, since anyone who can rename a role to "Muted" chooses it)."""
        role = await self.mute_role(member.guild)
        if role >= member.guild.me.top_role:
            raise PermissionDenied(
                f"I can't give {role.mention}: it is not below my highest role. Move my role up."
            )
        if not await vet_grants(member, [role], purpose="mute"):
            raise PermissionDenied(
                f"I won't give {role.mention} as the mute role: it carries permissions a mute "
                "must not give (see the server log). Remove them, or delete the role so I make "
                "a new one."
            )
        await member.add_roles(role, reason=reason)
        return role

    async def apply_mute_overwrite(
        self, channel: discord.abc.GuildChannel, role: discord.Role
    ) -> None:
        """Deny the muted role speaking in `channel`.

        Discord only lets a bot set overwrites for permissions it has itself, so the overwrite
        names only those (a muted member cannot have more than the bot could take away).
        """
        if not isinstance(channel, MUTABLE_CHANNELS):
            return
        mine = channel.permissions_for(channel.guild.me)
        if not (mine.manage_roles or mine.administrator):
            log.warning("Cannot set the mute overwrite in %s: no Manage Permissions", channel.id)
            return
        denied = {
            name: False
            for name, value in MUTE_OVERWRITE
            if value is False and (mine.administrator or getattr(mine, name))
        }
        try:
            await channel.set_permissions(
                role,
                overwrite=discord.PermissionOverwrite(**denied),
                reason="Pegasus: muted members stay quiet",
            )
        except discord.HTTPException as error:
            log.warning("Could not set the mute overwrite in %s: %s", channel.id, error)
