"""Changes of a guild's configuration collections are audited like settings: who, before, after."""

from __future__ import annotations

import re

import pytest

from models.security import AuditLog
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.levels", "cogs.economy", "cogs.tickets")
)

PANEL_ID = re.compile(r"TP-[0-9A-Z]+")


async def audited(action: str) -> list[AuditLog]:
    return await AuditLog.filter(action=action).order_by("created_at").all()


async def test_rewards_and_multipliers_are_audited(discord_env: DiscordEnv) -> None:
    env = discord_env
    vip = await env.guild.create_role("VIP", position=1)
    await env.settle()
    await env.owner.slash("levels reward-add", level=5, role=vip)
    await env.owner.slash("levels multiplier", target=f"role:{vip.id}", percent=150)
    await env.owner.slash("levels reward-remove", level=5, role=vip)

    [added] = await audited("levels.reward.add")
    assert added.before is None and added.after["role_id"] == vip.id  # type: ignore[index]
    assert added.actor_id == env.owner.id  # type: ignore[attr-defined]
    [removed] = await audited("levels.reward.remove")
    assert removed.after is None and removed.before["level"] == 5  # type: ignore[index]
    [multiplier] = await audited("levels.multiplier.set")
    assert (multiplier.before, multiplier.after) == (None, {"percent": 150})


async def test_shop_items_are_audited(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("shop-admin add", name="Cookie", price=25)
    await env.owner.slash("shop-admin edit", item="Cookie", price=30)
    prompt = await env.owner.slash("shop-admin remove", item="Cookie")
    await env.owner.click(prompt, label="Remove")

    [added] = await audited("shop.item.add")
    assert added.before is None and added.after["price"] == 25  # type: ignore[index]
    [edited] = await audited("shop.item.edit")
    assert (edited.before["price"], edited.after["price"]) == (25, 30)  # type: ignore[index]
    [removed] = await audited("shop.item.remove")
    assert removed.before["name"] == "Cookie" and removed.after is None  # type: ignore[index]


async def test_ticket_panels_are_audited(discord_env: DiscordEnv) -> None:
    env = discord_env
    created = await env.owner.slash("ticket-panel create", title="Help", description="Ask")
    panel_id = PANEL_ID.search(created.text).group(0)  # type: ignore[union-attr]
    await env.owner.slash("ticket-panel button", panel=panel_id, label="Billing")
    await env.owner.slash("ticket-panel edit", panel=panel_id, title="Support")

    [made] = await audited("tickets.panel.create")
    assert made.before is None and made.after["title"] == "Help"  # type: ignore[index]
    [button] = await audited("tickets.panel.button")
    assert len(button.before["buttons"]) == 0 and len(button.after["buttons"]) == 1  # type: ignore[index]
    [edit] = await audited("tickets.panel.edit")
    assert (edit.before["title"], edit.after["title"]) == ("Help", "Support")  # type: ignore[index]
    assert {entry.actor_id for entry in (made, button, edit)} == {env.owner.id}  # type: ignore[attr-defined]
