"""Warning automations: rules that act when a member's warnings cross a threshold.

A rule counts a member's warnings that count now (active, not expired), within `window_days` when
set: either their number (`warn_count`) or the sum of their levels (`level_total`). It fires when a
new warning takes the value from below `trigger_value` to at or above it, so once per crossing:
the next warning, already above, does not fire it again.

Firing is decided inside the warning's transaction and scheduled there as a durable action
(`moderation.automation`, due at once): the actions (timeout, mute, kick, ban, role, message) run
exactly once even if the bot stops right after the warning.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from random import Random
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models.ids import new_public_id
from models.moderation import AutomationActionType, MemberWarning, TriggerType, WarningAutomation
from pegasus import scheduler
from pegasus.errors import ConflictError, NotFoundError, ValidationError, shown_input
from pegasus.i18n import _, format_number, ngettext
from pegasus.services import ids
from pegasus.services.audit import ensure_rows, record_audit

__all__ = [
    "KIND_AUTOMATION",
    "MAX_AUTOMATIONS_PER_GUILD",
    "Automation",
    "AutomationActionType",
    "Firing",
    "Simulation",
    "TriggerType",
    "add_automation",
    "build_action",
    "describe_trigger",
    "evaluate_after_warning",
    "find_automation",
    "get_automation",
    "list_automations",
    "remove_automation",
    "simulate",
    "toggle_automation",
]

KIND_AUTOMATION = "moderation.automation"
MAX_AUTOMATIONS_PER_GUILD = 25
MAX_NAME_LENGTH = 100
MAX_MESSAGE_LENGTH = 1000
MAX_WINDOW_DAYS = 3650
MAX_TRIGGER = {TriggerType.WARN_COUNT: 100, TriggerType.LEVEL_TOTAL: 500}
MAX_TIMEOUT_SECONDS = 28 * 86400
_ID_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Automation:
    """A rule (`warning_automations`): when a member's warnings cross `trigger_value`, run
    `actions` once. Each action is `{type, duration_seconds?, role_id?, message?}`."""

    id: int
    automation_id: str  # the public id, `A-7K2QX`
    guild_id: int
    name: str
    description: str | None
    trigger_type: TriggerType
    trigger_value: int
    window_days: int | None  # None: all time
    actions: tuple[Mapping[str, Any], ...]
    enabled: bool
    notify_channel_id: int | None
    created_by_id: int | None
    last_triggered_at: datetime | None
    trigger_count: int
    created_at: datetime

    @classmethod
    def from_row(cls, row: WarningAutomation) -> Automation:
        return cls(
            id=row.id,
            automation_id=row.automation_id,
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            name=row.name,
            description=row.description,
            trigger_type=TriggerType(row.trigger_type),
            trigger_value=row.trigger_value,
            window_days=row.window_days,
            actions=tuple(dict(action) for action in row.actions or ()),
            enabled=row.enabled,
            notify_channel_id=row.notify_channel_id,
            created_by_id=row.created_by_id,  # type: ignore[attr-defined]
            last_triggered_at=row.last_triggered_at,
            trigger_count=row.trigger_count,
            created_at=row.created_at,
        )


@dataclass(frozen=True, slots=True)
class Firing:
    """An automation that a warning set off; its actions are scheduled as `action_id`."""

    automation: Automation
    user_id: int
    value: int  # the member's count or level total after the warning
    action_id: int


@dataclass(frozen=True, slots=True)
class Simulation:
    """What a rule would have done over the stored warnings."""

    members_hit: int
    firings: int
    warnings_considered: int
    members_considered: int


E = TypeVar("E", bound=StrEnum)


def _choice(kind: type[E], value: object, refusal: str) -> E:
    """`value` as a member of `kind`, or `refusal` (with `{input}` and `{accepted}`) naming the
    accepted values."""
    try:
        return kind(value)
    except ValueError:
        accepted = ", ".join(member.value for member in kind)
        raise ValidationError(refusal.format(input=shown_input(value), accepted=accepted)) from None


def build_action(
    action_type: AutomationActionType | str,
    *,
    duration_seconds: int | None = None,
    role_id: int | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """One validated entry of `warning_automations.actions`."""
    kind = _choice(
        AutomationActionType, action_type, _("{input} is not an automation action: use {accepted}.")
    )
    action: dict[str, Any] = {"type": str(kind)}
    if duration_seconds is not None and duration_seconds <= 0:
        raise ValidationError(_("The duration must be positive."))
    if kind is AutomationActionType.TIMEOUT:
        if duration_seconds is None:
            raise ValidationError(_("A timeout automation needs a duration (at most 28 days)."))
        if duration_seconds > MAX_TIMEOUT_SECONDS:
            raise ValidationError(
                _("Discord allows timeouts of at most 28 days; use mute instead.")
            )
        action["duration_seconds"] = duration_seconds
    elif kind in (AutomationActionType.MUTE, AutomationActionType.BAN):
        if duration_seconds is not None:
            action["duration_seconds"] = duration_seconds
    elif kind is AutomationActionType.KICK:
        if duration_seconds is not None:
            raise ValidationError(_("A kick has no duration."))
    elif kind is AutomationActionType.ROLE:
        if role_id is None:
            raise ValidationError(_("A role automation needs the role to give."))
        action["role_id"] = role_id
    elif kind is AutomationActionType.MESSAGE:
        text = (message or "").strip()
        if not text:
            raise ValidationError(_("A message automation needs the message to send."))
        if len(text) > MAX_MESSAGE_LENGTH:
            raise ValidationError(
                _("The message can be at most {count} characters.").format(
                    count=format_number(MAX_MESSAGE_LENGTH)
                )
            )
        action["message"] = text
    return action


def describe_trigger(automation: Automation) -> str:
    """`3 warnings within 7 days`, `10 warning levels` (plain text: it is stored in reasons),
    in the current language."""
    value = automation.trigger_value
    if automation.trigger_type is TriggerType.WARN_COUNT:
        what = ngettext("{count} warning", "{count} warnings", value)
    else:
        what = ngettext("{count} warning level", "{count} warning levels", value)
    what = what.format(count=format_number(value))
    days = automation.window_days
    if not days:
        return what
    return ngettext("{trigger} within {count} day", "{trigger} within {count} days", days).format(
        trigger=what, count=days
    )


def _validate_rule(
    name: str, trigger_type: TriggerType, trigger_value: int, window_days: int | None
) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Give the automation a name."))
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            _("The name can be at most {count} characters.").format(count=MAX_NAME_LENGTH)
        )
    limit = MAX_TRIGGER[trigger_type]
    if not 1 <= trigger_value <= limit:
        raise ValidationError(
            _("The trigger value must be between 1 and {limit}.").format(limit=format_number(limit))
        )
    if window_days is not None and not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise ValidationError(
            _("The window must be between 1 and {count} days.").format(
                count=format_number(MAX_WINDOW_DAYS)
            )
        )
    return name


def _state(automation: WarningAutomation | Automation) -> dict[str, Any]:
    return {
        "automation_id": automation.automation_id,
        "name": automation.name,
        "trigger_type": str(automation.trigger_type),
        "trigger_value": automation.trigger_value,
        "window_days": automation.window_days,
        "actions": [dict(action) for action in automation.actions],
        "enabled": automation.enabled,
        "notify_channel_id": automation.notify_channel_id,
    }


async def add_automation(
    guild_id: int,
    *,
    name: str,
    trigger_type: TriggerType | str,
    trigger_value: int,
    actions: Sequence[dict[str, Any]],
    actor_id: int,
    now: datetime,
    window_days: int | None = None,
    notify_channel_id: int | None = None,
    description: str | None = None,
    enabled: bool = False,
    rng: Random | None = None,
) -> Automation:
    """Create a rule (switched off unless `enabled`, so it can be simulated first)."""
    trigger = _choice(
        TriggerType, trigger_type, _("{input} is not an automation trigger: use {accepted}.")
    )
    name = _validate_rule(name, trigger, trigger_value, window_days)
    if not actions:
        raise ValidationError(_("An automation needs at least one action."))
    checked = [
        build_action(a["type"], **{k: v for k, v in a.items() if k != "type"}) for a in actions
    ]
    await ensure_rows(guild_id, [actor_id])
    if await WarningAutomation.filter(guild_id=guild_id).count() >= MAX_AUTOMATIONS_PER_GUILD:
        raise ConflictError(
            _("A server can have at most {count} automations; remove one first.").format(
                count=MAX_AUTOMATIONS_PER_GUILD
            )
        )
    for attempt in range(_ID_ATTEMPTS):
        try:
            async with in_transaction() as conn:
                automation = await WarningAutomation.create(
                    automation_id=new_public_id("A", rng=rng),
                    guild_id=guild_id,
                    name=name,
                    description=(description or "").strip() or None,
                    trigger_type=trigger,
                    trigger_value=trigger_value,
                    window_days=window_days,
                    actions=checked,
                    enabled=enabled,
                    notify_channel_id=notify_channel_id,
                    created_by_id=actor_id,
                    created_at=now,
                    using_db=conn,
                )
                await record_audit(
                    guild_id=guild_id,
                    actor_id=actor_id,
                    action="automation.add",
                    target_type="automation",
                    target_id=automation.automation_id,
                    before=None,
                    after=_state(automation),
                    using_db=conn,
                )
            return Automation.from_row(automation)
        except IntegrityError:
            if attempt == _ID_ATTEMPTS - 1:  # public id collisions only; draw again
                raise
    raise AssertionError  # pragma: no cover - unreachable: the last attempt returns or raises


async def get_automation(guild_id: int, automation_id: str) -> Automation:
    automation = await WarningAutomation.get_or_none(
        guild_id=guild_id, automation_id=ids.AUTOMATION.parse(automation_id)
    )
    if automation is None:
        raise ids.AUTOMATION.not_found(automation_id)
    return Automation.from_row(automation)


async def find_automation(automation_pk: int) -> Automation | None:
    """The rule stored as `automation_pk` (a fired rule's timer), None if it was deleted."""
    row = await WarningAutomation.get_or_none(id=automation_pk)
    return Automation.from_row(row) if row is not None else None


async def list_automations(guild_id: int) -> list[Automation]:
    rows = await WarningAutomation.filter(guild_id=guild_id).order_by("created_at", "id")
    return [Automation.from_row(row) for row in rows]


async def remove_automation(
    guild_id: int, automation_id: str, *, actor_id: int, now: datetime
) -> Automation:
    automation = await get_automation(guild_id, automation_id)
    await ensure_rows(guild_id, [actor_id])
    async with in_transaction() as conn:
        deleted = await WarningAutomation.filter(id=automation.id).using_db(conn).delete()
        if not deleted:
            raise ids.AUTOMATION.not_found(automation_id)
        await record_audit(
            guild_id=guild_id,
            actor_id=actor_id,
            action="automation.remove",
            target_type="automation",
            target_id=automation.automation_id,
            before=_state(automation),
            after=None,
            using_db=conn,
        )
    return automation


async def toggle_automation(
    guild_id: int, automation_id: str, *, actor_id: int, now: datetime
) -> Automation:
    """Switch a rule on or off (a conditional update, so two toggles at once flip it twice)."""
    automation = await get_automation(guild_id, automation_id)
    await ensure_rows(guild_id, [actor_id])
    async with in_transaction() as conn:
        current = (
            await WarningAutomation.filter(id=automation.id)
            .using_db(conn)
            .select_for_update()
            .first()
            .values_list("enabled", flat=True)
        )
        if current is None:
            raise NotFoundError(
                _("There is no automation {id} in this server.").format(id=f"`{automation_id}`")
            )
        before = _state(automation) | {"enabled": bool(current)}
        await (
            WarningAutomation.filter(id=automation.id, enabled=current)
            .using_db(conn)
            .update(enabled=not current, updated_at=now)
        )
        automation = replace(automation, enabled=not current)
        await record_audit(
            guild_id=guild_id,
            actor_id=actor_id,
            action="automation.toggle",
            target_type="automation",
            target_id=automation.automation_id,
            before=before,
            after=_state(automation),
            using_db=conn,
        )
    return automation


def _contribution(trigger: TriggerType, level: int) -> int:
    return 1 if trigger is TriggerType.WARN_COUNT else level


def _value(trigger: TriggerType, levels: Iterable[int]) -> int:
    levels = list(levels)
    return len(levels) if trigger is TriggerType.WARN_COUNT else sum(levels)


async def evaluate_after_warning(
    *,
    guild_id: int,
    user_id: int,
    warning_id: int,
    level: int,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> list[Firing]:
    """Find the enabled rules a new warning (`warning_id`, of `level`) crosses and schedule
    their actions, inside the warning's transaction `conn`."""
    rules = await WarningAutomation.filter(guild_id=guild_id, enabled=True).using_db(conn)
    if not rules:
        return []
    counting = await (
        MemberWarning.filter(guild_id=guild_id, user_id=user_id, active=True)
        .filter(Q(expires_at=None) | Q(expires_at__gt=now))
        .using_db(conn)
        .values("id", "level", "created_at")
    )
    fired: list[Firing] = []
    for rule in rules:
        since = now - timedelta(days=rule.window_days) if rule.window_days else None
        levels = [w["level"] for w in counting if since is None or w["created_at"] > since]
        after = _value(rule.trigger_type, levels)
        before = after - _contribution(rule.trigger_type, level)
        if not before < rule.trigger_value <= after:
            continue
        await (
            WarningAutomation.filter(id=rule.id)
            .using_db(conn)
            .update(last_triggered_at=now, trigger_count=F("trigger_count") + 1)
        )
        action_id = await scheduler.schedule(
            KIND_AUTOMATION,
            now,
            {
                "automation_id": rule.id,
                "user_id": user_id,
                "warning_id": warning_id,
                "value": after,
            },
            guild_id=guild_id,
            dedupe_key=f"automation:{rule.id}:warning:{warning_id}",
            using_db=conn,
        )
        fired.append(Firing(Automation.from_row(rule), user_id, after, action_id))
    return fired


async def simulate(guild_id: int, automation_id: str) -> Simulation:
    """Replay the guild's stored warnings (removed ones left out) through one rule.

    Each warning is looked at when it was issued, with the warnings that counted at that moment
    (issued before it, not yet expired, within the window), exactly as `evaluate_after_warning`
    would have seen them.
    """
    rule = await get_automation(guild_id, automation_id)
    rows = await (
        MemberWarning.filter(guild_id=guild_id, removed_at=None)
        .order_by("created_at", "id")
        .values("user_id", "level", "created_at", "expires_at")
    )
    by_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_user[row["user_id"]].append(row)
    window = timedelta(days=rule.window_days) if rule.window_days else None
    members_hit = firings = 0
    for history in by_user.values():
        crossings = _crossings(rule, history, window)
        firings += crossings
        members_hit += 1 if crossings else 0
    return Simulation(members_hit, firings, len(rows), len(by_user))


def _crossings(rule: Automation, history: list[dict[str, Any]], window: timedelta | None) -> int:
    crossings = 0
    for index, current in enumerate(history):
        moment = current["created_at"]
        levels = [
            earlier["level"]
            for earlier in history[: index + 1]
            if (earlier["expires_at"] is None or earlier["expires_at"] > moment)
            and (window is None or earlier["created_at"] > moment - window)
        ]
        after = _value(rule.trigger_type, levels)
        before = after - _contribution(rule.trigger_type, current["level"])
        if before < rule.trigger_value <= after:
            crossings += 1
    return crossings
