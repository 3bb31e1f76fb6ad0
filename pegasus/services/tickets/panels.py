"""Ticket panels: the messages with buttons that open tickets, and the rules for their buttons."""

from __future__ import annotations

import re
from collections.abc import Sequence
from random import Random
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.ids import new_public_id
from models.tickets import TicketPanel
from pegasus.errors import ConflictError, ValidationError, shown_input
from pegasus.i18n import _, format_number, ngettext
from pegasus.services import ids
from pegasus.services.audit import ensure_rows, record_change
from pegasus.services.colours import parse_optional_colour
from pegasus.services.directory import ensure_guild

from .results import DEFAULT_NAME_FORMAT, ButtonStyle, PanelButton, PanelInfo

PANEL_ID_PREFIX = "TP"
MAX_BUTTONS = 5
MAX_TICKETS_PER_USER = 25
MAX_CHANNEL_NAME = 100
MAX_NAME_FORMAT = 90  # room for the four-digit number and a short name within MAX_CHANNEL_NAME
NAME_PLACEHOLDERS = ("number", "user")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_CHANNEL_UNSAFE = re.compile(r"[^\w-]+")
_CUSTOM_EMOJI = re.compile(r"^<a?:\w{2,32}:\d{15,21}>$")


def panel_buttons(panel: PanelInfo | TicketPanel) -> list[PanelButton]:
    if isinstance(panel, PanelInfo):
        return list(panel.buttons)
    return [PanelButton.from_json(data) for data in panel.buttons]


def parse_color(text: str | None) -> int | None:
    """A panel's colour, in the one grammar of colours (pegasus.services.colours); None or
    nothing typed → None."""
    return parse_optional_colour(text)


def validate_emoji(text: str | None) -> str | None:
    """One Unicode emoji (🎫, with modifiers) or a custom one (`<:help:123...>`); else refused,
    since Discord would refuse the whole panel message for a bad emoji."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    is_custom = _CUSTOM_EMOJI.match(cleaned) is not None
    looks_unicode = len(cleaned) <= 16 and not any(
        ch.isascii() and (ch.isalnum() or ch.isspace() or ch in "<>:") for ch in cleaned
    )
    if not (is_custom or looks_unicode):
        raise ValidationError(
            _(
                "{text} is not an emoji: use one emoji such as 🎫, or a custom emoji of this "
                "server (type it as :name: in Discord)."
            ).format(text=shown_input(cleaned))
        )
    return cleaned


def validate_name_format(name_format: str) -> str:
    """A channel name template using only {number} and {user}."""
    cleaned = name_format.strip()
    if len(cleaned) > MAX_NAME_FORMAT:
        raise ValidationError(
            _("The channel name format can be at most {count} characters long.").format(
                count=format_number(MAX_NAME_FORMAT)
            )
        )
    unknown = [p for p in _PLACEHOLDER.findall(cleaned) if p not in NAME_PLACEHOLDERS]
    if unknown or cleaned.count("{") != cleaned.count("}"):
        raise ValidationError(
            _("The channel name format may only use {number} and {user}, e.g. `ticket-{number}`.")
        )
    if not channel_name_from(cleaned, number=1, user_name="user"):
        raise ValidationError(_("The channel name format gives an empty name."))
    return cleaned


def channel_name_from(name_format: str, *, number: int, user_name: str) -> str:
    """Fill the template and make a valid Discord text-channel name: `ticket-0001`."""
    filled = name_format.replace("{number}", f"{number:04d}").replace("{user}", user_name)
    return clean_channel_name(filled)


def clean_channel_name(name: str) -> str:
    """Lower case, white space to dashes, only letters, digits, `-` and `_`, at most 100 chars."""
    lowered = "-".join(name.strip().lower().split())
    return _CHANNEL_UNSAFE.sub("", lowered).strip("-")[:MAX_CHANNEL_NAME]


def _validate_panel_text(title: str | None, description: str | None) -> None:
    if title is not None and not 1 <= len(title.strip()) <= 256:
        raise ValidationError(_("The panel title must be 1 to 256 characters long."))
    if description is not None and not 1 <= len(description.strip()) <= 4000:
        raise ValidationError(
            _("The panel description must be 1 to {count} characters long.").format(
                count=format_number(4000)
            )
        )


def _validate_max_per_user(value: int) -> None:
    if not 1 <= value <= MAX_TICKETS_PER_USER:
        raise ValidationError(
            _("The number of open tickets per member must be from 1 to {maximum}.").format(
                maximum=format_number(MAX_TICKETS_PER_USER)
            )
        )


async def create_panel(
    guild_id: int,
    *,
    title: str,
    description: str,
    support_role_ids: Sequence[int] = (),
    category_id: int | None = None,
    max_tickets_per_user: int = 1,
    color: int | None = None,
    rng: Random | None = None,
    actor_id: int | None = None,
) -> PanelInfo:
    """A new panel without buttons yet; returns it with its public id (e.g. `TP-7K2QX`)."""
    _validate_panel_text(title, description)
    _validate_max_per_user(max_tickets_per_user)
    await ensure_guild(guild_id)
    await ensure_rows(None, [actor_id])
    for _attempt in range(5):
        try:
            row = await TicketPanel.create(
                panel_id=new_public_id(PANEL_ID_PREFIX, rng=rng),
                guild_id=guild_id,
                title=title.strip(),
                description=description.strip(),
                support_role_ids=list(support_role_ids),
                category_id=category_id,
                max_tickets_per_user=max_tickets_per_user,
                color=color,
            )
        except IntegrityError:
            continue  # the drawn id is taken (rare): draw again
        created = PanelInfo.from_row(row)
        await _audit(guild_id, actor_id, "tickets.panel.create", None, created)
        return created
    raise ConflictError(_("Could not find a free panel id; please try again."))


async def get_panel(guild_id: int, panel_id: str) -> PanelInfo:
    key = ids.TICKET_PANEL.parse(panel_id)
    panel = await TicketPanel.get_or_none(guild_id=guild_id, panel_id=key)
    if panel is None:
        raise ids.TICKET_PANEL.not_found(panel_id)
    return PanelInfo.from_row(panel)


async def list_panels(guild_id: int) -> list[PanelInfo]:
    rows = await TicketPanel.filter(guild_id=guild_id).order_by("id")
    return [PanelInfo.from_row(row) for row in rows]


async def add_button(
    guild_id: int,
    panel_id: str,
    *,
    label: str,
    style: ButtonStyle = ButtonStyle.PRIMARY,
    emoji: str | None = None,
    category_id: int | None = None,
    support_role_ids: Sequence[int] = (),
    name_format: str = DEFAULT_NAME_FORMAT,
    welcome_message: str | None = None,
    actor_id: int | None = None,
) -> PanelInfo:
    """Add a ticket type (a button) to a panel; at most five per panel."""
    await ensure_rows(None, [actor_id])
    label = label.strip()
    if not 1 <= len(label) <= 80:
        raise ValidationError(_("A button label must be 1 to 80 characters long."))
    if welcome_message is not None and len(welcome_message) > 2000:
        raise ValidationError(
            _("The welcome message can be at most {count} characters long.").format(
                count=format_number(2000)
            )
        )
    button = PanelButton(
        label=label,
        style=style,
        emoji=validate_emoji(emoji),
        category_id=category_id,
        support_role_ids=tuple(support_role_ids),
        name_format=validate_name_format(name_format),
        welcome_message=(welcome_message or "").strip() or None,
    )
    async with in_transaction() as conn:
        panel = await lock_panel(guild_id, panel_id, conn)
        if len(panel.buttons) >= MAX_BUTTONS:
            raise ConflictError(
                _("Panel {panel} already has {count} buttons.").format(
                    panel=f"`{panel.panel_id}`", count=format_number(MAX_BUTTONS)
                )
            )
        before = PanelInfo.from_row(panel)
        panel.buttons = [*panel.buttons, button.to_json()]
        await TicketPanel.filter(id=panel.id).using_db(conn).update(buttons=panel.buttons)
        after = PanelInfo.from_row(panel)
        await _audit(guild_id, actor_id, "tickets.panel.button", before, after, using_db=conn)
    return after


async def edit_panel(
    guild_id: int,
    panel_id: str,
    *,
    title: str | None = None,
    description: str | None = None,
    color: int | None = None,
    support_role_ids: Sequence[int] | None = None,
    category_id: int | None = None,
    max_tickets_per_user: int | None = None,
    is_active: bool | None = None,
    remove_button: int | None = None,
    actor_id: int | None = None,
) -> PanelInfo:
    """Change what was given; `remove_button` is the 1-based position of a button to remove."""
    _validate_panel_text(title, description)
    if max_tickets_per_user is not None:
        _validate_max_per_user(max_tickets_per_user)
    await ensure_rows(None, [actor_id])
    async with in_transaction() as conn:
        panel = await lock_panel(guild_id, panel_id, conn)
        before = PanelInfo.from_row(panel)
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("title", title and title.strip()),
                ("description", description and description.strip()),
                ("color", color),
                ("support_role_ids", None if support_role_ids is None else list(support_role_ids)),
                ("category_id", category_id),
                ("max_tickets_per_user", max_tickets_per_user),
                ("is_active", is_active),
            )
            if value is not None
        }
        if remove_button is not None:
            if not 1 <= remove_button <= len(panel.buttons):
                count = len(panel.buttons)
                raise ValidationError(
                    ngettext(
                        "Panel {panel} has {count} button: give a position from 1 to {count}.",
                        "Panel {panel} has {count} buttons: give a position from 1 to {count}.",
                        count,
                    ).format(panel=f"`{panel.panel_id}`", count=format_number(count))
                )
            changes["buttons"] = [b for i, b in enumerate(panel.buttons) if i != remove_button - 1]
        if not changes:
            raise ValidationError(_("Nothing to change: give at least one option."))
        await TicketPanel.filter(id=panel.id).using_db(conn).update(**changes)
        for name, value in changes.items():
            setattr(panel, name, value)
        after = PanelInfo.from_row(panel)
        await _audit(guild_id, actor_id, "tickets.panel.edit", before, after, using_db=conn)
    return after


async def record_panel_message(
    guild_id: int, panel_id: str, channel_id: int, message_id: int
) -> None:
    """Remember where the panel was sent, so edits can refresh it."""
    key = ids.TICKET_PANEL.key(panel_id)
    if key is not None:
        await TicketPanel.filter(guild_id=guild_id, panel_id=key).update(
            channel_id=channel_id, message_id=message_id
        )


async def delete_panel(guild_id: int, panel_id: str, *, actor_id: int | None = None) -> PanelInfo:
    """Delete a panel; its tickets stay (their panel becomes empty). Returns the deleted panel."""
    panel = await get_panel(guild_id, panel_id)
    await ensure_rows(None, [actor_id])
    await TicketPanel.filter(id=panel.pk).delete()
    await _audit(guild_id, actor_id, "tickets.panel.delete", panel, None)
    return panel


async def _audit(
    guild_id: int,
    actor_id: int | None,
    action: str,
    before: PanelInfo | None,
    after: PanelInfo | None,
    *,
    using_db: BaseDBAsyncClient | None = None,
) -> None:
    panel = after or before
    assert panel is not None
    await record_change(
        guild_id,
        actor_id,
        action,
        "ticket_panels",
        panel.panel_id,
        before,
        after,
        using_db=using_db,
    )


async def lock_panel(guild_id: int, panel_id: str, conn: BaseDBAsyncClient) -> TicketPanel:
    panel = (
        await TicketPanel.filter(guild_id=guild_id, panel_id=ids.TICKET_PANEL.parse(panel_id))
        .select_for_update()
        .using_db(conn)
        .first()
    )
    if panel is None:
        raise ids.TICKET_PANEL.not_found(panel_id)
    return panel


async def support_role_ids(guild_id: int) -> set[int]:
    """Every support role of the guild's panels and their buttons: who counts as ticket staff
    outside a ticket (e.g. for statistics)."""
    roles: set[int] = set()
    for panel in await TicketPanel.filter(guild_id=guild_id).only("support_role_ids", "buttons"):
        roles.update(panel.support_role_ids)
        for button in panel_buttons(panel):
            roles.update(button.support_role_ids)
    return roles
