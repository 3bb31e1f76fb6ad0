"""The attachment store in the database: a file's bytes once per guild (by SHA-256), and one row
per attachment of a record (ticket message, case, warning) pointing at its copy, or saying why
there is none.

Every write for a guild takes that guild's row lock first, so the per-guild total is checked and
changed by one writer at a time, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Subquery
from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction
from yarl import URL

from models.attachments import AttachmentBlob, KeptAttachment
from models.guilds import Guild
from models.tickets import TicketMessage

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_GUILD_BYTES",
    "AttachmentLimits",
    "AttachmentSource",
    "EvidenceOwner",
    "KeptFile",
    "StoreUsage",
    "drop_unreferenced",
    "files_of_case",
    "files_of_ticket",
    "files_of_warning",
    "kept_sources",
    "megabytes",
    "read_files",
    "record_copy",
    "record_missing",
    "store_usage",
]

MEGABYTE = 1024 * 1024
# A file Discord lets anyone upload fits (10 MB, less what a re-upload must leave for the rest of
# the message), and so does a server's evidence for years at a few screenshots a day.
DEFAULT_MAX_FILE_BYTES = 8 * MEGABYTE
DEFAULT_MAX_GUILD_BYTES = 256 * MEGABYTE
FILENAME_LIMIT = 255


def megabytes(size: int) -> str:
    """`size` bytes for people: ``8 MB``, ``1.5 MB``, and below a megabyte ``300 KB``."""
    if size < MEGABYTE:
        return f"{max(1, round(size / 1024))} KB"
    value = size / MEGABYTE
    return f"{value:.0f} MB" if value == int(value) else f"{value:.1f} MB"


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    """How much the store keeps: of one file, and of one guild's files together."""

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_guild_bytes: int = DEFAULT_MAX_GUILD_BYTES


@dataclass(frozen=True, slots=True)
class AttachmentSource:
    """An attachment to keep: its link, name, and the size and type Discord declared if known."""

    url: str
    filename: str
    size: int | None = None
    content_type: str | None = None

    @classmethod
    def from_link(cls, url: str) -> AttachmentSource:
        """A link given by hand: its name is the last part of its path."""
        try:
            name = PurePosixPath(URL(url).path).name
        except (ValueError, TypeError):
            name = ""
        return cls(url=url, filename=name or "attachment")


@dataclass(frozen=True, slots=True)
class EvidenceOwner:
    """The record an attachment is evidence for: one of a ticket message (its Discord message
    id), a case (`Case.id`) or a warning (`WarningRecord.id`)."""

    ticket_message_id: int | None = None
    case_id: int | None = None
    warning_id: int | None = None

    def __post_init__(self) -> None:
        given = [self.ticket_message_id, self.case_id, self.warning_id]
        if sum(value is not None for value in given) != 1:
            problem = "an evidence owner is exactly one ticket message, case or warning"
            raise ValueError(problem)  # for developers


@dataclass(frozen=True, slots=True)
class KeptFile:
    """An attachment of a record as the store has it: a copy (`sha256`), or a `note` saying why
    only the link is kept."""

    source_url: str
    filename: str
    size: int | None
    content_type: str | None
    sha256: str | None
    note: str | None
    message_id: int | None = None  # the ticket message it belongs to, for a ticket's files

    @property
    def kept(self) -> bool:
        return self.sha256 is not None


@dataclass(frozen=True, slots=True)
class StoreUsage:
    """What a guild's files take in the store, and its limit."""

    files: int
    used_bytes: int
    max_bytes: int


FILE_COLUMNS = ("source_url", "filename", "size", "content_type", "blob__sha256", "note")


def _kept_file(row: dict[str, Any]) -> KeptFile:
    return KeptFile(
        source_url=row["source_url"],
        filename=row["filename"],
        size=row["size"],
        content_type=row["content_type"],
        sha256=row["blob__sha256"],
        note=row["note"],
        message_id=row.get("ticket_message__message_id"),
    )


async def _owner_columns(owner: EvidenceOwner, conn: BaseDBAsyncClient) -> dict[str, int] | None:
    """The foreign key of `owner` in `kept_attachments`; None when its record is not stored."""
    if owner.ticket_message_id is not None:
        row_id = await (
            TicketMessage.filter(message_id=owner.ticket_message_id)
            .using_db(conn)
            .first()
            .values_list("id", flat=True)
        )
        return None if row_id is None else {"ticket_message_id": int(row_id)}  # type: ignore[call-overload]
    if owner.case_id is not None:
        return {"case_id": owner.case_id}
    assert owner.warning_id is not None
    return {"warning_id": owner.warning_id}


async def kept_sources(guild_id: int, owner: EvidenceOwner) -> set[str]:
    """The links already recorded for `owner` (kept or noted), so a repeat is not kept twice."""
    async with in_transaction() as conn:
        columns = await _owner_columns(owner, conn)
        if columns is None:
            return set()
        urls = await (
            KeptAttachment.filter(guild_id=guild_id, **columns)
            .using_db(conn)
            .values_list("source_url", flat=True)
        )
    return {str(url) for url in urls}


async def _lock_guild(guild_id: int, conn: BaseDBAsyncClient) -> None:
    # A values query drops FOR UPDATE, so the row itself is fetched.
    await Guild.filter(id=guild_id).select_for_update().using_db(conn).first()


async def _guild_total(guild_id: int, conn: BaseDBAsyncClient) -> tuple[int, int]:
    rows = await (
        AttachmentBlob.filter(guild_id=guild_id)
        .using_db(conn)
        .annotate(total=Sum("size"), files=Count("id"))
        .values("total", "files")
    )
    if not rows:
        return 0, 0
    return int(rows[0]["files"] or 0), int(rows[0]["total"] or 0)


async def _drop_unreferenced(guild_id: int | None, conn: BaseDBAsyncClient) -> int:
    in_use = KeptAttachment.filter(blob_id__not_isnull=True).values("blob_id")
    orphans = AttachmentBlob.exclude(id__in=Subquery(in_use))
    if guild_id is not None:
        orphans = orphans.filter(guild_id=guild_id)
    return await orphans.using_db(conn).delete()


async def drop_unreferenced(guild_id: int | None = None) -> int:
    """Delete the copies no record refers to any more (their records were deleted, by retention
    or by hand), in one guild or in all; returns how many. Keeping a file does this too."""
    async with in_transaction() as conn:
        if guild_id is not None:
            await _lock_guild(guild_id, conn)
        return await _drop_unreferenced(guild_id, conn)


async def _insert_references(
    guild_id: int,
    source: AttachmentSource,
    owners: Sequence[EvidenceOwner],
    conn: BaseDBAsyncClient,
    *,
    blob_id: int | None,
    size: int | None,
    note: str | None,
) -> None:
    for owner in owners:
        columns = await _owner_columns(owner, conn)
        if columns is None:
            continue  # the record is gone (or never stored): nothing to attach the file to
        await KeptAttachment.create(
            guild_id=guild_id,
            blob_id=blob_id,
            source_url=source.url,
            filename=source.filename[:FILENAME_LIMIT] or "attachment",
            size=size,
            content_type=source.content_type,
            note=note,
            using_db=conn,
            **columns,
        )


def _store_full_note(
    source: AttachmentSource, size: int, limits: AttachmentLimits, used: int
) -> str:
    left = max(limits.max_guild_bytes - used, 0)
    return (
        f"{source.filename} ({megabytes(size)}) was not kept: this server's attachment store "
        f"holds {megabytes(limits.max_guild_bytes)} and has {megabytes(left)} left, so only "
        "Discord's link is kept, and it expires."
    )


async def record_copy(
    guild_id: int,
    source: AttachmentSource,
    data: bytes,
    owners: Sequence[EvidenceOwner],
    limits: AttachmentLimits,
) -> KeptFile:
    """Keep `data` as the copy of `source` for each of `owners`.

    The same bytes already kept in this guild are not stored again, and cost nothing. A new
    file that would take the guild over its limit is not stored: the records get a note instead.
    """
    digest = hashlib.sha256(data).hexdigest()
    async with in_transaction() as conn:
        await _lock_guild(guild_id, conn)
        blob_id = await (
            AttachmentBlob.filter(guild_id=guild_id, sha256=digest)
            .using_db(conn)
            .first()
            .values_list("id", flat=True)
        )
        note = None
        if blob_id is None:
            # Space freed by deleted records counts as free before the limit is checked.
            await _drop_unreferenced(guild_id, conn)
            _, used = await _guild_total(guild_id, conn)
            if used + len(data) > limits.max_guild_bytes:
                note = _store_full_note(source, len(data), limits, used)
            else:
                blob = await AttachmentBlob.create(
                    guild_id=guild_id,
                    sha256=digest,
                    size=len(data),
                    content_type=source.content_type,
                    data=data,
                    using_db=conn,
                )
                blob_id = blob.id
        await _insert_references(
            guild_id, source, owners, conn, blob_id=blob_id, size=len(data), note=note
        )
    return KeptFile(
        source_url=source.url,
        filename=source.filename,
        size=len(data),
        content_type=source.content_type,
        sha256=None if note else digest,
        note=note,
    )


async def record_missing(
    guild_id: int, source: AttachmentSource, owners: Sequence[EvidenceOwner], note: str
) -> KeptFile:
    """Record that `source` has no copy, and why (`note`), for each of `owners`."""
    async with in_transaction() as conn:
        await _insert_references(
            guild_id, source, owners, conn, blob_id=None, size=source.size, note=note
        )
    return KeptFile(
        source_url=source.url,
        filename=source.filename,
        size=source.size,
        content_type=source.content_type,
        sha256=None,
        note=note,
    )


async def files_of_case(guild_id: int, case_id: int) -> list[KeptFile]:
    """The attachments kept (or noted) for a case, in the order they were kept."""
    rows = await (
        KeptAttachment.filter(guild_id=guild_id, case_id=case_id)
        .order_by("id")
        .values(*FILE_COLUMNS)
    )
    return [_kept_file(row) for row in rows]


async def files_of_warning(guild_id: int, warning_id: int) -> list[KeptFile]:
    """The attachments kept (or noted) for a warning, in the order they were kept."""
    rows = await (
        KeptAttachment.filter(guild_id=guild_id, warning_id=warning_id)
        .order_by("id")
        .values(*FILE_COLUMNS)
    )
    return [_kept_file(row) for row in rows]


async def files_of_ticket(ticket_id: UUID | str) -> list[KeptFile]:
    """The attachments kept (or noted) for every message of a ticket; `message_id` says whose."""
    rows = await (
        KeptAttachment.filter(ticket_message__ticket_id=ticket_id)
        .order_by("id")
        .values(*FILE_COLUMNS, "ticket_message__message_id")
    )
    return [_kept_file(row) for row in rows]


async def read_files(guild_id: int, digests: Iterable[str]) -> dict[str, bytes]:
    """The bytes of the guild's kept files by SHA-256 (absent ones are left out)."""
    wanted = sorted(set(digests))
    if not wanted:
        return {}
    rows = await AttachmentBlob.filter(guild_id=guild_id, sha256__in=wanted).values_list(
        "sha256", "data"
    )
    return {str(digest): bytes(data) for digest, data in rows}


async def store_usage(guild_id: int, limits: AttachmentLimits) -> StoreUsage:
    """How many files the guild has in the store and how many bytes they take."""
    async with in_transaction() as conn:
        files, used = await _guild_total(guild_id, conn)
    return StoreUsage(files=files, used_bytes=used, max_bytes=limits.max_guild_bytes)
