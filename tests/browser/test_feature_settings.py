"""The settings pages of the dashboard, generated from the settings declarations, through a real
browser against the local Discord and the real bot."""

from __future__ import annotations

import re
import time

import pytest

from models.guilds import GuildSettings
from models.moderation import ModerationSettings
from models.security import AuditLog, AuditSource
from pegasus.errors import ValidationError
from pegasus.localdiscord.permissions import Permissions
from pegasus.services import levels
from pegasus.services.levels import Activity
from pegasus.services.settings import Kind, Setting, declared
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


async def test_a_role_setting_follows_the_role_rule_of_its_command(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    # Below the bot's role, and above her highest role: she can't have it given.
    senior = await guild.create_role("Senior", position=1)
    manager = await guild.create_role(
        "Server Manager", permissions=Permissions.of("manage_guild"), position=1
    )
    await guild.add_role("alice", manager)
    await dashboard.env.settle()
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "alice")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/moderation")
    await page.get_by_label("Mute role", exact=True).select_option(label="@Senior")
    await page.get_by_role("button", name="Save moderation").click()
    error = await page.locator("#moderation-mute_role_id-error").inner_text()
    # The rule's sentence, the role by its name.
    assert error == "@Senior is not below your highest role, so you can't have me give it."
    row = await ModerationSettings.get_or_none(guild_id=guild.id)
    assert row is None or row.mute_role_id != senior.id
    assert await AuditLog.filter(guild_id=guild.id).count() == 0
    await context.close()


async def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    dashboard: Dashboard,
) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/levels")
    version = await page.locator("#levels input[name=version]").get_attribute("value")
    response = await context.request.post(
        f"{dashboard.url}/guilds/{guild.id}/settings/levels/levels",
        form={"version": version or "", "xp_level_up_message": "forged", "xp_min": "1"},
    )
    assert response.status == 403
    row = await GuildSettings.get_or_none(guild_id=guild.id)
    assert row is None or row.xp_level_up_message != "forged"
    assert await AuditLog.filter(guild_id=guild.id).count() == 0
    await context.close()


async def test_every_settings_page_is_generated_from_the_declarations(
    dashboard: Dashboard,
) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    for name in ("Levels", "Economy", "Moderation", "Tickets", "Community", "Security"):
        assert await page.get_by_role("link", name=name, exact=True).count() == 1
    by_page: dict[str, list[Setting]] = {}
    for feature, spec in declared().items():
        by_page.setdefault(feature.split(".")[0], []).extend(spec.settings)
    for key, settings in sorted(by_page.items()):
        answer = await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/{key}")
        assert answer is not None and answer.status == 200, key
        policy = answer.headers["content-security-policy"]
        # Only the pages with a message preview run a script, and only one of this server.
        assert ("script-src 'self'" in policy) == (key in ("community", "levels")), key
        assert "unsafe-inline" not in policy
        for setting in settings:  # every declared setting has its labelled input
            wanted = setting.label[:1].upper() + setting.label[1:]
            if setting.kind is Kind.NAMES:  # a group of boxes, one per name
                found = page.get_by_role("group", name=wanted, exact=True)
            else:
                labelled = re.compile(f"^{re.escape(wanted)}( \\(.*\\)| on)?$")
                found = page.get_by_label(labelled).and_(page.locator(f"[name={setting.name}]"))
            assert await found.count() == 1, (key, setting.label)
        await dashboard.shoot(page, f"settings-{key}")
    # Channels are offered by name.
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/levels")
    options = await page.get_by_label("Level-up channel", exact=True).inner_text()
    assert "#general" in options
    await context.close()
