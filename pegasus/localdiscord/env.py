"""Running the real bot against the local Discord: in this event loop, or as `python bot.py`."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import CoroutineType
from typing import TYPE_CHECKING, Any

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from pegasus.localdiscord.server import LocalDiscord
from pegasus.localdiscord.state import FakeChannel, FakeGuild, FakeMember, FakeUser

if TYPE_CHECKING:
    from pegasus.services.attachments import AttachmentKeeper

ROOT = Path(__file__).resolve().parents[2]
#: a bot owner as tests name them: a member's name, a member or user, or an id
OwnerRef = str | int | FakeMember | FakeUser
WATCHED_LOGGERS = ("discord", "pegasus", "cogs")
# Tasks discord.py creates to run the bot's handlers for one event, command or component.
BOT_TASK_PREFIXES = (
    "discord.py: ",
    "pegasus: ",  # the bot's own background work that ends when done (e.g. the directory sync)
    "CommandTree-invoker",
    "discord-ui-view-dispatch",
    "discord-ui-dynamic-item",
    "discord-ui-modal-dispatch",
)
# discord.py's own work on an event that it starts without a name: a large guild's members are
# requested and read before the guild is announced (GUILD_CREATE after READY). While it runs, the
# bot has requests out on the gateway that the server has not answered yet.
BOT_TASK_COROUTINES = ("ConnectionState._chunk_and_dispatch",)
# A handler suspended in one of these is waiting for a person, not working.
WAITING_FOR_PEOPLE = (("ui/view.py", "wait"), ("ui/modal.py", "wait"), ("client.py", "wait_for"))


class ErrorLog(logging.Handler):
    """Collects ERROR records of the bot's loggers and makes the server's waits fail fast."""

    def __init__(self, server: LocalDiscord | None = None) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if self.server is not None:
            self.server.report_bot_error(self.render(record))

    @staticmethod
    def render(record: logging.LogRecord) -> str:
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        return text

    def install(self) -> None:
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).addHandler(self)

    def remove(self) -> None:
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).removeHandler(self)


class EndpointPatch:
    """discord.py's REST base and gateway URL are class attributes: restore them afterwards."""

    def __enter__(self) -> EndpointPatch:
        self.base, self.gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        return self

    def __exit__(self, *exc: object) -> None:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self.base, self.gateway

    @staticmethod
    def point_at(server: LocalDiscord) -> None:
        EndpointPatch.point_to(server.api_base, server.gateway_url)

    @staticmethod
    def point_to(api_base: str, gateway_url: str) -> None:
        Route.BASE = api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def local_attachment_keeper(server: LocalDiscord) -> AttachmentKeeper:
    """An attachment keeper that copies the local Discord's attachments as the bot copies
    Discord's: from the server's own origin and loopback address only, nothing else local."""
    from pegasus.services.attachments import AttachmentFetcher, AttachmentKeeper

    address = ipaddress.ip_address(server.host)
    fetcher = AttachmentFetcher(origins=(server.base_url,), allowed=lambda a: a == address)
    return AttachmentKeeper(fetcher=fetcher)


class DiscordEnv:
    """The local Discord, the demo guild and the real Pegasus bot in this event loop."""

    def __init__(
        self,
        server: LocalDiscord,
        db_url: str,
        *,
        extensions: Iterable[str] | None = None,
        errors: ErrorLog | None = None,
        bot_options: Mapping[str, Any] | None = None,
        owner_ids: Iterable[OwnerRef] = (),
    ) -> None:
        self.server = server
        #: the bot's owners (settings.owner_ids, OWNER_IDS): member names, members or ids,
        #: resolved at every start so members added by the test before a restart work too
        self.owner_ids: list[OwnerRef] = list(owner_ids)
        self.db_url = db_url
        self.extensions = tuple(extensions) if extensions is not None else None
        self.bot_options = dict(bot_options or {})
        self.error_log = errors or ErrorLog(server)
        self.bot: Any = None
        self._connect_task: asyncio.Task[None] | None = None
        self._seen = asyncio.Event()

    # people and places ---------------------------------------------------------------------
    @property
    def guild(self) -> FakeGuild:
        return self.server.guild

    def member(self, name: str | int) -> FakeMember:
        """A member by name or id; also one who has left (their FakeMember keeps its state)."""
        found = self.guild.find_member(name)
        if found is None:
            found = next((m for m in self.guild.departed.values() if name in (m.name, m.id)), None)
        return found if found is not None else self.guild.member(name)

    def channel(self, name: str | int) -> FakeChannel:
        return self.guild.channel(name)

    @property
    def owner(self) -> FakeMember:
        return self.guild.owner

    admin = owner

    @property
    def mod(self) -> FakeMember:
        return self.member("mod")

    @property
    def alice(self) -> FakeMember:
        return self.member("alice")

    @property
    def bob(self) -> FakeMember:
        return self.member("bob")

    @property
    def carol(self) -> FakeMember:
        return self.member("carol")

    @property
    def bot_member(self) -> FakeMember:
        return self.guild.bot_member

    @property
    def errors(self) -> list[logging.LogRecord]:
        return self.error_log.records

    # the bot -------------------------------------------------------------------------------
    def resolved_owner_ids(self) -> frozenset[int]:
        ids = set()
        for who in self.owner_ids:
            if isinstance(who, int):
                ids.add(who)
            elif isinstance(who, str):
                ids.add(self.member(who).id)
            else:
                ids.add(who.id)
        return frozenset(ids)

    def settings(self) -> Any:
        from pegasus.config import Settings, SyncMode

        return Settings(
            discord_token=self.server.token,
            database_url=self.db_url,
            discord_api_base=self.server.api_base,
            discord_gateway_url=self.server.gateway_url,
            sync_commands=SyncMode("global"),
            owner_ids=self.resolved_owner_ids(),
        )

    async def start_bot(self, timeout: float = 15.0) -> Any:
        """Log in (setup_hook: database, extensions, command sync), connect, wait for READY."""
        from pegasus.bot import Pegasus

        assert self.bot is None, "the bot is already running"
        options: dict[str, Any] = {"guild_ready_timeout": 0.02, **self.bot_options}
        if self.extensions is not None:
            options["extensions"] = self.extensions
        bot = Pegasus(self.settings(), **options)
        bot.attachment_keeper = local_attachment_keeper(self.server)
        bot.add_listener(self._on_socket_event, "on_socket_event_type")
        self.bot = bot
        try:
            await bot.login(self.server.token)
            self._connect_task = asyncio.create_task(bot.connect(), name="local-bot-connect")
            ready = asyncio.create_task(bot.wait_until_ready())
            done, _ = await asyncio.wait(
                {ready, self._connect_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                ready.cancel()
                if self._connect_task in done:
                    self._connect_task.result()  # raises what stopped the connection
                raise AssertionError(f"the bot was not ready within {timeout}s")
            # Start-up handlers (on_ready, on_guild_available...) finish before the test acts.
            await self.settle(timeout)
        except BaseException:
            await self.stop_bot()
            raise
        return bot

    async def stop_bot(self) -> None:
        """Close the bot cleanly (it flushes buffers and closes the database)."""
        bot, task = self.bot, self._connect_task
        self.bot, self._connect_task = None, None
        if bot is None:
            return
        # Let handlers that are still working finish, so a stop is as clean as SIGTERM's.
        with contextlib.suppress(AssertionError):
            await self.settle(2.0, bot=bot)
        await bot.close()
        if task is not None:
            try:
                await asyncio.wait_for(task, 10)
            except asyncio.CancelledError:
                pass

    async def restart_bot(self) -> Any:
        """A clean stop, then a new Pegasus on the same database and server state."""
        await self.stop_bot()
        return await self.start_bot()

    async def close(self) -> None:
        await self.stop_bot()

    # waiting -------------------------------------------------------------------------------
    async def _on_socket_event(self, event: str) -> None:
        self._seen.set()

    def _caught_up(self, bot: Any = None) -> bool:
        """Has the bot read every event the server dispatched to its live sessions?"""
        bot = bot or self.bot
        if bot is None:
            return True
        sequences = {}
        for shard in bot.shards.values():
            ws = shard._parent.ws
            sequences[ws.session_id] = ws.sequence or 0
        for session in self.server.gateway.live_sessions:
            if sequences.get(session.id, -1) < session.seq:
                return False
        return True

    def busy_tasks(self) -> list[asyncio.Task[Any]]:
        """The bot's handler tasks still working (not those waiting for a person)."""
        current = asyncio.current_task()
        busy = []
        for task in asyncio.all_tasks():
            if task is current or task.done():
                continue
            if _is_bot_work(task) and not _waits_for_people(task):
                busy.append(task)
        return busy

    async def settle(self, timeout: float = 5.0, *, bot: Any = None) -> None:
        """Until the bot has read every event sent so far, finished handling them, and made
        no request that is still in flight. Event-driven; a bot that never gets there fails
        the test with what it was doing."""
        started = time.monotonic()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    progressed = False
                    while not self._caught_up(bot):
                        progressed = True
                        self._seen.clear()
                        await self._seen.wait()
                    busy = self.busy_tasks()
                    if busy:
                        progressed = True
                        await asyncio.wait(busy)
                    if self.server.in_flight:
                        progressed = True
                        await self.server.requests_idle(timeout)
                    if not progressed:
                        return
                    await asyncio.sleep(0)  # let responses reach the tasks that awaited them
        except TimeoutError:
            tasks = "\n".join(f"  {t.get_name()}: {_where(t)}" for t in self.busy_tasks())
            raise AssertionError(
                f"the bot did not settle within {timeout}s (caught up: {self._caught_up()}, "
                f"requests in flight: {self.server.in_flight}).\nBusy tasks:\n{tasks or '  none'}"
                f"\n{self.server.describe_since(started)}"
            ) from None

    wait_idle = settle


def _is_bot_work(task: asyncio.Task[Any]) -> bool:
    if task.get_name().startswith(BOT_TASK_PREFIXES):
        return True
    return getattr(task.get_coro(), "__qualname__", "") in BOT_TASK_COROUTINES


def _coroutine_chain(task: asyncio.Task[Any]) -> Iterable[Any]:
    coro: Any = task.get_coro()
    while coro is not None and hasattr(coro, "cr_frame"):
        yield coro
        coro = getattr(coro, "cr_await", None)


def _waits_for_people(task: asyncio.Task[Any]) -> bool:
    for coro in _coroutine_chain(task):
        frame = coro.cr_frame
        if frame is None:
            continue
        filename = frame.f_code.co_filename.replace("\\", "/")
        for suffix, name in WAITING_FOR_PEOPLE:
            if filename.endswith("discord/" + suffix) and frame.f_code.co_name == name:
                return True
    return False


def _where(task: asyncio.Task[Any]) -> str:
    frames = [
        c.cr_frame
        for c in _coroutine_chain(task)
        if isinstance(c, CoroutineType) and c.cr_frame is not None
    ]
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


class BotProcess:
    """`python bot.py` started as an operator does, pointed at the local Discord."""

    def __init__(self, server: LocalDiscord, proc: asyncio.subprocess.Process) -> None:
        self.server = server
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def error_lines(self) -> list[str]:
        return [
            line
            for line in self.lines
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
        ]

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the bot synced its commands, identified, and read its GUILD_CREATEs."""
        deadline = time.monotonic() + timeout

        async def ready() -> None:
            exited = asyncio.ensure_future(self.proc.wait())
            try:
                while not (
                    self.server.sync_count
                    and self.server.gateway.identify_count
                    and self.server.gateway.connected
                ):
                    change = asyncio.ensure_future(self.server.next_change())
                    await asyncio.wait({change, exited}, return_when=asyncio.FIRST_COMPLETED)
                    change.cancel()
                    if exited.done():
                        raise AssertionError(
                            f"bot.py exited with {self.proc.returncode}:\n{self.output}"
                        )
            finally:
                exited.cancel()
            remaining = max(0.1, deadline - time.monotonic())
            await self.server.gateway.heartbeat_barrier(timeout=remaining)

        try:
            await asyncio.wait_for(ready(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"bot.py was not ready within {timeout}s:\n{self.output}"
            ) from None

    async def settle(self, timeout: float = 5.0, *, bot: Any = None) -> None:
        """Heartbeat barriers until a round passes with no new request from the bot."""
        async with asyncio.timeout(timeout):
            while True:
                before = len(self.server.requests)
                await self.server.gateway.heartbeat_barrier(timeout)
                await self.server.requests_idle(timeout)
                await self.server.gateway.heartbeat_barrier(timeout)
                if len(self.server.requests) == before and not self.server.in_flight:
                    return

    async def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, as a service manager stops the bot; returns the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(
                f"bot.py did not stop within {timeout}s of SIGTERM:\n{self.output}"
            ) from None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()


class BotProcessFactory:
    def __init__(self, server: LocalDiscord, db_url: str) -> None:
        self.server = server
        self.db_url = db_url
        self.processes: list[BotProcess] = []

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DISCORD_TOKEN": self.server.token,
                "DATABASE_URL": self.db_url,
                "DISCORD_API_BASE": self.server.api_base,
                "DISCORD_GATEWAY_URL": self.server.gateway_url,
                "SYNC_COMMANDS": "global",
                "LOG_LEVEL": "INFO",
                # Several bot processes at once would compete for one port; a test that wants
                # the web server passes WEB_ENABLED=true (and WEB_PORT=0 for any free port).
                "WEB_ENABLED": "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra or {})
        return env

    async def start(
        self, env: Mapping[str, str] | None = None, args: Iterable[str] = ()
    ) -> BotProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "bot.py"),
            *args,
            cwd=str(ROOT),
            env=self.environment(env),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        process = BotProcess(self.server, proc)
        self.processes.append(process)
        return process

    async def close(self) -> None:
        for process in self.processes:
            await process.kill()
