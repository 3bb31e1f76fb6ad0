"""Tickets over HTTP: panels (create, read, change, delete, buttons, send), tickets and their
transcripts.

The same service functions as `/ticket-panel` and `/ticket transcript`, so the same refusals;
the services audit every panel change with before and after (source `api`, the key's owner).
Posting a panel needs Discord: it is queued for the bot process that owns the server (202 with
the job's URL). A panel's support roles see and handle its tickets on the bot's behalf, so each
is checked for the key's owner under the rule of `/ticket-panel` (`pegasus.web.roles`): the bot
must be able to give it and the owner could give it themselves; every role is checked before
anything changes, and recorded as delegated by the owner once the change is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.tickets import Ticket, TicketPanel, TicketStatus
from pegasus.errors import ValidationError
from pegasus.services import tickets as service
from pegasus.services.ids import check_snowflake
from pegasus.services.role_delegations import RoleFacts
from pegasus.services.tickets import ButtonStyle, PanelInfo, StoredMessage, TicketInfo
from pegasus.web import jobs
from pegasus.web.api.jobs import JobInfo
from pegasus.web.pagination import keyset_page
from pegasus.web.roles import remember_role_setup, require_can_delegate
from pegasus.web.routes import Call, Page, Param, Reply, Routes

__all__ = ["queued", "routes"]

routes = Routes("tickets", "Ticket panels and their buttons, tickets and transcripts.")

PANELS = "/guilds/{guild_id}/ticket-panels"
PANEL = PANELS + "/{panel_id}"
TICKETS = "/guilds/{guild_id}/tickets"
TICKET = TICKETS + "/{number}"
MAX_TICKET_NUMBER = 2**31 - 1

PANEL_ID = Param(
    "panel_id", str, "The panel's id, e.g. TP-7K2QX.", location="path", required=True
)
NUMBER = Param(
    "number", int, "The ticket's number in the server.", location="path", required=True,
    minimum=1, maximum=MAX_TICKET_NUMBER,
)


async def _check_support_roles(call: Call, role_ids: list[int] | None) -> list[RoleFacts]:
    """Each support role under the slash command's rule for the key's owner, before any
    change."""
    return [
        await require_can_delegate(call, check_snowflake(role_id, what="a role id"))
        for role_id in dict.fromkeys(role_ids or ())
    ]


async def _remember(call: Call, roles: list[RoleFacts]) -> None:
    for role in roles:
        await remember_role_setup(call, role)


def _category(category_id: int | None) -> int | None:
    if category_id is None:
        return None
    return check_snowflake(category_id, what="a category id")


# --------------------------------------------------------------------------- panels


@dataclass(frozen=True)
class PanelBody:
    """A new panel, as `/ticket-panel create` takes it; add buttons next, then send it."""

    title: str
    description: str
    category_id: int | None = field(
        default=None, metadata={"description": "The category new ticket channels go in."}
    )
    max_tickets_per_user: int = field(
        default=1, metadata={"description": "Open tickets one member may have from it (1-25)."}
    )
    color: str | None = field(
        default=None, metadata={"description": "#5865F2, 5865F2 or a name such as blue."}
    )
    support_role_ids: list[int] = field(
        default_factory=list,
        metadata={"description": "Staff roles that see and handle these tickets: roles the "
                  "key's owner could give."},
    )


@dataclass(frozen=True)
class PanelChange:
    """What to change, as `/ticket-panel edit` takes it; give at least one."""

    title: str | None = None
    description: str | None = None
    color: str | None = None
    category_id: int | None = None
    max_tickets_per_user: int | None = None
    is_active: bool | None = None
    remove_button: int | None = field(
        default=None, metadata={"description": "The position (1-5) of a button to remove."}
    )
    support_role_ids: list[int] | None = field(
        default=None,
        metadata={"description": "Replaces the staff roles of buttons without their own: "
                  "roles the key's owner could give."},
    )


@dataclass(frozen=True)
class ButtonBody:
    """A button (a type of ticket), as `/ticket-panel button` takes it."""

    label: str
    style: ButtonStyle = ButtonStyle.PRIMARY
    emoji: str | None = None
    category_id: int | None = None
    name_format: str = field(
        default=service.DEFAULT_NAME_FORMAT,
        metadata={"description": "The channel name; {number} and {user} are filled in."},
    )
    welcome_message: str | None = field(
        default=None, metadata={"description": "The first message; {user} mentions the opener."}
    )
    support_role_ids: list[int] = field(
        default_factory=list,
        metadata={"description": "Staff roles of this type (default: the panel's): roles "
                  "the key's owner could give."},
    )


@dataclass(frozen=True)
class SendBody:
    """Where to post the panel: a text channel of the server."""

    channel_id: int


@routes.get(PANELS, scope="tickets:read", summary="List the ticket panels", response=PanelInfo,
            paginated=True)
async def list_ticket_panels(call: Call) -> Page[PanelInfo]:
    """Oldest first, as `/ticket-panel list` shows them."""
    query = TicketPanel.filter(guild_id=call.guild_id)
    return await keyset_page(call, query, order=("id",), item=PanelInfo.from_row)


@routes.post(
    PANELS,
    scope="tickets:write",
    summary="Create a ticket panel",
    body=PanelBody,
    response=PanelInfo,
    status=201,
    idempotent=True,
)
async def create_ticket_panel(call: Call) -> PanelInfo:
    """A panel without buttons yet; its support roles are set in Discord."""
    body: PanelBody = call.body
    color = service.parse_color(body.color)
    roles = await _check_support_roles(call, body.support_role_ids)
    panel = await service.create_panel(
        call.guild_id,
        actor_id=call.actor_id,
        title=body.title,
        description=body.description,
        support_role_ids=[role.id for role in roles],
        category_id=_category(body.category_id),
        max_tickets_per_user=body.max_tickets_per_user,
        color=color,
    )
    await _remember(call, roles)
    return panel


@routes.get(PANEL, scope="tickets:read", summary="Read a ticket panel", params=[PANEL_ID],
            response=PanelInfo)
async def get_ticket_panel(call: Call) -> PanelInfo:
    return await service.get_panel(call.guild_id, call.param("panel_id"))


@routes.patch(
    PANEL,
    scope="tickets:write",
    summary="Change a ticket panel",
    params=[PANEL_ID],
    body=PanelChange,
    response=PanelInfo,
    audit_fallback=False,  # edit_panel audits the change with before and after
)
async def change_ticket_panel(call: Call) -> PanelInfo:
    """A posted copy of the panel is updated by the bot (a queued job)."""
    body: PanelChange = call.body
    color = service.parse_color(body.color)
    roles = await _check_support_roles(call, body.support_role_ids)
    panel = await service.edit_panel(
        call.guild_id,
        call.param("panel_id"),
        actor_id=call.actor_id,
        title=body.title,
        description=body.description,
        color=color,
        support_role_ids=None if body.support_role_ids is None else [r.id for r in roles],
        category_id=_category(body.category_id),
        max_tickets_per_user=body.max_tickets_per_user,
        is_active=body.is_active,
        remove_button=body.remove_button,
    )
    await _remember(call, roles)
    await _refresh_posted(call, panel)
    return panel


@routes.delete(PANEL, scope="tickets:write", summary="Delete a ticket panel", params=[PANEL_ID],
               response=PanelInfo, audit_fallback=False)
async def delete_ticket_panel(call: Call) -> PanelInfo:
    """The deleted panel. Its tickets stay; a posted copy is removed by the bot (a queued
    job)."""
    panel = await service.delete_panel(
        call.guild_id, call.param("panel_id"), actor_id=call.actor_id
    )
    await _refresh_posted(call, panel, deleted=True)
    return panel


@routes.post(
    PANEL + "/buttons",
    scope="tickets:write",
    summary="Add a button to a ticket panel",
    params=[PANEL_ID],
    body=ButtonBody,
    response=PanelInfo,
    status=201,
    idempotent=True,
    audit_fallback=False,  # add_button audits the change with before and after
)
async def add_ticket_panel_button(call: Call) -> PanelInfo:
    """At most five buttons a panel; each opens one type of ticket. A posted copy of the panel
    is updated by the bot (a queued job)."""
    body: ButtonBody = call.body
    roles = await _check_support_roles(call, body.support_role_ids)
    panel = await service.add_button(
        call.guild_id,
        call.param("panel_id"),
        actor_id=call.actor_id,
        label=body.label,
        style=body.style,
        emoji=body.emoji,
        category_id=_category(body.category_id),
        support_role_ids=[role.id for role in roles],
        name_format=body.name_format,
        welcome_message=body.welcome_message,
    )
    await _remember(call, roles)
    await _refresh_posted(call, panel)
    return panel


async def _refresh_posted(call: Call, panel: PanelInfo, *, deleted: bool = False) -> None:
    await jobs.enqueue_ticket_panel_refresh(
        call.guild_id, panel, deleted=deleted, actor_id=call.actor_id, now=call.now
    )


@routes.post(
    PANEL + "/send",
    scope="tickets:write",
    summary="Post a ticket panel in a channel",
    params=[PANEL_ID],
    body=SendBody,
    response=JobInfo,
    status=202,
    idempotent=True,
)
async def send_ticket_panel(call: Call) -> Reply:
    """Queued for the bot (202): the job reports the message once posted, or why not."""
    body: SendBody = call.body
    job = await jobs.enqueue_ticket_panel_send(
        call.guild_id,
        call.param("panel_id"),
        check_snowflake(body.channel_id, what="a channel id"),
        actor_id=call.actor_id,
        now=call.now,
    )
    return queued(job)


def queued(job: jobs.Job) -> Reply:
    """A 202 answer for a queued job: its state now, and where to follow it."""
    data = job.as_json()
    info = JobInfo(
        id=data["id"],
        kind=data["kind"],
        guild_id=data["guild_id"],
        status=data["status"],
        result=data["result"],
        error=data["error"],
        attempts=data["attempts"],
        created_at=job.created_at,
        finished_at=job.finished_at,
        url=data["url"],
    )
    return Reply(info, status=202, headers={"Location": job.url})


# --------------------------------------------------------------------------- tickets


@routes.get(
    TICKETS,
    scope="tickets:read",
    summary="List tickets",
    params=[
        Param("status", str, "Only tickets in this state: "
              + ", ".join(status.value for status in TicketStatus) + "."),
        Param("user_id", int, "Only tickets this member opened.", minimum=1,
              maximum=2**63 - 1),
        Param("claimed_by_id", int, "Only tickets this staff member claimed.", minimum=1,
              maximum=2**63 - 1),
    ],
    response=TicketInfo,
    paginated=True,
)
async def list_tickets(call: Call) -> Page[TicketInfo]:
    """Newest first (by number)."""
    query = Ticket.filter(guild_id=call.guild_id)
    status = call.param("status")
    if status is not None:
        if status not in {member.value for member in TicketStatus}:
            raise ValidationError(
                "The status parameter is one of "
                + ", ".join(member.value for member in TicketStatus) + "."
            )
        query = query.filter(status=status)
    if call.param("user_id") is not None:
        query = query.filter(user_id=call.param("user_id"))
    if call.param("claimed_by_id") is not None:
        query = query.filter(claimed_by_id=call.param("claimed_by_id"))
    return await keyset_page(call, query, order=("-number",), item=TicketInfo.from_row)


@routes.get(TICKET, scope="tickets:read", summary="Read a ticket", params=[NUMBER],
            response=TicketInfo)
async def get_ticket(call: Call) -> TicketInfo:
    return await service.ticket_by_number(call.guild_id, call.param("number"))


@dataclass(frozen=True)
class TranscriptDocument:
    """A ticket and every message written in it, with edits and deletions, oldest first."""

    ticket: TicketInfo
    messages: list[StoredMessage]


@routes.get(TICKET + "/transcript", scope="tickets:read", summary="Read a ticket's messages",
            params=[NUMBER], response=TranscriptDocument)
async def get_ticket_transcript(call: Call) -> TranscriptDocument:
    """What the transcript is built from, as data."""
    ticket = await service.ticket_by_number(call.guild_id, call.param("number"))
    return TranscriptDocument(ticket, await service.ticket_messages(ticket.id))


@routes.get(
    TICKET + "/transcript.html",
    scope="tickets:read",
    summary="Download a ticket's transcript",
    params=[NUMBER],
    response=str,
    media_type="text/html",
)
async def get_ticket_transcript_html(call: Call) -> Reply:
    """The same self-contained page `/ticket transcript` sends, people named as the bot last
    saw them."""
    ticket = await service.ticket_by_number(call.guild_id, call.param("number"))
    transcript = await service.stored_transcript(
        ticket, guild_name=_guild_name(call), now=call.now
    )
    disposition = f'attachment; filename="{transcript.filename}"'
    return Reply(transcript.html, headers={"Content-Disposition": disposition})


def _guild_name(call: Call) -> str:
    bot = call.web.bot
    guild = bot.get_guild(call.guild_id) if bot is not None else None
    return guild.name if guild is not None else f"Server {call.guild_id}"

