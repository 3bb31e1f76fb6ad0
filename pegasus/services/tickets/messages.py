"""Every message written in a ticket, kept after the channel is gone: edits and deletions too.

Events are handled concurrently and may arrive in any order (an edit before its message, a
deletion before either); every function here gives the same stored result in any order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.tickets import Ticket, TicketMessage
from pegasus.services.directory import ensure_user


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A Discord message as stored in `ticket_messages`."""

    message_id: int
    author_id: int
    author_name: str
    author_is_bot: bool
    content: str
    created_at: datetime
    attachments: Sequence[Mapping[str, str]] = ()  # {"name", "url"}
    embeds: Sequence[Mapping[str, str]] = ()  # {"title", "description"}


async def _store(
    ticket_id: UUID | str, record: MessageRecord, conn: BaseDBAsyncClient, **extra: Any
) -> None:
    """Insert unless stored already (gateway replays, or an edit or deletion that was handled
    before the message itself); note the ticket's first response."""
    await ensure_user(record.author_id, using_db=conn)
    await TicketMessage.bulk_create(
        [
            TicketMessage(
                ticket_id=ticket_id,
                message_id=record.message_id,
                author_id=record.author_id,
                author_name=record.author_name[:100],
                author_is_bot=record.author_is_bot,
                content=record.content,
                attachments=[dict(a) for a in record.attachments],
                embeds=[dict(e) for e in record.embeds],
                created_at=record.created_at,
                **extra,
            )
        ],
        ignore_conflicts=True,
        using_db=conn,
    )
    if not record.author_is_bot:
        await (
            Ticket.filter(id=ticket_id, first_response_at__isnull=True)
            .exclude(user_id=record.author_id)
            .using_db(conn)
            .update(first_response_at=record.created_at)
        )


async def record_message(ticket_id: UUID | str, record: MessageRecord) -> None:
    """Store a message written in a ticket. A repeat is ignored.

    The first message by someone other than the opener (and not a bot) is the first response.
    """
    async with in_transaction() as conn:
        await _store(ticket_id, record, conn)


async def record_edit(
    ticket_id: UUID | str,
    record: MessageRecord,
    *,
    previous_content: str | None,
    edited_at: datetime,
) -> None:
    """Store an edit, keeping the earlier text in the history.

    Events are handled concurrently, so the edit may be handled before the message it edits is
    stored, or the message may be stored already showing the edited text (Discord's client
    updates its cached message in place). So: `record` is the message after the edit,
    `previous_content` the text before it when known, and the result is the same in any order.
    """
    async with in_transaction() as conn:
        # Store the message if it is not stored yet; on PostgreSQL this waits for a concurrent
        # insert of the same message to commit, so the row exists below either way.
        first_history = _history_after([], previous_content, record.content, edited_at)
        await _store(ticket_id, record, conn, edit_history=first_history, edited_at=edited_at)
        stored = (
            await TicketMessage.filter(message_id=record.message_id)
            .select_for_update()
            .using_db(conn)
            .get()
        )
        before = previous_content if previous_content is not None else stored.content
        history = _history_after(stored.edit_history, before, record.content, edited_at)
        if history == stored.edit_history and stored.content == record.content:
            return  # not a text edit (e.g. a link preview appeared), or recorded already
        await (
            TicketMessage.filter(id=stored.id)
            .using_db(conn)
            .update(content=record.content, edited_at=edited_at, edit_history=history)
        )


def _history_after(
    history: list[dict[str, str]], before: str | None, after: str, edited_at: datetime
) -> list[dict[str, str]]:
    if before is None or before == after:
        return history
    if history and history[-1]["content"] == before:
        return history  # this edit is in the history already
    return [*history, {"content": before, "at": edited_at.isoformat()}]


async def record_deletions(
    ticket_id: UUID | str,
    message_ids: Sequence[int],
    *,
    deleted_at: datetime,
    known: Sequence[MessageRecord] = (),
) -> int:
    """Mark messages deleted (they stay in the transcript, struck through).

    `known` are the deleted messages as Discord's client still had them: stored first, so a
    deletion handled before its message was stored still leaves the message, marked deleted.
    """
    async with in_transaction() as conn:
        for record in known:
            await _store(ticket_id, record, conn)
        return await (
            TicketMessage.filter(message_id__in=list(message_ids), deleted_at__isnull=True)
            .using_db(conn)
            .update(deleted_at=deleted_at)
        )


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message of a ticket as kept: its text now, the earlier texts, and whether it is gone."""

    message_id: int
    author_id: int | None
    author_name: str
    author_is_bot: bool
    content: str
    created_at: datetime
    attachments: tuple[dict[str, str], ...]
    embeds: tuple[dict[str, str], ...]
    edit_history: tuple[dict[str, str], ...]  # {"content", "at"}: the text before each edit
    edited_at: datetime | None
    deleted_at: datetime | None

    @classmethod
    def from_row(cls, row: TicketMessage) -> StoredMessage:
        return cls(
            message_id=row.message_id,
            author_id=row.author_id,
            author_name=row.author_name,
            author_is_bot=row.author_is_bot,
            content=row.content,
            created_at=row.created_at,
            attachments=tuple(row.attachments),
            embeds=tuple(row.embeds),
            edit_history=tuple(row.edit_history),
            edited_at=row.edited_at,
            deleted_at=row.deleted_at,
        )


async def ticket_messages(ticket_id: UUID | str) -> list[StoredMessage]:
    rows = await TicketMessage.filter(ticket_id=ticket_id).order_by("created_at", "message_id")
    return [StoredMessage.from_row(row) for row in rows]
