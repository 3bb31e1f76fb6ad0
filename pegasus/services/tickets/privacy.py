"""What tickets store about a member: the tickets they opened and the messages they wrote.

Nothing here is erased at a member's request: a ticket and every message written in it are the
server's record of that conversation (staff replies included), so an export shows them and an
erasure says they stay. The server's retention setting for ticket messages still applies.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from models.tickets import Ticket, TicketMessage
from pegasus.i18n import N_
from pegasus.services.privacy import Kept, PrivacyDeclaration, register


async def export_tickets(guild_id: int, user_id: int) -> dict[str, Any]:
    opened = await Ticket.filter(guild_id=guild_id, user_id=user_id).order_by("number").values(
        "number", "reason", "status", "created_at", "closed_at", "close_reason", "rating",
        "rating_comment", "rated_at",
    )
    messages = await (
        TicketMessage.filter(ticket__guild_id=guild_id, author_id=user_id)
        .order_by("created_at")
        .values(
            "ticket__number", "message_id", "author_name", "content", "attachments",
            "edit_history", "created_at", "edited_at", "deleted_at",
        )
    )
    staff = (
        Q(claimed_by_id=user_id)
        | Q(closed_by_id=user_id)
        | Q(locked_by_id=user_id)
        | Q(frozen_by_id=user_id)
    )
    handled = await Ticket.filter(staff, guild_id=guild_id).values_list("number", flat=True)
    added = [
        number
        for number, participants in await Ticket.filter(guild_id=guild_id).values_list(
            "number", "participant_ids"
        )
        if user_id in (participants or [])
    ]
    return {
        "tickets_you_opened": opened,
        "your_messages_in_tickets": messages,
        "tickets_you_were_added_to": sorted(added),
        "tickets_you_claimed_locked_froze_or_closed": sorted(handled),
    }


DECLARATION = register(
    PrivacyDeclaration(
        feature="tickets",
        explanation=N_(
            "The support tickets you opened (reason, rating and comment), every message you "
            "wrote in a ticket with its edits and files, and the tickets you were added to or "
            "handled as staff."
        ),
        covers=(
            (
                Ticket,
                ("user", "claimed_by", "closed_by", "locked_by", "frozen_by", "participant_ids"),
            ),
            (TicketMessage, ("author",)),
        ),
        export=export_tickets,
        kept=(
            Kept(
                N_("tickets you opened and messages written in tickets"),
                N_(
                    "the server's record of each conversation, until the server's retention "
                    "deletes old ones"
                ),
                ("tickets", "ticket_messages"),
            ),
        ),
    )
)
