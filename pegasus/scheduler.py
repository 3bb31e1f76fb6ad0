"""Durable timers over the `scheduled_actions` table.

An action is a row written in the same transaction as whatever schedules it. The scheduler polls
for due rows of the kinds it has handlers for and of the guilds this process owns (its shards),
claims each with a conditional UPDATE (pending → running, with a lease), runs the handler and
marks the row done. Two processes, a restart or a crash therefore never skip an action, and never
run one twice while it is leased. A handler that raises is retried with exponential back-off;
a claim whose process died is taken back when its lease runs out, so handlers must tolerate a
repeat after a crash (for example an unban that finds no ban).

A handler may return a JSON-able result, kept on the row (a queued job reports it). A handler
that raises `ActionRefused` fails at once, with its message as the reason: a refusal (the
giveaway has already ended) does not get better by retrying.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q

from models.scheduling import ActionStatus, ScheduledAction
from pegasus.outage import health, is_database_unreachable

log = logging.getLogger(__name__)

Handler = Callable[[ScheduledAction], Awaitable[Any]]
Clock = Callable[[], datetime]

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BATCH = 50
STOP_GRACE_SECONDS = 30.0


class ActionRefused(Exception):
    """An action that cannot be carried out, for a reason a person can read (str() of it)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff_seconds(attempts: int) -> int:
    """5 s, 10 s, 20 s ... capped at 10 minutes."""
    return min(5 * 2 ** max(attempts - 1, 0), 600)


async def schedule(
    kind: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
    *,
    guild_id: int | None,
    dedupe_key: str | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> int:
    """Create a pending action and return its id.

    With a `dedupe_key`, a pending action of the same kind and key is replaced, so rescheduling
    (a new tempban over an old one, an extended giveaway) leaves exactly one timer.
    """
    if dedupe_key is not None:
        await cancel(kind, dedupe_key, using_db=using_db)
    action = await ScheduledAction.create(
        kind=kind,
        guild_id=guild_id,
        payload=payload or {},
        due_at=due_at,
        dedupe_key=dedupe_key,
        using_db=using_db,
    )
    return action.id


async def cancel(kind: str, dedupe_key: str, *, using_db: BaseDBAsyncClient | None = None) -> int:
    """Cancel pending actions of `kind` with `dedupe_key`; returns how many were cancelled."""
    return await (
        ScheduledAction.filter(kind=kind, dedupe_key=dedupe_key, status=ActionStatus.PENDING)
        .using_db(using_db)
        .update(status=ActionStatus.CANCELLED, finished_at=utcnow())
    )


class Scheduler:
    """Polls and runs due actions for the kinds registered with `register`."""

    def __init__(
        self,
        *,
        owns_guild: Callable[[int | None], bool] = lambda _guild_id: True,
        poll_interval: float = 1.0,
        clock: Clock = utcnow,
        worker_id: str | None = None,
    ) -> None:
        self._handlers: dict[str, Handler] = {}
        self._owns_guild = owns_guild
        self.poll_interval = poll_interval
        self._clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is already registered")
        self._handlers[kind] = handler

    def unregister(self, kind: str) -> None:
        self._handlers.pop(kind, None)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._loop(), name="pegasus-scheduler")

    def wake(self) -> None:
        """Poll now rather than at the next interval (after scheduling something due soon)."""
        self._wake.set()

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop polling. An action already running is allowed to finish (up to `grace`
        seconds), so a clean stop never cuts a handler in the middle of its effects."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
        except TimeoutError:
            log.warning("A scheduled action outlasted the %.0fs stop grace; cancelling it", grace)
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._task = None
        self._stopping = False

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if is_database_unreachable(error):
                    health.report(error)  # logged once per outage; due actions wait for it
                else:
                    log.exception("Scheduler poll failed; retrying in %.1fs", self.poll_interval)
            if self._stopping:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                pass

    async def run_due(self) -> int:
        """Run every due action this process may take; returns how many ran successfully."""
        if not self._handlers:
            return 0
        now = self._clock()
        candidates = await (
            ScheduledAction.filter(kind__in=list(self._handlers), due_at__lte=now)
            .filter(
                Q(status=ActionStatus.PENDING)
                | Q(status=ActionStatus.RUNNING, locked_until__lt=now)
            )
            .order_by("due_at", "id")
            .limit(BATCH)
            .values_list("id", "guild_id")
        )
        done = 0
        for action_id, guild_id in candidates:
            if self._stopping:
                break  # leave the rest for the next start (or another process)
            if self._owns_guild(guild_id) and await self._claim(action_id, now):
                done += await self._run(action_id)
        return done

    async def _claim(self, action_id: int, now: datetime) -> bool:
        claimed = await (
            ScheduledAction.filter(id=action_id)
            .filter(
                Q(status=ActionStatus.PENDING)
                | Q(status=ActionStatus.RUNNING, locked_until__lt=now)
            )
            .update(
                status=ActionStatus.RUNNING,
                locked_by=self.worker_id,
                locked_until=now + LEASE,
                attempts=F("attempts") + 1,
            )
        )
        return claimed == 1

    async def _run(self, action_id: int) -> int:
        action = await ScheduledAction.get(id=action_id)
        handler = self._handlers[action.kind]
        try:
            result = await handler(action)
        except asyncio.CancelledError:
            await self._release(action)
            raise
        except ActionRefused as refusal:
            await self._record_refusal(action, refusal)
            return 0
        except Exception as exc:
            await self._record_failure(action, exc)
            return 0
        await self._finish(action, result)
        return 1

    async def _finish(self, action: ScheduledAction, result: Any = None) -> None:
        await ScheduledAction.filter(id=action.id, locked_by=self.worker_id).update(
            status=ActionStatus.DONE,
            finished_at=self._clock(),
            locked_until=None,
            **({} if result is None else {"result": result}),
        )

    async def _record_refusal(self, action: ScheduledAction, refusal: ActionRefused) -> None:
        log.info("Scheduled action %s refused: %s", action, refusal)
        await ScheduledAction.filter(id=action.id, locked_by=self.worker_id).update(
            status=ActionStatus.FAILED,
            last_error=str(refusal)[:2000],
            locked_by=None,
            locked_until=None,
            finished_at=self._clock(),
        )

    async def _release(self, action: ScheduledAction) -> None:
        await ScheduledAction.filter(id=action.id, locked_by=self.worker_id).update(
            status=ActionStatus.PENDING, locked_by=None, locked_until=None
        )

    async def _record_failure(self, action: ScheduledAction, exc: Exception) -> None:
        final = action.attempts >= MAX_ATTEMPTS
        log.log(
            logging.ERROR if final else logging.WARNING,
            "Scheduled action %s failed (attempt %d of %d)",
            action,
            action.attempts,
            MAX_ATTEMPTS,
            exc_info=exc,
        )
        await ScheduledAction.filter(id=action.id, locked_by=self.worker_id).update(
            status=ActionStatus.FAILED if final else ActionStatus.PENDING,
            due_at=self._clock() + timedelta(seconds=backoff_seconds(action.attempts)),
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            locked_by=None,
            locked_until=None,
            finished_at=self._clock() if final else None,
        )
