"""Served in the bot's process, the dashboard reads who manages a guild from the bot's cache on
every request: Manage Server taken away in Discord closes the pages at once, though Discord's
own list (asked at most every `permissions_seconds`) still says otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.oauth2 import oauth2_of
from pegasus.web import WebConfig, WebServer, create_app
from pegasus.web.dashboard import DashboardConfig
from tests.web.conftest import SECRET
from tests.web.test_dashboard_tickets import log_in


@pytest.fixture
async def beside_bot(discord_env: DiscordEnv) -> AsyncIterator[WebServer]:
    """The dashboard in the bot's process, asking Discord for a person's guilds once an hour."""
    local = discord_env.server
    config = WebConfig(
        secret=SECRET,
        dashboard=DashboardConfig(
            api_base=local.api_base,
            client_secret=oauth2_of(local).client_secret,
            permissions_seconds=3600,
        ),
    )
    server = WebServer(create_app(config, bot=discord_env.bot), "127.0.0.1", 0)
    await server.start()
    oauth2_of(local).redirect_uris.add(f"{server.url}/dashboard/callback")
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.discord_env(extensions=("cogs.core",))
async def test_manage_server_taken_away_closes_the_pages_at_the_next_request(
    discord_env: DiscordEnv, beside_bot: WebServer
) -> None:
    guild = discord_env.guild
    manager = await guild.create_role("Server Manager", permissions=["manage_guild"])
    await guild.add_role("alice", manager)
    await discord_env.settle()
    page = f"/dashboard/guilds/{guild.id}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        alice = await log_in(discord_env.server, beside_bot, http, guild.member("alice").id)
        assert (await alice.page(page))[0] == 200
        assert (await alice.page(f"{page}/settings/levels"))[0] == 200
        await guild.remove_role("alice", manager)
        await discord_env.settle()  # the member update reaches the bot
        assert (await alice.page(page))[0] == 404
        assert (await alice.page(f"{page}/settings/levels"))[0] == 404
        await guild.add_role("alice", manager)  # given back: open again
        await discord_env.settle()
        assert (await alice.page(page))[0] == 200
