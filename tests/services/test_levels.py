"""Levels: the curve, XP per message and voice minute, rewards, settings, XP by hand, boards."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.economy import EconomyShopItem, EconomyUserItem, ShopItemType
from models.guilds import GuildSettings, Member, User
from models.levels import MultiplierTarget, RewardMode, UserXP, XpMultiplier, XpSettings
from models.security import AuditLog
from pegasus.errors import NotFoundError, ValidationError
from pegasus.services import directory
from pegasus.services import levels as lv
from pegasus.services.cache import TtlCache
from pegasus.services.levels import (
    ActivityContext,
    ChannelKind,
    GuildLevelState,
    LeaderboardCategory,
    LevelConfig,
    Reward,
    XpBoost,
    XpOperation,
)

GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
ALICE = 800_000_000_000_000_001
BOB = 800_000_000_000_000_002
CAROL = 800_000_000_000_000_003
GENERAL = 600_000_000_000_000_001
PARENT = 600_000_000_000_000_002
CATEGORY = 600_000_000_000_000_003
ROLE_A = 500_000_000_000_000_001
ROLE_B = 500_000_000_000_000_002
ROLE_C = 500_000_000_000_000_003
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = NOW.timestamp()


def state(config: LevelConfig | None = None, boosts: dict[int, XpBoost] | None = None):
    return GuildLevelState(config or LevelConfig(guild_id=GUILD), boosts or {})


def ctx(user_id: int = ALICE, channels: tuple[int, ...] = (GENERAL,), **kwargs) -> ActivityContext:
    kwargs.setdefault("now", T)
    return ActivityContext(user_id, channels, **kwargs)


# --------------------------------------------------------------------------- the curve


def brute_force_level(xp: int) -> int:
    level, needed = 0, 0
    while True:
        needed += 5 * level * level + 50 * level + 100
        if needed > xp:
            return level
        level += 1


def test_mee6_curve_known_values() -> None:
    assert [lv.xp_to_next_level(level) for level in range(4)] == [100, 155, 220, 295]
    assert [lv.total_xp_for_level(level) for level in range(5)] == [0, 100, 255, 475, 770]
    assert lv.level_for_xp(0) == 0
    assert lv.level_for_xp(99) == 0
    assert lv.level_for_xp(100) == 1
    assert lv.level_for_xp(254) == 1
    assert lv.level_for_xp(255) == 2
    # Σ (5·l² + 50·l + 100) for l < 10 = 5·285 + 50·45 + 100·10
    assert lv.total_xp_for_level(10) == 4_675
    assert lv.total_xp_for_level(50) == 268_375


@given(st.integers(min_value=0, max_value=3_000_000))
def test_level_for_xp_matches_the_sum_of_steps(xp: int) -> None:
    assert lv.level_for_xp(xp) == brute_force_level(xp)


@given(st.integers(min_value=0, max_value=5_000))
def test_levels_start_exactly_at_their_total(level: int) -> None:
    total = lv.total_xp_for_level(level)
    assert lv.level_for_xp(total) == level
    if level:
        assert lv.level_for_xp(total - 1) == level - 1


def test_progress_within_a_level() -> None:
    progress = lv.level_progress(300)
    assert (progress.level, progress.into_level, progress.needed) == (2, 45, 220)
    assert progress.fraction == pytest.approx(45 / 220)


# --------------------------------------------------------------------------- XP computation


def test_message_xp_is_a_draw_between_min_and_max() -> None:
    rng = random.Random(7)
    draws = {lv.message_xp(state(), ctx(), rng) for _ in range(500)}
    assert draws == set(range(15, 26))


def test_every_multiplier_applies_once() -> None:
    config = LevelConfig(
        guild_id=GUILD,
        xp_min=100,
        xp_max=100,
        rate=150,
        channel_multipliers={PARENT: 200, CATEGORY: 300},
        role_multipliers={ROLE_A: 120, ROLE_B: 180},
        booster_role_id=ROLE_C,
        booster_multiplier=110,
        double_xp_channels=frozenset({GENERAL}),
    )
    boosts = {ALICE: XpBoost(125, T + 60)}
    member = ctx(channels=(GENERAL, PARENT, CATEGORY), role_ids=frozenset({ROLE_A, ROLE_B, ROLE_C}))
    percents = lv.multiplier_percents(state(config, boosts), member)
    # rate, the nearest channel multiplier (the parent's), the best role, booster, double, boost
    assert percents == [150, 200, 180, 110, 200, 125]
    xp = lv.message_xp(state(config, boosts), member, random.Random(1))
    assert xp == round(100 * 1.5 * 2 * 1.8 * 1.1 * 2 * 1.25)


def test_an_expired_boost_no_longer_counts() -> None:
    boosts = {ALICE: XpBoost(200, T - 1)}
    assert lv.multiplier_percents(state(boosts=boosts), ctx()) == [100]


def test_rounding_is_half_up_and_exact() -> None:
    assert lv.apply_percents(15, [150]) == 23  # 22.5
    assert lv.apply_percents(15, [110]) == 17  # 16.5
    assert lv.apply_percents(1, [149]) == 1
    assert lv.apply_percents(7, [0]) == 0


def test_who_earns_xp_and_where_messages_count() -> None:
    config = LevelConfig(
        guild_id=GUILD,
        ignored_channels=frozenset({1}),
        no_xp_channels=frozenset({2}),
        ignored_roles=frozenset({ROLE_A}),
    )
    s = state(config)
    assert lv.earns_xp(s, ctx(channels=(GENERAL,)))
    assert not lv.earns_xp(s, ctx(channels=(1,)))
    assert not lv.earns_xp(s, ctx(channels=(2,)))
    assert not lv.earns_xp(s, ctx(channels=(9, 2)))  # a thread of a no-XP channel
    assert not lv.earns_xp(s, ctx(role_ids=frozenset({ROLE_A})))
    assert not lv.earns_xp(s, ctx(blacklisted=True))
    assert not lv.earns_xp(state(LevelConfig(guild_id=GUILD, enabled=False)), ctx())
    assert lv.counts_message(config, (2,))
    assert lv.counts_message(config, (GENERAL,))
    assert not lv.counts_message(config, (1,))
    assert not lv.counts_message(config, (9, 1))


def test_voice_xp_uses_the_per_minute_rate_and_multipliers() -> None:
    config = LevelConfig(guild_id=GUILD, xp_per_voice_minute=5, rate=200)
    assert lv.voice_xp(state(config), ctx(), 3) == 30
    assert lv.voice_xp(state(config), ctx(blacklisted=True), 3) == 0
    no_xp = LevelConfig(guild_id=GUILD, no_xp_channels=frozenset({GENERAL}))
    assert lv.voice_xp(state(no_xp), ctx(), 3) == 0


# --------------------------------------------------------------------------- rewards


REWARDS = (
    Reward(5, ROLE_A),
    Reward(10, ROLE_B, message="{user} is a regular now"),
    Reward(20, ROLE_C),
)


def test_stacking_rewards_accumulate_and_catch_up() -> None:
    config = LevelConfig(guild_id=GUILD, rewards=REWARDS)
    assert lv.reward_plan(config, 4).keep == frozenset()
    plan = lv.reward_plan(config, 12)  # jumped over 5 and 10 at once: both are granted
    assert plan.keep == {ROLE_A, ROLE_B}
    assert plan.remove == {ROLE_C}


def test_replacing_rewards_keep_only_the_highest_reached() -> None:
    config = LevelConfig(guild_id=GUILD, rewards=REWARDS, reward_mode=RewardMode.REPLACE)
    assert lv.reward_plan(config, 25) == lv.RewardPlan(
        frozenset({ROLE_C}), frozenset({ROLE_A, ROLE_B})
    )
    # XP taken away: back to the level 5 reward
    assert lv.reward_plan(config, 7).keep == {ROLE_A}


def test_per_reward_mode_overrides_the_guild_mode() -> None:
    rewards = (Reward(5, ROLE_A, RewardMode.STACK), Reward(10, ROLE_B), Reward(20, ROLE_C))
    config = LevelConfig(guild_id=GUILD, rewards=rewards, reward_mode=RewardMode.REPLACE)
    assert lv.reward_plan(config, 20).keep == {ROLE_A, ROLE_C}


def test_rewards_can_be_switched_off() -> None:
    config = LevelConfig(guild_id=GUILD, rewards=REWARDS, rewards_enabled=False)
    assert lv.reward_plan(config, 50) == lv.RewardPlan(frozenset(), frozenset())


def test_reward_message_is_that_of_the_highest_reward_crossed() -> None:
    config = LevelConfig(guild_id=GUILD, rewards=REWARDS)
    assert lv.reward_message(config, 9, 10) == "{user} is a regular now"
    assert lv.reward_message(config, 3, 25) == "{user} is a regular now"
    assert lv.reward_message(config, 10, 11) is None


def test_level_up_template() -> None:
    text = lv.render_level_up(
        "GG {user}, level {level} in {server}! {other}", user="<@1>", level=1200, server="Test"
    )
    assert text == "GG <@1>, level 1,200 in Test! {other}"
    with pytest.raises(ValidationError, match=r"\{nick\}"):
        lv.validate_template("Hi {nick}")
    with pytest.raises(ValidationError, match="empty"):
        lv.validate_template("  ")


# --------------------------------------------------------------------------- settings


async def test_defaults_when_nothing_is_stored(db: str) -> None:
    config = await lv.load_config(GUILD)
    assert (config.enabled, config.xp_min, config.xp_max, config.cooldown_seconds) == (
        True,
        15,
        25,
        60,
    )
    assert config.level_up_message == "{user} reached level {level}!"
    assert config.reward_mode is RewardMode.STACK and config.voice_min_members == 2


async def test_update_settings_validates_and_stores(db: str) -> None:
    config = await lv.update_settings(
        GUILD,
        xp_min=5,
        xp_max=10,
        xp_cooldown_seconds=30,
        xp_rate=200,
        xp_level_up_channel_id=GENERAL,
        xp_level_up_message="{user} → {level}",
        voice_min_members=1,
        voice_count_muted=True,
    )
    assert (config.xp_min, config.xp_max, config.cooldown_seconds, config.rate) == (5, 10, 30, 200)
    assert config.level_up_channel_id == GENERAL and config.voice_count_muted
    stored = await GuildSettings.get(guild_id=GUILD)
    assert stored.xp_level_up_message == "{user} → {level}"
    assert (await XpSettings.get(guild_id=GUILD)).voice_min_members == 1

    with pytest.raises(ValidationError, match="above the maximum"):
        await lv.update_settings(GUILD, xp_min=11)
    with pytest.raises(ValidationError, match="The rate must be between 0% and 1,000%"):
        await lv.update_settings(GUILD, xp_rate=5000)
    with pytest.raises(ValidationError, match="Nothing to change"):
        await lv.update_settings(GUILD)
    cleared = await lv.update_settings(GUILD, xp_level_up_channel_id=None)
    assert cleared.level_up_channel_id is None and cleared.xp_min == 5


async def test_every_settings_change_is_audited_with_before_and_after(db: str) -> None:
    await directory.ensure_user(ALICE)
    await lv.update_settings(GUILD, actor_id=ALICE, xp_min=5, xp_rate=150, voice_count_muted=True)
    entries = await AuditLog.filter(guild_id=GUILD).order_by("created_at")
    assert [(e.target_type, e.before, e.after) for e in entries] == [
        ("guild_settings", {"xp_min": 15, "xp_rate": 100}, {"xp_min": 5, "xp_rate": 150}),
        ("xp_settings", {"voice_count_muted": False}, {"voice_count_muted": True}),
    ]
    assert all(e.actor_id == ALICE and e.action == "levels.settings" for e in entries)

    await lv.set_channel_kind(GUILD, GENERAL, ChannelKind.DOUBLE_XP, actor_id=ALICE)
    await lv.toggle_ignored_role(GUILD, ROLE_A, actor_id=ALICE)
    await lv.set_reward_mode(GUILD, RewardMode.REPLACE, actor_id=ALICE)
    await lv.set_rewards_enabled(GUILD, False, actor_id=ALICE)
    later = await AuditLog.filter(guild_id=GUILD).order_by("created_at").offset(2)
    assert [(e.action, e.before, e.after) for e in later] == [
        ("levels.channel", {"double_xp_channels": []}, {"double_xp_channels": [GENERAL]}),
        ("levels.ignore_role", {"ignored_roles": []}, {"ignored_roles": [ROLE_A]}),
        ("levels.settings", {"reward_mode": "stack"}, {"reward_mode": "replace"}),
        ("levels.settings", {"rewards_enabled": True}, {"rewards_enabled": False}),
    ]


async def test_a_refused_settings_change_stores_nothing_in_either_table(db: str) -> None:
    with pytest.raises(ValidationError, match="minimum members in voice must be between 1 and 99"):
        await lv.update_settings(GUILD, xp_min=1, voice_min_members=0)
    with pytest.raises(ValidationError, match="above the maximum"):
        await lv.update_settings(GUILD, xp_min=30, voice_min_members=3)
    config = await lv.load_config(GUILD)
    assert (config.xp_min, config.voice_min_members) == (15, 2)
    assert not await AuditLog.exists()


async def test_channel_kinds_are_exclusive(db: str) -> None:
    await lv.set_channel_kind(GUILD, GENERAL, ChannelKind.IGNORED)
    await lv.set_channel_kind(GUILD, PARENT, ChannelKind.DOUBLE_XP)
    await lv.set_channel_kind(GUILD, GENERAL, ChannelKind.NO_XP)
    config = await lv.load_config(GUILD)
    assert config.no_xp_channels == {GENERAL} and config.ignored_channels == frozenset()
    assert config.double_xp_channels == {PARENT}
    await lv.set_channel_kind(GUILD, GENERAL, ChannelKind.NORMAL)
    assert (await lv.load_config(GUILD)).channel_kind((GENERAL,)) is ChannelKind.NORMAL


async def test_ignored_roles_toggle(db: str) -> None:
    assert await lv.toggle_ignored_role(GUILD, ROLE_A) is True
    assert (await lv.load_config(GUILD)).ignored_roles == {ROLE_A}
    assert await lv.toggle_ignored_role(GUILD, ROLE_A) is False
    assert (await lv.load_config(GUILD)).ignored_roles == frozenset()


async def test_concurrent_list_changes_lose_nothing(db: str) -> None:
    channels = list(range(1, 21))
    await asyncio.gather(
        *(lv.set_channel_kind(GUILD, c, ChannelKind.DOUBLE_XP) for c in channels)
    )
    assert (await lv.load_config(GUILD)).double_xp_channels == set(channels)


async def test_multipliers_upsert_and_remove(db: str) -> None:
    await lv.set_multiplier(GUILD, MultiplierTarget.ROLE, ROLE_A, 150)
    await lv.set_multiplier(GUILD, MultiplierTarget.ROLE, ROLE_A, 175)
    await lv.set_multiplier(GUILD, MultiplierTarget.CHANNEL, GENERAL, 50)
    config = await lv.load_config(GUILD)
    assert config.role_multipliers == {ROLE_A: 175}
    assert config.channel_multipliers == {GENERAL: 50}
    assert await XpMultiplier.filter(guild_id=GUILD).count() == 2
    await lv.remove_multiplier(GUILD, MultiplierTarget.ROLE, ROLE_A)
    with pytest.raises(NotFoundError):
        await lv.remove_multiplier(GUILD, MultiplierTarget.ROLE, ROLE_A)
    with pytest.raises(ValidationError):
        await lv.set_multiplier(GUILD, MultiplierTarget.ROLE, ROLE_A, 1001)


async def test_rewards_add_list_remove(db: str) -> None:
    await lv.add_reward(GUILD, 10, ROLE_B, message="{user} made it to {level}")
    await lv.add_reward(GUILD, 5, ROLE_A, mode=RewardMode.REPLACE)
    with pytest.raises(ValidationError, match="already"):
        await lv.add_reward(GUILD, 5, ROLE_A)
    with pytest.raises(ValidationError, match="between 1"):
        await lv.add_reward(GUILD, 0, ROLE_A)
    rewards = await lv.list_rewards(GUILD)
    assert rewards == [
        Reward(5, ROLE_A, RewardMode.REPLACE, None),
        Reward(10, ROLE_B, None, "{user} made it to {level}"),
    ]
    assert (await lv.load_config(GUILD)).rewards == tuple(rewards)
    await lv.remove_reward(GUILD, 5, ROLE_A)
    with pytest.raises(NotFoundError):
        await lv.remove_reward(GUILD, 5, ROLE_A)
    await lv.set_reward_mode(GUILD, RewardMode.REPLACE)
    assert (await lv.load_config(GUILD)).reward_mode is RewardMode.REPLACE


# --------------------------------------------------------------------------- XP by hand


async def test_adjust_xp_keeps_members_in_step(db: str) -> None:
    change = await lv.adjust_xp(GUILD, ALICE, XpOperation.ADD, 300, now=NOW)
    assert (change.old_xp, change.new_xp, change.old_level, change.new_level) == (0, 300, 0, 2)
    member = await Member.get(guild_id=GUILD, user_id=ALICE)
    row = await UserXP.get(guild_id=GUILD, user_id=ALICE)
    assert (member.xp, member.level) == (row.xp, row.level) == (300, 2)

    change = await lv.adjust_xp(GUILD, ALICE, XpOperation.REMOVE, 1000, now=NOW)
    assert (change.new_xp, change.new_level) == (0, 0)  # never below zero
    change = await lv.adjust_xp(GUILD, ALICE, XpOperation.SET, 4_675, now=NOW)
    assert change.new_level == 10
    change = await lv.adjust_xp(GUILD, ALICE, XpOperation.RESET, now=NOW)
    assert (change.old_xp, change.new_xp) == (4_675, 0)
    assert (await Member.get(guild_id=GUILD, user_id=ALICE)).level == 0
    with pytest.raises(ValidationError):
        await lv.adjust_xp(GUILD, ALICE, XpOperation.ADD, 0, now=NOW)
    with pytest.raises(ValidationError):
        await lv.adjust_xp(GUILD, ALICE, XpOperation.ADD, 10**9, now=NOW)


async def test_concurrent_adjustments_are_exact(db: str) -> None:
    await lv.adjust_xp(GUILD, ALICE, XpOperation.SET, 10_000, now=NOW)
    adds = [lv.adjust_xp(GUILD, ALICE, XpOperation.ADD, 7, now=NOW) for _ in range(40)]
    removes = [lv.adjust_xp(GUILD, ALICE, XpOperation.REMOVE, 3, now=NOW) for _ in range(40)]
    await asyncio.gather(*adds, *removes)
    row = await UserXP.get(guild_id=GUILD, user_id=ALICE)
    member = await Member.get(guild_id=GUILD, user_id=ALICE)
    assert row.xp == member.xp == 10_000 + 40 * 4
    assert row.level == member.level == lv.level_for_xp(row.xp)


# --------------------------------------------------------------------------- boards and ranks


async def seed_xp(guild_id: int, xp_by_user: dict[int, int]) -> None:
    for user_id, xp in xp_by_user.items():
        await lv.adjust_xp(guild_id, user_id, XpOperation.SET, xp, now=NOW)


async def test_leaderboard_pages_and_ties(db: str) -> None:
    users = {900 + i: (i % 7) * 100 for i in range(1, 26)}  # 25 users, 3 with 0 XP
    await seed_xp(GUILD, users)
    await seed_xp(OTHER_GUILD, {ALICE: 99_999})
    await User.filter(id=906).update(username="sixth", global_name="Sixth Person")

    first = await lv.leaderboard_page(GUILD, LeaderboardCategory.XP, 1)
    assert (first.total, first.pages, first.page) == (22, 3, 1)
    ranked = sorted(
        ((xp, uid) for uid, xp in users.items() if xp), key=lambda p: (-p[0], p[1])
    )
    assert [e.user_id for e in first.entries] == [uid for _, uid in ranked[:10]]
    assert await lv.top_xp(GUILD, 3) == [(e.user_id, e.value, e.level) for e in first.entries[:3]]
    assert first.entries[0].position == 1 and first.entries[0].level == lv.level_for_xp(600)
    assert any(e.name == "Sixth Person" for e in first.entries)
    last = await lv.leaderboard_page(GUILD, LeaderboardCategory.XP, 99)  # clamped
    assert last.page == 3 and [e.position for e in last.entries] == [21, 22]
    assert [e.user_id for e in last.entries] == [uid for _, uid in ranked[20:]]

    # /rank and the board agree, ties included
    for position, (_xp, uid) in enumerate(ranked, start=1):
        assert (await lv.member_rank(GUILD, uid)).rank == position
    nobody = await lv.member_rank(GUILD, CAROL)
    assert nobody.rank is None and nobody.progress.xp == 0


async def test_messages_voice_and_money_boards(db: str) -> None:
    from models.economy import EconomyBalance

    for user_id, messages, minutes in ((ALICE, 10, 0), (BOB, 30, 5), (CAROL, 20, 50)):
        await directory.ensure_member(GUILD, user_id)
        await Member.filter(guild_id=GUILD, user_id=user_id).update(
            messages=messages, voice_minutes=minutes
        )
    await EconomyBalance.create(guild_id=GUILD, user_id=ALICE, wallet=5, bank=10, net_worth=15)
    await EconomyBalance.create(guild_id=GUILD, user_id=BOB, wallet=1, bank=0, net_worth=1)

    messages = await lv.leaderboard_page(GUILD, LeaderboardCategory.MESSAGES)
    assert [(e.user_id, e.value) for e in messages.entries] == [(BOB, 30), (CAROL, 20), (ALICE, 10)]
    voice = await lv.leaderboard_page(GUILD, LeaderboardCategory.VOICE)
    assert [(e.user_id, e.value) for e in voice.entries] == [(CAROL, 50), (BOB, 5)]
    money = await lv.leaderboard_page(GUILD, LeaderboardCategory.MONEY)
    assert [(e.user_id, e.value) for e in money.entries] == [(ALICE, 15), (BOB, 1)]
    empty = await lv.leaderboard_page(OTHER_GUILD, LeaderboardCategory.MONEY)
    assert (empty.total, empty.pages, empty.entries) == (0, 1, ())


async def test_member_rank_reads_counters_and_style(db: str) -> None:
    await seed_xp(GUILD, {ALICE: 300, BOB: 500})
    await Member.filter(guild_id=GUILD, user_id=ALICE).update(messages=42, voice_minutes=7)
    await lv.set_rank_card(ALICE, background="#112233", accent="blue")
    info = await lv.member_rank(GUILD, ALICE)
    assert (info.rank, info.messages, info.voice_minutes) == (2, 42, 7)
    assert (info.progress.level, info.progress.into_level) == (2, 45)
    assert (info.background, info.accent) == ("#112233", 0x3498DB)


# --------------------------------------------------------------------------- boosts


async def test_active_xp_boosts_are_read_with_their_expiry(db: str) -> None:
    for user_id in (ALICE, BOB, CAROL):
        await directory.ensure_member(GUILD, user_id)
    boost = await EconomyShopItem.create(
        guild_id=GUILD,
        name="Double XP",
        price=100,
        type=ShopItemType.BOOST,
        effect={"kind": "xp", "multiplier": 200, "duration_seconds": 3600},
    )
    shield = await EconomyShopItem.create(
        guild_id=GUILD,
        name="Shield",
        price=100,
        type=ShopItemType.BOOST,
        effect={"kind": "rob_protection", "duration_seconds": 3600},
    )
    later = NOW + timedelta(hours=1)
    effect = {"kind": "xp", "multiplier": 200, "duration_seconds": 3600, "item": "Double XP"}
    await EconomyUserItem.create(
        guild_id=GUILD, user_id=ALICE, item=boost, slot="use:1", quantity=1,
        metadata=effect, active=True, expires_at=later,
    )
    await EconomyUserItem.create(  # expired
        guild_id=GUILD, user_id=BOB, item=boost, slot="use:2", quantity=1,
        metadata=effect, active=True, expires_at=NOW - timedelta(seconds=1),
    )
    await EconomyUserItem.create(  # not an XP boost
        guild_id=GUILD, user_id=CAROL, item=shield, slot="use:3", quantity=1,
        metadata={"kind": "rob_protection"}, active=True, expires_at=later,
    )
    boosts = await lv.load_xp_boosts(GUILD, NOW)
    assert boosts == {ALICE: XpBoost(200, later.timestamp())}


# --------------------------------------------------------------------------- rank card style


def test_colours_and_backgrounds() -> None:
    assert lv.parse_colour("#5865F2") == 0x5865F2
    assert lv.parse_colour("fff") == 0xFFFFFF
    assert lv.parse_colour(" Blue ") == 0x3498DB
    with pytest.raises(ValidationError, match="not a colour"):
        lv.parse_colour("#12345")
    assert lv.parse_background("https://example.com/bg.png") == "https://example.com/bg.png"
    assert lv.parse_background("abc") == "#AABBCC"
    assert lv.background_colour("#AABBCC") == 0xAABBCC
    assert lv.background_colour("https://example.com/bg.png") is None
    with pytest.raises(ValidationError, match="neither a colour nor an image"):
        lv.parse_background("ftp://example.com/x")
    with pytest.raises(ValidationError, match="https://"):
        lv.parse_background("http://example.com/bg.png")


async def test_rank_card_set_and_reset(db: str) -> None:
    assert await lv.set_rank_card(ALICE, accent="#00ff00") == (None, 0x00FF00)
    assert await lv.set_rank_card(ALICE, background="https://example.com/a.png") == (
        "https://example.com/a.png",
        0x00FF00,
    )
    await lv.reset_rank_card(ALICE)
    user = await User.get(id=ALICE)
    assert (user.rank_card_background, user.rank_card_accent) == (None, None)
    with pytest.raises(ValidationError):
        await lv.set_rank_card(ALICE)


async def test_ttl_cache_loads_once_and_expires() -> None:
    now = [0.0]
    loads: list[int] = []

    async def loader(key: int) -> int:
        loads.append(key)
        await asyncio.sleep(0)
        return key * 10

    cache: TtlCache[int, int] = TtlCache(loader, 5.0, clock=lambda: now[0])
    assert cache.peek(1) is None
    results = await asyncio.gather(*(cache.get(1) for _ in range(10)))
    assert results == [10] * 10 and loads == [1]
    now[0] = 4.9
    assert cache.peek(1) == 10
    now[0] = 5.1
    assert cache.peek(1) is None
    assert await cache.get(1) == 10 and loads == [1, 1]
    cache.invalidate(1)
    assert cache.peek(1) is None


async def test_level_caches_expire_with_their_shortest_part(db: str) -> None:
    now = [0.0]
    caches = lv.LevelCaches(clock=lambda: now[0], config_ttl=300, boost_ttl=30)
    assert caches.peek(GUILD) is None
    loaded = await caches.get(GUILD)
    assert caches.peek(GUILD) == loaded
    now[0] = 29.0
    assert caches.peek(GUILD) is loaded  # the same object: one lookup per message
    now[0] = 31.0
    assert caches.peek(GUILD) is None  # the boosts are stale: reload them
    await caches.get(GUILD)
    await lv.update_settings(GUILD, xp_min=1, xp_max=2)
    assert caches.peek(GUILD).config.xp_min == 15  # type: ignore[union-attr]
    caches.invalidate(GUILD)
    assert (await caches.get(GUILD)).config.xp_min == 1
