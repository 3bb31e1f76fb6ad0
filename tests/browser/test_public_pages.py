"""The public pages in a real browser: the giveaway page recomputes a finished draw with Web
Crypto and finds the real winners; entries that were tampered with are shown as not matching.
No login: these pages are for anyone, once the server switched them on."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import ConsoleMessage, Page, Route

from models.giveaways import GiveawayEntry
from pegasus.services import giveaways as gsvc
from pegasus.services.dashboard import set_public_pages
from pegasus.services.levels.xp import XpOperation, adjust_xp
from tests.browser.conftest import Dashboard

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",))

NOW = datetime.now(UTC).replace(microsecond=0)


async def finished_giveaway(dashboard: Dashboard) -> gsvc.GiveawayInfo:
    env = dashboard.env
    draft = gsvc.GiveawayDraft(
        guild_id=env.guild.id, channel_id=env.channel("general").id, host_id=env.owner.id,
        prize="Nitro for a month", winner_count=2, duration_seconds=3600,
    )
    created = await gsvc.create_giveaway(draft, now=NOW, rng=random.Random(2026))
    for member, extra in ((env.alice, 0), (env.bob, 2), (env.carol, 0), (env.mod, 1)):
        await gsvc.toggle_entry(created.id, gsvc.Entrant(member.id), now=NOW)
        if extra:  # a weight above 1, as bonus entries give
            await GiveawayEntry.filter(giveaway_id=created.id, user_id=member.id).update(
                entries=1 + extra
            )
    ended = await gsvc.end_giveaway(created.id, now=NOW + timedelta(hours=2))
    assert ended is not None and len(ended.winners) == 2
    rerolled, _ = await gsvc.reroll(
        env.guild.id, ended.giveaway_id, count=1, now=NOW + timedelta(hours=3), by=env.owner.id
    )
    return rerolled


async def verdict(page: Page) -> tuple[str, dict[int, list[int]]]:
    shown = page.locator("#browser-verdict")
    await shown.wait_for()
    outcome = await shown.get_attribute("data-outcome")
    assert outcome is not None
    recomputed: dict[int, list[int]] = {}
    for item in await page.locator("#browser-result li.recomputed").all():
        round_no = int(await item.get_attribute("data-round") or "-1")
        ids = await item.get_attribute("data-ids") or ""
        recomputed[round_no] = [int(user_id) for user_id in ids.split(",") if user_id]
    return outcome, recomputed


async def test_the_public_giveaway_page_verifies_a_finished_draw_in_the_browser(
    dashboard: Dashboard,
) -> None:
    env = dashboard.env
    giveaway = await finished_giveaway(dashboard)
    await set_public_pages(env.guild.id, env.owner.id, True)
    url = f"{dashboard.server.url}/public/guilds/{env.guild.id}/giveaways/{giveaway.giveaway_id}"
    context, page = await dashboard.new_page()
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", note)
    answer = await page.goto(url)
    assert answer is not None and answer.status == 200
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    await page.get_by_role("button", name="Verify the draw").click()
    outcome, recomputed = await verdict(page)
    assert outcome == "match"
    assert recomputed == {draw.round: list(draw.winners) for draw in giveaway.draws}
    assert len(recomputed) == 2  # the end and a reroll
    assert refused == []  # the script ran under the page's policy, nothing was blocked
    await dashboard.shoot(page, "public-giveaway")

    # A reroll shown as not excluding the earlier winners cannot check out.
    await page.evaluate(
        "document.querySelector('.public-draws li[data-round=\"1\"]').dataset.excluded = ''"
    )
    await page.get_by_role("button", name="Verify the draw").click()
    await page.locator('#browser-verdict[data-outcome="mismatch"]').wait_for()
    await page.goto(url)

    # Entries tampered with on the way (one weight raised): the browser says so.
    async def tampered(route: Route) -> None:
        response = await route.fetch()
        text = await response.text()
        first, *rest = text.splitlines(keepends=True)
        user_id, _ = first.strip().split(":")
        await route.fulfill(response=response, body=f"{user_id}:50\n" + "".join(rest))

    await page.route("**/entries.txt", tampered)
    await page.get_by_role("button", name="Verify the draw").click()
    await page.locator('#browser-verdict[data-outcome="mismatch"]').wait_for()
    assert "is not the digest" in await page.locator("#browser-result").inner_text()

    # A saved file checked by hand: the same verdict for the same tampering.
    await page.unroute("**/entries.txt")
    await page.goto(url)
    honest = await (await page.request.get(url + "/entries.txt")).text()
    forged = honest.replace(f"{env.alice.id}:1", f"{env.alice.id}:9")
    assert forged != honest
    await page.get_by_label("Or check an entries file you saved").set_input_files(
        files=[{"name": "entries.txt", "mimeType": "text/plain", "buffer": forged.encode()}]
    )
    await page.locator('#browser-verdict[data-outcome="mismatch"]').wait_for()
    await page.get_by_label("Or check an entries file you saved").set_input_files(
        files=[{"name": "entries.txt", "mimeType": "text/plain", "buffer": honest.encode()}]
    )
    await page.locator('#browser-verdict[data-outcome="match"]').wait_for()
    await context.close()


async def test_the_public_leaderboard_is_readable_without_login_and_404_when_off(
    dashboard: Dashboard,
) -> None:
    env = dashboard.env
    for place, member in enumerate((env.alice, env.bob, env.carol)):
        await adjust_xp(env.guild.id, member.id, XpOperation.ADD, 500 * (place + 1), now=NOW)
    url = f"{dashboard.server.url}/public/guilds/{env.guild.id}/leaderboard"
    context, page = await dashboard.new_page()
    answer = await page.goto(url)
    assert answer is not None and answer.status == 404
    await set_public_pages(env.guild.id, env.owner.id, True)
    answer = await page.goto(url)
    assert answer is not None and answer.status == 200
    rows = await page.locator("table.public-board tbody tr").all_inner_texts()
    assert [row.split("\t")[1] for row in rows] == [
        member.name for member in (env.carol, env.bob, env.alice)
    ]
    await dashboard.shoot(page, "public-leaderboard")
    await page.get_by_role("link", name="Money").click()
    await page.wait_for_url("**board=money")
    await context.close()
