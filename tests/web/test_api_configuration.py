"""A server's configuration exported as one document and imported into another server: applied in
one transaction, audited, refused with a sentence naming the first problem and where it is, and
then nothing changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from models.levels import MultiplierTarget
from models.moderation import TriggerType
from models.security import AuditLog, AuditSource
from pegasus.services import levels
from pegasus.services.economy import shop
from pegasus.services.economy.settings import SETTINGS as ECONOMY
from pegasus.services.moderation import automations
from pegasus.services.settings import apply_changes, declared, read_settings
from pegasus.services.tickets import panels
from tests.web.conftest import GUILD, OTHER_GUILD, OWNER, Api

CHANNEL = 744_444_444_444_444_444


def url(guild_id: int, what: str) -> str:
    return f"/api/v1/guilds/{guild_id}/settings/{what}"


async def configure(guild_id: int) -> None:
    """A configuration with something in every part (no roles: those need Discord's word)."""
    await apply_changes(ECONOMY, guild_id, OWNER, {"daily_amount": 777, "rob_enabled": False})
    await levels.set_multiplier(guild_id, MultiplierTarget.CHANNEL, CHANNEL, 150, actor_id=OWNER)
    await shop.add_item(guild_id, name="Cookie", price=25, description="Crunchy", stock=10)
    await automations.add_automation(
        guild_id, name="Cool down", trigger_type=TriggerType.WARN_COUNT, trigger_value=3,
        actions=[{"type": "timeout", "duration_seconds": 3600}], actor_id=OWNER,
        now=datetime.now(UTC), window_days=7, enabled=True,
    )
    panel = await panels.create_panel(guild_id, title="Help", description="Ask us", color=0x00FF00)
    await panels.add_button(guild_id, panel.panel_id, label="Support")


def without_panel_ids(document: dict[str, Any]) -> dict[str, Any]:
    return {
        **document,
        "ticket_panels": [{**p, "panel_id": None} for p in document["ticket_panels"]],
    }


async def test_an_exported_configuration_is_imported_into_another_server(api: Api) -> None:
    await configure(GUILD)
    source_key = await api.key(guild_id=GUILD)
    target_key = await api.key(guild_id=OTHER_GUILD)

    status, exported, _ = await api.call("GET", url(GUILD, "export"), key=source_key)
    assert status == 200, exported
    assert set(exported["settings"]) == set(declared())
    assert exported["settings"]["economy"]["daily_amount"] == 777
    assert exported["multipliers"] == [
        {"target_type": "channel", "target_id": CHANNEL, "multiplier": 150}
    ]
    status, imported, _ = await api.call(
        "POST", url(OTHER_GUILD, "import"), key=target_key, json=without_panel_ids(exported),
        headers={"User-Agent": "config-copy/1.0"},
    )

    assert status == 200, imported
    assert without_panel_ids(imported) == without_panel_ids(exported)
    assert imported["ticket_panels"][0]["panel_id"] != exported["ticket_panels"][0]["panel_id"]
    stored = await read_settings(ECONOMY, OTHER_GUILD)
    assert (stored["daily_amount"], stored["rob_enabled"]) == (777, False)
    audits = await AuditLog.filter(guild_id=OTHER_GUILD).exclude(action="api_key.create")
    assert {row.action for row in audits} >= {
        "economy.settings", "levels.multiplier.set", "shop.item.add", "automation.add",
        "tickets.panel.create", "tickets.panel.button",
    }
    assert all(row.source is AuditSource.API for row in audits)
    assert all(row.actor_id == OWNER for row in audits)  # type: ignore[attr-defined]
    assert all(row.user_agent == "config-copy/1.0" for row in audits)

    # The same document again changes nothing, so nothing more is audited.
    again = {**imported}
    status, _, _ = await api.call("POST", url(OTHER_GUILD, "import"), key=target_key, json=again)
    assert status == 200
    assert await AuditLog.filter(guild_id=OTHER_GUILD).count() == len(audits) + 1  # + the key


async def test_the_first_problem_is_refused_with_where_it_is_and_nothing_changes(
    api: Api,
) -> None:
    key = await api.key(guild_id=GUILD)
    _, before, _ = await api.call("GET", url(GUILD, "export"), key=key)
    too_much = levels.MAX_MULTIPLIER_PERCENT + 1
    command_says = ""
    try:
        await levels.set_multiplier(GUILD, MultiplierTarget.ROLE, 1, too_much)
    except Exception as refusal:  # the sentence /levels multiplier answers with
        command_says = str(refusal)
    assert command_says
    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            {
                "settings": {"economy": {"daily_amount": 5}},
                "multipliers": [
                    {"target_type": "channel", "target_id": CHANNEL, "multiplier": 120},
                    {"target_type": "role", "target_id": 2, "multiplier": too_much},
                ],
            },
            422,
            f"multipliers[1]: {command_says}",
        ),
        (
            {"settings": {"economy": {"daily_amount": 5}, "nonsense": {}}},
            422,
            "settings: `nonsense` is not a feature; the features are "
            f"{', '.join(sorted(declared()))}.",
        ),
        (
            {"settings": {"economy": {"work_min": 900, "work_max": 100}}},
            422,
            "settings.economy: The minimum work pay can't be above the maximum work pay.",
        ),
        (
            {"shop_items": [{"name": "Cookie", "price": 5}, {"name": "cookie", "price": -1}]},
            422,
            "shop_items[1]: ",
        ),
        ({"format": "something else"}, 422, "format: `something else` is not a Pegasus"),
    ]
    for document, status_wanted, detail in cases:
        status, problem, _ = await api.call("POST", url(GUILD, "import"), key=key, json=document)
        assert status == status_wanted, (document, problem)
        assert problem["detail"].startswith(detail), (problem["detail"], detail)
        _, after, _ = await api.call("GET", url(GUILD, "export"), key=key)
        assert after == before
    assert not await AuditLog.filter(guild_id=GUILD).exclude(action="api_key.create").exists()


async def test_each_part_needs_its_write_scope(api: Api) -> None:
    key = await api.key(["guild:read", "guild:write"], guild_id=GUILD)
    status, problem, _ = await api.call(
        "POST", url(GUILD, "import"), key=key,
        json={"shop_items": [{"name": "Cookie", "price": 5}]},
    )
    assert status == 403, problem
    assert "economy:write" in problem["detail"]
    status, _, _ = await api.call(
        "POST", url(GUILD, "import"), key=key, json={"settings": {"economy": {"daily_amount": 9}}}
    )
    assert status == 403
    assert (await read_settings(ECONOMY, GUILD))["daily_amount"] != 9
    assert await shop.item_names(GUILD, "") == []
