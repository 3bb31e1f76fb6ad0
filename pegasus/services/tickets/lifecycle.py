"""A ticket's life: opening (numbers, limits), status changes, closing, reopening, auto-close.

Who counts as staff is a Discord question (support roles, Manage Channels), so the caller says so in
an `Actor`; every rule about what staff, admins and openers may do lives here, the close rule too
(`require_can_close`), so the cog asks this module before it even shows a confirmation.

Concurrency:
* Ticket numbers come from `ticket_settings.last_number`, moved with `F() + 1` inside the opening
  transaction. On PostgreSQL that UPDATE holds the guild's settings row until commit, on SQLite the
  transaction holds the database, so two members opening at the same instant get distinct numbers,
  and the per-member limit is counted while no other opening of that guild can slip in between.
* Every status change reads the ticket with `SELECT ... FOR UPDATE` in a transaction, decides, and
  writes; two staff clicking Close at once close it once, and the second is told it is closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.tickets import Ticket, TicketMessage, TicketPanel, TicketSettings, TicketStatus
from pegasus.errors import (
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
    channel_ref,
    user_ref,
)
from pegasus.i18n import N_, _, format_number, ngettext
from pegasus.scheduler import cancel, schedule
from pegasus.services import ids
from pegasus.services.directory import ensure_member, ensure_user

from .panels import channel_name_from, clean_channel_name, panel_buttons
from .results import (
    DEFAULT_NAME_FORMAT,
    Actor,
    AutoCloseCheck,
    AutoCloseVerdict,
    OpenedTicket,
    PanelButton,
    TicketInfo,
)
from .settings import get_settings

AUTOCLOSE_KIND = "ticket.autoclose"
MAX_REASON = 1000
DEFAULT_WELCOME = N_(
    "Thanks for reaching out, {user}. Describe your problem and a staff member will be with you "
    "soon."
)


def _clean_reason(reason: str | None) -> str | None:
    cleaned = (reason or "").strip()
    if len(cleaned) > MAX_REASON:
        raise ValidationError(
            _("The reason can be at most {count} characters long.").format(
                count=format_number(MAX_REASON)
            )
        )
    return cleaned or None


async def open_ticket(
    guild_id: int,
    panel_id: str,
    button_index: int,
    user_id: int,
    *,
    reason: str | None,
    user_name: str,
    now: datetime,
    label: str | None = None,
) -> OpenedTicket:
    """Open a ticket from a panel button: draw the next number, check the member's limit.

    `label` is the clicked button's text, when known: see `_check_panel_button`.
    The ticket has no channel yet: create it, then call `attach_channel` (or `abandon_ticket` if
    Discord refused).
    """
    reason = _clean_reason(reason)
    async with in_transaction() as conn:
        await ensure_member(guild_id, user_id, using_db=conn)
        panel = await _panel_or_none(guild_id, panel_id, conn)
        button_index, button = _check_panel_button(panel, button_index, label)
        assert panel is not None
        number = await _next_number(guild_id, conn)
        await _check_limit(panel, user_id, conn)
        support_role_ids = button.support_role_ids or tuple(panel.support_role_ids)
        row = await Ticket.create(
            guild_id=guild_id,
            panel_id=panel.id,
            button_index=button_index,
            number=number,
            user_id=user_id,
            reason=reason,
            status=TicketStatus.OPEN,
            support_role_ids=list(support_role_ids),
            created_at=now,
            using_db=conn,
        )
    return OpenedTicket(
        ticket=TicketInfo.from_row(row),
        label=button.label,
        channel_name=channel_name_from(button.name_format, number=number, user_name=user_name)
        or f"ticket-{number:04d}",
        category_id=button.category_id or panel.category_id,
        support_role_ids=support_role_ids,
        welcome_message=button.welcome_message or DEFAULT_WELCOME,
    )


async def check_can_open(
    guild_id: int, panel_id: str, button_index: int, user_id: int, *, label: str | None = None
) -> PanelButton:
    """The checks of `open_ticket`, without opening: refuse before asking for a reason.
    Returns the button. `open_ticket` checks again under the guild's lock; this only spares a
    member filling in a form for nothing.
    """
    panel = await _panel_or_none(guild_id, panel_id, None)
    _index, button = _check_panel_button(panel, button_index, label)
    assert panel is not None
    await _check_limit(panel, user_id, None)
    return button


async def reopened_channel_name(ticket: TicketInfo, user_name: str) -> str:
    """The channel name a reopened ticket gets: its button's format, if the button is still
    there, else `ticket-0012`."""
    name_format = DEFAULT_NAME_FORMAT
    panel = await TicketPanel.get_or_none(id=ticket.panel_pk) if ticket.panel_pk else None
    if panel is not None and ticket.button_index is not None:
        buttons = panel_buttons(panel)
        if 0 <= ticket.button_index < len(buttons):
            name_format = buttons[ticket.button_index].name_format
    return channel_name_from(name_format, number=ticket.number, user_name=user_name) or (
        f"ticket-{ticket.number:04d}"
    )


async def _panel_or_none(
    guild_id: int, panel_id: str, conn: BaseDBAsyncClient | None
) -> TicketPanel | None:
    key = ids.TICKET_PANEL.key(panel_id)
    if key is None:
        return None
    query = TicketPanel.get_or_none(guild_id=guild_id, panel_id=key)
    return await (query.using_db(conn) if conn is not None else query)


def _check_panel_button(
    panel: TicketPanel | None, button_index: int, label: str | None = None
) -> tuple[int, PanelButton]:
    """The button at `button_index`, with its (possibly corrected) position.

    A panel posted more than once is refreshed only where it was posted last, so an older copy
    keeps the positions it was sent with; after a button is removed they point at the wrong
    type. When the clicked `label` is given and the position no longer holds it, the button is
    found by its label, and refused if it is gone: never a ticket of another type.
    """
    if panel is None:
        raise NotFoundError(_("This ticket panel was deleted: ask the staff for a new one."))
    if not panel.is_active:
        raise ConflictError(_("This ticket panel is closed for now: try again later."))
    buttons = panel_buttons(panel)
    in_place = 0 <= button_index < len(buttons)
    if label is not None and not (in_place and buttons[button_index].label == label):
        button_index = next((i for i, b in enumerate(buttons) if b.label == label), -1)
        in_place = button_index >= 0
    if not in_place:
        raise NotFoundError(_("This button was removed from the panel: ask the staff."))
    return button_index, buttons[button_index]


async def _next_number(guild_id: int, conn: BaseDBAsyncClient) -> int:
    """Take the guild's next ticket number; holds the guild's counter row until commit."""
    await TicketSettings.bulk_create(
        [TicketSettings(guild_id=guild_id)], ignore_conflicts=True, using_db=conn
    )
    await (
        TicketSettings.filter(guild_id=guild_id)
        .using_db(conn)
        .update(last_number=F("last_number") + 1)
    )
    return await (
        TicketSettings.get(guild_id=guild_id).using_db(conn).values_list("last_number", flat=True)
    )


async def _check_limit(panel: TicketPanel, user_id: int, conn: BaseDBAsyncClient | None) -> None:
    open_channels = await (
        Ticket.filter(guild_id=panel.guild_id, panel_id=panel.id, user_id=user_id)
        .exclude(status=TicketStatus.CLOSED)
        .using_db(conn)
        .values_list("channel_id", flat=True)
    )
    if len(open_channels) >= panel.max_tickets_per_user:
        refs = {f"channel{i}": channel_ref(c) for i, c in enumerate(open_channels) if c}
        where = ", ".join(f"{{{name}}}" for name in refs)
        count = len(open_channels)
        refusal = ngettext(
            "You already have {count} open ticket from this panel, the most allowed is {limit}.",
            "You already have {count} open tickets from this panel, the most allowed is {limit}.",
            count,
        ).format(count=format_number(count), limit=format_number(panel.max_tickets_per_user))
        if where:
            # The channels stay `{channel0}` fields here: the error fills them in.
            refusal += " " + _("Continue in {channels}, or close it first.").format(channels=where)
        raise ConflictError(refusal, **refs)


async def attach_channel(ticket_id: UUID | str, channel_id: int, *, now: datetime) -> TicketInfo:
    """The ticket's channel exists: remember it and start the auto-close timer if enabled."""
    async with in_transaction() as conn:
        ticket = await lock_ticket(ticket_id, conn)
        await (
            Ticket.filter(id=ticket.id).using_db(conn).update(channel_id=channel_id, updated_at=now)
        )
        ticket.channel_id = channel_id
        await _schedule_autoclose(ticket, now, conn)
    return TicketInfo.from_row(ticket)


async def abandon_ticket(ticket_id: UUID | str) -> None:
    """Discord refused to create the channel: forget the ticket (its number stays unused)."""
    async with in_transaction() as conn:
        await cancel(AUTOCLOSE_KIND, _autoclose_key(ticket_id), using_db=conn)
        await Ticket.filter(id=ticket_id).using_db(conn).delete()


# --------------------------------------------------------------------------------------------
# Lookup


async def get_ticket(ticket_id: UUID | str) -> TicketInfo:
    ticket = await Ticket.get_or_none(id=ticket_id)
    if ticket is None:
        raise NotFoundError(_("This ticket no longer exists."))
    return TicketInfo.from_row(ticket)


async def ticket_in_channel(guild_id: int, channel_id: int) -> TicketInfo:
    ticket = await Ticket.get_or_none(guild_id=guild_id, channel_id=channel_id)
    if ticket is None:
        raise NotFoundError(_("This is not a ticket channel: run the command inside a ticket."))
    return TicketInfo.from_row(ticket)


async def ticket_by_number(guild_id: int, number: int) -> TicketInfo:
    ticket = await Ticket.get_or_none(guild_id=guild_id, number=ids.TICKET_NUMBER.check(number))
    if ticket is None:
        raise ids.TICKET_NUMBER.not_found(number)
    return TicketInfo.from_row(ticket)


async def open_ticket_channels() -> dict[int, UUID]:
    """Channel id → ticket id of every ticket that is not closed: the message recorder's set."""
    rows = await (
        Ticket.filter(channel_id__not_isnull=True)
        .exclude(status=TicketStatus.CLOSED)
        .values_list("channel_id", "id")
    )
    return {channel_id: ticket_id for channel_id, ticket_id in rows}


# --------------------------------------------------------------------------------------------
# Status changes


def derive_status(ticket: Ticket | TicketInfo) -> TicketStatus:
    """The most restrictive state wins: closed > frozen > locked > claimed > open."""
    if ticket.closed_at is not None:
        return TicketStatus.CLOSED
    if ticket.frozen_at is not None:
        return TicketStatus.FROZEN
    if ticket.locked_at is not None:
        return TicketStatus.LOCKED
    if ticket.claimed_by_id is not None:
        return TicketStatus.CLAIMED
    return TicketStatus.OPEN


async def lock_ticket(ticket_id: UUID | str, conn: BaseDBAsyncClient) -> TicketInfo:
    ticket = await Ticket.filter(id=ticket_id).select_for_update().using_db(conn).first()
    if ticket is None:
        raise NotFoundError(_("This ticket no longer exists."))
    return ticket


Decision = Callable[[Ticket], dict[str, Any]]


async def _change(
    ticket_id: UUID | str,
    decide: Decision,
    *,
    now: datetime,
    users: Sequence[int] = (),
    after: Callable[[Ticket, BaseDBAsyncClient], Any] | None = None,
) -> TicketInfo:
    """Lock the ticket, let `decide` check the rules and return the changes, write them and the
    derived status. `users` are ids that must exist as user rows (actors stored as foreign keys);
    `after` runs in the same transaction (timers)."""
    async with in_transaction() as conn:
        ticket = await lock_ticket(ticket_id, conn)
        changes = decide(ticket)
        for user_id in users:
            await ensure_user(user_id, using_db=conn)
        for name, value in changes.items():
            setattr(ticket, name, value)
        ticket.status = derive_status(ticket)
        ticket.updated_at = now
        await (
            Ticket.filter(id=ticket.id)
            .using_db(conn)
            .update(**changes, status=ticket.status, updated_at=now)
        )
        if after is not None:
            await after(ticket, conn)
    return TicketInfo.from_row(ticket)


def _require_staff(actor: Actor, refusal: str) -> None:
    """`refusal`: the sentence (marked with `N_`) shown when `actor` is not staff."""
    if not actor.staff:
        raise PermissionDenied(_(refusal))


def _require_not_closed(ticket: Ticket | TicketInfo) -> None:
    if ticket.closed_at is not None:
        raise ConflictError(_("Ticket {ticket} is closed.").format(ticket=f"#{ticket.number:04d}"))


async def claim(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> TicketInfo:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, N_("Only the ticket's staff can claim tickets."))
        _require_not_closed(ticket)
        claimer = ticket.claimed_by_id
        if claimer == actor.user_id:
            raise ConflictError(_("You have already claimed this ticket."))
        if claimer is not None:
            raise ConflictError(
                _("This ticket is already claimed by {claimer}."), claimer=user_ref(claimer)
            )
        return {"claimed_by_id": actor.user_id, "claimed_at": now}

    return await _change(ticket_id, decide, now=now, users=[actor.user_id])


async def unclaim(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> TicketInfo:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_not_closed(ticket)
        claimer = ticket.claimed_by_id
        if claimer is None:
            raise ConflictError(_("Nobody has claimed this ticket."))
        if claimer != actor.user_id and not actor.is_admin:
            raise PermissionDenied(
                _("Only {claimer}, who claimed this ticket, or an admin can unclaim it."),
                claimer=user_ref(claimer),
            )
        return {"claimed_by_id": None, "claimed_at": None}

    return await _change(ticket_id, decide, now=now)


async def lock(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> TicketInfo:
    """Only staff can write in a locked ticket."""

    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, N_("Only the ticket's staff can lock tickets."))
        _require_not_closed(ticket)
        if ticket.locked_at is not None:
            raise ConflictError(_("This ticket is already locked."))
        return {"locked_by_id": actor.user_id, "locked_at": now}

    return await _change(ticket_id, decide, now=now, users=[actor.user_id])


async def unlock(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> TicketInfo:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, N_("Only the ticket's staff can unlock tickets."))
        _require_not_closed(ticket)
        if ticket.locked_at is None:
            raise ConflictError(_("This ticket is not locked."))
        return {"locked_by_id": None, "locked_at": None}

    return await _change(ticket_id, decide, now=now)


async def freeze(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> TicketInfo:
    """Nobody but admins can write in a frozen ticket."""

    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, N_("Only the ticket's staff can freeze tickets."))
        _require_not_closed(ticket)
        if ticket.frozen_at is not None:
            raise ConflictError(_("This ticket is already frozen."))
        return {"frozen_by_id": actor.user_id, "frozen_at": now}

    return await _change(ticket_id, decide, now=now, users=[actor.user_id])


async def unfreeze(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> TicketInfo:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, N_("Only the ticket's staff can unfreeze tickets."))
        _require_not_closed(ticket)
        if ticket.frozen_at is None:
            raise ConflictError(_("This ticket is not frozen."))
        return {"frozen_by_id": None, "frozen_at": None}

    return await _change(ticket_id, decide, now=now)


async def add_participant(
    ticket_id: UUID | str, actor: Actor, member_id: int, *, now: datetime
) -> TicketInfo:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, N_("Only the ticket's staff can add members to tickets."))
        _require_not_closed(ticket)
        if member_id == ticket.user_id:
            raise ConflictError(_("That member opened this ticket: they are in it already."))
        if member_id in ticket.participant_ids:
            raise ConflictError(
                _("{member} is already in this ticket."), member=user_ref(member_id)
            )
        return {"participant_ids": [*ticket.participant_ids, member_id]}

    return await _change(ticket_id, decide, now=now)


async def remove_participant(
    ticket_id: UUID | str, actor: Actor, member_id: int, *, now: datetime
) -> TicketInfo:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, N_("Only the ticket's staff can remove members from tickets."))
        _require_not_closed(ticket)
        if member_id == ticket.user_id:
            raise ConflictError(_("The member who opened the ticket cannot be removed from it."))
        if member_id not in ticket.participant_ids:
            raise ConflictError(
                _("{member} was not added to this ticket."), member=user_ref(member_id)
            )
        return {"participant_ids": [m for m in ticket.participant_ids if m != member_id]}

    return await _change(ticket_id, decide, now=now)


async def rename(ticket_id: UUID | str, actor: Actor, name: str) -> tuple[TicketInfo, str]:
    """Check that `actor` may rename the ticket's channel; returns the cleaned channel name."""
    if not actor.staff:
        raise PermissionDenied(_("Only the ticket's staff can rename tickets."))
    ticket = await get_ticket(ticket_id)
    _require_not_closed(ticket)
    cleaned = clean_channel_name(name)
    if not cleaned:
        raise ValidationError(_("Channel names need letters or digits, e.g. `billing-refund`."))
    return ticket, cleaned


def require_can_close(ticket: Ticket | TicketInfo, actor: Actor | None) -> None:
    """The close rule: the opener and the ticket's staff may close an open ticket (None: the bot
    closes it itself, after inactivity or when its channel was deleted).

    `close` applies it on the locked row; the cog asks it first, so nobody confirms for nothing.
    """
    if actor is not None and not actor.staff and actor.user_id != ticket.user_id:
        raise PermissionDenied(
            _("Only the member who opened this ticket or its staff can close it.")
        )
    if ticket.closed_at is not None:
        raise ConflictError(
            _("Ticket {ticket} is already closed.").format(ticket=f"#{ticket.number:04d}")
        )


async def close(
    ticket_id: UUID | str, actor: Actor | None, *, reason: str | None, now: datetime
) -> TicketInfo:
    """Mark the ticket closed (actor None = closed automatically) and stop its timer.

    The opener and staff may close. The caller then writes the transcript; if that fails it calls
    `undo_close`, so a ticket is never left closed with its conversation lost.
    """
    reason = _clean_reason(reason)

    def decide(ticket: Ticket) -> dict[str, Any]:
        require_can_close(ticket, actor)
        return {
            "closed_by_id": actor.user_id if actor is not None else None,
            "closed_at": now,
            "close_reason": reason,
        }

    async def stop_timer(ticket: Ticket, conn: BaseDBAsyncClient) -> None:
        await cancel(AUTOCLOSE_KIND, _autoclose_key(ticket.id), using_db=conn)

    users = [actor.user_id] if actor is not None else []
    return await _change(ticket_id, decide, now=now, users=users, after=stop_timer)


async def undo_close(ticket_id: UUID | str, *, now: datetime) -> TicketInfo:
    """The transcript could not be written: the ticket is open again, as it was before."""

    def decide(ticket: Ticket) -> dict[str, Any]:
        return {"closed_by_id": None, "closed_at": None, "close_reason": None}

    return await _change(ticket_id, decide, now=now, after=_restart_timer(now))


async def reopen(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> TicketInfo:
    """Staff reopen a closed ticket; the caller gives it a channel again if it has none."""

    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, N_("Only the ticket's staff can reopen tickets."))
        if ticket.closed_at is None:
            raise ConflictError(
                _("Ticket {ticket} is not closed.").format(ticket=f"#{ticket.number:04d}")
            )
        return {
            "closed_by_id": None,
            "closed_at": None,
            "close_reason": None,
            "reopened_at": now,
        }

    return await _change(ticket_id, decide, now=now, after=_restart_timer(now))


async def undo_reopen(ticket_id: UUID | str, before: TicketInfo, *, now: datetime) -> TicketInfo:
    """Discord refused the reopened ticket its channel: closed again, as it was `before`."""

    def decide(ticket: Ticket) -> dict[str, Any]:
        return {
            "closed_by_id": before.closed_by_id,
            "closed_at": before.closed_at,
            "close_reason": before.close_reason,
            "reopened_at": before.reopened_at,
        }

    async def stop_timer(ticket: Ticket, conn: BaseDBAsyncClient) -> None:
        await cancel(AUTOCLOSE_KIND, _autoclose_key(ticket.id), using_db=conn)

    return await _change(ticket_id, decide, now=now, after=stop_timer)


def _restart_timer(now: datetime) -> Callable[[Ticket, BaseDBAsyncClient], Any]:
    async def restart(ticket: Ticket, conn: BaseDBAsyncClient) -> None:
        await _schedule_autoclose(ticket, now, conn)

    return restart


# --------------------------------------------------------------------------------------------
# Auto-close


def _autoclose_key(ticket_id: UUID | str) -> str:
    return f"ticket:{ticket_id}"


async def _schedule_autoclose(ticket: Ticket, now: datetime, conn: BaseDBAsyncClient) -> None:
    hours = await (
        TicketSettings.filter(guild_id=ticket.guild_id)
        .using_db(conn)
        .first()
        .values_list("auto_close_hours", flat=True)
    )
    if hours and ticket.channel_id is not None:
        await schedule(
            AUTOCLOSE_KIND,
            now + timedelta(hours=hours),
            {"ticket_id": str(ticket.id)},
            guild_id=ticket.guild_id,
            dedupe_key=_autoclose_key(ticket.id),
            using_db=conn,
        )


async def last_activity(ticket: Ticket | TicketInfo) -> datetime:
    """When a person last wrote in the ticket (or it was opened or reopened)."""
    last_message = await (
        TicketMessage.filter(ticket_id=ticket.id, author_is_bot=False)
        .order_by("-created_at")
        .first()
        .values_list("created_at", flat=True)
    )
    moments = [m for m in (ticket.created_at, ticket.reopened_at, last_message) if m is not None]
    return max(moments)


async def check_autoclose(ticket_id: UUID | str, *, now: datetime) -> AutoCloseCheck:
    """Decide what an auto-close timer does when it fires.

    Messages do not touch the timer (that would be a write per message); instead the timer looks
    at the last message when it fires, and if there was activity it schedules itself again for
    `last activity + delay`. Frozen tickets wait: nobody can write in them.
    """
    ticket = await Ticket.get_or_none(id=ticket_id)
    if ticket is None or ticket.closed_at is not None or ticket.channel_id is None:
        return AutoCloseCheck(AutoCloseVerdict.SKIP)
    settings = await get_settings(ticket.guild_id)
    hours = settings.auto_close_hours
    if not hours:
        return AutoCloseCheck(AutoCloseVerdict.SKIP)
    delay = timedelta(hours=hours)
    due_at = now + delay if ticket.frozen_at is not None else await last_activity(ticket) + delay
    if due_at > now:
        async with in_transaction() as conn:
            await schedule(
                AUTOCLOSE_KIND,
                due_at,
                {"ticket_id": str(ticket.id)},
                guild_id=ticket.guild_id,
                dedupe_key=_autoclose_key(ticket.id),
                using_db=conn,
            )
        return AutoCloseCheck(AutoCloseVerdict.WAIT, due_at=due_at, hours=hours)
    return AutoCloseCheck(AutoCloseVerdict.CLOSE, hours=hours)


async def member_tickets(guild_id: int, user_id: int, *, limit: int = 50) -> list[TicketInfo]:
    """The tickets the member opened in this server, newest first."""
    query = Ticket.filter(guild_id=guild_id, user_id=user_id)
    rows = await query.order_by("-created_at").limit(limit)
    return [TicketInfo.from_row(row) for row in rows]
