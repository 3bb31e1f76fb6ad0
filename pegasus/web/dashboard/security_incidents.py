"""The dashboard's security incidents of a guild: the list with notes, adding a note, resolving.

The services of `/security note` and `/security resolve`, as the REST API calls them
(`pegasus.web.api.security`): the same refusals, shown next to the incident's form; the services
audit each change, here with the person signed in and source `web`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiohttp import web

from models.security import IncidentStatus
from pegasus.errors import PegasusError
from pegasus.i18n import N_, _, format_utc
from pegasus.services import security
from pegasus.services.audit import acting_from
from pegasus.services.dashboard import DashboardGuild, DashboardSession
from pegasus.web.dashboard.forms import (
    Form,
    notice_redirect,
    notice_shown,
    person_names,
    refusal_sentence,
    sent_back,
    web_state,
)
from pegasus.web.dashboard.pages import (
    DASHBOARD_PREFIX,
    managed_guild,
    needs_session,
    person_context,
    render,
)

__all__ = ["add_routes"]

INCIDENTS_SHOWN = 50
STATUS_NAMES = {
    IncidentStatus.OPEN: N_("open"),
    IncidentStatus.INVESTIGATING: N_("investigating"),
    IncidentStatus.RESOLVED: N_("resolved"),
    IncidentStatus.FALSE_POSITIVE: N_("false positive"),
}


def add_routes(app: web.Application) -> None:
    page = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/security/incidents"
    app.router.add_get(page, incidents_page)
    app.router.add_post(page + "/{incident_id}/notes", add_note)
    app.router.add_post(page + "/{incident_id}/resolve", resolve)


def _page_url(guild_id: int) -> str:
    return f"{DASHBOARD_PREFIX}/guilds/{guild_id}/security/incidents"


def _when(moment: datetime | str) -> str:
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return format_utc(at)


async def _show(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    sent: Mapping[str, str] | None = None,
) -> web.Response:
    incidents = await security.list_incidents(guild.id, limit=INCIDENTS_SHOWN)
    people = {note["by"] for incident in incidents for note in incident.notes}
    people |= {i.resolved_by_id for i in incidents if i.resolved_by_id is not None}
    return render(
        "security_incidents_page.html",
        status_names=STATUS_NAMES,
        status=status,
        session=session,
        guild=guild,
        incidents=incidents,
        people=await person_names(web_state(request).names, people),
        when=_when,
        errors=errors or {},
        sent=sent or {},
        notice=notice_shown(request, session.csrf_token),
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
    )


@needs_session
async def incidents_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await _show(request, session, guild)


async def _refused(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    refusal: PegasusError,
    form: Form,
) -> web.Response:
    # The refusal is shown next to the form of the incident it was sent for.
    form_name = request.match_info["incident_id"]
    sentence = refusal_sentence(refusal, None)
    return await _show(
        request,
        session,
        guild,
        status=400,
        errors={form_name: sentence},
        sent=sent_back(form_name, form),
    )


@needs_session
async def add_note(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """As `/security note`: an open incident moves to investigating."""
    session, guild = await managed_guild(request, session)
    form = await request.post()
    try:
        with acting_from(person_context(request, session)):
            incident = await security.add_incident_note(
                guild.id,
                request.match_info["incident_id"],
                session.user_id,
                str(form.get("text", "")),
                web_state(request).clock(),
            )
    except PegasusError as refusal:
        return await _refused(request, session, guild, refusal, form)
    notice = _("Note added to {incident} ({status}).").format(
        incident=incident.incident_id, status=_(STATUS_NAMES[incident.status])
    )
    raise notice_redirect(_page_url(guild.id), session.csrf_token, notice)


@needs_session
async def resolve(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """As `/security resolve`: only an open incident can be closed."""
    session, guild = await managed_guild(request, session)
    form = await request.post()
    false_positive = form.get("false_positive") == "on"
    try:
        with acting_from(person_context(request, session)):
            incident = await security.resolve_incident(
                guild.id,
                request.match_info["incident_id"],
                session.user_id,
                web_state(request).clock(),
                false_positive=false_positive,
            )
    except PegasusError as refusal:
        return await _refused(request, session, guild, refusal, form)
    how = (
        _("{incident} is closed as a false positive.")
        if false_positive
        else _("{incident} is closed as resolved.")
    )
    raise notice_redirect(
        _page_url(guild.id), session.csrf_token, how.format(incident=incident.incident_id)
    )
