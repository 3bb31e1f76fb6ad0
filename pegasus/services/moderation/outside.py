"""Bans, unbans, kicks and timeouts taken in Discord's own menus, recorded as cases.

Discord's audit log says who acted, on whom, why, and until when a timeout runs. Each audit log
entry makes at most one case: its id is stored with the case under a unique constraint, in the
case's own transaction (`record_action(audit_entry_id=...)`), so a gateway replay after RESUME,
a restart or a second process reading the same entry records nothing twice. Entries whose actor
is Pegasus itself are cases already; the caller leaves them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.functions import Max

from models.moderation import CaseAuditEntry, CaseType
from pegasus.services.moderation.cases import (
    MAX_REASON_LENGTH,
    MAX_TIMEOUT_SECONDS,
    Case,
    record_action,
)

__all__ = [
    "MENU_TIMEOUTS",
    "OUTSIDE_TYPES",
    "OutsideAction",
    "already_recorded",
    "newest_recorded_entries",
    "record_outside_action",
    "timeout_change",
]

# The lengths Discord's "Time Out" menu offers: 60 s, 5 m, 10 m, 1 h, 1 d, 1 w.
MENU_TIMEOUTS = (60, 300, 600, 3600, 86400, 604800)
IDS_PER_QUERY = 900  # below SQLite's 999 bound variables
# What a moderator can do from Discord's menus that Pegasus records.
OUTSIDE_TYPES = frozenset(
    {CaseType.BAN, CaseType.UNBAN, CaseType.KICK, CaseType.TIMEOUT, CaseType.UNTIMEOUT}
)


@dataclass(frozen=True, slots=True)
class OutsideAction:
    """One audit log entry about a member, read as a moderation action."""

    guild_id: int
    entry_id: int  # Discord's id of the audit log entry
    case_type: CaseType
    user_id: int  # the target
    moderator_id: int | None  # who acted in Discord
    reason: str | None
    at: datetime  # when Discord recorded it (the entry's snowflake time)
    duration_seconds: int | None = None  # timeouts only
    moderator_is_bot: bool = False  # another bot's own command, not a person's menu


def timeout_change(until: datetime | None, at: datetime) -> tuple[CaseType, int | None]:
    """A change of a member's timeout end, read as a timeout for a duration or its removal.

    The end comes from the moderator's own clock and the entry's time from Discord's, so they
    differ from the length chosen by a little: a length within 1% (at most a minute) of one the
    menu offers is that one; any other is rounded to whole seconds.
    """
    if until is None or until <= at:
        return CaseType.UNTIMEOUT, None
    seconds = round((until - at).total_seconds())
    for offered in MENU_TIMEOUTS:
        if abs(seconds - offered) <= min(60, max(1, offered // 100)):
            return CaseType.TIMEOUT, offered
    return CaseType.TIMEOUT, min(max(seconds, 1), MAX_TIMEOUT_SECONDS)


async def already_recorded(entry_id: int) -> bool:
    return await CaseAuditEntry.exists(entry_id=entry_id)


async def newest_recorded_entries(guild_ids: Sequence[int]) -> dict[int, int]:
    """Per guild, the id of the newest audit log entry recorded as a case (guilds without one
    are left out): where reading the log again after an absence starts."""
    newest: dict[int, int] = {}
    for start in range(0, len(guild_ids), IDS_PER_QUERY):
        rows = await (
            CaseAuditEntry.filter(guild_id__in=list(guild_ids[start : start + IDS_PER_QUERY]))
            .annotate(newest=Max("entry_id"))
            .group_by("guild_id")
            .values("guild_id", "newest")
        )
        newest.update({int(row["guild_id"]): int(row["newest"]) for row in rows})
    return newest


async def record_outside_action(action: OutsideAction) -> Case | None:
    """Record the action as a case; None when this entry already made one."""
    if action.case_type not in OUTSIDE_TYPES:
        problem = f"{action.case_type} is not taken from Discord's menus"  # a caller's mistake
        raise ValueError(problem)
    if await already_recorded(action.entry_id):
        return None
    metadata: dict[str, object] = {"source": "discord", "audit_entry_id": str(action.entry_id)}
    if action.moderator_is_bot:
        metadata["moderator_is_bot"] = True
    try:
        return await record_action(
            guild_id=action.guild_id,
            case_type=action.case_type,
            user_id=action.user_id,
            moderator_id=action.moderator_id,
            # Discord keeps at most 512 characters; clipped all the same, a case must not fail.
            reason=(action.reason or "").strip()[:MAX_REASON_LENGTH] or None,
            now=action.at,
            duration_seconds=action.duration_seconds,
            metadata=metadata,
            audit_entry_id=action.entry_id,
        )
    except IntegrityError:
        # Another handler of the same entry (a replay, a second process) committed first.
        if await already_recorded(action.entry_id):
            return None
        raise
