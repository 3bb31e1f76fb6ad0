"""The settings history in a real browser: an older setting restored from it (and the restore in
the history), a refused restore that changes nothing, and 404 for a member without Manage Server."""

from __future__ import annotations

import pytest

from models.moderation import ModerationSettings
from models.security import AuditLog, AuditSource
from pegasus.services.economy.settings import SETTINGS as ECONOMY
from pegasus.services.moderation.settings import SETTINGS as MODERATION
from pegasus.services.settings import apply_changes, read_settings
from tests.browser.conftest import Dashboard

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",))


async def test_an_older_setting_is_restored_from_the_history(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    owner = guild.owner.id  # type: ignore[attr-defined]
    first = (await read_settings(ECONOMY, guild.id))["daily_amount"]
    await apply_changes(ECONOMY, guild.id, owner, {"daily_amount": first + 150})
    await apply_changes(
        ECONOMY, guild.id, owner, {"daily_amount": first + 400}, source=AuditSource.API
    )
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    await page.get_by_role("link", name="Settings history").click()
    assert page.url == f"{dashboard.url}/guilds/{guild.id}/history"
    entries = page.locator("li.history-entry")
    assert await entries.count() == 2
    newest, oldest = entries.nth(0), entries.nth(1)
    assert await newest.locator(".history-source").inner_text() == "API"
    assert await oldest.locator(".history-source").inner_text() == "command"
    assert await oldest.locator(".history-who").inner_text() == "owner"
    diff = await oldest.locator("table.history-diff tbody").inner_text()
    assert "daily amount" in diff
    assert f"{first:,}" in diff and f"{first + 150:,}" in diff
    assert await oldest.locator("time").get_attribute("datetime")
    await dashboard.shoot(page, "history")
    await page.set_viewport_size({"width": 375, "height": 800})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375  # fits a phone
    await page.set_viewport_size({"width": 1280, "height": 800})

    await oldest.get_by_role("button", name="Restore this version").first.click()
    assert "/restore" in page.url
    warning = await page.locator(".history-warning").inner_text()
    assert "daily amount" in warning  # changed again since that entry
    await dashboard.shoot(page, "history-restore")
    await page.get_by_role("button", name="Restore these values").click()
    await page.wait_for_url(f"{dashboard.url}/guilds/{guild.id}/history?restored=*")

    assert (await read_settings(ECONOMY, guild.id))["daily_amount"] == first
    restore = await AuditLog.filter(guild_id=guild.id).order_by("-created_at", "-id").first()
    assert restore is not None
    assert (restore.action, restore.source) == ("economy.restore", AuditSource.WEB)
    assert restore.actor_id == owner  # type: ignore[attr-defined]
    assert (restore.before, restore.after) == (
        {"daily_amount": first + 400},
        {"daily_amount": first},
    )
    assert restore.user_agent and restore.ip_hash
    assert await entries.count() == 3
    assert await entries.nth(0).locator(".history-source").inner_text() == "web"
    assert "economy.restore" in await entries.nth(0).inner_text()
    await context.close()


async def test_a_restore_that_would_break_a_rule_is_refused_and_changes_nothing(
    dashboard: Dashboard,
) -> None:
    env = dashboard.env
    guild = env.server.guild
    owner = guild.owner.id  # type: ignore[attr-defined]
    gone = await guild.create_text_channel("old-modlog")
    kept = await guild.create_text_channel("new-modlog")
    await env.settle()
    await apply_changes(MODERATION, guild.id, owner, {"modlog_channel_id": gone.id})
    await apply_changes(MODERATION, guild.id, owner, {"modlog_channel_id": kept.id})
    await guild.delete_channel(gone)
    await env.settle()
    audited = await AuditLog.filter(guild_id=guild.id).count()

    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/history?feature=moderation")
    newest = page.locator("li.history-entry").first
    assert "#new-modlog" in await newest.inner_text()
    await newest.get_by_role("button", name="Restore this version").click()
    await page.get_by_role("button", name="Restore these values").click()
    error = await page.locator("#restore-error").inner_text()
    assert "no longer exists" in error and "modlog channel" in error
    await dashboard.shoot(page, "history-refused")

    row = await ModerationSettings.get(guild_id=guild.id)
    assert row.modlog_channel_id == kept.id
    assert await AuditLog.filter(guild_id=guild.id).count() == audited
    await context.close()


async def test_a_role_now_above_the_person_is_refused_and_changes_nothing(
    dashboard: Dashboard,
) -> None:
    env = dashboard.env
    guild = env.server.guild
    owner = guild.owner.id  # type: ignore[attr-defined]
    manager = await guild.create_role(
        "Server Manager", permissions=["manage_guild", "manage_roles"], position=1
    )
    senior = await guild.create_role("Senior", position=2)  # above the manager's role
    await guild.add_role("alice", manager)
    await env.settle()
    await apply_changes(MODERATION, guild.id, owner, {"mute_role_id": senior.id})
    await apply_changes(MODERATION, guild.id, owner, {"mute_role_id": None})
    audited = await AuditLog.filter(guild_id=guild.id).count()

    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "alice")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/history?feature=moderation")
    newest = page.locator("li.history-entry").first
    assert "@Senior" in await newest.inner_text()
    await newest.get_by_role("button", name="Restore this version").click()
    await page.get_by_role("button", name="Restore these values").click()
    error = await page.locator("#restore-error").inner_text()
    assert "not below your highest role" in error

    row = await ModerationSettings.get(guild_id=guild.id)
    assert row.mute_role_id is None
    assert await AuditLog.filter(guild_id=guild.id).count() == audited
    await context.close()


async def test_a_member_without_manage_server_gets_404(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    owner = guild.owner.id  # type: ignore[attr-defined]
    await apply_changes(ECONOMY, guild.id, owner, {"daily_amount": 777})
    entry = await AuditLog.filter(guild_id=guild.id).first()
    assert entry is not None
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "alice")
    answer = await page.goto(f"{dashboard.url}/guilds/{guild.id}/history")
    assert answer is not None and answer.status == 404
    assert "daily amount" not in await page.content()
    await page.goto(f"{dashboard.url}/guilds")
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    refused = await page.request.post(
        f"{dashboard.url}/guilds/{guild.id}/history/{entry.id}/restore",
        form={"csrf_token": token, "confirm": "yes"},
    )
    assert refused.status == 404
    assert (await read_settings(ECONOMY, guild.id))["daily_amount"] == 777
    await context.close()


async def test_older_changes_are_a_cursor_away_and_the_filters_choose(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    owner = guild.owner.id  # type: ignore[attr-defined]
    for amount in range(1, 28):
        await apply_changes(ECONOMY, guild.id, owner, {"daily_amount": amount})
    await apply_changes(MODERATION, guild.id, owner, {"modlog_channel_id": None})  # no change
    await apply_changes(
        MODERATION, guild.id, owner, {"modlog_channel_id": dashboard.env.channel("general").id}
    )
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/history")
    entries = page.locator("li.history-entry")
    assert await entries.count() == 25
    assert "#general" in await entries.first.inner_text()
    await page.get_by_role("link", name="Older changes").click()
    assert await entries.count() == 3  # 28 changes in all
    assert await page.get_by_role("link", name="Older changes").count() == 0
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/history")
    await page.get_by_label("Feature").select_option("moderation")
    await page.get_by_label("Person").select_option(label="owner")
    await page.get_by_role("button", name="Show").click()
    assert await entries.count() == 1
    assert "modlog channel" in await entries.first.inner_text()
    answer = await page.goto(f"{dashboard.url}/guilds/{guild.id}/history?cursor=nope")
    assert answer is not None and answer.status == 400
    assert "start again" in await page.locator(".history-error").inner_text()
    await context.close()


async def test_a_restore_confirmed_after_someone_else_changed_the_settings_is_refused(
    dashboard: Dashboard,
) -> None:
    guild = dashboard.env.server.guild
    owner = guild.owner.id  # type: ignore[attr-defined]
    await apply_changes(ECONOMY, guild.id, owner, {"daily_amount": 500})
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/history")
    await page.get_by_role("button", name="Restore this version").first.click()
    await apply_changes(ECONOMY, guild.id, owner, {"daily_amount": 900})  # meanwhile
    await page.get_by_role("button", name="Restore these values").click()
    error = await page.locator("#restore-error").inner_text()
    assert "changed by someone else" in error
    assert (await read_settings(ECONOMY, guild.id))["daily_amount"] == 900
    assert not await AuditLog.filter(guild_id=guild.id, action="economy.restore").exists()
    await context.close()
