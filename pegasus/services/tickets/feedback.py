"""After a ticket: the opener's rating and comment, and statistics for staff."""

from __future__ import annotations

import statistics
from datetime import datetime
from uuid import UUID

from tortoise.expressions import Q

from models.tickets import Ticket, TicketStatus
from pegasus.errors import ConflictError, PermissionDenied, ValidationError
from pegasus.i18n import _, format_number

from .lifecycle import get_ticket
from .results import TicketInfo, TicketStats

MAX_COMMENT = 1000


async def rate(ticket_id: UUID | str, user_id: int, rating: int, *, now: datetime) -> TicketInfo:
    """The opener rates a closed ticket 1-5 (again, to change their mind)."""
    if not 1 <= rating <= 5:
        raise ValidationError(_("A rating is from 1 to 5 stars."))
    updated = await Ticket.filter(id=ticket_id, user_id=user_id, status=TicketStatus.CLOSED).update(
        rating=rating, rated_at=now
    )
    if not updated:
        await _explain_rating_refusal(ticket_id, user_id)
    return await get_ticket(ticket_id)


async def comment_rating(
    ticket_id: UUID | str, user_id: int, comment: str | None, *, now: datetime
) -> TicketInfo:
    cleaned = (comment or "").strip()
    if len(cleaned) > MAX_COMMENT:
        raise ValidationError(
            _("The comment can be at most {count} characters long.").format(
                count=format_number(MAX_COMMENT)
            )
        )
    updated = await Ticket.filter(
        id=ticket_id, user_id=user_id, status=TicketStatus.CLOSED, rating__isnull=False
    ).update(rating_comment=cleaned or None, rated_at=now)
    if not updated:
        await _explain_rating_refusal(ticket_id, user_id)
        raise ConflictError(_("Choose a number of stars first."))
    return await get_ticket(ticket_id)


async def _explain_rating_refusal(ticket_id: UUID | str, user_id: int) -> None:
    ticket = await get_ticket(ticket_id)
    if ticket.user_id != user_id:
        raise PermissionDenied(_("Only the member who opened this ticket can rate it."))
    if ticket.status != TicketStatus.CLOSED:
        raise ConflictError(_("This ticket is open again: rate it once it is closed."))


async def stats(guild_id: int, *, staff_id: int | None = None) -> TicketStats:
    """Tickets opened and open now in the guild; then, for the guild's closed tickets (or the
    tickets `staff_id` handled: claimed, or closed while unclaimed), how many, their average
    rating and the median time to the first response."""
    opened = await Ticket.filter(guild_id=guild_id).count()
    open_now = await Ticket.filter(guild_id=guild_id).exclude(status=TicketStatus.CLOSED).count()
    if staff_id is None:
        handled = Ticket.filter(guild_id=guild_id, status=TicketStatus.CLOSED)
    else:
        handled = Ticket.filter(guild_id=guild_id).filter(
            Q(claimed_by_id=staff_id) | Q(claimed_by_id__isnull=True, closed_by_id=staff_id)
        )
    rows = await handled.values_list("rating", "created_at", "first_response_at")
    ratings = [rating for rating, _created, _first in rows if rating is not None]
    waits = [
        (first - created).total_seconds() for _rating, created, first in rows if first is not None
    ]
    return TicketStats(
        opened=opened,
        open_now=open_now,
        handled=len(rows),
        rated=len(ratings),
        average_rating=statistics.fmean(ratings) if ratings else None,
        median_first_response_seconds=statistics.median(waits) if waits else None,
    )
