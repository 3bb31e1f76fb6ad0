"""The write-behind buffer for XP, message counts and voice minutes.

Listeners touch memory only: `Activity.record_message` decides eligibility, cooldown and XP from
the cached guild state (`LevelCaches`) and adds to a buffer keyed by
(guild, user). The voice tracker counts qualifying seconds per member in memory. Every second
the flusher writes the buffer in ONE transaction as a few multi-row upserts that increment
(`INSERT ... ON CONFLICT DO UPDATE SET xp = user_xp.xp + EXCLUDED.xp ... RETURNING`), keeps
`members.xp/level` in step in the same transaction, and then hands level changes to a callback
(announcements and reward roles). A failed write puts the batch back, so it is retried. A clean
stop flushes; a crash loses at most one interval.

One process owns a guild (its shard), so in-memory cooldowns and buffers are safe under sharding.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.guilds import User
from models.levels import VoiceSession
from pegasus import metrics, notify
from pegasus.errors import DatabaseUnavailable
from pegasus.outage import health, is_database_unreachable, within
from pegasus.services import directory, stats
from pegasus.services.directory import UserInfo

from .config import GuildLevelState, LevelCaches, LevelConfig
from .histogram import after_increments, write_histogram
from .milestones import LevelStep, record_milestones
from .rules import ActivityContext, counts_message, earns_xp, level_for_xp, message_xp, voice_xp

__all__ = [
    "FLUSH_INTERVAL",
    "MAX_DEFERRED_PER_GUILD",
    "MAX_DEFERRED_TOTAL",
    "VOICE_INTERVAL",
    "Activity",
    "Batch",
    "DeferredMessage",
    "LevelChange",
    "Pending",
    "SessionWrite",
    "Unwritten",
    "VoiceCredit",
    "VoiceRules",
    "VoiceStateInfo",
    "VoiceTracker",
    "write_batch",
]

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
VOICE_INTERVAL = 10.0  # how often voice time is turned into credited minutes
ROWS_PER_STATEMENT = 1000  # 8 parameters a row: far below SQLite's and PostgreSQL's limits
MAX_KNOWN_IDS = 500_000  # ids known to exist in the database; forgotten beyond this
COOLDOWN_SWEEP_SECONDS = 60.0
SECONDS_PER_MINUTE = 60
# While the database is unreachable a guild's settings may be unknown (cold cache: start-up, or
# the 5-minute expiry), so XP cannot be computed: messages are kept as they came (who, where,
# roles, when; about 300 bytes each) and counted when the settings load again. At most this
# many per guild and in all (about 30 MB); beyond that they are dropped and the count logged.
MAX_DEFERRED_PER_GUILD = 10_000
MAX_DEFERRED_TOTAL = 100_000
SETTINGS_WAIT = 1.0  # seconds the hot path waits for a guild's settings before deferring

Key = tuple[int, int]  # (guild_id, user_id)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


# --------------------------------------------------------------------------- the buffer


@dataclass(slots=True)
class Pending:
    """Increments for one member since the last flush."""

    xp: int = 0
    messages: int = 0
    voice_minutes: int = 0
    last_message_xp_at: float | None = None
    last_voice_at: float | None = None
    channel_id: int | None = None  # where XP was last earned (where a level-up is announced)

    def merge(self, other: Pending) -> None:
        self.xp += other.xp
        self.messages += other.messages
        self.voice_minutes += other.voice_minutes
        self.last_message_xp_at = _latest(self.last_message_xp_at, other.last_message_xp_at)
        self.last_voice_at = _latest(self.last_voice_at, other.last_voice_at)
        self.channel_id = self.channel_id or other.channel_id


def _latest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


@dataclass(frozen=True, slots=True)
class DeferredMessage:
    """A message seen while its guild's settings could not be loaded."""

    context: ActivityContext  # who, where, roles and blacklist then, and when (context.now)
    user: UserInfo | None


@dataclass(frozen=True, slots=True)
class SessionWrite:
    """The voice_sessions row of a member as it should be stored; None in a batch = delete."""

    channel_id: int
    started_at: float
    last_credited_at: float


@dataclass(slots=True)
class Batch:
    entries: dict[Key, Pending] = field(default_factory=dict)
    sessions: dict[Key, SessionWrite | None] = field(default_factory=dict)
    new_users: dict[int, UserInfo] = field(default_factory=dict)
    # Set while (and once) the batch is written: the `updated_at` its user_xp rows get, so a
    # reader can tell whether the row it read already holds this batch.
    written_at: datetime | None = None
    merged: bool = False  # its entries moved into a batch put back after a failed write

    def __bool__(self) -> bool:
        return bool(self.entries or self.sessions)


@dataclass(frozen=True, slots=True)
class Unwritten:
    """A member's counts that were in memory when it was taken: the buffer and the batch
    being written. `beyond(stored_at)` is what a stored user_xp row last written at
    `stored_at` (None: no row) does not hold yet, so stored + beyond counts everything once."""

    key: Key
    batches: tuple[Batch, ...]

    def beyond(self, stored_at: datetime | None) -> Pending:
        total = Pending()
        for batch in self.batches:
            if batch.merged:
                continue
            written = batch.written_at
            if written is not None and stored_at is not None and stored_at >= written:
                continue  # the row read was written by this batch or later
            entry = batch.entries.get(self.key)
            if entry is not None:
                total.merge(entry)
        return total


@dataclass(frozen=True, slots=True)
class LevelChange:
    guild_id: int
    user_id: int
    old_level: int
    new_level: int
    xp: int
    channel_id: int | None


# --------------------------------------------------------------------------- voice


@dataclass(frozen=True, slots=True)
class VoiceRules:
    """When a member's voice time counts in a guild."""

    min_members: int = 2
    count_muted: bool = False
    count_deafened: bool = False
    afk_channel_id: int | None = None
    excluded_channels: frozenset[int] = frozenset()  # ignored channels: no minutes at all

    @classmethod
    def from_config(cls, config: LevelConfig, afk_channel_id: int | None) -> VoiceRules:
        return cls(
            min_members=config.voice_min_members,
            count_muted=config.voice_count_muted,
            count_deafened=config.voice_count_deafened,
            afk_channel_id=afk_channel_id,
            excluded_channels=config.ignored_channels,
        )


@dataclass(frozen=True, slots=True)
class VoiceStateInfo:
    """A human member's voice state (bots are never reported)."""

    user_id: int
    channel_id: int
    muted: bool = False  # self-muted or muted by the server
    deafened: bool = False


@dataclass(frozen=True, slots=True)
class GuildVoice:
    """Who is in voice in one guild, as Discord reports it at start-up or on reconnect."""

    guild_id: int
    states: tuple[VoiceStateInfo, ...]
    afk_channel_id: int | None
    users: tuple[UserInfo, ...] = ()


@dataclass(slots=True)
class _InVoice:
    channel_id: int
    muted: bool
    deafened: bool
    started_at: float
    last_credited_at: float
    counting_since: float | None = None
    carry: float = 0.0  # seconds counted and not yet credited as a whole minute

    def session(self) -> SessionWrite:
        return SessionWrite(self.channel_id, self.started_at, self.last_credited_at)


@dataclass(frozen=True, slots=True)
class VoiceCredit:
    guild_id: int
    user_id: int
    channel_id: int
    minutes: int
    at: float


class VoiceTracker:
    """Who is in voice, whether their time counts now, and the seconds they have accrued.

    Time counts while a member qualifies (not AFK or ignored channel, enough humans, not muted or
    deafened unless allowed). Every change in a channel first settles the accrued time of everyone
    in it at the old rules, then applies the change. While a guild's gateway is disconnected
    nothing counts (`pause`), so time the bot could not see is never credited.
    """

    def __init__(self) -> None:
        self._guilds: dict[int, dict[int, _InVoice]] = {}
        self._channels: dict[tuple[int, int], set[int]] = {}
        self._rules: dict[int, VoiceRules] = {}
        self._paused: set[int] = set()
        self._departed: list[VoiceCredit] = []

    # -- reading

    def members(self, guild_id: int) -> dict[int, int]:
        """user id → channel id of the members in voice in a guild."""
        return {uid: v.channel_id for uid, v in self._guilds.get(guild_id, {}).items()}

    def guild_ids(self) -> list[int]:
        """The guilds where someone is in voice."""
        return [guild_id for guild_id, members in self._guilds.items() if members]

    def collectable_guild_ids(self) -> set[int]:
        """The guilds where someone is in voice or left with time not yet credited."""
        return set(self.guild_ids()) | {credit.guild_id for credit in self._departed}

    def is_counting(self, guild_id: int, user_id: int) -> bool:
        member = self._guilds.get(guild_id, {}).get(user_id)
        return member is not None and member.counting_since is not None

    def rules(self, guild_id: int) -> VoiceRules | None:
        return self._rules.get(guild_id)

    # -- changes

    def update(
        self,
        guild_id: int,
        user_id: int,
        state: VoiceStateInfo | None,
        *,
        now: float,
        rules: VoiceRules,
    ) -> SessionWrite | bool | None:
        """Apply a voice state change; returns the session row to store, None to delete it, or
        False when the session row does not change."""
        self._rules[guild_id] = rules
        members = self._guilds.setdefault(guild_id, {})
        current = members.get(user_id)
        affected = {current.channel_id} if current else set()
        if state is not None:
            affected.add(state.channel_id)
        self._settle_channels(guild_id, affected, now)
        result: SessionWrite | bool | None
        if state is None:
            if current is None:
                return False
            self._remove(guild_id, user_id, current, now)
            result = None
        elif current is None:
            entered = _InVoice(state.channel_id, state.muted, state.deafened, now, now)
            members[user_id] = entered
            self._channels.setdefault((guild_id, state.channel_id), set()).add(user_id)
            result = entered.session()
        else:
            moved = current.channel_id != state.channel_id
            if moved:
                self._channels[(guild_id, current.channel_id)].discard(user_id)
                self._channels.setdefault((guild_id, state.channel_id), set()).add(user_id)
                current.channel_id = state.channel_id
            current.muted, current.deafened = state.muted, state.deafened
            result = current.session() if moved else False
        self._requalify_channels(guild_id, affected, now)
        return result

    def resume(self, guild_id: int) -> None:
        """The guild's gateway is back and nobody is in voice there."""
        self._paused.discard(guild_id)

    def pause(self, guild_ids: Iterable[int], *, now: float) -> None:
        """Stop counting in these guilds (their gateway is disconnected), keeping what accrued."""
        for guild_id in guild_ids:
            self._paused.add(guild_id)
            for member in self._guilds.get(guild_id, {}).values():
                _settle(member, now)
                member.counting_since = None

    def reconcile(
        self,
        guild_id: int,
        states: Sequence[VoiceStateInfo],
        *,
        now: float,
        rules: VoiceRules,
        started: dict[int, tuple[int, float]] | None = None,
    ) -> dict[int, SessionWrite | None]:
        """Replace what is known about a guild's voice with the states Discord reports.

        Accrued time is settled up to the pause (or now when there was none), and counting
        restarts from `now`; `started` gives (channel, start) of stored sessions, kept when the
        member is still in that channel. Returns the session rows to store (None = delete).
        """
        self._rules[guild_id] = rules
        members = self._guilds.setdefault(guild_id, {})
        if guild_id not in self._paused:
            for member in members.values():
                _settle(member, now)
        self._paused.discard(guild_id)
        present = {s.user_id: s for s in states}
        writes: dict[int, SessionWrite | None] = {}
        for user_id in [u for u in members if u not in present]:
            self._remove(guild_id, user_id, members[user_id], now)
            writes[user_id] = None
        for user_id in started or {}:
            if user_id not in present:
                writes[user_id] = None
        for state in states:
            member = members.get(state.user_id)
            if member is None:
                channel, start = (started or {}).get(state.user_id, (None, now))
                member = _InVoice(
                    state.channel_id,
                    state.muted,
                    state.deafened,
                    start if channel == state.channel_id else now,
                    now,
                )
                members[state.user_id] = member
            else:
                self._channels[(guild_id, member.channel_id)].discard(state.user_id)
                if member.channel_id != state.channel_id:
                    member.started_at = now
                member.channel_id, member.muted, member.deafened = (
                    state.channel_id,
                    state.muted,
                    state.deafened,
                )
            member.last_credited_at = now
            member.counting_since = None
            self._channels.setdefault((guild_id, state.channel_id), set()).add(state.user_id)
            writes[state.user_id] = member.session()
        self._requalify_channels(guild_id, {s.channel_id for s in states}, now)
        return writes

    def collect(
        self,
        *,
        now: float,
        rules_for: Callable[[int], VoiceRules | None] | None = None,
        only: Collection[int] | None = None,
    ) -> list[VoiceCredit]:
        """Turn accrued time into whole minutes (the rest carries over); applies new rules.
        With `only`, other guilds keep accruing (their settings could not be loaded)."""
        credits = [c for c in self._departed if only is None or c.guild_id in only]
        self._departed = [c for c in self._departed if only is not None and c.guild_id not in only]
        for guild_id, members in self._guilds.items():
            if only is not None and guild_id not in only:
                continue
            new_rules = rules_for(guild_id) if rules_for else None
            if new_rules is not None:
                self.apply_rules(guild_id, new_rules, now=now)
            for user_id, member in members.items():
                pending = member.carry
                if member.counting_since is not None:
                    pending += now - member.counting_since
                if pending < SECONDS_PER_MINUTE:
                    continue
                _settle(member, now)
                minutes = int(member.carry // SECONDS_PER_MINUTE)
                member.carry -= minutes * SECONDS_PER_MINUTE
                member.last_credited_at = now
                credits.append(VoiceCredit(guild_id, user_id, member.channel_id, minutes, now))
        return credits

    def apply_rules(self, guild_id: int, rules: VoiceRules, *, now: float) -> None:
        """New rules from `now` on: time until then is settled at the old ones."""
        if rules == self._rules.get(guild_id):
            return
        self._rules[guild_id] = rules
        channels = {m.channel_id for m in self._guilds.get(guild_id, {}).values()}
        self._settle_channels(guild_id, channels, now)
        self._requalify_channels(guild_id, channels, now)

    def session(self, guild_id: int, user_id: int) -> SessionWrite | None:
        member = self._guilds.get(guild_id, {}).get(user_id)
        return member.session() if member else None

    # -- internals

    def _remove(self, guild_id: int, user_id: int, member: _InVoice, now: float) -> None:
        _settle(member, now)
        minutes = int(member.carry // SECONDS_PER_MINUTE)
        if minutes:
            self._departed.append(VoiceCredit(guild_id, user_id, member.channel_id, minutes, now))
        self._channels[(guild_id, member.channel_id)].discard(user_id)
        del self._guilds[guild_id][user_id]

    def _settle_channels(self, guild_id: int, channels: set[int], now: float) -> None:
        members = self._guilds.get(guild_id, {})
        for channel_id in channels:
            for user_id in self._channels.get((guild_id, channel_id), ()):
                _settle(members[user_id], now)

    def _requalify_channels(self, guild_id: int, channels: set[int], now: float) -> None:
        members = self._guilds.get(guild_id, {})
        rules = self._rules.get(guild_id, VoiceRules())
        paused = guild_id in self._paused
        for channel_id in channels:
            present = self._channels.get((guild_id, channel_id), set())
            crowd = len(present)
            for user_id in present:
                member = members[user_id]
                counts = not paused and _qualifies(member, crowd, rules)
                if counts and member.counting_since is None:
                    member.counting_since = now
                elif not counts:
                    member.counting_since = None


def _settle(member: _InVoice, now: float) -> None:
    if member.counting_since is not None:
        member.carry += max(0.0, now - member.counting_since)
        member.counting_since = now


def _qualifies(member: _InVoice, crowd: int, rules: VoiceRules) -> bool:
    if member.channel_id == rules.afk_channel_id or member.channel_id in rules.excluded_channels:
        return False
    if crowd < rules.min_members:
        return False
    if member.muted and not rules.count_muted:
        return False
    return not (member.deafened and not rules.count_deafened)


# --------------------------------------------------------------------------- the runtime


LevelChangeHandler = Callable[[list[LevelChange]], Awaitable[None]]
VoiceContextLookup = Callable[[int, int, int], ActivityContext]


class Activity:
    """The hot path's memory and its flusher. Create it after the database is initialised (its
    task must see Tortoise's context) and `start()` it; `stop()` flushes what is left."""

    def __init__(
        self,
        caches: LevelCaches | None = None,
        *,
        interval: float = FLUSH_INTERVAL,
        voice_interval: float = VOICE_INTERVAL,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        on_level_changes: LevelChangeHandler | None = None,
        voice_context: VoiceContextLookup | None = None,
        before_flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.caches = caches or LevelCaches()
        self.interval = interval
        self.voice_interval = voice_interval
        self.clock = clock
        self.rng = rng or random.Random()
        self.on_level_changes = on_level_changes
        self.voice_context = voice_context or (
            lambda _guild_id, user_id, channel_id: ActivityContext(user_id, (channel_id,))
        )
        self.before_flush = before_flush  # e.g. refresh the blacklist copy the listeners read
        self.voice = VoiceTracker()
        self.lock = asyncio.Lock()  # one writer at a time: the flusher or an XP command
        self._batch = Batch()
        self._writing: Batch | None = None  # the batch a flush is writing now
        self._last_stamp: datetime | None = None
        self._cooldowns: dict[Key, float] = {}
        self._known_users: set[int] = set()
        self._known_guilds: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._last_voice_collect = 0.0
        self._last_sweep = 0.0
        self._failures = 0
        self._deferred: dict[int, list[DeferredMessage]] = {}
        self._deferred_total = 0
        self._dropped: dict[int, int] = {}
        self.max_deferred_per_guild = MAX_DEFERRED_PER_GUILD
        self.max_deferred_total = MAX_DEFERRED_TOTAL
        self.settings_wait = SETTINGS_WAIT
        self.flushes = 0  # statistics for benchmarks and logs
        self.rows_written = 0
        self.settings_waits = 0  # times the hot path waited for a guild's settings to load

    # -- listeners (memory only once the guild's state is cached)

    def needs_user(self, user_id: int) -> bool:
        """Whether the buffer wants this user's names (the user is not known to be stored)."""
        return user_id not in self._known_users and user_id not in self._batch.new_users

    async def record_message(
        self, guild_id: int, ctx: ActivityContext, *, user: UserInfo | None = None
    ) -> int:
        """Count a message and award XP when it earns some; returns the XP awarded (0 if none,
        or when the settings cannot be loaded now: then it is counted when they are)."""
        state = self.peek_state(guild_id) or await self.guild_state(guild_id)
        if state is None:
            self.defer_message(guild_id, ctx, user=user)
            return 0
        return self.record_message_with(state, ctx.user_id, ctx.channel_ids, lambda: ctx, user=user)

    # -- the database unreachable: settings unknown

    def peek_state(self, guild_id: int) -> GuildLevelState | None:
        """The cached settings (the last ones loaded while a reload runs: expiry never makes a
        message wait), unless messages of the guild wait to be counted first (they are older,
        and cooldowns must see them in order)."""
        return None if guild_id in self._deferred else self.caches.current(guild_id)

    async def guild_state(self, guild_id: int) -> GuildLevelState | None:
        """The guild's settings, loaded if need be with a bounded wait; None while the database
        is unreachable. Once they are known, the guild's deferred messages are counted."""
        state = self.caches.current(guild_id)
        if state is None:
            if health.down:
                return None  # known outage: do not make every message wait for it
            self.settings_waits += 1
            try:
                state = await within(self.caches.get(guild_id), self.settings_wait)
            except DatabaseUnavailable:
                return None
        if guild_id in self._deferred:
            self.count_deferred(guild_id, state)
        return state

    def defer_message(
        self, guild_id: int, ctx: ActivityContext, *, user: UserInfo | None = None
    ) -> bool:
        """Keep a message until its guild's settings are known; False when over the caps."""
        queue = self._deferred.setdefault(guild_id, [])
        full = (
            len(queue) >= self.max_deferred_per_guild
            or self._deferred_total >= self.max_deferred_total
        )
        if full:
            self._dropped[guild_id] = self._dropped.get(guild_id, 0) + 1
            return False
        queue.append(DeferredMessage(ctx, user))
        self._deferred_total += 1
        return True

    @property
    def deferred_messages(self) -> int:
        return self._deferred_total

    def count_deferred(self, guild_id: int, state: GuildLevelState) -> int:
        """Count the guild's deferred messages, in order, as if seen then; returns the XP."""
        queue = self._deferred.pop(guild_id, [])
        self._deferred_total -= len(queue)
        dropped = self._dropped.pop(guild_id, 0)
        if dropped:
            log.warning(
                "%d message(s) in guild %s while the database was unreachable were not counted "
                "(over %d per guild or %d in all)",
                dropped,
                guild_id,
                self.max_deferred_per_guild,
                self.max_deferred_total,
            )
        xp = 0
        for message in queue:
            ctx = message.context
            xp += self.record_message_with(
                state,
                ctx.user_id,
                ctx.channel_ids,
                lambda ctx=ctx: ctx,
                user=message.user,
                now=ctx.now,
            )
        return xp

    async def count_all_deferred(self) -> None:
        """Count deferred messages of every guild whose settings can be loaded now."""
        for guild_id in list(self._deferred):
            await self.guild_state(guild_id)

    def record_message_with(
        self,
        state: GuildLevelState,
        user_id: int,
        channel_ids: tuple[int, ...],
        context: Callable[[], ActivityContext],
        *,
        user: UserInfo | None = None,
        now: float | None = None,
    ) -> int:
        """The hot path, memory only. `context` (roles, blacklist, ...) is only built for a
        message that is off cooldown: most messages of a busy member just count. `now`: when
        the message was sent, if not now (a deferred one)."""
        config = state.config
        if not counts_message(config, channel_ids):
            return 0
        key = (config.guild_id, user_id)
        entry = self._batch.entries.get(key) or self._entry(key, user)
        entry.messages += 1
        now = self.clock() if now is None else now
        if not config.enabled or self._cooldowns.get(key, 0.0) > now:
            return 0
        ctx = context()
        if not earns_xp(state, ctx):
            return 0
        xp = message_xp(state, ctx, self.rng)
        self._cooldowns[key] = now + config.cooldown_seconds
        entry.xp += xp
        entry.last_message_xp_at = now
        entry.channel_id = channel_ids[0]  # a level-up is announced where the XP was earned
        return xp

    async def record_voice(
        self,
        guild_id: int,
        user_id: int,
        state: VoiceStateInfo | None,
        *,
        afk_channel_id: int | None,
        user: UserInfo | None = None,
    ) -> None:
        """A member joined, left, moved or changed mute/deafen in voice."""
        guild = await self.guild_state(guild_id)
        known = self.voice.rules(guild_id)
        if guild is not None:
            rules = VoiceRules.from_config(guild.config, afk_channel_id)
        elif known is not None:  # settings unknown now: the rules last seen, until they load
            rules = replace(known, afk_channel_id=afk_channel_id)
        else:
            rules = VoiceRules(afk_channel_id=afk_channel_id)
        write = self.voice.update(guild_id, user_id, state, now=self.clock(), rules=rules)
        if write is not False:
            self._batch.sessions[(guild_id, user_id)] = write  # type: ignore[assignment]
            if user is not None and self.needs_user(user_id):
                self._batch.new_users[user_id] = user

    def pause_voice(self, guild_ids: Iterable[int]) -> None:
        """The gateway of these guilds is disconnected: stop counting their voice time."""
        self.voice.pause(guild_ids, now=self.clock())

    async def reconcile_voice(
        self,
        guild_id: int,
        states: Sequence[VoiceStateInfo],
        *,
        afk_channel_id: int | None,
        users: Sequence[UserInfo] = (),
    ) -> None:
        """Match stored sessions and memory with the voice states Discord reports (start-up,
        reconnect): members who left meanwhile are closed without crediting the unseen time,
        members present are counted from now."""
        await self.reconcile_voice_of_guilds(
            [GuildVoice(guild_id, tuple(states), afk_channel_id, tuple(users))]
        )

    async def reconcile_voice_of_guilds(self, guilds: Sequence[GuildVoice]) -> None:
        """`reconcile_voice` for many guilds at once (start-up, a resumed shard): their stored
        sessions are read in a few statements rather than one per guild."""
        async with self.lock:
            stored = await _stored_sessions([g.guild_id for g in guilds])
            for voice in guilds:
                await self._reconcile_locked(voice, stored.get(voice.guild_id, {}))

    async def _reconcile_locked(
        self, voice: GuildVoice, started: dict[int, tuple[int, float]]
    ) -> None:
        guild_id = voice.guild_id
        if not voice.states and not started and not self.voice.members(guild_id):
            self.voice.resume(guild_id)
            return  # nobody in voice, before or now: the usual case at start-up
        guild = await self.caches.get(guild_id)
        rules = VoiceRules.from_config(guild.config, voice.afk_channel_id)
        writes = self.voice.reconcile(
            guild_id, voice.states, now=self.clock(), rules=rules, started=started
        )
        for user_id, write in writes.items():
            self._batch.sessions[(guild_id, user_id)] = write
        for info in voice.users:
            if self.needs_user(info.id):
                self._batch.new_users[info.id] = info
        closed = sum(1 for write in writes.values() if write is None)
        log.log(
            logging.INFO if closed else logging.DEBUG,
            "Voice reconciled in guild %s: %d in voice, %d session(s) closed",
            guild_id,
            len(voice.states),
            closed,
        )

    async def settings_changed(self, guild_id: int) -> None:
        """A command changed the guild's settings: read them again, and apply the new voice
        rules from now (not from the next collection, which would judge the time in between by
        the old rules, or never, for a member whom no rule counted)."""
        self.caches.invalidate(guild_id)
        known = self.voice.rules(guild_id)
        state = await self.caches.get(guild_id)
        if known is not None:
            rules = VoiceRules.from_config(state.config, known.afk_channel_id)
            self.voice.apply_rules(guild_id, rules, now=self.clock())

    def discard(self, guild_id: int, user_id: int) -> None:
        """Forget a member's pending XP (before their XP is set by hand); counts are kept."""
        entry = self._batch.entries.get((guild_id, user_id))
        if entry is not None:
            entry.xp = 0

    def _entry(self, key: Key, user: UserInfo | None) -> Pending:
        entry = self._batch.entries.get(key)
        if entry is None:
            entry = self._batch.entries[key] = Pending()
            if user is not None and self.needs_user(key[1]):
                self._batch.new_users[key[1]] = user
        return entry

    # -- voice credits

    async def collect_voice(self) -> int:
        """Credit whole voice minutes (and their XP) to the buffer; returns minutes credited."""
        # Settings changed by a command empty the cache; load them again, or the old voice
        # rules would stay until the next message or voice change in that guild. Guilds whose
        # settings cannot be loaded now keep accruing, and are credited once they can.
        states: dict[int, GuildLevelState] = {}
        for guild_id in self.voice.collectable_guild_ids():
            state = await self.guild_state(guild_id)
            if state is not None:
                states[guild_id] = state
        now = self.clock()

        def rules_for(guild_id: int) -> VoiceRules | None:
            state = self.caches.peek(guild_id)
            known = self.voice.rules(guild_id)
            if state is None or known is None:
                return None
            return VoiceRules.from_config(state.config, known.afk_channel_id)

        credits = self.voice.collect(now=now, rules_for=rules_for, only=states.keys())
        total = 0
        for credit in credits:
            state = states[credit.guild_id]
            ctx = replace(
                self.voice_context(credit.guild_id, credit.user_id, credit.channel_id),
                now=credit.at,
            )
            key = (credit.guild_id, credit.user_id)
            entry = self._entry(key, None)
            entry.voice_minutes += credit.minutes
            entry.xp += voice_xp(state, ctx, credit.minutes)
            entry.last_voice_at = credit.at
            entry.channel_id = entry.channel_id or credit.channel_id
            session = self.voice.session(credit.guild_id, credit.user_id)
            if session is not None:
                self._batch.sessions[key] = session
            total += credit.minutes
        return total

    # -- flushing

    async def flush(self, *, collect_voice: bool = True) -> list[LevelChange]:
        """Write everything buffered now, in one transaction; returns the level changes (which
        are also handed to `on_level_changes`)."""
        async with self.lock:
            if collect_voice:
                await self.collect_voice()
                self._last_voice_collect = self.clock()
            started = time.perf_counter()
            changes = await self._flush_locked()
            metrics.FLUSH_SECONDS.observe(time.perf_counter() - started)
        await self._dispatch(changes)
        return changes

    async def _flush_locked(self) -> list[LevelChange]:
        batch, self._batch = self._batch, Batch()
        if not batch:
            self._batch.new_users.update(batch.new_users)
            return []
        batch.written_at = self._stamp()
        self._writing = batch
        try:
            changes = await write_batch(
                batch,
                now=batch.written_at,
                known_guilds=self._known_guilds,
                known_users=self._known_users,
            )
        except BaseException:
            self._restore(batch)
            # The cached "exists" knowledge may be what failed (a row deleted meanwhile).
            self._known_users.clear()
            self._known_guilds.clear()
            raise
        finally:
            self._writing = None
        self._remember(batch)
        self.flushes += 1
        self.rows_written += len(batch.entries)
        return changes

    def _stamp(self) -> datetime:
        """Now, and later than every earlier flush (see Batch.written_at)."""
        stamp = _utc(self.clock())
        if self._last_stamp is not None and stamp <= self._last_stamp:
            stamp = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = stamp
        return stamp

    def unwritten(self, guild_id: int, user_id: int) -> Unwritten:
        """The member's counts not stored yet, as of now: a read of the stored row that follows
        adds `beyond(row's updated_at)` of this, and waits for no flush."""
        batches = (self._batch,) if self._writing is None else (self._batch, self._writing)
        return Unwritten((guild_id, user_id), batches)

    def _restore(self, batch: Batch) -> None:
        newer = self._batch
        self._batch = batch
        batch.written_at = None
        newer.merged = True
        for key, entry in newer.entries.items():
            if key in batch.entries:
                batch.entries[key].merge(entry)
            else:
                batch.entries[key] = entry
        batch.sessions.update(newer.sessions)
        batch.new_users.update(newer.new_users)

    def _remember(self, batch: Batch) -> None:
        if len(self._known_users) > MAX_KNOWN_IDS:
            self._known_users.clear()
        self._known_users.update(uid for _gid, uid in batch.entries)
        self._known_users.update(uid for _gid, uid in batch.sessions)
        self._known_guilds.update(gid for gid, _uid in batch.entries)
        self._known_guilds.update(gid for gid, _uid in batch.sessions)

    async def _dispatch(self, changes: list[LevelChange]) -> None:
        if not changes or self.on_level_changes is None:
            return
        task = asyncio.create_task(self._run_handler(changes))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _run_handler(self, changes: list[LevelChange]) -> None:
        assert self.on_level_changes is not None
        try:
            await self.on_level_changes(changes)
        except Exception:
            log.exception("Handling %d level change(s) failed", len(changes))

    def _sweep_cooldowns(self, now: float) -> None:
        if now - self._last_sweep < COOLDOWN_SWEEP_SECONDS:
            return
        self._last_sweep = now
        expired = [key for key, until in self._cooldowns.items() if until <= now]
        for key in expired:
            del self._cooldowns[key]

    # -- lifecycle

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="pegasus-activity-flusher")

    async def stop(self) -> None:
        """Stop the flusher and write what is left (a clean stop loses nothing)."""
        await self.stop_flusher()
        await self.flush()
        await self.drain(timeout=10)
        await self.caches.stop_reloads()

    async def stop_flusher(self) -> None:
        """Stop the periodic flush; what is buffered stays until `flush()` or `stop()`."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for the level-change handlers started by earlier flushes."""
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=timeout)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            now = self.clock()
            due_voice = now - self._last_voice_collect >= self.voice_interval
            try:
                await self.count_all_deferred()
                if self.before_flush is not None:
                    await self.before_flush()
                await self.flush(collect_voice=due_voice)
                self._failures = 0
            except Exception as error:
                if is_database_unreachable(error):
                    # Kept and retried; the outage is logged once, not once a second.
                    health.report(error)
                    self._sweep_cooldowns(now)
                    continue
                self._failures += 1
                # Kept and retried next time; only a lasting failure is an error.
                level = logging.ERROR if self._failures >= 10 else logging.WARNING
                log.log(level, "Activity flush failed (%d in a row)", self._failures, exc_info=True)
            self._sweep_cooldowns(now)


# --------------------------------------------------------------------------- SQL


@dataclass(frozen=True, slots=True)
class Upsert:
    """A multi-row `INSERT ... ON CONFLICT` whose text is built once and then reused.

    PostgreSQL receives one array a column (`... FROM unnest($1::bigint[], ...)`): one text
    whatever the number of rows, which asyncpg prepares once per connection. Timestamps travel
    as epoch seconds and `now` as one value, since encoding datetime objects one by one is most
    of what a flush costs the event loop. SQLite receives `VALUES (?, ...), ...` in chunks of at
    most ROWS_PER_STATEMENT rows; the text of each row count is built once, so sqlite3's
    statement cache finds it as well. Every row gets created_at = updated_at = `now`.
    """

    table: str
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type), in the rows' order
    tail: str  # ON CONFLICT ...

    def sql(self, dialect: str, rows: int) -> str:
        # PostgreSQL's text does not depend on the number of rows: one entry for all of them.
        return _statement(self, dialect, 0 if dialect == "postgres" else rows)

    def chunks(
        self, dialect: str, rows: Sequence[Sequence[Any]], now: datetime
    ) -> Iterable[tuple[str, list[Any]]]:
        """(statement, parameters) to send for `rows`: tuples of the columns' values, with
        timestamps as epoch seconds (or None)."""
        if not rows:
            return
        if dialect == "postgres":
            arrays: list[Any] = [list(column) for column in zip(*rows, strict=True)]
            yield self.sql(dialect, len(rows)), [*arrays, now]
            return
        stamps = [i for i, (_name, kind) in enumerate(self.columns) if kind == "timestamptz"]
        for chunk in _chunks(rows):
            values: list[Any] = []
            for row in chunk:
                if stamps:
                    row = list(row)
                    for i in stamps:
                        row[i] = None if row[i] is None else _utc(row[i])
                values += row
                values += (now, now)
            yield self.sql(dialect, len(chunk)), values


@functools.lru_cache(maxsize=256)
def _statement(upsert: Upsert, dialect: str, rows: int) -> str:
    names = [name for name, _kind in upsert.columns]
    head = f"INSERT INTO {upsert.table} ({', '.join(names)}, created_at, updated_at)"
    if dialect == "postgres":
        arrays, picks = [], []
        for i, (name, kind) in enumerate(upsert.columns, start=1):
            if kind == "timestamptz":
                arrays.append(f"${i}::float8[]")
                picks.append(f"to_timestamp(r.{name})")
            else:
                arrays.append(f"${i}::{kind}[]")
                picks.append(f"r.{name}")
        now = f"${len(upsert.columns) + 1}::timestamptz"
        return (
            f"{head} SELECT {', '.join(picks)}, {now}, {now} "
            f"FROM unnest({', '.join(arrays)}) AS r({', '.join(names)}) {upsert.tail}"
        )
    row = "(" + ", ".join("?" * (len(names) + 2)) + ")"
    return f"{head} VALUES {', '.join([row] * rows)} {upsert.tail}"


def _param(dialect: str, index: int) -> str:
    return f"${index}" if dialect == "postgres" else "?"


def _chunks(items: Sequence[Any], size: int = ROWS_PER_STATEMENT) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


USER_XP_UPSERT = Upsert(
    "user_xp",
    (
        ("guild_id", "bigint"),
        ("user_id", "bigint"),
        ("xp", "bigint"),
        ("level", "int"),
        ("last_message_xp_at", "timestamptz"),
        ("last_voice_at", "timestamptz"),
    ),
    "ON CONFLICT (guild_id, user_id) DO UPDATE SET "
    "xp = user_xp.xp + EXCLUDED.xp, "
    "last_message_xp_at = COALESCE(EXCLUDED.last_message_xp_at, user_xp.last_message_xp_at), "
    "last_voice_at = COALESCE(EXCLUDED.last_voice_at, user_xp.last_voice_at), "
    "updated_at = EXCLUDED.updated_at "
    "RETURNING guild_id, user_id, xp, level",
)
# On SQLite the increment returns nothing: its rows are read back as one JSON array (see
# `_increment_user_xp_on_sqlite`).
USER_XP_INCREMENT = replace(
    USER_XP_UPSERT, tail=USER_XP_UPSERT.tail.removesuffix(" RETURNING guild_id, user_id, xp, level")
)
MEMBERS_UPSERT = Upsert(
    "members",
    (
        ("guild_id", "bigint"),
        ("user_id", "bigint"),
        ("xp", "bigint"),
        ("level", "int"),
        ("messages", "bigint"),
        ("voice_minutes", "bigint"),
    ),
    "ON CONFLICT (guild_id, user_id) DO UPDATE SET "
    "xp = EXCLUDED.xp, level = EXCLUDED.level, "
    "messages = members.messages + EXCLUDED.messages, "
    "voice_minutes = members.voice_minutes + EXCLUDED.voice_minutes, "
    "updated_at = EXCLUDED.updated_at",
)
SESSIONS_UPSERT = Upsert(
    "voice_sessions",
    (
        ("guild_id", "bigint"),
        ("user_id", "bigint"),
        ("channel_id", "bigint"),
        ("started_at", "timestamptz"),
        ("last_credited_at", "timestamptz"),
    ),
    "ON CONFLICT (guild_id, user_id) DO UPDATE SET "
    "channel_id = EXCLUDED.channel_id, started_at = EXCLUDED.started_at, "
    "last_credited_at = EXCLUDED.last_credited_at, updated_at = EXCLUDED.updated_at",
)


# Guild ids per statement: well under SQLite's limit of bound variables.
SESSIONS_READ_CHUNK = 900


async def _stored_sessions(guild_ids: Sequence[int]) -> dict[int, dict[int, tuple[int, float]]]:
    """Open voice sessions of these guilds: guild -> user -> (channel, started at)."""
    found: dict[int, dict[int, tuple[int, float]]] = {}
    for start in range(0, len(guild_ids), SESSIONS_READ_CHUNK):
        chunk = guild_ids[start : start + SESSIONS_READ_CHUNK]
        rows = await VoiceSession.filter(guild_id__in=chunk).values_list(
            "guild_id", "user_id", "channel_id", "started_at"
        )
        for guild_id, user_id, channel_id, started_at in rows:
            found.setdefault(guild_id, {})[user_id] = (channel_id, started_at.timestamp())
    return found


async def write_batch(
    batch: Batch,
    *,
    now: datetime,
    known_guilds: set[int] | None = None,
    known_users: set[int] | None = None,
) -> list[LevelChange]:
    """Write a batch in one transaction; returns the members whose level changed.

    Rows are written in (guild, user) order, so concurrent writers lock them in the same order.
    """
    entries = sorted(batch.entries.items())
    sessions = sorted(batch.sessions.items())
    guild_ids = {g for g, _ in batch.entries} | {g for g, _ in batch.sessions}
    user_ids = {u for _, u in batch.entries} | {u for _, u in batch.sessions}
    async with in_transaction() as conn:
        await _ensure_parents(conn, guild_ids, user_ids, batch.new_users, known_guilds, known_users)
        changes: list[LevelChange] = []
        if entries:
            await stats.record_flush(conn, _flushed(entries), now)
            stored = await _upsert_user_xp(conn, entries, now)
            changes = await _apply_levels(conn, entries, stored)
            await record_milestones(conn, _steps(changes), now)
            await _upsert_members(conn, entries, stored, now)
            await write_histogram(conn, after_increments(((k, e.xp) for k, e in entries), stored))
        if sessions:
            await _write_sessions(conn, sessions, now)
    # After the commit: leaderboards and ranks kept by the REST API are read again.
    await notify.announce_guilds(notify.Topic.XP, {guild_id for guild_id, _ in batch.entries})
    return changes


def _steps(changes: list[LevelChange]) -> list[LevelStep]:
    return [LevelStep(c.guild_id, c.user_id, c.old_level, c.new_level, c.xp) for c in changes]


def _flushed(entries: list[tuple[Key, Pending]]) -> list[stats.FlushedActivity]:
    return [
        stats.FlushedActivity(guild_id, user_id, entry.messages, entry.xp)
        for (guild_id, user_id), entry in entries
    ]


async def _ensure_parents(
    conn: BaseDBAsyncClient,
    guild_ids: set[int],
    user_ids: set[int],
    infos: dict[int, UserInfo],
    known_guilds: set[int] | None,
    known_users: set[int] | None,
) -> None:
    """Create guild and user rows not known to exist (none once warm)."""
    for guild_id in sorted(guild_ids - (known_guilds or set())):
        await directory.ensure_guild(guild_id, using_db=conn)
    missing = sorted(user_ids - (known_users or set()))
    if missing:
        rows = []
        for user_id in missing:
            info = infos.get(user_id) or UserInfo(id=user_id)
            rows.append(
                User(
                    id=user_id,
                    username=info.username[:64],
                    global_name=(info.global_name or None) and info.global_name[:64],
                    discriminator=info.discriminator[:4] or "0",
                    avatar=info.avatar,
                    is_bot=info.is_bot,
                )
            )
        await User.bulk_create(rows, ignore_conflicts=True, batch_size=500, using_db=conn)


async def _upsert_user_xp(
    conn: BaseDBAsyncClient, entries: list[tuple[Key, Pending]], now: datetime
) -> dict[Key, tuple[int, int]]:
    """Increment user_xp; returns (guild, user) → (xp after the increment, level before it)."""
    rows = [
        (guild_id, user_id, entry.xp, 0, entry.last_message_xp_at, entry.last_voice_at)
        for (guild_id, user_id), entry in entries
    ]
    dialect = conn.capabilities.dialect
    if dialect == "sqlite":
        return await _increment_user_xp_on_sqlite(conn, rows, now)
    stored: dict[Key, tuple[int, int]] = {}
    for sql, values in USER_XP_UPSERT.chunks(dialect, rows, now):
        for row in await conn.execute_query_dict(sql, values):
            stored[(row["guild_id"], row["user_id"])] = (row["xp"], row["level"])
    return stored


async def _increment_user_xp_on_sqlite(
    conn: BaseDBAsyncClient, rows: list[tuple[Any, ...]], now: datetime
) -> dict[Key, tuple[int, int]]:
    """`_upsert_user_xp` on SQLite: the increment, then its rows read back in the same
    transaction as one JSON array a chunk.

    RETURNING would hand the rows back one at a time, and aiosqlite's thread takes Python's
    lock (the GIL) back after each. While the bot's own thread lets go of the lock for every
    message (RE2 does, for automod), each row then costs both threads a switch: thousands a
    flush. One row a chunk costs one.
    """
    for sql, values in USER_XP_INCREMENT.chunks("sqlite", rows, now):
        await conn.execute_query(sql, values)
    stored: dict[Key, tuple[int, int]] = {}
    for chunk in _chunks(rows):
        sql = _read_back_sql(len(chunk))
        keys = [value for row in chunk for value in row[:2]]
        found = await conn.execute_query_dict(sql, keys)
        for guild_id, user_id, xp, level in json.loads(found[0]["found"]):
            stored[(guild_id, user_id)] = (xp, level)
    return stored


@functools.lru_cache(maxsize=64)
def _read_back_sql(rows: int) -> str:
    # A join with the keys, not `(guild_id, user_id) IN (VALUES ...)`: SQLite scans the whole
    # table for that one, and finds each key by the unique index for this.
    pairs = ", ".join(["(?, ?)"] * rows)
    return (
        f"WITH keys(guild_id, user_id) AS (VALUES {pairs}) "
        "SELECT json_group_array(json_array(x.guild_id, x.user_id, x.xp, x.level)) AS found "
        "FROM keys JOIN user_xp AS x ON x.guild_id = keys.guild_id AND x.user_id = keys.user_id"
    )


async def _apply_levels(
    conn: BaseDBAsyncClient,
    entries: list[tuple[Key, Pending]],
    stored: dict[Key, tuple[int, int]],
) -> list[LevelChange]:
    changes: list[LevelChange] = []
    for (guild_id, user_id), entry in entries:
        xp, old_level = stored[(guild_id, user_id)]
        new_level = level_for_xp(xp)
        if new_level != old_level:
            changes.append(
                LevelChange(guild_id, user_id, old_level, new_level, xp, entry.channel_id)
            )
    if changes:
        dialect = conn.capabilities.dialect
        sql = (
            f"UPDATE user_xp SET level = {_param(dialect, 1)} "
            f"WHERE guild_id = {_param(dialect, 2)} AND user_id = {_param(dialect, 3)}"
        )
        await conn.execute_many(sql, [[c.new_level, c.guild_id, c.user_id] for c in changes])
    return changes


async def _upsert_members(
    conn: BaseDBAsyncClient,
    entries: list[tuple[Key, Pending]],
    stored: dict[Key, tuple[int, int]],
    now: datetime,
) -> None:
    rows = []
    for key, entry in entries:
        xp = stored[key][0]
        rows.append((*key, xp, level_for_xp(xp), entry.messages, entry.voice_minutes))
    for sql, values in MEMBERS_UPSERT.chunks(conn.capabilities.dialect, rows, now):
        await conn.execute_query(sql, values)


async def _write_sessions(
    conn: BaseDBAsyncClient, sessions: list[tuple[Key, SessionWrite | None]], now: datetime
) -> None:
    dialect = conn.capabilities.dialect
    deleted = [[guild_id, user_id] for (guild_id, user_id), write in sessions if write is None]
    kept = [(key, write) for key, write in sessions if write is not None]
    if deleted:
        sql = (
            f"DELETE FROM voice_sessions WHERE guild_id = {_param(dialect, 1)} "
            f"AND user_id = {_param(dialect, 2)}"
        )
        await conn.execute_many(sql, deleted)
    rows = [
        (guild_id, user_id, write.channel_id, write.started_at, write.last_credited_at)
        for (guild_id, user_id), write in kept
    ]
    for sql, values in SESSIONS_UPSERT.chunks(dialect, rows, now):
        await conn.execute_query(sql, values)
