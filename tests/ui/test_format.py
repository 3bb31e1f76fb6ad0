"""The shared formatting every feature renders with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from pegasus.ui.format import amount, clip, page_of, plural, timestamp, user_mentions


def test_timestamp_is_discord_markup_relative_by_default() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert timestamp(moment) == "<t:1767323045:R>"
    assert timestamp(moment, "f") == "<t:1767323045:f>"


def test_timestamp_is_the_same_instant_whatever_the_zone() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    elsewhere = moment.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert timestamp(elsewhere) == timestamp(moment)


def test_timestamp_drops_fractions_of_a_second() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC)
    assert timestamp(moment) == "<t:1767323045:R>"


def test_amount_has_thousands_separators() -> None:
    assert amount(0) == "0"
    assert amount(999) == "999"
    assert amount(1_234_567) == "1,234,567"
    assert amount(-12_000) == "-12,000"


def test_plural_chooses_the_word_by_count() -> None:
    assert plural(1, "day") == "1 day"
    assert plural(0, "day") == "0 days"
    assert plural(2_500, "entry", "entries") == "2,500 entries"
    assert plural(1, "person", "people") == "1 person"


def test_clip_leaves_short_text_alone() -> None:
    assert clip("hello", 5) == "hello"
    assert clip("") == ""


def test_clip_marks_what_it_cut() -> None:
    assert clip("hello!", 5) == "hell…"
    assert clip("x" * 2000) == "x" * 1023 + "…"


@given(st.text(), st.integers(min_value=1, max_value=5000))
def test_clip_never_exceeds_the_limit(text: str, limit: int) -> None:
    clipped = clip(text, limit)
    assert len(clipped) <= limit
    assert clipped == text or (clipped.endswith("…") and text.startswith(clipped[:-1]))


def test_user_mentions() -> None:
    assert user_mentions([1, 22]) == "<@1>, <@22>"
    assert user_mentions([1, 22], separator=" ") == "<@1> <@22>"
    assert user_mentions([]) == ""


def test_page_of() -> None:
    assert page_of(1, 1) == "Page 1 of 1"
    assert page_of(2, 1_500) == "Page 2 of 1,500"
