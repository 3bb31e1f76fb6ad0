"""Moderation over HTTP, served by the web process alone: cases, warnings, automations and the
blacklist, listed with filters a page at a time, changed through the commands' services with
their sentences, audited as the key's owner from the API. What needs the roles of the key's
owner is refused here with a sentence that says where it can be done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from models.moderation import CaseType, MemberWarning, ModCase, WarningAutomation, WarningEdit
from models.security import (
    AuditLog,
    AuditSource,
    Blacklist,
    BlacklistEntityType,
    RoleDelegation,
)
from pegasus.services import moderation
from pegasus.services.durations import MAX_SECONDS, format_duration
from pegasus.web.roles import UNREADABLE
from tests.web.conftest import GUILD, OTHER_GUILD, OWNER, Api

BASE = f"/api/v1/guilds/{GUILD}"
ALICE, BOB, MOD = 744_444_444_444_444_441, 744_444_444_444_444_442, 744_444_444_444_444_443
ONLY_THE_BOT = (
    "This needs the roles of the key's owner, which only the bot's own process can see: use "
    "{command} in Discord, or the API served by the bot itself."
)


def now() -> datetime:
    return datetime.now(UTC)


async def record(case_type: CaseType, user_id: int, reason: str, **options: Any) -> int:
    case = await moderation.record_action(
        guild_id=options.pop("guild_id", GUILD),
        case_type=case_type,
        user_id=user_id,
        moderator_id=options.pop("moderator_id", MOD),
        reason=reason,
        now=options.pop("at", now()),
        **options,
    )
    return case.case_number


async def all_pages(api: Api, key: str, url: str, limit: int = 2) -> list[dict[str, Any]]:
    """Every item of a list, fetched `limit` at a time by following the cursors."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    separator = "&" if "?" in url else "?"
    while True:
        page_url = f"{url}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body, _ = await api.call("GET", page_url, key=key)
        assert status == 200, body
        assert len(body["items"]) <= limit
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_cases_are_listed_with_filters_and_read_one_by_one(api: Api) -> None:
    key = await api.key(["moderation:read"])
    warned = await moderation.issue_warning(
        guild_id=GUILD, user_id=ALICE, moderator_id=MOD, title="Spam", now=now()
    )
    kicked = await record(CaseType.KICK, BOB, "Rude")
    banned = await record(CaseType.BAN, ALICE, "Raid", duration_seconds=3600)
    lifted = await record(CaseType.UNBAN, ALICE, "Appeal", moderator_id=OWNER)
    await record(CaseType.KICK, ALICE, "Elsewhere", guild_id=OTHER_GUILD)

    every = await all_pages(api, key, f"{BASE}/cases")
    assert [c["case_number"] for c in every] == [lifted, banned, kicked, warned.case.case_number]
    alices = await all_pages(api, key, f"{BASE}/cases?user_id={ALICE}", limit=1)
    assert [c["case_number"] for c in alices] == [lifted, banned, warned.case.case_number]
    bans = await all_pages(api, key, f"{BASE}/cases?type=ban")
    assert [(c["case_number"], c["active"]) for c in bans] == [(banned, False)]
    by_owner = await all_pages(api, key, f"{BASE}/cases?moderator_id={OWNER}")
    assert [c["type"] for c in by_owner] == ["unban"]
    running = await all_pages(api, key, f"{BASE}/cases?active=false&type=kick")
    assert [c["reason"] for c in running] == ["Rude"]

    status, case, _ = await api.call("GET", f"{BASE}/cases/{banned}", key=key)
    assert status == 200
    assert (case["type"], case["user_id"], case["duration_seconds"]) == ("ban", ALICE, 3600)
    assert case["moderator_id"] == MOD and case["reason"] == "Raid"
    status, missing, _ = await api.call("GET", f"{BASE}/cases/99", key=key)
    assert status == 404 and missing["detail"] == "There is no case #99 in this server."
    status, wrong, _ = await api.call("GET", f"{BASE}/cases?type=hug", key=key)
    assert status == 422
    assert wrong["detail"].startswith("`hug` is not a kind of case: use warn, mute")


async def test_a_case_reason_needs_the_bot_to_check_roles_and_changes_nothing_here(
    api: Api,
) -> None:
    key = await api.key(["moderation:read", "moderation:write"])
    number = await record(CaseType.KICK, ALICE, "Rude")

    status, refused, _ = await api.call(
        "PATCH", f"{BASE}/cases/{number}", key=key, json={"reason": "Very rude"}
    )
    status_long, too_long, _ = await api.call(
        "PATCH", f"{BASE}/cases/{number}", key=key, json={"reason": "x" * 1001}
    )
    status_missing, _, _ = await api.call(
        "PATCH", f"{BASE}/cases/{number + 1}", key=key, json={"reason": "x"}
    )

    assert status == 403 and refused["detail"] == ONLY_THE_BOT.format(command="/reason")
    assert status_long == 422
    assert too_long["detail"] == "The reason can be at most 1000 characters."
    assert status_missing == 404
    case = await ModCase.get(guild_id=GUILD, case_number=number)
    assert case.reason == "Rude" and case.reason_edited_at is None
    assert await AuditLog.filter(source=AuditSource.API).count() == 0


async def test_warnings_are_listed_read_with_their_history_and_not_removed_here(
    api: Api,
) -> None:
    key = await api.key(["moderation:read", "moderation:write"])
    first = await moderation.issue_warning(
        guild_id=GUILD, user_id=ALICE, moderator_id=MOD, title="Spam", level=2,
        now=now() - timedelta(days=2), expires_in_seconds=3600,
    )
    second = await moderation.issue_warning(
        guild_id=GUILD, user_id=ALICE, moderator_id=MOD, title="Caps", now=now()
    )
    third = await moderation.issue_warning(
        guild_id=GUILD, user_id=BOB, moderator_id=OWNER, title="Links", now=now()
    )
    await moderation.edit_warning(
        GUILD, second.warning.warn_id, editor_id=OWNER, now=now(), level=3
    )

    listed = await all_pages(api, key, f"{BASE}/warnings", limit=2)
    assert [w["warn_id"] for w in listed] == [
        third.warning.warn_id, second.warning.warn_id, first.warning.warn_id
    ]
    counting = await all_pages(api, key, f"{BASE}/warnings?user_id={ALICE}&counting=true")
    assert [w["warn_id"] for w in counting] == [second.warning.warn_id]
    lapsed = await all_pages(api, key, f"{BASE}/warnings?counting=false")
    assert [w["warn_id"] for w in lapsed] == [first.warning.warn_id]
    by_owner = await all_pages(api, key, f"{BASE}/warnings?moderator_id={OWNER}")
    assert [w["title"] for w in by_owner] == ["Links"]

    status, warning, _ = await api.call("GET", f"{BASE}/warnings/{second.warning.warn_id}", key=key)
    assert status == 200 and (warning["title"], warning["level"]) == ("Caps", 3)
    status, history, _ = await api.call(
        "GET", f"{BASE}/warnings/{second.warning.warn_id}/history", key=key
    )
    assert status == 200
    assert history["warning"]["warn_id"] == second.warning.warn_id
    assert [(c["kind"], c["before"], c["after"]) for c in history["changes"]] == [
        ("edit", {"level": 1}, {"level": 3})
    ]
    status, missing, _ = await api.call("GET", f"{BASE}/warnings/W-ZZZZZ", key=key)
    assert status == 404 and missing["detail"] == "There is no warning `W-ZZZZZ` in this server."

    status, refused, _ = await api.call(
        "DELETE", f"{BASE}/warnings/{third.warning.warn_id}?reason=mistake", key=key
    )
    assert status == 403
    assert refused["detail"] == ONLY_THE_BOT.format(command="/warning remove")
    stored = await MemberWarning.get(warn_id=third.warning.warn_id)
    assert stored.active and stored.removed_at is None
    assert await WarningEdit.filter(warning_id=stored.id).count() == 0


AUTOMATION = {
    "name": "Three strikes",
    "trigger_type": "warn_count",
    "trigger_value": 2,
    "actions": [{"type": "timeout", "duration_seconds": 3600}, {"type": "message",
                                                               "message": "Calm down"}],
    "window_days": 30,
}


async def test_an_automation_is_created_once_listed_simulated_toggled_and_removed(
    api: Api,
) -> None:
    key = await api.key(["moderation:read", "moderation:write"])
    for title in ("one", "two", "three"):
        await moderation.issue_warning(
            guild_id=GUILD, user_id=ALICE, moderator_id=MOD, title=title, now=now()
        )
    retry = {"Idempotency-Key": "create-three-strikes", "User-Agent": "dashboard/2"}

    status, created, _ = await api.call(
        "POST", f"{BASE}/automations", key=key, json=AUTOMATION, headers=retry
    )
    again, repeated, _ = await api.call(
        "POST", f"{BASE}/automations", key=key, json=AUTOMATION, headers=retry
    )

    assert status == 201 and again == 201 and repeated == created
    assert created["enabled"] is False and created["created_by_id"] == OWNER
    assert created["actions"] == [
        {"type": "timeout", "duration_seconds": 3600}, {"type": "message", "message": "Calm down"}
    ]
    assert await WarningAutomation.filter(guild_id=GUILD).count() == 1
    rule = created["automation_id"]
    added = await AuditLog.get(action="automation.add")
    assert added.source is AuditSource.API and added.actor_id == OWNER  # type: ignore[attr-defined]
    assert added.user_agent == "dashboard/2" and added.after["name"] == "Three strikes"

    listed = await all_pages(api, key, f"{BASE}/automations")
    assert [a["automation_id"] for a in listed] == [rule]
    status, read, _ = await api.call("GET", f"{BASE}/automations/{rule}", key=key)
    assert status == 200 and read == created
    status, simulation, _ = await api.call("GET", f"{BASE}/automations/{rule}/simulation", key=key)
    assert status == 200
    assert simulation == {
        "members_hit": 1, "firings": 1, "warnings_considered": 3, "members_considered": 1
    }

    status, toggled, _ = await api.call("POST", f"{BASE}/automations/{rule}/toggle", key=key)
    assert status == 200 and toggled["enabled"] is True
    assert (await WarningAutomation.get(automation_id=rule)).enabled
    toggle = await AuditLog.get(action="automation.toggle")
    assert toggle.source is AuditSource.API
    assert (toggle.before["enabled"], toggle.after["enabled"]) == (False, True)

    status, removed, _ = await api.call("DELETE", f"{BASE}/automations/{rule}", key=key)
    assert status == 200 and removed["automation_id"] == rule
    assert not await WarningAutomation.filter(guild_id=GUILD).exists()
    gone = await AuditLog.get(action="automation.remove")
    assert gone.source is AuditSource.API and gone.after is None
    status, missing, _ = await api.call("DELETE", f"{BASE}/automations/{rule}", key=key)
    assert status == 404 and missing["detail"] == f"There is no automation `{rule}` in this server."


async def test_automation_refusals_are_the_commands_and_create_nothing(api: Api) -> None:
    key = await api.key(["moderation:write"])
    refusals = {
        "role": (
            {**AUTOMATION, "actions": [{"type": "role"}]},
            422,
            "A role automation needs the role to give.",
        ),
        "unreadable role": (
            {**AUTOMATION, "actions": [{"type": "role", "role_id": 777_777_777_777_777_777}]},
            409,
            UNREADABLE,
        ),
        "value": (
            {**AUTOMATION, "trigger_value": 101},
            422,
            "The trigger value must be between 1 and 100.",
        ),
        "timeout": (
            {**AUTOMATION, "actions": [{"type": "timeout"}]},
            422,
            "A timeout automation needs a duration (at most 28 days).",
        ),
        "kick": (
            {**AUTOMATION, "actions": [{"type": "kick", "duration_seconds": 60}]},
            422,
            "A kick has no duration.",
        ),
        "none": ({**AUTOMATION, "actions": []}, 422, "An automation needs at least one action."),
        "long": (
            {**AUTOMATION, "actions": [{"type": "ban", "duration_seconds": 10**12}]},
            422,
            f"The duration can be at most {format_duration(MAX_SECONDS)}.",
        ),
        "channel": (
            {**AUTOMATION, "notify_channel_id": 755_555_555_555_555_555},
            403,
            "This needs the server's channels and the bot's permissions, which only the bot's "
            "own process can see: use /automation add in Discord, or the API served by the bot "
            "itself.",
        ),
    }
    for case, (body, expected_status, sentence) in refusals.items():
        status, refused, _ = await api.call("POST", f"{BASE}/automations", key=key, json=body)
        assert (status, refused["detail"]) == (expected_status, sentence), case
    assert await WarningAutomation.all().count() == 0
    assert await AuditLog.filter(source=AuditSource.API).count() == 0
    assert not await RoleDelegation.all().exists()


async def test_the_blacklist_is_listed_and_lifted_but_added_to_only_by_the_bot(api: Api) -> None:
    key = await api.key(["moderation:read", "moderation:write"])
    moment = now()
    await moderation.add_entry(
        BlacklistEntityType.USER, ALICE, guild_id=GUILD, actor_id=MOD, reason="spam", now=moment
    )
    await moderation.add_entry(
        BlacklistEntityType.CHANNEL, 766_666_666_666_666_666, guild_id=GUILD, actor_id=MOD,
        reason="bots only", now=moment + timedelta(seconds=1),
    )
    await moderation.add_entry(
        BlacklistEntityType.USER, BOB, guild_id=GUILD, actor_id=MOD, reason="lapsed",
        now=moment - timedelta(days=2), duration_seconds=60,
    )
    await moderation.add_entry(
        BlacklistEntityType.USER, BOB, guild_id=OTHER_GUILD, actor_id=MOD, reason="elsewhere",
        now=moment,
    )

    listed = await all_pages(api, key, f"{BASE}/blacklist", limit=1)
    assert [(e["entity_type"], e["reason"]) for e in listed] == [
        ("channel", "bots only"), ("user", "spam")
    ]
    users = await all_pages(api, key, f"{BASE}/blacklist?kind=user")
    assert [e["entity_id"] for e in users] == [ALICE]

    status, lifted, _ = await api.call(
        "DELETE", f"{BASE}/blacklist/user/{ALICE}", key=key, headers={"User-Agent": "ops"}
    )
    assert status == 200 and lifted["active"] is False
    assert not (await Blacklist.get(entity_id=ALICE)).active
    audit = await AuditLog.get(action="blacklist.remove")
    assert audit.source is AuditSource.API and audit.actor_id == OWNER  # type: ignore[attr-defined]
    assert (audit.before["active"], audit.after["active"]) == (True, False)
    status, again, _ = await api.call("DELETE", f"{BASE}/blacklist/user/{ALICE}", key=key)
    assert status == 404 and again["detail"] == "That user is not blacklisted here."

    added = {"kind": "user", "entity_id": BOB, "reason": "spam"}
    status, refused, _ = await api.call("POST", f"{BASE}/blacklist", key=key, json=added)
    assert status == 403 and refused["detail"] == (
        "This needs the server's members, roles and channels, which only the bot's own process "
        "can see: use /blacklist add in Discord, or the API served by the bot itself."
    )
    server = {"kind": "guild", "entity_id": OTHER_GUILD, "reason": "spam"}
    status, refused, _ = await api.call("POST", f"{BASE}/blacklist", key=key, json=server)
    assert status == 422 and refused["detail"] == (
        "A server blacklists users, roles and channels; servers are blacklisted bot-wide."
    )
    status, servers, _ = await api.call("GET", f"{BASE}/blacklist?kind=guild", key=key)
    assert status == 200 and servers["items"] == []
    assert await Blacklist.filter(entity_id=BOB, guild_id=GUILD).count() == 1
    assert await AuditLog.filter(action="blacklist.add", source=AuditSource.API).count() == 0
