"""What the attachment store keeps about a member: copies of the files attached to records that
name them (their ticket messages, and cases and warnings about them).

The copies are evidence of records the server keeps (see the tickets and moderation
declarations), so they stay with those records; the export lists them (name, size, SHA-256)
without their bytes, which `/case`, `/warning` and the ticket's transcript show.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from models.attachments import AttachmentBlob, KeptAttachment
from pegasus.i18n import N_
from pegasus.services.privacy import Kept, PrivacyDeclaration, register


async def export_attachments(guild_id: int, user_id: int) -> dict[str, Any]:
    theirs = (
        Q(ticket_message__author_id=user_id)
        | Q(case__user_id=user_id)
        | Q(warning__user_id=user_id)
    )
    files = await KeptAttachment.filter(theirs, guild_id=guild_id).values(
        "filename", "size", "content_type", "blob__sha256", "note", "source_url",
        "ticket_message__message_id", "case__case_number", "warning__warn_id", "created_at",
    )
    return {"files_kept_as_evidence": files}


DECLARATION = register(
    PrivacyDeclaration(
        feature="attachments",
        explanation=N_(
            "Copies of the files attached to your ticket messages and to cases and warnings "
            "about you, kept because Discord's links to them expire."
        ),
        covers=((KeptAttachment, ()), (AttachmentBlob, ())),
        export=export_attachments,
        kept=(
            Kept(
                N_("copies of files attached to kept tickets, cases and warnings"),
                N_("evidence for those records; they go when the records go"),
                ("kept_attachments", "attachment_blobs"),
            ),
        ),
    )
)
