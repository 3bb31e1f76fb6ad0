"""Role menus: messages with buttons or a select menu from which members take roles themselves.

A menu's options are rows of their own (one per role, unique per menu), so adding or removing one
is a single INSERT or DELETE, and two staff members editing the same menu never overwrite each
other's options. The rules of a click (at most `max_roles`, one role per exclusive group, the
required role) live in pegasus.services.rolemenus.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.ids import PUBLIC_ID_MAX_LENGTH

if TYPE_CHECKING:
    from models.guilds import Guild


class RoleMenuStyle(StrEnum):
    BUTTONS = "buttons"  # one button per role: a click takes or gives back that role
    SELECT = "select"  # one select menu: the chosen roles become the member's roles of the menu


class RoleMenu(Model):
    """One menu of a guild, and where it was last sent (to refresh it when it changes)."""

    id = fields.BigIntField(primary_key=True)
    menu_id = fields.CharField(max_length=PUBLIC_ID_MAX_LENGTH, unique=True)  # "RM-7K2QX"
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="role_menus", on_delete=fields.CASCADE, db_index=True
    )
    title = fields.CharField(max_length=256)
    description = fields.TextField(default="")
    style = fields.CharEnumField(RoleMenuStyle, max_length=16, default=RoleMenuStyle.BUTTONS)
    max_roles = fields.IntField(default=0)  # 0 = as many as the menu offers
    required_role_id = fields.BigIntField(null=True)  # a member without it can't use the menu
    channel_id = fields.BigIntField(null=True)
    message_id = fields.BigIntField(null=True)
    created_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="created_role_menus", null=True, on_delete=fields.SET_NULL,
        db_index=True,
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    options: fields.ReverseRelation[RoleMenuOption]

    if TYPE_CHECKING:
        guild_id: int
        created_by_id: int | None

    class Meta:
        table = "role_menus"

    def __str__(self) -> str:
        return f"Role menu {self.menu_id}"


class RoleMenuOption(Model):
    """One role offered by a menu; `exclusive_group` names a group (one role of it at a time)."""

    id = fields.BigIntField(primary_key=True)
    menu: fields.ForeignKeyRelation[RoleMenu] = fields.ForeignKeyField(
        "models.RoleMenu", related_name="options", on_delete=fields.CASCADE
    )
    role_id = fields.BigIntField()
    label = fields.CharField(max_length=80)
    emoji = fields.CharField(max_length=64, null=True)
    description = fields.CharField(max_length=100, null=True)
    exclusive_group = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    if TYPE_CHECKING:
        menu_id: int

    class Meta:
        table = "role_menu_options"
        unique_together = (("menu", "role_id"),)

    def __str__(self) -> str:
        return f"Option {self.label} of role menu {self.menu_id}"
