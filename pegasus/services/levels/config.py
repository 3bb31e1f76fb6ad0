"""A guild's level configuration as the hot path reads it, and the caches that keep it.

The hot path (every message) never queries: `LevelCaches` keeps each guild's configuration and its
active XP boosts in memory with a short time to live. Commands that change the settings invalidate
the guild's entry, so changes apply at once in the process that owns the guild.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from models.economy import EconomyUserItem
from models.guilds import DEFAULT_LEVEL_UP_MESSAGE, GuildSettings
from models.levels import MultiplierTarget, RewardMode, XpMultiplier, XpReward, XpSettings
from pegasus.errors import DatabaseUnavailable
from pegasus.outage import health, within
from pegasus.services import directory
from pegasus.services.cache import TtlCache

__all__ = [
    "BOOST_TTL_SECONDS",
    "CONFIG_TTL_SECONDS",
    "ChannelKind",
    "GuildLevelState",
    "LevelCaches",
    "LevelConfig",
    "Reward",
    "XpBoost",
    "ensure_level_rows",
    "load_config",
    "load_xp_boosts",
]

log = logging.getLogger(__name__)

CONFIG_TTL_SECONDS = 300.0
BOOST_TTL_SECONDS = 30.0
# A background reload of expired settings gives up after this long (a hanging database), and
# is not tried again for a guild until this long after a failure: messages meanwhile are
# counted with the settings last loaded.
RELOAD_TIMEOUT_SECONDS = 10.0
RELOAD_RETRY_SECONDS = 5.0


class ChannelKind(StrEnum):
    NORMAL = "normal"
    IGNORED = "ignored"  # no XP and no message count
    NO_XP = "no-xp"  # messages counted, no XP
    DOUBLE_XP = "double-xp"


@dataclass(frozen=True, slots=True)
class Reward:
    level: int
    role_id: int
    mode: RewardMode | None = None  # None: the guild's reward mode
    message: str | None = None

    @classmethod
    def from_row(cls, row: XpReward) -> Reward:
        return cls(
            row.level, row.role_id, RewardMode(row.mode) if row.mode else None, row.message
        )


@dataclass(frozen=True, slots=True)
class LevelConfig:
    """Everything the hot path needs to know about one guild, read once per TTL."""

    guild_id: int
    enabled: bool = True
    rate: int = 100
    xp_min: int = 15
    xp_max: int = 25
    xp_per_voice_minute: int = 5
    cooldown_seconds: int = 60
    announce: bool = True
    level_up_channel_id: int | None = None
    level_up_message: str = DEFAULT_LEVEL_UP_MESSAGE
    booster_role_id: int | None = None
    booster_multiplier: int = 100
    ignored_channels: frozenset[int] = frozenset()
    ignored_roles: frozenset[int] = frozenset()
    no_xp_channels: frozenset[int] = frozenset()
    double_xp_channels: frozenset[int] = frozenset()
    rewards_enabled: bool = True
    reward_mode: RewardMode = RewardMode.STACK
    voice_min_members: int = 2
    voice_count_muted: bool = False
    voice_count_deafened: bool = False
    channel_multipliers: Mapping[int, int] = field(default_factory=dict)
    role_multipliers: Mapping[int, int] = field(default_factory=dict)
    rewards: tuple[Reward, ...] = ()

    def channel_kind(self, channel_ids: Iterable[int]) -> ChannelKind:
        """The kind of a channel, looking at the channel, then its parent and category."""
        for channel_id in channel_ids:
            if channel_id in self.ignored_channels:
                return ChannelKind.IGNORED
            if channel_id in self.no_xp_channels:
                return ChannelKind.NO_XP
            if channel_id in self.double_xp_channels:
                return ChannelKind.DOUBLE_XP
        return ChannelKind.NORMAL



async def load_config(guild_id: int) -> LevelConfig:
    """Read a guild's XP configuration (defaults when nothing is stored yet): four queries."""
    settings = await GuildSettings.get_or_none(guild_id=guild_id)
    xp_settings = await XpSettings.get_or_none(guild_id=guild_id)
    multipliers = await XpMultiplier.filter(guild_id=guild_id).values_list(
        "target_type", "target_id", "multiplier"
    )
    rewards = await XpReward.filter(guild_id=guild_id).order_by("level", "role_id")
    config = LevelConfig(guild_id=guild_id)
    if settings is not None:
        config = replace(
            config,
            enabled=settings.xp_enabled,
            rate=settings.xp_rate,
            xp_min=settings.xp_min,
            xp_max=settings.xp_max,
            xp_per_voice_minute=settings.xp_per_voice_minute,
            cooldown_seconds=settings.xp_cooldown_seconds,
            announce=settings.xp_announce_level_up,
            level_up_channel_id=settings.xp_level_up_channel_id,
            level_up_message=settings.xp_level_up_message or DEFAULT_LEVEL_UP_MESSAGE,
            booster_role_id=settings.xp_booster_role_id,
            booster_multiplier=settings.xp_booster_multiplier,
        )
    if xp_settings is not None:
        config = replace(
            config,
            ignored_channels=frozenset(xp_settings.ignored_channels),
            ignored_roles=frozenset(xp_settings.ignored_roles),
            no_xp_channels=frozenset(xp_settings.no_xp_channels),
            double_xp_channels=frozenset(xp_settings.double_xp_channels),
            rewards_enabled=xp_settings.rewards_enabled,
            reward_mode=RewardMode(xp_settings.reward_mode),
            voice_min_members=xp_settings.voice_min_members,
            voice_count_muted=xp_settings.voice_count_muted,
            voice_count_deafened=xp_settings.voice_count_deafened,
        )
    return replace(
        config,
        channel_multipliers={
            target: percent
            for kind, target, percent in multipliers
            if kind == MultiplierTarget.CHANNEL
        },
        role_multipliers={
            target: percent
            for kind, target, percent in multipliers
            if kind == MultiplierTarget.ROLE
        },
        rewards=tuple(Reward.from_row(r) for r in rewards),
    )


@dataclass(frozen=True, slots=True)
class XpBoost:
    percent: int
    expires_at: float  # epoch seconds: a boost never outlives its expiry, whatever the cache age


def _xp_boost_percent(effect: Any) -> int | None:
    if not isinstance(effect, dict) or effect.get("kind") != "xp":
        return None
    try:
        percent = int(effect.get("multiplier") or 0)
    except (TypeError, ValueError):
        return None
    return percent if percent > 0 else None


async def load_xp_boosts(guild_id: int, now: datetime) -> dict[int, XpBoost]:
    """Active XP boosts in a guild: user id → the best one. One query.

    An active boost is an `economy_user_items` row, active and not expired, whose metadata holds
    the copy of its boost item's effect `{"kind": "xp", "multiplier": <percent>, ...}`.
    """
    rows = await EconomyUserItem.filter(
        guild_id=guild_id, active=True, expires_at__gt=now
    ).values_list("user_id", "metadata", "expires_at")
    boosts: dict[int, XpBoost] = {}
    for user_id, metadata, expires_at in rows:
        percent = _xp_boost_percent(metadata)
        if percent is None:
            continue
        best = boosts.get(user_id)
        if best is None or percent > best.percent:
            boosts[user_id] = XpBoost(percent, expires_at.timestamp())
    return boosts



@dataclass(frozen=True, slots=True)
class GuildLevelState:
    """What the hot path reads for one guild: its configuration and its active XP boosts."""

    config: LevelConfig
    boosts: Mapping[int, XpBoost]


class LevelCaches:
    """Per-guild configuration (5 min) and active XP boosts (30 s), in memory.

    Commands that change the settings call `invalidate(guild_id)`, so changes apply at once in the
    process that owns the guild; the TTLs bound how long a change made elsewhere takes. The
    blacklist has its own cache, which the moderation feature keeps.

    Expiry never makes a message wait: `current` serves the settings last loaded while one
    reload per guild runs in the background (a boost never outlives its own expiry, however old
    the copy). Only a guild never loaded, or invalidated by a change, has to be loaded first.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        config_ttl: float = CONFIG_TTL_SECONDS,
        boost_ttl: float = BOOST_TTL_SECONDS,
    ) -> None:
        self._clock = clock
        self.configs: TtlCache[int, LevelConfig] = TtlCache(load_config, config_ttl, clock)
        self.boosts: TtlCache[int, dict[int, XpBoost]] = TtlCache(
            lambda guild_id: load_xp_boosts(guild_id, wall_clock()), boost_ttl, clock
        )
        # Both parts together, valid until the first of them expires: one lookup per message.
        # An expired entry stays, to be served while its reload runs; `invalidate` removes it.
        self._states: dict[int, tuple[float, GuildLevelState]] = {}
        self._reloads: dict[int, asyncio.Task[None]] = {}
        self._retry_at: dict[int, float] = {}
        self.reload_timeout = RELOAD_TIMEOUT_SECONDS
        self.reload_retry = RELOAD_RETRY_SECONDS

    def peek(self, guild_id: int) -> GuildLevelState | None:
        entry = self._states.get(guild_id)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        config = self.configs.peek_entry(guild_id)
        boosts = self.boosts.peek_entry(guild_id)
        if config is None or boosts is None:
            return None
        state = GuildLevelState(config[1], boosts[1])
        self._states[guild_id] = (min(config[0], boosts[0]), state)
        return state

    def current(self, guild_id: int) -> GuildLevelState | None:
        """The settings to count a message with, without waiting: the fresh ones or, once they
        have expired, the last ones loaded while a reload runs in the background. None when the
        guild was never loaded or has been invalidated since."""
        state = self.peek(guild_id)
        if state is not None:
            return state
        entry = self._states.get(guild_id)
        if entry is None:
            return None
        self._reload_in_background(guild_id)
        return entry[1]

    def reloading(self, guild_id: int) -> bool:
        """Whether a background reload of the guild's settings is under way."""
        task = self._reloads.get(guild_id)
        return task is not None and not task.done()

    async def wait_reloads(self) -> None:
        """Until the background reloads under way have finished (tests, shutdown)."""
        tasks = [task for task in self._reloads.values() if not task.done()]
        if tasks:
            await asyncio.wait(tasks)

    async def stop_reloads(self) -> None:
        """Cancel the background reloads (shutdown: before the database closes)."""
        tasks, self._reloads = list(self._reloads.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task

    def _reload_in_background(self, guild_id: int) -> None:
        loop = asyncio.get_running_loop()
        task = self._reloads.get(guild_id)
        # A reload left behind by another event loop (a test that ended mid-load) is not waited on.
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        if health.down or self._clock() < self._retry_at.get(guild_id, 0.0):
            return  # the outage's probe notices when it is back; until then, the last settings
        task = loop.create_task(self._reload(guild_id), name=f"pegasus-level-settings-{guild_id}")
        self._reloads[guild_id] = task
        task.add_done_callback(lambda done: self._forget_reload(guild_id, done))

    def _forget_reload(self, guild_id: int, done: asyncio.Task[None]) -> None:
        if self._reloads.get(guild_id) is done:
            del self._reloads[guild_id]

    async def _reload(self, guild_id: int) -> None:
        try:
            await within(self.get(guild_id), self.reload_timeout)
        except DatabaseUnavailable:  # `within` reported the outage: one WARNING for all of it
            self._retry_at[guild_id] = self._clock() + self.reload_retry
        except Exception:
            self._retry_at[guild_id] = self._clock() + self.reload_retry
            log.warning(
                "Reloading the level settings of guild %s failed; the last ones stay in use",
                guild_id,
                exc_info=True,
            )
        else:
            self._retry_at.pop(guild_id, None)

    async def get(self, guild_id: int) -> GuildLevelState:
        state = self.peek(guild_id)
        if state is not None:
            return state
        config = await self.configs.get(guild_id)
        boosts = await self.boosts.get(guild_id)
        return self.peek(guild_id) or GuildLevelState(config, boosts)

    def invalidate(self, guild_id: int | None = None) -> None:
        for cache in (self.configs, self.boosts):
            cache.invalidate(guild_id)
        if guild_id is None:
            self._states.clear()
            self._retry_at.clear()
        else:
            self._states.pop(guild_id, None)
            self._retry_at.pop(guild_id, None)



async def ensure_level_rows(guild_id: int, *, using_db: Any = None) -> None:
    """The guild, its settings and its xp_settings rows exist afterwards."""
    await directory.ensure_guild(guild_id, using_db=using_db)
    await XpSettings.bulk_create(
        [XpSettings(guild_id=guild_id)], ignore_conflicts=True, using_db=using_db
    )
