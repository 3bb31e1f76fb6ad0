"""Role menus as staff set them up: create, add and remove roles, edit, delete, where each is sent.

Discord shows at most 25 options in a select menu and 25 buttons on a message (five rows of
five), so a menu offers at most 25 roles. Each change of a menu takes the menu's row lock, so two
staff members adding the 25th role at once cannot both succeed, and is audited with the menu as
it was and as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from random import Random
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.ids import new_public_id
from models.rolemenus import RoleMenu, RoleMenuOption, RoleMenuStyle
from pegasus.errors import ConflictError, NotFoundError, ValidationError, role_ref
from pegasus.i18n import N_, _, format_number
from pegasus.services.audit import ensure_rows, record_change
from pegasus.services.ids import PublicIdKind
from pegasus.services.tickets import validate_emoji

from .selection import MenuRules, OptionRule

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
    "add_option",
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
]

MENU_ID_PREFIX = "RM"
MENU_ID = PublicIdKind("There is no role menu {id} here; see `/rolemenu list`.")
MAX_OPTIONS = 25  # Discord: 25 select options, or 5 rows of 5 buttons
MAX_MENUS = 50
MAX_TITLE = 256
MAX_DESCRIPTION = 4000
MAX_LABEL = 80  # a button's label
MAX_OPTION_DESCRIPTION = 100  # a select option's description
MAX_GROUP = 32


@dataclass(frozen=True, slots=True)
class MenuOption:
    role_id: int
    label: str
    emoji: str | None = None
    description: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class MenuInfo:
    key: int  # the row's id, carried in the custom ids of the sent message's components
    menu_id: str  # what people type: "RM-7K2QX"
    guild_id: int
    title: str
    description: str
    style: RoleMenuStyle
    max_roles: int
    required_role_id: int | None
    channel_id: int | None
    message_id: int | None
    created_by: int | None
    options: tuple[MenuOption, ...] = ()

    @property
    def rules(self) -> MenuRules:
        return MenuRules(
            options=tuple(OptionRule(o.role_id, o.group) for o in self.options),
            max_roles=self.max_roles,
            required_role_id=self.required_role_id,
        )

    def option(self, role_id: int) -> MenuOption | None:
        return next((o for o in self.options if o.role_id == role_id), None)

    def audited(self) -> dict[str, Any]:
        """The menu as the audit log keeps it (without where it was sent)."""
        shown = asdict(self)
        for name in ("key", "channel_id", "message_id"):
            shown.pop(name)
        shown["style"] = self.style.value
        return shown


def _menu_info(row: RoleMenu, options: list[RoleMenuOption]) -> MenuInfo:
    return MenuInfo(
        key=row.id,
        menu_id=row.menu_id,
        guild_id=row.guild_id,
        title=row.title,
        description=row.description,
        style=RoleMenuStyle(row.style),
        max_roles=row.max_roles,
        required_role_id=row.required_role_id,
        channel_id=row.channel_id,
        message_id=row.message_id,
        created_by=row.created_by_id,
        options=tuple(
            MenuOption(o.role_id, o.label, o.emoji, o.description, o.exclusive_group)
            for o in sorted(options, key=lambda option: option.id)
        ),
    )


async def _load(row: RoleMenu, conn: BaseDBAsyncClient | None = None) -> MenuInfo:
    query = RoleMenuOption.filter(menu_id=row.id)
    options = await (query.using_db(conn) if conn is not None else query)
    return _menu_info(row, list(options))


# Each text's refusals: empty, too long.
_TEXT_REFUSALS = {
    "title": (
        N_("The title can't be empty."),
        N_("The title can be at most {limit} characters long."),
    ),
    "description": (
        N_("The description can't be empty."),
        N_("The description can be at most {limit} characters long."),
    ),
    "label": (
        N_("The label can't be empty."),
        N_("The label can be at most {limit} characters long."),
    ),
    "role's description": (
        N_("The role's description can't be empty."),
        N_("The role's description can be at most {limit} characters long."),
    ),
    "group name": (
        N_("The group name can't be empty."),
        N_("The group name can be at most {limit} characters long."),
    ),
}


def _clean_text(value: str, what: str, limit: int, *, allow_empty: bool = False) -> str:
    empty, too_long = _TEXT_REFUSALS[what]
    cleaned = value.strip()
    if not cleaned and not allow_empty:
        raise ValidationError(_(empty))
    if len(cleaned) > limit:
        raise ValidationError(_(too_long).format(limit=format_number(limit)))
    return cleaned


def _check_max_roles(max_roles: int) -> int:
    if not 0 <= max_roles <= MAX_OPTIONS:
        raise ValidationError(
            _(
                "The most roles a member may take from one menu is a number from 1 to {limit}, "
                "or 0 for no limit."
            ).format(limit=MAX_OPTIONS)
        )
    return max_roles


def _clean_group(group: str | None) -> str | None:
    if group is None or not group.strip():
        return None
    return _clean_text(group, "group name", MAX_GROUP).casefold()


async def create_menu(
    guild_id: int,
    actor_id: int | None,
    *,
    title: str,
    description: str = "",
    style: RoleMenuStyle = RoleMenuStyle.BUTTONS,
    max_roles: int = 0,
    required_role_id: int | None = None,
    rng: Random | None = None,
) -> MenuInfo:
    """A new menu without roles yet, with its public id (e.g. `RM-7K2QX`)."""
    title = _clean_text(title, "title", MAX_TITLE)
    description = _clean_text(description, "description", MAX_DESCRIPTION, allow_empty=True)
    _check_max_roles(max_roles)
    await ensure_rows(guild_id, [actor_id])
    if await RoleMenu.filter(guild_id=guild_id).count() >= MAX_MENUS:
        raise ConflictError(
            _(
                "This server has {count} role menus already: delete one with `/rolemenu delete`."
            ).format(count=MAX_MENUS)
        )
    for _attempt in range(5):
        try:
            row = await RoleMenu.create(
                menu_id=new_public_id(MENU_ID_PREFIX, rng=rng),
                guild_id=guild_id,
                title=title,
                description=description,
                style=style,
                max_roles=max_roles,
                required_role_id=required_role_id,
                created_by_id=actor_id,
            )
        except IntegrityError:
            continue  # the drawn id is taken (rare): draw again
        created = _menu_info(row, [])
        await _audit(actor_id, "rolemenu.create", None, created)
        return created
    raise ConflictError(_("Could not find a free role menu id; please try again."))


async def get_menu(guild_id: int, menu_id: str) -> MenuInfo:
    row = await RoleMenu.get_or_none(guild_id=guild_id, menu_id=MENU_ID.parse(menu_id))
    if row is None:
        raise MENU_ID.not_found(menu_id)
    return await _load(row)


async def get_menu_by_key(guild_id: int, key: int) -> MenuInfo:
    """The menu behind a sent message's components (their custom ids carry `key`)."""
    row = await RoleMenu.get_or_none(guild_id=guild_id, id=key)
    if row is None:
        raise NotFoundError(_("This role menu was deleted; ask the staff for a new one."))
    return await _load(row)


async def list_menus(guild_id: int) -> list[MenuInfo]:
    rows = await RoleMenu.filter(guild_id=guild_id).order_by("id")
    options = await RoleMenuOption.filter(menu__guild_id=guild_id)
    by_menu: dict[int, list[RoleMenuOption]] = {}
    for option in options:
        by_menu.setdefault(option.menu_id, []).append(option)
    return [_menu_info(row, by_menu.get(row.id, [])) for row in rows]


async def _lock(guild_id: int, menu_id: str, conn: BaseDBAsyncClient) -> RoleMenu:
    row = await (
        RoleMenu.filter(guild_id=guild_id, menu_id=MENU_ID.parse(menu_id))
        .select_for_update()
        .using_db(conn)
        .first()
    )
    if row is None:
        raise MENU_ID.not_found(menu_id)
    return row


async def add_option(
    guild_id: int,
    menu_id: str,
    actor_id: int | None,
    *,
    role_id: int,
    label: str,
    emoji: str | None = None,
    description: str | None = None,
    group: str | None = None,
) -> MenuInfo:
    """Offer `role_id` in the menu; at most MAX_OPTIONS roles, each once."""
    option = MenuOption(
        role_id=role_id,
        label=_clean_text(label, "label", MAX_LABEL),
        emoji=validate_emoji(emoji),
        description=_clean_text(
            description or "", "role's description", MAX_OPTION_DESCRIPTION, allow_empty=True
        )
        or None,
        group=_clean_group(group),
    )
    await ensure_rows(guild_id, [actor_id])
    async with in_transaction() as conn:
        row = await _lock(guild_id, menu_id, conn)
        before = await _load(row, conn)
        if before.required_role_id == role_id:
            raise ValidationError(
                _("{role} is the role this menu requires: offer another role."),
                role=role_ref(role_id),
            )
        if before.option(role_id) is not None:
            raise ConflictError(
                _("Menu `{menu}` offers {role} already.").format(
                    menu=before.menu_id, role="{role}"
                ),
                role=role_ref(role_id),
            )
        if len(before.options) >= MAX_OPTIONS:
            raise ConflictError(
                _(
                    "Menu `{menu}` offers {count} roles already, the most Discord shows on one "
                    "message: remove one first."
                ).format(menu=before.menu_id, count=MAX_OPTIONS)
            )
        await RoleMenuOption.create(
            menu_id=row.id,
            role_id=option.role_id,
            label=option.label,
            emoji=option.emoji,
            description=option.description,
            exclusive_group=option.group,
            using_db=conn,
        )
        after = await _load(row, conn)
        await _audit(actor_id, "rolemenu.option.add", before, after, using_db=conn)
    return after


async def remove_option(
    guild_id: int, menu_id: str, actor_id: int | None, *, role_id: int
) -> MenuInfo:
    await ensure_rows(guild_id, [actor_id])
    async with in_transaction() as conn:
        row = await _lock(guild_id, menu_id, conn)
        before = await _load(row, conn)
        if before.option(role_id) is None:
            raise NotFoundError(
                _("Menu `{menu}` does not offer {role}.").format(
                    menu=before.menu_id, role="{role}"
                ),
                role=role_ref(role_id),
            )
        await RoleMenuOption.filter(menu_id=row.id, role_id=role_id).using_db(conn).delete()
        after = await _load(row, conn)
        await _audit(actor_id, "rolemenu.option.remove", before, after, using_db=conn)
    return after


async def edit_menu(
    guild_id: int,
    menu_id: str,
    actor_id: int | None,
    *,
    title: str | None = None,
    description: str | None = None,
    style: RoleMenuStyle | None = None,
    max_roles: int | None = None,
    required_role_id: int | None = None,
    clear_required_role: bool = False,
) -> MenuInfo:
    """Change what was given; `clear_required_role` lets everyone use the menu again."""
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _clean_text(title, "title", MAX_TITLE)
    if description is not None:
        changes["description"] = _clean_text(
            description, "description", MAX_DESCRIPTION, allow_empty=True
        )
    if style is not None:
        changes["style"] = style
    if max_roles is not None:
        changes["max_roles"] = _check_max_roles(max_roles)
    if required_role_id is not None and clear_required_role:
        raise ValidationError(_("Give a required role or clear it, not both."))
    if required_role_id is not None or clear_required_role:
        changes["required_role_id"] = required_role_id
    if not changes:
        raise ValidationError(_("Nothing to change: give at least one option."))
    await ensure_rows(guild_id, [actor_id])
    async with in_transaction() as conn:
        row = await _lock(guild_id, menu_id, conn)
        before = await _load(row, conn)
        if required_role_id is not None and before.option(required_role_id) is not None:
            raise ValidationError(
                _("{role} is offered by this menu, so it can't also be the role it requires."),
                role=role_ref(required_role_id),
            )
        await RoleMenu.filter(id=row.id).using_db(conn).update(**changes)
        for name, value in changes.items():
            setattr(row, name, value)
        after = await _load(row, conn)
        await _audit(actor_id, "rolemenu.edit", before, after, using_db=conn)
    return after


async def delete_menu(guild_id: int, menu_id: str, actor_id: int | None) -> MenuInfo:
    """Delete the menu and its roles; returns it as it was, to remove its sent message."""
    await ensure_rows(guild_id, [actor_id])
    async with in_transaction() as conn:
        row = await _lock(guild_id, menu_id, conn)
        before = await _load(row, conn)
        await RoleMenu.filter(id=row.id).using_db(conn).delete()
        await _audit(actor_id, "rolemenu.delete", before, None, using_db=conn)
    return before


async def forget_role(guild_id: int, role_id: int) -> list[MenuInfo]:
    """A role was deleted in Discord: no menu offers or requires it any more. Returns the menus
    that changed, as they are now, to refresh their sent messages."""
    offering = await RoleMenuOption.filter(menu__guild_id=guild_id, role_id=role_id).values_list(
        "menu_id", flat=True
    )
    requiring = await RoleMenu.filter(guild_id=guild_id, required_role_id=role_id).values_list(
        "id", flat=True
    )
    changed: list[MenuInfo] = []
    for key in sorted({*offering, *requiring}):
        async with in_transaction() as conn:
            row = await RoleMenu.filter(id=key).select_for_update().using_db(conn).first()
            if row is None:
                continue  # deleted meanwhile
            before = await _load(row, conn)
            await RoleMenuOption.filter(menu_id=key, role_id=role_id).using_db(conn).delete()
            if row.required_role_id == role_id:
                row.required_role_id = None
                await RoleMenu.filter(id=key).using_db(conn).update(required_role_id=None)
            after = await _load(row, conn)
            await _audit(None, "rolemenu.role_deleted", before, after, using_db=conn)
        changed.append(after)
    return changed


async def record_sent(guild_id: int, key: int, channel_id: int, message_id: int) -> None:
    """Remember where the menu was sent, so a change of it refreshes that message."""
    await RoleMenu.filter(guild_id=guild_id, id=key).update(
        channel_id=channel_id, message_id=message_id
    )


async def forget_message(guild_id: int, key: int, message_id: int) -> None:
    """The sent message is gone (deleted by someone): stop refreshing it."""
    await RoleMenu.filter(guild_id=guild_id, id=key, message_id=message_id).update(
        channel_id=None, message_id=None
    )


async def _audit(
    actor_id: int | None,
    action: str,
    before: MenuInfo | None,
    after: MenuInfo | None,
    *,
    using_db: BaseDBAsyncClient | None = None,
) -> None:
    menu = after or before
    assert menu is not None
    await record_change(
        menu.guild_id,
        actor_id,
        action,
        "role_menus",
        menu.menu_id,
        before.audited() if before else None,
        after.audited() if after else None,
        using_db=using_db,
    )
