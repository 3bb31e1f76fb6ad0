"""Run the bot as a process: logging, signals, and one clear line for start-up failures."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import discord

from pegasus.bot import Pegasus
from pegasus.config import Settings
from pegasus.errors import ConfigError

log = logging.getLogger("pegasus")

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str) -> None:
    """Everything to stdout, one line per record; discord.py's chatter at INFO at most."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord").setLevel(max(logging.getLevelName(level), logging.INFO))
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def _install_signal_handlers(bot: Pegasus) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, _request_stop, bot, sig)
        except NotImplementedError:  # pragma: no cover - not on Windows event loops
            pass


def _request_stop(bot: Pegasus, sig: signal.Signals) -> None:
    log.info("Received %s: shutting down cleanly", sig.name)
    asyncio.get_running_loop().create_task(bot.close())


def describe_start_failure(error: BaseException) -> str | None:
    """One line for failures an operator can fix, or None for a bug (shown with a traceback)."""
    if isinstance(error, discord.LoginFailure):
        return "DISCORD_TOKEN was refused by Discord: reset the token and put the new one in .env."
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return (
            "Discord refused the privileged intents: enable SERVER MEMBERS and MESSAGE CONTENT "
            "in the Developer Portal → your application → Bot → Privileged Gateway Intents."
        )
    if isinstance(error, ConfigError):
        return str(error)
    name = type(error).__name__
    module = type(error).__module__
    if module.startswith(("tortoise", "asyncpg", "sqlite3", "aiosqlite")) or isinstance(
        error, OSError | TimeoutError
    ):
        return (
            f"DATABASE_URL: cannot use the database ({name}: {error}). Check the URL, that the "
            "server is running, and that `python -m pegasus db upgrade` has been run."
        )
    return None


async def run(settings: Settings, **options: object) -> int:
    """Run until stopped; returns the process exit code."""
    setup_logging(settings.log_level)
    try:
        async with Pegasus(settings, **options) as bot:
            _install_signal_handlers(bot)
            await bot.start(settings.discord_token)
            # start() returns as soon as the gateway is closed; wait for the rest of the
            # shutdown (handlers finishing, the database closed) before the process exits.
            await bot.close()
    except Exception as error:
        message = describe_start_failure(error)
        if message is None:
            log.exception("Pegasus stopped on an unexpected error")
            return 1
        print(f"Start-up failed: {message}", file=sys.stderr)
        return 2
    log.info("Pegasus stopped")
    return 0
