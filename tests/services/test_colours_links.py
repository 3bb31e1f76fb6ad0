"""One grammar of colours and one check of links, whichever feature reads them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pegasus.errors import ValidationError
from pegasus.services import colours, community, levels, links, tickets


def _read(parse, text: str) -> int | str:  # type: ignore[no-untyped-def]
    try:
        return parse(text)
    except ValidationError:
        return "refused"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("#5865F2", 0x5865F2),
        ("5865f2", 0x5865F2),
        ("0x5865F2", 0x5865F2),
        ("#fff", 0xFFFFFF),
        (" Blue ", 0x3498DB),
        ("blurple", 0x5865F2),
    ],
)
def test_every_feature_reads_a_colour_the_same_way(text: str, value: int) -> None:
    assert colours.parse_colour(text) == value
    assert levels.parse_colour(text) == value
    assert community.parse_color(text) == value
    assert tickets.parse_color(text) == value


@pytest.mark.parametrize("text", ["bleu", "#12345", "#1234567", "rgb(1,2,3)", "", "#"])
def test_what_is_not_a_colour_is_refused_in_one_sentence(text: str) -> None:
    with pytest.raises(ValidationError, match="is not a colour: use a colour like #5865F2"):
        colours.parse_colour(text)


@given(st.one_of(st.text(max_size=12), st.sampled_from(sorted(colours.NAMED_COLOURS))))
def test_the_three_features_agree_on_any_text(text: str) -> None:
    expected = _read(colours.parse_colour, text)
    assert _read(levels.parse_colour, text) == expected
    assert _read(community.parse_color, text) == expected
    if text.strip():  # nothing typed is "no colour" for a panel
        assert _read(tickets.parse_color, text) == expected


def test_a_colour_is_shown_as_it_is_stored() -> None:
    assert colours.format_colour(colours.parse_colour("abc")) == "#AABBCC"


@pytest.mark.parametrize(
    "text", ["https://example.com/a.png", "  HTTPS://example.com/x  ", "https://[::1]/x"]
)
def test_https_links_are_accepted_trimmed(text: str) -> None:
    assert links.parse_https_link(text) == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://example.com/a.png", "must be a link starting with https://"),
        ("example.com", "must be a link starting with https://"),
        ("https://exa mple.com", "must be a link starting with https://"),
        ("https://", "is not a full https:// link"),
        ("https://[", "is not a full https:// link"),
        ("https://example.com/" + "a" * 1100, "at most 1,024 characters"),
    ],
)
def test_other_links_are_refused_in_one_sentence(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        links.parse_https_link(text, what="image link")
