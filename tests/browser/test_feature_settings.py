"""The settings pages of the dashboard, generated from the settings declarations, through a real
browser against the local Discord and the real bot."""

from __future__ import annotations

import time

import pytest

from models.guilds import GuildSettings
from models.security import AuditLog, AuditSource
from pegasus.errors import ValidationError
from pegasus.services import levels
from pegasus.services.levels import Activity
from tests.browser.conftest import Dashboard

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def _level_up(dashboard: Dashboard) -> None:
    env = dashboard.env
    activity: Activity = env.bot.activity_buffer
    activity.clock = Clock()
    await env.alice.say("general", "enough words for a level")
    await env.settle()
    await activity.flush()
    await activity.drain()
    await env.settle()


async def test_level_up_message_changed_in_the_browser_is_what_the_bot_posts(
    dashboard: Dashboard,
) -> None:
    env = dashboard.env
    guild = env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    await page.get_by_role("link", name="Levels", exact=True).click()
    assert await page.get_by_role("heading", level=1).inner_text() == "Levels"
    await dashboard.shoot(page, "settings-levels")
    message = page.get_by_label("Level-up message", exact=True)
    await message.fill("Bravo {user}, now level {level}!")
    await page.get_by_label("Minimum XP per message", exact=True).fill("100")
    await page.get_by_label("Maximum XP per message", exact=True).fill("100")
    await page.get_by_role("button", name="Save levels and level-ups").click()
    await page.wait_for_url("**saved=levels*")
    assert await page.get_by_role("status").first.inner_text() == "Saved."
    row = await GuildSettings.get(guild_id=guild.id)
    assert row.xp_level_up_message == "Bravo {user}, now level {level}!"
    audit = await AuditLog.filter(guild_id=guild.id, action="levels.settings").get()
    assert audit.source is AuditSource.WEB
    assert audit.actor_id == guild.owner.id  # type: ignore[attr-defined]
    assert audit.ip_hash and audit.user_agent and "Chrome" in audit.user_agent
    assert audit.after == {
        "xp_level_up_message": "Bravo {user}, now level {level}!",
        "xp_min": 100,
        "xp_max": 100,
    }

    await _level_up(dashboard)
    assert [m.content for m in env.channel("general").bot_messages] == [
        f"Bravo {env.alice.mention}, now level 1!"
    ]
    await context.close()


async def test_a_refused_value_shows_the_services_sentence_and_changes_nothing(
    dashboard: Dashboard,
) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/levels")
    before = await GuildSettings.get_or_none(guild_id=guild.id)
    # The browser would refuse a number out of its bounds; a person can still send one.
    field = page.get_by_label("Rate (%)", exact=True)
    await field.evaluate("element => { element.removeAttribute('max') }")
    await field.fill("100000")
    await page.get_by_role("button", name="Save levels and level-ups").click()
    error = page.locator("#levels-xp_rate-error")
    with pytest.raises(ValidationError) as refusal:
        levels.SETTINGS["xp_rate"].check(100_000)
    assert await error.inner_text() == refusal.value.plain()
    assert "Nothing was saved" in await page.get_by_role("alert").first.inner_text()
    await dashboard.shoot(page, "settings-refused")
    after = await GuildSettings.get_or_none(guild_id=guild.id)
    assert (before.xp_rate if before else None) == (after.xp_rate if after else None)
    assert await AuditLog.filter(guild_id=guild.id).count() == 0

    # A rule between settings is the form's refusal, with the service's sentence.
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/levels")
    await page.get_by_label("Minimum XP per message", exact=True).fill("50")
    await page.get_by_label("Maximum XP per message", exact=True).fill("10")
    await page.get_by_role("button", name="Save levels and level-ups").click()
    alert = await page.locator("#levels .form-error").inner_text()
    assert alert == "The minimum XP per message is above the maximum."
    assert await AuditLog.filter(guild_id=guild.id).count() == 0
    await context.close()


async def test_a_stale_form_is_refused_with_a_sentence(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/economy")
    other, second = await dashboard.new_page()
    await dashboard.log_in(second, "owner")
    await second.goto(f"{dashboard.url}/guilds/{guild.id}/settings/economy")
    await second.get_by_label("Daily amount", exact=True).fill("321")
    await second.get_by_role("button", name="Save economy").click()
    await second.wait_for_url("**saved=economy*")

    await page.get_by_label("Daily amount", exact=True).fill("999")
    await page.get_by_role("button", name="Save economy").click()
    alert = await page.locator("#economy .form-error").inner_text()
    assert "changed by someone else since you read them" in alert
    assert await page.get_by_label("Daily amount", exact=True).input_value() == "321"
    audits = await AuditLog.filter(guild_id=guild.id, action="economy.settings").count()
    assert audits == 1
    await other.close()
    await context.close()


async def test_a_member_without_manage_server_cannot_post(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "alice")
    answer = await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/levels")
    assert answer is not None and answer.status == 404
    # With her own session's CSRF token, a POST to the guild's settings is a 404 too.
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    response = await context.request.post(
        f"{dashboard.url}/guilds/{guild.id}/settings/levels/levels",
        form={"csrf_token": token, "version": "x", "xp_level_up_message": "hijacked"},
    )
    assert response.status == 404
    row = await GuildSettings.get_or_none(guild_id=guild.id)
    assert row is None or row.xp_level_up_message != "hijacked"
    assert await AuditLog.filter(guild_id=guild.id).count() == 0
    await context.close()
