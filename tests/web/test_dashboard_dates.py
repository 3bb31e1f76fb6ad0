"""Dates on the dashboard as the reader's language writes them, in UTC and saying so; the
`<time datetime>` attributes stay ISO 8601 for machines."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta, timezone

import aiohttp

from models.tickets import Ticket
from pegasus.i18n import use_locale
from pegasus.localdiscord.server import LocalDiscord
from pegasus.services import directory
from pegasus.web.dashboard import giveaways, history, public, security_incidents
from tests.web.test_dashboard_overview import signed_in

MOMENT = datetime(2026, 3, 5, 14, 7, tzinfo=UTC)
WRITTEN = {
    "en": "Mar 5, 2026, 2:07\u202fPM UTC",
    "de": "05.03.2026, 14:07 UTC",
    "es": "5 mar 2026, 14:07 UTC",
    "fr": "5 mars 2026, 14:07 UTC",
}


async def read(http: aiohttp.ClientSession, url: str, language: str) -> str:
    async with http.get(url, headers={"Accept-Language": language}) as answer:
        assert answer.status == 200
        return html.unescape(await answer.text())


async def test_the_tickets_page_writes_the_date_in_the_browsers_language(
    local_discord: LocalDiscord, db: str
) -> None:
    guild = local_discord.guild
    opener = guild.member("alice").id
    await directory.ensure_guild(guild.id)
    await directory.ensure_user(opener)
    await Ticket.create(guild_id=guild.id, number=7, user_id=opener, created_at=MOMENT)
    async with signed_in(local_discord, guild.owner.id) as (base, http):
        url = f"{base}/dashboard/guilds/{guild.id}/tickets"
        german = await read(http, url, "de-DE,de;q=0.9")
        english = await read(http, url, "en-US")
    assert WRITTEN["de"] in german and "2026-03-05" not in german
    assert WRITTEN["en"] in english and "2026-03-05" not in english


def test_every_dashboard_date_helper_follows_the_language_and_converts_to_utc() -> None:
    paris = MOMENT.astimezone(timezone(timedelta(hours=1)))
    helpers = (giveaways._when, public._when, security_incidents._when, history.moment_words)
    for locale, written in WRITTEN.items():
        with use_locale(locale):
            assert {helper(paris) for helper in helpers} == {written}
    # Incident notes keep their moment as ISO text.
    with use_locale("de"):
        assert security_incidents._when(MOMENT.isoformat()) == WRITTEN["de"]
