"""Coalesced, rate-limited refreshes: at most one run per key per interval, never a lost update.

Every click on Enter changes a giveaway's entry count, but editing the message on every click would
run into Discord's rate limits (about five edits per five seconds per channel). `touch(key)` asks
for a refresh; the first one runs at once, later ones within `interval` collapse into a single run
at the end of the interval, which reads the state as it is *then*. So the message always ends up
current, with at most one edit per interval per giveaway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


class CoalescingThrottle(Generic[K]):
    def __init__(
        self,
        action: Callable[[K], Awaitable[None]],
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._action = action
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._pending: dict[K, asyncio.Task[None]] = {}  # waiting for their turn
        self._tasks: set[asyncio.Task[None]] = set()  # every live one, waiting or running
        self._last_run: dict[K, float] = {}

    def touch(self, key: K) -> None:
        """Ask for a refresh of `key`; returns at once."""
        if key in self._pending:
            return  # the pending run has not read the state yet, so it will include this change
        self._forget_idle_keys()
        task = asyncio.create_task(self._run(key), name=f"refresh {key}")
        self._pending[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _run(self, key: K) -> None:
        try:
            wait = self._last_run.get(key, float("-inf")) + self.interval - self._clock()
            if wait > 0:
                await self._sleep(wait)
            # Leave the pending set before acting: a touch during the action schedules one more
            # run (after the interval), because this run may already have read the old state.
            self._pending.pop(key, None)
            self._last_run[key] = self._clock()
            await self._action(key)
        except asyncio.CancelledError:
            if self._pending.get(key) is asyncio.current_task():
                del self._pending[key]
            raise
        except Exception:
            log.exception("Refreshing %s failed", key)

    def _forget_idle_keys(self) -> None:
        now = self._clock()
        for key in [k for k, at in self._last_run.items() if now - at > self.interval]:
            del self._last_run[key]

    async def flush(self) -> None:
        """Finish running refreshes and run every waiting one now (on shutdown)."""
        keys = list(self._pending)
        waiting = [self._pending.pop(key) for key in keys]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for key in keys:
            try:
                await self._action(key)
            except Exception:
                log.exception("Refreshing %s failed", key)

    async def close(self) -> None:
        """Cancel everything, waiting or running."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pending.clear()
