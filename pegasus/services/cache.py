"""Values loaded on demand and kept in memory for a while: the hot paths' guild settings.

One process owns a guild (its shard) and every change made through the services invalidates the
copy, so the TTL only bounds how long a change made elsewhere (another process) takes to be seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values kept for `ttl` seconds, with one load at a time per key.

    A burst of readers on a missing or stale key shares one load instead of each sending its
    own query. A load that an `invalidate` overtakes is returned to its readers but not kept,
    since it may predate the change.
    """

    def __init__(
        self,
        loader: Callable[[K], Awaitable[V]],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl
        self._clock = clock
        self._values: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}
        self._generations: dict[K, int] = {}
        self._epoch = 0

    def peek(self, key: K) -> V | None:
        """The value if it is cached and fresh; never loads."""
        entry = self.peek_entry(key)
        return entry[1] if entry is not None else None

    def peek_entry(self, key: K) -> tuple[float, V] | None:
        """(expiry on the cache's clock, value) if cached and fresh; never loads."""
        entry = self._values.get(key)
        if entry is not None and entry[0] > self._clock():
            return entry
        return None

    async def get(self, key: K) -> V:
        entry = self.peek_entry(key)
        if entry is not None:
            return entry[1]
        pending = self._loading.get(key)
        # A load left behind by another event loop (a test that ended mid-load) is not waited on.
        loop = asyncio.get_running_loop()
        if pending is None or pending.done() or pending.get_loop() is not loop:
            stamp = (self._epoch, self._generations.get(key, 0))
            pending = asyncio.ensure_future(self._load(key, stamp))
            self._loading[key] = pending
            pending.add_done_callback(lambda done: self._forget_load(key, done))
        return await asyncio.shield(pending)

    async def _load(self, key: K, stamp: tuple[int, int]) -> V:
        value = await self._loader(key)
        if (self._epoch, self._generations.get(key, 0)) == stamp:
            self._values[key] = (self._clock() + self._ttl, value)
        return value

    def _forget_load(self, key: K, done: asyncio.Future[V]) -> None:
        if self._loading.get(key) is done:
            del self._loading[key]
        if not done.cancelled():
            done.exception()  # its readers re-raise it; nobody logs it as never retrieved

    def invalidate(self, key: K | None = None) -> None:
        """Forget `key` (or every key); a load under way is not kept."""
        if key is None:
            self._values.clear()
            self._loading.clear()
            self._epoch += 1
        else:
            self._values.pop(key, None)
            self._loading.pop(key, None)
            self._generations[key] = self._generations.get(key, 0) + 1
