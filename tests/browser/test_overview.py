"""The guild overview and the member page in a real browser: members talk and join in the local
Discord, the activity flush runs, and the charts and the timeline show it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from models.moderation import CaseType
from pegasus.services.moderation import cases
from tests.browser.conftest import Dashboard

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))


async def test_overview_charts_and_member_timeline(dashboard: Dashboard) -> None:
    env = dashboard.env
    guild = env.server.guild
    for text in ("hello", "anyone here?"):
        await env.alice.say("general", text)
    await env.bob.say("general", "hi")
    await guild.add_member("newcomer")
    await env.settle()
    await env.bot.activity_buffer.flush()
    await cases.record_action(
        guild_id=guild.id,
        case_type=CaseType.WARN,
        user_id=env.alice.id,
        moderator_id=guild.owner.id,
        reason="caps",
        now=datetime.now(UTC),
    )
    today = datetime.now(UTC).date().isoformat()

    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    chart = page.locator("figure.chart-messages")
    # The chart is an image named by its title and description (what a screen reader says).
    named = chart.get_by_role("img", name=re.compile(r"^Messages and active members Bars a day"))
    assert await named.count() == 1
    await chart.get_by_text("as a table").click()  # the table behind the chart opens
    row = chart.locator("tbody tr").first
    assert await row.locator("th").inner_text() == today
    assert await row.locator("td").all_inner_texts() == ["3", "2"]
    joins = page.locator("figure.chart-members tbody tr").first.locator("td")
    assert (await joins.all_text_contents())[0] == "1"  # its table is folded: text, not shown
    await page.get_by_role("link", name="7 days").click()
    assert await page.locator("figure.chart-messages tbody tr").count() == 7
    assert await page.locator("a[aria-current=page]").inner_text() == "7 days"
    await dashboard.shoot(page, "overview")

    await page.get_by_role("link", name="Members").click()
    await page.get_by_label("Name or id").fill("alice")
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name="alice").first.click()
    assert await page.get_by_role("heading", level=1).inner_text() == "alice"
    assert "Case 1: warn" in await page.locator("ol.timeline").inner_text()
    await dashboard.shoot(page, "member")
    await context.close()

    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "alice")
    for path in ("", f"/members/{env.alice.id}"):
        answer = await page.goto(f"{dashboard.url}/guilds/{guild.id}{path}")
        assert answer is not None and answer.status == 404
    await context.close()
