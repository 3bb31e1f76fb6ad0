"""Ticket transcripts: one self-contained HTML page that reads well in any browser, offline.

Everything people wrote is escaped (a message saying `<script>` shows those characters), links are
only made from http(s) addresses, and the styles are inline, so the file can be mailed, archived or
opened from a DM without fetching anything. The page is built from the stored messages
(`build_transcript`), so it is the same whether the channel still exists or not.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .messages import ticket_messages
from .results import Actor, TicketInfo

DATE_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
SAFE_SCHEMES = ("https://", "http://")

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
footer{margin-top:20px;font-size:.8em;color:#8c959f}
"""


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


def transcript_filename(number: int) -> str:
    return f"ticket-{number:04d}-transcript.html"


def render_transcript(transcript: Transcript, *, generated_at: datetime) -> str:
    """The whole HTML document for `transcript`."""
    title = f"Ticket #{transcript.number:04d} — {transcript.guild_name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body><main>",
        f"<h1>{_esc(title)}</h1>",
        _render_meta(transcript),
        f"<section><h2>Messages ({len(transcript.messages)})</h2>",
    ]
    if not transcript.messages:
        parts.append('<p class="note">No messages were written in this ticket.</p>')
    parts.extend(_render_message(message) for message in transcript.messages)
    parts.append("</section>")
    parts.append(f"<footer>Transcript generated {_esc(_when(generated_at))}.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _render_meta(transcript: Transcript) -> str:
    rows = [
        ("Opened by", transcript.opener_name),
        ("Opened", _when(transcript.opened_at)),
        ("Reason", transcript.reason),
        ("Status", transcript.status.capitalize()),
        ("Claimed by", transcript.claimed_by_name),
        ("Closed by", transcript.closed_by_name),
        ("Closed", transcript.closed_at and _when(transcript.closed_at)),
        ("Close reason", transcript.close_reason),
    ]
    cells = "".join(
        f"<tr><th>{_esc(label)}</th><td>{_esc(value)}</td></tr>" for label, value in rows if value
    )
    return f'<table class="meta">{cells}</table>'


def _render_message(message: TranscriptMessage) -> str:
    badge = '<span class="bot">BOT</span>' if message.author_is_bot else ""
    notes = []
    if message.edited_at is not None:
        notes.append(f"edited {_when(message.edited_at)}")
    if message.deleted_at is not None:
        notes.append(f"deleted {_when(message.deleted_at)}")
    note = f' <span class="note">({_esc(", ".join(notes))})</span>' if notes else ""
    css = "msg deleted" if message.deleted_at is not None else "msg"
    body = [
        f'<div class="{css}"><div class="head"><span class="author">'
        f"{_esc(message.author_name)}</span>{badge} · {_esc(_when(message.created_at))}{note}</div>"
    ]
    if message.content:
        body.append(f'<div class="content">{_esc(message.content)}</div>')
    body.extend(_render_embed(embed) for embed in message.embeds)
    body.extend(_render_attachment(attachment) for attachment in message.attachments)
    if message.edit_history:
        earlier = "".join(
            f"<li>{_esc(entry.get('content', ''))}</li>" for entry in message.edit_history
        )
        body.append(f'<div class="history">Earlier versions:<ul>{earlier}</ul></div>')
    body.append("</div>")
    return "".join(body)


def _render_embed(embed: dict[str, str]) -> str:
    title = embed.get("title") or ""
    description = embed.get("description") or ""
    heading = f"<strong>{_esc(title)}</strong>\n" if title else ""
    return f'<div class="embed">{heading}{_esc(description)}</div>'


def _render_attachment(attachment: dict[str, str]) -> str:
    name = attachment.get("name") or "attachment"
    url = attachment.get("url") or ""
    if url.startswith(SAFE_SCHEMES):
        link = f'<a href="{_esc(url)}" rel="noopener noreferrer">{_esc(name)}</a>'
    else:
        link = _esc(name)
    return f'<div class="note">Attachment: {link}</div>'


def _when(moment: datetime) -> str:
    # Stored times are aware; a naive one is taken to be UTC already.
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(DATE_FORMAT)


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
) -> TranscriptFile:
    """The HTML transcript of `ticket` from its stored messages; `name_of` names user ids."""
    messages = await ticket_messages(ticket.id)
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
        closed_by_name=(name_of(closed_by) if closed_by else "automatic")
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
            )
            for m in messages
        ],
    )
    return TranscriptFile(
        html=render_transcript(transcript, generated_at=now),
        filename=transcript_filename(ticket.number),
        message_count=len(messages),
    )
