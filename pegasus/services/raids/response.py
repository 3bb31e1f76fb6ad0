"""Who a raid response acts on: the joining wave, never staff or members from before the raid.

The cog knows Discord's side (roles, permissions, join times); these rules decide on plain facts,
so the same selection holds whatever adapter asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.security import SecurityIncident
from pegasus.services.security.incidents import OPEN_STATUSES
from pegasus.services.security.raids import RAID_INCIDENT

__all__ = [
    "ActiveRaid",
    "Joiner",
    "active_raid",
    "too_young",
    "wave_targets",
]


@dataclass(frozen=True, slots=True)
class Joiner:
    """A member of a raid report, as the guild knows them now."""

    user_id: int
    joined_at: datetime | None
    is_staff: bool  # any moderation permission, or a role not below the bot's highest
    is_bot: bool


@dataclass(frozen=True, slots=True)
class ActiveRaid:
    incident_pk: int
    incident_id: str
    last_join_at: datetime


def wave_targets(joiners: Iterable[Joiner], window_start: datetime) -> list[int]:
    """The members to kick or ban: those who joined within the raid's window, never staff,
    bots, or anyone who joined before the window (a member of old who happened to re-appear)."""
    return [
        joiner.user_id
        for joiner in joiners
        if not joiner.is_staff
        and not joiner.is_bot
        and joiner.joined_at is not None
        and joiner.joined_at >= window_start
    ]


def too_young(created_at: datetime, now: datetime, min_days: int) -> bool:
    """Whether an account created at `created_at` is younger than `min_days` (0: never)."""
    return min_days > 0 and now - created_at < timedelta(days=min_days)


async def active_raid(guild_id: int, now: datetime, hold_seconds: int) -> ActiveRaid | None:
    """The guild's raid that still lasts: its incident is open and its last join is at most
    `hold_seconds` old. Read from the database, so it holds across a restart."""
    rows = (
        await SecurityIncident.filter(
            guild_id=guild_id, type=RAID_INCIDENT, status__in=OPEN_STATUSES
        )
        .order_by("-id")
        .limit(5)
    )
    for row in rows:
        stamp = (row.metadata or {}).get("last_join_at")
        if stamp is None:
            continue
        last = datetime.fromisoformat(stamp)
        if now - last <= timedelta(seconds=hold_seconds):
            return ActiveRaid(row.id, row.incident_id, last)
    return None
