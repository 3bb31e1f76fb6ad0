"""The entry-count edit throttle: at most one edit per interval per giveaway, never a lost update.

Time is virtual (a manual clock and sleep), so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from cogs.giveaways.throttle import CoalescingThrottle

INTERVAL = 5.0


class ManualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, future))
        await future

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, future in list(self._sleepers):
            if deadline <= self.now and not future.done():
                future.set_result(None)
        self._sleepers = [(d, f) for d, f in self._sleepers if not f.done()]
        await settle()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


class Recorder:
    """Stands for "read the entry count and edit the message"."""

    def __init__(self, time: ManualTime) -> None:
        self.time = time
        self.state: dict[int, int] = {}
        self.edits: list[tuple[float, int, int]] = []  # (time, key, state shown)
        self.gate: asyncio.Event | None = None
        self.fail_next = False

    async def __call__(self, key: int) -> None:
        shown = self.state.get(key, 0)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("Discord said no")
        self.edits.append((self.time.now, key, shown))


@pytest.fixture
def setup() -> tuple[ManualTime, Recorder, CoalescingThrottle[int]]:
    time = ManualTime()
    recorder = Recorder(time)
    throttle = CoalescingThrottle(recorder, INTERVAL, clock=time.clock, sleep=time.sleep)
    return time, recorder, throttle


async def test_a_burst_of_clicks_gives_two_edits_and_the_last_shows_the_final_count(
    setup: tuple[ManualTime, Recorder, CoalescingThrottle[int]],
) -> None:
    time, recorder, throttle = setup
    recorder.state[1] = 1
    throttle.touch(1)
    await settle()
    assert recorder.edits == [(0.0, 1, 1)]  # the first click shows at once

    for _second in range(1, 5):  # four more clicks within the interval
        await time.advance(1)
        recorder.state[1] += 1
        throttle.touch(1)
    await settle()
    assert len(recorder.edits) == 1 and throttle.pending == 1

    await time.advance(1)  # t = 5: one coalesced edit with the count as it is now
    assert recorder.edits == [(0.0, 1, 1), (5.0, 1, 5)]
    await time.advance(60)
    assert len(recorder.edits) == 2 and throttle.pending == 0


async def test_edits_of_one_key_are_at_least_an_interval_apart(
    setup: tuple[ManualTime, Recorder, CoalescingThrottle[int]],
) -> None:
    time, recorder, throttle = setup
    for step in range(100):  # a click every 0.7 s for 70 s
        recorder.state[1] = step
        throttle.touch(1)
        await time.advance(0.7)
    await time.advance(INTERVAL)
    times = [at for at, _, _ in recorder.edits]
    assert all(later - earlier >= INTERVAL for earlier, later in itertools.pairwise(times))
    assert len(times) <= 70 / INTERVAL + 2
    assert recorder.edits[-1][2] == 99  # nothing lost: the final state was shown


async def test_keys_are_independent(
    setup: tuple[ManualTime, Recorder, CoalescingThrottle[int]],
) -> None:
    time, recorder, throttle = setup
    throttle.touch(1)
    await settle()
    await time.advance(1)
    throttle.touch(2)
    await settle()
    assert [(at, key) for at, key, _ in recorder.edits] == [(0.0, 1), (1.0, 2)]


async def test_a_click_during_an_edit_gets_its_own_later_edit(
    setup: tuple[ManualTime, Recorder, CoalescingThrottle[int]],
) -> None:
    time, recorder, throttle = setup
    recorder.gate = asyncio.Event()
    recorder.state[1] = 1
    throttle.touch(1)
    await settle()  # the edit has read state 1 and is waiting on Discord
    recorder.state[1] = 2
    throttle.touch(1)
    recorder.gate.set()
    await settle()
    assert recorder.edits == [(0.0, 1, 1)]
    await time.advance(INTERVAL)
    assert recorder.edits == [(0.0, 1, 1), (5.0, 1, 2)]


async def test_a_failed_edit_does_not_stop_later_ones(
    setup: tuple[ManualTime, Recorder, CoalescingThrottle[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    time, recorder, throttle = setup
    recorder.fail_next = True
    throttle.touch(1)
    await settle()
    assert recorder.edits == [] and "Refreshing 1 failed" in caplog.text
    throttle.touch(1)
    await time.advance(INTERVAL)
    assert len(recorder.edits) == 1


async def test_flush_runs_pending_edits_now(
    setup: tuple[ManualTime, Recorder, CoalescingThrottle[int]],
) -> None:
    time, recorder, throttle = setup
    throttle.touch(1)
    await settle()
    recorder.state[1] = 7
    throttle.touch(1)  # would wait until t = 5
    await throttle.flush()
    assert recorder.edits == [(0.0, 1, 0), (0.0, 1, 7)]
    assert throttle.pending == 0
    await time.advance(60)
    assert len(recorder.edits) == 2  # the cancelled wait did not edit again


async def test_flush_waits_for_a_running_edit(
    setup: tuple[ManualTime, Recorder, CoalescingThrottle[int]],
) -> None:
    _time, recorder, throttle = setup
    recorder.gate = asyncio.Event()
    throttle.touch(1)
    await settle()  # the edit is in flight
    flushing = asyncio.create_task(throttle.flush())
    await settle()
    assert not flushing.done()  # shutdown waits rather than cut the edit off
    recorder.gate.set()
    await flushing
    assert recorder.edits == [(0.0, 1, 0)]


async def test_close_cancels_running_and_waiting_edits(
    setup: tuple[ManualTime, Recorder, CoalescingThrottle[int]],
) -> None:
    time, recorder, throttle = setup
    recorder.gate = asyncio.Event()
    throttle.touch(1)
    throttle.touch(2)
    await settle()
    throttle.touch(1)  # waits behind the running one
    await throttle.close()
    recorder.gate.set()
    await time.advance(60)
    assert recorder.edits == [] and throttle.pending == 0
