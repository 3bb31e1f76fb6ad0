"""XP and levels: the curve, XP per message and per voice minute, reward roles, settings,
leaderboards and ranks, on plain ids.

The hot path (every message) never queries: `LevelCaches` keeps each guild's configuration, its
active XP boosts and its blacklist in memory with a short time to live, and the pure functions
here turn a message or a voice minute into XP. `pegasus.activity` buffers the result and writes it
in batches.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlparse

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models.economy import EconomyBalance, EconomyUserItem
from models.guilds import DEFAULT_LEVEL_UP_MESSAGE, GuildSettings, Member, User
from models.levels import (
    MultiplierTarget,
    RewardMode,
    UserXP,
    XpMultiplier,
    XpReward,
    XpSettings,
)
from pegasus.errors import NotFoundError, ValidationError, shown_input
from pegasus.services import directory
from pegasus.services.cache import TtlCache

log = logging.getLogger(__name__)


PAGE_SIZE = 10
MAX_XP = 10**12  # far beyond any real server; keeps the level search and the columns bounded
MAX_LEVEL = 10_000
MAX_ADJUST = 100_000_000
MAX_MULTIPLIER_PERCENT = 1000
MAX_TEMPLATE_LENGTH = 1000
TEMPLATE_FIELDS = ("user", "level", "server")
DOUBLE_XP_PERCENT = 200

CONFIG_TTL_SECONDS = 300.0
BOOST_TTL_SECONDS = 30.0


# --------------------------------------------------------------------------- the curve


def xp_to_next_level(level: int) -> int:
    """XP needed to go from `level` to `level + 1` (MEE6's curve: 5·l² + 50·l + 100)."""
    return 5 * level * level + 50 * level + 100


def total_xp_for_level(level: int) -> int:
    """Total XP at which `level` is reached (the sum of the steps below it), in closed form."""
    n = level
    return (5 * (n - 1) * n * (2 * n - 1)) // 6 + 25 * n * (n - 1) + 100 * n


def level_for_xp(xp: int) -> int:
    """The level a member with `xp` total XP has (the largest l with total_xp_for_level(l) ≤ xp)."""
    if xp < 100:
        return 0
    # total_xp_for_level grows like 5/3·l³, so the cube root lands next to the answer.
    guess = min(int((3 * xp / 5) ** (1 / 3)), MAX_LEVEL)
    while guess > 0 and total_xp_for_level(guess) > xp:
        guess -= 1
    while guess < MAX_LEVEL and total_xp_for_level(guess + 1) <= xp:
        guess += 1
    return guess


@dataclass(frozen=True, slots=True)
class LevelProgress:
    level: int
    xp: int  # total
    into_level: int  # XP earned since the level was reached
    needed: int  # XP between this level and the next

    @property
    def fraction(self) -> float:
        return 0.0 if self.needed <= 0 else min(self.into_level / self.needed, 1.0)


def level_progress(xp: int) -> LevelProgress:
    level = level_for_xp(xp)
    return LevelProgress(
        level=level,
        xp=xp,
        into_level=xp - total_xp_for_level(level),
        needed=xp_to_next_level(level),
    )


# --------------------------------------------------------------------------- configuration


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


def _reward(row: XpReward) -> Reward:
    return Reward(row.level, row.role_id, RewardMode(row.mode) if row.mode else None, row.message)


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
        rewards=tuple(_reward(r) for r in rewards),
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


# --------------------------------------------------------------------------- caches


@dataclass(frozen=True, slots=True)
class GuildLevelState:
    """What the hot path reads for one guild: its configuration and its active XP boosts."""

    config: LevelConfig
    boosts: Mapping[int, XpBoost]


class LevelCaches:
    """Per-guild configuration (5 min) and active XP boosts (30 s), in memory.

    Commands that change the settings call `invalidate(guild_id)`, so changes apply at once in the
    process that owns the guild; the TTLs bound how long a change made elsewhere takes. The
    blacklist has its own cache (`pegasus.services.blacklist`).
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
        self._states: dict[int, tuple[float, GuildLevelState]] = {}

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
        else:
            self._states.pop(guild_id, None)


# --------------------------------------------------------------------------- XP computation


@dataclass(frozen=True, slots=True)
class ActivityContext:
    """Where, who and when: the channel (then its parent and category), the member's roles,
    whether they boost the server or are blacklisted, and the time (epoch seconds)."""

    user_id: int
    channel_ids: tuple[int, ...]
    role_ids: frozenset[int] = frozenset()
    is_booster: bool = False
    blacklisted: bool = False
    now: float = 0.0


def multiplier_percents(state: GuildLevelState, ctx: ActivityContext) -> list[int]:
    """Every multiplier that applies, as percentages (100 = 1x)."""
    config = state.config
    percents = [config.rate]
    for channel_id in ctx.channel_ids:
        if channel_id in config.channel_multipliers:
            percents.append(config.channel_multipliers[channel_id])
            break
    roles = config.role_multipliers
    role_percents = [roles[r] for r in ctx.role_ids if r in roles]
    if role_percents:
        percents.append(max(role_percents))
    booster = ctx.is_booster or (
        config.booster_role_id is not None and config.booster_role_id in ctx.role_ids
    )
    if booster:
        percents.append(config.booster_multiplier)
    if config.channel_kind(ctx.channel_ids) is ChannelKind.DOUBLE_XP:
        percents.append(DOUBLE_XP_PERCENT)
    boost = state.boosts.get(ctx.user_id)
    if boost is not None and boost.expires_at > ctx.now:
        percents.append(boost.percent)
    return percents


def apply_percents(base: int, percents: Iterable[int]) -> int:
    """`base` times every percentage, rounded half up, in exact integer arithmetic."""
    numerator, denominator = base, 1
    for percent in percents:
        numerator *= percent
        denominator *= 100
    return (2 * numerator + denominator) // (2 * denominator)


def earns_xp(state: GuildLevelState, ctx: ActivityContext) -> bool:
    """XP is off, the channel gives none, the member has an ignored role or is blacklisted."""
    config = state.config
    if not config.enabled:
        return False
    if config.channel_kind(ctx.channel_ids) in (ChannelKind.IGNORED, ChannelKind.NO_XP):
        return False
    return not ctx.blacklisted and config.ignored_roles.isdisjoint(ctx.role_ids)


def counts_message(config: LevelConfig, channel_ids: tuple[int, ...]) -> bool:
    """Messages are counted everywhere but in ignored channels."""
    return config.channel_kind(channel_ids) is not ChannelKind.IGNORED


def message_xp(state: GuildLevelState, ctx: ActivityContext, rng: random.Random) -> int:
    """XP for one message that is off cooldown and earns XP: a draw in [xp_min, xp_max], scaled."""
    config = state.config
    base = rng.randint(config.xp_min, max(config.xp_min, config.xp_max))
    return apply_percents(base, multiplier_percents(state, ctx))


def voice_xp(state: GuildLevelState, ctx: ActivityContext, minutes: int) -> int:
    if minutes <= 0 or not earns_xp(state, ctx):
        return 0
    return apply_percents(
        state.config.xp_per_voice_minute * minutes, multiplier_percents(state, ctx)
    )


# --------------------------------------------------------------------------- rewards


@dataclass(frozen=True, slots=True)
class RewardPlan:
    """Reward roles a member should and should not have at a level."""

    keep: frozenset[int]
    remove: frozenset[int]


def reward_plan(config: LevelConfig, level: int) -> RewardPlan:
    """The reward roles for `level`, from the whole reward table (so missed rewards catch up).

    A stacking reward is kept once reached; a replacing one only while no higher reward level has
    been reached. Rewards above the level are removed (XP taken away takes them back).
    """
    if not config.rewards_enabled or not config.rewards:
        return RewardPlan(frozenset(), frozenset())
    reached = [r for r in config.rewards if r.level <= level]
    top_level = max((r.level for r in reached), default=None)
    keep = {
        r.role_id
        for r in reached
        if r.level == top_level or (r.mode or config.reward_mode) is RewardMode.STACK
    }
    every_role = {r.role_id for r in config.rewards}
    return RewardPlan(frozenset(keep), frozenset(every_role - keep))


def reward_message(config: LevelConfig, old_level: int, new_level: int) -> str | None:
    """The custom text of the highest reward crossed between the two levels, if any."""
    crossed = [
        r for r in config.rewards if old_level < r.level <= new_level and r.message
    ]
    return max(crossed, key=lambda r: r.level).message if crossed else None


_TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")
DISCORD_MESSAGE_LIMIT = 2000
_LONGEST_MENTION = f"<@{2**63 - 1}>"


def validate_template(template: str) -> str:
    template = template.strip()
    if not template:
        raise ValidationError("The level-up message cannot be empty.")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise ValidationError(
            f"The level-up message can be at most {MAX_TEMPLATE_LENGTH:,} characters."
        )
    unknown = sorted({f for f in _TEMPLATE_FIELD.findall(template) if f not in TEMPLATE_FIELDS})
    if unknown:
        raise ValidationError(
            # One short line: a placeholder can hold line breaks and most of the text.
            f"Unknown placeholder {{{' '.join(unknown[0].split())[:30]}}}: use {{user}}, "
            "{level} and {server}."
        )
    longest = len(render_level_up(template, user=_LONGEST_MENTION, level=10**9, server="s" * 100))
    if longest > DISCORD_MESSAGE_LIMIT:
        # Checked now: Discord would refuse the filled-in message and the level-up be lost.
        raise ValidationError(
            f"With long names filled in, the level-up message could reach {longest:,} "
            f"characters, over Discord's {DISCORD_MESSAGE_LIMIT:,}: use fewer placeholders."
        )
    return template


def render_level_up(template: str, *, user: str, level: int, server: str) -> str:
    """Fill `{user}`, `{level}` and `{server}`; anything else is left as written."""
    values = {"user": user, "level": f"{level:,}", "server": server}
    filled = _TEMPLATE_FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    # Clipped rather than refused by Discord, so the announcement is still delivered.
    return filled if len(filled) <= DISCORD_MESSAGE_LIMIT else filled[:1999] + "…"


# --------------------------------------------------------------------------- settings


SETTING_LIMITS: dict[str, tuple[int, int]] = {
    "xp_min": (0, 10_000),
    "xp_max": (0, 10_000),
    "xp_cooldown_seconds": (0, 86_400),
    "xp_per_voice_minute": (0, 10_000),
    "xp_rate": (0, MAX_MULTIPLIER_PERCENT),
    "xp_booster_multiplier": (0, MAX_MULTIPLIER_PERCENT),
    "voice_min_members": (1, 99),
}
GUILD_SETTING_FIELDS = (
    "xp_enabled",
    "xp_rate",
    "xp_min",
    "xp_max",
    "xp_per_voice_minute",
    "xp_cooldown_seconds",
    "xp_announce_level_up",
    "xp_level_up_channel_id",
    "xp_level_up_message",
    "xp_booster_role_id",
    "xp_booster_multiplier",
)
XP_SETTING_FIELDS = ("voice_min_members", "voice_count_muted", "voice_count_deafened")
SETTING_LABELS = {
    "xp_min": "Minimum XP per message",
    "xp_max": "Maximum XP per message",
    "xp_cooldown_seconds": "Cooldown",
    "xp_per_voice_minute": "XP per voice minute",
    "xp_rate": "Rate",
    "xp_booster_multiplier": "Booster multiplier",
    "voice_min_members": "Minimum members in voice",
}


async def ensure_level_rows(guild_id: int, *, using_db: Any = None) -> None:
    """The guild, its settings and its xp_settings rows exist afterwards."""
    await directory.ensure_guild(guild_id, using_db=using_db)
    await XpSettings.bulk_create(
        [XpSettings(guild_id=guild_id)], ignore_conflicts=True, using_db=using_db
    )


def _check_limits(changes: Mapping[str, Any]) -> None:
    for name, value in changes.items():
        if name in SETTING_LIMITS and value is not None:
            low, high = SETTING_LIMITS[name]
            if not low <= value <= high:
                raise ValidationError(
                    f"{SETTING_LABELS[name]} must be between {low:,} and {high:,}; got {value:,}."
                )


async def update_settings(guild_id: int, **changes: Any) -> LevelConfig:
    """Change XP settings (guild_settings `xp_*` fields and xp_settings voice fields).

    Pass `xp_level_up_channel_id=None` or `xp_booster_role_id=None` to clear them. Returns the
    configuration as stored afterwards.
    """
    unknown = set(changes) - set(GUILD_SETTING_FIELDS) - set(XP_SETTING_FIELDS)
    if unknown:
        raise ValueError(f"not XP settings: {sorted(unknown)}")
    if not changes:
        raise ValidationError("Nothing to change: give at least one setting.")
    _check_limits(changes)
    if "xp_level_up_message" in changes:
        changes["xp_level_up_message"] = validate_template(changes["xp_level_up_message"])
    async with in_transaction() as conn:
        await ensure_level_rows(guild_id, using_db=conn)
        current = (
            await GuildSettings.filter(guild_id=guild_id)
            .using_db(conn)
            .select_for_update()
            .get()
        )
        xp_min = changes.get("xp_min", current.xp_min)
        xp_max = changes.get("xp_max", current.xp_max)
        if xp_min > xp_max:
            raise ValidationError(
                f"The minimum XP per message ({xp_min:,}) is above the maximum ({xp_max:,})."
            )
        guild_changes = {k: v for k, v in changes.items() if k in GUILD_SETTING_FIELDS}
        xp_changes = {k: v for k, v in changes.items() if k in XP_SETTING_FIELDS}
        if guild_changes:
            await GuildSettings.filter(guild_id=guild_id).using_db(conn).update(**guild_changes)
        if xp_changes:
            await XpSettings.filter(guild_id=guild_id).using_db(conn).update(**xp_changes)
    return await load_config(guild_id)


async def _locked_xp_settings(guild_id: int, conn: Any) -> XpSettings:
    await ensure_level_rows(guild_id, using_db=conn)
    return await XpSettings.filter(guild_id=guild_id).using_db(conn).select_for_update().get()


CHANNEL_LISTS = {
    ChannelKind.IGNORED: "ignored_channels",
    ChannelKind.NO_XP: "no_xp_channels",
    ChannelKind.DOUBLE_XP: "double_xp_channels",
}


async def set_channel_kind(guild_id: int, channel_id: int, kind: ChannelKind) -> ChannelKind:
    """Make a channel normal, ignored, no-XP or double-XP (it is in at most one list)."""
    async with in_transaction() as conn:
        row = await _locked_xp_settings(guild_id, conn)
        updates: dict[str, list[int]] = {}
        for list_kind, column in CHANNEL_LISTS.items():
            values = [c for c in getattr(row, column) if c != channel_id]
            if list_kind is kind:
                values.append(channel_id)
            updates[column] = values
        await XpSettings.filter(id=row.id).using_db(conn).update(**updates)
    return kind


async def toggle_ignored_role(guild_id: int, role_id: int) -> bool:
    """Ignore a role for XP, or stop ignoring it; returns whether it is ignored now."""
    async with in_transaction() as conn:
        row = await _locked_xp_settings(guild_id, conn)
        roles = list(row.ignored_roles)
        ignored = role_id not in roles
        roles = [*roles, role_id] if ignored else [r for r in roles if r != role_id]
        await XpSettings.filter(id=row.id).using_db(conn).update(ignored_roles=roles)
    return ignored


async def set_reward_mode(guild_id: int, mode: RewardMode) -> None:
    async with in_transaction() as conn:
        row = await _locked_xp_settings(guild_id, conn)
        await XpSettings.filter(id=row.id).using_db(conn).update(reward_mode=mode)


async def set_rewards_enabled(guild_id: int, enabled: bool) -> None:
    async with in_transaction() as conn:
        row = await _locked_xp_settings(guild_id, conn)
        await XpSettings.filter(id=row.id).using_db(conn).update(rewards_enabled=enabled)


async def add_reward(
    guild_id: int,
    level: int,
    role_id: int,
    *,
    message: str | None = None,
    mode: RewardMode | None = None,
) -> Reward:
    if not 1 <= level <= MAX_LEVEL:
        raise ValidationError(f"The level must be between 1 and {MAX_LEVEL:,}.")
    if message is not None:
        message = validate_template(message)
    async with in_transaction() as conn:
        await ensure_level_rows(guild_id, using_db=conn)
        if await XpReward.filter(guild_id=guild_id, level=level, role_id=role_id).using_db(
            conn
        ).exists():
            raise ValidationError(f"That role is already the reward for level {level:,}.")
        await XpReward.create(
            guild_id=guild_id,
            level=level,
            role_id=role_id,
            message=message,
            mode=mode,
            using_db=conn,
        )
    return Reward(level, role_id, mode, message)


async def remove_reward(guild_id: int, level: int, role_id: int) -> None:
    deleted = await XpReward.filter(guild_id=guild_id, level=level, role_id=role_id).delete()
    if not deleted:
        raise NotFoundError(f"That role is not a reward for level {level:,}.")


async def list_rewards(guild_id: int) -> list[Reward]:
    rows = await XpReward.filter(guild_id=guild_id).order_by("level", "role_id")
    return [_reward(r) for r in rows]


async def set_multiplier(
    guild_id: int, target_type: MultiplierTarget, target_id: int, percent: int
) -> int:
    if not 0 <= percent <= MAX_MULTIPLIER_PERCENT:
        raise ValidationError(
            f"The multiplier must be between 0% and {MAX_MULTIPLIER_PERCENT:,}% (100% = normal)."
        )
    async with in_transaction() as conn:
        await ensure_level_rows(guild_id, using_db=conn)
        await XpMultiplier.bulk_create(
            [
                XpMultiplier(
                    guild_id=guild_id,
                    target_type=target_type,
                    target_id=target_id,
                    multiplier=percent,
                )
            ],
            on_conflict=["guild_id", "target_type", "target_id"],
            update_fields=["multiplier"],
            using_db=conn,
        )
    return percent


async def remove_multiplier(
    guild_id: int, target_type: MultiplierTarget, target_id: int
) -> None:
    deleted = await XpMultiplier.filter(
        guild_id=guild_id, target_type=target_type, target_id=target_id
    ).delete()
    if not deleted:
        raise NotFoundError(f"That {target_type.value} has no XP multiplier.")


# --------------------------------------------------------------------------- XP by hand


class XpOperation(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    SET = "set"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class XpChange:
    guild_id: int
    user_id: int
    old_xp: int
    new_xp: int
    old_level: int
    new_level: int


async def adjust_xp(
    guild_id: int, user_id: int, operation: XpOperation, amount: int = 0, *, now: datetime
) -> XpChange:
    """Add, remove, set or reset a member's XP; user_xp and members change together.

    The user_xp row is locked first (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite transactions
    are serialised), so a concurrent flush or command never loses an update; like the flush, it
    touches user_xp before members, so the two never wait on each other in a circle.
    """
    if operation is XpOperation.RESET:
        amount = 0
    elif not 0 <= amount <= MAX_ADJUST or (operation is not XpOperation.SET and amount == 0):
        raise ValidationError(f"The amount must be between 1 and {MAX_ADJUST:,}.")
    async with in_transaction() as conn:
        await directory.ensure_guild(guild_id, using_db=conn)
        await directory.ensure_user(user_id, using_db=conn)
        await UserXP.bulk_create(
            [UserXP(guild_id=guild_id, user_id=user_id)], ignore_conflicts=True, using_db=conn
        )
        row = (
            await UserXP.filter(guild_id=guild_id, user_id=user_id)
            .using_db(conn)
            .select_for_update()
            .get()
        )
        if operation is XpOperation.ADD:
            new_xp = min(row.xp + amount, MAX_XP)
        elif operation is XpOperation.REMOVE:
            new_xp = max(row.xp - amount, 0)
        else:
            new_xp = amount
        new_level = level_for_xp(new_xp)
        await UserXP.filter(id=row.id).using_db(conn).update(
            xp=new_xp, level=new_level, updated_at=now
        )
        await Member.bulk_create(
            [Member(guild_id=guild_id, user_id=user_id)], ignore_conflicts=True, using_db=conn
        )
        await Member.filter(guild_id=guild_id, user_id=user_id).using_db(conn).update(
            xp=new_xp, level=new_level, updated_at=now
        )
    return XpChange(guild_id, user_id, row.xp, new_xp, row.level, new_level)


async def stored_level(guild_id: int, user_id: int) -> int | None:
    """The member's stored level, or None when they never earned XP here."""
    row = await UserXP.filter(guild_id=guild_id, user_id=user_id).values_list("level", flat=True)
    return row[0] if row else None


# --------------------------------------------------------------------------- leaderboards


class LeaderboardCategory(StrEnum):
    XP = "xp"
    MESSAGES = "messages"
    VOICE = "voice"
    MONEY = "money"


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    position: int
    user_id: int
    value: int
    level: int | None  # for the XP board
    name: str  # as last stored; the adapter prefers the live display name


@dataclass(frozen=True, slots=True)
class LeaderboardPage:
    category: LeaderboardCategory
    page: int  # 1-based, clamped to the pages that exist
    pages: int
    total: int
    entries: tuple[LeaderboardEntry, ...]


_BOARDS: dict[LeaderboardCategory, tuple[Any, str]] = {
    LeaderboardCategory.XP: (UserXP, "xp"),
    LeaderboardCategory.MESSAGES: (Member, "messages"),
    LeaderboardCategory.VOICE: (Member, "voice_minutes"),
    LeaderboardCategory.MONEY: (EconomyBalance, "net_worth"),
}


def _display_name(username: str | None, global_name: str | None, user_id: int) -> str:
    return global_name or username or f"User {user_id}"


async def leaderboard_page(
    guild_id: int, category: LeaderboardCategory, page: int = 1
) -> LeaderboardPage:
    """Ten members per page, best first (ties broken by user id); zeros are left out."""
    model, column = _BOARDS[category]
    query = model.filter(guild_id=guild_id, **{f"{column}__gt": 0})
    total = await query.count()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    fields = ["user_id", column, "user__username", "user__global_name"]
    if category is LeaderboardCategory.XP:
        fields.append("level")
    rows = (
        await query.order_by(f"-{column}", "user_id")
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .values(*fields)
    )
    entries = tuple(
        LeaderboardEntry(
            position=(page - 1) * PAGE_SIZE + index + 1,
            user_id=row["user_id"],
            value=row[column],
            level=row.get("level"),
            name=_display_name(row["user__username"], row["user__global_name"], row["user_id"]),
        )
        for index, row in enumerate(rows)
    )
    return LeaderboardPage(category, page, pages, total, entries)


async def top_xp(guild_id: int, limit: int = PAGE_SIZE) -> list[tuple[int, int, int]]:
    """(user id, xp, level) of the best `limit` members: one index scan."""
    return await (
        UserXP.filter(guild_id=guild_id, xp__gt=0)
        .order_by("-xp", "user_id")
        .limit(limit)
        .values_list("user_id", "xp", "level")
    )


async def xp_position(guild_id: int, user_id: int, xp: int) -> int:
    """1-based position on the XP leaderboard of a member with `xp` (same order as the board)."""
    ahead = await UserXP.filter(
        Q(xp__gt=xp) | Q(xp=xp, user_id__lt=user_id), guild_id=guild_id
    ).count()
    return ahead + 1


@dataclass(frozen=True, slots=True)
class RankInfo:
    guild_id: int
    user_id: int
    progress: LevelProgress
    rank: int | None  # None while the member has no XP
    messages: int
    voice_minutes: int
    background: str | None
    accent: int | None


async def member_rank(guild_id: int, user_id: int) -> RankInfo:
    """Level, progress, rank and activity of a member, and their rank card style."""
    xp_rows = await UserXP.filter(guild_id=guild_id, user_id=user_id).values_list("xp", flat=True)
    xp = xp_rows[0] if xp_rows else 0
    rank = await xp_position(guild_id, user_id, xp) if xp > 0 else None
    counters = await Member.filter(guild_id=guild_id, user_id=user_id).values_list(
        "messages", "voice_minutes"
    )
    messages, voice_minutes = counters[0] if counters else (0, 0)
    style = await User.filter(id=user_id).values_list("rank_card_background", "rank_card_accent")
    background, accent = style[0] if style else (None, None)
    return RankInfo(
        guild_id=guild_id,
        user_id=user_id,
        progress=level_progress(xp),
        rank=rank,
        messages=messages,
        voice_minutes=voice_minutes,
        background=background,
        accent=accent,
    )


# --------------------------------------------------------------------------- rank card style


_HEX_COLOUR = re.compile(r"^#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
NAMED_COLOURS = {
    "black": 0x000000,
    "white": 0xFFFFFF,
    "red": 0xED4245,
    "green": 0x57F287,
    "blue": 0x3498DB,
    "blurple": 0x5865F2,
    "yellow": 0xFEE75C,
    "orange": 0xE67E22,
    "purple": 0x9B59B6,
    "pink": 0xEB459E,
    "grey": 0x95A5A6,
    "gray": 0x95A5A6,
    "teal": 0x1ABC9C,
    "navy": 0x1F2A44,
}
COLOUR_FORMS = "a colour like #5865F2, 5865F2, #fff or a name such as blue, green or purple"


def parse_colour(text: str) -> int:
    """`#5865F2`, `5865f2`, `#fff` or a colour name → 0xRRGGBB; ValidationError otherwise."""
    cleaned = text.strip().lower()
    if cleaned in NAMED_COLOURS:
        return NAMED_COLOURS[cleaned]
    if not _HEX_COLOUR.match(cleaned):
        raise ValidationError(f"{shown_input(text)} is not a colour: use {COLOUR_FORMS}.")
    digits = cleaned.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits, 16)


def format_colour(value: int) -> str:
    return f"#{value:06X}"


def parse_background(text: str) -> str:
    """A background is a colour (stored as #RRGGBB) or an https:// image URL."""
    cleaned = text.strip()
    if cleaned.lower().startswith("http://"):
        raise ValidationError("Image links must be secure: use an https:// link.")
    if cleaned.lower().startswith("https://"):
        try:
            hostname = urlparse(cleaned).hostname
        except ValueError:  # such as an unclosed IPv6 bracket: `https://[`
            hostname = None
        if not hostname or len(cleaned) > 1024 or any(ch.isspace() for ch in cleaned):
            raise ValidationError("That image URL is not valid: use a full https:// link.")
        return cleaned
    try:
        return format_colour(parse_colour(cleaned))
    except ValidationError:
        raise ValidationError(
            f"{shown_input(text)} is neither a colour nor an image URL: use {COLOUR_FORMS}, "
            "or an https:// link to an image."
        ) from None


def background_colour(background: str | None) -> int | None:
    """The colour of a stored background, or None when it is an image URL or unset."""
    if background and background.startswith("#"):
        return parse_colour(background)
    return None


async def set_rank_card(
    user_id: int, *, background: str | None = None, accent: str | None = None
) -> tuple[str | None, int | None]:
    """Store the member's rank card colours (only the given ones); returns the stored pair."""
    if background is None and accent is None:
        raise ValidationError("Give a background, an accent colour or both.")
    changes: dict[str, Any] = {}
    if background is not None:
        changes["rank_card_background"] = parse_background(background)
    if accent is not None:
        changes["rank_card_accent"] = parse_colour(accent)
    await directory.ensure_user(user_id)
    await User.filter(id=user_id).update(**changes)
    stored = await User.filter(id=user_id).values_list(
        "rank_card_background", "rank_card_accent"
    )
    return stored[0]


async def reset_rank_card(user_id: int) -> None:
    await User.filter(id=user_id).update(rank_card_background=None, rank_card_accent=None)
