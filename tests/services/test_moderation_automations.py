"""Warning automations: validation, firing once per crossing, windows, simulation, audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from cogs.moderation.support import describe_action
from models.moderation import WarningAutomation
from models.scheduling import ScheduledAction
from models.security import AuditLog
from pegasus.errors import ConflictError, NotFoundError, ValidationError
from pegasus.services import moderation
from pegasus.services.moderation import Automation, TriggerType
from pegasus.services.moderation import AutomationActionType as Act

GUILD = 111_111_111_111_111_111
MOD = 900_000_000_000_000_001
ALICE = 800_000_000_000_000_001
BOB = 800_000_000_000_000_002
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMEOUT_1H = {"type": "timeout", "duration_seconds": 3600}


async def add_rule(
    trigger: TriggerType = TriggerType.WARN_COUNT,
    value: int = 3,
    *,
    window_days: int | None = None,
    actions: list[dict] | None = None,
    enabled: bool = True,
) -> Automation:
    return await moderation.add_automation(
        GUILD,
        name=f"{trigger} {value}",
        trigger_type=trigger,
        trigger_value=value,
        window_days=window_days,
        actions=actions or [TIMEOUT_1H],
        actor_id=MOD,
        now=NOW,
        enabled=enabled,
        notify_channel_id=42,
    )


async def warn(user_id: int = ALICE, *, at: datetime = NOW, level: int = 1, **kwargs):
    return await moderation.issue_warning(
        guild_id=GUILD, user_id=user_id, moderator_id=MOD, title="t", now=at, level=level, **kwargs
    )


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        (Act.TIMEOUT, {}, "needs a duration"),
        (Act.TIMEOUT, {"duration_seconds": 29 * 86400}, "at most 28 days"),
        (Act.KICK, {"duration_seconds": 60}, "no duration"),
        (Act.ROLE, {}, "needs the role"),
        (Act.MESSAGE, {"message": " "}, "needs the message"),
        (Act.BAN, {"duration_seconds": -5}, "must be positive"),
    ],
)
def test_action_validation(kind: Act, kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        moderation.build_action(kind, **kwargs)


def test_actions_are_described() -> None:
    assert describe_action(moderation.build_action(Act.BAN)) == "ban"
    assert describe_action(TIMEOUT_1H) == "timeout for 1h"
    role = moderation.build_action(Act.ROLE, role_id=5)
    assert describe_action(role) == "give role <@&5>"


async def test_rule_validation(db: str) -> None:
    with pytest.raises(ValidationError, match="between 1 and 100"):
        await add_rule(value=0)
    with pytest.raises(ValidationError, match="window"):
        await add_rule(window_days=0)
    with pytest.raises(ValidationError, match="at least one action"):
        await moderation.add_automation(
            GUILD,
            name="x",
            trigger_type="warn_count",
            trigger_value=1,
            actions=[],
            actor_id=MOD,
            now=NOW,
        )
    assert await WarningAutomation.all().count() == 0


async def test_new_rules_are_off_unless_enabled_and_audited(db: str) -> None:
    rule = await moderation.add_automation(
        GUILD,
        name="three strikes",
        trigger_type="warn_count",
        trigger_value=3,
        actions=[TIMEOUT_1H],
        actor_id=MOD,
        now=NOW,
    )
    assert not rule.enabled and rule.automation_id.startswith("A-")
    audit = await AuditLog.get(action="automation.add")
    assert audit.before is None and audit.after["name"] == "three strikes"
    assert audit.target_id == rule.automation_id


async def test_fires_once_when_crossing_the_threshold(db: str) -> None:
    rule = await add_rule(value=3)

    results = [await warn(at=NOW + timedelta(minutes=i)) for i in range(5)]

    fired_at = [i for i, r in enumerate(results) if r.fired]
    assert fired_at == [2]  # the third warning crosses; the fourth and fifth are already above
    firing = results[2].fired[0]
    assert firing.automation.id == rule.id and firing.value == 3 and firing.user_id == ALICE
    action = await ScheduledAction.get(id=firing.action_id)
    assert action.kind == moderation.KIND_AUTOMATION
    assert action.due_at == NOW + timedelta(minutes=2)
    assert action.payload == {
        "automation_id": rule.id,
        "user_id": ALICE,
        "warning_id": results[2].warning.id,
        "value": 3,
    }
    stored = await WarningAutomation.get(id=rule.id)
    assert stored.trigger_count == 1 and stored.last_triggered_at == NOW + timedelta(minutes=2)


async def test_fires_again_after_falling_below_and_crossing_again(db: str) -> None:
    await add_rule(value=2)
    await warn()
    second = await warn(at=NOW + timedelta(minutes=1))
    assert second.fired
    await moderation.remove_warning(GUILD, second.warning.warn_id, remover_id=MOD, now=NOW)

    again = await warn(at=NOW + timedelta(minutes=2))

    assert len(again.fired) == 1


async def test_disabled_rules_and_other_members_do_not_fire(db: str) -> None:
    await add_rule(value=1, enabled=False)
    assert not (await warn()).fired
    await add_rule(value=2)
    assert not (await warn(BOB)).fired  # bob has one warning; alice's do not count for him


async def test_level_total_counts_levels(db: str) -> None:
    await add_rule(TriggerType.LEVEL_TOTAL, 6)
    assert not (await warn(level=2)).fired
    assert not (await warn(level=3)).fired  # total 5
    assert (await warn(level=4)).fired  # 5 -> 9 crosses 6
    assert not (await warn(level=5)).fired


async def test_window_only_counts_recent_warnings(db: str) -> None:
    await add_rule(value=2, window_days=7)
    await warn(at=NOW)
    late = await warn(at=NOW + timedelta(days=8))
    assert not late.fired  # the first one is outside the window
    assert (await warn(at=NOW + timedelta(days=9))).fired


async def test_expired_warnings_do_not_count(db: str) -> None:
    await add_rule(value=2)
    await warn(at=NOW, expires_in_seconds=3600)
    assert not (await warn(at=NOW + timedelta(hours=2))).fired


async def test_concurrent_warnings_fire_a_rule_exactly_once(db: str) -> None:
    await add_rule(value=3)

    results = await asyncio.gather(*(warn(at=NOW) for _ in range(8)))

    assert sum(len(r.fired) for r in results) == 1
    assert await ScheduledAction.filter(kind=moderation.KIND_AUTOMATION).count() == 1


async def test_simulate_replays_stored_warnings(db: str) -> None:
    # alice: 3 warnings within a week -> crosses once; bob: 3 warnings spread over a month.
    for day in (0, 1, 2, 3):
        await warn(ALICE, at=NOW + timedelta(days=day))
    for day in (0, 10, 20):
        await warn(BOB, at=NOW + timedelta(days=day))
    removed = await warn(BOB, at=NOW + timedelta(days=21))
    await moderation.remove_warning(GUILD, removed.warning.warn_id, remover_id=MOD, now=NOW)
    weekly = await add_rule(value=3, window_days=7, enabled=False)
    ever = await add_rule(value=3, enabled=False)

    weekly_sim = await moderation.simulate(GUILD, weekly.automation_id)
    ever_sim = await moderation.simulate(GUILD, ever.automation_id)

    assert (weekly_sim.members_hit, weekly_sim.firings) == (1, 1)
    assert (ever_sim.members_hit, ever_sim.firings) == (2, 2)
    assert ever_sim.warnings_considered == 7 and ever_sim.members_considered == 2


async def test_toggle_and_remove_are_audited(db: str) -> None:
    rule = await add_rule(enabled=False)

    toggled = await moderation.toggle_automation(GUILD, rule.automation_id, actor_id=MOD, now=NOW)
    assert toggled.enabled
    assert (await WarningAutomation.get(id=rule.id)).enabled
    back = await moderation.toggle_automation(GUILD, rule.automation_id, actor_id=MOD, now=NOW)
    assert not back.enabled
    removed = await moderation.remove_automation(
        GUILD, rule.automation_id.lower(), actor_id=MOD, now=NOW
    )
    assert removed.id == rule.id
    assert await WarningAutomation.all().count() == 0
    actions = await AuditLog.all().order_by("created_at").values_list("action", flat=True)
    assert actions == [
        "automation.add",
        "automation.toggle",
        "automation.toggle",
        "automation.remove",
    ]
    last = await AuditLog.get(action="automation.remove")
    assert last.after is None and last.before["automation_id"] == rule.automation_id
    with pytest.raises(NotFoundError):
        await moderation.remove_automation(GUILD, rule.automation_id, actor_id=MOD, now=NOW)


async def test_limit_per_guild(db: str) -> None:
    for _ in range(moderation.MAX_AUTOMATIONS_PER_GUILD):
        await add_rule()
    with pytest.raises(ConflictError, match="at most 25"):
        await add_rule()
