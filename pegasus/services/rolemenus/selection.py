"""What one click or one choice in a role menu changes: the rule, on plain role ids.

Given the roles a member holds and what they clicked (a button) or chose (a select menu), the
answer is the roles to add and to remove, or a refusal. Whatever the answer, roles the menu does
not offer are never touched; after a change the member holds at most `max_roles` of the menu's
roles (when it adds one) and at most one role of each exclusive group; without the required role
nothing changes. Whether the bot may give each role is the role rules' business, not this one's.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass

from pegasus.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError, role_ref
from pegasus.i18n import _, ngettext

__all__ = [
    "MenuRules",
    "MissingRequiredRole",
    "NotOffered",
    "OneRolePerGroup",
    "OptionRule",
    "RoleChange",
    "TooManyRoles",
    "choose",
    "toggle",
]


class MissingRequiredRole(PermissionDenied):
    def __init__(self, role_id: int) -> None:
        super().__init__(_("You need {role} to take roles from this menu."), role=role_ref(role_id))


class TooManyRoles(ConflictError):
    def __init__(self, max_roles: int) -> None:
        super().__init__(
            ngettext(
                "You can have at most {count} role from this menu: give one back first.",
                "You can have at most {count} roles from this menu: give one back first.",
                max_roles,
            ).format(count=max_roles)
        )


class NotOffered(NotFoundError):
    def __init__(self) -> None:
        super().__init__(_("That role is no longer offered by this menu."))


class OneRolePerGroup(ValidationError):
    def __init__(self, group: str, role_ids: Iterable[int]) -> None:
        refs = {f"role{index}": role_ref(role_id) for index, role_id in enumerate(role_ids)}
        names = [f"{{{name}}}" for name in refs]
        listed = names[0] if names else ""
        for name in names[1:]:
            listed = _("{first} and {last}").format(first=listed, last=name)
        # The group is typed by staff: its braces are text, not fields.
        shown_group = group.replace("{", "{{").replace("}", "}}")
        super().__init__(
            _("{roles} are both in the group {group}: you can have only one of them.").format(
                roles=listed, group=shown_group
            ),
            **refs,
        )


@dataclass(frozen=True, slots=True)
class OptionRule:
    role_id: int
    group: str | None = None


@dataclass(frozen=True, slots=True)
class MenuRules:
    """A menu as the rule sees it: its roles with their groups, the cap and the required role."""

    options: tuple[OptionRule, ...]
    max_roles: int = 0  # 0 = no cap
    required_role_id: int | None = None

    @property
    def role_ids(self) -> frozenset[int]:
        return frozenset(option.role_id for option in self.options)

    def group_of(self, role_id: int) -> str | None:
        return next((o.group for o in self.options if o.role_id == role_id), None)


@dataclass(frozen=True, slots=True)
class RoleChange:
    add: frozenset[int]
    remove: frozenset[int]

    def applied_to(self, held: Set[int]) -> frozenset[int]:
        return frozenset((set(held) - self.remove) | self.add)


def _require_allowed(rules: MenuRules, held: Set[int]) -> None:
    if rules.required_role_id is not None and rules.required_role_id not in held:
        raise MissingRequiredRole(rules.required_role_id)


def toggle(rules: MenuRules, held: Set[int], clicked: int) -> RoleChange:
    """A button click: give back `clicked` if held; otherwise take it, giving back the other
    roles of its exclusive group, within the menu's cap."""
    _require_allowed(rules, held)
    if clicked not in rules.role_ids:
        raise NotOffered()
    if clicked in held:
        return RoleChange(add=frozenset(), remove=frozenset({clicked}))
    group = rules.group_of(clicked)
    held_here = rules.role_ids & held
    swapped = frozenset(
        role_id for role_id in held_here if group is not None and rules.group_of(role_id) == group
    )
    if rules.max_roles and len(held_here - swapped) + 1 > rules.max_roles:
        raise TooManyRoles(rules.max_roles)
    return RoleChange(add=frozenset({clicked}), remove=swapped)


def choose(rules: MenuRules, held: Set[int], selected: Set[int]) -> RoleChange:
    """A select menu's choice: the member's roles from this menu become exactly `selected`."""
    _require_allowed(rules, held)
    chosen = frozenset(selected)
    if chosen - rules.role_ids:
        raise NotOffered()
    by_group: dict[str, list[int]] = {}
    for option in rules.options:
        if option.group is not None and option.role_id in chosen:
            by_group.setdefault(option.group, []).append(option.role_id)
    for group, role_ids in by_group.items():
        if len(role_ids) > 1:
            raise OneRolePerGroup(group, role_ids)
    if rules.max_roles and len(chosen) > rules.max_roles:
        raise TooManyRoles(rules.max_roles)
    held_here = rules.role_ids & frozenset(held)
    return RoleChange(add=chosen - held_here, remove=held_here - chosen)
