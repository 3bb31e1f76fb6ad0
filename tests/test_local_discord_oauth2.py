"""The local Discord's OAuth2 authorization code grant, in Discord's documented shapes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp

from pegasus.localdiscord.oauth2 import oauth2_of
from pegasus.localdiscord.permissions import Permissions
from pegasus.localdiscord.server import LocalDiscord

REDIRECT = "http://127.0.0.1:1/dashboard/callback"


def authorize_query(server: LocalDiscord, **changes: str) -> dict[str, str]:
    query = {
        "client_id": str(server.application_id),
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "identify guilds",
        "state": "opaque-state-value",
    }
    query.update(changes)
    return query


async def authorize_as(
    http: aiohttp.ClientSession, server: LocalDiscord, person: str, **changes: str
) -> dict[str, list[str]]:
    """The query Discord sends back to the redirect URI after `person` picked themselves."""
    user = server.find_user(person)
    assert user is not None
    form = {**authorize_query(server, **changes), "user_id": str(user.id)}
    async with http.post(
        f"{server.base_url}/oauth2/authorize", data=form, allow_redirects=False
    ) as answer:
        assert answer.status == 302
        location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


async def token_for_code(
    http: aiohttp.ClientSession, server: LocalDiscord, code: str, secret: str | None = None
) -> tuple[int, dict[str, object]]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": str(server.application_id),
        "client_secret": secret if secret is not None else oauth2_of(server).client_secret,
    }
    async with http.post(f"{server.api_base}/oauth2/token", data=form) as answer:
        return answer.status, await answer.json()


async def test_the_authorization_code_grant_gives_identity_and_guilds(
    local_discord: LocalDiscord,
) -> None:
    server = local_discord
    oauth2_of(server).redirect_uris.add(REDIRECT)
    guild = server.guild
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{server.base_url}/oauth2/authorize", params=authorize_query(server)
        ) as page:
            assert page.status == 200
            text = await page.text()
        assert ">alice</button>" in text and ">owner</button>" in text
        assert f">{server.bot_user.name}</button>" not in text  # bots do not log in

        answer = await authorize_as(http, server, "alice")
        assert answer["state"] == ["opaque-state-value"]  # unchanged, as Discord sends it back
        status, token = await token_for_code(http, server, answer["code"][0])
        assert status == 200
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "identify guilds"
        assert token["expires_in"] in range(3600, 31_536_000)
        assert isinstance(token["refresh_token"], str) and token["refresh_token"]
        bearer = {"Authorization": f"Bearer {token['access_token']}"}

        async with http.get(f"{server.api_base}/users/@me", headers=bearer) as me:
            assert me.status == 200
            person = await me.json()
        assert person["id"] == str(guild.member("alice").id)
        assert person["username"] == "alice"

        async with http.get(f"{server.api_base}/users/@me/guilds", headers=bearer) as listed:
            assert listed.status == 200
            guilds = await listed.json()
        assert guilds == [
            {
                "id": str(guild.id),
                "name": guild.name,
                "icon": None,
                "banner": None,
                "owner": False,
                "permissions": str(int(guild.member("alice").permissions)),
                "features": [],
            }
        ]
        assert not Permissions(int(guilds[0]["permissions"])).manage_guild

        # The code is used once; a second exchange is refused.
        status, refused = await token_for_code(http, server, answer["code"][0])
        assert (status, refused["error"]) == (400, "invalid_grant")

        # The bot's own token still reads the bot at /users/@me.
        bot = {"Authorization": f"Bot {server.token}"}
        async with http.get(f"{server.api_base}/users/@me", headers=bot) as me:
            assert (await me.json())["id"] == str(server.bot_user.id)


async def test_the_owner_is_listed_as_owner_with_every_permission(
    local_discord: LocalDiscord,
) -> None:
    server = local_discord
    oauth2_of(server).redirect_uris.add(REDIRECT)
    async with aiohttp.ClientSession() as http:
        answer = await authorize_as(http, server, "owner")
        _, token = await token_for_code(http, server, answer["code"][0])
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        async with http.get(f"{server.api_base}/users/@me/guilds", headers=bearer) as listed:
            (guild,) = await listed.json()
    assert guild["owner"] is True
    assert int(guild["permissions"]) == int(Permissions.all())


async def test_unknown_clients_wrong_redirects_and_secrets_are_refused(
    local_discord: LocalDiscord,
) -> None:
    server = local_discord
    oauth2_of(server).redirect_uris.add(REDIRECT)
    authorize = f"{server.base_url}/oauth2/authorize"
    async with aiohttp.ClientSession() as http:
        cases = {
            "Unknown Application": authorize_query(server, client_id="123"),
            "Invalid OAuth2 redirect_uri": authorize_query(
                server, redirect_uri="http://evil.example/callback"
            ),
        }
        for title, query in cases.items():
            async with http.get(authorize, params=query, allow_redirects=False) as page:
                assert page.status == 400
                assert title in await page.text()  # an error page, no redirect
            async with http.post(authorize, data=query, allow_redirects=False) as page:
                assert page.status == 400
                assert "Location" not in page.headers

        answer = await authorize_as(http, server, "bob")
        status, refused = await token_for_code(http, server, answer["code"][0], secret="wrong")
        assert (status, refused["error"]) == (401, "invalid_client")

        bearer = {"Authorization": "Bearer not-a-token"}
        async with http.get(f"{server.api_base}/users/@me/guilds", headers=bearer) as listed:
            assert listed.status == 401


async def test_cancel_sends_access_denied_with_the_state(local_discord: LocalDiscord) -> None:
    server = local_discord
    oauth2_of(server).redirect_uris.add(REDIRECT)
    form = {**authorize_query(server), "deny": "1"}
    async with aiohttp.ClientSession() as http, http.post(
        f"{server.base_url}/oauth2/authorize", data=form, allow_redirects=False
    ) as answer:
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["opaque-state-value"]
    assert "code" not in query


async def test_a_browsers_request_for_the_icon_is_answered_and_not_counted_as_the_bots(
    local_discord: LocalDiscord,
) -> None:
    """Chromium on the authorize page may ask the origin for /favicon.ico: no route the bot
    called, so it must not be reported as one the local Discord does not know."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{local_discord.base_url}/favicon.ico") as response,
    ):
        assert response.status == 204
    assert local_discord.unknown_routes == []
