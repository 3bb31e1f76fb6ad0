"""The dashboard's tickets page in a real browser: a panel is created, given a button and posted
from the browser, then a member opens a ticket from it in the local Discord."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page

from models.security import AuditLog, AuditSource
from models.tickets import Ticket, TicketPanel
from pegasus.localdiscord.permissions import Permissions
from tests.browser.conftest import Dashboard
from tests.e2e.test_tickets import open_ticket

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.tickets"), scheduler_poll_interval=0.05
)
PANEL_ID = re.compile(r"TP-[0-9A-Z]+")


async def wait_for_the_post(page: Page) -> str:
    """Reload the page (as a person would) until the queued post is no longer pending."""
    for _ in range(100):
        heading = await page.locator("#job-heading").inner_text()
        if not heading.endswith("pending"):
            return heading
        await asyncio.sleep(0.1)
        await page.reload()
    raise AssertionError("the panel was never posted")


async def test_a_panel_made_in_the_browser_opens_tickets_in_discord(dashboard: Dashboard) -> None:
    env = dashboard.env
    guild = env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    tickets_url = f"{dashboard.url}/guilds/{guild.id}/tickets"
    answer = await page.goto(tickets_url)
    assert answer is not None and answer.status == 200
    assert "script-src" not in answer.headers["content-security-policy"]
    await dashboard.shoot(page, "tickets-empty")

    # Create: title, description and Moderator as staff.
    await page.locator("#new-title").fill("Support")
    await page.locator("#new-description").fill("Need help? Open a ticket.")
    await page.locator("#new-roles").select_option(label="@Moderator")
    await page.get_by_role("button", name="Create the panel").click()
    notice = await page.get_by_role("status").inner_text()
    match = PANEL_ID.search(notice)
    assert match and "created" in notice, notice
    panel_id = match.group(0)
    stored = await TicketPanel.get(panel_id=panel_id)
    moderator = env.guild.role("Moderator")
    assert stored.title == "Support" and stored.support_role_ids == [moderator.id]

    # Posting a panel without buttons is refused next to the form, as the API refuses it.
    await page.locator(f"#channel-{panel_id}").select_option(label="#general")
    await page.get_by_role("button", name=f"Post {panel_id}").click()
    refusal = await page.locator(f"#error-send-{panel_id}").inner_text()
    assert "has no buttons yet" in refusal
    assert not [message for message in env.channel("general").bot_messages if message.buttons]

    # A button, then the post.
    await page.get_by_text("Add a button").click()
    await page.locator(f"#label-{panel_id}").fill("Help")
    await page.get_by_role("button", name="Add the button").click()
    assert "Button added" in await page.get_by_role("status").inner_text()
    await page.locator(f"#channel-{panel_id}").select_option(label="#general")
    await page.get_by_role("button", name=f"Post {panel_id}").click()
    assert "job=" in page.url
    assert await wait_for_the_post(page) == "Posting the panel: done"
    await dashboard.shoot(page, "tickets-posted")
    await env.settle()
    posted = [message for message in env.channel("general").bot_messages if message.buttons]
    assert [button["label"] for button in posted[0].buttons] == ["Help"]

    # A member opens a ticket from it in Discord; the bot makes the ticket channel.
    await open_ticket(env, env.member("alice"))
    ticket = await Ticket.get(number=1)
    assert ticket.user_id == env.member("alice").id and ticket.channel_id is not None
    assert env.channel(ticket.channel_id).name == "ticket-0001"

    # The page lists it with its transcript.
    await page.goto(tickets_url)
    link = page.get_by_role("link", name="Transcript of #0001")
    assert await link.count() == 1
    href = await link.get_attribute("href")
    assert href is not None
    download = await context.request.get(f"{dashboard.server.url}{href}")
    assert download.status == 200
    assert "attachment" in download.headers["content-disposition"]
    assert "Support" in await download.text() or "#0001" in await download.text()
    await dashboard.shoot(page, "tickets")

    # Every change was audited as the owner, from the web.
    rows = await AuditLog.filter(target_id=panel_id)
    assert sorted(row.action for row in rows) == ["tickets.panel.button", "tickets.panel.create"]
    assert {(row.source, row.actor_id) for row in rows} == {(AuditSource.WEB, env.owner.id)}
    assert all(row.ip_hash and row.user_agent for row in rows)
    await context.close()


async def test_a_panel_is_deleted_after_confirmation(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/tickets")
    await page.locator("#new-title").fill("Appeals")
    await page.locator("#new-description").fill("Appeal a ban.")
    await page.locator("#new-color").fill("not a colour")
    await page.get_by_role("button", name="Create the panel").click()
    # The service's refusal, next to the form, with what was typed kept.
    assert await page.locator("#error-create").count() == 1
    assert await page.locator("#new-title").input_value() == "Appeals"
    assert not await TicketPanel.exists()
    await page.locator("#new-color").fill("red")
    await page.get_by_role("button", name="Create the panel").click()
    panel = await TicketPanel.get(title="Appeals")
    await page.get_by_role("link", name=f"Delete {panel.panel_id}…").click()
    await dashboard.shoot(page, "tickets-delete")
    assert await TicketPanel.exists()  # asking changes nothing
    await page.get_by_role("link", name="Keep it").click()
    assert await TicketPanel.exists()
    await page.get_by_role("link", name=f"Delete {panel.panel_id}…").click()
    await page.get_by_role("button", name=f"Delete {panel.panel_id}").click()
    assert "deleted" in await page.get_by_role("status").inner_text()
    assert not await TicketPanel.exists()
    await context.close()


async def test_support_roles_follow_the_role_rule_for_the_person(dashboard: Dashboard) -> None:
    """A manager may not have the bot give a role they could not give themselves."""
    guild = dashboard.env.server.guild
    manager = await guild.create_role(
        "Server Manager", permissions=Permissions.of("manage_guild"), position=1
    )
    await guild.add_role("alice", manager)
    await dashboard.env.settle()
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "alice")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}/tickets")
    await page.locator("#new-title").fill("Support")
    await page.locator("#new-description").fill("Ask us.")
    await page.locator("#new-roles").select_option(label="@Moderator")
    await page.get_by_role("button", name="Create the panel").click()
    refusal = await page.locator("#error-create").inner_text()
    assert refusal == "@Moderator is not below your highest role, so you can't have me give it."
    assert not await TicketPanel.exists()
    await context.close()
