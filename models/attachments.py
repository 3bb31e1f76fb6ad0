"""The attachment store: copies of files kept as evidence (ticket messages, warning and case
proof), because Discord's attachment links are signed and stop working after about a day.

A file's bytes are kept once per guild (`attachment_blobs`, unique by SHA-256), however many
records refer to it; `kept_attachments` has one row per attachment of a record, with the copy it
points to, or the note saying why there is none (over a limit, not downloadable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.guilds import Guild
    from models.moderation import MemberWarning, ModCase
    from models.tickets import TicketMessage


class AttachmentBlob(Model):
    """The bytes of one file, once per guild: the same file kept twice is stored once."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="attachment_blobs", on_delete=fields.CASCADE
    )
    sha256 = fields.CharField(max_length=64)  # lower-case hex of the bytes
    size = fields.BigIntField()  # bytes
    content_type = fields.CharField(max_length=255, null=True)
    data = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)

    if TYPE_CHECKING:
        guild_id: int

    class Meta:
        table = "attachment_blobs"
        unique_together = (("guild", "sha256"),)

    def __str__(self) -> str:
        return f"Attachment {self.sha256[:12]} ({self.size} bytes) in guild {self.guild_id}"


class KeptAttachment(Model):
    """One attachment of one record (a ticket message, a case or a warning): the link it came
    from, its name, and the kept copy, or a note saying why the link alone is kept."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="kept_attachments", on_delete=fields.CASCADE, db_index=True
    )
    blob: fields.ForeignKeyNullableRelation[AttachmentBlob] = fields.ForeignKeyField(
        "models.AttachmentBlob",
        related_name="references",
        on_delete=fields.CASCADE,
        null=True,
        db_index=True,
    )
    # The record it is evidence for: exactly one of these is set, and deleting the record
    # deletes this row (a copy no row refers to is then dropped by the store).
    ticket_message: fields.ForeignKeyNullableRelation[TicketMessage] = fields.ForeignKeyField(
        "models.TicketMessage",
        related_name="kept_attachments",
        on_delete=fields.CASCADE,
        null=True,
        db_index=True,
    )
    case: fields.ForeignKeyNullableRelation[ModCase] = fields.ForeignKeyField(
        "models.ModCase",
        related_name="kept_attachments",
        on_delete=fields.CASCADE,
        null=True,
        db_index=True,
    )
    warning: fields.ForeignKeyNullableRelation[MemberWarning] = fields.ForeignKeyField(
        "models.MemberWarning",
        related_name="kept_attachments",
        on_delete=fields.CASCADE,
        null=True,
        db_index=True,
    )
    source_url = fields.TextField()  # the link as the record stores it
    filename = fields.CharField(max_length=255)
    size = fields.BigIntField(null=True)  # bytes, as Discord declared them or as downloaded
    content_type = fields.CharField(max_length=255, null=True)
    note = fields.TextField(null=True)  # why there is no copy; null when `blob` is set
    created_at = fields.DatetimeField(auto_now_add=True)

    if TYPE_CHECKING:
        guild_id: int
        blob_id: int | None
        ticket_message_id: int | None
        case_id: int | None
        warning_id: int | None

    class Meta:
        table = "kept_attachments"

    def __str__(self) -> str:
        kept = "kept" if self.blob_id is not None else "not kept"
        return f"{self.filename} ({kept}) in guild {self.guild_id}"
