"""Bans, unbans, kicks and timeouts taken in Discord's own menus become cases, from the audit log.

Discord sends each new audit log entry (`on_audit_log_entry_create`) to a bot with the
GUILD_MODERATION intent and the View Audit Log permission. Pegasus' own actions appear there too,
with the bot as the actor: they are cases already, so they are left out here; everyone else's
(people, and other bots) are recorded and posted to the modlog like any other case.

discord.py runs each event's handler as its own task; a ban quickly followed by its unban must
still be recorded in that order (the unban ends the ban's case), so a guild's entries are handled
one at a time, in the order they arrived. One process owns a guild, so a lock in memory is enough.

Entries made while Pegasus was away come with no event (a new gateway session replays nothing):
at READY, each guild where an earlier entry was recorded has its log read from that entry on.
Guilds with none are not read: nothing tells what was missed there from what came before Pegasus.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from cogs.moderation.support import Enforcer
from pegasus.bot import Pegasus
from pegasus.services.moderation import CaseType
from pegasus.services.moderation.outside import (
    OutsideAction,
    newest_recorded_entries,
    record_outside_action,
    timeout_change,
)

log = logging.getLogger(__name__)

CATCH_UP_LIMIT = 1000  # entries read per guild after an absence (Discord keeps 45 days)

MENU_ACTIONS = {
    discord.AuditLogAction.ban: CaseType.BAN,
    discord.AuditLogAction.unban: CaseType.UNBAN,
    discord.AuditLogAction.kick: CaseType.KICK,
}


def target_id(entry: discord.AuditLogEntry) -> int | None:
    target = entry.target
    return target.id if target is not None else None  # type: ignore[union-attr]


def read_type(entry: discord.AuditLogEntry) -> tuple[CaseType, int | None] | None:
    """The case an entry makes (with a timeout's duration), or None for other entries."""
    if entry.action in MENU_ACTIONS:
        return MENU_ACTIONS[entry.action], None
    if entry.action is discord.AuditLogAction.member_update:
        after = dict(entry.after)
        if "timed_out_until" in after:
            return timeout_change(after["timed_out_until"], entry.created_at)
    return None


class OutsideActions(commands.Cog, name="Actions outside Pegasus"):
    """Moderation done in Discord itself, recorded as cases."""

    def __init__(self, bot: Pegasus, enforcer: Enforcer) -> None:
        self.bot = bot
        self.enforcer = enforcer
        self._guild_locks: dict[int, asyncio.Lock] = {}

    def read(self, entry: discord.AuditLogEntry) -> OutsideAction | None:
        """The entry as an action to record, or None: not about moderation, or Pegasus' own."""
        assert self.bot.user is not None
        # Compared by id: the actor may be missing from the cache, Pegasus never is.
        if entry.user_id == self.bot.user.id:
            return None
        read = read_type(entry)
        user_id = target_id(entry)
        if read is None or user_id is None:
            return None
        case_type, duration = read
        actor = entry.user
        return OutsideAction(
            guild_id=entry.guild.id,
            entry_id=entry.id,
            case_type=case_type,
            user_id=user_id,
            moderator_id=entry.user_id,
            reason=entry.reason,
            at=entry.created_at,
            duration_seconds=duration,
            moderator_is_bot=bool(actor is not None and actor.bot),
        )

    @commands.Cog.listener()
    async def on_audit_log_entry_create(self, entry: discord.AuditLogEntry) -> None:
        action = self.read(entry)
        if action is None:
            return
        # Taken before the first await: tasks start in the order their events arrived, and the
        # lock serves its waiters first come, first served.
        async with self._guild_locks.setdefault(entry.guild.id, asyncio.Lock()):
            case = await record_outside_action(action)
            if case is None:
                log.debug("Audit log entry %s was recorded before", entry.id)
                return
            await self.enforcer.post_case(entry.guild, case)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        guilds = {guild.id: guild for guild in self.bot.guilds}
        newest = await newest_recorded_entries(list(guilds))
        for guild_id, entry_id in newest.items():
            await self.catch_up(guilds[guild_id], entry_id)

    async def catch_up(self, guild: discord.Guild, after_id: int) -> None:
        """Record what was done in Discord's menus after entry `after_id`, oldest first."""
        if not guild.me.guild_permissions.view_audit_log:
            return
        try:
            async for entry in guild.audit_logs(
                limit=CATCH_UP_LIMIT, after=discord.Object(after_id), oldest_first=True
            ):
                await self.on_audit_log_entry_create(entry)
        except discord.HTTPException as error:
            log.warning("Could not read the audit log of %s: %s", guild.id, error)
