"""Role menus: messages from which members take roles themselves, with buttons or a select menu.

- `menus`: staff's side: create, offer and withdraw roles, edit, delete, where each menu is sent;
- `selection`: the rule of a click or a choice (at most N roles, exclusive groups, a required
  role), a pure function on role ids.

Which roles may be offered, and given when a member clicks, is the role rules' business
(`pegasus.services.role_delegations`), asked by each adapter.
"""

from __future__ import annotations

from .menus import (
    MAX_DESCRIPTION,
    MAX_GROUP,
    MAX_LABEL,
    MAX_MENUS,
    MAX_OPTION_DESCRIPTION,
    MAX_OPTIONS,
    MAX_TITLE,
    MENU_ID,
    MenuInfo,
    MenuOption,
    add_option,
    create_menu,
    delete_menu,
    edit_menu,
    forget_message,
    forget_role,
    get_menu,
    get_menu_by_key,
    list_menus,
    record_sent,
    remove_option,
)
from .selection import (
    MenuRules,
    MissingRequiredRole,
    NotOffered,
    OneRolePerGroup,
    OptionRule,
    RoleChange,
    TooManyRoles,
    choose,
    toggle,
)

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_GROUP",
    "MAX_LABEL",
    "MAX_MENUS",
    "MAX_OPTIONS",
    "MAX_OPTION_DESCRIPTION",
    "MAX_TITLE",
    "MENU_ID",
    "MenuInfo",
    "MenuOption",
    "MenuRules",
    "MissingRequiredRole",
    "NotOffered",
    "OneRolePerGroup",
    "OptionRule",
    "RoleChange",
    "TooManyRoles",
    "add_option",
    "choose",
    "create_menu",
    "delete_menu",
    "edit_menu",
    "forget_message",
    "forget_role",
    "get_menu",
    "get_menu_by_key",
    "list_menus",
    "record_sent",
    "remove_option",
    "toggle",
]
