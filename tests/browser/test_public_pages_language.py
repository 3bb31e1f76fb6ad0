"""The public giveaway page in the browser's language: a German browser reads the page and the
script's own check of the draw in German (the script takes its sentences from the page)."""

from __future__ import annotations

import pytest

from pegasus.services.dashboard import set_public_pages
from tests.browser.conftest import Dashboard
from tests.browser.test_public_pages import finished_giveaway, verdict

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",))


async def test_a_german_browser_checks_the_draw_in_german(dashboard: Dashboard) -> None:
    env = dashboard.env
    giveaway = await finished_giveaway(dashboard)
    await set_public_pages(env.guild.id, env.owner.id, True)
    url = f"{dashboard.server.url}/public/guilds/{env.guild.id}/giveaways/{giveaway.giveaway_id}"
    context = await dashboard.browser.new_context(locale="de-DE")
    page = await context.new_page()
    answer = await page.goto(url)
    assert answer is not None and answer.status == 200
    assert await page.locator("html").get_attribute("lang") == "de"
    await page.get_by_role("button", name="Auslosung prüfen").click()
    outcome, recomputed = await verdict(page)
    assert outcome == "match"
    assert recomputed == {draw.round: list(draw.winners) for draw in giveaway.draws}
    shown = await page.locator("#browser-result").inner_text()
    assert "Die Auslosung stimmt" in shown
    assert "Der SHA-256 der Eintragsdatei ist der am Ende gespeicherte Digest." in shown
    assert "Neuauslosung 1, hier neu berechnet:" in shown
    await context.close()
