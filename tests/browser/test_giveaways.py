"""The dashboard's giveaways page in a real browser: a giveaway is created from the browser and
the bot posts it in the local Discord, a member enters it there, the page lists it, it is ended
from the browser and the bot announces the winner, whom the page shows; a form sent without the
CSRF token is refused and changes nothing; a running giveaway is cancelled after its confirmation
page and the bot takes its Enter button off."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page

from models.giveaways import Giveaway, GiveawayStatus
from models.scheduling import ScheduledAction
from models.security import AuditLog, AuditSource
from tests.browser.conftest import Dashboard
from tests.e2e.test_giveaways import announcements, enter, mentioned

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.giveaways"), scheduler_poll_interval=0.05
)


async def wait_for_the_job(page: Page) -> str:
    """Reload the page (as a person would) until the queued job is no longer pending."""
    for _ in range(100):
        heading = await page.locator("#job-heading").inner_text()
        if not heading.endswith("pending"):
            return heading
        await asyncio.sleep(0.1)
        await page.reload()
    raise AssertionError("the bot never ran the job")


async def test_a_giveaway_made_in_the_browser_is_posted_entered_ended_and_won(
    dashboard: Dashboard,
) -> None:
    env = dashboard.env
    guild = env.server.guild
    alice = env.member("alice")
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    await page.get_by_role("link", name="Giveaways", exact=True).click()
    giveaways_url = f"{dashboard.url}/guilds/{guild.id}/giveaways"
    assert page.url == giveaways_url
    assert "No giveaway is running" in await page.locator("main").inner_text()
    await dashboard.shoot(page, "giveaways-empty")

    # Create: the bot posts its message with the Enter button in #general.
    await page.get_by_label("Prize").fill("Nitro Classic")
    await page.get_by_label("Channel").select_option(label="#general")
    await page.get_by_label("Lasts").fill("1h")
    await page.get_by_label("Winners").fill("1")
    await page.get_by_role("button", name="Create the giveaway").click()
    assert "job=" in page.url
    assert await wait_for_the_job(page) == "Posting the giveaway: done"
    row = await Giveaway.get(guild_id=guild.id)
    assert row.message_id is not None
    await env.settle()
    (message,) = [m for m in env.channel("general").bot_messages if row.giveaway_id in m.text]
    assert message.embed is not None and message.embed["title"] == "🎉 Nitro Classic"

    # A member enters it in Discord; the page lists it with its entry.
    assert "You're in" in await enter(alice, message)
    await page.goto(giveaways_url)
    running = page.locator("#running tbody tr")
    assert await running.count() == 1
    cells = [await cell.inner_text() for cell in await running.locator("td").all()]
    assert row.giveaway_id in cells[0] and cells[1] == "#general"
    assert (cells[3], cells[4]) == ("1", "1")
    await dashboard.shoot(page, "giveaways")

    # End it now from its page: the bot draws and announces; the page names the winner.
    await page.get_by_role("link", name="Nitro Classic", exact=True).click()
    assert row.seed not in await page.content()  # only its hash before the end
    await dashboard.shoot(page, "giveaway-running")
    await page.get_by_role("button", name=f"End {row.giveaway_id} now").click()
    assert await wait_for_the_job(page) == "Ending the giveaway: done"
    assert await page.locator("#job-winners").inner_text() == "Winners: alice."
    await env.settle()
    (announcement,) = announcements(env)
    assert mentioned(announcement.content) == {alice.id}
    await page.goto(page.url.split("?")[0])
    assert await page.locator("#seed").inner_text() == row.seed
    assert await page.locator("#check-result").get_attribute("data-ok") == "yes"
    assert "alice" in await page.locator("#winners").inner_text()
    await dashboard.shoot(page, "giveaway-ended")
    await page.get_by_role("link", name="← Giveaways").click()
    ended = page.locator("#ended tbody tr")
    assert await ended.count() == 1 and "alice" in await ended.inner_text()
    assert await page.locator("#running").count() == 0

    rows = await AuditLog.filter(target_id=row.giveaway_id)
    assert sorted(r.action for r in rows) == ["giveaway.create", "giveaway.end"]
    assert {(r.source, r.actor_id) for r in rows} == {(AuditSource.WEB, env.owner.id)}
    await context.close()


async def test_a_giveaway_form_without_the_csrf_token_is_refused_and_changes_nothing(
    dashboard: Dashboard,
) -> None:
    env = dashboard.env
    guild = env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    giveaways_url = f"{dashboard.url}/guilds/{guild.id}/giveaways"
    await page.goto(giveaways_url)
    general = env.channel("general")
    form = {"prize": "Forged", "channel_id": str(general.id), "duration": "1h", "winners": "1"}
    response = await context.request.post(giveaways_url, form=form)
    assert response.status == 403
    assert "nothing was changed" in await response.text()
    assert not await Giveaway.exists()
    assert not await ScheduledAction.filter(kind__startswith="job.").exists()
    assert await AuditLog.filter(guild_id=guild.id).count() == 0

    # Nor can a running giveaway be ended without it.
    await page.get_by_label("Prize").fill("Real")
    await page.get_by_label("Channel").select_option(label="#general")
    await page.get_by_role("button", name="Create the giveaway").click()
    assert await wait_for_the_job(page) == "Posting the giveaway: done"
    row = await Giveaway.get(guild_id=guild.id)
    response = await context.request.post(f"{giveaways_url}/{row.giveaway_id}/end", form={})
    assert response.status == 403
    await asyncio.sleep(0.3)  # a queued end would have run by now
    await row.refresh_from_db()
    assert row.status == GiveawayStatus.ACTIVE and not announcements(env)

    # Cancelled from the list after its confirmation page: the bot takes the Enter button off.
    await page.goto(giveaways_url)
    await page.get_by_role("link", name=f"Cancel Real ({row.giveaway_id})…").click()
    await dashboard.shoot(page, "giveaway-cancel")
    await page.get_by_role("button", name=f"Cancel {row.giveaway_id}").click()
    assert await wait_for_the_job(page) == "Updating the giveaway's message: done"
    assert "It was cancelled; nobody won." in await page.locator("main").inner_text()
    await row.refresh_from_db()
    assert row.status == GiveawayStatus.CANCELLED
    await env.settle()
    (message,) = [m for m in env.channel("general").bot_messages if row.giveaway_id in m.text]
    assert message.buttons == [] and not announcements(env)
    assert await AuditLog.filter(action="giveaway.cancel", source=AuditSource.WEB).count() == 1
    await context.close()
