"""Role menus service on the real database: setting menus up, limits under concurrency, audit,
and what the privacy commands export and erase."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from random import Random

import pytest

from models.rolemenus import RoleMenu, RoleMenuOption, RoleMenuStyle
from models.security import AuditLog
from pegasus.errors import ConflictError, NotFoundError, ValidationError
from pegasus.services import rolemenus as svc
from pegasus.services.privacy import erase_member, export_member

pytestmark = pytest.mark.usefixtures("db")

GUILD, OTHER_GUILD = 1_000, 2_000
STAFF, OTHER_STAFF = 21, 22
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def test_a_menu_is_set_up_changed_and_deleted_with_an_audit_trail() -> None:
    menu = await svc.create_menu(GUILD, STAFF, title=" Roles ", max_roles=2, rng=Random(1))
    assert menu.menu_id.startswith("RM-") and menu.title == "Roles" and menu.created_by == STAFF
    await svc.add_option(GUILD, menu.menu_id, STAFF, role_id=501, label="Red", group=" Colour ")
    changed = await svc.add_option(
        GUILD, menu.menu_id.lower(), STAFF, role_id=502, label="News", emoji="📰",
        description="Announcements",
    )
    assert [(o.role_id, o.group) for o in changed.options] == [(501, "colour"), (502, None)]
    assert changed.rules.max_roles == 2 and changed.rules.group_of(501) == "colour"

    edited = await svc.edit_menu(
        GUILD, menu.menu_id, OTHER_STAFF, style=RoleMenuStyle.SELECT, required_role_id=900
    )
    assert edited.style is RoleMenuStyle.SELECT and edited.required_role_id == 900
    cleared = await svc.edit_menu(GUILD, menu.menu_id, OTHER_STAFF, clear_required_role=True)
    assert cleared.required_role_id is None

    removed = await svc.remove_option(GUILD, menu.menu_id, STAFF, role_id=501)
    assert [o.role_id for o in removed.options] == [502]
    await svc.record_sent(GUILD, menu.key, 77, 88)
    assert (await svc.get_menu_by_key(GUILD, menu.key)).message_id == 88
    deleted = await svc.delete_menu(GUILD, menu.menu_id, STAFF)
    assert deleted.message_id == 88
    assert not await RoleMenuOption.exists()

    actions = await AuditLog.filter(guild_id=GUILD).values_list("action", flat=True)
    assert sorted(actions) == sorted([
        "rolemenu.create", "rolemenu.option.add", "rolemenu.option.add", "rolemenu.edit",
        "rolemenu.edit", "rolemenu.option.remove", "rolemenu.delete",
    ])
    last = await AuditLog.filter(action="rolemenu.delete").get()
    assert last.after is None and last.before["options"][0]["role_id"] == 502


async def test_refusals_name_what_to_do() -> None:
    menu = await svc.create_menu(GUILD, STAFF, title="Roles", required_role_id=900)
    with pytest.raises(ValidationError, match="requires"):
        await svc.add_option(GUILD, menu.menu_id, STAFF, role_id=900, label="Verified")
    await svc.add_option(GUILD, menu.menu_id, STAFF, role_id=501, label="Red")
    with pytest.raises(ConflictError, match="already"):
        await svc.add_option(GUILD, menu.menu_id, STAFF, role_id=501, label="Red again")
    with pytest.raises(ValidationError, match="can't also be the role it requires"):
        await svc.edit_menu(GUILD, menu.menu_id, STAFF, required_role_id=501)
    with pytest.raises(ValidationError, match="not an emoji"):
        await svc.add_option(GUILD, menu.menu_id, STAFF, role_id=502, label="X", emoji="abc")
    with pytest.raises(ValidationError, match="from 1 to 25"):
        await svc.create_menu(GUILD, STAFF, title="Too many", max_roles=26)
    with pytest.raises(ValidationError, match="Nothing to change"):
        await svc.edit_menu(GUILD, menu.menu_id, STAFF)
    with pytest.raises(NotFoundError, match="no role menu"):
        await svc.get_menu(OTHER_GUILD, menu.menu_id)  # another server's menu is not found
    with pytest.raises(NotFoundError, match="deleted"):
        await svc.get_menu_by_key(OTHER_GUILD, menu.key)
    with pytest.raises(NotFoundError, match="does not offer"):
        await svc.remove_option(GUILD, menu.menu_id, STAFF, role_id=777)


async def test_staff_racing_for_the_last_places_never_pass_25_roles() -> None:
    menu = await svc.create_menu(GUILD, STAFF, title="Many")
    for n in range(20):
        await svc.add_option(GUILD, menu.menu_id, STAFF, role_id=1_000 + n, label=f"R{n}")

    async def add(role_id: int) -> bool:
        try:
            await svc.add_option(GUILD, menu.menu_id, STAFF, role_id=role_id, label="Late")
        except ConflictError:
            return False
        return True

    added = await asyncio.gather(*(add(2_000 + n) for n in range(12)))
    assert added.count(True) == svc.MAX_OPTIONS - 20
    assert await RoleMenuOption.filter(menu_id=menu.key).count() == svc.MAX_OPTIONS


async def test_privacy_exports_the_menus_a_member_created_and_erasure_forgets_them() -> None:
    made = await svc.create_menu(GUILD, STAFF, title="Staff's menu")
    await svc.create_menu(GUILD, OTHER_STAFF, title="Someone else's")
    export = await export_member(GUILD, STAFF, now=NOW, requested_by_member=False)
    mine = export.document["features"]["rolemenus"]["data"]["role_menus_you_created"]
    assert [menu["menu_id"] for menu in mine] == [made.menu_id]

    await erase_member(GUILD, STAFF, actor_id=None, now=NOW)
    assert await RoleMenu.filter(created_by_id=STAFF).count() == 0
    assert await RoleMenu.filter(menu_id=made.menu_id).exists()  # the menu stays
    assert await RoleMenu.filter(created_by_id=OTHER_STAFF).count() == 1
