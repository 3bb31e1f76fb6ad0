"""What a settings form of the dashboard sends, read as the declarations check values: every kind
of setting, and the declaration's own sentence for what it refuses."""

from __future__ import annotations

from multidict import MultiDict, MultiDictProxy

from pegasus.services.settings import FeatureSettings, Kind, Setting
from pegasus.web.dashboard.feature_settings import _field, _read_form
from pegasus.web.discord_names import GuildNames

SPEC = FeatureSettings(
    feature="example",
    model=object,  # type: ignore[arg-type]  # only the declarations are read here
    settings=(
        Setting("enabled", Kind.BOOL, "example", "On or off"),
        Setting("amount", Kind.INT, "amount", "How many", minimum=1, maximum=10),
        Setting("wait", Kind.SECONDS, "wait", "How long", minimum=0, maximum=60),
        Setting("note", Kind.TEXT, "note", "Words", max_length=5, nullable=True),
        Setting("mode", Kind.TEXT, "mode", "Which", choices=("stack", "replace")),
        Setting("channel", Kind.CHANNEL, "channel", "Where", nullable=True),
        Setting("colour", Kind.COLOUR, "colour", "Which colour", nullable=True),
        Setting("channels", Kind.IDS, "channels", "Where"),
        Setting("roles", Kind.IDS, "roles", "Who"),
        Setting("events", Kind.NAMES, "events", "What", choices=("join", "leave")),
        Setting("shown", Kind.BOOL, "amount", "The amount's switch"),
    ),
)


def read(**sent: str | list[str]) -> tuple[dict[str, object], dict[str, str]]:
    pairs = [
        (name, item)
        for name, value in sent.items()
        for item in (value if isinstance(value, list) else [value])
    ]
    return _read_form(SPEC, MultiDictProxy(MultiDict(pairs)))


def test_a_form_is_read_as_the_declarations_check_values() -> None:
    values, errors = read(
        enabled="on",
        amount=" 7 ",
        wait="30",
        note="",
        mode="replace",
        channel="123",
        colour="#5865f2",
        channels=["11", "12"],
        roles=["13"],
        events=["leave"],
    )
    assert errors == {}
    assert values == {
        "enabled": True,
        "amount": 7,
        "wait": 30,
        "note": None,  # an empty optional text is "not set"
        "mode": "replace",
        "channel": 123,
        "colour": 0x5865F2,
        "channels": [11, 12],
        "roles": [13],
        "events": ["leave"],
        "shown": False,  # an unticked box sends nothing
    }


def test_each_refusal_is_the_declarations_sentence_for_its_field() -> None:
    _, errors = read(
        amount="11",
        wait="soon",
        note="too long",
        mode="merge",
        channel="#general",
        colour="blue",
        events=["kick"],
    )
    assert errors == {
        "amount": "The amount must be between 1 and 10.",
        "wait": "The wait must be between 0s and 1m.",
        "note": "The note can be at most 5 characters.",
        "mode": "The mode must be stack or replace.",
        "channel": "The channel must be a channel id.",
        "colour": "The colour must be a colour from #000000 to #FFFFFF.",
        "events": "The events must be a list of join or leave.",
    }


def test_inputs_follow_the_kind_and_offer_the_guilds_names() -> None:
    names = GuildNames(
        channels={1: ("general", 0), 2: ("Voice", 2), 3: ("rules", 0)},
        roles={9: "@everyone", 7: "Staff"},
    )
    by_name = {s.name: s for s in SPEC.settings}
    channel = _field(SPEC, by_name["channel"], 3, names, None)
    assert channel.control == "select"
    assert channel.options == [
        ("", "not set", False),
        ("1", "#general", False),
        ("3", "#rules", True),
    ]
    roles = _field(SPEC, by_name["roles"], [7, 99], names, None)
    assert roles.control == "multiselect"
    assert roles.options == [("7", "@Staff", True), ("99", "unknown (99)", True)]
    amount = _field(SPEC, by_name["amount"], 4, names, None)
    assert (amount.control, amount.minimum, amount.maximum, amount.value) == ("number", 1, 10, "4")
    assert _field(SPEC, by_name["shown"], True, names, None).label == "Amount on"
    assert _field(SPEC, by_name["channel"], 3, None, None).control == "id"  # names unknown
    assert _field(SPEC, by_name["colour"], 0xFF, names, None).value == "#0000FF"
