"""Timed ends of punishments and warnings, run by the scheduler; mutes that survive a rejoin.

Each handler first asks the service whether its case is still running: a case lifted by hand or
replaced by a newer punishment (a permanent ban over a tempban) is left alone. A repeat after a
crash finds the work done (Discord answers "Unknown Ban", the case is no longer active) and
records nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
from discord.ext import commands

from cogs.moderation.automations import Automations
from cogs.moderation.support import Enforcer, utcnow
from models.scheduling import ScheduledAction
from pegasus.bot import Pegasus
from pegasus.errors import PermissionDenied
from pegasus.services import audit, moderation
from pegasus.services.moderation import CaseType

log = logging.getLogger(__name__)

READY_WAIT_SECONDS = 120  # a timer due at start-up waits for the gateway, then retries


class Timers(commands.Cog, name="Moderation timers"):
    def __init__(self, bot: Pegasus, enforcer: Enforcer, automations_cog: Automations) -> None:
        self.bot = bot
        self.enforcer = enforcer
        self.handlers = {
            moderation.KIND_UNBAN: self.end_ban,
            moderation.KIND_UNMUTE: self.end_mute,
            moderation.KIND_TIMEOUT_END: self.end_timeout,
            moderation.KIND_WARNING_EXPIRE: self.expire_warning,
            moderation.KIND_AUTOMATION: automations_cog.run_fired,
        }

    async def cog_load(self) -> None:
        for kind, handler in self.handlers.items():
            self.bot.scheduler.register(kind, handler)

    async def cog_unload(self) -> None:
        for kind in self.handlers:
            self.bot.scheduler.unregister(kind)

    async def _guild(self, guild_id: int | None) -> discord.Guild | None:
        """The guild once the gateway is ready (timers due at start-up run after READY)."""
        await asyncio.wait_for(self.bot.wait_until_ready(), timeout=READY_WAIT_SECONDS)
        return self.bot.get_guild(guild_id or 0)

    async def end_ban(self, action: ScheduledAction) -> None:
        found = await moderation.inspect_timed_case(action.payload["case_id"])
        if not found.still_running or found.case is None:
            return
        case = found.case
        assert case.user_id is not None  # a ban is always of someone
        user = discord.Object(case.user_id)
        guild = await self._guild(action.guild_id)
        if guild is not None:
            try:
                await guild.unban(
                    user, reason=f"Pegasus: temporary ban of case #{case.case_number} expired"
                )
            except discord.NotFound:
                pass  # already unbanned on Discord (by hand, or by a run that crashed after)
        lifted = await moderation.end_timed_case(case.id, now=utcnow(), actor_id=self.bot_id)
        if guild is None:
            return
        if lifted is None:
            await self._restore_newer_ban(guild, user)
            return
        await self.enforcer.post_case(guild, lifted)

    async def _restore_newer_ban(self, guild: discord.Guild, user: discord.Object) -> None:
        # The case ended between our check and the unban: if that was a new ban, our unban
        # just lifted it on Discord; put it back.
        newer = await moderation.active_case(guild.id, user.id, CaseType.BAN)
        if newer is not None:
            await guild.ban(user, reason=f"Pegasus: restoring the ban of case #{newer.case_number}")

    async def end_mute(self, action: ScheduledAction) -> None:
        found = await moderation.inspect_timed_case(action.payload["case_id"])
        if not found.still_running or found.case is None:
            return
        case = found.case
        user_id = case.user_id
        assert user_id is not None  # a mute is always of someone
        guild = await self._guild(action.guild_id)
        member = guild.get_member(user_id) if guild else None
        role = await self.enforcer.existing_mute_role(guild) if guild else None
        if member is not None and role is not None and role in member.roles:
            try:
                await member.remove_roles(
                    role, reason=f"Pegasus: mute of case #{case.case_number} expired"
                )
            except discord.NotFound:
                pass  # the member left meanwhile; not muted again on return (case ends)
        lifted = await moderation.end_timed_case(case.id, now=utcnow(), actor_id=self.bot_id)
        if guild is None:
            return
        if lifted is None:
            newer = await moderation.active_case(guild.id, user_id, CaseType.MUTE)
            if newer is not None and member is not None and role is not None:
                with contextlib.suppress(PermissionDenied):  # refused and reported already
                    await self.enforcer.give_mute_role(
                        member, reason="Pegasus: a newer mute is running"
                    )
            return
        await self.enforcer.post_case(guild, lifted)

    async def end_timeout(self, action: ScheduledAction) -> None:
        # Discord lifts a native timeout by itself; only the record changes.
        await moderation.close_timed_case(action.payload["case_id"])

    async def expire_warning(self, action: ScheduledAction) -> None:
        await moderation.expire_warning(action.payload["warning_id"], now=utcnow())

    @property
    def bot_id(self) -> int:
        assert self.bot.user is not None
        return self.bot.user.id

    # -- mutes survive leaving and rejoining ---------------------------------------------------

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        running = await moderation.active_case(
            member.guild.id, member.id, CaseType.MUTE, now=utcnow()
        )
        if running is None:
            return
        try:
            await self.enforcer.give_mute_role(
                member, reason=f"Pegasus: still muted (case #{running.case_number})"
            )
        except PermissionDenied as refusal:
            log.warning("Could not mute %s again on rejoin: %s", member.id, refusal)
            return
        await audit.record_security_event(
            guild_id=member.guild.id,
            user_id=member.id,
            action="moderation.mute_reapplied",
            severity=audit.Severity.MEDIUM,
            description=f"Rejoined while muted (case #{running.case_number}); muted again.",
            metadata={"case_number": running.case_number},
        )

    @commands.Cog.listener()
    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        settings = await moderation.get_settings(channel.guild.id)
        role = channel.guild.get_role(settings.mute_role_id or 0)
        if role is not None:
            await self.enforcer.apply_mute_overwrite(channel, role)
