"""The guild overview's charts and the member pages over HTTP, logged in through the local
Discord's OAuth2 (the web application as `python -m pegasus web` serves it)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp

from models.moderation import CaseType
from models.stats import GuildDailyStats
from pegasus.config import Settings
from pegasus.localdiscord.oauth2 import oauth2_of
from pegasus.localdiscord.server import LocalDiscord
from pegasus.services import directory, stats
from pegasus.services.moderation import cases
from pegasus.web import WebServer, create_app, web_config


@asynccontextmanager
async def signed_in(
    server: LocalDiscord, user_id: int
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": server.token,
            "DATABASE_URL": "sqlite://:memory:",
            "WEB_SECRET": "s" * 40,
            "DISCORD_API_BASE": server.api_base,
            "DISCORD_CLIENT_ID": str(server.application_id),
            "DISCORD_CLIENT_SECRET": oauth2_of(server).client_secret,
        },
        load_dotenv=False,
    )
    web = WebServer(create_app(web_config(settings)), "127.0.0.1", 0)
    await web.start()
    oauth2_of(server).redirect_uris.add(f"{web.url}/dashboard/callback")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{web.url}/dashboard/login", allow_redirects=False) as answer:
                authorize = answer.headers["Location"]
            query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
            async with http.post(
                f"{server.base_url}/oauth2/authorize",
                data={**query, "user_id": str(user_id)},
                allow_redirects=False,
            ) as answer:
                callback = answer.headers["Location"]
            async with http.get(callback) as answer:
                assert answer.status == 200
            yield web.url, http
    finally:
        await web.stop()


async def page(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as answer:
        return answer.status, html.unescape(await answer.text())


def table_row(text: str, chart: str, label: str) -> list[str]:
    """The figures of one row of a chart's table."""
    section = text.split(f'class="chart chart-{chart}', 1)[1].split("</figure>", 1)[0]
    row = re.search(rf'<th scope="row">{re.escape(label)}</th>(.*?)</tr>', section)
    assert row is not None, f"no row {label} in {chart}"
    return re.findall(r"<td>(.*?)</td>", row.group(1))


async def test_overview_charts_show_the_daily_figures(local_discord: LocalDiscord, db: str) -> None:
    server = local_discord
    guild = server.guild
    await directory.ensure_guild(guild.id)
    today = datetime.now(UTC).date()
    earlier = today - timedelta(days=10)
    await GuildDailyStats.create(
        guild_id=guild.id, day=earlier, messages=120, active_members=7, xp_given=900
    )
    await GuildDailyStats.create(guild_id=guild.id, day=today, messages=15, active_members=3)
    await stats.record_join(guild.id, datetime.now(UTC))
    await stats.record_join(guild.id, datetime.now(UTC))
    await stats.record_leave(guild.id, datetime.now(UTC))
    alice = guild.member("alice")
    # What the bot's member directory stores of her (the web process has no bot).
    await directory.upsert_members(
        guild.id, [directory.MemberInfo(directory.UserInfo(alice.id, username="alice"), "Ally")]
    )
    for case_type in (CaseType.WARN, CaseType.WARN, CaseType.KICK):
        await cases.record_action(
            guild_id=guild.id,
            case_type=case_type,
            user_id=alice.id,
            moderator_id=guild.owner.id,
            reason="spam",
            now=datetime.now(UTC),
        )

    async with signed_in(server, guild.owner.id) as (base, http):
        status, month = await page(http, f"{base}/dashboard/guilds/{guild.id}")
        assert status == 200
        assert table_row(month, "messages", today.isoformat()) == ["15", "3"]
        assert table_row(month, "messages", earlier.isoformat()) == ["120", "7"]
        assert table_row(month, "members", today.isoformat()) == ["2", "1"]
        assert table_row(month, "xp", earlier.isoformat()) == ["900"]
        assert table_row(month, "cases", "warn") == ["2"]
        assert table_row(month, "cases", "kick") == ["1"]
        assert '<title id="chart-messages-title">Messages and active members</title>' in month
        assert month.count('<th scope="row">', month.index("chart-xp")) >= 30

        status, week = await page(http, f"{base}/dashboard/guilds/{guild.id}?days=7")
        assert status == 200 and 'aria-current="page">7 days' in week
        assert earlier.isoformat() not in week.split("chart-messages", 1)[1].split("</figure>")[0]
        assert table_row(week, "messages", today.isoformat()) == ["15", "3"]

        status, search = await page(http, f"{base}/dashboard/guilds/{guild.id}/members?q=ali")
        assert status == 200
        assert f"/dashboard/guilds/{guild.id}/members/{alice.id}" in search
        status, member = await page(http, f"{base}/dashboard/guilds/{guild.id}/members/{alice.id}")
        assert status == 200 and "<h1>Ally</h1>" in member
        assert member.count("Case ") == 3 and "Case 3: kick" in member
        assert member.index("Case 3: kick") < member.index("Case 1: warn")  # newest first


async def test_a_member_without_manage_server_gets_404(
    local_discord: LocalDiscord, db: str
) -> None:
    server = local_discord
    guild = server.guild
    await directory.ensure_guild(guild.id)
    alice = guild.member("alice")
    await directory.ensure_member(guild.id, alice.id)
    async with signed_in(server, alice.id) as (base, http):
        for path in ("", "?days=7", "/members", f"/members/{alice.id}"):
            status, _ = await page(http, f"{base}/dashboard/guilds/{guild.id}{path}")
            assert status == 404, path
