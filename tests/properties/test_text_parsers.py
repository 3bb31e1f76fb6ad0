"""Property tests of every pure parser and validator of what a person types.

For arbitrary text: either a value comes back, or a PegasusError with a one-line, non-empty,
deliverable message (`refusals.check_refusal`); never another exception. Valid input round-trips.
"""

from __future__ import annotations

import re
from fractions import Fraction
from random import Random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cogs.moderation.blacklist import parse_target_id
from models.ids import ALPHABET, PUBLIC_ID_MAX_LENGTH, new_public_id, normalize_public_id
from pegasus.errors import NotFoundError, PegasusError, ValidationError
from pegasus.services import (
    community,
    economy,
    ids,
    levels,
    moderation,
    security,
    tickets,
)
from pegasus.services.durations import MAX_SECONDS, format_duration, parse_duration

from .refusals import DISCORD_CONTENT_LIMIT, outcome

FAST = settings(max_examples=100, deadline=None)

# Text as people type it: any characters, plus text built from the characters parsers care about.
any_text = st.text(max_size=300)
parser_text = st.text(alphabet="0123456789 ,._-kmbswhdall#xfF{}\n\t`²٣", max_size=40)
texts = st.one_of(any_text, parser_text)


# ------------------------------------------------------------------------------- durations


@FAST
@given(texts)
@example("9" * 5000 + "s")  # more digits than int() converts by default
@example("²")  # a digit to str.isdigit() but not to int()
@example("1h\n30m`")
def test_parse_duration_returns_seconds_or_refuses(text: str) -> None:
    result = outcome(parse_duration, text)
    if not isinstance(result, PegasusError):
        assert MAX_SECONDS >= result >= 1


@FAST
@given(st.integers(min_value=1, max_value=MAX_SECONDS))
def test_format_duration_round_trips(seconds: int) -> None:
    shown = format_duration(seconds)
    assert parse_duration(shown) == seconds
    assert parse_duration(shown.replace(" ", "")) == seconds


# ------------------------------------------------------------------------------- money


@FAST
@given(texts, st.booleans())
@example("9" * 5000, True)
@example("1" + "0" * 4400 + "k", False)
@example("a\nb", True)
def test_parse_amount_returns_an_amount_or_refuses(text: str, allow_all: bool) -> None:
    result = outcome(economy.parse_amount, text, allow_all=allow_all)
    if isinstance(result, PegasusError):
        return
    if result == economy.ALL:
        assert allow_all
    else:
        assert isinstance(result, int) and 1 <= result <= economy.MAX_BALANCE


@FAST
@given(st.integers(min_value=1, max_value=economy.MAX_BALANCE))
def test_amounts_round_trip_with_and_without_separators(value: int) -> None:
    assert economy.parse_amount(str(value)) == value
    assert economy.parse_amount(f"{value:,}") == value
    assert economy.parse_amount(f" {value:_} ", allow_all=False) == value
    assert economy.parse_amount(f"{value:,}".replace(",", " ")) == value


# Text shaped like an amount, with separators and decimals anywhere: where ambiguity lives.
amount_like = st.from_regex(
    r"\A[0-9]{1,4}([,_ ][0-9]{1,4}){0,3}(\.[0-9]{1,11})? ?[kmbKMB]?\Z", fullmatch=True
)
_SEPARATOR = re.compile(r"(?<=[0-9])[,_ ](?=[0-9])")


def one_reading(text: str) -> Fraction:
    """What `text` says when its separators are read as thousands separators."""
    number, suffix = re.fullmatch(r"\s*([0-9,_ .]+?) ?([kmb]?)\s*", text.lower()).groups()  # type: ignore[union-attr]
    return Fraction(_SEPARATOR.sub("", number)) * {"": 1, "k": 10**3, "m": 10**6, "b": 10**9}[
        suffix
    ]


@FAST
@given(amount_like)
@example("1,0,0")  # 100 only if the commas are ignored
@example("10,00")
@example("1,5k")  # 1.5k to many readers
@example("0,001")
@example("1.000")  # one coin, or a thousand where the point separates thousands
@example("0.0001b")  # a slip as likely as 100,000
@example("1.2345m")
def test_an_accepted_amount_has_one_reading(text: str) -> None:
    """Separators only between groups of three, a point only before a suffix and with at most
    three decimals after it, and the amount is exactly what the text says."""
    result = outcome(economy.parse_amount, text)
    if isinstance(result, PegasusError):
        assert isinstance(result, ValidationError)
        return
    number = re.sub(r" ?[kmb]$", "", text.strip().lower())
    whole, _, fraction = number.partition(".")
    groups = re.split(r"[,_ ]", whole)
    assert groups[0], "no digits before a separator"
    assert len(groups) == 1 or len(groups[0]) <= 3, "a first group longer than three"
    assert all(len(group) == 3 for group in groups[1:]), "separators not between threes"
    assert len({sep for sep in whole if not sep.isdigit()}) <= 1, "two kinds of separators"
    if fraction:
        assert number != text.strip().lower(), "a point without a suffix"
        assert len(fraction.rstrip("0")) <= 3, "more than three decimals after a suffix"
    assert result == one_reading(text)


def is_one_sentence(message: str) -> bool:
    # What the member typed is shown in a code span: a "? A" inside it ends no sentence.
    prose = re.sub(r"`[^`]*`", "`…`", message)
    return prose.endswith(".") and not re.search(r"[.!?] [A-Z]", prose)


@FAST
@given(st.one_of(amount_like, texts), st.booleans())
@example("abc", True)
def test_a_refused_amount_says_why_in_one_sentence(text: str, allow_all: bool) -> None:
    result = outcome(economy.parse_amount, text, allow_all=allow_all)
    if isinstance(result, PegasusError):
        assert is_one_sentence(str(result)), str(result)


@FAST
@given(st.integers(min_value=1, max_value=999_999), st.sampled_from(["k", "m"]))
def test_suffixed_amounts_round_trip(value: int, suffix: str) -> None:
    scale = {"k": 1000, "m": 1_000_000}[suffix]
    whole, fraction = divmod(value, 1000)
    text = f"{whole}.{fraction:03d}{suffix}" if whole else f"0.{fraction:03d}{suffix}"
    assert economy.parse_amount(text) == value * scale // 1000


@FAST
@given(st.integers())
def test_integer_amounts_are_in_range_or_refused(value: int) -> None:
    result = outcome(economy.validate_amount, value)
    assert isinstance(result, PegasusError) == (not 1 <= value <= economy.MAX_BALANCE)


# ------------------------------------------------------------------------------- gambling


@FAST
@given(texts)
@example("²")
@example("0" * 5000 + "7")
def test_roulette_space_is_a_known_space_or_refused(text: str) -> None:
    result = outcome(economy.parse_roulette_space, text)
    if isinstance(result, PegasusError):
        return
    assert result in {str(n) for n in range(37)} | {
        "red",
        "black",
        "odd",
        "even",
        "low",
        "high",
        "1st",
        "2nd",
        "3rd",
    }
    # Whatever was accepted can be settled for every number the wheel shows.
    for number in range(37):
        economy.roulette_wins(result, number)


@FAST
@given(st.integers(min_value=0, max_value=36))
def test_roulette_numbers_round_trip(number: int) -> None:
    assert economy.parse_roulette_space(f" {number} ") == str(number)


# ------------------------------------------------------------------------------- templates


@FAST
@given(texts, st.integers(min_value=1, max_value=community.MAX_MESSAGE_LENGTH))
@example("{" + "a\n" * 890 + "}", community.MAX_MESSAGE_LENGTH)
@example("{a\nb}{c}{d}{e}{f}{g}", 100)
def test_greeting_template_is_checked_or_refused(text: str, limit: int) -> None:
    result = outcome(community.validate_template, text, limit=limit)
    if not isinstance(result, PegasusError):
        assert result == text.strip() and 1 <= len(result) <= limit


longest_facts = community.MemberFacts(
    user_id=2**63 - 1,
    mention=f"<@{2**63 - 1}>",  # how Discord mentions the longest id
    username="n" * 32,
    server="s" * 100,
    member_count=10**9,
)
placeholder_heavy = st.lists(
    st.sampled_from(["{user}", "{username}", "{server}", "{member_count}", "hi ", "{", "}"]),
    max_size=400,
).map("".join)


@FAST
@given(placeholder_heavy)
@example("{server}" * 225)
def test_accepted_greeting_fits_in_a_discord_message(text: str) -> None:
    """A template the bot accepts must still be sendable once the longest names are filled in,
    otherwise the welcome is lost when Discord refuses it."""
    accepted = outcome(community.validate_template, text)
    if isinstance(accepted, PegasusError):
        return
    assert len(community.render_template(accepted, longest_facts)) <= DISCORD_CONTENT_LIMIT


@FAST
@given(placeholder_heavy)
@example("{server}" * 125)
def test_accepted_level_up_message_fits_in_a_discord_message(text: str) -> None:
    accepted = outcome(levels.validate_template, text)
    if isinstance(accepted, PegasusError):
        return
    rendered = levels.render_level_up(
        accepted, user=f"<@{2**63 - 1}>", level=10**6, server="s" * 100
    )
    assert len(rendered) <= DISCORD_CONTENT_LIMIT


@FAST
@given(texts)
def test_level_up_template_is_checked_or_refused(text: str) -> None:
    result = outcome(levels.validate_template, text)
    if not isinstance(result, PegasusError):
        assert result == text.strip() and result


@FAST
@given(texts)
@example("member_join " + "x" * 5000)  # a long word is not echoed whole
@example(",")  # separators only: no event, which set_logging refuses
def test_log_events_parse_or_refuse(text: str) -> None:
    result = outcome(community.parse_log_events, text)
    if not isinstance(result, PegasusError):
        assert len(set(result)) == len(result)
        if not result:
            assert re.fullmatch(r"[\s,;]+", text)


@FAST
@given(st.lists(st.sampled_from(list(community.LogEvent)), min_size=1, unique=True))
def test_log_events_round_trip(events: list[community.LogEvent]) -> None:
    assert community.parse_log_events(", ".join(e.value for e in events)) == events


# ------------------------------------------------------------------------------- colours, urls


@FAST
@given(texts)
@example("#12345\n6")
def test_greeting_colour_parses_or_refuses(text: str) -> None:
    result = outcome(community.parse_color, text)
    if not isinstance(result, PegasusError):
        assert 0 <= result <= 0xFFFFFF


@FAST
@given(st.integers(min_value=0, max_value=0xFFFFFF), st.sampled_from(["#", "0x", ""]))
def test_greeting_colour_round_trips(value: int, prefix: str) -> None:
    assert community.parse_color(f"{prefix}{value:06x}") == value
    assert community.parse_color(f"{prefix}{value:06X}") == value


@FAST
@given(texts, st.sampled_from(["image", "thumbnail"]))
@example("https://a\nb", "image")
def test_greeting_url_is_checked_or_refused(text: str, what: str) -> None:
    result = outcome(community.validate_url, text, what=what)
    if not isinstance(result, PegasusError):
        assert result.startswith(("https://", "http://"))
        assert not any(ch.isspace() for ch in result), "a link with white space in it"


@FAST
@given(texts)
@example("#fff\n")
@example("x" * 5000)
def test_rank_card_colour_parses_or_refuses(text: str) -> None:
    result = outcome(levels.parse_colour, text)
    if not isinstance(result, PegasusError):
        assert 0 <= result <= 0xFFFFFF


@FAST
@given(st.integers(min_value=0, max_value=0xFFFFFF))
def test_rank_card_colour_round_trips(value: int) -> None:
    assert levels.parse_colour(levels.format_colour(value)) == value
    assert levels.parse_background(levels.format_colour(value).lower()) == levels.format_colour(
        value
    )


url_like = st.builds(
    lambda scheme, rest: scheme + rest,
    st.sampled_from(["https://", "HTTPS://", "http://", ""]),
    st.text(alphabet="ab.c:/[]@%?#0123456789 \n", max_size=40),
)


@FAST
@given(st.one_of(texts, url_like))
@example("https://[")
@example("https://a]b/")
@example("https://a b/c.png")
def test_rank_card_background_parses_or_refuses(text: str) -> None:
    result = outcome(levels.parse_background, text)
    if isinstance(result, PegasusError):
        return
    if result.startswith("#"):
        assert re.fullmatch(r"#[0-9A-F]{6}", result)
    else:
        assert result.lower().startswith("https://")
        assert not any(ch.isspace() for ch in result), "a link with white space in it"


# ------------------------------------------------------------------------------- ids, scopes, names


@FAST
@given(texts)
def test_normalize_public_id_is_idempotent_and_total(text: str) -> None:
    once = normalize_public_id(text)
    assert normalize_public_id(once) == once


@FAST
@given(
    st.text(alphabet="ABCDEFGHJKMNPQRSTWXYZ", min_size=1, max_size=4),
    st.randoms(use_true_random=False),
    st.sampled_from(["{}", " {} ", "{}\n"]),
)
def test_public_ids_round_trip_as_people_type_them(prefix: str, rng: Random, shape: str) -> None:
    public_id = new_public_id(prefix, rng=rng)
    assert set(public_id.split("-", 1)[1]) <= set(ALPHABET)
    typed = shape.format(public_id.lower().replace("-", rng.choice(["-", " ", "_"])))
    assert normalize_public_id(typed) == public_id


PUBLIC_ID_KINDS = [ids.WARNING, ids.GIVEAWAY, ids.TICKET_PANEL, ids.AUTOMATION, ids.INCIDENT]
# Text shaped like a public id, with what goes wrong when one is typed: too long, stray
# characters, a NUL (which PostgreSQL refuses in text), line breaks, backticks.
public_id_like = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["W-", "g ", "TP_", "a-", "I-", ""]),
    st.text(alphabet=ALPHABET + "01ilouv -_\x00\n`é", max_size=60),
)


@FAST
@given(st.sampled_from(PUBLIC_ID_KINDS), st.one_of(texts, public_id_like))
@example(ids.WARNING, "W-" + "Z" * 40)  # longer than the column
@example(ids.GIVEAWAY, "G-ZZ\x00ZZ")
@example(ids.TICKET_PANEL, "TP-ZZZZZ\nsecond line")
def test_a_typed_public_id_is_storable_or_not_found(kind: ids.PublicIdKind, text: str) -> None:
    """Whatever is typed, the parser hands the query an id its column can hold, or says the id
    does not exist (in one sentence, the id shown shortened)."""
    result = outcome(kind.parse, text)
    if isinstance(result, PegasusError):
        assert isinstance(result, NotFoundError)
        assert str(result).startswith("There is no ") and is_one_sentence(str(result))
        assert len(str(result)) <= 100
        return
    assert len(result) <= PUBLIC_ID_MAX_LENGTH
    assert re.fullmatch(r"[A-Z]{1,4}-[0-9A-Z]+", result)
    assert result == normalize_public_id(text)


@FAST
@given(
    st.sampled_from(PUBLIC_ID_KINDS),
    st.text(alphabet="ABCDEFGHJKMNPQRSTWXYZ", min_size=1, max_size=4),
    st.randoms(use_true_random=False),
)
def test_every_public_id_the_bot_makes_is_found_as_typed(
    kind: ids.PublicIdKind, prefix: str, rng: Random
) -> None:
    public_id = new_public_id(prefix, rng=rng)
    typed = f" {public_id.lower().replace('-', rng.choice(['-', ' ', '_']))} "
    assert kind.parse(typed) == public_id


snowflake_like = st.one_of(
    texts,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=0, max_value=2**66).map(lambda n: f" {n:025d} "),
)


@FAST
@given(snowflake_like)
@example(str(2**64))
@example(str(2**63))
@example("0")
@example("²")  # a digit to str.isdigit() but not to int()
@example("٣")
@example("9" * 5000)
def test_a_typed_discord_id_is_in_range_or_refused(text: str) -> None:
    result = outcome(ids.parse_snowflake, text, what="a role or channel id")
    if isinstance(result, PegasusError):
        assert isinstance(result, ValidationError) and is_one_sentence(str(result))
        return
    assert 0 < result <= ids.MAX_SNOWFLAKE
    assert result == int(text.strip())


@FAST
@given(st.integers(min_value=-(2**70), max_value=2**70))
@example(0)
@example(2**63 - 1)
@example(2**63)
def test_a_discord_id_number_is_in_range_or_refused(value: int) -> None:
    result = outcome(ids.check_snowflake, value, what="a user id")
    assert isinstance(result, PegasusError) == (not 1 <= value <= ids.MAX_SNOWFLAKE)


@FAST
@given(
    st.one_of(
        snowflake_like,
        st.builds(
            str.format,
            st.sampled_from(["<@{}>", "<@!{}>", "<@&{}>", "<#{}>", " {} "]),
            st.integers(min_value=0, max_value=2**70),
        ),
    )
)
@example(f"<@{2**64}>")
@example("0" * 20)
@example("alice\nbob")
def test_a_blacklist_target_is_a_discord_id_or_refused(text: str) -> None:
    result = outcome(parse_target_id, text)
    if isinstance(result, PegasusError):
        assert is_one_sentence(str(result)), str(result)
        return
    assert 0 < result <= ids.MAX_SNOWFLAKE


@FAST
@given(
    st.sampled_from([ids.CASE_NUMBER, ids.TICKET_NUMBER]),
    st.integers(min_value=-(2**70), max_value=2**70),
)
@example(ids.CASE_NUMBER, 2**31)
@example(ids.TICKET_NUMBER, 2**53)
def test_a_counted_number_fits_its_column_or_is_not_found(
    kind: ids.NumberKind, number: int
) -> None:
    result = outcome(kind.check, number)
    if isinstance(result, PegasusError):
        assert isinstance(result, NotFoundError) and is_one_sentence(str(result))
        assert not 1 <= number <= 2**31 - 1
    else:
        assert result == number and 1 <= number <= 2**31 - 1


@FAST
@given(texts)
@example("read " + "x" * 5000)
def test_api_scopes_parse_or_refuse(text: str) -> None:
    result = outcome(security.parse_scopes, text)
    if not isinstance(result, PegasusError):
        assert result and set(result) <= set(security.API_SCOPES)
        assert len(set(result)) == len(result)


@FAST
@given(st.lists(st.sampled_from(list(security.API_SCOPES)), min_size=1, unique=True))
def test_api_scopes_round_trip(scopes: list[str]) -> None:
    assert security.parse_scopes(" ".join(scopes)) == scopes
    assert security.parse_scopes(",".join(s.upper() for s in scopes)) == scopes


@FAST
@given(st.one_of(st.none(), texts, st.text(min_size=400, max_size=700)))
def test_moderation_reason_is_cleaned_or_refused(reason: str | None) -> None:
    result = outcome(moderation.clean_reason, reason)
    if isinstance(result, str):
        assert result == result.strip() and result


@FAST
@given(st.one_of(texts, st.just("{number}-{user}"), st.just("{user}{")))
def test_ticket_name_format_is_checked_or_refused(text: str) -> None:
    result = outcome(tickets.validate_name_format, text)
    if isinstance(result, PegasusError):
        return
    # Any accepted format gives a valid channel name for any member (or the fallback is used).
    for name in ("user", "🎉🎉", "A B" * 60, ""):
        channel = tickets.channel_name_from(result, number=12, user_name=name)
        assert len(channel) <= tickets.MAX_CHANNEL_NAME
        assert re.fullmatch(r"[\w-]*", channel)


@FAST
@given(texts)
def test_ticket_rename_cleaning_is_total(text: str) -> None:
    cleaned = tickets.clean_channel_name(text)
    assert len(cleaned) <= tickets.MAX_CHANNEL_NAME
    assert tickets.clean_channel_name(cleaned) == cleaned


@FAST
@given(st.one_of(st.none(), texts))
@example("🎫\n")
@example("<:help:123456789012345678>")
def test_ticket_emoji_is_checked_or_refused(text: str | None) -> None:
    outcome(tickets.validate_emoji, text)


@FAST
@given(st.one_of(st.none(), texts))
@example("#12345\n6")
@example("z" * 5000)
def test_ticket_panel_colour_parses_or_refuses(text: str | None) -> None:
    result = outcome(tickets.parse_color, text)
    if isinstance(result, int):
        assert 0 <= result <= 0xFFFFFF


@FAST
@given(st.lists(texts, max_size=12))
@example(["not a link\nsecond line"])
@example(["https://ok.example/a.png", "y" * 5000])
def test_warning_proof_is_links_or_refused(proof: list[str]) -> None:
    result = outcome(moderation.clean_proof, proof)
    if isinstance(result, list):
        assert all(item.startswith(("https://", "http://")) for item in result)
