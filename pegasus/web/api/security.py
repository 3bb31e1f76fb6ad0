"""Security over HTTP: incidents (list, read, note, resolve), the audit log and the security log.

The audit log holds who changed what (from Discord or the API, with before and after); the
security log holds what happened to members (cases, raids, spam, refused keys). Both are read
newest first, filtered by who, what, whom and when, a page at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from tortoise.queryset import QuerySet

from models.security import (
    AuditLog,
    AuditSource,
    IncidentStatus,
    SecurityIncident,
    SecurityLog,
    Severity,
)
from pegasus.errors import ValidationError, shown_input
from pegasus.services import security
from pegasus.services.security import Incident
from pegasus.web.pagination import keyset_page
from pegasus.web.routes import Call, Page, Param, Routes

__all__ = ["routes"]

routes = Routes("security", "Security incidents, the audit log and the security log.")

INCIDENT_ID = Param("incident_id", str, "The incident's id, e.g. I-7K2QX.", location="path")
SINCE = Param("since", str, "Only entries at or after this moment (ISO 8601 with a time zone).")
UNTIL = Param("until", str, "Only entries before this moment (ISO 8601 with a time zone).")
ACTION_HELP = "Only this action, e.g. `{one}`; end it with `.*` for a family, e.g. `{family}`."
NEWEST_FIRST = ("-created_at", "-id")

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


def _filtered(call: Call, query: QuerySet[M]) -> QuerySet[M]:
    """The filters both logs share: the action (or a family of them) and the time span."""
    action: str | None = call.param("action")
    if action is not None:
        action = action.strip()
        if action.endswith(".*"):
            query = query.filter(action__startswith=action[:-1])
        else:
            query = query.filter(action=action)
    since, until = _moment(call, "since"), _moment(call, "until")
    if since is not None:
        query = query.filter(created_at__gte=since)
    if until is not None:
        query = query.filter(created_at__lt=until)
    return query


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


@dataclass(frozen=True)
class AuditEntry:
    """A change: who made it, from where, to what, with the state before and after."""

    id: uuid.UUID
    action: str
    actor_id: int | None
    source: AuditSource
    target_type: str | None
    target_id: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    ip_hash: str | None  # a keyed hash of the client's address (API only), never the address
    user_agent: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: AuditLog) -> AuditEntry:
        return cls(
            id=row.id,
            action=row.action,
            actor_id=row.actor_id,  # type: ignore[attr-defined]
            source=AuditSource(row.source),
            target_type=row.target_type,
            target_id=row.target_id,
            before=row.before,
            after=row.after,
            ip_hash=row.ip_hash,
            user_agent=row.user_agent,
            created_at=row.created_at,
        )


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
    query = _filtered(call, AuditLog.filter(guild_id=call.guild_id))
    if call.param("actor_id") is not None:
        query = query.filter(actor_id=call.param("actor_id"))
    for name in ("target_type", "target_id"):
        if call.param(name) is not None:
            query = query.filter(**{name: call.param(name).strip()})
    source = _choice(AuditSource, call.param("source"), "a source")
    if source is not None:
        query = query.filter(source=source)
    return await keyset_page(call, query, order=NEWEST_FIRST, item=AuditEntry.from_row)


@dataclass(frozen=True)
class SecurityEvent:
    """Something that happened to a member or the server: a case, a raid, spam, a refused key."""

    id: uuid.UUID
    action: str
    user_id: int | None  # whom it is about; who acted is in `metadata`
    severity: Severity
    description: str
    metadata: Mapping[str, Any]
    user_agent: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: SecurityLog) -> SecurityEvent:
        return cls(
            id=row.id,
            action=row.action,
            user_id=row.user_id,  # type: ignore[attr-defined]
            severity=Severity(row.severity),
            description=row.description,
            metadata=dict(row.metadata or {}),
            user_agent=row.user_agent,
            created_at=row.created_at,
        )


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
    query = _filtered(call, SecurityLog.filter(guild_id=call.guild_id))
    if call.param("user_id") is not None:
        query = query.filter(user_id=call.param("user_id"))
    severity = _choice(Severity, call.param("severity"), "a severity")
    if severity is not None:
        query = query.filter(severity=severity)
    return await keyset_page(call, query, order=NEWEST_FIRST, item=SecurityEvent.from_row)
