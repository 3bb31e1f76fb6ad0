"""The message previews, the channel lists and the member's level milestones, in a real browser
against the local Discord and the real bot: typing a welcome message updates its preview with
the placeholders filled for the person signed in; a channel chosen by its name is saved as its
id; a member who levels up in the local Discord has the level, dated, with its reward role, in
their timeline."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from playwright.async_api import Page, expect

from models.guilds import GuildSettings
from pegasus.i18n import format_date, use_locale
from pegasus.services import levels
from pegasus.services.levels import Activity
from tests.browser.conftest import Dashboard

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))

WELCOME = "#community-welcome_message-preview"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def _signed_in_name(page: Page) -> str:
    return (await page.locator("header .who").inner_text()).strip()


async def test_typing_a_welcome_message_updates_its_preview(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    name = await _signed_in_name(page)
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/community")
    content = page.locator(f"{WELCOME} [data-part=content]")

    await page.locator("#community-welcome_message").fill("Hi {user}, welcome to {server}!")
    await expect(content).to_have_text(f"Hi @{name}, welcome to {guild.name}!")

    # In an embed: the text becomes the embed's, and the message itself pings the newcomer.
    await page.locator("#community-welcome_embed_title").fill("Hello {username}")
    await page.get_by_label("Welcome embed", exact=True).check()
    embed = page.locator(f"{WELCOME} [data-part=embed]")
    await expect(embed).to_be_visible()
    await expect(embed.locator("[data-part=embed_title]")).to_have_text(f"Hello {name}")
    await expect(embed.locator("[data-part=embed_description]")).to_have_text(
        f"Hi @{name}, welcome to {guild.name}!"
    )
    await expect(content).to_have_text(f"@{name}")
    await dashboard.shoot(page, "settings-community-preview")

    await page.locator("#community-welcome_message").fill("Hi {nobody}")
    await expect(page.locator(f"{WELCOME} [data-part=error]")).to_contain_text(
        "Unknown placeholder {nobody}"
    )
    await context.close()


async def test_a_channel_chosen_by_name_is_saved_as_its_id(dashboard: Dashboard) -> None:
    env = dashboard.env
    guild = env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/settings/community")
    await page.get_by_label("Welcome channel", exact=True).select_option(label="#general")
    await page.get_by_role("button", name="Save welcome, goodbye, logging and autoroles").click()
    await page.wait_for_url("**saved=community*")
    row = await GuildSettings.get(guild_id=guild.id)
    assert row.welcome_channel_id == env.channel("general").id
    chosen = page.get_by_label("Welcome channel", exact=True).locator("option:checked")
    await expect(chosen).to_have_text("#general")
    await context.close()


async def test_the_timeline_shows_a_level_reached_with_its_date(dashboard: Dashboard) -> None:
    env = dashboard.env
    guild = env.server.guild
    await levels.update_settings(guild.id, xp_min=100, xp_max=100)
    regular = await guild.create_role("Regular")  # the bot is told, as by Discord
    await levels.add_reward(guild.id, 1, regular.id)
    activity: Activity = env.bot.activity_buffer
    activity.clock = Clock()
    await env.alice.say("general", "enough words for a level")
    await env.settle()
    await activity.flush()
    await activity.drain()
    now = datetime.now(UTC)
    with use_locale("en"):  # the browser asks for English
        today = format_date(now)

    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/members/{env.alice.id}")
    milestone = page.locator("ol.timeline li.event-levels").first
    await expect(milestone.locator("strong")).to_have_text("Reached level 1")
    await expect(milestone.locator("time")).to_contain_text(today)
    assert (await milestone.locator("time").get_attribute("datetime") or "").startswith(
        now.strftime("%Y-%m-%d")
    )
    shown = await milestone.inner_text()
    assert "earned by activity" in shown and "reward: @Regular" in shown
    await dashboard.shoot(page, "member-level-milestone")
    await context.close()
