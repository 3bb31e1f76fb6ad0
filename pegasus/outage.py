"""The database down or slow: recognising it, saying so once, and noticing when it is back.

Every place that meets a database error asks `is_database_unreachable(error)`: an unreachable or
hanging database is not a bug (no ERROR, no traceback, no reference id), it is an outage. The
first such error starts an outage (one WARNING); a background probe then checks every
`recheck_interval` seconds and ends it (one INFO) when a query answers again. Whatever the
number of commands, messages and flushes that fail meanwhile, the log gets those two lines.

No Discord here: the services, the activity buffer and the command tree all use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from tortoise import connections
from tortoise.exceptions import DBConnectionError, OperationalError

from pegasus.errors import DATABASE_UNAVAILABLE, DatabaseUnavailable

__all__ = [
    "DATABASE_UNAVAILABLE",
    "DatabaseHealth",
    "DatabaseUnavailable",
    "health",
    "is_database_unreachable",
    "within",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

PROBE_TIMEOUT = 1.0  # seconds a probe query may take before the database counts as hanging
RECHECK_INTERVAL = 1.0  # seconds between probes during an outage

# SQLite's ways of saying another process holds the file, or the file is gone.
SQLITE_UNREACHABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
)
# Where database client code lives: an OSError or a timeout raised there is the database's.
DATABASE_CODE = ("/asyncpg/", "/tortoise/", "/aiosqlite/", "/sqlite3/")


def _asyncpg_unreachable() -> tuple[type[BaseException], ...]:
    try:
        from asyncpg import exceptions
    except ImportError:  # pragma: no cover - asyncpg is a dependency; SQLite works without it
        return ()
    return (
        exceptions.PostgresConnectionError,  # class 08: connection lost, refused, failed
        exceptions.CannotConnectNowError,  # the server is starting or shutting down
        exceptions.AdminShutdownError,
        exceptions.CrashShutdownError,
        exceptions.TooManyConnectionsError,
    )


ASYNCPG_UNREACHABLE = _asyncpg_unreachable()


def _raised_in_database_code(error: BaseException) -> bool:
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if any(part in filename for part in DATABASE_CODE):
            return True
        tb = tb.tb_next
    return False


def _one_is_unreachable(error: BaseException) -> bool:
    if isinstance(error, DatabaseUnavailable | DBConnectionError):
        return True
    if ASYNCPG_UNREACHABLE and isinstance(error, ASYNCPG_UNREACHABLE):
        return True
    if isinstance(error, sqlite3.OperationalError | OperationalError):
        text = str(error).lower()
        return any(phrase in text for phrase in SQLITE_UNREACHABLE)
    if isinstance(error, OSError | TimeoutError):
        # Refused or reset connections, connect and statement timeouts. The same types come
        # from Discord's HTTP client, so only those raised inside database code count.
        return _raised_in_database_code(error)
    return False


def is_database_unreachable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means the database cannot be reached right now."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _one_is_unreachable(current):
            return True
        current = current.__cause__ or current.__context__
    return False


async def _select_one() -> None:
    await connections.get("default").execute_query("SELECT 1")


class DatabaseHealth:
    """Whether an outage is under way; one WARNING when it starts, one INFO when it ends."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[None]] = _select_one,
        *,
        probe_timeout: float = PROBE_TIMEOUT,
        recheck_interval: float = RECHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self.probe_timeout = probe_timeout
        self.recheck_interval = recheck_interval
        self._clock = clock
        self._down_since: float | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.outages = 0  # since start-up, for logs and tests

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def report(self, error: BaseException | str) -> None:
        """An operation found the database unreachable: start an outage unless one is on."""
        if self._down_since is not None:
            return
        self._down_since = self._clock()
        self.outages += 1
        reason = error if isinstance(error, str) else _describe(error)
        log.warning(
            "The database is unreachable (%s): commands that need it answer that nothing was "
            "changed, and activity is kept in memory until it is back",
            reason,
        )
        self._watch()

    def recovered(self) -> None:
        """An operation reached the database: end the outage, if one is on."""
        if self._down_since is None:
            return
        lasted = self._clock() - self._down_since
        self._down_since = None
        log.info("The database is reachable again, after %.0f s", lasted)

    async def reachable(self, timeout: float | None = None) -> bool:
        """Ask the database (bounded by `timeout`); starts or ends an outage by the answer."""
        try:
            await asyncio.wait_for(self._probe(), timeout or self.probe_timeout)
        except Exception as error:
            if not isinstance(error, TimeoutError) and not is_database_unreachable(error):
                raise
            self.report(error if not isinstance(error, TimeoutError) else "no answer in time")
            return False
        self.recovered()
        return True

    def _watch(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # reported outside a loop (a test): nobody to probe with
        if self._watcher is None or self._watcher.done() or self._watcher.get_loop() is not loop:
            # Created from the task that met the error, so it sees the database connections.
            self._watcher = loop.create_task(self._watch_until_back(), name="pegasus-db-watch")

    async def _watch_until_back(self) -> None:
        while self.down:
            await asyncio.sleep(self.recheck_interval)
            with contextlib.suppress(Exception):  # an unexpected probe failure: try again
                await self.reachable()

    async def stop(self) -> None:
        """Stop watching (shutdown: before the connections close)."""
        task, self._watcher = self._watcher, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def reset(self) -> None:
        """Forget any outage, as at start-up (a bot started again in the same process)."""
        self._down_since = None
        self._watcher = None
        self.outages = 0


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def within(awaitable: Awaitable[T], timeout: float) -> T:
    """Await `awaitable` for at most `timeout` seconds; a timeout or an unreachable database
    becomes `DatabaseUnavailable` (and reports the outage). Other errors pass through."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError as error:
        health.report("no answer in time")
        raise DatabaseUnavailable() from error
    except DatabaseUnavailable:
        raise
    except Exception as error:
        if is_database_unreachable(error):
            health.report(error)
            raise DatabaseUnavailable() from error
        raise


health = DatabaseHealth()
