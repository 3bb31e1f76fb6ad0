"""Queued Discord actions: where a 202 answer's job URL leads (see `pegasus.web.jobs`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pegasus.web import jobs
from pegasus.web.routes import Call, Param, Routes

__all__ = ["routes"]

routes = Routes("jobs", "Actions queued for the bot process that owns the server.")


@dataclass(frozen=True)
class JobInfo:
    """A queued action: pending, done (with its result) or failed (with the reason)."""

    id: str
    kind: str  # ticket_panel.send, giveaway.end, giveaway.reroll, greeting.test
    guild_id: str | None
    status: str  # pending, done or failed
    result: dict[str, Any] | None
    error: str | None  # why it failed, in a sentence
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    url: str


@routes.get(
    "/jobs/{job_id}",
    scope=None,
    summary="Read the state of a queued action",
    params=[Param("job_id", int, "The job's id, from the job URL", location="path", minimum=1)],
    response=JobInfo,
)
async def read_job(call: Call) -> JobInfo:
    """A guild's key reads only that guild's jobs; a job of another guild is not found."""
    job = await jobs.get_job(call.param("job_id"), guild_id=call.key.guild_id)
    data = job.as_json()
    return JobInfo(
        id=data["id"],
        kind=data["kind"],
        guild_id=data["guild_id"],
        status=data["status"],
        result=data["result"],
        error=data["error"],
        attempts=data["attempts"],
        created_at=job.created_at,
        finished_at=job.finished_at,
        url=data["url"],
    )
