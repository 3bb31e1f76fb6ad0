"""Autoroles: roles given to every member who joins, and the rule on which roles may be one
(`require_can_be_autorole`, on plain facts that each adapter reads from Discord)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pegasus.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError, role_ref
from pegasus.i18n import _
from pegasus.services.role_delegations import (
    ADMINISTRATOR,
    Configurer,
    RoleFacts,
    require_can_delegate,
)

from .config import ConfigCache, GuildConfig
from .settings import change_settings

__all__ = ["add_autorole", "remove_autorole", "require_can_be_autorole"]


def require_can_be_autorole(
    role: RoleFacts, *, bot_can_manage_roles: bool, bot_top_role: RoleFacts, invoker: Configurer
) -> None:
    """Refuse a role the bot could not give on join, `invoker` could not give themselves, or
    that would make everyone who joins an Administrator."""
    if role.is_default:
        raise ValidationError(_("@everyone can't be an autorole: every member has it already."))
    if not bot_can_manage_roles:
        raise PermissionDenied(_("I need the Manage Roles permission to give roles on join."))
    require_can_delegate(role, bot_top_role, invoker)
    if role.permissions & ADMINISTRATOR:
        raise PermissionDenied(
            _(
                "{role} has the Administrator permission: giving it to everyone who joins is not "
                "allowed."
            ),
            role=role_ref(role.id),
        )


async def add_autorole(
    guild_id: int, actor_id: int, role_id: int, *, cache: ConfigCache | None = None
) -> GuildConfig:
    """Give `role_id` to every member who joins (and switch autoroles on); the number of
    autoroles is bounded by the declaration's rule."""

    def compute(current: Mapping[str, Any]) -> dict[str, Any]:
        roles = [int(existing) for existing in current["autorole_role_ids"] or []]
        if role_id in roles:
            raise ConflictError(_("That role is already given on join."))
        return {"autorole_role_ids": [*roles, role_id], "autorole_enabled": True}

    return await change_settings(guild_id, actor_id, "autorole.add", compute, cache=cache)


async def remove_autorole(
    guild_id: int, actor_id: int, role_id: int, *, cache: ConfigCache | None = None
) -> GuildConfig:
    """Stop giving `role_id` on join; autoroles switch off when the list becomes empty."""

    def compute(current: Mapping[str, Any]) -> dict[str, Any]:
        roles = [int(existing) for existing in current["autorole_role_ids"] or []]
        if role_id not in roles:
            raise NotFoundError(_("That role is not an autorole."))
        remaining = [existing for existing in roles if existing != role_id]
        return {"autorole_role_ids": remaining, "autorole_enabled": bool(remaining)}

    return await change_settings(guild_id, actor_id, "autorole.remove", compute, cache=cache)
