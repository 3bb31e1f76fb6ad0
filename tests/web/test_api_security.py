"""Security over HTTP: incidents listed, read, noted and resolved with the commands' sentences;
the audit log and the security log filtered by who, what, whom and when, a page at a time; and
a server's overview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from models.giveaways import Giveaway, GiveawayStatus
from models.guilds import Member
from models.levels import UserXP
from models.moderation import CaseType
from models.security import (
    AuditLog,
    AuditSource,
    IncidentStatus,
    SecurityIncident,
    SecurityLog,
    Severity,
)
from models.tickets import Ticket, TicketStatus
from pegasus.services import directory, moderation
from pegasus.services.audit import record_audit, record_security_event
from tests.web.conftest import GUILD, OTHER_GUILD, OWNER, Api
from tests.web.test_api_moderation import ALICE, BOB, MOD, all_pages

BASE = f"/api/v1/guilds/{GUILD}"


def now() -> datetime:
    return datetime.now(UTC)


async def incident(public_id: str, *, guild_id: int = GUILD, **fields: Any) -> SecurityIncident:
    return await SecurityIncident.create(
        incident_id=public_id, guild_id=guild_id, type="raid", description="Join burst", **fields
    )


async def test_incidents_are_listed_read_noted_and_resolved(api: Api) -> None:
    key = await api.key(["security:read", "security:write"])
    await incident("I-22222", status=IncidentStatus.RESOLVED)
    await incident("I-33333")
    await incident("I-44444", guild_id=OTHER_GUILD)

    listed = await all_pages(api, key, f"{BASE}/incidents", limit=1)
    assert [i["incident_id"] for i in listed] == ["I-33333", "I-22222"]
    still_open = await all_pages(api, key, f"{BASE}/incidents?open=true")
    assert [i["incident_id"] for i in still_open] == ["I-33333"]
    closed = await all_pages(api, key, f"{BASE}/incidents?status=resolved")
    assert [i["incident_id"] for i in closed] == ["I-22222"]
    status, read, _ = await api.call("GET", f"{BASE}/incidents/i-33333", key=key)
    assert status == 200 and (read["incident_id"], read["status"]) == ("I-33333", "open")
    status, other, _ = await api.call("GET", f"{BASE}/incidents/I-44444", key=key)
    assert status == 404 and other["detail"] == "There is no incident `I-44444` in this server."

    retry = {"Idempotency-Key": "note-1"}
    status, noted, _ = await api.call(
        "POST", f"{BASE}/incidents/I-33333/notes", key=key, json={"text": "Looking"},
        headers=retry,
    )
    again, repeated, _ = await api.call(
        "POST", f"{BASE}/incidents/I-33333/notes", key=key, json={"text": "Looking"},
        headers=retry,
    )
    assert status == again == 201 and repeated == noted
    assert noted["status"] == "investigating"
    assert [(n["by"], n["text"]) for n in noted["notes"]] == [(OWNER, "Looking")]
    assert len((await SecurityIncident.get(incident_id="I-33333")).notes) == 1
    audit = await AuditLog.get(action="incident.note")
    assert audit.source is AuditSource.API and audit.actor_id == OWNER  # type: ignore[attr-defined]

    status, resolved, _ = await api.call(
        "POST", f"{BASE}/incidents/I-33333/resolve", key=key, json={"false_positive": True}
    )
    assert status == 200 and resolved["status"] == "false_positive"
    assert resolved["resolved_by_id"] == OWNER
    assert (await AuditLog.get(action="incident.resolve")).source is AuditSource.API

    status, twice, _ = await api.call(
        "POST", f"{BASE}/incidents/I-33333/resolve", key=key, json={}
    )
    assert status == 409
    assert twice["detail"] == "Incident `I-33333` is already closed (false positive)."
    status, empty, _ = await api.call(
        "POST", f"{BASE}/incidents/I-22222/notes", key=key, json={"text": "   "}
    )
    assert status == 422 and empty["detail"] == "The note can't be empty."
    assert (await SecurityIncident.get(incident_id="I-22222")).notes == []
    status, bad, _ = await api.call("GET", f"{BASE}/incidents?status=lost", key=key)
    assert status == 422 and bad["detail"].startswith("`lost` is not an incident state: use open")


async def test_the_audit_log_is_filtered_by_actor_action_target_source_and_time(
    api: Api,
) -> None:
    key = await api.key(["security:read", "moderation:write"])
    await directory.ensure_user(MOD)
    await record_audit(
        guild_id=GUILD, actor_id=MOD, action="automation.add", target_type="automation",
        target_id="A-22222", after={"name": "old"},
    )
    await record_audit(
        guild_id=OTHER_GUILD, actor_id=MOD, action="automation.add", target_type="automation",
        target_id="A-33333",
    )
    created = {
        "name": "Strikes", "trigger_type": "warn_count", "trigger_value": 3,
        "actions": [{"type": "kick"}],
    }
    status, rule, _ = await api.call("POST", f"{BASE}/automations", key=key, json=created)
    assert status == 201
    status, _, _ = await api.call(
        "POST", f"{BASE}/automations/{rule['automation_id']}/toggle", key=key
    )
    assert status == 200

    everything = await all_pages(api, key, f"{BASE}/audit-log?action=automation.*", limit=1)
    assert [(e["action"], e["actor_id"], e["source"]) for e in everything] == [
        ("automation.toggle", OWNER, "api"),
        ("automation.add", OWNER, "api"),
        ("automation.add", MOD, "discord"),
    ]
    assert everything[0]["ip_hash"] and everything[2]["ip_hash"] is None
    by_mod = await all_pages(api, key, f"{BASE}/audit-log?actor_id={MOD}")
    assert [e["target_id"] for e in by_mod] == ["A-22222"]
    from_api = await all_pages(api, key, f"{BASE}/audit-log?source=api&action=automation.add")
    assert [e["after"]["name"] for e in from_api] == ["Strikes"]
    target = rule["automation_id"]
    about = await all_pages(
        api, key, f"{BASE}/audit-log?target_type=automation&target_id={target}"
    )
    assert [e["action"] for e in about] == ["automation.toggle", "automation.add"]

    rows = await AuditLog.filter(guild_id=GUILD).order_by("created_at")
    moments = [row.created_at for row in rows]
    after_first = quote((moments[0] + timedelta(microseconds=1)).isoformat())
    later = await all_pages(api, key, f"{BASE}/audit-log?since={after_first}")
    assert len(later) == len(moments) - 1
    until_first = quote((moments[0] + timedelta(microseconds=1)).isoformat())
    earlier = await all_pages(api, key, f"{BASE}/audit-log?until={until_first}")
    assert len(earlier) == 1
    future = quote((now() + timedelta(days=1)).isoformat())
    assert await all_pages(api, key, f"{BASE}/audit-log?since={future}") == []

    status, bad, _ = await api.call("GET", f"{BASE}/audit-log?since=yesterday", key=key)
    assert status == 422 and bad["detail"] == (
        "The since parameter must be a date and time with a time zone, e.g. "
        "2025-01-31T18:00:00Z, not `yesterday`."
    )
    status, naive, _ = await api.call("GET", f"{BASE}/audit-log?until=2025-01-01T00:00:00", key=key)
    assert status == 422 and naive["detail"].startswith("The until parameter must be")


async def test_the_security_log_is_filtered_by_member_action_severity_and_time(api: Api) -> None:
    key = await api.key(["security:read"])
    await moderation.record_action(
        guild_id=GUILD, case_type=CaseType.BAN, user_id=ALICE, moderator_id=MOD, reason="Raid",
        now=now(),
    )
    await moderation.record_action(
        guild_id=GUILD, case_type=CaseType.KICK, user_id=BOB, moderator_id=MOD, reason="Rude",
        now=now(),
    )
    await directory.ensure_user(ALICE)
    await record_security_event(
        guild_id=GUILD, user_id=ALICE, action="spam.blocked", severity=Severity.LOW,
        description="Duplicate messages",
    )
    await record_security_event(
        guild_id=OTHER_GUILD, user_id=ALICE, action="spam.blocked", severity=Severity.LOW
    )

    every = await all_pages(api, key, f"{BASE}/security-log", limit=2)
    assert [e["action"] for e in every] == ["spam.blocked", "moderation.kick", "moderation.ban"]
    alices = await all_pages(api, key, f"{BASE}/security-log?user_id={ALICE}")
    assert [e["action"] for e in alices] == ["spam.blocked", "moderation.ban"]
    cases = await all_pages(api, key, f"{BASE}/security-log?action=moderation.*")
    assert [e["user_id"] for e in cases] == [BOB, ALICE]
    assert cases[0]["metadata"]["moderator_id"] == MOD
    high = await all_pages(api, key, f"{BASE}/security-log?severity=high")
    assert [e["action"] for e in high] == ["moderation.kick", "moderation.ban"]
    exact = await all_pages(api, key, f"{BASE}/security-log?action=moderation.ban")
    assert [e["user_id"] for e in exact] == [ALICE]
    first = await SecurityLog.filter(guild_id=GUILD).order_by("created_at").first()
    assert first is not None
    until = quote((first.created_at + timedelta(microseconds=1)).isoformat())
    assert [e["action"] for e in await all_pages(
        api, key, f"{BASE}/security-log?until={until}"
    )] == ["moderation.ban"]
    status, bad, _ = await api.call("GET", f"{BASE}/security-log?severity=dire", key=key)
    assert status == 422 and bad["detail"].startswith("`dire` is not a severity: use low")


async def test_the_overview_counts_members_activity_tickets_giveaways_and_recent_cases(
    api: Api,
) -> None:
    key = await api.key(["guild:read"])
    for user_id, messages, voice in ((ALICE, 40, 15), (BOB, 2, 0)):
        await directory.ensure_user(user_id)
        await Member.create(guild_id=GUILD, user_id=user_id, messages=messages, voice_minutes=voice)
    await UserXP.create(guild_id=GUILD, user_id=ALICE, xp=10, last_message_xp_at=now())
    await UserXP.create(
        guild_id=GUILD, user_id=BOB, xp=5, last_message_xp_at=now() - timedelta(days=30)
    )
    tickets = ((1, TicketStatus.OPEN), (2, TicketStatus.CLAIMED), (3, TicketStatus.CLOSED))
    for number, state in tickets:
        await Ticket.create(guild_id=GUILD, number=number, user_id=ALICE, status=state)
    giveaways = (("G-22222", GiveawayStatus.ACTIVE), ("G-33333", GiveawayStatus.ENDED))
    for public_id, state in giveaways:
        await Giveaway.create(
            giveaway_id=public_id, guild_id=GUILD, channel_id=1, prize="Nitro", winner_count=1,
            starts_at=now(), ends_at=now() + timedelta(days=1), status=state, seed_hash="0" * 64,
            seed="1" * 64,
        )
    numbers = []
    for index in range(7):
        case = await moderation.record_action(
            guild_id=GUILD, case_type=CaseType.KICK, user_id=BOB, moderator_id=MOD,
            reason=f"kick {index}", now=now(),
        )
        numbers.append(case.case_number)

    status, overview, _ = await api.call("GET", BASE, key=key)

    assert status == 200, overview
    assert overview["guild_id"] == GUILD and overview["member_count"] is None
    assert overview["members_known"] == 2
    assert overview["activity"] == {
        "messages": 42, "voice_minutes": 15, "members_active_recently": 1
    }
    assert (overview["open_tickets"], overview["running_giveaways"]) == (2, 1)
    assert [c["case_number"] for c in overview["recent_cases"]] == numbers[::-1][:5]
    status, empty, _ = await api.call("GET", f"/api/v1/guilds/{OTHER_GUILD}", key=await api.key(
        ["guild:read"], guild_id=None
    ))
    assert status == 200 and empty["members_known"] == 0 and empty["recent_cases"] == []
