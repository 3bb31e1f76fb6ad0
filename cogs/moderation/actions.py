"""/kick, /ban, /unban, /timeout, /untimeout, /mute, /unmute and /purge."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs.moderation.support import PAST_TENSE, Enforcer, check_target
from pegasus.bot import Pegasus
from pegasus.errors import PermissionDenied
from pegasus.i18n import N_, _, format_number, ngettext
from pegasus.services.durations import format_duration, parse_duration
from pegasus.services.moderation import Case
from pegasus.ui.format import BLURPLE, timestamp
from pegasus.ui.views import confirm

DELETE_MESSAGE_CHOICES = [
    app_commands.Choice(name="Don't delete any", value=0),
    app_commands.Choice(name="Previous hour", value=3600),
    app_commands.Choice(name="Previous 24 hours", value=86400),
    app_commands.Choice(name="Previous 7 days", value=7 * 86400),
]
MAX_PURGE = 100


def parse_optional_duration(text: str | None) -> int | None:
    return parse_duration(text) if text else None


def action_summary(
    case: Case, target: discord.abc.User, *, notified: bool | None = None
) -> discord.Embed:
    """The public confirmation of an action, in the channel where it was taken."""
    text = _(PAST_TENSE[case.type]).format(member=target.mention)
    if case.duration_seconds:
        duration = format_duration(case.duration_seconds)
        if case.expires_at:
            text = _("{action} for {duration} (ends {time}).").format(
                action=text, duration=duration, time=timestamp(case.expires_at)
            )
        else:
            text = _("{action} for {duration}.").format(action=text, duration=duration)
    else:
        text = _("{action}.").format(action=text)
    if case.reason:
        text += "\n" + _("**Reason:** {reason}").format(reason=case.reason)
    embed = discord.Embed(description=text, colour=BLURPLE)
    embed.set_footer(text=_("Case #{number}").format(number=case.case_number))
    return embed


def moderator_of(interaction: discord.Interaction) -> discord.Member:
    if not isinstance(interaction.user, discord.Member) or interaction.guild is None:
        raise PermissionDenied(_("This works only in a server."))
    return interaction.user


class ModerationActions(commands.Cog, name="Moderation actions"):
    """Punishments and their reversal."""

    def __init__(self, bot: Pegasus, enforcer: Enforcer) -> None:
        self.bot = bot
        self.enforcer = enforcer

    async def act(
        self,
        interaction: discord.Interaction,
        target: discord.Member | discord.User,
        action: Callable[..., Awaitable[Case]],
        **options: Any,
    ) -> None:
        """Take `action` on `target` as the invoker and post the public summary of the case.

        The checks come first, in each command; Discord may be slow, so the answer is deferred.
        """
        await interaction.response.defer(thinking=True)
        case = await action(target, moderator=interaction.user, **options)
        await interaction.followup.send(embed=action_summary(case, target))

    @app_commands.command(name="kick", description="Remove a member from the server.")
    @app_commands.describe(member="Who to kick", reason="Why (shown in the modlog and their DM)")
    @app_commands.guild_only()
    @app_commands.default_permissions(kick_members=True)
    @app_commands.checks.has_permissions(kick_members=True)
    @app_commands.checks.bot_has_permissions(kick_members=True)
    async def kick(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        check_target(interaction, member, N_("kick"))
        await self.act(interaction, member, self.enforcer.kick, reason=reason)

    @app_commands.command(name="ban", description="Ban a user, for good or for a while.")
    @app_commands.describe(
        user="Who to ban (a member or any user id)",
        duration="How long, e.g. 1h, 7d, 2w; leave empty for a permanent ban",
        reason="Why (shown in the modlog and their DM)",
        delete_messages="Delete their recent messages",
    )
    @app_commands.choices(delete_messages=DELETE_MESSAGE_CHOICES)
    @app_commands.guild_only()
    @app_commands.default_permissions(ban_members=True)
    @app_commands.checks.has_permissions(ban_members=True)
    @app_commands.checks.bot_has_permissions(ban_members=True)
    async def ban(
        self,
        interaction: discord.Interaction,
        user: discord.User,
        duration: str | None = None,
        reason: app_commands.Range[str, 1, 1000] | None = None,
        delete_messages: app_commands.Choice[int] | None = None,
    ) -> None:
        guild = moderator_of(interaction).guild
        target = guild.get_member(user.id) or user
        check_target(interaction, target, N_("ban"))
        seconds = parse_optional_duration(duration)
        await self.act(
            interaction,
            target,
            functools.partial(self.enforcer.ban, guild),
            reason=reason,
            duration_seconds=seconds,
            delete_message_seconds=delete_messages.value if delete_messages else 0,
        )

    @app_commands.command(name="unban", description="Lift a user's ban.")
    @app_commands.describe(user="Who to unban (their user id works too)", reason="Why")
    @app_commands.guild_only()
    @app_commands.default_permissions(ban_members=True)
    @app_commands.checks.has_permissions(ban_members=True)
    @app_commands.checks.bot_has_permissions(ban_members=True)
    async def unban(
        self,
        interaction: discord.Interaction,
        user: discord.User,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        guild = moderator_of(interaction).guild
        await self.act(
            interaction, user, functools.partial(self.enforcer.unban, guild), reason=reason
        )

    @app_commands.command(
        name="timeout", description="Time a member out with Discord's timeout (up to 28 days)."
    )
    @app_commands.describe(
        member="Who to time out",
        duration="How long, e.g. 10m, 2h, 7d (at most 28d)",
        reason="Why (shown in the modlog and their DM)",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.checks.has_permissions(moderate_members=True)
    @app_commands.checks.bot_has_permissions(moderate_members=True)
    async def timeout(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        duration: str,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        check_target(interaction, member, N_("time out"))
        if member.guild_permissions.administrator:
            raise PermissionDenied(
                _("Discord does not let anyone time out {member}, an admin.").format(
                    member=member.mention
                )
            )
        seconds = parse_duration(duration)
        await self.act(
            interaction, member, self.enforcer.timeout, reason=reason, duration_seconds=seconds
        )

    @app_commands.command(name="untimeout", description="End a member's timeout now.")
    @app_commands.describe(member="Whose timeout to end", reason="Why")
    @app_commands.guild_only()
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.checks.has_permissions(moderate_members=True)
    @app_commands.checks.bot_has_permissions(moderate_members=True)
    async def untimeout(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        check_target(interaction, member, N_("release"))
        await self.act(interaction, member, self.enforcer.untimeout, reason=reason)

    @app_commands.command(
        name="mute", description="Mute a member with the Muted role, for a while or until unmuted."
    )
    @app_commands.describe(
        member="Who to mute",
        duration="How long, e.g. 30m, 2d, 6w; leave empty until /unmute",
        reason="Why (shown in the modlog and their DM)",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.checks.has_permissions(moderate_members=True)
    @app_commands.checks.bot_has_permissions(manage_roles=True)
    async def mute(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        duration: str | None = None,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        check_target(interaction, member, N_("mute"))
        seconds = parse_optional_duration(duration)
        await self.act(
            interaction, member, self.enforcer.mute, reason=reason, duration_seconds=seconds
        )

    @app_commands.command(name="unmute", description="Lift a member's mute.")
    @app_commands.describe(member="Who to unmute", reason="Why")
    @app_commands.guild_only()
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.checks.has_permissions(moderate_members=True)
    @app_commands.checks.bot_has_permissions(manage_roles=True)
    async def unmute(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        check_target(interaction, member, N_("unmute"))
        await self.act(interaction, member, self.enforcer.unmute, reason=reason)

    @app_commands.command(name="purge", description="Delete recent messages in this channel.")
    @app_commands.describe(
        count="How many messages to delete (1-100)",
        member="Only delete this member's messages",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.checks.has_permissions(manage_messages=True)
    @app_commands.checks.bot_has_permissions(manage_messages=True, read_message_history=True)
    async def purge(
        self,
        interaction: discord.Interaction,
        count: app_commands.Range[int, 1, MAX_PURGE],
        member: discord.User | None = None,
    ) -> None:
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel):
            raise PermissionDenied(_("Purge works in text channels only."))

        async def purge(decided: discord.Interaction) -> None:
            await decided.response.defer()
            deleted, case = await self.enforcer.purge(
                channel, moderator=interaction.user, count=count, member=member
            )
            if member:
                done = ngettext(
                    "Deleted {count} message from {member} (case #{number}).",
                    "Deleted {count} messages from {member} (case #{number}).",
                    deleted,
                )
            else:
                done = ngettext(
                    "Deleted {count} message (case #{number}).",
                    "Deleted {count} messages (case #{number}).",
                    deleted,
                )
            await decided.edit_original_response(
                content=done.format(
                    count=format_number(deleted),
                    member=member.mention if member else "",
                    number=case.case_number,
                ),
                view=None,
            )

        if member:
            question = ngettext(
                "Delete the last {count} message from {member} in {channel}? "
                "This cannot be undone.",
                "Delete the last {count} messages from {member} in {channel}? "
                "This cannot be undone.",
                count,
            )
        else:
            question = ngettext(
                "Delete the last {count} message in {channel}? This cannot be undone.",
                "Delete the last {count} messages in {channel}? This cannot be undone.",
                count,
            )
        await confirm(
            interaction,
            question.format(
                count=format_number(count),
                member=member.mention if member else "",
                channel=channel.mention,
            ),
            purge,
            confirm_label=_("Delete"),
        )
