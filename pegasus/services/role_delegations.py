"""Who vouched for each role the bot gives on someone's behalf, and skipped grants on record.

A role the bot gives later (level reward, shop item, automation step, autorole, mute role) or pings
(ticket support role, security alert role) is set up by a person; the Discord-side rule that this
person could give the role themselves lives in `pegasus.ui.roles`. This module stores who that
person was, so that the rule can be checked again, against them as they are now, when the role is
given, and records each grant that the check refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from models.security import RoleDelegation
from pegasus.services import audit

__all__ = ["Delegation", "delegations", "record_refused_grant", "record_role_setup"]


@dataclass(frozen=True)
class Delegation:
    """Who set a role up (None once their record is gone) and the role's permissions then."""

    configured_by: int | None
    permissions: int


async def record_role_setup(
    guild_id: int, role_id: int, configured_by: int, permissions: int
) -> None:
    """Remember that `configured_by` is the last person to set `role_id` up to be given, when it
    had `permissions`.

    One row per role: the newest setup replaces the older one, so a role is given only while its
    latest configurer could still give it.
    """
    await audit.ensure_rows(guild_id, [configured_by])
    row = RoleDelegation(
        guild_id=guild_id, role_id=role_id, configured_by_id=configured_by, permissions=permissions
    )
    await RoleDelegation.bulk_create(
        [row],
        on_conflict=["guild_id", "role_id"],
        update_fields=["configured_by_id", "permissions", "updated_at"],
    )


async def delegations(guild_id: int, role_ids: Iterable[int]) -> dict[int, Delegation]:
    """role id → how it was set up; roles nobody set up since this was recorded are absent."""
    wanted = sorted(set(role_ids))
    if not wanted:
        return {}
    rows = await RoleDelegation.filter(guild_id=guild_id, role_id__in=wanted).values_list(
        "role_id", "configured_by_id", "permissions"
    )
    return {
        int(role_id): Delegation(configured_by, int(permissions))
        for role_id, configured_by, permissions in rows
    }


async def record_refused_grant(
    *,
    guild_id: int,
    member_id: int,
    role_id: int,
    purpose: str,
    reason: str,
    configured_by: int | None,
) -> None:
    """Keep a security_logs row for a grant the re-check refused."""
    await audit.ensure_rows(guild_id, [member_id])
    await audit.record_security_event(
        guild_id=guild_id,
        user_id=member_id,
        action="role.grant_refused",
        severity=audit.Severity.HIGH,
        description=reason,
        metadata={"role_id": role_id, "purpose": purpose, "configured_by": configured_by},
    )
