"""The member pages: search a member of a guild, and one member's timeline in it."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from pegasus.errors import NotFoundError
from pegasus.i18n import _
from pegasus.services import member_timeline
from pegasus.services.dashboard import DashboardSession
from pegasus.web.dashboard.pages import DASHBOARD_PREFIX, managed_guild, needs_session, render

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    base = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/members"
    app.router.add_get(base, member_search)
    app.router.add_get(f"{base}/{{user_id}}", member_page)


@needs_session
async def member_search(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    typed = request.query.get("q", "")[:100]
    found = await member_timeline.find_members(guild.id, typed) if typed.strip() else []
    return render("members_search.html", session=session, guild=guild, typed=typed, found=found)


@needs_session
async def member_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    from pegasus.web.app import STATE

    raw = request.match_info["user_id"]
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        return _no_member(session)
    try:
        timeline = await member_timeline.member_timeline(
            guild.id, int(raw), request.app[STATE].clock()
        )
    except NotFoundError:
        return _no_member(session)
    role_names = await _role_names(request, guild.id)
    return render(
        "members_page.html", session=session, guild=guild, member=timeline, role_names=role_names
    )


async def _role_names(request: web.Request, guild_id: int) -> dict[int, str]:
    """The guild's roles by id ("@Name"), or none when Discord can't be asked (ids are shown)."""
    from pegasus.web.app import STATE

    source = request.app[STATE].names
    if source is None:
        return {}
    try:
        names = await source.guild_names(guild_id)
    except (aiohttp.ClientError, TimeoutError):
        return {}
    return {role_id: f"@{name}" for role_id, name in names.roles.items()}


def _no_member(session: DashboardSession) -> web.Response:
    return render(
        "error.html",
        status=404,
        session=session,
        title=_("Not found"),
        message=_("This server's records have no member with this id."),
    )
