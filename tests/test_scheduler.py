"""Durable timers: due actions run exactly once across racing schedulers, crashes and retries."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from models.scheduling import ActionStatus, ScheduledAction
from pegasus.scheduler import LEASE, MAX_ATTEMPTS, Scheduler, cancel, schedule

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def recording_scheduler(clock: Clock, calls: list[int], **kwargs: object) -> Scheduler:
    scheduler = Scheduler(clock=clock, **kwargs)  # type: ignore[arg-type]

    async def handler(action: ScheduledAction) -> None:
        await asyncio.sleep(0)  # let racing schedulers interleave
        calls.append(action.id)

    scheduler.register("test.ping", handler)
    return scheduler


async def test_runs_due_actions_only(db: None) -> None:
    clock = Clock()
    calls: list[int] = []
    scheduler = recording_scheduler(clock, calls)
    due = await schedule("test.ping", T0 - timedelta(seconds=1), {"n": 1}, guild_id=1)
    later = await schedule("test.ping", T0 + timedelta(hours=1), {"n": 2}, guild_id=1)

    assert await scheduler.run_due() == 1
    assert calls == [due]
    assert (await ScheduledAction.get(id=due)).status == ActionStatus.DONE
    assert (await ScheduledAction.get(id=later)).status == ActionStatus.PENDING

    clock.advance(hours=2)
    assert await scheduler.run_due() == 1
    assert calls == [due, later]
    assert await scheduler.run_due() == 0


async def test_racing_schedulers_run_each_action_once(db: None) -> None:
    clock = Clock()
    calls: list[int] = []
    schedulers = [recording_scheduler(clock, calls) for _ in range(4)]
    ids = [await schedule("test.ping", T0 - timedelta(seconds=i), guild_id=i) for i in range(30)]
    await asyncio.gather(*(s.run_due() for s in schedulers for _ in range(3)))
    assert sorted(calls) == sorted(ids)
    assert await ScheduledAction.filter(status=ActionStatus.DONE).count() == 30


async def test_claim_of_a_crashed_process_is_taken_back_after_its_lease(db: None) -> None:
    clock = Clock()
    crashed = Scheduler(clock=clock)
    crashed.register("test.ping", lambda action: asyncio.sleep(0))
    action_id = await schedule("test.ping", T0, guild_id=1)
    assert await crashed._claim(action_id, T0)  # claimed, then the process died

    calls: list[int] = []
    survivor = recording_scheduler(clock, calls)
    assert await survivor.run_due() == 0  # still leased
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await survivor.run_due() == 1
    assert calls == [action_id]
    action = await ScheduledAction.get(id=action_id)
    assert action.status == ActionStatus.DONE and action.attempts == 2


async def test_failures_are_retried_with_backoff_then_marked_failed(db: None) -> None:
    clock = Clock()
    scheduler = Scheduler(clock=clock)
    attempts: list[datetime] = []

    async def flaky(action: ScheduledAction) -> None:
        attempts.append(clock())
        raise RuntimeError("Discord is down")

    scheduler.register("test.flaky", flaky)
    action_id = await schedule("test.flaky", T0, guild_id=None)
    for _ in range(MAX_ATTEMPTS):
        assert await scheduler.run_due() == 0
        action = await ScheduledAction.get(id=action_id)
        clock.now = action.due_at
    action = await ScheduledAction.get(id=action_id)
    assert len(attempts) == MAX_ATTEMPTS
    assert action.status == ActionStatus.FAILED
    assert action.last_error == "RuntimeError: Discord is down"
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert gaps == sorted(gaps) and gaps[0] == 5


async def test_dedupe_key_replaces_and_cancel_cancels(db: None) -> None:
    first = await schedule("test.ping", T0, guild_id=1, dedupe_key="ban:1:2")
    second = await schedule("test.ping", T0 + timedelta(hours=1), guild_id=1, dedupe_key="ban:1:2")
    assert (await ScheduledAction.get(id=first)).status == ActionStatus.CANCELLED
    assert (await ScheduledAction.get(id=second)).status == ActionStatus.PENDING
    assert await cancel("test.ping", "ban:1:2") == 1
    assert (await ScheduledAction.get(id=second)).status == ActionStatus.CANCELLED


async def test_only_owned_guilds_and_known_kinds_are_taken(db: None) -> None:
    clock = Clock()
    calls: list[int] = []
    scheduler = recording_scheduler(clock, calls, owns_guild=lambda guild_id: guild_id == 1)
    mine = await schedule("test.ping", T0, guild_id=1)
    await schedule("test.ping", T0, guild_id=2)
    await schedule("test.unknown", T0, guild_id=1)
    assert await scheduler.run_due() == 1
    assert calls == [mine]
    assert await ScheduledAction.filter(status=ActionStatus.PENDING).count() == 2


async def test_scheduling_is_part_of_the_callers_transaction(db: None) -> None:
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await schedule("test.ping", T0, guild_id=1, using_db=conn)
            raise RuntimeError("the action failed, so its timer must not exist")
    assert await ScheduledAction.all().count() == 0


async def test_background_loop_runs_actions_and_stops(db: None) -> None:
    calls: list[int] = []
    done = asyncio.Event()
    scheduler = Scheduler(poll_interval=0.05)

    async def handler(action: ScheduledAction) -> None:
        calls.append(action.id)
        done.set()

    scheduler.register("test.ping", handler)
    scheduler.start()
    try:
        action_id = await schedule("test.ping", datetime.now(UTC), guild_id=1)
        scheduler.wake()
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        await scheduler.stop()
    assert calls == [action_id]
    assert not scheduler.running


async def test_a_clean_stop_lets_the_running_action_finish(db: None) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[int] = []
    scheduler = Scheduler(poll_interval=0.05)

    async def slow(action: ScheduledAction) -> None:
        started.set()
        await release.wait()  # e.g. a kick, then the report, then a DM
        finished.append(action.id)

    scheduler.register("test.slow", slow)
    first = await schedule("test.slow", datetime.now(UTC), guild_id=1)
    await schedule("test.slow", datetime.now(UTC), guild_id=1)
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    stopping = asyncio.create_task(scheduler.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waiting for the handler, not cancelling it
    release.set()
    await asyncio.wait_for(stopping, timeout=5)
    assert finished == [first]
    assert (await ScheduledAction.get(id=first)).status == ActionStatus.DONE
    # The second action was left for the next start, untouched.
    assert await ScheduledAction.filter(status=ActionStatus.PENDING).count() == 1


async def test_a_stop_cancels_a_handler_that_outlasts_the_grace(db: None) -> None:
    scheduler = Scheduler(poll_interval=0.05)
    started = asyncio.Event()

    async def stuck(action: ScheduledAction) -> None:
        started.set()
        await asyncio.Event().wait()

    scheduler.register("test.stuck", stuck)
    action_id = await schedule("test.stuck", datetime.now(UTC), guild_id=1)
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    await scheduler.stop(grace=0.1)
    action = await ScheduledAction.get(id=action_id)
    assert action.status == ActionStatus.PENDING  # released, to run again after the restart
