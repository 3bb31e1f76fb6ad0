"""Who vouched for each role the bot gives on someone's behalf, and skipped grants on record.

A role the bot gives later (level reward, shop item, automation step, autorole, mute role) or pings
(ticket support role, security alert role) is set up by a person, who must be able to give the
role themselves. That rule is `require_can_delegate`, on plain facts about the role, the bot's
top role and the person: the slash commands (`pegasus.ui.roles`, from discord.py's cache) and the
REST API (`pegasus.web.roles`, from the cache or Discord's REST API) both ask it. This module also
stores who that person was, so that the rule can be checked again, against them as they are now,
when the role is given, and records each grant that the check refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.security import RoleDelegation
from pegasus.errors import PermissionDenied, ValidationError, role_ref
from pegasus.i18n import N_, _
from pegasus.services import audit

__all__ = [
    "ADMINISTRATOR",
    "ELEVATED_PERMISSIONS",
    "Configurer",
    "Delegation",
    "RoleFacts",
    "delegations",
    "elevated_permissions",
    "record_refused_grant",
    "record_role_setup",
    "require_can_delegate",
]

ADMINISTRATOR = 1 << 3
# Permissions (Discord's bits) that give power over other members, the server's structure or
# everyone's attention, with the names people know them by, in the order refusals list them.
# The names are Discord's (translated where shown: `_(name)`, as Discord's clients name them).
ELEVATED_PERMISSIONS: dict[int, str] = {
    ADMINISTRATOR: N_("Administrator"),
    1 << 5: N_("Manage Server"),
    1 << 28: N_("Manage Roles"),
    1 << 4: N_("Manage Channels"),
    1 << 29: N_("Manage Webhooks"),
    1 << 2: N_("Ban Members"),
    1 << 1: N_("Kick Members"),
    1 << 40: N_("Timeout Members"),
    1 << 13: N_("Manage Messages"),
    1 << 17: N_("Mention Everyone"),
}


def elevated_permissions(permissions: int) -> list[str]:
    """The names of the elevated permissions in a permissions value, in a fixed order (in
    English, as declared)."""
    return [label for bit, label in ELEVATED_PERMISSIONS.items() if permissions & bit]


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """What the rule needs of a role: where it stands, what it allows, who may hand it out."""

    id: int
    position: int
    permissions: int
    managed: bool = False  # an integration's (a bot's own role, a booster role)
    is_default: bool = False  # @everyone

    def rank(self) -> tuple[int, int, int]:
        """Discord's hierarchy as a sort key: @everyone lowest, then by position, and between
        equal positions the older role (smaller id) higher."""
        if self.is_default:
            return (0, 0, 0)
        return (1, self.position, -self.id)


@dataclass(frozen=True, slots=True)
class Configurer:
    """The person setting a role up, as they are in the server now."""

    is_owner: bool
    is_administrator: bool
    top_role: RoleFacts


def _and_join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return _("{first} and {last}").format(first=", ".join(items[:-1]), last=items[-1])


def require_can_delegate(role: RoleFacts, bot_top_role: RoleFacts, invoker: Configurer) -> None:
    """Refuse to set `role` up to be given later unless the bot can give it and `invoker` could
    give it themselves: below their top role (unless they own the server), and a role with an
    elevated permission only from the owner or an Administrator."""
    named = {"role": role_ref(role.id)}
    if role.is_default or role.managed:
        raise ValidationError(_("{role} cannot be given by a bot; choose another role."), **named)
    if role.rank() >= bot_top_role.rank():
        raise PermissionDenied(
            _(
                "{role} is above my highest role, so I could not give it. Move my role above it "
                "in Server Settings → Roles, or choose a lower role."
            ),
            **named,
        )
    if invoker.is_owner:
        return
    if role.rank() >= invoker.top_role.rank():
        raise PermissionDenied(
            _("{role} is not below your highest role, so you can't have me give it."), **named
        )
    elevated = elevated_permissions(role.permissions)
    if elevated and not invoker.is_administrator:
        raise PermissionDenied(
            _(
                "{role} has {permissions}: only the server owner or a member with "
                "Administrator can have me give it."
            ).format(role="{role}", permissions=_and_join([_(name) for name in elevated])),
            **named,
        )


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
