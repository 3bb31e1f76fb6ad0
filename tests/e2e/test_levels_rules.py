"""Levels end to end, the rules test_levels.py leaves out: the default cooldown, the best role
multiplier, voice settings, XP switched off, rewards added later, undoing channel kinds and
ignored roles, leaderboard pages, the flusher on its own, listeners that never touch the
database, and a reconnect on a new session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from models.guilds import Member
from models.levels import UserXP, VoiceSession
from pegasus.localdiscord.env import DiscordEnv
from tests.e2e.test_levels import buffer, configure, counters, flush, use_clock, xp_of

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))

LEVEL_TABLES = ("user_xp", "members", "voice_sessions", "xp_", "users", "guild")


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """SQL statements Tortoise sends while the test runs."""
    sent: list[str] = []

    class Record(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sent.append(str(record.args[0]) if record.args else record.getMessage())

    logger = logging.getLogger("tortoise.db_client")
    handler = Record(logging.DEBUG)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield sent
    logger.removeHandler(handler)
    logger.setLevel(old_level)


# ------------------------------------------------------------------------------ message XP


async def test_the_default_cooldown_is_sixty_seconds(discord_env: DiscordEnv) -> None:
    env = discord_env
    clock = use_clock(env)
    await env.alice.say("general", "hello")
    await flush(env)
    first = await xp_of(env, env.alice)
    assert 15 <= first <= 25

    clock.advance(59)
    await env.alice.say("general", "still on cooldown")
    await flush(env)
    assert await xp_of(env, env.alice) == first

    clock.advance(2)
    await env.alice.say("general", "a minute later")
    await flush(env)
    assert 15 <= await xp_of(env, env.alice) - first <= 25
    assert (await counters(env, env.alice))[2] == 3


async def test_only_the_highest_role_multiplier_counts(discord_env: DiscordEnv) -> None:
    env = discord_env
    use_clock(env)
    await configure(env, xp_min=10, xp_max=10, cooldown="0s")
    helper, veteran = await env.guild.create_role("Helper"), await env.guild.create_role("Veteran")
    await env.owner.slash("levels multiplier", target=f"role:{helper.id}", percent=150)
    await env.owner.slash("levels multiplier", target=f"role:{veteran.id}", percent=300)
    await env.guild.add_role(env.alice, helper)
    await env.guild.add_role(env.bob, helper)
    await env.guild.add_role(env.bob, veteran)

    await env.alice.say("general", "helper")
    await env.bob.say("general", "helper and veteran")
    await flush(env)
    assert await xp_of(env, env.alice) == 15
    assert await xp_of(env, env.bob) == 30  # 300%, not 150% x 300%


async def test_xp_switched_off_still_counts_activity(discord_env: DiscordEnv) -> None:
    env = discord_env
    clock = use_clock(env)
    await configure(env, enabled=False, xp_min=200, xp_max=200)
    shown = await env.owner.slash("levels settings")
    assert "XP is **off**" in shown.text

    await env.alice.say("general", "no XP today")
    await env.alice.join_voice("Lounge")
    await env.bob.join_voice("Lounge")
    await env.settle()
    clock.advance(61)
    await flush(env)
    assert await counters(env, env.alice) == (0, 0, 1, 1)
    assert env.channel("general").bot_messages == []  # no level-up either

    await configure(env, enabled=True)
    clock.advance(61)
    await env.alice.say("general", "XP again")
    await flush(env)
    xp, level, messages, _minutes = await counters(env, env.alice)
    assert (xp, level, messages) == (205, 1, 2)  # 200 for the message, 5 for a voice minute


# ------------------------------------------------------------------------------ voice settings


async def test_voice_settings_decide_whether_muted_and_deafened_members_count(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    clock = use_clock(env)
    await env.alice.join_voice("Lounge")
    await env.bob.join_voice("Lounge", self_deaf=True)
    await env.carol.join_voice("Lounge")
    await env.settle()
    await env.carol.set_voice(mute=True)  # muted by a moderator counts as muted
    await env.settle()
    clock.advance(61)
    await flush(env)
    assert [(await counters(env, m))[3] for m in (env.alice, env.bob, env.carol)] == [1, 0, 0]

    await configure(env, voice_count_muted=True)
    clock.advance(61)
    await flush(env)
    assert [(await counters(env, m))[3] for m in (env.alice, env.bob, env.carol)] == [2, 0, 1]

    await configure(env, voice_count_deafened=True)
    clock.advance(61)
    await flush(env)
    assert [(await counters(env, m))[3] for m in (env.alice, env.bob, env.carol)] == [3, 1, 2]

    await configure(env, voice_min_members=4)  # three people are no longer enough
    clock.advance(61)
    await flush(env)
    assert [(await counters(env, m))[3] for m in (env.alice, env.bob, env.carol)] == [3, 1, 2]


# ------------------------------------------------------------------------------ rewards


async def test_a_reward_added_later_is_caught_up_at_the_next_level_up(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    clock = use_clock(env)
    await configure(env, xp_min=300, xp_max=300)
    await env.alice.say("general", "straight to level two")
    await flush(env)
    assert (await counters(env, env.alice))[1] == 2

    first = await env.guild.create_role("First steps")
    await env.owner.slash("levels reward-add", level=1, role=first)
    assert not env.alice.has_role(first)  # given at the next level-up, as the reply says

    clock.advance(61)
    await env.alice.say("general", "level three")
    await flush(env)
    assert (await counters(env, env.alice))[1] == 3
    assert env.alice.has_role(first)  # missed rewards are caught up

    gone = await env.owner.slash("levels reward-remove", level=1, role=first)
    assert gone.ephemeral and "no longer the reward for level **1**" in gone.text
    listed = await env.owner.slash("levels rewards")
    assert "No reward roles yet" in listed.text
    await env.owner.slash("xp set", member=env.bob, amount=500)
    await env.settle()
    assert not env.bob.has_role(first)
    assert env.alice.has_role(first)  # kept: removing a reward does not take it back


# ------------------------------------------------------------------------------ undoing settings


async def test_channel_kinds_and_ignored_roles_can_be_undone(discord_env: DiscordEnv) -> None:
    env = discord_env
    clock = use_clock(env)
    await configure(env, xp_min=10, xp_max=10)
    quiet = await env.guild.create_role("Quiet")
    await env.guild.add_role(env.bob, quiet)
    await env.owner.slash("levels channel", channel="general", kind="ignored")
    await env.owner.slash("levels ignore-role", role=quiet)
    await env.alice.say("general", "ignored channel")
    await env.bob.say("announcements", "ignored role")
    await flush(env)
    assert await counters(env, env.alice) == (0, 0, 0, 0)
    assert await counters(env, env.bob) == (0, 0, 1, 0)

    normal = await env.owner.slash("levels channel", channel="general", kind="normal")
    assert normal.ephemeral and "a normal channel again" in normal.text
    back = await env.owner.slash("levels ignore-role", role=quiet)
    assert back.ephemeral and "earn XP again" in back.text
    clock.advance(61)
    await env.alice.say("general", "counted again")
    await env.bob.say("announcements", "earning again")
    await flush(env)
    assert await counters(env, env.alice) == (10, 0, 1, 0)
    assert await counters(env, env.bob) == (10, 0, 2, 0)


# ------------------------------------------------------------------------------ leaderboard


async def test_the_leaderboard_opens_the_page_asked_for(discord_env: DiscordEnv) -> None:
    env = discord_env
    people = [await env.guild.add_member(f"climber{i:02d}") for i in range(11)]
    await env.settle()
    for rank, person in enumerate(people):
        await env.owner.slash("xp set", member=person, amount=1_100 - rank * 100)
    second = await env.alice.slash("leaderboard", page=2)
    assert "Page 2 of 2" in second.text and f"<@{people[10].id}>" in second.text
    assert "**11.**" in second.text and f"<@{people[0].id}>" not in second.text
    beyond = await env.alice.slash("leaderboard", page=99)  # past the end: the last page
    assert "Page 2 of 2" in beyond.text
    first = await env.alice.slash("leaderboard")
    assert first.text.count("<@") == 10 and "🥇" in first.text and "1,100 XP" in first.text
    previous, following = first.buttons
    assert previous["disabled"] and not following.get("disabled", False)


# ------------------------------------------------------------------------------ write-behind


async def test_the_flusher_writes_on_its_own(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.alice.say("general", "nobody flushes by hand")
    await env.settle()
    # The flusher runs every second; a generous deadline, not a measurement.
    for _ in range(200):
        if await UserXP.get_or_none(guild_id=env.guild.id, user_id=env.alice.id):
            break
        await asyncio.sleep(0.05)
    row = await Member.get(guild_id=env.guild.id, user_id=env.alice.id)
    assert row.messages == 1 and 15 <= row.xp <= 25


async def test_listeners_touch_memory_only(
    discord_env: DiscordEnv, statements: list[str]
) -> None:
    env = discord_env
    clock = use_clock(env)
    await env.alice.say("general", "warming up")  # the first message loads the guild's state
    await env.bob.join_voice("Lounge")
    await flush(env)
    await buffer(env).stop_flusher()

    statements.clear()
    for i in range(20):
        clock.advance(61)
        await env.alice.say("general", f"message {i}")
        await env.bob.say("general", f"reply {i}")
    await env.carol.join_voice("Lounge")
    await env.carol.set_voice(self_mute=True)
    await env.carol.leave_voice()
    await env.settle()
    touched = [s for s in statements if any(t in s for t in LEVEL_TABLES)]
    assert touched == []

    await flush(env)  # one flush writes it all
    assert (await counters(env, env.alice))[2] == 21
    assert (await counters(env, env.bob))[2] == 20


# ------------------------------------------------------------------------------ reconnects


async def test_a_new_session_after_a_reconnect_does_not_credit_the_gap(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    clock = use_clock(env)
    for member in (env.alice, env.bob, env.carol):
        await member.join_voice("Lounge")
    await env.settle()
    clock.advance(30)

    async def outage(shard_id: int) -> None:
        clock.advance(3600)  # an hour passes before the bot is back

    env.bot.add_listener(outage, "on_shard_disconnect")
    # discord.py reports the guild available (and the cog takes stock of voice) once the new
    # session's guilds have all arrived, just before shard_ready.
    ready = asyncio.ensure_future(env.bot.wait_for("shard_ready", timeout=20))
    await env.server.gateway.invalidate_session(resumable=False)
    await env.bob.leave_voice()  # lost with the old session: only the new READY tells
    await ready
    await env.settle()
    env.bot.remove_listener(outage, "on_shard_disconnect")
    await flush(env)
    assert [(await counters(env, m))[3] for m in (env.alice, env.bob, env.carol)] == [0, 0, 0]
    sessions = await VoiceSession.filter(guild_id=env.guild.id).values_list("user_id", flat=True)
    assert sorted(sessions) == sorted([env.alice.id, env.carol.id])

    clock.advance(60)
    await flush(env)  # 30 s before the outage + 60 s after it
    assert [(await counters(env, m))[3] for m in (env.alice, env.bob, env.carol)] == [1, 0, 1]
