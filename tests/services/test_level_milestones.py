"""Level milestones: each level change is stored with its date, by the activity flush and by XP
set by hand, and the member timeline shows them with the reward roles they reached."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from models.levels import LevelMilestone
from pegasus.services import directory, member_timeline
from pegasus.services import levels as lv
from pegasus.services.levels import Activity, ActivityContext, LevelCaches
from pegasus.services.levels.milestones import member_milestones
from pegasus.services.privacy import erase_member

GUILD = 131_313_131_313_131
ALICE = 800_000_000_000_000_131
BOB = 800_000_000_000_000_132
GENERAL = 600_000_000_000_000_131
REWARD_ROLE = 500_000_000_000_000_131
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_a_flush_and_xp_by_hand_date_each_level_change(db: str) -> None:
    await lv.update_settings(GUILD, xp_min=60, xp_max=60, xp_cooldown_seconds=0)
    await lv.add_reward(GUILD, 1, REWARD_ROLE)
    now = START.timestamp()
    activity = Activity(LevelCaches(), clock=lambda: now, rng=random.Random(3))
    for _ in range(2):  # 120 XP: level 1
        await activity.record_message(GUILD, ActivityContext(ALICE, (GENERAL,), now=now))
    await activity.flush()
    await activity.stop()
    later = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    await lv.adjust_xp(GUILD, ALICE, lv.XpOperation.SET, 0, now=later)  # staff take it back
    await lv.adjust_xp(GUILD, BOB, lv.XpOperation.ADD, 10, now=later)  # no level change

    rewards = await lv.list_rewards(GUILD)
    steps = await member_milestones(GUILD, ALICE, rewards)
    assert [(s.old_level, s.new_level, s.by_hand) for s in steps] == [(1, 0, True), (0, 1, False)]
    assert steps[0].reached_at == later
    assert steps[1].reward_role_ids == (REWARD_ROLE,)
    assert steps[0].reward_role_ids == ()  # going down reaches no reward
    assert await member_milestones(GUILD, BOB, rewards) == []

    timeline = await member_timeline.member_timeline(GUILD, ALICE, later)
    levels = [e for e in timeline.events if e.feature == "Levels"]
    assert [e.title for e in levels] == ["Went down to level 0 from 1", "Reached level 1"]
    assert levels[0].at == later
    assert levels[1].role_ids == (REWARD_ROLE,) and levels[0].role_ids == ()
    assert "earned by activity" in levels[1].detail


async def test_erasing_a_member_erases_their_milestones(db: str) -> None:
    await directory.ensure_member(GUILD, ALICE)
    await lv.adjust_xp(GUILD, ALICE, lv.XpOperation.SET, 500, now=START)
    assert await LevelMilestone.filter(guild_id=GUILD, user_id=ALICE).count() == 1
    await erase_member(GUILD, ALICE, actor_id=None, now=START)
    assert await LevelMilestone.filter(guild_id=GUILD, user_id=ALICE).count() == 0
