"""`python bot.py` as an operator starts it, and the sandbox, against the local Discord."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import discord
import pytest

from pegasus.localdiscord import BotProcessFactory, LocalDiscord
from pegasus.localdiscord.env import ROOT
from tests.localdiscord_plugin import _check_clean


async def test_bot_py_connects_syncs_answers_and_stops_on_sigterm(
    bot_process: BotProcessFactory, local_discord: LocalDiscord
) -> None:
    process = await bot_process.start()
    await process.wait_ready(timeout=60)
    synced = local_discord.global_commands
    assert {"ping", "help"} <= set(synced)
    assert all(command["description"] for command in synced.values() if command["type"] == 1)
    assert local_discord.gateway.identify_count == 1

    reply = await local_discord.guild.member("alice").slash("ping", timeout=15)
    assert reply.ephemeral
    assert reply.content.startswith("Pong!")

    code = await process.terminate(timeout=30)
    assert code == 0, process.output
    assert "Pegasus stopped" in process.output
    assert not process.error_lines, process.output
    # A clean stop closes the gateway instead of leaving Discord to time the session out.
    await local_discord.gateway.wait_disconnected()


async def test_sandbox_plays_its_scene_and_exits_zero(tmp_path: os.PathLike[str]) -> None:
    database = f"{tmp_path}/sandbox.sqlite3"
    env = {
        **os.environ,
        "SANDBOX_DATABASE_URL": f"sqlite://{database}",
        # The sandbox never touches the operator's database, even an unreachable one.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/not_this_one",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DISCORD_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pegasus",
        "sandbox",
        cwd=str(ROOT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    text = output.decode()
    assert process.returncode == 0, text
    assert "Pong!" in text
    assert "Traceback" not in text and " ERROR " not in text, text
    assert f"database: sqlite://{database}" in text
    assert "Dashboard: http://127.0.0.1:" in text  # printed, and the sandbox still ended
    assert os.path.getsize(database) > 0
    # The scene ran commands that wrote to that database, and the bot answered each one.
    for command in ("/help", "/ping", "/daily", "/balance", "/warn"):
        assert f": {command}" in text, text
    assert "(no answer" not in text and "Discord would not send" not in text, text


async def test_served_in_its_own_process_with_a_control_channel() -> None:
    import json

    import aiohttp

    from pegasus.localdiscord.env import EndpointPatch

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pegasus.localdiscord",
        "serve",
        "--members",
        "5",
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        info = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        intents = discord.Intents.default()
        intents.members = intents.message_content = True
        client = discord.AutoShardedClient(intents=intents, guild_ready_timeout=0.05)
        heard: list[str] = []
        client.event(_collect(heard))
        with EndpointPatch():
            EndpointPatch.point_to(info["api_base"], info["gateway_url"])
            await client.login(info["token"])
            running = asyncio.create_task(client.connect())
            await asyncio.wait_for(client.wait_until_ready(), 10)
            async with aiohttp.ClientSession() as session:
                control = info["control_url"]
                async with session.post(f"{control}/broadcast", json={"count": 50}) as response:
                    assert (await response.json())["sent"] == 50
                async with session.post(f"{control}/barrier") as response:
                    assert response.status == 200
                async with session.get(f"{control}/stats") as response:
                    stats = await response.json()
            await client.close()
            await running
        assert len(heard) == 50
        assert heard[0] == "hello 0" and heard[-1] == "hello 49"
        assert stats["identifies"] == 1 and stats["unknown_routes"] == 0
        # The broadcast messages stay for the server's life, out of the collector's walks.
        assert stats["frozen_objects"] >= 50
    finally:
        process.terminate()
        await process.wait()


def _collect(heard: list[str]) -> Callable[[discord.Message], Awaitable[None]]:
    async def on_message(message: discord.Message) -> None:
        heard.append(message.content)

    return on_message


@pytest.mark.allow_errors
async def test_an_error_logged_by_bot_py_is_caught(
    bot_process: BotProcessFactory, local_discord: LocalDiscord
) -> None:
    process = await bot_process.start()
    await process.wait_ready(timeout=60)
    # Discord refuses every answer to the interaction as malformed: a bug the bot must log.
    local_discord.faults.fail(
        "POST", "/interactions/{interaction_id}/{token}/callback", status=400, code=50035, times=5
    )
    with pytest.raises(AssertionError):
        await local_discord.guild.member("alice").slash("ping", timeout=3)
    await process.settle()
    assert await process.terminate(timeout=30) == 0, process.output
    assert process.error_lines, process.output
    assert any("Unexpected error" in line and "/ping" in line for line in process.error_lines)
    # Without allow_errors the bot_process fixture fails the test with those lines.
    unmarked = SimpleNamespace(node=SimpleNamespace(get_closest_marker=lambda name: None))
    with pytest.raises(pytest.fail.Exception, match=r"logged \d+ error"):
        _check_clean(unmarked, local_discord, process.error_lines)  # type: ignore[arg-type]
