"""HTML transcripts: complete, self-contained, and everything people wrote is escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from pegasus.services.tickets import (
    Transcript,
    TranscriptMessage,
    render_transcript,
    transcript_filename,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(page)
    return collector


def sample(**overrides: object) -> Transcript:
    values: dict[str, object] = {
        "guild_name": "Pegasus <Test>",
        "number": 7,
        "opener_name": "alice",
        "opened_at": T0,
        "status": "closed",
        "reason": "Billing & refunds",
        "claimed_by_name": "sam",
        "closed_by_name": "sam",
        "closed_at": T0 + timedelta(hours=2),
        "close_reason": "solved",
        "messages": (
            TranscriptMessage(
                author_name="Pegasus",
                author_is_bot=True,
                content="",
                created_at=T0,
                embeds=({"title": "Ticket #0007", "description": "Welcome <@11>"},),
            ),
            TranscriptMessage(
                author_name="alice",
                content="<script>alert(1)</script>\nsecond line",
                created_at=T0 + timedelta(minutes=1),
                attachments=(
                    {"name": "screen.png", "url": "https://cdn.example/screen.png"},
                    {"name": "evil", "url": "javascript:alert(1)"},
                ),
                edit_history=({"content": "first <i>draft</i>", "at": T0.isoformat()},),
                edited_at=T0 + timedelta(minutes=2),
            ),
            TranscriptMessage(
                author_name="bob",
                content="oops",
                created_at=T0 + timedelta(minutes=3),
                deleted_at=T0 + timedelta(minutes=4),
            ),
        ),
    }
    values.update(overrides)
    return Transcript(**values)  # type: ignore[arg-type]


def test_transcript_reads_well_and_escapes_everything() -> None:
    page = render_transcript(sample(), generated_at=T0 + timedelta(hours=3))
    parsed = parse(page)

    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Ticket #0007 — Pegasus &lt;Test&gt;</title>" in page
    assert "script" not in parsed.tags and "i" not in parsed.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "first &lt;i&gt;draft&lt;/i&gt;" in page
    # Only http(s) links are made; other schemes stay plain text.
    assert parsed.links == ["https://cdn.example/screen.png"]
    assert "evil" in "".join(parsed.text)
    text = "".join(parsed.text)
    for expected in (
        "Opened by",
        "alice",
        "Billing & refunds",
        "Claimed by",
        "solved",
        "Messages (3)",
        "Welcome <@11>",
        "edited Mar 1, 2026, 12:02:00\u202fPM UTC",
        "deleted Mar 1, 2026, 12:04:00\u202fPM UTC",
        "BOT",
        "Transcript generated Mar 1, 2026, 3:00:00\u202fPM UTC",
    ):
        assert expected in text, expected
    assert 'class="msg deleted"' in page
    # Self-contained: no external style sheets, scripts or images.
    assert "<link" not in page and "<img" not in page and "src=" not in page


def test_empty_transcript_and_times_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    page = render_transcript(
        sample(messages=(), opened_at=datetime(2026, 3, 1, 13, 0, tzinfo=paris), reason=None),
        generated_at=T0,
    )
    assert "No messages were written in this ticket." in page
    assert "Mar 1, 2026, 12:00:00\u202fPM UTC" in page
    assert "Reason" not in page  # empty rows are left out


def test_filename() -> None:
    assert transcript_filename(7) == "ticket-0007-transcript.html"
    assert transcript_filename(12345) == "ticket-12345-transcript.html"


@given(st.text(max_size=200), st.text(max_size=50))
def test_any_text_is_shown_exactly_and_never_becomes_markup(content: str, author: str) -> None:
    message = TranscriptMessage(author_name=author or "x", content=content, created_at=T0)
    page = render_transcript(sample(messages=(message,)), generated_at=T0)
    parsed = parse(page)
    # The only tags are the template's own, whatever people wrote.
    assert set(parsed.tags) <= {
        "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "table", "tr",
        "th", "td", "section", "div", "span", "footer",
    }  # fmt: skip
    if content:
        assert content in "".join(parsed.text)
