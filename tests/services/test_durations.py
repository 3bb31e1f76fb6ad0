from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import LANGUAGES, _, use_locale
from pegasus.services.durations import (
    MAX_SECONDS,
    VARYING,
    accepted_forms,
    format_duration,
    parse_duration,
)
from pegasus.services.economy import SETTINGS as ECONOMY_SETTINGS


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
        # Babel's English units, as format_duration's neighbours in other languages are read.
        ("10 minutes", 600),
        ("2 hr", 7200),
        ("1 week 2 days", 777600),
    ],
)
def test_accepted_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-5m", "1.5h", "h", "10 minutez", "1min30", "1 h m"])
def test_rejected_forms_show_the_accepted_ones(text: str) -> None:
    with pytest.raises(ValidationError, match="30s, 10m, 2h, 2d, 1w or combinations such as"):
        parse_duration(text)


def test_limits() -> None:
    with pytest.raises(ValidationError, match="at most 4w"):
        parse_duration("29d", maximum=28 * 86400)
    with pytest.raises(ValidationError, match="at least 1m"):
        parse_duration("30s", minimum=60)


@given(st.integers(min_value=1, max_value=10 * 365 * 86400))
def test_format_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds).replace(" ", "")) == seconds


# ------------------------------------------------------------------------------ languages


def test_english_output_is_unchanged() -> None:
    assert [format_duration(s) for s in (0, 1, 90, 5400, 2 * 86400 + 3600, 17 * 86400 + 61)] == [
        "0s",
        "1s",
        "1m 30s",
        "1h 30m",
        "2d 1h",
        "2w 3d 1m 1s",
    ]


@pytest.mark.parametrize(
    ("locale", "shown"),
    [
        ("de", ["0 Sek.", "1h 30 Min.", "2 W 3 T 1 Min. 1 Sek."]),
        ("es", ["0s", "1h 30min", "2sem 3d 1min 1s"]),
        ("fr", ["0s", "1h 30min", "2sem. 3j 1min 1s"]),
    ],
)
def test_each_language_writes_babels_narrow_units(locale: str, shown: list[str]) -> None:
    with use_locale(locale):
        assert [format_duration(s) for s in (0, 5400, 17 * 86400 + 61)] == shown


@pytest.mark.parametrize(
    ("locale", "text", "seconds"),
    [
        ("de", "2 Std.", 7200),
        ("de", "2std", 7200),
        ("de", "90 Minuten", 5400),
        ("de", "1 Stunde 1 Sekunde", 3601),
        ("de", "1 Tag", 86400),
        ("de", "3 Tage 2 Wo.", 3 * 86400 + 2 * 604800),
        ("de", "1 W 2 T", 9 * 86400),
        ("es", "2 horas 5 minutos", 7500),
        ("es", "1 día", 86400),
        ("es", "3 sem.", 3 * 604800),
        ("es", "1 SEGUNDO", 1),
        ("fr", "1 semaine 2 jours", 9 * 86400),
        ("fr", "1\u202fh 30\xa0min", 5400),
        ("fr", "2 heures", 7200),
        ("fr", "45 secondes", 45),
    ],
)
def test_the_languages_own_units_are_read(locale: str, text: str, seconds: int) -> None:
    with use_locale(locale):
        assert parse_duration(text) == seconds


@pytest.mark.parametrize("locale", sorted(LANGUAGES))
def test_english_letters_are_read_in_every_language(locale: str) -> None:
    with use_locale(locale):
        assert parse_duration("1w 2d 3h 4m 5s") == 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "1 month"),
        ("en", "2y"),
        ("de", "1 Monat"),
        ("de", "2 Jahre"),
        ("es", "3 meses"),
        ("fr", "1 mois"),
        ("fr", "2 ans"),
    ],
)
def test_months_and_years_are_refused_by_name(locale: str, text: str) -> None:
    with use_locale(locale), pytest.raises(ValidationError) as refused:
        parse_duration(text)
    with use_locale(locale):
        expected = _(VARYING).format(text=shown_input(text), forms=accepted_forms())
    assert str(refused.value) == expected


def test_the_refusal_shows_the_readers_units() -> None:
    with use_locale("de"), pytest.raises(ValidationError) as refused:
        parse_duration("soon")
    assert "30 Sek., 10 Min., 2h, 2 T, 1 W" in str(refused.value)


def test_a_french_m_is_a_minute_not_a_month() -> None:
    with use_locale("fr"):
        assert parse_duration("3m") == 180
        assert parse_duration("3 min") == 180


@pytest.mark.parametrize("locale", sorted(LANGUAGES))
@settings(max_examples=200, deadline=None)
@given(seconds=st.integers(min_value=1, max_value=MAX_SECONDS))
def test_what_each_language_shows_reads_back(locale: str, seconds: int) -> None:
    with use_locale(locale):
        shown = format_duration(seconds)
        assert parse_duration(shown) == seconds
        assert parse_duration(shown.replace(" ", "")) == seconds
        assert parse_duration(shown.upper()) == seconds


@pytest.mark.parametrize(("locale", "zero"), [("en", "0s"), ("de", "0 Sek.")])
def test_a_duration_setting_is_shown_in_the_readers_units(locale: str, zero: str) -> None:
    cooldown = ECONOMY_SETTINGS["work_cooldown_seconds"]
    with use_locale(locale):
        assert cooldown.show(0) == zero
        assert parse_duration(zero, minimum=0) == 0
        assert parse_duration(cooldown.show(5400)) == 5400
