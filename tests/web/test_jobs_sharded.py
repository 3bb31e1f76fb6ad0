"""Jobs across processes: two `python bot.py` processes run different shards on one PostgreSQL,
beside `python -m pegasus web`; jobs queued over HTTP through the web process are each carried
out exactly once, by the process that owns the guild's shard, and their URLs say so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from models.scheduling import ScheduledAction
from pegasus.bot import shard_of
from pegasus.localdiscord import BotProcessFactory, LocalDiscord
from pegasus.localdiscord.demo import BOT_PERMISSIONS, EVERYONE_PERMISSIONS
from pegasus.localdiscord.state import FakeGuild
from pegasus.services import directory
from pegasus.services.security import create_api_key
from tests.web.test_standalone import start_web

# Several processes share one database on PostgreSQL only.
pytestmark = pytest.mark.postgres_only

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


@pytest.fixture
async def web_process(db: str, local_discord: LocalDiscord) -> AsyncIterator[str]:
    """`python -m pegasus web` on the test's database, asking the local Discord; its URL."""
    process, url = await start_web(
        db, DISCORD_API_BASE=local_discord.api_base, DISCORD_TOKEN=local_discord.token
    )
    try:
        yield url
    finally:
        process.terminate()
        await process.wait()


async def operator_key(owner_id: int) -> str:
    created = await create_api_key(
        owner_id=owner_id, name="ops", scopes=["community:read", "community:write"],
        guild_id=None, now=datetime.now(UTC), is_bot_owner=True, is_guild_admin=True,
        rate_limit=1000,
    )
    return created.secret


async def all_finished(
    session: aiohttp.ClientSession, urls: list[str], timeout: float = 30
) -> list[dict[str, Any]]:
    """Each job as its URL tells it, once none is pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        current = []
        for url in urls:
            async with session.get(url) as response:
                assert response.status == 200, await response.text()
                current.append(await response.json())
        if all(job["status"] != "pending" for job in current):
            return current
        if loop.time() > deadline:
            raise AssertionError(f"jobs still pending after {timeout}s: {current}")
        await asyncio.sleep(0.1)


async def test_each_job_runs_once_in_the_process_that_owns_its_guild(
    bot_process: BotProcessFactory, local_discord: LocalDiscord, web_process: str
) -> None:
    first = local_discord.guild
    second = guild_on_the_other_shard(local_discord, first)
    owner = first.member("owner")
    key = await operator_key(owner.id)
    session = aiohttp.ClientSession(
        base_url=web_process, headers={"Authorization": f"Bearer {key}"}
    )
    async with session:
        for guild in (first, second):
            await directory.ensure_guild(guild.id)
            async with session.put(
                f"/api/v1/guilds/{guild.id}/community/welcome",
                json={"channel_id": guild.channel("general").id, "message": "Hi {user}!"},
            ) as response:
                assert response.status == 200, await response.text()
        common = {"WEB_ENABLED": "false", "SHARD_COUNT": str(SHARDS)}
        processes = {}
        for shard in range(SHARDS):
            process = await bot_process.start(
                {**common, "SHARD_IDS": str(shard),
                 "SYNC_COMMANDS": "global" if shard == 0 else "off"}
            )
            await process.wait_ready(timeout=60)
            processes[shard] = process
        await asyncio.wait_for(local_discord.gateway.wait_identified(SHARDS), 30)
        await local_discord.gateway.heartbeat_barrier(timeout=10)

        job_urls: list[str] = []
        for guild in (first, second):
            for _ in range(JOBS_PER_GUILD):
                async with session.post(
                    f"/api/v1/guilds/{guild.id}/community/welcome/test",
                    json={"member_id": owner.id},
                ) as response:
                    assert response.status == 202, await response.text()
                    job_urls.append(response.headers["Location"])
        finished = await all_finished(session, job_urls)

    assert all(job["status"] == "done" for job in finished), finished
    for guild in (first, second):
        greetings = [m for m in guild.channel("general").bot_messages if "Hi " in m.content]
        assert len(greetings) == JOBS_PER_GUILD  # each job once, none twice
    rows = await ScheduledAction.filter(id__in=[job["id"] for job in finished]).values(
        "guild_id", "locked_by", "attempts"
    )
    assert len(rows) == len(job_urls)
    for row in rows:
        owner_process = processes[shard_of(row["guild_id"], SHARDS)]
        assert f":{owner_process.proc.pid}:" in row["locked_by"], row
        assert row["attempts"] == 1
    for process in processes.values():
        assert await process.terminate(timeout=30) == 0, process.output
