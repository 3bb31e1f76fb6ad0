"""Live previews of the welcome, goodbye and level-up messages, as Discord would show them.

The message is filled in by the same functions the bot posts with (`build_greeting`,
`render_level_up`), for the person signed in and the guild: their name where the member's
mention or name goes, the guild's name and member count, and their next level. The settings page
renders each preview on the server (it works without JavaScript); `static/live-preview.js` sends
the form as it is typed to `POST .../preview` (session and CSRF token checked like every form),
which answers the same preview as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from pegasus.errors import PegasusError
from pegasus.i18n import _
from pegasus.services import directory
from pegasus.services.community.config import GreetingConfig, GreetingKind
from pegasus.services.community.greetings import (
    MemberFacts,
    build_greeting,
    validate_template,
)
from pegasus.services.dashboard import DashboardGuild, DashboardSession
from pegasus.services.levels import render_level_up, stored_level
from pegasus.services.levels import validate_template as validate_level_up
from pegasus.web.dashboard.pages import DASHBOARD_PREFIX, managed_guild, needs_session
from pegasus.web.dashboard.pages import STATIC as STATIC_DIR

__all__ = [
    "PREVIEWED",
    "SCRIPT",
    "MessagePreview",
    "Viewer",
    "add_routes",
    "allow_script",
    "message_preview",
    "viewer_of",
]

SCRIPT = "live-preview.js"
# Set on a request whose page shows a preview.
_SCRIPT_ALLOWED: web.RequestKey[bool] = web.RequestKey("pegasus_preview_script", bool)
LEVEL_UP = "level_up"
# The message setting a preview follows on the settings page → what it previews.
PREVIEWED = {
    "welcome_message": GreetingKind.WELCOME.value,
    "goodbye_message": GreetingKind.GOODBYE.value,
    "xp_level_up_message": LEVEL_UP,
}
DEFAULT_EMBED_COLOUR = 0x5865F2  # what the bot's embeds show when no colour is set


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whom a preview is written for: the person signed in, in the guild of the page."""

    user_id: int
    name: str
    server: str
    member_count: int
    next_level: int


@dataclass(frozen=True, slots=True)
class MessagePreview:
    kind: str  # "welcome", "goodbye" or "level_up"
    content: str | None  # the message text; None when only an embed is posted
    embed_title: str | None = None
    embed_description: str | None = None
    embed_colour: str | None = None  # "#5865F2"; None: no embed
    error: str | None = None  # the sentence the form would be refused with, if any

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def viewer_of(
    request: web.Request, session: DashboardSession, guild: DashboardGuild
) -> Viewer:
    from pegasus.web.app import STATE

    bot = request.app[STATE].bot
    cached = None if bot is None else bot.get_guild(guild.id)
    count = getattr(cached, "member_count", None) or await directory.members_on_record(guild.id)
    level = await stored_level(guild.id, session.user_id) or 0
    return Viewer(session.user_id, session.user_name, guild.name, count, level + 1)


def _facts(viewer: Viewer) -> MemberFacts:
    return MemberFacts(
        user_id=viewer.user_id,
        mention=f"@{viewer.name}",  # how Discord shows a mention to those who read it
        username=viewer.name,
        server=viewer.server,
        member_count=viewer.member_count,
    )


def _refusal(check: Any, text: str, **options: Any) -> str | None:
    try:
        check(text, **options)
    except PegasusError as refused:
        return refused.plain()
    return None


def _colour(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    digits = str(value or "").strip().removeprefix("#")
    if len(digits) == 6 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return int(digits, 16)
    return None  # not a colour yet (still being typed): the default, as the bot would show


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _greeting_preview(
    kind: GreetingKind, values: Mapping[str, Any], viewer: Viewer
) -> MessagePreview:
    prefix = kind.value
    message = _text(values.get(f"{prefix}_message")).strip()
    title = _text(values.get(f"{prefix}_embed_title")).strip() or None
    settings = GreetingConfig(
        message=message,
        embed_enabled=bool(values.get(f"{prefix}_embed_enabled")),
        embed_color=_colour(values.get(f"{prefix}_embed_color")),
        embed_title=title,
    )
    error = _refusal(validate_template, message)
    if error is None and title is not None:
        error = _refusal(validate_template, title, what="title")
    greeting = build_greeting(kind, settings, _facts(viewer))
    if greeting.embed is None:
        return MessagePreview(prefix, greeting.content, error=error)
    return MessagePreview(
        prefix,
        greeting.content,
        embed_title=greeting.embed.title,
        embed_description=greeting.embed.description,
        embed_colour=f"#{greeting.embed.color or DEFAULT_EMBED_COLOUR:06X}",
        error=error,
    )


def _level_up_preview(values: Mapping[str, Any], viewer: Viewer) -> MessagePreview:
    template = _text(values.get("xp_level_up_message")).strip()
    text = render_level_up(
        template, user=f"@{viewer.name}", level=viewer.next_level, server=viewer.server
    )
    return MessagePreview(LEVEL_UP, text, error=_refusal(validate_level_up, template))


def message_preview(kind: str, values: Mapping[str, Any], viewer: Viewer) -> MessagePreview:
    """The message of `kind` that `values` (a settings form's, stored or as typed) would post
    for `viewer`, with the reason the form would be refused, if it would."""
    if kind == LEVEL_UP:
        return _level_up_preview(values, viewer)
    return _greeting_preview(GreetingKind(kind), values, viewer)


# routes ---------------------------------------------------------------------------------------
def add_routes(app: web.Application) -> None:
    """The preview's answer and script; added after the dashboard's own headers, so that the
    pages showing a preview (and only they) may run the script from this server."""
    base = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}"
    app.router.add_post(f"{base}/preview", preview_endpoint)
    app.router.add_get(f"{DASHBOARD_PREFIX}/static/{SCRIPT}", script)
    app.on_response_prepare.append(_allow_the_script)


def allow_script(request: web.Request) -> None:
    """Let this page load the preview script (and ask for previews); every other page of the
    dashboard keeps a policy without script."""
    request[_SCRIPT_ALLOWED] = True


async def _allow_the_script(request: web.Request, response: web.StreamResponse) -> None:
    if not request.get(_SCRIPT_ALLOWED):
        return  # most answers (every API one): no header to read
    policy = response.headers.get("Content-Security-Policy")
    if policy:
        response.headers["Content-Security-Policy"] = (
            f"{policy}; script-src 'self'; connect-src 'self'"
        )


def _sent_values(form: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a settings form a preview reads, as a browser sends them (an unticked box
    is absent)."""
    values: dict[str, Any] = {name: form.get(name) for name in form}
    for kind in (GreetingKind.WELCOME.value, GreetingKind.GOODBYE.value):
        values[f"{kind}_embed_enabled"] = f"{kind}_embed_enabled" in form
    return values


@needs_session
async def preview_endpoint(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    kind = str(form.get("preview", ""))
    if kind not in PREVIEWED.values():
        return web.json_response({"error": _("Nothing to preview of this kind.")}, status=400)
    viewer = await viewer_of(request, session, guild)
    preview = message_preview(kind, _sent_values(form), viewer)
    return web.json_response(preview.as_json())


async def script(request: web.Request) -> web.Response:
    return web.Response(
        text=(STATIC_DIR / SCRIPT).read_text(encoding="utf-8"),
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )
