"""Settings declared once: validation, rules between settings, and an audit row per change."""

from __future__ import annotations

import asyncio

import pytest

from models.economy import EconomySettings
from models.security import AuditLog, AuditSource
from pegasus.errors import ValidationError
from pegasus.services.settings import (
    FeatureSettings,
    Kind,
    Setting,
    apply_changes,
    ensure_settings_row,
)

GUILD = 900_000_000_000_000_077
STAFF = 100_000_000_000_000_077

SPEC = FeatureSettings(
    feature="example",
    model=EconomySettings,
    settings=(
        Setting("currency_name", Kind.TEXT, "currency name", "Its name", max_length=32),
        Setting("work_min", Kind.INT, "minimum work pay", "Least pay", minimum=0, maximum=1000),
        Setting("work_max", Kind.INT, "maximum work pay", "Most pay", minimum=0, maximum=1000),
        Setting("rob_enabled", Kind.BOOL, "robbing", "Robbing on or off"),
        Setting("rob_cooldown_seconds", Kind.SECONDS, "rob cooldown", "Between robs",
                minimum=0, maximum=86_400),
    ),
    rules=((lambda v: v["work_min"] <= v["work_max"], "The minimum pay is above the maximum."),),
)

pytestmark = pytest.mark.usefixtures("db")


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"work_min": -1}, "The minimum work pay must be between 0 and 1,000."),
        ({"work_max": True}, "The maximum work pay must be between 0 and 1,000."),
        ({"rob_enabled": 1}, "The robbing is either on or off."),
        ({"currency_name": "  "}, "The currency name can't be empty."),
        ({"currency_name": "x" * 33}, "The currency name can be at most 32 characters."),
        ({"rob_cooldown_seconds": 90_000}, "The rob cooldown must be between 0s and 1d."),
        ({"work_min": 500, "work_max": 400}, "The minimum pay is above the maximum."),
    ],
)
async def test_a_refused_value_changes_nothing_and_says_why(
    changes: dict[str, object], refusal: str
) -> None:
    await ensure_settings_row(EconomySettings, GUILD)
    before = await EconomySettings.get(guild_id=GUILD)
    with pytest.raises(ValidationError) as refused:
        await apply_changes(SPEC, GUILD, STAFF, changes)
    assert str(refused.value) == refusal
    after = await EconomySettings.get(guild_id=GUILD)
    assert (after.work_min, after.work_max, after.currency_name) == (
        before.work_min,
        before.work_max,
        before.currency_name,
    )
    assert not await AuditLog.exists()


async def test_a_change_is_stored_and_audited_with_before_and_after() -> None:
    values = await apply_changes(
        SPEC, GUILD, STAFF, {"work_max": 900, "currency_name": " Gems ", "rob_enabled": True},
        source=AuditSource.API,
    )
    assert values["work_max"] == 900 and values["currency_name"] == "Gems"
    stored = await EconomySettings.get(guild_id=GUILD)
    assert (stored.work_max, stored.currency_name) == (900, "Gems")
    [entry] = await AuditLog.all()
    # rob_enabled was already on: only what changed is recorded.
    assert entry.before == {"work_max": 200, "currency_name": "coins"}
    assert entry.after == {"work_max": 900, "currency_name": "Gems"}
    assert entry.action == "example.settings" and entry.source == AuditSource.API
    assert entry.actor_id == STAFF  # type: ignore[attr-defined]


async def test_nothing_changed_writes_no_audit_row() -> None:
    await apply_changes(SPEC, GUILD, STAFF, {"work_max": 200})
    assert not await AuditLog.exists()


async def test_concurrent_changes_never_combine_into_a_state_no_rule_saw() -> None:
    """Two changes that are each fine alone, but not together, cannot both be stored."""
    await apply_changes(SPEC, GUILD, STAFF, {"work_min": 100, "work_max": 200})
    results = await asyncio.gather(
        apply_changes(SPEC, GUILD, STAFF, {"work_min": 180}),
        apply_changes(SPEC, GUILD, STAFF, {"work_max": 150}),
        return_exceptions=True,
    )
    stored = await EconomySettings.get(guild_id=GUILD)
    assert stored.work_min <= stored.work_max
    assert sum(isinstance(result, ValidationError) for result in results) == 1


def test_the_declaration_gives_help_bounds_and_a_schema() -> None:
    assert SPEC.help_for("work_min") == {"work_min": "Least pay"}
    assert SPEC.bounds("rob_cooldown_seconds") == (0, 86_400)
    [first, *_] = SPEC.schema()
    assert first == {"name": "currency_name", "kind": "text", "label": "currency name",
                     "help": "Its name", "nullable": False, "max_length": 32}
    with pytest.raises(KeyError):
        SPEC.validate({"no_such_setting": 1})


def test_choices_limit_text_and_lists_of_names() -> None:
    mode = Setting("mode", Kind.TEXT, "reward mode", "How", choices=("stack", "replace"))
    events = Setting("events", Kind.NAMES, "logged events", "What", choices=("join", "leave"))
    assert mode.check(" stack ") == "stack"
    assert events.check(("leave", "join")) == ["leave", "join"]
    with pytest.raises(ValidationError, match="The reward mode must be stack or replace"):
        mode.check("swap")
    with pytest.raises(ValidationError, match="The logged events must be a list of join or leave"):
        events.check(["join", "ban"])
    assert events.show(["join", "leave"]) == "join, leave" and events.show([]) == "none"
    assert events.schema()["choices"] == ["join", "leave"]
