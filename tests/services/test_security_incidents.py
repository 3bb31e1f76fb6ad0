"""Security incidents: listing, notes, resolving."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models.security import AuditLog, IncidentStatus, SecurityIncident, SecurityLog
from pegasus.errors import ConflictError, NotFoundError, ValidationError
from pegasus.services import security
from pegasus.services.audit import ensure_rows

GUILD = 666_666_666_666_666_666
OTHER_GUILD = 666_666_666_666_666_667
MOD = 900_000_000_000_000_040
MOD2 = 900_000_000_000_000_041
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def incident(public_id: str, *, guild_id: int = GUILD, **values) -> SecurityIncident:
    await ensure_rows(guild_id)
    return await SecurityIncident.create(
        incident_id=public_id, guild_id=guild_id, type="raid", **values
    )


async def test_listing_newest_first_and_open_only(db: str) -> None:
    for index in range(4):
        await incident(f"I-AAAA{index + 2}")
    await incident("I-BBBBB", guild_id=OTHER_GUILD)
    await SecurityIncident.filter(incident_id="I-AAAA3").update(status=IncidentStatus.RESOLVED)
    listed = await security.list_incidents(GUILD)
    assert [i.incident_id for i in listed] == ["I-AAAA5", "I-AAAA4", "I-AAAA3", "I-AAAA2"]
    still_open = await security.list_incidents(GUILD, open_only=True, limit=2)
    assert [i.incident_id for i in still_open] == ["I-AAAA5", "I-AAAA4"]


async def test_ids_are_found_as_people_type_them(db: str) -> None:
    await incident("I-7K2QX")
    assert (await security.get_incident(GUILD, " i 7k2qx ")).incident_id == "I-7K2QX"
    with pytest.raises(NotFoundError, match="no incident `I-7K2QX` in this server"):
        await security.get_incident(OTHER_GUILD, "I-7K2QX")


async def test_a_note_starts_the_investigation(db: str) -> None:
    await incident("I-NNNNN")
    noted = await security.add_incident_note(GUILD, "I-NNNNN", MOD, "  Looking at it  ", NOW)
    assert noted.status is IncidentStatus.INVESTIGATING
    assert noted.notes == ({"by": MOD, "at": NOW.isoformat(), "text": "Looking at it"},)
    later = NOW + timedelta(minutes=5)
    noted = await security.add_incident_note(GUILD, "I-NNNNN", MOD2, "Bots, all of them", later)
    assert [note["by"] for note in noted.notes] == [MOD, MOD2]
    assert noted.status is IncidentStatus.INVESTIGATING
    audits = await AuditLog.filter(action="incident.note").order_by("created_at")
    assert audits[0].before == {"status": "open"}
    assert audits[0].after == {"status": "investigating", "note": "Looking at it"}


async def test_bad_notes(db: str) -> None:
    await incident("I-NNNNN")
    with pytest.raises(ValidationError, match="empty"):
        await security.add_incident_note(GUILD, "I-NNNNN", MOD, " ", NOW)
    with pytest.raises(ValidationError, match="at most 1,000"):
        await security.add_incident_note(GUILD, "I-NNNNN", MOD, "x" * 1001, NOW)


async def test_concurrent_notes_are_all_kept(db: str) -> None:
    await incident("I-CCCCC")
    await asyncio.gather(
        *(
            security.add_incident_note(GUILD, "I-CCCCC", MOD, f"note {index}", NOW)
            for index in range(15)
        )
    )
    stored = await SecurityIncident.get(incident_id="I-CCCCC")
    assert sorted(note["text"] for note in stored.notes) == sorted(
        f"note {index}" for index in range(15)
    )


async def test_resolve(db: str) -> None:
    await incident("I-RRRRR", actions=[{"type": "detected"}])
    resolved = await security.resolve_incident(GUILD, "I-RRRRR", MOD, NOW)
    assert resolved.status is IncidentStatus.RESOLVED
    assert resolved.resolved_by_id == MOD
    assert resolved.resolved_at == NOW
    assert [action["type"] for action in resolved.actions] == ["detected", "resolved"]
    with pytest.raises(ConflictError, match="already closed \\(resolved\\)"):
        await security.resolve_incident(GUILD, "I-RRRRR", MOD2, NOW, false_positive=True)
    log = await SecurityLog.get(action="security.incident_resolved")
    assert log.metadata == {"incident_id": "I-RRRRR", "by": MOD}
    audit = await AuditLog.get(action="incident.resolve")
    assert (audit.before, audit.after) == ({"status": "open"}, {"status": "resolved"})


async def test_false_positive(db: str) -> None:
    await incident("I-FFFFF", status=IncidentStatus.INVESTIGATING)
    closed = await security.resolve_incident(GUILD, "I-FFFFF", MOD, NOW, false_positive=True)
    assert closed.status is IncidentStatus.FALSE_POSITIVE


async def test_only_one_of_two_concurrent_resolutions_wins(db: str) -> None:
    await incident("I-DDDDD")
    results = await asyncio.gather(
        security.resolve_incident(GUILD, "I-DDDDD", MOD, NOW),
        security.resolve_incident(GUILD, "I-DDDDD", MOD2, NOW, false_positive=True),
        return_exceptions=True,
    )
    assert sum(isinstance(result, ConflictError) for result in results) == 1
    assert await AuditLog.filter(action="incident.resolve").count() == 1
