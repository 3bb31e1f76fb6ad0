"""Tortoise's SQLite engine, with each statement handed to SQLite's thread and waited for there.

aiosqlite runs every statement in a thread of its own, which takes Python's lock (the GIL) back
after each step of SQLite and again to hand the result to the event loop. While the bot's thread
is busy (a burst of messages), it lets go of the lock often and briefly: for every socket read,
and with automod for every message (RE2 does). Each time, the waiting thread is woken on the
other core only to find the lock taken again by the time it runs, and it waits on, woken again by
the next release. So a statement of a few milliseconds waited tens of milliseconds, and every
release meanwhile cost the bot's thread a wake-up of the other core: with 50 automod rules, the
bursts of messages during which the activity flush was written took a third more CPU a message
than those without (README, "Automod").

Here the event loop's thread hands a statement over and sleeps until it is done (the GIL free
for SQLite's thread the whole time), for at most `WAIT_LIMIT`. Most statements take well under a
millisecond and are answered without a turn of the loop; the activity flush's writes of 1,000
members take 5-15 ms. A statement that takes longer (a large read, a write that waits on another
process's lock) is left to finish as before, and its result reaches the loop through aiosqlite's
future; the handoff's lock decides which of the two ways answers. A pause of the loop of 20 ms at
most goes unnoticed by Discord (a heartbeat every 41 s, 3 s to answer an interaction).

Use it as the engine `pegasus.sqlitehandoff` in the Tortoise config (pegasus.db does).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite
from aiosqlite.core import set_exception, set_result  # what aiosqlite's own thread answers with
from tortoise.backends.sqlite.client import SqliteClient

# The longest (seconds) the event loop's thread waits for a statement before it goes on with
# other work and takes the answer later.
WAIT_LIMIT = 0.02


class Handoff:
    """One statement given to SQLite's thread: answered to the waiting loop thread directly, or,
    once that thread has stopped waiting, through `future`."""

    __slots__ = ("done", "error", "function", "future", "lock", "result", "waited_for")

    def __init__(self, function: Callable[[], Any], future: asyncio.Future[Any]) -> None:
        self.function = function
        self.future = future
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.waited_for = True
        self.result: Any = None
        self.error: BaseException | None = None

    def __call__(self) -> None:
        """Run in SQLite's thread. Returns nothing: aiosqlite is given no future to answer."""
        result: Any = None
        error: BaseException | None = None
        try:
            result = self.function()
        except BaseException as exc:  # handed to the caller, as aiosqlite does
            error = exc
        with self.lock:
            if self.waited_for:
                self.result, self.error = result, error
                self.done.set()
                return
        loop = self.future.get_loop()
        if error is None:
            loop.call_soon_threadsafe(set_result, self.future, result)
        else:
            loop.call_soon_threadsafe(set_exception, self.future, error)

    def answer(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result

    def stop_waiting(self) -> bool:
        """The loop thread gives up waiting; False if the answer came in meanwhile."""
        with self.lock:
            if self.done.is_set():
                return False
            self.waited_for = False
            return True


class HandoffConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements are waited for in SQLite's thread (see the
    module's text)."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        future = asyncio.get_running_loop().create_future()
        handoff = Handoff(partial(fn, *args, **kwargs), future)
        self._tx.put_nowait((None, handoff))
        # Blocking on purpose: see the module's text.
        if handoff.done.wait(WAIT_LIMIT) or not handoff.stop_waiting():
            return handoff.answer()
        return await future


async def connect(filename: str, **kwargs: Any) -> HandoffConnection:
    """`aiosqlite.connect`, making a HandoffConnection."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(filename, **kwargs)

    return await HandoffConnection(connector, iter_chunk_size=64)


class HandoffSqliteClient(SqliteClient):
    async def create_connection(self, with_db: bool) -> None:
        # Tortoise's own, but for the connection's class.
        if self._connection:
            return
        self._connection = await connect(self.filename, isolation_level=None)
        self._connection._conn.row_factory = sqlite3.Row
        for pragma, val in self.pragmas.items():
            cursor = await self._connection.execute(f"PRAGMA {pragma}={val}")
            await cursor.close()
        await self._post_connect()
        self.log.debug(
            "Created connection %s with params: filename=%s %s",
            self._connection,
            self.filename,
            " ".join(f"{k}={v}" for k, v in self.pragmas.items()),
        )


client_class = HandoffSqliteClient
