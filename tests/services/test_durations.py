from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pegasus.errors import ValidationError
from pegasus.services.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("7d", 604800),
        ("1w", 604800),
        ("1h30m", 5400),
        ("1H 30M", 5400),
        ("90", 90),
        (" 2d 4h ", 187200),
    ],
)
def test_accepted_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "1y", "-5m", "1.5h", "h", "10 minutes"])
def test_rejected_forms_show_the_accepted_ones(text: str) -> None:
    with pytest.raises(ValidationError, match="30s, 10m"):
        parse_duration(text)


def test_limits() -> None:
    with pytest.raises(ValidationError, match="at most 4w"):
        parse_duration("29d", maximum=28 * 86400)
    with pytest.raises(ValidationError, match="at least 1m"):
        parse_duration("30s", minimum=60)


@given(st.integers(min_value=1, max_value=10 * 365 * 86400))
def test_format_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds).replace(" ", "")) == seconds
