"""`python -m pegasus web`: the API without a gateway, as an operator starts it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from pegasus.db import close_db, init_db
from pegasus.services import directory
from pegasus.services.security import CreatedApiKey, create_api_key
from tests.e2e.waiting import eventually
from tests.web.conftest import GUILD, OWNER, SECRET

ROOT = Path(__file__).resolve().parents[2]
SERVING = re.compile(r"Pegasus API: (http://\S+)/api/v1")


async def make_key(db_url: str, scopes: list[str], rate_limit: int = 60) -> CreatedApiKey:
    """A key of GUILD, made through the service before the server opens the database."""
    await init_db(db_url)
    try:
        await directory.ensure_guild(GUILD)
        return await create_api_key(
            owner_id=OWNER, name="ops", scopes=scopes, guild_id=GUILD, now=datetime.now(UTC),
            is_bot_owner=False, is_guild_admin=True, rate_limit=rate_limit,
        )
    finally:
        await close_db()


async def start_web(db_url: str, **env: str) -> tuple[asyncio.subprocess.Process, str]:
    """`python -m pegasus web` on a free port; the process and its base URL."""
    environment = {
        **os.environ,
        "DISCORD_TOKEN": "unused-by-the-web-server",
        # Nothing listens there: the server's questions to Discord fail at once, offline.
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
        "DATABASE_URL": db_url,
        "WEB_PORT": "0",
        "WEB_SECRET": SECRET.decode(),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pegasus", "web", cwd=str(ROOT), env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not (match := SERVING.search("\n".join(lines))):
                line = await process.stdout.readline()
                assert line, "\n".join(lines)
                lines.append(line.decode().rstrip())
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return process, match.group(1)


async def test_the_standalone_server_answers_and_stops_cleanly(db_url: str) -> None:
    created = await make_key(db_url, ["economy:read"])
    process, url = await start_web(db_url)
    try:
        async with aiohttp.ClientSession(base_url=url) as session:
            async with session.get("/readyz") as response:
                assert response.status == 200
                assert await response.json() == {"status": "ready", "checks": {"database": "ok"}}
            async with session.get(
                f"/api/v1/guilds/{GUILD}/settings/economy",
                headers={"Authorization": f"Bearer {created.secret}"},
            ) as response:
                assert response.status == 200
                assert (await response.json())["values"]["daily_amount"] == 250
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    await init_db(db_url)
    try:
        from models.security import ApiKey

        assert (await ApiKey.get(id=created.key.id)).usage_count == 1  # written at shutdown
    finally:
        await close_db()


@pytest.mark.postgres_only  # LISTEN/NOTIFY is PostgreSQL's
async def test_the_standalone_server_listens_for_announced_changes(db_url: str) -> None:
    from tortoise import connections

    process, _url = await start_web(db_url)
    await init_db(db_url)
    try:
        database = connections.get("default")

        async def listening() -> bool:
            rows = await database.execute_query_dict(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'pegasus-listener'"
            )
            return [row["query"] for row in rows] == ['LISTEN "pegasus_changes"']

        await eventually(listening, "the web process LISTENs on the changes channel")
    finally:
        await close_db()
        process.terminate()
        await process.wait()
