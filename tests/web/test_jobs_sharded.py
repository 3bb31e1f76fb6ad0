"""Jobs across processes: two `python bot.py` processes run different shards on one PostgreSQL;
jobs queued from a third process (as the standalone web process queues them) are each carried
out exactly once, by the process that owns the guild's shard."""

from __future__ import annotations

import asyncio
import os
import time

import discord
import pytest

from models.scheduling import ScheduledAction
from pegasus.bot import shard_of
from pegasus.localdiscord import BotProcessFactory, LocalDiscord
from pegasus.localdiscord.demo import BOT_PERMISSIONS, EVERYONE_PERMISSIONS
from pegasus.localdiscord.state import FakeGuild
from pegasus.services import community
from pegasus.web import jobs
from pegasus.web.jobs import Job, JobState

pytestmark = pytest.mark.skipif(
    os.environ.get("PEGASUS_TEST_DB") != "postgres",
    reason="several processes share one database on PostgreSQL only",
)

SHARDS = 2
JOBS_PER_GUILD = 3


def guild_on_the_other_shard(server: LocalDiscord, first: FakeGuild) -> FakeGuild:
    """A second guild, with #general, whose id puts it on the other shard than `first`."""
    while True:
        guild = server.create_guild("Second", owner="owner")
        if shard_of(guild.id, SHARDS) != shard_of(first.id, SHARDS):
            break
        del server.guilds_by_id[guild.id]
        time.sleep(0.002)  # the next snowflake has another millisecond
    guild.default_role.permissions = EVERYONE_PERMISSIONS
    guild.role(server.bot_user.name).permissions = BOT_PERMISSIONS
    guild.system_channel_id = guild.new_channel("general").id
    return guild


async def all_finished(queued: list[Job], timeout: float = 30) -> list[Job]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        current = [await jobs.get_job(job.id, guild_id=job.guild_id) for job in queued]
        if all(job.state is not JobState.PENDING for job in current):
            return current
        if loop.time() > deadline:
            raise AssertionError(f"jobs still pending after {timeout}s: {current}")
        await asyncio.sleep(0.1)


async def test_each_job_runs_once_in_the_process_that_owns_its_guild(
    bot_process: BotProcessFactory, local_discord: LocalDiscord, db: str
) -> None:
    first = local_discord.guild
    second = guild_on_the_other_shard(local_discord, first)
    owner = first.member("owner")
    for guild in (first, second):
        await community.change_settings(
            guild.id, owner.id, "welcome.set",
            {"welcome_channel_id": guild.channel("general").id, "welcome_message": "Hi {user}!"},
        )
    common = {"WEB_ENABLED": "false", "SHARD_COUNT": str(SHARDS)}
    processes = {}
    for shard in range(SHARDS):
        process = await bot_process.start(
            {**common, "SHARD_IDS": str(shard), "SYNC_COMMANDS": "global" if shard == 0 else "off"}
        )
        await process.wait_ready(timeout=60)
        processes[shard] = process
    await asyncio.wait_for(local_discord.gateway.wait_identified(SHARDS), 30)
    await local_discord.gateway.heartbeat_barrier(timeout=10)

    now = discord.utils.utcnow()
    queued = [
        await jobs.enqueue_greeting_test(guild.id, "welcome", owner.id, actor_id=owner.id, now=now)
        for guild in (first, second)
        for _ in range(JOBS_PER_GUILD)
    ]
    finished = await all_finished(queued)

    assert all(job.state is JobState.DONE for job in finished), finished
    for guild in (first, second):
        greetings = [m for m in guild.channel("general").bot_messages if "Hi " in m.content]
        assert len(greetings) == JOBS_PER_GUILD  # each job once, none twice
    rows = await ScheduledAction.filter(id__in=[job.id for job in queued]).values(
        "guild_id", "locked_by", "attempts"
    )
    for row in rows:
        owner_process = processes[shard_of(row["guild_id"], SHARDS)]
        assert f":{owner_process.proc.pid}:" in row["locked_by"], row
        assert row["attempts"] == 1
    for process in processes.values():
        assert await process.terminate(timeout=30) == 0, process.output
