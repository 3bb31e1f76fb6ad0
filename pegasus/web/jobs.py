"""Queued Discord actions ("jobs"): what the REST API asks the bot to do on Discord.

Posting a ticket panel, ending or rerolling a giveaway and sending a test greeting need the
gateway process that owns the guild's shard. The API (in the bot's process or standalone) checks
what it can without Discord, then queues the action as a `scheduled_actions` row due now; the
scheduler of the process that owns the guild runs it with the executor its cog registered and
keeps what it produced. `/api/v1/jobs/{id}` reports the row: pending, done with the result, or
failed with the reason. One path whether the API runs in the bot's process or beside it.

An executor refuses with a `PegasusError` (the same sentence a slash command would show); the job
fails at once with that sentence in plain words. Anything else is retried with back-off by the
scheduler and, after its last attempt, fails with what went wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from models.scheduling import ActionStatus, ScheduledAction
from pegasus.errors import NotFoundError, PegasusError, ValidationError
from pegasus.i18n import _
from pegasus.scheduler import ActionRefused, schedule
from pegasus.services import giveaways, tickets

__all__ = [
    "Job",
    "JobKind",
    "JobState",
    "enqueue",
    "enqueue_giveaway_end",
    "enqueue_giveaway_post",
    "enqueue_giveaway_refresh",
    "enqueue_giveaway_reroll",
    "enqueue_greeting_test",
    "enqueue_ticket_panel_refresh",
    "enqueue_ticket_panel_send",
    "get_job",
    "job_executor",
    "job_url",
]

JOBS_PATH = "/api/v1/jobs"


class JobKind(StrEnum):
    """The queued actions, as `scheduled_actions.kind`."""

    TICKET_PANEL_SEND = "job.ticket_panel.send"
    TICKET_PANEL_REFRESH = "job.ticket_panel.refresh"
    GIVEAWAY_POST = "job.giveaway.post"
    GIVEAWAY_REFRESH = "job.giveaway.refresh"
    GIVEAWAY_END = "job.giveaway.end"
    GIVEAWAY_REROLL = "job.giveaway.reroll"
    GREETING_TEST = "job.greeting.test"


class JobState(StrEnum):
    PENDING = "pending"  # queued, running, or waiting for a retry
    DONE = "done"
    FAILED = "failed"


_STATE_OF = {
    ActionStatus.PENDING: JobState.PENDING,
    ActionStatus.RUNNING: JobState.PENDING,
    ActionStatus.DONE: JobState.DONE,
    ActionStatus.FAILED: JobState.FAILED,
    ActionStatus.CANCELLED: JobState.FAILED,
}

CANCELLED_REASON = "The job was cancelled before it ran."


def job_url(job_id: int) -> str:
    return f"{JOBS_PATH}/{job_id}"


@dataclass(frozen=True, slots=True)
class Job:
    """A queued action as its job URL reports it."""

    id: int
    kind: str
    guild_id: int | None
    state: JobState
    result: Mapping[str, Any] | None
    error: str | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None

    @property
    def url(self) -> str:
        return job_url(self.id)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "kind": self.kind.removeprefix("job."),
            "guild_id": None if self.guild_id is None else str(self.guild_id),
            "status": self.state.value,
            "result": dict(self.result) if self.result is not None else None,
            "error": self.error,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "url": self.url,
        }

    @classmethod
    def from_row(cls, row: ScheduledAction) -> Job:
        state = _STATE_OF[ActionStatus(row.status)]
        error = None
        if state is JobState.FAILED:
            cancelled = row.status == ActionStatus.CANCELLED
            error = CANCELLED_REASON if cancelled else (row.last_error or "The job failed.")
        return cls(
            id=row.id,
            kind=row.kind,
            guild_id=row.guild_id,
            state=state,
            result=row.result if state is JobState.DONE else None,
            error=error,
            attempts=row.attempts,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )


async def enqueue(
    kind: JobKind, guild_id: int, payload: Mapping[str, Any], *, actor_id: int | None, now: datetime
) -> Job:
    """Queue `kind` for the process that owns `guild_id`, due now; the pending job."""
    job_id = await schedule(kind.value, now, {**payload, "actor_id": actor_id}, guild_id=guild_id)
    return await get_job(job_id, guild_id=guild_id)


async def get_job(job_id: int, *, guild_id: int | None) -> Job:
    """The job `job_id`; with `guild_id` (a guild's key), only a job of that guild: a job of
    another guild is not found, exactly like one that does not exist."""
    query = ScheduledAction.filter(id=job_id, kind__startswith="job.")
    if guild_id is not None:
        query = query.filter(guild_id=guild_id)
    row = await query.first() if 0 < job_id < 2**63 else None
    if row is None:
        raise NotFoundError(_("There is no such job."))
    return Job.from_row(row)


# ------------------------------------------------------------------------------------------------
# What the API queues; each checks first what it can without Discord, so a refusal is immediate.


async def enqueue_ticket_panel_send(
    guild_id: int, panel_id: str, channel_id: int, *, actor_id: int | None, now: datetime
) -> Job:
    """Post panel `panel_id` in `channel_id` (the bot checks the channel when it posts)."""
    panel = await tickets.get_panel(guild_id, panel_id)
    if not tickets.panel_buttons(panel):
        raise ValidationError(
            _("Panel `{panel}` has no buttons yet: add one first.").format(panel=panel.panel_id)
        )
    payload = {"panel_id": panel.panel_id, "channel_id": channel_id}
    return await enqueue(JobKind.TICKET_PANEL_SEND, guild_id, payload, actor_id=actor_id, now=now)


async def enqueue_ticket_panel_refresh(
    guild_id: int, panel: tickets.PanelInfo, *, deleted: bool, actor_id: int | None, now: datetime
) -> Job | None:
    """Make the posted copy of `panel` show a change made without Discord, or remove it when
    the panel was deleted, as `/ticket-panel edit`, `button` and `delete` do; None when the
    panel was never posted."""
    if panel.channel_id is None or panel.message_id is None:
        return None
    payload = {
        "panel_id": panel.panel_id,
        "channel_id": panel.channel_id,
        "message_id": panel.message_id,
        "deleted": deleted,
    }
    return await enqueue(
        JobKind.TICKET_PANEL_REFRESH, guild_id, payload, actor_id=actor_id, now=now
    )


async def enqueue_giveaway_post(
    guild_id: int, giveaway_id: str, *, actor_id: int | None, now: datetime
) -> Job:
    """Post the message of a giveaway created over the API, with its Enter button. If Discord
    refuses (the channel is gone, or the bot may not post there), the giveaway and its timers
    are removed, as `/giveaway start` does, and the job fails with the reason."""
    giveaway = await giveaways.get_giveaway(guild_id, giveaway_id)
    payload = {"giveaway_id": giveaway.giveaway_id}
    return await enqueue(JobKind.GIVEAWAY_POST, guild_id, payload, actor_id=actor_id, now=now)


async def enqueue_giveaway_refresh(
    guild_id: int, giveaway_id: str, *, actor_id: int | None, now: datetime
) -> Job | None:
    """Make a posted giveaway's message show what was changed without Discord (a cancel over
    the API takes its Enter button away); None when it has no message."""
    giveaway = await giveaways.get_giveaway(guild_id, giveaway_id)
    if giveaway.message_id is None:
        return None
    payload = {"giveaway_id": giveaway.giveaway_id}
    return await enqueue(JobKind.GIVEAWAY_REFRESH, guild_id, payload, actor_id=actor_id, now=now)


async def enqueue_giveaway_end(
    guild_id: int, giveaway_id: str, *, actor_id: int | None, now: datetime
) -> Job:
    """End giveaway `giveaway_id` now, draw and announce its winners."""
    giveaway = await giveaways.get_giveaway(guild_id, giveaway_id)
    giveaways.check_can_end(giveaway)
    payload = {"giveaway_id": giveaway.giveaway_id}
    return await enqueue(JobKind.GIVEAWAY_END, guild_id, payload, actor_id=actor_id, now=now)


async def enqueue_giveaway_reroll(
    guild_id: int, giveaway_id: str, count: int, *, actor_id: int | None, now: datetime
) -> Job:
    """Draw `count` more winners of an ended giveaway and announce them."""
    if not 1 <= count <= giveaways.MAX_WINNERS:
        raise ValidationError(
            _("You can reroll between 1 and {most} winners.").format(most=giveaways.MAX_WINNERS)
        )
    giveaway = await giveaways.get_giveaway(guild_id, giveaway_id)
    giveaways.check_can_reroll(giveaway)
    payload = {"giveaway_id": giveaway.giveaway_id, "count": count}
    return await enqueue(JobKind.GIVEAWAY_REROLL, guild_id, payload, actor_id=actor_id, now=now)


GREETING_KINDS = ("welcome", "goodbye")


async def enqueue_greeting_test(
    guild_id: int, kind: str, member_id: int, *, actor_id: int | None, now: datetime
) -> Job:
    """Post a test `kind` greeting ("welcome" or "goodbye") for member `member_id`."""
    if kind not in GREETING_KINDS:
        raise ValidationError(_("The greeting is either welcome or goodbye."))
    payload = {"greeting": kind, "member_id": member_id}
    return await enqueue(JobKind.GREETING_TEST, guild_id, payload, actor_id=actor_id, now=now)


# ------------------------------------------------------------------------------------------------
# The bot's side

JobRun = Callable[[int, Mapping[str, Any]], Awaitable[Mapping[str, Any] | None]]


def job_executor(run: JobRun) -> Callable[[ScheduledAction], Awaitable[dict[str, Any]]]:
    """A scheduler handler for a job: `run(guild_id, payload)` carries it out and returns its
    result; a refusal (`PegasusError`) fails the job at once with its sentence."""

    async def handle(action: ScheduledAction) -> dict[str, Any]:
        if action.guild_id is None:
            raise ActionRefused(_("The job names no server."))
        try:
            result = await run(action.guild_id, action.payload)
        except PegasusError as refusal:
            raise ActionRefused(refusal.plain()) from refusal
        return dict(result or {})

    return handle
