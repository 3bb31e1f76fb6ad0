"""Discord's OAuth2 authorization code grant, for logging in to the dashboard without discord.com.

As Discord documents it: `GET /oauth2/authorize` (here a page to pick one of the local users
instead of Discord's consent screen) redirects to `redirect_uri` with `code` and `state`
unchanged; `POST /api/v10/oauth2/token` trades the code, checked with the client secret, for an
access token; `GET /api/v10/users/@me` and `/users/@me/guilds` with `Authorization: Bearer
<token>` answer as Discord does for the scopes `identify` and `guilds`; `POST
/api/v10/oauth2/token/revoke` ends a token. An unknown client id or a
redirect URI that is not registered is refused with an error page, as Discord does, without
redirecting.
"""

from __future__ import annotations

import base64
import html
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from pegasus.localdiscord import payloads
from pegasus.localdiscord.state import FakeUser

if TYPE_CHECKING:
    from pegasus.localdiscord.server import LocalDiscord

__all__ = ["OAuth2", "add_oauth2_routes"]

TOKEN_SECONDS = 604_800  # Discord's access tokens last a week
CODE_SECONDS = 600.0
KNOWN_SCOPES = frozenset({"identify", "guilds", "email", "guilds.members.read"})


@dataclass
class Grant:
    user: FakeUser
    scopes: tuple[str, ...]
    redirect_uri: str
    expires: float


@dataclass
class OAuth2:
    """The application's OAuth2 settings and what it has granted."""

    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redirect_uris: set[str] = field(default_factory=set)
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Grant] = field(default_factory=dict)

    def grant(self, user: FakeUser, scopes: tuple[str, ...], redirect_uri: str) -> str:
        code = secrets.token_urlsafe(20)
        self.codes[code] = Grant(user, scopes, redirect_uri, time.monotonic() + CODE_SECONDS)
        return code

    def bearer(self, header: str | None) -> Grant | None:
        scheme, _, token = (header or "").partition(" ")
        if scheme != "Bearer":
            return None
        found = self.tokens.get(token.strip())
        if found is None or found.expires < time.monotonic():
            return None
        return found


def oauth2_of(server: LocalDiscord) -> OAuth2:
    found = getattr(server, "oauth2", None)
    if found is None:
        found = OAuth2()
        server.oauth2 = found  # type: ignore[attr-defined]
    return found


async def _no_icon(_request: web.Request) -> web.Response:
    return web.Response(status=204)


def add_oauth2_routes(app: web.Application, server: LocalDiscord) -> None:
    """Routes taken before the REST catch-all; a request without a Bearer token to /users/@me
    goes on to the bot's REST route."""
    oauth2_of(server)
    app.router.add_get("/oauth2/authorize", _authorize_page(server))
    # A browser on the authorize page may ask this origin for its icon: none, and not a route the
    # bot called (which the tests would report as unknown to the local Discord).
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_post("/oauth2/authorize", _authorize_decision(server))
    for prefix in ("/api", "/api/v{version:\\d+}"):
        app.router.add_post(f"{prefix}/oauth2/token", _token(server))
        app.router.add_post(f"{prefix}/oauth2/token/revoke", _revoke(server))
        app.router.add_get(f"{prefix}/users/@me", _bearer_or_bot(server, _me))
        app.router.add_get(f"{prefix}/users/@me/guilds", _bearer_or_bot(server, _guilds))


def _error_page(status: int, title: str) -> web.Response:
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<link rel=icon href='data:,'><title>Discord</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1></main></body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html")


def _checked_request(
    server: LocalDiscord, query: Any
) -> tuple[str, tuple[str, ...]] | web.Response:
    """The redirect URI and scopes of an authorize request, or Discord's error page."""
    oauth2 = oauth2_of(server)
    if query.get("client_id", "") != str(server.application_id):
        return _error_page(400, "Unknown Application")
    redirect_uri = query.get("redirect_uri", "")
    if redirect_uri not in oauth2.redirect_uris:
        return _error_page(400, "Invalid OAuth2 redirect_uri")
    if query.get("response_type") != "code":
        return _error_page(400, "Invalid response_type")
    scopes = tuple(query.get("scope", "").split())
    if not scopes or not set(scopes) <= KNOWN_SCOPES:
        return _error_page(400, "Invalid scope")
    return redirect_uri, scopes


def _authorize_page(server: LocalDiscord) -> Any:
    async def handle(request: web.Request) -> web.Response:
        checked = _checked_request(server, request.query)
        if isinstance(checked, web.Response):
            return checked
        _, scopes = checked
        hidden = "".join(
            f'<input type=hidden name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in request.query.items()
        )
        people = [u for u in server.users.values() if not u.bot]
        buttons = "".join(
            f'<li><button name=user_id value="{u.id}">{html.escape(u.name)}</button></li>'
            for u in people
        )
        body = (
            "<!doctype html><html lang=en><head><meta charset=utf-8><link rel=icon href='data:,'>"
            "<meta name=viewport content='width=device-width'><title>Authorize</title></head>"
            f"<body><main><h1>{html.escape(server.bot_user.name)} wants to access your account"
            f"</h1><p>Scopes: {html.escape(' '.join(scopes))}</p>"
            f"<form method=post>{hidden}<p>Log in as:</p><ul>{buttons}</ul>"
            "<button name=deny value=1>Cancel</button></form></main></body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    return handle


def _authorize_decision(server: LocalDiscord) -> Any:
    async def handle(request: web.Request) -> web.Response:
        form = await request.post()
        checked = _checked_request(server, form)
        if isinstance(checked, web.Response):
            return checked
        redirect_uri, scopes = checked
        answer: dict[str, str] = {}
        user = server.users.get(int(str(form.get("user_id") or 0) or 0))
        if form.get("deny") or user is None or user.bot:
            answer["error"] = "access_denied"
            answer["error_description"] = (
                "The resource owner or authorization server denied the request"
            )
        else:
            answer["code"] = oauth2_of(server).grant(user, scopes, redirect_uri)
        if form.get("state"):
            answer["state"] = str(form["state"])
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(f"{redirect_uri}{separator}{urlencode(answer)}")

    return handle


def _oauth_error(status: int, error: str, description: str | None = None) -> web.Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return web.json_response(body, status=status)


def _client(request: web.Request, form: Any) -> tuple[str, str]:
    """The client id and secret: HTTP Basic, or in the form."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            return client_id, secret
        except ValueError:
            return "", ""
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


def _token(server: LocalDiscord) -> Any:
    async def handle(request: web.Request) -> web.Response:
        oauth2 = oauth2_of(server)
        form = await request.post()
        client_id, secret = _client(request, form)
        if client_id != str(server.application_id) or not secrets.compare_digest(
            secret, oauth2.client_secret
        ):
            return _oauth_error(401, "invalid_client")
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type")
        grant = oauth2.codes.pop(str(form.get("code", "")), None)
        if grant is None or grant.expires < time.monotonic():
            return _oauth_error(400, "invalid_grant", 'Invalid "code" in request.')
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", 'Invalid "redirect_uri" in request.')
        access = secrets.token_urlsafe(24)
        oauth2.tokens[access] = Grant(
            grant.user, grant.scopes, grant.redirect_uri, time.monotonic() + TOKEN_SECONDS
        )
        return web.json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": " ".join(grant.scopes),
            }
        )

    return handle


def _revoke(server: LocalDiscord) -> Any:
    """Token revocation (RFC 7009, as Discord serves it): the token stops working; an unknown
    token is answered the same way."""

    async def handle(request: web.Request) -> web.Response:
        oauth2 = oauth2_of(server)
        form = await request.post()
        client_id, secret = _client(request, form)
        if client_id != str(server.application_id) or not secrets.compare_digest(
            secret, oauth2.client_secret
        ):
            return _oauth_error(401, "invalid_client")
        oauth2.tokens.pop(str(form.get("token", "")), None)
        return web.json_response({})

    return handle


def _bearer_or_bot(server: LocalDiscord, answer: Any) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return await server._handle(request)
        grant = oauth2_of(server).bearer(header)
        if grant is None:
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return await answer(server, grant)

    return handle


async def _me(server: LocalDiscord, grant: Grant) -> web.Response:
    if "identify" not in grant.scopes:
        return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
    return web.json_response(
        {
            **payloads.user(grant.user),
            "banner": None,
            "accent_color": None,
            "mfa_enabled": False,
            "locale": "en-US",
            "flags": 0,
            "premium_type": 0,
        }
    )


async def _guilds(server: LocalDiscord, grant: Grant) -> web.Response:
    """The person's guilds (partial guild objects), as Discord answers with the guilds scope."""
    if "guilds" not in grant.scopes:
        return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
    answer = []
    for guild in server.guilds:
        member = guild.members_by_id.get(grant.user.id)
        if member is None:
            continue
        answer.append(
            {
                "id": str(guild.id),
                "name": guild.name,
                "icon": guild.icon,
                "banner": None,
                "owner": guild.owner_id == grant.user.id,
                "permissions": str(int(member.permissions)),
                "features": [],
            }
        )
    return web.json_response(answer)
