"""Role menu refusals are in the member's language; a staff-typed group name stays as typed."""

from __future__ import annotations

import pytest

from pegasus.errors import PermissionDenied
from pegasus.i18n import use_locale
from pegasus.services.role_delegations import Configurer, RoleFacts, require_can_delegate
from pegasus.services.rolemenus.selection import OneRolePerGroup, TooManyRoles


def test_a_cap_refusal_is_counted_in_spanish() -> None:
    with use_locale("es"):
        assert str(TooManyRoles(1)) == (
            "Puedes tener como máximo 1 rol de este menú: devuelve uno primero."
        )
        assert str(TooManyRoles(3)) == (
            "Puedes tener como máximo 3 roles de este menú: devuelve uno primero."
        )
    assert (
        str(TooManyRoles(1)) == "You can have at most 1 role from this menu: give one back first."
    )


def test_a_group_refusal_in_german_keeps_the_group_as_typed() -> None:
    with use_locale("de"):
        refusal = OneRolePerGroup("{colours}", [1, 2])
    assert str(refusal) == (
        "<@&1> und <@&2> sind beide in der Gruppe {colours}: du kannst nur eine davon haben."
    )


def test_elevated_permissions_are_named_in_french() -> None:
    role = RoleFacts(id=9, position=2, permissions=(1 << 2) | (1 << 1))
    bot_top = RoleFacts(id=1, position=10, permissions=0)
    invoker = Configurer(
        is_owner=False,
        is_administrator=False,
        top_role=RoleFacts(id=3, position=5, permissions=0),
    )
    with use_locale("fr"), pytest.raises(PermissionDenied) as refused:
        require_can_delegate(role, bot_top, invoker)
    assert str(refused.value) == (
        "<@&9> a Bannir des membres et Expulser des membres : seul le propriétaire du serveur "
        "ou un membre Administrateur peut me le faire donner."
    )
