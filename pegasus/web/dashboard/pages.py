"""The dashboard's pages and its login.

Login is Discord's OAuth2 authorization code flow (scopes `identify guilds`). Before it, the
browser gets a short-lived random cookie; the `state` sent to Discord is an HMAC of it under the
server secret, so a callback is accepted only in the browser that started that login. After it,
the session cookie (HttpOnly, SameSite=Lax, Secure behind https) names a `web_sessions` row.

Who may manage a guild is read from Discord with the person's own token (`/users/@me/guilds`),
again whenever the stored answer is older than `permissions_seconds`, on every guild page: a
person who lost Manage Server loses the page within that time. Served in the bot's process, every
guild page also checks the member's permissions in the bot's cache, which Discord keeps current:
there a lost Manage Server closes the page at the next request. A guild they cannot manage, or
where Pegasus is not, is a 404, the same answer as for a guild that does not exist.

Every POST carries the session's CSRF token in a form field; without it, 403 and nothing changes.
Every page is sent with a Content-Security-Policy without script, and may not be framed; the
settings pages with a message preview alone may run the dashboard's own script (`previews`).
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from models.guilds import Guild
from pegasus.errors import PegasusError
from pegasus.i18n import (
    DEFAULT_LOCALE,
    LANGUAGES,
    N_,
    _,
    current_locale,
    format_number,
    format_utc,
    guild_locale,
    ngettext,
    supported_locale,
    use_locale,
    user_choice,
)
from pegasus.services.audit import ActorContext, AuditSource
from pegasus.services.dashboard import (
    DashboardGuild,
    DashboardSession,
    end_session,
    find_session,
    start_session,
    store_guilds,
)
from pegasus.web.dashboard.discord_oauth import DiscordOAuth, OAuthFailed
from pegasus.web.dashboard.overview import guild_overview
from pegasus.web.dashboard.sealing import seal, unseal

__all__ = [
    "DASHBOARD_PREFIX",
    "DashboardConfig",
    "add_routes",
    "managed_guild",
    "needs_session",
    "person_context",
    "render",
]

DASHBOARD_PREFIX = "/dashboard"
PUBLIC_PAGES = "/public"  # the public pages (`public.PUBLIC_PREFIX`)
PAGE_PREFIXES = (DASHBOARD_PREFIX, PUBLIC_PAGES)
SESSION_COOKIE = "pegasus_session"
LOGIN_COOKIE = "pegasus_login"
LOGIN_SECONDS = 600  # a login must come back from Discord within ten minutes
HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "static"
# What the bot asks for when invited from the dashboard (the permissions its features use).
INVITE_PERMISSIONS = 1_099_780_156_630
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' https://cdn.discordapp.com; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
# The feature pages that will live under a guild; listed, not linked, until they exist.
# (Giveaways have no settings and API keys are not settings; the guild page links their pages.)
FEATURES = (
    N_("Levels"),
    N_("Economy"),
    N_("Moderation"),
    N_("Tickets"),
    N_("Community"),
    N_("Security"),
)


@dataclass(frozen=True)
class DashboardConfig:
    """What "Log in with Discord" needs. Without `client_secret` the dashboard explains how to
    set one and nothing else; the API is not affected."""

    api_base: str = "https://discord.com/api/v10"
    client_id: int | None = None  # DISCORD_CLIENT_ID; None: the application's
    token_client_id: int | None = None  # the application id the bot token names
    client_secret: str | None = None
    public_url: str | None = None  # None: the address the request came to
    permissions_seconds: float = 60.0

    @property
    def secure_cookies(self) -> bool:
        return (self.public_url or "").startswith("https://")


DASHBOARD: web.AppKey[DashboardConfig] = web.AppKey("pegasus_dashboard")
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    extensions=["jinja2.ext.i18n"],
)
# Template texts are extracted with their whitespace trimmed, so they are looked up trimmed.
_templates.policies["ext.i18n.trimmed"] = True
_templates.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=_, ngettext=ngettext, newstyle=True
)
_templates.globals.update(
    current_locale=current_locale,
    languages=LANGUAGES,
    format_number=format_number,
    format_utc=format_utc,
)


def add_routes(app: web.Application, config: DashboardConfig) -> None:
    app[DASHBOARD] = config
    p = DASHBOARD_PREFIX
    app.router.add_get(p, home)
    app.router.add_get(f"{p}/login", login)
    app.router.add_get(f"{p}/callback", callback)
    app.router.add_post(f"{p}/logout", logout)
    app.router.add_get(f"{p}/guilds", guild_list)
    app.router.add_get(f"{p}/guilds/{{guild_id}}", guild_page)
    app.router.add_get(f"{p}/static/dashboard.css", stylesheet)
    app.router.add_post(f"{p}/guilds/{{guild_id}}/language", change_language)
    app.on_response_prepare.append(_security_headers)
    app.middlewares.append(page_language)
    from pegasus.web.dashboard import feature_settings, members  # they build on this module

    feature_settings.add_routes(app)
    members.add_routes(app)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == DASHBOARD_PREFIX or request.path.startswith(DASHBOARD_PREFIX + "/"):
        response.headers.update(SECURITY_HEADERS)


# the language of a page --------------------------------------------------------------------------
_PAGE_FOLDERS = tuple(base + "/" for base in PAGE_PREFIXES)


def _is_page(path: str) -> bool:
    """Whether `path` is a page people read (the dashboard or a public page), not the API.
    Asked of every request, the API's included: two string tests, nothing built."""
    return path.startswith(_PAGE_FOLDERS) or path in PAGE_PREFIXES


@functools.lru_cache(maxsize=1024)
def accepted_locale(header: str) -> str | None:
    """The language Pegasus speaks that a browser's `Accept-Language` prefers, or None.
    Decided once per header text: browsers send the same few texts on every page."""
    found: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _semicolon, parameters = part.strip().partition(";")
        weight = 1.0
        for parameter in parameters.split(";"):
            name, _equals, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        locale = supported_locale(tag.strip())
        if locale is not None and weight > 0:
            found.append((-weight, position, locale))
    return min(found)[2] if found else None


async def _own_choice(user_id: int) -> str | None:
    """The person's own language (`/language me`), as the bot knows it or as stored."""
    chosen = user_choice(user_id)
    if chosen is not None:
        return chosen
    from models.guilds import User

    stored = await User.filter(id=user_id).values_list("preferred_locale", flat=True)
    return supported_locale(stored[0]) if stored else None


async def _guild_language(guild_id: int) -> str:
    known = guild_locale(guild_id)
    if known != DEFAULT_LOCALE:
        return known
    stored = await Guild.filter(id=guild_id).values_list("language", flat=True)
    return (supported_locale(stored[0]) if stored else None) or DEFAULT_LOCALE


async def page_locale(request: web.Request) -> str:
    """A page's language: the signed-in person's own choice, else the browser's first language
    Pegasus speaks, else (a public page of a server) the server's language, else English."""
    if request.path.startswith(DASHBOARD_PREFIX):
        session = await current_session(request)
        if session is not None:
            chosen = await _own_choice(session.user_id)
            if chosen is not None:
                return chosen
    accepted = accepted_locale(request.headers.get("Accept-Language", ""))
    if accepted is not None:
        return accepted
    raw = request.match_info.get("guild_id", "")
    if request.path.startswith(PUBLIC_PAGES + "/") and raw.isdigit() and int(raw) < 2**63:
        return await _guild_language(int(raw))
    return DEFAULT_LOCALE


@web.middleware
async def page_language(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Render the dashboard's and the public pages in the reader's language (`page_locale`)."""
    if not _is_page(request.path) or "/static/" in request.path:
        return await handler(request)
    with use_locale(await page_locale(request)) as locale:
        try:
            response = await handler(request)
        except web.HTTPException as answer:
            _say_language(answer, locale)
            raise
    _say_language(response, locale)
    return response


def _say_language(response: web.StreamResponse, locale: str) -> None:
    response.headers["Content-Language"] = locale
    response.headers["Vary"] = "Accept-Language, Cookie"


# rendering -------------------------------------------------------------------------------------
def render(
    template: str,
    *,
    status: int = 200,
    session: DashboardSession | None = None,
    **values: Any,
) -> web.Response:
    page = _templates.get_template(template).render(session=session, **values)
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


async def confirmation_page(
    template: str,
    *,
    session: DashboardSession,
    guild: DashboardGuild,
    page_url: str,
    find: Callable[[], Awaitable[Any]],
    row_name: str,
) -> web.Response:
    """The page asking to confirm a change to one row of a collection (`find` reads it, and
    `template` gets it as `row_name`); a row gone meanwhile sends the person back to the
    collection, as there is nothing left to confirm."""
    try:
        row = await find()
    except PegasusError:
        raise web.HTTPFound(page_url) from None
    return render(
        template,
        session=session,
        guild=guild,
        csrf=session.csrf_token,
        page_url=page_url,
        **{row_name: row},
    )


def not_found(session: DashboardSession | None) -> web.Response:
    return render(
        "error.html",
        status=404,
        session=session,
        title=_("Not found"),
        message=_("There is no server here that you can manage."),
    )


def _not_found_error(session: DashboardSession | None) -> web.HTTPNotFound:
    page = not_found(session)
    return web.HTTPNotFound(text=page.text, content_type="text/html")


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(
        text=(STATIC / "dashboard.css").read_text(encoding="utf-8"),
        content_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


# who is asking ------------------------------------------------------------------------------------
def _now(request: web.Request) -> datetime:
    from pegasus.web.app import STATE

    return request.app[STATE].clock()


def _secret(request: web.Request) -> bytes:
    from pegasus.web.app import STATE

    return request.app[STATE].config.secret


async def current_session(request: web.Request) -> DashboardSession | None:
    return await find_session(request.cookies.get(SESSION_COOKIE), _now(request))


def _oauth(request: web.Request) -> DiscordOAuth | None:
    """The OAuth client, or None while the dashboard has no client secret."""
    config = request.app[DASHBOARD]
    client_id = config.client_id or _application_id(request) or config.token_client_id
    if not config.client_secret or client_id is None:
        return None
    base = config.public_url or f"{request.scheme}://{request.host}"
    return DiscordOAuth(
        config.api_base, client_id, config.client_secret, f"{base}{DASHBOARD_PREFIX}/callback"
    )


def _application_id(request: web.Request) -> int | None:
    from pegasus.web.app import STATE

    bot = request.app[STATE].bot
    return None if bot is None else bot.application_id


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=DASHBOARD_PREFIX,
        httponly=True,
        samesite="Lax",
        secure=request.app[DASHBOARD].secure_cookies,
    )


def _state_for(request: web.Request, login_secret: str) -> str:
    return hmac.new(
        _secret(request), f"dashboard-login:{login_secret}".encode(), sha256
    ).hexdigest()


# pages ----------------------------------------------------------------------------------------
async def home(request: web.Request) -> web.StreamResponse:
    oauth = _oauth(request)
    session = await current_session(request)
    if session is not None and oauth is not None:
        raise web.HTTPFound(f"{DASHBOARD_PREFIX}/guilds")
    return render("home.html", configured=oauth is not None, session=None)


async def login(request: web.Request) -> web.StreamResponse:
    oauth = _oauth(request)
    if oauth is None:
        raise web.HTTPFound(DASHBOARD_PREFIX)
    login_secret = secrets.token_urlsafe(32)
    response = web.HTTPFound(oauth.authorize_url(_state_for(request, login_secret)))
    _set_cookie(request, response, LOGIN_COOKIE, login_secret, LOGIN_SECONDS)
    raise response


def _refused_login(message: str, status: int = 400) -> web.Response:
    return render("error.html", status=status, title=_("Login failed"), message=message)


async def callback(request: web.Request) -> web.StreamResponse:
    oauth = _oauth(request)
    if oauth is None:
        raise web.HTTPFound(DASHBOARD_PREFIX)
    login_secret = request.cookies.get(LOGIN_COOKIE, "")
    state = request.query.get("state", "")
    if not login_secret or not hmac.compare_digest(state, _state_for(request, login_secret)):
        return _refused_login(
            _(
                "This login did not start in this browser (its state does not match), so it "
                "was refused. Start again with Log in with Discord."
            )
        )
    if "code" not in request.query:
        return _refused_login(_("Discord did not authorize the login; you can try again."))
    now = _now(request)
    try:
        grant = await oauth.exchange(request.query["code"])
        me = await oauth.me(grant.access_token)
        guilds = await oauth.guilds(grant.access_token)
    except OAuthFailed as error:
        return _refused_login(str(error), status=502)
    secret, _started = await start_session(
        user_id=int(me["id"]),
        user_name=str(me.get("global_name") or me.get("username") or ""),
        sealed_token=seal(_secret(request), grant.access_token),
        token_expires_at=now + timedelta(seconds=grant.expires_in or 604_800),
        guilds=guilds,
        now=now,
    )
    response = web.HTTPFound(f"{DASHBOARD_PREFIX}/guilds")
    _set_cookie(request, response, SESSION_COOKIE, secret, int(timedelta(days=7).total_seconds()))
    response.del_cookie(LOGIN_COOKIE, path=DASHBOARD_PREFIX)
    raise response


def needs_session(
    page: Callable[[web.Request, DashboardSession], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page for signed-in people; others go to the login page. POSTs must carry the CSRF
    token of the session."""

    async def handle(request: web.Request) -> web.StreamResponse:
        session = await current_session(request)
        if session is None or _oauth(request) is None:
            if request.method == "POST":
                return _forbidden(None)
            raise web.HTTPFound(DASHBOARD_PREFIX)
        if request.method == "POST":
            form = await request.post()
            sent = str(form.get("csrf_token", ""))
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                return _forbidden(session)
        return await page(request, session)

    handle.__name__ = page.__name__
    return handle


def _forbidden(session: DashboardSession | None) -> web.Response:
    return render(
        "error.html",
        status=403,
        session=session,
        title=_("Refused"),
        message=_(
            "This form was not sent from a page of this dashboard (its security token is "
            "missing or wrong), so nothing was changed. Reload the page and try again."
        ),
    )


@needs_session
async def logout(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    await end_session(session.id)
    oauth, token = _oauth(request), unseal(_secret(request), session.sealed_token)
    if oauth is not None and token is not None:
        with contextlib.suppress(OAuthFailed):  # signed out here whatever Discord answers
            await oauth.revoke(token)
    response = web.HTTPFound(DASHBOARD_PREFIX)
    response.del_cookie(SESSION_COOKIE, path=DASHBOARD_PREFIX)
    raise response


async def _fresh(request: web.Request, session: DashboardSession) -> DashboardSession:
    """The session with the guilds Discord lists now, if what is kept is older than allowed."""
    now = _now(request)
    age = (now - session.guilds_fetched_at).total_seconds()
    if age < request.app[DASHBOARD].permissions_seconds:
        return session
    oauth = _oauth(request)
    assert oauth is not None  # needs_session let the request in
    token = unseal(_secret(request), session.sealed_token)
    try:
        if token is None:  # sealed under another secret
            raise OAuthFailed(_("This sign-in can no longer be read; log in again."))
        guilds = await oauth.guilds(token)
    except OAuthFailed:
        await end_session(session.id)  # the token no longer works: sign in again
        raise web.HTTPFound(DASHBOARD_PREFIX) from None
    return await store_guilds(session, guilds, now)


async def _pegasus_in(request: web.Request, guild_ids: list[int]) -> set[int]:
    """Which of these guilds Pegasus is in: the bot's cache in its process, and the database for
    the others (guilds of other shards' processes, or every guild standalone)."""
    from pegasus.web.app import STATE

    bot = request.app[STATE].bot
    cached = set() if bot is None else {g for g in guild_ids if bot.get_guild(g) is not None}
    rest = [guild_id for guild_id in guild_ids if guild_id not in cached]
    if not rest:
        return cached
    stored = await Guild.filter(id__in=rest, left_at__isnull=True).values_list("id", flat=True)
    return cached | set(stored)


@needs_session
async def guild_list(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session = await _fresh(request, session)
    oauth = _oauth(request)
    assert oauth is not None
    manageable = sorted(
        (guild for guild in session.guilds if guild.manageable), key=lambda g: g.name.lower()
    )
    present = await _pegasus_in(request, [guild.id for guild in manageable])
    rows = [
        {
            "guild": guild,
            "present": guild.id in present,
            "invite": oauth.invite_url(guild.id, INVITE_PERMISSIONS),
        }
        for guild in manageable
    ]
    return render("guilds.html", session=session, rows=rows)


async def managed_guild(
    request: web.Request, session: DashboardSession
) -> tuple[DashboardSession, DashboardGuild]:
    """The guild `{guild_id}` of the URL with the session as Discord says it is now, if the
    person manages that guild and Pegasus is in it; otherwise the 404 page is raised. Every page
    of a guild asks this first."""
    raw = request.match_info["guild_id"]
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise _not_found_error(session)
    session = await _fresh(request, session)
    guild = session.guild(int(raw))
    if guild is None or not guild.manageable:
        raise _not_found_error(session)
    if _manages_now(request, guild.id, session.user_id) is False:
        raise _not_found_error(session)
    if guild.id not in await _pegasus_in(request, [guild.id]):
        raise _not_found_error(session)
    return session, guild


def _manages_now(request: web.Request, guild_id: int, user_id: int) -> bool | None:
    """Whether the person manages the guild as the bot in this process sees it now (its cache
    follows role and permission changes as Discord sends them), so a lost Manage Server closes
    the pages at the next request, not when Discord is asked again; None when the bot here
    does not hold the guild or the member (standalone, another shard, an uncached member)."""
    from pegasus.web.app import STATE

    bot = request.app[STATE].bot
    guild = None if bot is None else bot.get_guild(guild_id)
    if guild is None:
        return None
    if guild.owner_id == user_id:
        return True
    member = guild.get_member(user_id)
    if member is None:
        return None
    permissions = member.guild_permissions
    return bool(permissions.administrator or permissions.manage_guild)


def person_context(request: web.Request, session: DashboardSession) -> ActorContext:
    """Who changes something from the dashboard, as audit rows record it."""
    from pegasus.web.app import STATE

    state = request.app[STATE]
    return ActorContext(
        actor_id=session.user_id,
        source=AuditSource.WEB,
        ip_hash=state.ip_hash(state.client_address(request)),
        user_agent=request.headers.get("User-Agent"),
    )


@needs_session
async def guild_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    overview = await guild_overview(request, guild.id)
    return render(
        "guild.html",
        session=session,
        guild=guild,
        features=FEATURES,
        overview=overview,
        language=await _guild_language(guild.id),
        csrf=session.csrf_token,
        saved=request.query.get("saved") == "language",
    )


@needs_session
async def change_language(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """The server's language (posts to everyone), chosen on the guild page."""
    from pegasus.services.language import set_server_language

    session, guild = await managed_guild(request, session)
    form = await request.post()
    code = str(form.get("language", ""))
    if code not in LANGUAGES:
        return render(
            "error.html",
            status=400,
            session=session,
            title=_("Not saved"),
            message=_("Choose one of the languages from the list."),
        )
    await set_server_language(guild.id, code, actor_id=session.user_id, source=AuditSource.WEB)
    raise web.HTTPFound(f"{DASHBOARD_PREFIX}/guilds/{guild.id}?saved=language#language")
