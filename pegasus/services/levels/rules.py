"""The rules of XP: the level curve, XP per message and per voice minute with its multipliers,
reward roles and level-up messages; the reward and multiplier tables.

Everything but the two tables is pure: plain values in, plain values out, so the hot path (see
`activity`) computes XP in memory.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from models.guilds import DEFAULT_LEVEL_UP_MESSAGE
from models.levels import MultiplierTarget, RewardMode, XpMultiplier, XpReward
from pegasus import notify
from pegasus.errors import NotFoundError, ValidationError
from pegasus.i18n import _, format_number
from pegasus.services.audit import ensure_rows, record_change

from .config import ChannelKind, GuildLevelState, LevelConfig, Reward, ensure_level_rows

__all__ = [
    "DISCORD_MESSAGE_LIMIT",
    "DOUBLE_XP_PERCENT",
    "MAX_LEVEL",
    "MAX_MULTIPLIER_PERCENT",
    "MAX_TEMPLATE_LENGTH",
    "MAX_XP",
    "TEMPLATE_FIELDS",
    "ActivityContext",
    "LevelProgress",
    "RewardPlan",
    "add_reward",
    "announced_template",
    "apply_percents",
    "counts_message",
    "earns_xp",
    "level_for_xp",
    "level_progress",
    "list_rewards",
    "message_xp",
    "multiplier_percents",
    "remove_multiplier",
    "remove_reward",
    "render_level_up",
    "reward_message",
    "reward_plan",
    "set_multiplier",
    "total_xp_for_level",
    "validate_template",
    "voice_xp",
    "xp_to_next_level",
]

MAX_XP = 10**12  # far beyond any real server; keeps the level search and the columns bounded
MAX_LEVEL = 10_000
MAX_MULTIPLIER_PERCENT = 1000
MAX_TEMPLATE_LENGTH = 1000
TEMPLATE_FIELDS = ("user", "level", "server")
DOUBLE_XP_PERCENT = 200


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
# As long as the longest user mention an adapter fills in for {user} (Discord's: two characters,
# the largest snowflake, one character).
_LONGEST_USER = "u" * (3 + len(str(2**63 - 1)))


def validate_template(template: str) -> str:
    template = template.strip()
    if not template:
        raise ValidationError(_("The level-up message cannot be empty."))
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise ValidationError(
            _("The level-up message can be at most {limit} characters.").format(
                limit=format_number(MAX_TEMPLATE_LENGTH)
            )
        )
    unknown = sorted({f for f in _TEMPLATE_FIELD.findall(template) if f not in TEMPLATE_FIELDS})
    if unknown:
        raise ValidationError(
            # One short line: a placeholder can hold line breaks and most of the text.
            _(
                "Unknown placeholder {placeholder}: use {{user}}, {{level}} and {{server}}."
            ).format(placeholder="{" + " ".join(unknown[0].split())[:30] + "}")
        )
    longest = len(render_level_up(template, user=_LONGEST_USER, level=10**9, server="s" * 100))
    if longest > DISCORD_MESSAGE_LIMIT:
        # Checked now: Discord would refuse the filled-in message and the level-up be lost.
        raise ValidationError(
            _(
                "With long names filled in, the level-up message could reach {length} "
                "characters, over Discord's {limit}: use fewer placeholders."
            ).format(length=format_number(longest), limit=format_number(DISCORD_MESSAGE_LIMIT))
        )
    return template


def announced_template(template: str) -> str:
    """The template of a level-up post: Pegasus's own default message in the current language
    (the server's, inside `for_guild`), a message the server's staff wrote as they wrote it."""
    if template == DEFAULT_LEVEL_UP_MESSAGE:
        # Translators: the level-up post; keep {user} and {level} as they are.
        return _("{user} reached level {level}!")
    return template


def render_level_up(template: str, *, user: str, level: int, server: str) -> str:
    """Fill `{user}`, `{level}` and `{server}`; anything else is left as written."""
    values = {"user": user, "level": format_number(level), "server": server}
    filled = _TEMPLATE_FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    # Clipped rather than refused by Discord, so the announcement is still delivered.
    return filled if len(filled) <= DISCORD_MESSAGE_LIMIT else filled[:1999] + "…"


# --------------------------------------------------------------------------- the tables


async def add_reward(
    guild_id: int,
    level: int,
    role_id: int,
    *,
    message: str | None = None,
    mode: RewardMode | None = None,
    actor_id: int | None = None,
) -> Reward:
    if not 1 <= level <= MAX_LEVEL:
        raise ValidationError(
            _("The level must be between 1 and {maximum}.").format(maximum=format_number(MAX_LEVEL))
        )
    if message is not None:
        message = validate_template(message)
    await ensure_rows(None, [actor_id])
    async with in_transaction() as conn:
        await ensure_level_rows(guild_id, using_db=conn)
        if await XpReward.filter(guild_id=guild_id, level=level, role_id=role_id).using_db(
            conn
        ).exists():
            raise ValidationError(
                _("That role is already the reward for level {level}.").format(
                    level=format_number(level)
                )
            )
        await XpReward.create(
            guild_id=guild_id,
            level=level,
            role_id=role_id,
            message=message,
            mode=mode,
            using_db=conn,
        )
        reward = Reward(level, role_id, mode, message)
        await record_change(
            guild_id, actor_id, "levels.reward.add", "xp_rewards", f"{level}:{role_id}",
            None, reward, using_db=conn,
        )
    await notify.announce(notify.Topic.SETTINGS, guild_id, "levels")
    return reward


async def remove_reward(
    guild_id: int, level: int, role_id: int, *, actor_id: int | None = None
) -> None:
    await ensure_rows(None, [actor_id])
    async with in_transaction() as conn:
        rows = await XpReward.filter(guild_id=guild_id, level=level, role_id=role_id).using_db(
            conn
        )
        if not rows:
            raise NotFoundError(
                _("That role is not a reward for level {level}.").format(level=format_number(level))
            )
        await XpReward.filter(id=rows[0].id).using_db(conn).delete()
        await record_change(
            guild_id, actor_id, "levels.reward.remove", "xp_rewards", f"{level}:{role_id}",
            Reward.from_row(rows[0]), None, using_db=conn,
        )
    await notify.announce(notify.Topic.SETTINGS, guild_id, "levels")


async def list_rewards(guild_id: int) -> list[Reward]:
    rows = await XpReward.filter(guild_id=guild_id).order_by("level", "role_id")
    return [Reward.from_row(r) for r in rows]


async def set_multiplier(
    guild_id: int,
    target_type: MultiplierTarget,
    target_id: int,
    percent: int,
    *,
    actor_id: int | None = None,
) -> int:
    if not 0 <= percent <= MAX_MULTIPLIER_PERCENT:
        raise ValidationError(
            _("The multiplier must be between 0% and {maximum}% (100% = normal).").format(
                maximum=format_number(MAX_MULTIPLIER_PERCENT)
            )
        )
    await ensure_rows(None, [actor_id])
    async with in_transaction() as conn:
        await ensure_level_rows(guild_id, using_db=conn)
        before = await XpMultiplier.filter(
            guild_id=guild_id, target_type=target_type, target_id=target_id
        ).using_db(conn).values_list("multiplier", flat=True)
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
        if list(before) != [percent]:
            await record_change(
                guild_id, actor_id, "levels.multiplier.set", "xp_multipliers",
                f"{target_type.value}:{target_id}",
                {"percent": before[0]} if before else None, {"percent": percent},
                using_db=conn,
            )
    await notify.announce(notify.Topic.SETTINGS, guild_id, "levels")
    return percent


async def remove_multiplier(
    guild_id: int,
    target_type: MultiplierTarget,
    target_id: int,
    *,
    actor_id: int | None = None,
) -> None:
    await ensure_rows(None, [actor_id])
    async with in_transaction() as conn:
        query = XpMultiplier.filter(
            guild_id=guild_id, target_type=target_type, target_id=target_id
        ).using_db(conn)
        before = await query.values_list("multiplier", flat=True)
        if not before:
            raise NotFoundError(
                _("That role has no XP multiplier.")
                if target_type is MultiplierTarget.ROLE
                else _("That channel has no XP multiplier.")
            )
        await query.delete()
        await record_change(
            guild_id, actor_id, "levels.multiplier.remove", "xp_multipliers",
            f"{target_type.value}:{target_id}", {"percent": before[0]}, None, using_db=conn,
        )
    await notify.announce(notify.Topic.SETTINGS, guild_id, "levels")
