"""Security incidents: what was detected (a raid), what was done, notes, and how it closed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from models.security import IncidentStatus, SecurityIncident, Severity
from pegasus.errors import ConflictError, ValidationError
from pegasus.i18n import N_, _, format_number
from pegasus.services import ids
from pegasus.services.audit import ensure_rows, record_audit, record_security_event

__all__ = [
    "OPEN_STATUSES",
    "Incident",
    "IncidentStatus",
    "add_incident_note",
    "get_incident",
    "list_incidents",
    "record_incident_action",
    "resolve_incident",
    "status_label",
]

OPEN_STATUSES = (IncidentStatus.OPEN, IncidentStatus.INVESTIGATING)


@dataclass(frozen=True, slots=True)
class Incident:
    """A security incident as stored (`security_incidents`), with its public id (`I-7K2QX`)."""

    id: int
    incident_id: str
    guild_id: int | None
    type: str
    severity: Severity
    status: IncidentStatus
    description: str
    affected_users: tuple[int, ...]
    actions: tuple[Mapping[str, Any], ...]
    notes: tuple[Mapping[str, Any], ...]  # {"by": user id, "at": ISO time, "text": ...}
    resolved_by_id: int | None
    resolved_at: datetime | None
    metadata: Mapping[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, row: SecurityIncident) -> Incident:
        return cls(
            id=row.id,
            incident_id=row.incident_id,
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            type=row.type,
            severity=Severity(row.severity),
            status=IncidentStatus(row.status),
            description=row.description,
            affected_users=tuple(row.affected_users or ()),
            actions=tuple(dict(action) for action in row.actions or ()),
            notes=tuple(dict(note) for note in row.notes or ()),
            resolved_by_id=row.resolved_by_id,  # type: ignore[attr-defined]
            resolved_at=row.resolved_at,
            metadata=dict(row.metadata or {}),
            created_at=row.created_at,
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


async def list_incidents(
    guild_id: int, *, open_only: bool = False, limit: int = 10
) -> list[Incident]:
    """The guild's incidents, newest first."""
    query = SecurityIncident.filter(guild_id=guild_id)
    if open_only:
        query = query.filter(status__in=OPEN_STATUSES)
    rows = await query.order_by("-created_at", "-id").limit(limit)
    return [Incident.from_row(row) for row in rows]


async def _get_row(guild_id: int, incident_id: str) -> SecurityIncident:
    public_id = ids.INCIDENT.parse(incident_id)
    incident = await SecurityIncident.get_or_none(guild_id=guild_id, incident_id=public_id)
    if incident is None:
        raise ids.INCIDENT.not_found(incident_id)
    return incident


async def get_incident(guild_id: int, incident_id: str) -> Incident:
    return Incident.from_row(await _get_row(guild_id, incident_id))


MAX_NOTE_LENGTH = 1000
MAX_NOTES = 50


async def add_incident_note(
    guild_id: int, incident_id: str, author_id: int, text: str, now: datetime
) -> Incident:
    """Add an investigation note; an open incident moves to `investigating`."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationError(_("The note can't be empty."))
    if len(cleaned) > MAX_NOTE_LENGTH:
        raise ValidationError(
            _("A note can be at most {limit} characters long.").format(
                limit=format_number(MAX_NOTE_LENGTH)
            )
        )
    target = await _get_row(guild_id, incident_id)
    await ensure_rows(guild_id, [author_id])
    async with in_transaction() as conn:
        incident = (
            await SecurityIncident.filter(pk=target.pk).using_db(conn).select_for_update().get()
        )
        if len(incident.notes) >= MAX_NOTES:
            raise ConflictError(
                _("An incident can hold at most {limit} notes.").format(limit=MAX_NOTES)
            )
        note = {"by": author_id, "at": now.isoformat(), "text": cleaned}
        changes: dict[str, Any] = {"notes": [*incident.notes, note]}
        if incident.status is IncidentStatus.OPEN:
            changes["status"] = IncidentStatus.INVESTIGATING
        await SecurityIncident.filter(pk=incident.pk).using_db(conn).update(**changes)
        await record_audit(
            guild_id=guild_id,
            actor_id=author_id,
            action="incident.note",
            target_type="security_incident",
            target_id=incident.incident_id,
            before={"status": incident.status},
            after={"status": changes.get("status", incident.status), "note": cleaned},
            using_db=conn,
        )
    return Incident.from_row(await SecurityIncident.get(pk=target.pk))


async def resolve_incident(
    guild_id: int,
    incident_id: str,
    actor_id: int,
    now: datetime,
    *,
    false_positive: bool = False,
) -> Incident:
    """Close an incident as resolved (or as a false positive); only an open one can be closed."""
    target = await _get_row(guild_id, incident_id)
    await ensure_rows(guild_id, [actor_id])
    status = IncidentStatus.FALSE_POSITIVE if false_positive else IncidentStatus.RESOLVED
    async with in_transaction() as conn:
        incident = (
            await SecurityIncident.filter(pk=target.pk).using_db(conn).select_for_update().get()
        )
        if incident.status not in OPEN_STATUSES:
            raise ConflictError(
                _("Incident `{incident}` is already closed ({status}).").format(
                    incident=incident.incident_id, status=status_label(incident.status)
                )
            )
        action = {"type": status.value, "by": actor_id, "at": now.isoformat()}
        await (
            SecurityIncident.filter(pk=incident.pk)
            .using_db(conn)
            .update(
                status=status,
                resolved_by_id=actor_id,
                resolved_at=now,
                actions=[*incident.actions, action],
            )
        )
        await record_audit(
            guild_id=guild_id,
            actor_id=actor_id,
            action="incident.resolve",
            target_type="security_incident",
            target_id=incident.incident_id,
            before={"status": incident.status},
            after={"status": status},
            using_db=conn,
        )
        await record_security_event(
            guild_id=guild_id,
            user_id=None,
            action=f"security.incident_{status.value}",
            severity=Severity.LOW,
            description=f"Incident {incident.incident_id} closed as {status.value}.",
            metadata={"incident_id": incident.incident_id, "by": actor_id},
            using_db=conn,
        )
    return Incident.from_row(await SecurityIncident.get(pk=target.pk))


STATUS_LABELS = {
    IncidentStatus.OPEN: N_("open"),
    IncidentStatus.INVESTIGATING: N_("investigating"),
    IncidentStatus.RESOLVED: N_("resolved"),
    IncidentStatus.FALSE_POSITIVE: N_("false positive"),
}


def status_label(status: str) -> str:
    """An incident's status in words ("false positive"), in the current language."""
    try:
        return _(STATUS_LABELS[IncidentStatus(status)])
    except ValueError:
        return str(status).replace("_", " ")


async def record_incident_action(
    incident_pk: int, action: Mapping[str, Any], now: datetime
) -> None:
    """Append to an incident's `actions` (an alert posted, members kicked, ...)."""
    async with in_transaction() as conn:
        incident = (
            await SecurityIncident.filter(pk=incident_pk).using_db(conn).select_for_update().get()
        )
        entry = {**action, "at": now.isoformat()}
        await (
            SecurityIncident.filter(pk=incident_pk)
            .using_db(conn)
            .update(actions=[*incident.actions, entry])
        )
