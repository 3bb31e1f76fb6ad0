"""The dashboard overview's daily figures: written by the activity flush and by member events."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from models.levels import UserXP
from models.stats import GuildDailyStats
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import stats

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def flush(env: DiscordEnv) -> None:
    await env.settle()
    await env.bot.activity_buffer.flush()
    await env.bot.activity_buffer.drain()
    await env.settle()


async def today_row(env: DiscordEnv) -> GuildDailyStats:
    return await GuildDailyStats.get(guild_id=env.guild.id, day=datetime.now(UTC).date())


async def test_flush_counts_messages_active_members_and_xp(discord_env: DiscordEnv) -> None:
    env = discord_env
    env.bot.activity_buffer.clock = Clock()  # no cooldown passes: one XP award each
    for text in ("hello", "anyone here?", "hm"):
        await env.alice.say("general", text)
    await env.bob.say("general", "hi alice")
    await flush(env)

    row = await today_row(env)
    assert (row.messages, row.active_members) == (4, 2)
    xp = await stats_xp(env, env.alice.id) + await stats_xp(env, env.bob.id)
    assert row.xp_given == xp and 30 <= xp <= 50

    # The same members talk again the same day: more messages, no more active members.
    await env.alice.say("general", "still here")
    await env.carol.say("general", "me too")
    await flush(env)
    row = await today_row(env)
    assert (row.messages, row.active_members) == (6, 3)


async def stats_xp(env: DiscordEnv, user_id: int) -> int:
    row = await UserXP.get_or_none(guild_id=env.guild.id, user_id=user_id)
    return row.xp if row else 0


async def test_joins_and_leaves_are_counted(discord_env: DiscordEnv) -> None:
    env = discord_env
    newcomer = await env.guild.add_member("newcomer")
    await env.guild.add_member("passerby")
    await env.guild.remove_member(newcomer)
    await env.settle()

    row = await today_row(env)
    assert (row.joins, row.leaves, row.messages) == (2, 1, 0)
    charts = await stats.guild_charts(env.guild.id, 7, datetime.now(UTC).date())
    assert len(charts.days) == 7
    assert (charts.days[-1].joins, charts.days[-1].leaves) == (2, 1)
    assert sum(day.joins for day in charts.days[:-1]) == 0
