"""/rank and /leaderboard answer from what is stored plus what is still in memory, without
flushing the XP buffer or waiting for the flusher, and a slow board is deferred."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pegasus import sqlitehandoff
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import levels as service
from pegasus.services.levels import Activity

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))


def buffer(env: DiscordEnv) -> Activity:
    return env.bot.activity_buffer


async def set_xp(env: DiscordEnv, member_id: int, xp: int) -> None:
    await service.adjust_xp(
        env.guild.id, member_id, service.XpOperation.SET, xp, now=datetime.now(UTC)
    )


async def test_rank_counts_unflushed_xp_while_the_flusher_is_busy(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.owner.slash("levels set", xp_min=100, xp_max=100)
    assert "updated" in reply.text, reply.text
    await set_xp(env, env.alice.id, 500)
    await set_xp(env, env.bob.id, 520)
    await buffer(env).stop_flusher()  # nothing is written behind the test's back

    await env.alice.say("general", "a hundred XP, not stored yet")
    await env.settle()
    # A flush is under way (it holds the lock, as a long one under load would): the rank card
    # must neither wait for it nor miss what is in memory.
    async with buffer(env).lock:
        mine = await env.alice.slash("rank")
        theirs = await env.bob.slash("rank", member=env.alice)
        board = await env.carol.slash("leaderboard")
    assert "600 XP" in mine.text and "rank **#1**" in mine.text, mine.text
    assert "600 XP" in theirs.text and "rank **#1**" in theirs.text, theirs.text
    # The board shows what is stored: Bob first until the buffer is written.
    assert board.text.index(env.bob.mention) < board.text.index(env.alice.mention)

    await buffer(env).flush()
    again = await env.alice.slash("rank")  # stored now: counted once, not twice
    assert "600 XP" in again.text and "rank **#1**" in again.text, again.text
    after = await env.carol.slash("leaderboard")
    assert after.text.index(env.alice.mention) < after.text.index(env.bob.mention)


async def test_a_slow_leaderboard_is_deferred_and_still_shown(
    discord_env: DiscordEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = discord_env
    # On SQLite, statements answered through the event loop, as a slow one's is: a quick one is
    # answered before the deferral's timer can fire, however short.
    monkeypatch.setattr(sqlitehandoff, "WAIT_LIMIT", 0.0)
    people = [await env.guild.add_member(f"member{i:02d}") for i in range(12)]
    await env.settle()
    for place, person in enumerate(people):
        await set_xp(env, person.id, 2_000 - place * 100)
    env.bot.get_cog("Levels").defer_after = 0  # every board counts as slow

    board = await env.alice.slash("leaderboard")
    assert board.deferred and not board.ephemeral
    assert "Page 1 of 2" in board.text and f"<@{people[0].id}>" in board.text
    second = await env.alice.click(board, label="Next ▶")
    assert second.kind == "deferred_update"
    edited = await second.wait_edit()
    assert "Page 2 of 2" in edited.text and f"<@{people[11].id}>" in edited.text
    jumped = await env.bob.slash("leaderboard", page=2)
    assert f"<@{people[10].id}>" in jumped.text and "Page 2 of 2" in jumped.text
