"""Tortoise's asyncpg engine with a bounded wait for a pool connection, and no reset query.

asyncpg bounds connecting (`timeout`) and statements (`command_timeout`), but waiting for a free
connection of a busy pool has no bound, and Tortoise acquires without one. This engine gives the
pool a default acquire timeout (`acquire_timeout` in the credentials), so a query waits at most
that long for a connection, then fails as a database that is not reachable right now.

Tortoise takes a pool connection for each statement outside a transaction, and asyncpg resets a
connection it gets back with a query of its own (`SELECT pg_advisory_unlock_all(); CLOSE ALL;
UNLISTEN *; RESET ALL`): a second round trip for every statement, about a third of the CPU a
leaderboard request costs. Pegasus leaves nothing for it to undo: it takes no session advisory
lock, sets nothing for the session (only `SET LOCAL` and `SET TRANSACTION`, which end with their
transaction), listens on a connection of its own (`pegasus.notify`) and opens no cursor outside a
transaction. So its connections return to the pool with asyncpg's own cleanup only (a
transaction left open is still rolled back, listeners still dropped), without that query.

Use it as the engine `pegasus.pgpool` in the Tortoise config (pegasus.db does).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection given back to the pool without the reset query (see the module's text)."""

    def get_reset_query(self) -> str:
        return ""


class BoundedAcquirePool(asyncpg.Pool):
    """An asyncpg pool whose `acquire()` waits at most `acquire_timeout` seconds by default."""

    __slots__ = ("acquire_timeout",)

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


# asyncpg.create_pool's defaults, which the Pool constructor itself does not have.
POOL_DEFAULTS: dict[str, Any] = {
    "max_queries": 50000,
    "max_inactive_connection_lifetime": 300.0,
    "record_class": asyncpg.Record,
}


class BoundedAcquireClient(AsyncpgDBClient):
    def __init__(self, *args: Any, acquire_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire_timeout

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        kwargs["connection_class"] = PooledConnection
        pool = BoundedAcquirePool(None, **{**POOL_DEFAULTS, **kwargs})
        pool.acquire_timeout = self.acquire_timeout
        return await pool


client_class = BoundedAcquireClient
