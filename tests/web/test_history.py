"""The audit reader under the dashboard's settings history: keyset pages after a cursor (every
entry once, ties included), filtered by feature and by person, and one entry by id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from models.security import AuditLog
from pegasus.services import directory
from pegasus.services.economy.settings import SETTINGS as ECONOMY
from pegasus.services.log_readers import (
    AuditFilter,
    audit_actors,
    read_audit_after,
    read_audit_entry,
)
from pegasus.services.moderation.settings import SETTINGS as MODERATION
from pegasus.web.dashboard.history import changed_keys, settings_spec, shown_value
from tests.web.conftest import GUILD

OWNER, MOD = 1_000_000_000_000_001, 1_000_000_000_000_002


async def _row(action: str, actor: int, minute: int, table: str, before: dict, after: dict) -> None:
    row = await AuditLog.create(
        guild_id=GUILD,
        actor_id=actor,
        action=action,
        target_type=table,
        target_id=str(GUILD),
        before=before,
        after=after,
    )
    moment = datetime(2026, 1, 1, 12, minute, tzinfo=UTC)
    await AuditLog.filter(id=row.id).update(created_at=moment)  # ties on purpose


async def _walk(wanted: AuditFilter, limit: int) -> tuple[list[uuid.UUID], int]:
    seen: list[uuid.UUID] = []
    after, pages = None, 0
    while True:
        entries, after = await read_audit_after(GUILD, wanted, after=after, limit=limit)
        pages += 1
        seen += [entry.id for entry in entries]
        if after is None:
            return seen, pages


async def test_pages_after_a_cursor_by_feature_and_by_person(db: str) -> None:
    await directory.ensure_guild(GUILD)
    await directory.ensure_user(OWNER)
    await directory.ensure_user(MOD)
    economy = ECONOMY.model._meta.db_table
    moderation = MODERATION.model._meta.db_table
    for minute in (1, 2, 2, 2, 3):
        await _row("economy.settings", OWNER, minute, economy, {"daily_amount": minute},
                   {"daily_amount": minute + 1})
    for minute in (2, 4):
        await _row("moderation.settings", MOD, minute, moderation, {"mute_role_id": None},
                   {"mute_role_id": 5})
    everything, pages = await _walk(AuditFilter(), limit=3)
    stored = await AuditLog.filter(guild_id=GUILD).order_by("-created_at", "-id")
    assert everything == [row.id for row in stored] and pages == 3
    economy_ids, _ = await _walk(AuditFilter(feature="economy"), limit=2)
    assert len(economy_ids) == 5
    assert economy_ids == [row.id for row in stored if row.action == "economy.settings"]
    by_mod, _ = await _walk(AuditFilter(actor_id=MOD), limit=1)
    assert by_mod == [row.id for row in stored if row.action == "moderation.settings"]
    assert await audit_actors(GUILD) == [OWNER, MOD]
    entry = await read_audit_entry(GUILD, stored[0].id)
    assert entry is not None and entry.action == "moderation.settings"
    assert await read_audit_entry(GUILD + 1, stored[0].id) is None
    assert settings_spec(entry) is MODERATION
    assert changed_keys(entry) == ["mute_role_id"]


async def test_only_changed_keys_are_shown_and_values_read_as_people_read_them(db: str) -> None:
    await directory.ensure_guild(GUILD)
    await directory.ensure_user(OWNER)
    await _row("economy.settings", OWNER, 1, ECONOMY.model._meta.db_table,
               {"daily_amount": 100, "rob_enabled": True},
               {"daily_amount": 250, "rob_enabled": True})
    (entry,), _ = await read_audit_after(GUILD, AuditFilter())
    assert changed_keys(entry) == ["daily_amount"]
    assert shown_value(ECONOMY, "daily_amount", 2500, None) == "2,500"
    assert shown_value(ECONOMY, "rob_enabled", False, None) == "off"
    assert shown_value(MODERATION, "modlog_channel_id", 42, None).endswith("(deleted or unknown)")
    # An action that is no change of declared settings can't be restored.
    await AuditLog.create(guild_id=GUILD, action="automation.add", target_type="automation",
                          before=None, after={"name": "x"})
    newest, _ = await read_audit_after(GUILD, AuditFilter(feature="automation"))
    assert [e.action for e in newest] == ["automation.add"]
    assert settings_spec(newest[0]) is None
