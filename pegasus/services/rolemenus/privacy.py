"""What role menus store about a member: the menus they created.

The roles a member took from a menu are Discord's record, not ours; only the creator of each menu
is kept. An erasure forgets the creator (the menu stays, for the server that uses it); who vouched
for each role the menu gives is the role rules' record (`role_delegations`).
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.rolemenus import RoleMenu
from pegasus.i18n import N_
from pegasus.services.privacy import PrivacyDeclaration, register


async def export_role_menus(guild_id: int, user_id: int) -> dict[str, Any]:
    created = (
        await RoleMenu.filter(guild_id=guild_id, created_by_id=user_id)
        .order_by("id")
        .values("menu_id", "title", "created_at")
    )
    return {"role_menus_you_created": created}


async def erase_role_menus(guild_id: int, user_id: int, conn: BaseDBAsyncClient) -> dict[str, int]:
    forgotten = await (
        RoleMenu.filter(guild_id=guild_id, created_by_id=user_id)
        .using_db(conn)
        .update(created_by_id=None)
    )
    return {N_("role menus no longer naming you as their creator"): forgotten}


DECLARATION = register(
    PrivacyDeclaration(
        feature="rolemenus",
        explanation=N_("The role menus you created."),
        covers=((RoleMenu, ("created_by",)),),
        export=export_role_menus,
        erase=erase_role_menus,
        erased=(N_("your name as the creator of role menus (the menus stay)"),),
    )
)
