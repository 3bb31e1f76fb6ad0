"""Security over HTTP: incidents (list, read, note, resolve), the audit log and the security log.

The audit log holds who changed what (from Discord or the API, with before and after); the
security log holds what happened to members (cases, raids, spam, refused keys). Both are read
newest first, filtered by who, what, whom and when, a page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from models.security import (
    AuditSource,
    IncidentStatus,
    SecurityIncident,
    Severity,
)
from pegasus.errors import ValidationError, shown_input
from pegasus.services import security
from pegasus.services.log_readers import (
    NEWEST_FIRST,
    AuditEntry,
    AuditFilter,
    SecurityEvent,
    SecurityFilter,
    audit_entries,
    security_events,
)
from pegasus.services.security import Incident
from pegasus.web.pagination import keyset_page
from pegasus.web.routes import Call, Page, Param, Routes

__all__ = ["routes"]

routes = Routes("security", "Security incidents, the audit log and the security log.")

INCIDENT_ID = Param("incident_id", str, "The incident's id, e.g. I-7K2QX.", location="path")
SINCE = Param("since", str, "Only entries at or after this moment (ISO 8601 with a time zone).")
UNTIL = Param("until", str, "Only entries before this moment (ISO 8601 with a time zone).")
ACTION_HELP = "Only this action, e.g. `{one}`; end it with `.*` for a family, e.g. `{family}`."

E = TypeVar("E", bound=StrEnum)
M = TypeVar("M")


def _choice(kind: type[E], text: str | None, what: str) -> E | None:
    if text is None:
        return None
    try:
        return kind(text.strip().lower())
    except ValueError:
        accepted = ", ".join(member.value for member in kind)
        raise ValidationError(f"{shown_input(text)} is not {what}: use {accepted}.") from None


def _moment(call: Call, name: str) -> datetime | None:
    text: str | None = call.param(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationError(
            f"The {name} parameter must be a date and time with a time zone, e.g. "
            f"2025-01-31T18:00:00Z, not {shown_input(text)}."
        )
    return moment


# -- incidents --------------------------------------------------------------------------------


@routes.get(
    "/guilds/{guild_id}/incidents",
    scope="security:read",
    summary="List security incidents",
    params=[
        Param("status", str, "Only incidents in this state (open, investigating, resolved, "
              "false_positive)."),
        Param("open", bool, "Only incidents still open or under investigation (true), or only "
              "closed ones (false)."),
    ],
    response=Incident,
    paginated=True,
)
async def list_incidents(call: Call) -> Page[Incident]:
    """Newest first."""
    query = SecurityIncident.filter(guild_id=call.guild_id)
    status = _choice(IncidentStatus, call.param("status"), "an incident state")
    if status is not None:
        query = query.filter(status=status)
    still_open = call.param("open")
    if still_open is not None:
        wanted = security.OPEN_STATUSES
        query = query.filter(status__in=wanted) if still_open else query.exclude(
            status__in=wanted
        )
    return await keyset_page(call, query, order=NEWEST_FIRST, item=Incident.from_row)


@routes.get(
    "/guilds/{guild_id}/incidents/{incident_id}",
    scope="security:read",
    summary="Read a security incident",
    params=[INCIDENT_ID],
    response=Incident,
)
async def get_incident(call: Call) -> Incident:
    return await security.get_incident(call.guild_id, call.param("incident_id"))


@dataclass(frozen=True)
class IncidentNote:
    text: str = field(metadata={"description": "The note (at most 1,000 characters)."})


@routes.post(
    "/guilds/{guild_id}/incidents/{incident_id}/notes",
    scope="security:write",
    summary="Add a note to a security incident",
    params=[INCIDENT_ID],
    body=IncidentNote,
    response=Incident,
    status=201,
    idempotent=True,
    audit_fallback=False,  # add_incident_note audits the note
)
async def add_incident_note(call: Call) -> Incident:
    """As `/security note`: an open incident moves to investigating."""
    body: IncidentNote = call.body
    return await security.add_incident_note(
        call.guild_id, call.param("incident_id"), call.actor_id, body.text, call.now
    )


@dataclass(frozen=True)
class IncidentResolution:
    false_positive: bool = field(
        default=False, metadata={"description": "Close it as a false positive."}
    )


@routes.post(
    "/guilds/{guild_id}/incidents/{incident_id}/resolve",
    scope="security:write",
    summary="Resolve a security incident",
    params=[INCIDENT_ID],
    body=IncidentResolution,
    response=Incident,
    audit_fallback=False,  # resolve_incident audits the change of status
)
async def resolve_incident(call: Call) -> Incident:
    """As `/security resolve`: only an open incident can be closed."""
    body: IncidentResolution = call.body
    return await security.resolve_incident(
        call.guild_id,
        call.param("incident_id"),
        call.actor_id,
        call.now,
        false_positive=body.false_positive,
    )


# -- the logs ---------------------------------------------------------------------------------


@routes.get(
    "/guilds/{guild_id}/audit-log",
    scope="security:read",
    summary="Read the audit log",
    params=[
        Param("actor_id", int, "Only changes made by this person.", minimum=1),
        Param("action", str, ACTION_HELP.format(one="automation.add", family="automation.*")),
        Param("target_type", str, "Only changes to this kind of thing, e.g. `automation`."),
        Param("target_id", str, "Only changes to this thing (an id, e.g. A-7K2QX)."),
        Param("source", str, "Only changes made from `discord` or from the `api`."),
        SINCE,
        UNTIL,
    ],
    response=AuditEntry,
    paginated=True,
)
async def read_audit_log(call: Call) -> Page[AuditEntry]:
    """Every configuration change of the server, newest first."""
    wanted = AuditFilter(
        actor_id=call.param("actor_id"),
        action=call.param("action"),
        target_type=call.param("target_type"),
        target_id=call.param("target_id"),
        source=_choice(AuditSource, call.param("source"), "a source"),
        since=_moment(call, "since"),
        until=_moment(call, "until"),
    )
    query = audit_entries(call.guild_id, wanted)
    return await keyset_page(call, query, order=NEWEST_FIRST, item=AuditEntry.from_row)


@routes.get(
    "/guilds/{guild_id}/security-log",
    scope="security:read",
    summary="Read the security log",
    params=[
        Param("user_id", int, "Only events about this member.", minimum=1),
        Param("action", str, ACTION_HELP.format(one="moderation.ban", family="moderation.*")),
        Param("severity", str, "Only events of this severity (low, medium, high, critical)."),
        SINCE,
        UNTIL,
    ],
    response=SecurityEvent,
    paginated=True,
)
async def read_security_log(call: Call) -> Page[SecurityEvent]:
    """The server's security events, newest first."""
    wanted = SecurityFilter(
        user_id=call.param("user_id"),
        action=call.param("action"),
        severity=_choice(Severity, call.param("severity"), "a severity"),
        since=_moment(call, "since"),
        until=_moment(call, "until"),
    )
    query = security_events(call.guild_id, wanted)
    return await keyset_page(call, query, order=NEWEST_FIRST, item=SecurityEvent.from_row)
