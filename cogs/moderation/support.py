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
from pegasus.i18n import (
    N_,
    _,
    for_direct_message,
    for_guild,
    format_number,
    ngettext,
    pgettext,
)
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
# What happened to the member, as the public confirmation says it.
PAST_TENSE = {
    CaseType.WARN: N_("{member} was warned"),
    CaseType.MUTE: N_("{member} was muted"),
    CaseType.UNMUTE: N_("{member} was unmuted"),
    CaseType.TIMEOUT: N_("{member} was timed out"),
    CaseType.UNTIMEOUT: N_("{member} was released from timeout"),
    CaseType.KICK: N_("{member} was kicked"),
    CaseType.BAN: N_("{member} was banned"),
    CaseType.UNBAN: N_("{member} was unbanned"),
    CaseType.PURGE: N_("{member} was purged"),
}
# The title of the DM a punished member gets, by the action `Enforcer.notify` is told.
NOTICE_TITLES = {
    "banned": N_("You were banned in {server}"),
    "kicked": N_("You were kicked in {server}"),
    "timed out": N_("You were timed out in {server}"),
    "muted": N_("You were muted in {server}"),
    "warned": N_("You were warned in {server}"),
}


def case_name(kind: CaseType) -> str:
    """A case type's name in the current language ("Ban"), as the modlog and /cases show it."""
    names = {
        CaseType.WARN: pgettext("case type", "Warn"),
        CaseType.MUTE: pgettext("case type", "Mute"),
        CaseType.UNMUTE: pgettext("case type", "Unmute"),
        CaseType.TIMEOUT: pgettext("case type", "Timeout"),
        CaseType.UNTIMEOUT: pgettext("case type", "Untimeout"),
        CaseType.KICK: pgettext("case type", "Kick"),
        CaseType.BAN: pgettext("case type", "Ban"),
        CaseType.UNBAN: pgettext("case type", "Unban"),
        CaseType.PURGE: pgettext("case type", "Purge"),
    }
    return names.get(kind) or kind.capitalize()


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
        raise PermissionDenied(_("This works only in a server."))
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
        return _("give role {role}").format(role=f"<@&{action['role_id']}>")
    if kind is AutomationActionType.MESSAGE:
        text = action["message"]
        return _("DM: “{message}”").format(message=f"{text[:60]}{'…' if len(text) > 60 else ''}")
    name = _(ACTION_NAMES[kind]) if kind in ACTION_NAMES else str(kind)
    if duration:
        return _("{action} for {duration}").format(
            action=name, duration=format_duration(int(duration))
        )
    return name


# An automation's actions by name, as staff read them in its summary.
ACTION_NAMES = {
    AutomationActionType.TIMEOUT: N_("timeout"),
    AutomationActionType.MUTE: N_("mute"),
    AutomationActionType.KICK: N_("kick"),
    AutomationActionType.BAN: N_("ban"),
}


def case_embed(case: Case) -> discord.Embed:
    """The case as posted to the modlog and shown by /case."""
    kind = case.type
    embed = discord.Embed(
        title=_("Case #{number} · {type}").format(number=case.case_number, type=case_name(kind)),
        colour=CASE_COLOURS[kind],
        timestamp=case.created_at,
    )
    user_id = case.user_id
    moderator_id = case.moderator_id
    if user_id is not None:
        embed.add_field(name=_("Member"), value=f"<@{user_id}> (`{user_id}`)", inline=True)
    automatic = case.metadata.get("automatic") or case.metadata.get("automation_id")
    moderator = f"<@{moderator_id}>" if moderator_id else _("Unknown")
    if automatic:
        moderator = _("{moderator} (automatic)").format(moderator=moderator)
    elif case.metadata.get("source") == "discord":
        # read from the audit log, not done through Pegasus
        moderator = _("{moderator} (in Discord)").format(moderator=moderator)
    embed.add_field(name=_("Moderator"), value=moderator, inline=True)
    if case.channel_id:
        embed.add_field(name=_("Channel"), value=f"<#{case.channel_id}>", inline=True)
    if case.duration_seconds:
        duration = format_duration(case.duration_seconds)
        if case.expires_at:
            duration = _("{duration}, ends {time}").format(
                duration=duration, time=timestamp(case.expires_at)
            )
        embed.add_field(name=_("Duration"), value=duration, inline=True)
    elif kind in (CaseType.BAN, CaseType.MUTE):
        embed.add_field(name=_("Duration"), value=_("Permanent"), inline=True)
    if "deleted" in case.metadata:
        embed.add_field(name=_("Messages deleted"), value=format_number(case.metadata["deleted"]))
    warn_id = case.metadata.get("warn_id")
    if kind is CaseType.WARN and warn_id:
        embed.add_field(
            name=_("Warning"),
            value=_("{warning} · level {level}").format(
                warning=f"`{warn_id}`", level=case.metadata.get("level", 1)
            ),
            inline=True,
        )
    if "automation_name" in case.metadata:
        name = case.metadata["automation_name"]
        value = (
            _("{automation} after warning {warning}").format(
                automation=name, warning=f"`{warn_id}`"
            )
            if warn_id
            else name
        )
        embed.add_field(name=_("Automation"), value=value, inline=True)
    embed.add_field(name=_("Reason"), value=case.reason or _("No reason given"), inline=False)
    if case.proof:
        embed.add_field(name=_("Proof"), value=clip("\n".join(case.proof)), inline=False)
    if case.reason_edited_at is not None:
        editor = case.reason_edited_by_id
        edited = (
            _("by {member} {time}").format(
                member=f"<@{editor}>", time=timestamp(case.reason_edited_at)
            )
            if editor
            else timestamp(case.reason_edited_at)
        )
        embed.add_field(name=_("Reason edited"), value=edited, inline=False)
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
        with for_guild(guild.id):
            embed = case_embed(case)
        try:
            message = await channel.send(embed=embed)
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
        with for_guild(guild.id):
            embed = case_embed(case)
        try:
            await channel.get_partial_message(case.modlog_message_id).edit(embed=embed)
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
        """Tell the member by DM what happened (best effort: DMs may be closed), in their own
        language if they chose one, else the server's."""
        with for_direct_message(user.id, guild.id):
            embed = self._notice(guild, action, reason, duration_seconds, extra)
        try:
            await user.send(embed=embed)
        except discord.HTTPException:
            return False
        return True

    @staticmethod
    def _notice(
        guild: discord.Guild,
        action: str,
        reason: str | None,
        duration_seconds: int | None,
        extra: str | None,
    ) -> discord.Embed:
        title = (
            _(NOTICE_TITLES[action]).format(server=guild.name)
            if action in NOTICE_TITLES
            else _("You were {action} in {server}").format(action=action, server=guild.name)
        )
        embed = discord.Embed(
            title=title, description=reason or _("No reason given."), colour=SCARLET
        )
        if duration_seconds:
            ends = utcnow() + timedelta(seconds=duration_seconds)
            embed.add_field(
                name=_("Duration"),
                value=_("{duration}, ends {time}").format(
                    duration=format_duration(duration_seconds), time=timestamp(ends)
                ),
            )
        if extra:
            embed.add_field(name=_("Details"), value=clip(extra), inline=False)
        return embed

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
            raise NotFoundError(
                _("{member} is not banned here.").format(member=user.mention)
            ) from None
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
                _("Discord allows timeouts of at most 28 days; use /mute for longer ones.")
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
            raise ValidationError(_("{member} is not timed out.").format(member=member.mention))
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
            raise ValidationError(_("{member} is not muted.").format(member=member.mention))
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
            ngettext("Purged {count} message", "Purged {count} messages", len(chosen)).format(
                count=format_number(len(chosen))
            ),
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
                _("I can't give {role}: it is not below my highest role. Move my role up.").format(
                    role=role.mention
                )
            )
        if not await vet_grants(member, [role], purpose="mute"):
            raise PermissionDenied(
                _(
                    "I won't give {role} as the mute role: it carries permissions a mute "
                    "must not give (see the server log). Remove them, or delete the role so I "
                    "make a new one."
                ).format(role=role.mention)
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
