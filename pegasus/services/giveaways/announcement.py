"""Announcing the end exactly once: a lease claimed before posting and confirmed after.

Announcing the end is claimed as a lease that is confirmed after posting, so it happens once even
when a process dies mid-way (at least once in the one window Discord leaves open; see
`claim_announcement`). The cog runs claim → post → confirm (or release) as one flow
(`pegasus.ui.flows.run_flow`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.expressions import Q

from models.giveaways import Giveaway, GiveawayStatus
from pegasus import scheduler

from .lifecycle import END_KIND

# A claim on the announcement that is still unconfirmed after this long belongs to a process
# that died (posting takes seconds); the end timer takes it back and announces.
ANNOUNCEMENT_LEASE_SECONDS = 300


async def claim_announcement(giveaway_pk: int, *, now: datetime) -> bool:
    """True for the one caller that should announce this ended giveaway now.

    The announcement is handed out as a lease of `ANNOUNCEMENT_LEASE_SECONDS`:

    * the claim sets `announced_at` (a conditional UPDATE: only when nobody holds a live claim
      and nobody has confirmed), so racing timers, commands and processes get one True;
    * after posting, the announcer calls `confirm_announcement`; a confirmed giveaway is never
      claimed again;
    * if posting fails, the announcer calls `release_announcement` and the next attempt (the
      timer's retry, or the retry a command schedules) claims it again;
    * if the announcer's process dies between the claim and the confirmation, the claim simply
      runs out: the end timer (`follow_up_announcement` keeps it pending until then) claims it
      again once it is older than the lease, and announces.

    So every ended giveaway is announced, across crashes, restarts and several processes. The
    one remaining window is Discord's: a process that dies after Discord accepted the post but
    before the confirmation was written leaves an unconfirmed claim, and the giveaway is
    announced a second time when the lease runs out. That is deliberate: announced twice in that
    rare case rather than never.
    """
    expired_before = now - timedelta(seconds=ANNOUNCEMENT_LEASE_SECONDS)
    claimed = await (
        Giveaway.filter(
            id=giveaway_pk,
            status=GiveawayStatus.ENDED,
            announcement_confirmed_at__isnull=True,
        )
        .filter(Q(announced_at__isnull=True) | Q(announced_at__lte=expired_before))
        .update(announced_at=now)
    )
    return claimed == 1


async def confirm_announcement(giveaway_pk: int, *, now: datetime) -> None:
    """The announcement was posted (or can never be): no claim is handed out any more."""
    await Giveaway.filter(id=giveaway_pk, announcement_confirmed_at__isnull=True).update(
        announcement_confirmed_at=now
    )


async def release_announcement(giveaway_pk: int, *, claimed_at: datetime) -> None:
    """Give back the claim taken at `claimed_at` after posting failed.

    Only that claim: an announcer so slow that its lease ran out and another process claimed
    the announcement must not free the other process's live claim.
    """
    await Giveaway.filter(
        id=giveaway_pk, announced_at=claimed_at, announcement_confirmed_at__isnull=True
    ).update(announced_at=None)


async def follow_up_announcement(giveaway_pk: int, *, now: datetime) -> datetime | None:
    """Keep the end timer pending while someone else's claim on the announcement is unconfirmed.

    Called by the end timer when `claim_announcement` said no. If the announcement is not
    confirmed, the timer is scheduled again for when the current claim's lease runs out (at
    least a second from now), so a claim whose process died is taken back and announced. Returns
    that time, or None when there is nothing to follow up (confirmed, cancelled, deleted).
    """
    giveaway = await Giveaway.get_or_none(id=giveaway_pk)
    if (
        giveaway is None
        or giveaway.status is not GiveawayStatus.ENDED
        or giveaway.announcement_confirmed_at is not None
    ):
        return None
    lease = timedelta(seconds=ANNOUNCEMENT_LEASE_SECONDS)
    # A claim released meanwhile (its post failed) can be taken right away.
    due = now if giveaway.announced_at is None else giveaway.announced_at + lease
    due = max(due, now + timedelta(seconds=1))
    await scheduler.schedule(
        END_KIND,
        due,
        {"giveaway": giveaway_pk},
        guild_id=giveaway.guild_id,  # type: ignore[attr-defined]
        dedupe_key=giveaway.giveaway_id,
    )
    return due


async def schedule_announcement_retry(
    giveaway_pk: int, *, now: datetime, due_in_seconds: int
) -> None:
    """Have the end timer try the announcement again (after a failure outside the timer)."""
    giveaway = await Giveaway.get_or_none(id=giveaway_pk)
    if giveaway is None:
        return
    await scheduler.schedule(
        END_KIND,
        now + timedelta(seconds=due_in_seconds),
        {"giveaway": giveaway_pk},
        guild_id=giveaway.guild_id,  # type: ignore[attr-defined]
        dedupe_key=giveaway.giveaway_id,
    )
