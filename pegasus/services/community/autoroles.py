"""Autoroles: roles given to every member who joins (checks of the roles themselves are
Discord's side: the adapter's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pegasus.errors import ConflictError, NotFoundError

from .config import ConfigCache, GuildConfig
from .settings import change_settings

__all__ = ["add_autorole", "remove_autorole"]


async def add_autorole(
    guild_id: int, actor_id: int, role_id: int, *, cache: ConfigCache | None = None
) -> GuildConfig:
    """Give `role_id` to every member who joins (and switch autoroles on); the number of
    autoroles is bounded by the declaration's rule."""

    def compute(current: Mapping[str, Any]) -> dict[str, Any]:
        roles = [int(existing) for existing in current["autorole_role_ids"] or []]
        if role_id in roles:
            raise ConflictError("That role is already given on join.")
        return {"autorole_role_ids": [*roles, role_id], "autorole_enabled": True}

    return await change_settings(guild_id, actor_id, "autorole.add", compute, cache=cache)


async def remove_autorole(
    guild_id: int, actor_id: int, role_id: int, *, cache: ConfigCache | None = None
) -> GuildConfig:
    """Stop giving `role_id` on join; autoroles switch off when the list becomes empty."""

    def compute(current: Mapping[str, Any]) -> dict[str, Any]:
        roles = [int(existing) for existing in current["autorole_role_ids"] or []]
        if role_id not in roles:
            raise NotFoundError("That role is not an autorole.")
        remaining = [existing for existing in roles if existing != role_id]
        return {"autorole_role_ids": remaining, "autorole_enabled": bool(remaining)}

    return await change_settings(guild_id, actor_id, "autorole.remove", compute, cache=cache)
