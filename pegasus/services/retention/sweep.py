"""The retention sweep: deletes the records each guild keeps for a limited number of days.

A durable periodic job (`SWEEP_KIND`, one for the whole bot) runs `sweep` every
`SWEEP_INTERVAL`: a closed ticket's messages go `retention_ticket_days` after it closed, security
and audit log entries `retention_*_log_days` after they were written (0 keeps them). Guilds are
grouped by their number of days, so a sweep costs a few statements however many guilds there
are; each delete uses the (guild_id, created_at) indexes of the logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.guilds import GuildSettings
from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditLog, SecurityLog
from models.tickets import Ticket, TicketMessage, TicketStatus
from pegasus.scheduler import schedule
from pegasus.services import attachments

__all__ = [
    "SWEEP_INTERVAL",
    "SWEEP_KIND",
    "SweepSummary",
    "ensure_sweep_scheduled",
    "schedule_next_sweep",
    "sweep",
]

SWEEP_KIND = "retention.sweep"
SWEEP_INTERVAL = timedelta(hours=1)
_SWEEP_KEY = "retention"


@dataclass(frozen=True, slots=True)
class SweepSummary:
    ticket_messages: int
    security_logs: int
    audit_logs: int
    kept_files: int = 0  # copies of attachments no record uses once the messages went

    @property
    def rows(self) -> int:
        return self.ticket_messages + self.security_logs + self.audit_logs + self.kept_files


async def _day_values(column: str) -> list[int]:
    """The distinct numbers of days guilds set in `column`, off (0) left out."""
    values = await GuildSettings.filter(**{f"{column}__gt": 0}).distinct().values_list(
        column, flat=True
    )
    return sorted(set(values))


def _guilds_keeping(column: str, days: int) -> Subquery:
    return Subquery(GuildSettings.filter(**{column: days}).values("guild_id"))


OldRows = Callable[[Subquery, datetime], QuerySet]  # (guilds, cutoff) → the rows to delete


async def _delete_older(column: str, now: datetime, rows: OldRows) -> int:
    deleted = 0
    for days in await _day_values(column):
        old = rows(_guilds_keeping(column, days), now - timedelta(days=days))
        # Counted first: SQLite's count of a DELETE includes rows its foreign keys cascade to.
        found = await old.count()
        if found:
            await old.delete()
        deleted += found
    return deleted


def _old_log_rows(model: type[Model]) -> OldRows:
    def rows(guilds: Subquery, cutoff: datetime) -> QuerySet:
        return model.filter(guild_id__in=guilds, created_at__lt=cutoff)

    return rows


def _old_ticket_messages(guilds: Subquery, cutoff: datetime) -> QuerySet:
    closed = Ticket.filter(
        guild_id__in=guilds, status=TicketStatus.CLOSED, closed_at__lt=cutoff
    ).values("id")
    return TicketMessage.filter(ticket_id__in=Subquery(closed))


async def sweep(now: datetime) -> SweepSummary:
    """Delete every record older than its guild keeps it; returns how many went, by kind."""
    ticket_messages = await _delete_older("retention_ticket_days", now, _old_ticket_messages)
    return SweepSummary(
        ticket_messages=ticket_messages,
        security_logs=await _delete_older(
            "retention_security_log_days", now, _old_log_rows(SecurityLog)
        ),
        audit_logs=await _delete_older(
            "retention_audit_log_days", now, _old_log_rows(AuditLog)
        ),
        # The messages' kept files lost their last reference: their bytes go too.
        kept_files=await attachments.drop_unreferenced() if ticket_messages else 0,
    )


async def ensure_sweep_scheduled(now: datetime) -> None:
    """Schedule the next sweep unless one is already waiting or running (another process's)."""
    waiting = await ScheduledAction.filter(
        kind=SWEEP_KIND, status__in=[ActionStatus.PENDING, ActionStatus.RUNNING]
    ).exists()
    if not waiting:
        await schedule_next_sweep(now)


async def schedule_next_sweep(now: datetime) -> None:
    """The next sweep, one interval from `now` (replacing one already waiting)."""
    await schedule(SWEEP_KIND, now + SWEEP_INTERVAL, guild_id=None, dedupe_key=_SWEEP_KEY)
