"""Evidence in Discord: attachments handed to the attachment store, and its copies handed back as
files to upload and lines to read, since Discord's own links expire after about a day."""

from __future__ import annotations

import io
from collections.abc import Sequence

import discord
from discord.utils import escape_markdown

from pegasus.i18n import _
from pegasus.services.attachments import (
    AttachmentKeeper,
    AttachmentSource,
    KeptFile,
    megabytes,
    read_files,
)
from pegasus.ui.format import clip

__all__ = [
    "KeptUploads",
    "attachment_source",
    "kept_uploads",
    "proof_sources",
    "proof_text",
    "show_with_kept_proof",
]

# Discord lets a bot upload at least this much in one message in any server.
UPLOAD_LIMIT = 10 * 1024 * 1024
MAX_FILES_PER_MESSAGE = 10


def attachment_source(attachment: discord.Attachment) -> AttachmentSource:
    return AttachmentSource(
        url=attachment.url,
        filename=attachment.filename,
        size=attachment.size,
        content_type=attachment.content_type,
    )


def proof_sources(
    keeper: AttachmentKeeper, attachment: discord.Attachment | None, link: str | None
) -> list[AttachmentSource]:
    """What of a piece of proof to keep: an uploaded file always, a typed link only when it
    points at a file on Discord's file server (links elsewhere do not expire)."""
    sources = [attachment_source(attachment)] if attachment is not None else []
    if link and keeper.accepts(link):
        sources.append(AttachmentSource.from_link(link))
    return sources


class KeptUploads:
    """Kept copies to upload with a reply: the files, and which sources they are."""

    def __init__(self, files: list[discord.File], attached: set[str]) -> None:
        self.files = files
        self.attached = attached


async def kept_uploads(
    guild_id: int, kept: Sequence[KeptFile], *, limit: int = UPLOAD_LIMIT
) -> KeptUploads:
    """The kept copies among `kept` as files for one message, as many as fit in `limit` bytes
    (and Discord's 10 files); the rest are named by `proof_text` instead."""
    chosen: list[KeptFile] = []
    total = 0
    for file in kept:
        if file.sha256 is None or len(chosen) == MAX_FILES_PER_MESSAGE:
            continue
        size = file.size or 0
        if total + size <= limit:
            chosen.append(file)
            total += size
    data = await read_files(guild_id, {file.sha256 for file in chosen if file.sha256})
    files = [
        discord.File(io.BytesIO(data[file.sha256]), filename=file.filename)
        for file in chosen
        if file.sha256 in data
    ]
    attached = {file.source_url for file in chosen if file.sha256 in data}
    return KeptUploads(files, attached)


def proof_text(proof: Sequence[str], kept: Sequence[KeptFile], attached: set[str]) -> str:
    """One line per piece of proof: the kept copy when there is one (attached to this message,
    or why not), the reason when the store could not keep it, the link otherwise."""
    by_url = {file.source_url: file for file in kept}
    lines = []
    for item in proof:
        file = by_url.get(item)
        if file is None:
            lines.append(item)
            continue
        name = escape_markdown(file.filename)
        if item in attached:
            lines.append("📎 " + _("{file}: kept copy attached").format(file=name))
        elif file.sha256 is not None:
            size = f" ({megabytes(file.size)})" if file.size else ""
            lines.append(
                "📎 " + _("{file}: kept by Pegasus, too large to attach here").format(
                    file=name + size
                )
            )
        else:
            note = file.note or _("not kept")  # a stored note stays as written
            lines.append(f"{item}\n⚠️ {escape_markdown(note)}")
    return "\n".join(lines)


async def show_with_kept_proof(
    interaction: discord.Interaction,
    embed: discord.Embed,
    proof: Sequence[str],
    kept: Sequence[KeptFile],
) -> None:
    """Answer privately with `embed` (a case or a warning), its Proof field naming the kept
    copies, which are attached to the answer."""
    assert interaction.guild_id is not None
    limit = interaction.guild.filesize_limit if interaction.guild else UPLOAD_LIMIT
    uploads = await kept_uploads(interaction.guild_id, kept, limit=limit)
    for index, field in enumerate(embed.fields):
        if field.name in ("Proof", _("Proof")):
            text = clip(proof_text(proof, kept, uploads.attached))
            embed.set_field_at(index, name=field.name, value=text, inline=False)
    if not uploads.files:
        await interaction.response.send_message(embed=embed, ephemeral=True)
        return
    # Uploading may take longer than Discord waits for a first answer.
    await interaction.response.defer(ephemeral=True, thinking=True)
    await interaction.followup.send(embed=embed, files=uploads.files, ephemeral=True)
