"""Reward roles, XP multipliers and shop items set in a real browser, reached from the guild
page with the keyboard-usable links, with screenshots at desktop and phone widths."""

from __future__ import annotations

import pytest

from models.economy import EconomyShopItem
from models.levels import XpMultiplier, XpReward
from tests.browser.conftest import Dashboard

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",))


async def test_a_reward_a_multiplier_and_a_shop_item_are_set_in_the_browser(
    dashboard: Dashboard,
) -> None:
    env = dashboard.env
    guild = env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    await page.get_by_role("link", name="Reward roles and XP multipliers").click()
    assert await page.get_by_role("heading", level=1).inner_text() == (
        "Reward roles and XP multipliers"
    )

    await page.locator("#reward-level").fill("5")
    await page.locator("#reward-role").select_option(label="@Moderator")
    await page.get_by_role("button", name="Add the reward").click()
    assert await page.get_by_role("status").inner_text() == "@Moderator is given at level 5."
    reward = await XpReward.get(guild_id=guild.id)
    assert (reward.level, reward.role_id) == (5, env.guild.role("Moderator").id)

    await page.get_by_role("radio", name="a channel").check()
    await page.locator("#multiplier-channel").select_option(label="#general")
    await page.locator("#multiplier-percent").fill("150")
    await page.get_by_role("button", name="Set the multiplier").click()
    assert "150%" in await page.get_by_role("status").inner_text()
    multiplier = await XpMultiplier.get(guild_id=guild.id)
    assert (multiplier.target_id, multiplier.multiplier) == (env.channel("general").id, 150)
    await dashboard.shoot(page, "level-rewards")

    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    await page.get_by_role("link", name="Shop items").click()
    await page.locator("#item-name").fill("Trophy")
    await page.locator("#item-price").fill("250")
    await page.locator("#item-description").fill("Shiny.")
    await page.get_by_role("button", name="Add the item").click()
    assert await page.get_by_role("status").inner_text() == "Trophy is in the shop."
    item = await EconomyShopItem.get(guild_id=guild.id)
    assert (item.name, item.price, item.enabled) == ("Trophy", 250, True)
    await dashboard.shoot(page, "shop")
    await page.get_by_role("link", name="Remove Trophy…").click()
    await dashboard.shoot(page, "shop-remove")
    await page.get_by_role("button", name="Remove Trophy").click()
    assert await page.get_by_role("status").inner_text() == "Trophy was removed from the shop."
    assert not await EconomyShopItem.exists()
    await context.close()
