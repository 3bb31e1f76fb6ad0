"""`python bot.py` as an operator starts it, and the sandbox, against the local Discord."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.discord_local import BotProcessFactory, LocalDiscord
from tests.discord_local.env import ROOT


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
    env = {
        **os.environ,
        "SANDBOX_DATABASE_URL": f"sqlite://{tmp_path}/sandbox.sqlite3",
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
