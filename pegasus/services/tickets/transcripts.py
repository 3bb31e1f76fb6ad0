"""Ticket transcripts: one self-contained HTML page that reads well in any browser, offline.

Everything people wrote is escaped (a message saying `<script>` shows those characters), links are
only made from http(s) addresses, and the styles are inline, so the file can be mailed, archived or
opened from a DM without fetching anything. The page is built from the stored messages
(`build_transcript`), so it is the same whether the channel still exists or not.

Attachments come from the attachment store, not from Discord's links (which expire): their bytes
are written into the page (images shown, other files as downloads), up to a budget that keeps the
page within what Discord lets the bot upload; a file beyond it, or one the store could not keep,
is named with the reason.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from models.guilds import Member, User
from pegasus.i18n import _, current_locale, for_guild, format_number, format_utc, pgettext
from pegasus.services.attachments import KeptFile, files_of_ticket, megabytes, read_files

from .messages import ticket_messages
from .results import Actor, TicketInfo

SAFE_SCHEMES = ("https://", "http://")
# Files written into a page: base64 makes them a third larger, and the page itself must stay
# under the 10 MB Discord lets a bot upload in any server.
DEFAULT_FILE_BUDGET = 6 * 1024 * 1024
# Shown inline; any other type (SVG, HTML...) is only offered as a download, never rendered.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

STYLE = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;background:#f6f7f9;
color:#1f2328;margin:0;padding:24px;line-height:1.45}
main{max-width:880px;margin:0 auto;background:#fff;border:1px solid #d8dee4;border-radius:8px;
padding:24px}
h1{font-size:1.4em;margin:0 0 12px}
table.meta{border-collapse:collapse;margin-bottom:20px}
table.meta th{text-align:left;padding:2px 16px 2px 0;color:#59636e;font-weight:600}
table.meta td{padding:2px 0}
.msg{border-top:1px solid #eef0f2;padding:10px 0}
.head{font-size:.9em;color:#59636e}
.author{font-weight:600;color:#1f2328}
.bot{background:#5865f2;color:#fff;border-radius:3px;font-size:.75em;padding:0 4px;margin-left:4px}
.content{white-space:pre-wrap;word-wrap:break-word;margin-top:2px}
.embed{border-left:4px solid #5865f2;background:#f6f7f9;padding:6px 10px;margin-top:6px;
white-space:pre-wrap}
.deleted .content{color:#8c959f;text-decoration:line-through}
.note{font-size:.8em;color:#8c959f}
.history{font-size:.85em;color:#59636e;margin:4px 0 0 12px}
.file{margin-top:6px}
.file img{display:block;max-width:100%;max-height:480px;margin-top:4px;border-radius:4px}
footer{margin-top:20px;font-size:.8em;color:#8c959f}
"""


@dataclass(frozen=True)
class AttachedCopy:
    """A message's attachment as the attachment store has it: `data` when the page includes the
    file; `note` when the store has no copy, and why."""

    source_url: str
    filename: str
    content_type: str | None = None
    size: int | None = None
    data: bytes | None = None
    note: str | None = None


@dataclass(frozen=True)
class TranscriptMessage:
    author_name: str
    content: str
    created_at: datetime
    author_is_bot: bool = False
    attachments: Sequence[dict[str, str]] = ()  # {"name", "url"}
    embeds: Sequence[dict[str, str]] = ()  # {"title", "description"}
    edit_history: Sequence[dict[str, str]] = ()  # {"content", "at"}: the text before each edit
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    copies: Sequence[AttachedCopy] = ()  # the store's copies of `attachments`, by source URL


@dataclass(frozen=True)
class Transcript:
    guild_name: str
    number: int
    opener_name: str
    opened_at: datetime
    status: str
    reason: str | None = None
    claimed_by_name: str | None = None
    closed_by_name: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    messages: Sequence[TranscriptMessage] = field(default_factory=tuple)
    file_budget: int = DEFAULT_FILE_BUDGET  # named when a kept file was left out for it


def transcript_filename(number: int) -> str:
    return f"ticket-{number:04d}-transcript.html"


def render_transcript(transcript: Transcript, *, generated_at: datetime) -> str:
    """The whole HTML document for `transcript`, in the current language."""
    title = _("Ticket {ticket} — {server}").format(
        ticket=f"#{transcript.number:04d}", server=transcript.guild_name
    )
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{current_locale()}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body><main>",
        f"<h1>{_esc(title)}</h1>",
        _render_meta(transcript),
        "<section><h2>{}</h2>".format(
            _esc(_("Messages ({count})").format(count=format_number(len(transcript.messages))))
        ),
    ]
    if not transcript.messages:
        parts.append(
            '<p class="note">{}</p>'.format(_esc(_("No messages were written in this ticket.")))
        )
    budget = transcript.file_budget
    parts.extend(_render_message(message, budget) for message in transcript.messages)
    parts.append("</section>")
    generated = _("Transcript generated {moment}.").format(moment=_when(generated_at))
    parts.append(f"<footer>{_esc(generated)}</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _render_meta(transcript: Transcript) -> str:
    rows = [
        (_("Opened by"), transcript.opener_name),
        (_("Opened"), _when(transcript.opened_at)),
        (_("Reason"), transcript.reason),
        (_("Status"), status_name(transcript.status)),
        (_("Claimed by"), transcript.claimed_by_name),
        (_("Closed by"), transcript.closed_by_name),
        (_("Closed"), transcript.closed_at and _when(transcript.closed_at)),
        (_("Close reason"), transcript.close_reason),
    ]
    cells = "".join(
        f"<tr><th>{_esc(label)}</th><td>{_esc(value)}</td></tr>" for label, value in rows if value
    )
    return f'<table class="meta">{cells}</table>'


def status_name(status: str) -> str:
    """A ticket's status (stored as `open`, `closed`...) as people read it."""
    names = {
        "open": pgettext("ticket status", "Open"),
        "claimed": pgettext("ticket status", "Claimed"),
        "locked": pgettext("ticket status", "Locked"),
        "frozen": pgettext("ticket status", "Frozen"),
        "closed": pgettext("ticket status", "Closed"),
    }
    return names.get(status, status.capitalize())


def _render_message(message: TranscriptMessage, file_budget: int) -> str:
    badge = '<span class="bot">BOT</span>' if message.author_is_bot else ""
    notes = []
    if message.edited_at is not None:
        notes.append(_("edited {moment}").format(moment=_when(message.edited_at)))
    if message.deleted_at is not None:
        notes.append(_("deleted {moment}").format(moment=_when(message.deleted_at)))
    note = f' <span class="note">({_esc(", ".join(notes))})</span>' if notes else ""
    css = "msg deleted" if message.deleted_at is not None else "msg"
    body = [
        f'<div class="{css}"><div class="head"><span class="author">'
        f"{_esc(message.author_name)}</span>{badge} · {_esc(_when(message.created_at))}{note}</div>"
    ]
    if message.content:
        body.append(f'<div class="content">{_esc(message.content)}</div>')
    body.extend(_render_embed(embed) for embed in message.embeds)
    copies = {copy.source_url: copy for copy in message.copies}
    body.extend(
        _render_attachment(attachment, copies.get(attachment.get("url") or ""), file_budget)
        for attachment in message.attachments
    )
    if message.edit_history:
        earlier = "".join(
            f"<li>{_esc(entry.get('content', ''))}</li>" for entry in message.edit_history
        )
        versions = _esc(_("Earlier versions:"))
        body.append(f'<div class="history">{versions}<ul>{earlier}</ul></div>')
    body.append("</div>")
    return "".join(body)


def _render_embed(embed: dict[str, str]) -> str:
    title = embed.get("title") or ""
    description = embed.get("description") or ""
    heading = f"<strong>{_esc(title)}</strong>\n" if title else ""
    return f'<div class="embed">{heading}{_esc(description)}</div>'


def _render_attachment(
    attachment: dict[str, str], copy: AttachedCopy | None, file_budget: int
) -> str:
    name = attachment.get("name") or _("attachment")
    url = attachment.get("url") or ""
    if copy is not None and copy.data is not None:
        return _render_included_file(name, copy, copy.data)
    if url.startswith(SAFE_SCHEMES):
        link = f'<a href="{_esc(url)}" rel="noopener noreferrer">{_esc(name)}</a>'
    else:
        link = _esc(name)
    attached = _esc(_("Attachment:"))
    if copy is None:
        return f'<div class="note">{attached} {link}</div>'
    if copy.note:
        return f'<div class="note">{attached} {link} ({_esc(copy.note)})</div>'
    if copy.size:
        why = _(
            "{size}, kept by Pegasus; not included here, as a transcript includes at most "
            "{budget} of files"
        ).format(size=megabytes(copy.size), budget=megabytes(file_budget))
    else:
        why = _(
            "kept by Pegasus; not included here, as a transcript includes at most {budget} of files"
        ).format(budget=megabytes(file_budget))
    return f'<div class="note">{attached} {link} ({_esc(why)})</div>'


def _render_included_file(name: str, copy: AttachedCopy, data: bytes) -> str:
    size = f" ({megabytes(len(data))})"
    attached = _esc(_("Attachment:"))
    encoded = base64.b64encode(data).decode("ascii")
    if copy.content_type in INLINE_IMAGE_TYPES:
        source = f"data:{copy.content_type};base64,{encoded}"
        return (
            f'<div class="file note">{attached} <a download="{_esc(name)}" href="{source}">'
            f'{_esc(name)}</a>{size}<img src="{source}" alt="{_esc(name)}"></div>'
        )
    # Offered as bytes to save, whatever type it claims, so the page never renders it.
    source = f"data:application/octet-stream;base64,{encoded}"
    return (
        f'<div class="file note">{attached} <a download="{_esc(name)}" href="{source}">'
        f"{_esc(name)}</a>{size}</div>"
    )


def _when(moment: datetime) -> str:
    # Written inside for_guild: in the server's language, to the second (messages follow closely).
    return format_utc(moment, seconds=True)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def can_read_transcript(ticket: TicketInfo, actor: Actor) -> bool:
    return actor.staff or actor.user_id == ticket.user_id


@dataclass(frozen=True, slots=True)
class TranscriptFile:
    html: str
    filename: str
    message_count: int


async def build_transcript(
    ticket: TicketInfo,
    *,
    guild_name: str,
    name_of: Callable[[int], str],
    now: datetime,
    file_budget: int = DEFAULT_FILE_BUDGET,
) -> TranscriptFile:
    """The HTML transcript of `ticket` from its stored messages; `name_of` names user ids.
    Written for the whole server: in the server's language.

    The kept copies of the attachments are written into the page, in the order of the
    messages, as long as their bytes together stay within `file_budget`.
    """
    messages = await ticket_messages(ticket.id)
    copies = await _attached_copies(ticket, file_budget)
    with for_guild(ticket.guild_id):
        claimed_by = ticket.claimed_by_id
        closed_by = ticket.closed_by_id
        transcript = Transcript(
            guild_name=guild_name,
            number=ticket.number,
            opener_name=name_of(ticket.user_id),
            opened_at=ticket.created_at,
            status=str(ticket.status),
            reason=ticket.reason,
            claimed_by_name=name_of(claimed_by) if claimed_by else None,
            closed_by_name=(name_of(closed_by) if closed_by else _("automatic"))
            if ticket.closed_at
            else None,
            closed_at=ticket.closed_at,
            close_reason=ticket.close_reason,
            messages=[
                TranscriptMessage(
                    author_name=m.author_name,
                    author_is_bot=m.author_is_bot,
                    content=m.content,
                    created_at=m.created_at,
                    attachments=m.attachments,
                    embeds=m.embeds,
                    edit_history=m.edit_history,
                    edited_at=m.edited_at,
                    deleted_at=m.deleted_at,
                    copies=copies.get(m.message_id, ()),
                )
                for m in messages
            ],
            file_budget=file_budget,
        )
        page = render_transcript(transcript, generated_at=now)
    return TranscriptFile(
        html=page,
        filename=transcript_filename(ticket.number),
        message_count=len(messages),
    )


async def _attached_copies(
    ticket: TicketInfo, file_budget: int
) -> dict[int, tuple[AttachedCopy, ...]]:
    """The store's copies of the ticket's attachments by message id, with the bytes of those
    that fit in `file_budget` (taken in the order they were kept, which is the messages'; a file
    shown twice is written twice, so it counts twice)."""
    kept = await files_of_ticket(ticket.id)
    included: list[bool] = []
    spent = 0
    for file in kept:
        fits = file.sha256 is not None and spent + (file.size or 0) <= file_budget
        spent += (file.size or 0) if fits else 0
        included.append(fits)
    digests = {
        file.sha256 for file, fits in zip(kept, included, strict=True) if file.sha256 and fits
    }
    data = await read_files(ticket.guild_id, digests)
    by_message: dict[int, list[AttachedCopy]] = {}
    for file, fits in zip(kept, included, strict=True):
        if file.message_id is not None:
            copy = _copy_of(file, data.get(file.sha256 or "") if fits else None)
            by_message.setdefault(file.message_id, []).append(copy)
    return {message_id: tuple(found) for message_id, found in by_message.items()}


def _copy_of(file: KeptFile, data: bytes | None) -> AttachedCopy:
    return AttachedCopy(
        source_url=file.source_url,
        filename=file.filename,
        content_type=file.content_type,
        size=file.size,
        data=data,
        note=file.note,
    )


async def stored_transcript(
    ticket: TicketInfo, *, guild_name: str, now: datetime
) -> TranscriptFile:
    """`build_transcript` with people named as the bot last saw them (their nickname in the
    server, else their name): for adapters without Discord's member list, such as the API."""
    names = await stored_names(
        ticket.guild_id, [ticket.user_id, ticket.claimed_by_id, ticket.closed_by_id]
    )
    return await build_transcript(
        ticket,
        guild_name=guild_name,
        name_of=lambda user_id: names.get(user_id) or _("User {id}").format(id=user_id),
        now=now,
    )


async def stored_names(guild_id: int, user_ids: Sequence[int | None]) -> dict[int, str]:
    """`Nickname (name)` or `name` of each known user, from the stored directory."""
    wanted = {user_id for user_id in user_ids if user_id}
    users = await User.filter(id__in=wanted).values_list("id", "global_name", "username")
    nicknames = dict(
        await Member.filter(
            guild_id=guild_id, user_id__in=wanted, nickname__not_isnull=True
        ).values_list("user_id", "nickname")
    )
    names: dict[int, str] = {}
    for user_id, global_name, username in users:
        name = global_name or username
        nickname = nicknames.get(user_id)
        if nickname and name:
            names[user_id] = f"{nickname} ({name})"
        elif nickname or name:
            names[user_id] = nickname or name
    return names
