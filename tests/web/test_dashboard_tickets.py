"""The dashboard's tickets page over HTTP, without a browser and without the bot in the process:
access, the CSRF token, refusals of the services, audit with source web, transcripts."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from models.scheduling import ScheduledAction
from models.security import AuditLog, AuditSource
from models.tickets import Ticket, TicketPanel
from pegasus.config import Settings
from pegasus.localdiscord.oauth2 import oauth2_of
from pegasus.localdiscord.server import LocalDiscord
from pegasus.services import directory
from pegasus.services import tickets as service
from pegasus.web import WebServer, create_app, web_config
from pegasus.web.discord_names import RestNames
from pegasus.web.jobs import JobKind

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """A person's cookie jar against the dashboard."""

    http: aiohttp.ClientSession
    base: str

    async def page(self, path: str) -> tuple[int, str]:
        async with self.http.get(f"{self.base}{path}", allow_redirects=False) as answer:
            return answer.status, html.unescape(await answer.text())

    async def post(self, path: str, form: dict[str, str]) -> tuple[int, str, str]:
        async with self.http.post(
            f"{self.base}{path}", data=form, allow_redirects=False
        ) as answer:
            return answer.status, html.unescape(await answer.text()), answer.headers.get(
                "Location", ""
            )


@pytest.fixture
async def web_server(local_discord: LocalDiscord, db: str) -> AsyncIterator[WebServer]:
    server = local_discord
    await directory.ensure_guild(server.guild.id)
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
    # As `python -m pegasus web` serves it: Discord's REST API says what the guild has.
    names = RestNames(server.api_base, server.token)
    web = WebServer(create_app(web_config(settings), names=names), "127.0.0.1", 0)
    await web.start()
    oauth2_of(server).redirect_uris.add(f"{web.url}/dashboard/callback")
    try:
        yield web
    finally:
        await web.stop()
        await names.close()


async def log_in(
    server: LocalDiscord, web: WebServer, http: aiohttp.ClientSession, user_id: int
) -> Browser:
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
    return Browser(http, web.url)


async def test_the_owner_creates_a_panel_and_a_refusal_is_shown_next_to_the_form(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    page_path = f"/dashboard/guilds/{guild.id}/tickets"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        status, page = await person.page(page_path)
        assert status == 200 and "Create a panel" in page
        match = CSRF.search(page)
        assert match is not None
        token = match.group(1)
        form = {"title": "Support", "description": "Ask us", "max_tickets_per_user": "1"}

        # Without the CSRF token: refused, nothing stored.
        status, page, _ = await person.post(f"{page_path}/panels", form)
        assert status == 403 and "nothing was changed" in page
        assert not await TicketPanel.exists()

        # The service's refusal, next to the form, nothing stored.
        status, page, _ = await person.post(
            f"{page_path}/panels", {**form, "max_tickets_per_user": "99", "csrf_token": token}
        )
        assert status == 400
        assert "The number of open tickets per member must be from 1 to 25." in page
        assert not await TicketPanel.exists()

        status, _, location = await person.post(
            f"{page_path}/panels", {**form, "csrf_token": token}
        )
        assert status == 302 and location.startswith(page_path)
        panel = await TicketPanel.get(guild_id=guild.id)
        assert (panel.title, panel.description) == ("Support", "Ask us")
        (row,) = await AuditLog.filter(action="tickets.panel.create")
        assert (row.source, row.actor_id) == (AuditSource.WEB, guild.owner.id)
        assert row.ip_hash is not None and "Python" in (row.user_agent or "")

        # Posting it without a button is refused as the API refuses it; no job is queued.
        status, page, _ = await person.post(
            f"{page_path}/panels/{panel.panel_id}/send",
            {"channel_id": str(guild.channel("general").id), "csrf_token": token},
        )
        assert status == 400
        assert f"Panel `{panel.panel_id}` has no buttons yet: add one first." in page
        assert not await ScheduledAction.filter(kind__startswith="job.").exists()

        # A support role the owner could give passes the role rule and is stored.
        moderator = guild.role("Moderator")
        status, _, _ = await person.post(
            f"{page_path}/panels/{panel.panel_id}/buttons",
            {"label": "Help", "style": "success", "support_role_ids": str(moderator.id),
             "csrf_token": token},
        )
        assert status == 302
        stored = service.panel_buttons(await service.get_panel(guild.id, panel.panel_id))
        assert [(b.label, b.support_role_ids) for b in stored] == [("Help", (moderator.id,))]
        status, _, location = await person.post(
            f"{page_path}/panels/{panel.panel_id}/send",
            {"channel_id": str(guild.channel("general").id), "csrf_token": token},
        )
        assert status == 302 and "job=" in location
        (job,) = await ScheduledAction.filter(kind=JobKind.TICKET_PANEL_SEND)
        assert job.payload["channel_id"] == guild.channel("general").id
        status, page = await person.page(urlsplit(location).path + "?" + urlsplit(location).query)
        assert "Posting the panel: pending" in page


async def test_a_member_without_manage_server_gets_404_and_changes_nothing(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    panel = await service.create_panel(guild.id, title="Support", description="Ask us")
    page_path = f"/dashboard/guilds/{guild.id}/tickets"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.member("alice").id)
        status, page = await person.page(page_path)
        assert status == 404 and "Support" not in page
        _, guild_list = await person.page("/dashboard/guilds")
        token = CSRF.search(guild_list)
        assert token is not None
        status, _, _ = await person.post(
            f"{page_path}/panels/{panel.panel_id}/delete", {"csrf_token": token.group(1)}
        )
        assert status == 404
        assert await TicketPanel.filter(panel_id=panel.panel_id).exists()


async def test_a_transcript_is_served_for_a_ticket_of_this_guild_only(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    opener = guild.member("alice").id
    await directory.ensure_user(opener)
    await Ticket.create(
        guild_id=guild.id, number=7, user_id=opener, created_at=datetime.now(UTC)
    )
    page_path = f"/dashboard/guilds/{guild.id}/tickets"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        status, page = await person.page(page_path)
        assert status == 200 and "Transcript of #0007" in page
        async with http.get(f"{web_server.url}{page_path}/7/transcript") as answer:
            assert answer.status == 200
            assert "attachment" in answer.headers["Content-Disposition"]
        for missing in ("8", "0", "x"):
            status, _ = await person.page(f"{page_path}/{missing}/transcript")
            assert status == 404
