"""Moderation, security incidents and API keys in a real browser, reached from the guild page:
a warning automation switched on after its simulation, blacklist entries added by name (a member
that fits several names refused next to the field) and lifted, an
incident resolved, an API key's secret shown once and working against /api/v1 until revoked, a
POST without the CSRF token refused; screenshots at desktop and phone widths."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from models.moderation import WarningAutomation
from models.security import ApiKey, Blacklist, IncidentStatus, SecurityIncident
from pegasus.services import moderation
from tests.browser.conftest import Dashboard

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",))


async def test_an_automation_after_its_simulation_the_blacklist_and_an_incident(
    dashboard: Dashboard,
) -> None:
    env = dashboard.env
    guild = env.server.guild
    alice = env.member("alice")
    for title in ("spam", "more spam"):
        await moderation.issue_warning(
            guild_id=guild.id, user_id=alice.id, moderator_id=env.owner.id, title=title,
            now=datetime.now(UTC),
        )
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    await page.get_by_role("link", name="Warning automations and blacklist").click()
    assert await page.get_by_role("heading", level=1).inner_text() == "Moderation"

    await page.locator("#rule-name").fill("Two strikes")
    await page.locator("#rule-value").fill("2")
    await page.locator("#rule-action").select_option(label="Time out (needs a duration)")
    await page.locator("#rule-duration").fill("1h")
    await page.get_by_role("button", name="Add the automation (off)").click()
    assert await page.get_by_role("status").inner_text() == "Two strikes was added, switched off."
    assert await page.locator("#simulation").inner_text() == (
        "Over the 2 stored warnings of 1 member, this rule would have fired 1 time, "
        "hitting 1 member."
    )
    rule = await WarningAutomation.get(guild_id=guild.id)
    assert rule.enabled is False
    await dashboard.shoot(page, "moderation-simulation")
    await page.get_by_role("button", name="Switch Two strikes on").click()
    assert await page.get_by_role("status").inner_text() == "Two strikes is on."
    await rule.refresh_from_db()
    assert rule.enabled is True

    # A member by name: one that fits several is refused next to the field, the form kept.
    await page.get_by_label("A member").fill("o")
    await page.locator("#blacklist-reason").fill("spam bot")
    await page.get_by_role("button", name="Blacklist", exact=True).click()
    assert (await page.locator("#error-blacklist-member").inner_text()).startswith(
        "4 members fit o:"
    )
    assert await page.locator("#blacklist-reason").input_value() == "spam bot"
    assert not await Blacklist.exists()
    await page.get_by_label("A member").fill("alice")
    await page.get_by_role("button", name="Blacklist", exact=True).click()
    assert await page.get_by_role("status").inner_text() == "alice is blacklisted in this server."
    entry = await Blacklist.get(guild_id=guild.id)
    assert (entry.entity_id, entry.active) == (alice.id, True)
    # A role by its name, sent as its id.
    await page.get_by_label("Or a role").select_option(label="@Moderator")
    await page.locator("#blacklist-reason").fill("too loud")
    await page.get_by_role("button", name="Blacklist", exact=True).click()
    assert await page.get_by_role("status").inner_text() == (
        "@Moderator is blacklisted in this server."
    )
    assert await Blacklist.exists(entity_id=guild.role("Moderator").id, active=True)
    await dashboard.shoot(page, "moderation")
    await page.get_by_role("button", name="Lift the entry for alice").click()
    assert await page.get_by_role("status").inner_text() == (
        "alice is no longer blacklisted in this server."
    )
    await entry.refresh_from_db()
    assert entry.active is False

    incident = await SecurityIncident.create(
        incident_id="I-33333", guild_id=guild.id, type="raid", description="Join burst"
    )
    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    await page.get_by_role("link", name="Security incidents").click()
    await page.get_by_label("Add a note to I-33333").fill("Banned the alts")
    await page.get_by_role("button", name="Add the note").click()
    assert await page.get_by_role("status").inner_text() == (
        "Note added to I-33333 (investigating)."
    )
    assert "Banned the alts by owner" in await page.locator(".incident").inner_text()
    await dashboard.shoot(page, "security-incidents")
    await page.get_by_role("button", name="Resolve I-33333").click()
    assert await page.get_by_role("status").inner_text() == "I-33333 is closed as resolved."
    await incident.refresh_from_db()
    assert incident.status is IncidentStatus.RESOLVED
    await context.close()


async def test_an_api_key_is_shown_once_works_and_is_revoked(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    api = f"{dashboard.server.url}/api/v1/guilds/{guild.id}/incidents"
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    await page.get_by_role("link", name="API keys").click()
    await page.locator("#key-name").fill("ci")
    await page.get_by_role("checkbox", name="security:read").check()
    await page.get_by_role("button", name="Create the key").click()
    secret = await page.locator("#new-secret").input_value()
    assert secret.startswith("pgs_")
    await dashboard.shoot(page, "api-keys-created")
    key = await ApiKey.get(guild_id=guild.id)

    async with aiohttp.ClientSession() as program:
        bearer = {"Authorization": f"Bearer {secret}"}
        async with program.get(api, headers=bearer) as answer:
            assert answer.status == 200

        await page.goto(f"{dashboard.url}/guilds/{guild.id}/api-keys")
        assert secret not in await page.content()  # shown once only
        assert await page.locator("#new-secret").count() == 0
        await page.get_by_role("link", name="Revoke ci…").click()
        await dashboard.shoot(page, "api-keys-revoke")
        await page.get_by_role("button", name="Revoke ci").click()
        assert "is revoked" in await page.get_by_role("status").inner_text()
        await dashboard.shoot(page, "api-keys")
        async with program.get(api, headers=bearer) as answer:
            assert answer.status == 401
    await key.refresh_from_db()
    assert key.active is False

    # A POST from elsewhere, without the page's token, is refused and changes nothing.
    blacklist = f"{dashboard.url}/guilds/{guild.id}/moderation/blacklist"
    for form in ({}, {"csrf_token": "forged"}):
        answer = await context.request.post(
            blacklist,
            form={**form, "member": "bob", "reason": "x"},
        )
        assert answer.status == 403 and "nothing was changed" in await answer.text()
    assert not await Blacklist.exists()
    await context.close()
