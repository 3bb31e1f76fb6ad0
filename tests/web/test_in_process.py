"""The API beside the real bot: served by `python bot.py`, ready once the gateway is, and
refusing a setting with the same sentence as the slash command."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from models.economy import EconomySettings
from pegasus.localdiscord.env import BotProcessFactory, DiscordEnv
from pegasus.services.security import create_api_key
from pegasus.web import WebConfig, WebServer, create_app
from tests.e2e.waiting import eventually
from tests.web.conftest import SECRET

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.economy", "cogs.levels"))

LISTENING = re.compile(r"Web server listening on (http://\S+)")


async def test_the_bot_process_serves_the_api(bot_process: BotProcessFactory) -> None:
    process = await bot_process.start(
        env={"WEB_ENABLED": "true", "WEB_PORT": "0", "WEB_SECRET": SECRET.decode()}
    )
    await process.wait_ready()
    match = LISTENING.search(process.output)
    assert match, process.output
    async with aiohttp.ClientSession(base_url=match.group(1)) as session:

        async def ready() -> bool:
            async with session.get("/readyz") as response:
                return response.status == 200 and await response.json() == {
                    "status": "ready",
                    "checks": {"database": "ok", "gateway": "ok"},
                }

        await eventually(ready, "/readyz reports the database and the gateway ready")
        async with session.get("/api/v1/me") as response:
            assert response.status == 401
        async with session.get("/metrics") as response:
            assert "pegasus_api_requests_total" in await response.text()
    assert await process.terminate() == 0


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession(base_url=url) as session, session.get("/metrics") as answer:
        return samples(await answer.text())


async def test_metrics_count_messages_flushes_and_commands(discord_env: DiscordEnv) -> None:
    env = discord_env
    server = WebServer(create_app(WebConfig(secret=SECRET), bot=env.bot), "127.0.0.1", 0)
    await server.start()
    try:
        before = await scrape(server.url)
        await env.alice.say("general", "hello there")
        await env.alice.say("general", "and again")
        await env.settle()
        said = await scrape(server.url)
        await env.alice.slash("balance")
        await env.settle()
        assert env.bot.activity_buffer is not None
        await env.bot.activity_buffer.flush()
        after = await scrape(server.url)
    finally:
        await server.stop()

    def grew(name: str, labels: tuple[tuple[str, str], ...] = ()) -> float:
        return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)

    messages = ("pegasus_messages_processed_total", ())
    assert said.get(messages, 0.0) - before.get(messages, 0.0) == 2
    assert grew("pegasus_activity_flush_seconds_count") >= 1
    assert grew("pegasus_commands_total", (("command", "balance"), ("outcome", "ok"))) == 1
    assert grew("pegasus_interaction_seconds_count") >= 1


async def test_a_setting_is_refused_with_the_slash_commands_sentence(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    reply = await env.owner.slash("economy set", work_min=500, work_max=100)
    assert reply.ephemeral
    created = await create_api_key(
        owner_id=env.owner.id, name="dashboard", scopes=["economy:write"],
        guild_id=env.guild.id, now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True,
    )
    server = WebServer(
        create_app(WebConfig(secret=SECRET), bot=env.bot), "127.0.0.1", 0
    )
    await server.start()
    try:
        async with aiohttp.ClientSession(base_url=server.url) as session:
            async with session.patch(
                f"/api/v1/guilds/{env.guild.id}/settings/economy",
                json={"work_min": 500, "work_max": 100},
                headers={"Authorization": f"Bearer {created.secret}"},
            ) as response:
                assert response.status == 422
                problem = await response.json(content_type=None)
            async with session.get("/readyz") as response:
                assert (await response.json())["checks"]["gateway"] == "ok"
            async with session.get("/metrics") as response:
                metrics = await response.text()
    finally:
        await server.stop()
    assert problem["detail"] == reply.text
    assert not await EconomySettings.filter(guild_id=env.guild.id, work_min=500).exists()
    assert re.search(
        r'pegasus_commands_total\{command="economy set",outcome="refused"\} [1-9]', metrics
    ), metrics
