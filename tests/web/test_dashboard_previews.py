"""The message previews of the settings pages and the channels and roles they accept, over HTTP
against the local Discord: the preview filled in by the bot's formatter (on the page and from the
JSON endpoint, CSRF-protected), the script allowed only where a preview is, and a channel id the
guild does not have refused next to its field."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp

from models.guilds import GuildSettings
from pegasus.localdiscord.server import LocalDiscord
from pegasus.services import directory
from pegasus.services.community.settings import SETTINGS as COMMUNITY
from pegasus.services.settings import FeatureSettings, Kind, read_settings, settings_version
from pegasus.web import WebServer
from tests.web.test_dashboard_tickets import log_in, web_server

__all__ = ["web_server"]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WHO = re.compile(r'<span class="who">([^<]+)</span>')


def form_of(spec: FeatureSettings, values: dict[str, Any]) -> list[tuple[str, str]]:
    """What the settings form of `spec` sends when it shows `values` untouched."""
    sent: list[tuple[str, str]] = [("version", settings_version(values))]
    for setting in spec.settings:
        value = values[setting.name]
        if setting.kind is Kind.BOOL:
            sent += [(setting.name, "on")] if value else []
        elif setting.kind in (Kind.IDS, Kind.NAMES):
            sent += [(setting.name, str(item)) for item in value or []]
        elif setting.kind is Kind.COLOUR and isinstance(value, int):
            sent.append((setting.name, f"#{value:06X}"))
        else:
            sent.append((setting.name, "" if value is None else str(value)))
    return sent


def with_value(sent: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(key, value if key == name else old) for key, old in sent]


async def test_previews_are_filled_in_for_the_person_and_the_guild(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    await GuildSettings.filter(guild_id=guild.id).update(
        welcome_message="Hi {user}, welcome to {server}!", xp_level_up_message="GG {user}: {level}"
    )
    base = f"/dashboard/guilds/{guild.id}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        async with http.get(f"{web_server.url}{base}/settings/community") as answer:
            assert answer.status == 200
            policy = answer.headers["Content-Security-Policy"]
            page = await answer.text()
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        who = WHO.search(page)
        token = CSRF.search(page)
        assert who is not None and token is not None
        name = who.group(1)
        # Rendered on the server, before any script: the stored message, filled in.
        assert f"Hi @{name}, welcome to {guild.name}!" in page
        assert 'data-preview="welcome"' in page and 'data-preview="goodbye"' in page
        assert '<script src="/dashboard/static/live-preview.js" defer></script>' in page

        _, levels = await person.page(f"{base}/settings/levels")
        assert f"GG @{name}: 1" in levels  # the level they would reach next
        async with http.get(f"{web_server.url}{base}/settings/economy") as answer:
            assert "script-src" not in answer.headers["Content-Security-Policy"]
        async with http.get(f"{web_server.url}/dashboard/static/live-preview.js") as answer:
            assert answer.status == 200 and answer.content_type == "text/javascript"
            assert "data-preview" in await answer.text()

        typed = {
            "preview": "welcome",
            "welcome_message": "Welcome {username}! We are {member_count} in {server}.",
            "welcome_embed_enabled": "on",
            "welcome_embed_title": "Hello {username}",
            "welcome_embed_color": "#00FF00",
        }
        status, body, _ = await person.post(f"{base}/preview", typed)  # no CSRF token
        assert status == 403
        members = await directory.members_on_record(guild.id)
        status, body, _ = await person.post(
            f"{base}/preview", {**typed, "csrf_token": token.group(1)}
        )
        assert status == 200
        assert json.loads(body) == {
            "kind": "welcome",
            "content": f"@{name}",  # an embed's mention does not ping: the text pings
            "embed_title": f"Hello {name}",
            "embed_description": f"Welcome {name}! We are {members:,} in {guild.name}.",
            "embed_colour": "#00FF00",
            "error": None,
        }
        status, body, _ = await person.post(
            f"{base}/preview",
            {"preview": "goodbye", "goodbye_message": "Bye {nope}", "csrf_token": token.group(1)},
        )
        answer = json.loads(body)
        assert (status, answer["content"], answer["embed_colour"]) == (200, "Bye {nope}", None)
        assert answer["error"].startswith("Unknown placeholder {nope}")
        status, _, _ = await person.post(
            f"{base}/preview", {"preview": "tickets", "csrf_token": token.group(1)}
        )
        assert status == 400


async def test_a_channel_is_chosen_by_name_and_an_id_of_another_guild_is_refused(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    general = guild.channel("general")
    path = f"/dashboard/guilds/{guild.id}/settings/community"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        status, page = await person.page(path)
        token = CSRF.search(page)
        assert status == 200 and token is not None
        # The channel is listed by its name, its value the id the form sends.
        assert f'<option value="{general.id}">#general</option>' in page
        sent = form_of(COMMUNITY, await read_settings(COMMUNITY, guild.id))
        sent.append(("csrf_token", token.group(1)))

        elsewhere = with_value(sent, "welcome_channel_id", "123456789012345678")
        status, page, _ = await person.post(f"{path}/community", elsewhere)  # type: ignore[arg-type]
        assert status == 400
        assert "This server has no text channel with the id 123456789012345678" in page
        assert "aria-invalid" in page
        assert (await read_settings(COMMUNITY, guild.id))["welcome_channel_id"] is None

        chosen = with_value(sent, "welcome_channel_id", str(general.id))
        status, _, location = await person.post(f"{path}/community", chosen)  # type: ignore[arg-type]
        assert status == 303 and location.startswith(path)
        assert (await read_settings(COMMUNITY, guild.id))["welcome_channel_id"] == general.id
