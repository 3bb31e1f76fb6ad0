"""The dashboard's tickets page: panels with their buttons, posting a panel, tickets and their
transcripts.

A third adapter over the services of `/ticket-panel` and the REST API (`pegasus.web.api.tickets`):
the same service calls, so the same refusals, shown next to the form that was sent. Changes are
audited by the services with the person signed in as actor and source `web`. Support roles pass
the role rule of `/ticket-panel` for that person (`pegasus.web.roles`). Posting a panel queues the
job the API's send endpoint queues; the page shows its state when reloaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiohttp import web

from models.tickets import Ticket
from pegasus.errors import PegasusError, ValidationError
from pegasus.i18n import _
from pegasus.services import tickets as service
from pegasus.services.audit import acting_from
from pegasus.services.dashboard import DashboardGuild, DashboardSession
from pegasus.services.role_delegations import RoleFacts
from pegasus.services.tickets import ButtonStyle, PanelInfo, TicketInfo
from pegasus.web import jobs
from pegasus.web.dashboard.forms import (
    Asking,
    Form,
    channel_choices,
    guild_names,
    id_choice,
    notice_redirect,
    notice_shown,
    number,
    refusal_sentence,
    role_choices,
    sent_back,
    text,
    web_state,
)
from pegasus.web.dashboard.pages import (
    DASHBOARD_PREFIX,
    confirmation_page,
    managed_guild,
    needs_session,
    person_context,
    render,
)
from pegasus.web.discord_names import CATEGORY, GuildNames
from pegasus.web.roles import remember_role_setup, require_can_delegate

__all__ = ["add_routes"]

TICKETS_SHOWN = 50
POSTABLE = frozenset({0, 5})  # text and announcement channels: where a panel can be posted


def add_routes(app: web.Application) -> None:
    page = f"{DASHBOARD_PREFIX}/guilds/{{guild_id}}/tickets"
    panel = page + "/panels/{panel_id}"
    app.router.add_get(page, tickets_page)
    app.router.add_post(page + "/panels", create_panel)
    app.router.add_post(panel, edit_panel)
    app.router.add_post(panel + "/buttons", add_button)
    app.router.add_post(panel + "/buttons/{position}/remove", remove_button)
    app.router.add_post(panel + "/send", send_panel)
    app.router.add_get(panel + "/delete", confirm_delete)
    app.router.add_post(panel + "/delete", delete_panel)
    app.router.add_get(page + "/{number}/transcript", transcript)


def _page_url(guild_id: int) -> str:
    return f"{DASHBOARD_PREFIX}/guilds/{guild_id}/tickets"


# what the page shows -------------------------------------------------------------------------
def _categories(names: GuildNames | None) -> list[tuple[int, str]]:
    return channel_choices(names, frozenset({CATEGORY}))


async def _recent_tickets(guild_id: int) -> list[TicketInfo]:
    """The newest tickets, those still open first."""
    rows = await Ticket.filter(guild_id=guild_id).order_by("-number").limit(TICKETS_SHOWN)
    found = [TicketInfo.from_row(row) for row in rows]
    return sorted(found, key=lambda ticket: (ticket.closed_at is not None, -ticket.number))


async def _job(request: web.Request, guild_id: int) -> jobs.Job | None:
    raw = request.query.get("job", "")
    if not raw.isdigit():
        return None
    try:
        return await jobs.get_job(int(raw), guild_id=guild_id)
    except PegasusError:
        return None


async def _show(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    sent: Mapping[str, str] | None = None,
    notice: str | None = None,
) -> web.Response:
    names = await guild_names(request, guild.id)
    return render(
        "tickets_page.html",
        status=status,
        session=session,
        guild=guild,
        panels=await service.list_panels(guild.id),
        tickets=await _recent_tickets(guild.id),
        text_channels=channel_choices(names, POSTABLE),
        categories=_categories(names),
        roles=role_choices(names, guild.id),
        channel_name=(lambda cid: names.channel_name(cid) if names and cid else None),
        styles=[style.value for style in ButtonStyle],
        job=await _job(request, guild.id),
        errors=errors or {},
        sent=sent or {},
        notice=notice or notice_shown(request, session.csrf_token),
        csrf=session.csrf_token,
        page_url=_page_url(guild.id),
        max_buttons=service.MAX_BUTTONS,
    )


@needs_session
async def tickets_page(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await _show(request, session, guild)


# reading the forms ---------------------------------------------------------------------------
async def _checked_roles(
    request: web.Request, session: DashboardSession, guild_id: int, form: Form
) -> list[RoleFacts]:
    """The support roles chosen, each under the rule of `/ticket-panel` for the person."""
    asking = Asking(web_state(request), guild_id, session.user_id)
    chosen: list[int] = []
    for raw in form.getall("support_role_ids", []):
        if not str(raw).isdigit():
            raise ValidationError(_("Choose roles of this server from the list."))
        chosen.append(int(raw))
    return [await require_can_delegate(asking, role_id) for role_id in dict.fromkeys(chosen)]


async def _remember(
    request: web.Request, session: DashboardSession, guild_id: int, roles: list[RoleFacts]
) -> None:
    asking = Asking(web_state(request), guild_id, session.user_id)
    for role in roles:
        await remember_role_setup(asking, role)


def _panel_id(request: web.Request) -> str:
    return request.match_info["panel_id"]


def _back(
    guild_id: int, session: DashboardSession, notice: str, job: jobs.Job | None = None
) -> web.HTTPFound:
    if job is not None:
        return web.HTTPFound(f"{_page_url(guild_id)}?job={job.id}")
    return notice_redirect(_page_url(guild_id), session.csrf_token, notice)


# changes -------------------------------------------------------------------------------------
@needs_session
async def create_panel(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    names = await guild_names(request, guild.id)
    try:
        roles = await _checked_roles(request, session, guild.id, form)
        with acting_from(person_context(request, session)):
            panel = await service.create_panel(
                guild.id,
                actor_id=session.user_id,
                title=str(form.get("title", "")),
                description=str(form.get("description", "")),
                support_role_ids=[role.id for role in roles],
                category_id=id_choice(form, "category_id", _categories(names), _("a category")),
                max_tickets_per_user=number(form, "max_tickets_per_user", _("Tickets per member"))
                or 1,
                color=service.parse_color(text(form, "color")),
            )
            await _remember(request, session, guild.id, roles)
    except PegasusError as refusal:
        return await _refused(request, session, guild, "create", refusal, form)
    raise _back(
        guild.id,
        session,
        _("Panel {panel} created: add a button, then post it.").format(panel=panel.panel_id),
    )


@needs_session
async def edit_panel(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    panel_id = _panel_id(request)
    try:
        with acting_from(person_context(request, session)):
            panel = await service.edit_panel(
                guild.id,
                panel_id,
                actor_id=session.user_id,
                title=text(form, "title"),
                description=text(form, "description"),
                color=service.parse_color(text(form, "color")),
                max_tickets_per_user=number(form, "max_tickets_per_user", _("Tickets per member")),
                is_active=form.get("is_active") == "on",
            )
            await _refresh_posted(request, session, panel)
    except PegasusError as refusal:
        return await _refused(request, session, guild, f"edit:{panel_id}", refusal, form)
    raise _back(guild.id, session, f"Panel {panel.panel_id} saved.")


@needs_session
async def add_button(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    panel_id = _panel_id(request)
    names = await guild_names(request, guild.id)
    try:
        style = str(form.get("style", ButtonStyle.PRIMARY.value))
        if style not in {member.value for member in ButtonStyle}:
            raise ValidationError(_("Choose a colour from the list."))
        roles = await _checked_roles(request, session, guild.id, form)
        with acting_from(person_context(request, session)):
            panel = await service.add_button(
                guild.id,
                panel_id,
                actor_id=session.user_id,
                label=str(form.get("label", "")),
                style=ButtonStyle(style),
                emoji=text(form, "emoji"),
                category_id=id_choice(form, "category_id", _categories(names), _("a category")),
                support_role_ids=[role.id for role in roles],
                name_format=text(form, "name_format") or service.DEFAULT_NAME_FORMAT,
                welcome_message=text(form, "welcome_message"),
            )
            await _remember(request, session, guild.id, roles)
            await _refresh_posted(request, session, panel)
    except PegasusError as refusal:
        return await _refused(request, session, guild, f"button:{panel_id}", refusal, form)
    raise _back(guild.id, session, _("Button added to panel {panel}.").format(panel=panel.panel_id))


@needs_session
async def remove_button(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    panel_id = _panel_id(request)
    raw = request.match_info["position"]
    try:
        with acting_from(person_context(request, session)):
            panel = await service.edit_panel(
                guild.id,
                panel_id,
                actor_id=session.user_id,
                remove_button=int(raw) if raw.isdigit() and len(raw) < 3 else 0,
            )
            await _refresh_posted(request, session, panel)
    except PegasusError as refusal:
        return await _refused(request, session, guild, f"button:{panel_id}", refusal, None)
    raise _back(
        guild.id, session, _("Button removed from panel {panel}.").format(panel=panel.panel_id)
    )


@needs_session
async def send_panel(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    form = await request.post()
    panel_id = _panel_id(request)
    names = await guild_names(request, guild.id)
    try:
        channel_id = id_choice(form, "channel_id", channel_choices(names, POSTABLE), _("a channel"))
        if channel_id is None:
            raise ValidationError(_("Choose the channel to post the panel in."))
        with acting_from(person_context(request, session)):
            job = await jobs.enqueue_ticket_panel_send(
                guild.id, panel_id, channel_id, actor_id=session.user_id, now=_now(request)
            )
    except PegasusError as refusal:
        return await _refused(request, session, guild, f"send:{panel_id}", refusal, form)
    raise _back(guild.id, session, "", job)


@needs_session
async def confirm_delete(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    return await confirmation_page(
        "tickets_delete.html",
        session=session,
        guild=guild,
        page_url=_page_url(guild.id),
        find=lambda: service.get_panel(guild.id, _panel_id(request)),
        row_name="panel",
    )


@needs_session
async def delete_panel(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    session, guild = await managed_guild(request, session)
    try:
        with acting_from(person_context(request, session)):
            panel = await service.delete_panel(
                guild.id, _panel_id(request), actor_id=session.user_id
            )
            await _refresh_posted(request, session, panel, deleted=True)
    except PegasusError as refusal:
        return await _refused(request, session, guild, "page", refusal, None)
    raise _back(
        guild.id,
        session,
        _("Panel {panel} deleted; its tickets stay.").format(panel=panel.panel_id),
    )


@needs_session
async def transcript(request: web.Request, session: DashboardSession) -> web.StreamResponse:
    """The same self-contained page the API and `/ticket transcript` give, as a download."""
    session, guild = await managed_guild(request, session)
    raw = request.match_info["number"]
    try:
        if not raw.isdigit() or not 0 < int(raw) < 2**31:
            raise ValidationError(_("There is no such ticket."))
        ticket = await service.ticket_by_number(guild.id, int(raw))
    except PegasusError as refusal:
        return await _refused(request, session, guild, "page", refusal, None, status=404)
    made = await service.stored_transcript(ticket, guild_name=guild.name, now=_now(request))
    return web.Response(
        text=made.html,
        content_type="text/html",
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


async def _refresh_posted(
    request: web.Request,
    session: DashboardSession,
    panel: PanelInfo,
    *,
    deleted: bool = False,
) -> None:
    """Have the bot update (or remove) the posted copy of the panel, as the API does."""
    await jobs.enqueue_ticket_panel_refresh(
        panel.guild_id, panel, deleted=deleted, actor_id=session.user_id, now=_now(request)
    )


def _now(request: web.Request) -> datetime:
    return web_state(request).clock()


async def _refused(
    request: web.Request,
    session: DashboardSession,
    guild: DashboardGuild,
    form_name: str,
    refusal: PegasusError,
    form: Form | None,
    *,
    status: int = 400,
) -> web.Response:
    """The page again, with the service's sentence next to the form that was sent and what was
    typed in it kept."""
    sent = sent_back(form_name, form)
    sentence = refusal_sentence(refusal, await guild_names(request, guild.id))
    return await _show(
        request, session, guild, status=status, errors={form_name: sentence}, sent=sent
    )
