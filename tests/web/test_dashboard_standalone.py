"""The dashboard as `python -m pegasus web` serves it (no bot in the process): settings from the
environment, login against the local Discord, and which guilds Pegasus is in from the database."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

import aiohttp

from pegasus.config import Settings
from pegasus.localdiscord.oauth2 import oauth2_of
from pegasus.localdiscord.server import LocalDiscord
from pegasus.services import directory
from pegasus.web import WebServer, create_app, web_config

LINK = 'href="{}"'


async def test_login_and_server_list_without_the_bot(local_discord: LocalDiscord, db: str) -> None:
    server = local_discord
    guild = server.guild
    elsewhere = server.create_guild("Not Yet Invited", owner="owner")
    await directory.ensure_guild(guild.id)  # Pegasus is in the demo guild only
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
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(f"{web.url}/dashboard/login", allow_redirects=False) as answer:
                authorize = answer.headers["Location"]
            assert authorize.startswith(f"{server.base_url}/oauth2/authorize?")
            query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
            assert query["scope"] == "identify guilds"
            assert query["client_id"] == str(server.application_id)
            owner = guild.owner
            form = {**query, "user_id": str(owner.id)}
            async with http.post(
                f"{server.base_url}/oauth2/authorize", data=form, allow_redirects=False
            ) as answer:
                callback = answer.headers["Location"]
            async with http.get(callback) as answer:
                assert answer.status == 200
                assert str(answer.url) == f"{web.url}/dashboard/guilds"
                page = html.unescape(await answer.text())
            async with http.get(f"{web.url}/dashboard/guilds/{guild.id}") as answer:
                assert answer.status == 200
            # Managed by this person, but Pegasus is not there: no page.
            async with http.get(f"{web.url}/dashboard/guilds/{elsewhere.id}") as answer:
                assert answer.status == 404
    finally:
        await web.stop()
    assert LINK.format(f"/dashboard/guilds/{guild.id}") in page
    assert f"/dashboard/guilds/{elsewhere.id}" not in page
    invite = f"{server.base_url}/oauth2/authorize?client_id={server.application_id}"
    assert f"Invite Pegasus to {elsewhere.name}" in page
    assert f"guild_id={elsewhere.id}" in page and invite in page
