"""Announcing an ended giveaway is a lease: claimed, posted, confirmed. A process that dies after
claiming and before confirming must not leave the giveaway unannounced for ever: once the lease
runs out the end timer takes the claim back and announces, once. Run on both dialects."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from models.giveaways import Giveaway
from models.scheduling import ActionStatus, ScheduledAction
from pegasus import scheduler as scheduling
from pegasus.scheduler import Scheduler
from pegasus.services import giveaways as svc

pytestmark = pytest.mark.usefixtures("db")

GUILD = 1_000_000_000_000_001
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=svc.ANNOUNCEMENT_LEASE_SECONDS)
SECOND = timedelta(seconds=1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def ended_giveaway() -> Giveaway:
    giveaway = await svc.create_giveaway(
        svc.GiveawayDraft(
            guild_id=GUILD,
            channel_id=2,
            host_id=3,
            prize="Nitro",
            winner_count=1,
            duration_seconds=60,
        ),
        now=NOW - timedelta(minutes=1),
        rng=random.Random(7),
    )
    for user_id in range(100, 105):
        await svc.toggle_entry(giveaway.id, svc.Entrant(user_id), now=NOW - SECOND)
    ended = await svc.end_giveaway(giveaway.id, now=NOW)
    assert ended is not None
    return ended


def end_timer_like_the_cog(clock: Clock, announced: list[int]) -> Scheduler:
    """A scheduler whose end-timer handler does what the giveaway cog's does; posting to Discord
    is the one thing replaced, by appending to `announced`."""
    timers = Scheduler(clock=clock)

    async def on_end_due(action: ScheduledAction) -> None:
        giveaway_pk = int(action.payload["giveaway"])
        await svc.end_due(giveaway_pk, now=clock())
        if await svc.claim_announcement(giveaway_pk, now=clock()):
            announced.append(giveaway_pk)
            await svc.confirm_announcement(giveaway_pk, now=clock())
        else:
            await svc.follow_up_announcement(giveaway_pk, now=clock())

    timers.register(svc.END_KIND, on_end_due)
    return timers


async def pending_end_timers(giveaway: Giveaway) -> list[ScheduledAction]:
    return await ScheduledAction.filter(
        kind=svc.END_KIND, dedupe_key=giveaway.giveaway_id, status=ActionStatus.PENDING
    )


async def test_a_claim_never_confirmed_is_handed_out_again_once_when_its_lease_runs_out() -> None:
    giveaway = await ended_giveaway()
    assert await svc.claim_announcement(giveaway.id, now=NOW)  # then the process died

    almost = NOW + LEASE - SECOND
    early = await asyncio.gather(
        *(svc.claim_announcement(giveaway.id, now=almost) for _ in range(4))
    )
    assert early == [False] * 4
    assert await svc.follow_up_announcement(giveaway.id, now=almost) == NOW + LEASE
    [timer] = await pending_end_timers(giveaway)
    assert timer.due_at == NOW + LEASE

    expired = NOW + LEASE
    late = await asyncio.gather(
        *(svc.claim_announcement(giveaway.id, now=expired) for _ in range(4))
    )
    assert late.count(True) == 1
    await svc.confirm_announcement(giveaway.id, now=expired + SECOND)

    # Confirmed: never handed out again, however old the claim, and nothing to follow up.
    much_later = NOW + 100 * LEASE
    assert not await svc.claim_announcement(giveaway.id, now=much_later)
    assert await svc.follow_up_announcement(giveaway.id, now=much_later) is None
    stored = await Giveaway.get(id=giveaway.id)
    assert stored.announcement_confirmed_at == expired + SECOND


async def test_the_backstop_announces_a_manual_end_whose_process_died_after_claiming() -> None:
    giveaway = await svc.create_giveaway(
        svc.GiveawayDraft(
            guild_id=GUILD,
            channel_id=2,
            host_id=3,
            prize="Nitro",
            winner_count=1,
            duration_seconds=3600,
        ),
        now=NOW - timedelta(minutes=1),
        rng=random.Random(3),
    )
    await svc.toggle_entry(giveaway.id, svc.Entrant(100), now=NOW - SECOND)
    # `/giveaway end`: drawn, announcement claimed, then the process died before posting.
    await svc.end_now(GUILD, giveaway.giveaway_id, now=NOW, by=3)
    assert await svc.claim_announcement(giveaway.id, now=NOW)

    clock = Clock(NOW + timedelta(seconds=svc.ANNOUNCEMENT_BACKSTOP_SECONDS))
    announced: list[int] = []
    timers = end_timer_like_the_cog(clock, announced)
    assert await timers.run_due() == 1  # the backstop: the claim is still leased
    assert announced == []
    [follow_up] = await pending_end_timers(giveaway)
    assert follow_up.due_at == NOW + LEASE

    clock.now = NOW + LEASE - SECOND
    assert await timers.run_due() == 0
    clock.now = NOW + LEASE
    assert await timers.run_due() == 1
    assert announced == [giveaway.id]
    assert await pending_end_timers(giveaway) == []

    # Any later run (a repeat, a second process) announces nothing more.
    await ScheduledAction.filter(id=follow_up.id).update(status=ActionStatus.PENDING)
    clock.now = NOW + 10 * LEASE
    assert await timers.run_due() == 1
    assert announced == [giveaway.id]
    assert await pending_end_timers(giveaway) == []


async def test_the_end_timer_announces_when_its_own_run_died_after_claiming() -> None:
    giveaway = await svc.create_giveaway(
        svc.GiveawayDraft(
            guild_id=GUILD,
            channel_id=2,
            host_id=3,
            prize="Nitro",
            winner_count=1,
            duration_seconds=60,
        ),
        now=NOW - timedelta(minutes=1),
        rng=random.Random(4),
    )
    await svc.toggle_entry(giveaway.id, svc.Entrant(100), now=NOW - SECOND)
    [timer] = await pending_end_timers(giveaway)
    # A process took the timer, ended the giveaway, claimed the announcement and died.
    crashed = Scheduler(clock=Clock(NOW))
    crashed.register(svc.END_KIND, lambda action: asyncio.sleep(0))
    assert await crashed._claim(timer.id, NOW)
    assert await svc.end_due(giveaway.id, now=NOW) is not None
    assert await svc.claim_announcement(giveaway.id, now=NOW)

    clock = Clock(NOW + timedelta(minutes=1))
    announced: list[int] = []
    survivor = end_timer_like_the_cog(clock, announced)
    assert await survivor.run_due() == 0  # the timer itself is still leased to the dead process
    clock.now = NOW + max(LEASE, scheduling.LEASE) + SECOND
    assert await survivor.run_due() == 1
    assert announced == [giveaway.id]
    assert not await svc.claim_announcement(giveaway.id, now=NOW + 10 * LEASE)


async def test_releasing_gives_back_only_ones_own_claim() -> None:
    giveaway = await ended_giveaway()
    assert await svc.claim_announcement(giveaway.id, now=NOW)  # slow, not dead
    taken_over = NOW + LEASE
    assert await svc.claim_announcement(giveaway.id, now=taken_over)
    # The slow announcer fails and releases: the live claim of the other one stands.
    await svc.release_announcement(giveaway.id, claimed_at=NOW)
    assert not await svc.claim_announcement(giveaway.id, now=taken_over + SECOND)
    # The other one fails too: released, the next attempt claims it right away, once.
    await svc.release_announcement(giveaway.id, claimed_at=taken_over)
    retry = taken_over + 2 * SECOND
    assert [await svc.claim_announcement(giveaway.id, now=retry) for _ in range(3)] == [
        True,
        False,
        False,
    ]
    # A confirmed announcement is not released by a late failure report.
    await svc.confirm_announcement(giveaway.id, now=retry)
    await svc.release_announcement(giveaway.id, claimed_at=retry)
    assert (await Giveaway.get(id=giveaway.id)).announced_at == retry
    assert not await svc.claim_announcement(giveaway.id, now=retry + 10 * LEASE)


async def test_a_released_claim_is_followed_up_right_away() -> None:
    giveaway = await ended_giveaway()
    assert await svc.follow_up_announcement(giveaway.id, now=NOW) == NOW + SECOND
    cancelled = await svc.create_giveaway(
        svc.GiveawayDraft(
            guild_id=GUILD,
            channel_id=2,
            host_id=3,
            prize="Steam key",
            winner_count=1,
            duration_seconds=60,
        ),
        now=NOW,
    )
    await svc.cancel_giveaway(GUILD, cancelled.giveaway_id, now=NOW)
    assert await svc.follow_up_announcement(cancelled.id, now=NOW) is None
    assert not await svc.claim_announcement(cancelled.id, now=NOW)
