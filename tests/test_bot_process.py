"""`python bot.py` refusing to start, one clear line at a time, and stopping on SIGINT."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

from pegasus.localdiscord import BotProcessFactory, LocalDiscord
from pegasus.localdiscord.env import ROOT, BotProcess

UNREACHABLE_POSTGRES = "postgres://postgres@127.0.0.1:1/pegasus"


async def exit_code(process: BotProcess, timeout: float = 60) -> int:
    code = await asyncio.wait_for(process.proc.wait(), timeout)
    await process.terminate()  # already exited: only collects the rest of the output
    return code


def start_up_failure(process: BotProcess) -> str:
    """The one line an operator reads; nothing else may look like an error."""
    assert not any(line.startswith("Traceback") for line in process.lines), process.output
    failures = [line for line in process.lines if line.startswith("Start-up failed: ")]
    assert len(failures) == 1, process.output
    return failures[0]


async def test_a_database_without_migrations_is_refused_naming_the_fix(
    bot_process: BotProcessFactory, local_discord: LocalDiscord, empty_db_url: str
) -> None:
    process = await bot_process.start({"DATABASE_URL": empty_db_url})
    assert await exit_code(process) == 2
    line = start_up_failure(process)
    assert line.startswith("Start-up failed: DATABASE_URL: the database lacks")
    assert "python -m pegasus db upgrade" in line
    assert local_discord.global_commands == {}  # nothing was synced from a half-started bot


async def test_an_unreachable_database_is_one_line_naming_database_url(
    bot_process: BotProcessFactory,
) -> None:
    process = await bot_process.start({"DATABASE_URL": UNREACHABLE_POSTGRES})
    assert await exit_code(process) == 2
    assert start_up_failure(process).startswith(
        "Start-up failed: DATABASE_URL: cannot use the database"
    )


async def test_a_token_discord_refuses_is_one_line_naming_discord_token(
    bot_process: BotProcessFactory, local_discord: LocalDiscord
) -> None:
    process = await bot_process.start({"DISCORD_TOKEN": "not.the.token"})
    assert await exit_code(process) == 2
    assert start_up_failure(process).startswith("Start-up failed: DISCORD_TOKEN was refused")
    assert local_discord.gateway.identify_count == 0


async def test_sigint_stops_the_bot_cleanly(
    bot_process: BotProcessFactory, local_discord: LocalDiscord
) -> None:
    process = await bot_process.start()
    await process.wait_ready(timeout=60)

    process.proc.send_signal(signal.SIGINT)  # Ctrl+C in a terminal

    assert await exit_code(process, timeout=30) == 0, process.output
    assert "Received SIGINT: shutting down cleanly" in process.output
    assert "Pegasus stopped" in process.output
    assert not process.error_lines, process.output
    await local_discord.gateway.wait_disconnected()


def test_logs_go_to_stdout() -> None:
    code = (
        "import logging; from pegasus.runner import setup_logging; setup_logging('INFO'); "
        "logging.getLogger('pegasus').info('hello operator')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    assert "INFO    pegasus: hello operator" in result.stdout
    assert result.stderr == ""
