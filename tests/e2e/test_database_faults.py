"""The database down or slow, end to end: members get one clear sentence within Discord's 3
seconds, the log gets one WARNING per outage (and no ERROR), and activity during the outage is
counted once the database is back.

On PostgreSQL the bot talks to the database through a TCP proxy in this process that can refuse
(its listening socket closed, open connections reset) or hang (connections accepted, nothing
forwarded). SQLite has no network: its honest equivalent is another process holding the write
lock. With a busy timeout shorter than the lock, writes fail at once ("database is locked": the
refused case); with the default busy timeout they wait (the hanging case). Readers are never
blocked in WAL mode, so on SQLite only what writes is affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlparse

import pytest

from models.guilds import Member
from models.levels import UserXP
from pegasus.db import dialect_of
from pegasus.errors import DATABASE_UNAVAILABLE
from pegasus.localdiscord import LocalDiscord
from pegasus.localdiscord.env import DiscordEnv, ErrorLog
from pegasus.outage import health

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.levels", "cogs.economy", "cogs.moderation")
)

WATCHED = ("pegasus", "cogs", "discord")
# Short bounds keep the tests quick; production's are longer (pegasus.db).
PG_BOUNDS = "timeout=2&acquire_timeout=2&command_timeout=3"


class TcpProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; `refuse()`, `hang()` and `restore()` it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.hanging = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Connections are refused and the open ones reset."""
        assert self._server is not None
        self._server.close()
        self._server = None
        self._reset_all()

    async def hang(self) -> None:
        """Connections are accepted, and nothing goes through any of them."""
        self.hanging = True
        self._flowing.clear()

    async def restore(self) -> None:
        if self.hanging:
            self.hanging = False
            self._reset_all()
            self._flowing.set()  # what hung stays dead, as after a long network partition
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._reset_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _reset_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(upstream_writer)
        pumps = [
            asyncio.create_task(self._pump(reader, upstream_writer)),
            asyncio.create_task(self._pump(upstream_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
            self._tasks.discard(pump)
        for side in (writer, upstream_writer):
            side.transport.abort()
            self._writers.discard(side)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                # While hanging, held and never delivered: restore() resets the connection.
                await self._flowing.wait()
                if writer.transport.is_closing():
                    return
                writer.write(data)
                await writer.drain()


class SqliteLock:
    """Another process's write lock on the bot's SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None

    async def cut(self) -> None:
        self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        self._connection.execute("BEGIN IMMEDIATE")

    refuse = hang = cut

    async def restore(self) -> None:
        if self._connection is not None:
            self._connection.execute("ROLLBACK")
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        await self.restore()


class Records(logging.Handler):
    """WARNING and above of the bot's loggers, and the outage's INFO lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or record.name == "pegasus.outage":
            self.records.append(record)

    def at(self, level: int) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records if r.levelno == level]


class Outage:
    """A bot whose database can be cut the way the test asks."""

    def __init__(self, env: DiscordEnv, fault: TcpProxy | SqliteLock, records: Records) -> None:
        self.env = env
        self.fault = fault
        self.records = records

    async def refuse(self) -> None:
        await self.fault.refuse()

    async def hang(self) -> None:
        await self.fault.hang()

    async def restore(self) -> None:
        """Restore the database and wait until the bot has seen it back."""
        await self.fault.restore()
        await eventually(lambda: not health.down, what="the outage to end")

    def outage_warnings(self) -> list[str]:
        return self.records.at(logging.WARNING)


async def eventually(condition: Callable[[], bool], *, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def bot_behind_fault(
    local_discord: LocalDiscord, db_url: str, request: pytest.FixtureRequest, *, sqlite_busy: int
) -> AsyncIterator[Outage]:
    errors = ErrorLog(local_discord)
    records = Records()
    outage_logger = logging.getLogger("pegasus.outage")
    level = outage_logger.level
    outage_logger.setLevel(logging.INFO)
    fault: TcpProxy | SqliteLock
    if dialect_of(db_url) == "postgres":
        parsed = urlparse(db_url)
        fault = TcpProxy(parsed.hostname or "127.0.0.1", parsed.port or 5432)
        await fault.start()
        bot_url = parsed._replace(netloc=f"{parsed.username}@127.0.0.1:{fault.port}").geturl()
        bot_url += f"?{PG_BOUNDS}"
    else:
        fault = SqliteLock(db_url.removeprefix("sqlite://"))
        bot_url = f"{db_url}?busy_timeout={sqlite_busy}"
    for name in WATCHED:
        logging.getLogger(name).addHandler(errors)
        logging.getLogger(name).addHandler(records)
    env = DiscordEnv(local_discord, bot_url, extensions=_extensions(request), errors=errors)
    try:
        await env.start_bot()
        records.records.clear()  # start-up lines are not the outage's
        yield Outage(env, fault, records)
    finally:
        await fault.restore()
        await env.close()
        await fault.close()
        for name in WATCHED:
            logging.getLogger(name).removeHandler(errors)
            logging.getLogger(name).removeHandler(records)
        outage_logger.setLevel(level)
    rendered = [ErrorLog.render(r) for r in errors.records]
    assert not rendered, "the bot logged errors:\n" + "\n".join(rendered)


def _extensions(request: pytest.FixtureRequest) -> tuple[str, ...]:
    marker = request.node.get_closest_marker("discord_env")
    assert marker is not None
    return marker.kwargs["extensions"]


async def test_refused_database_one_sentence_one_warning_nothing_changed(
    local_discord: LocalDiscord, db_url: str, request: pytest.FixtureRequest
) -> None:
    async with bot_behind_fault(local_discord, db_url, request, sqlite_busy=200) as outage:
        env = outage.env
        await outage.refuse()
        for member in (env.alice, env.alice, env.bob):
            reply = await member.slash("daily")
            assert reply.ephemeral
            assert reply.content == DATABASE_UNAVAILABLE
        warnings = outage.outage_warnings()
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith("pegasus.outage: The database is unreachable")

        await outage.restore()
        assert any("reachable again" in line for line in outage.records.at(logging.INFO))
        # Nothing was changed: the first daily after the outage is a first claim.
        reply = await env.alice.slash("daily")
        assert reply.content.startswith("📅 You claimed"), reply.content
        assert "Streak: **1** day" in reply.content
        assert len(outage.outage_warnings()) == 1, outage.outage_warnings()

        # A second outage is a second warning.
        await outage.refuse()
        reply = await env.bob.slash("daily")
        assert reply.content == DATABASE_UNAVAILABLE
        assert len(outage.outage_warnings()) == 2, outage.outage_warnings()


async def test_hanging_database_every_interaction_is_answered_in_time(
    local_discord: LocalDiscord, db_url: str, request: pytest.FixtureRequest
) -> None:
    # SQLite: a write waits up to 2.5 s for the lock (longer than the 2 s answer deadline),
    # then fails; the lock is held longer than that.
    async with bot_behind_fault(local_discord, db_url, request, sqlite_busy=2500) as outage:
        env = outage.env
        await env.alice.slash("ping")  # a connection in the pool, as in a bot that ran a while
        await outage.hang()
        env.bot.blacklist.invalidate()  # the check before every command must ask the database
        # The local Discord refuses a first response after 3 s, as Discord does.
        started = time.monotonic()
        reply = await env.alice.slash("ping")
        assert reply.content.startswith("Pong!")
        # Deferred for it before 3 s; the sentence when its statement gives up.
        reply = await env.bob.slash("daily", timeout=15)
        assert reply.deferred
        assert reply.ephemeral
        assert reply.content == DATABASE_UNAVAILABLE
        reply = await env.alice.slash("ping")  # the blacklist check fails open, without waiting
        assert reply.content.startswith("Pong!")
        assert time.monotonic() - started < 12
        warnings = outage.outage_warnings()
        assert len(warnings) == 1, warnings

        await outage.restore()
        reply = await env.bob.slash("daily")
        assert reply.content.startswith("📅 You claimed"), reply.content
        assert "Streak: **1** day" in reply.content  # the daily during the outage left nothing
        assert len(outage.outage_warnings()) == 1, outage.outage_warnings()


async def test_cold_cache_messages_during_an_outage_earn_xp_afterwards(
    local_discord: LocalDiscord, db_url: str, request: pytest.FixtureRequest
) -> None:
    async with bot_behind_fault(local_discord, db_url, request, sqlite_busy=200) as outage:
        env = outage.env
        levels = env.bot.get_cog("Levels")
        levels.activity.caches.invalidate()  # cold: as after start-up or the 5-minute expiry
        await outage.refuse()
        for text in ("hello", "anyone there?", "the bot seems quiet"):
            await env.alice.say("general", text)
        await env.settle()
        await env.bob.say("general", "me too")
        await env.settle()
        # PostgreSQL: the settings could not load; SQLite: the flusher could not write.
        await eventually(lambda: health.down, what="the bot to meet the outage")

        await outage.restore()

        async def stored_messages() -> dict[int, int]:
            rows = await Member.filter(guild_id=env.guild.id).values_list("user_id", "messages")
            return dict(rows)

        deadline = time.monotonic() + 10
        while (await stored_messages()).get(env.bob.id) != 1:
            assert time.monotonic() < deadline, await stored_messages()
            await asyncio.sleep(0.1)
        counts = await stored_messages()
        assert counts[env.alice.id] == 3
        assert counts[env.bob.id] == 1
        xp = dict(
            await UserXP.filter(guild_id=env.guild.id).values_list("user_id", "xp")
        )
        # One message each earns XP (the others are within the cooldown): 15-25 by default.
        assert 15 <= xp[env.alice.id] <= 25
        assert 15 <= xp[env.bob.id] <= 25
        assert levels.activity.deferred_messages == 0
        warnings = outage.outage_warnings()
        assert len(warnings) == 1, warnings
