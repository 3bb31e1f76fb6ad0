"""Support tickets: panels, opening, claiming, locking, freezing, closing, ratings and statistics.

Functions take plain ids and values and raise `PegasusError`s whose text is shown to the member.
Who counts as staff is a Discord question (support roles, Manage Channels), so the caller says so in
an `Actor`; every rule about what staff, admins and openers may do lives here.

Concurrency:
* Ticket numbers come from `ticket_settings.last_number`, moved with `F() + 1` inside the opening
  transaction. On PostgreSQL that UPDATE holds the guild's settings row until commit, on SQLite the
  transaction holds the database, so two members opening at the same instant get distinct numbers,
  and the per-member limit is counted while no other opening of that guild can slip in between.
* Every status change reads the ticket with `SELECT ... FOR UPDATE` in a transaction, decides, and
  writes; two staff clicking Close at once close it once, and the second is told it is closed.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from random import Random
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models.ids import new_public_id
from models.tickets import Ticket, TicketMessage, TicketPanel, TicketSettings, TicketStatus
from pegasus.errors import (
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
    shown_input,
)
from pegasus.scheduler import cancel, schedule
from pegasus.services import ids
from pegasus.services.directory import ensure_guild, ensure_member, ensure_user
from pegasus.services.transcripts import (
    Transcript,
    TranscriptMessage,
    render_transcript,
    transcript_filename,
)

AUTOCLOSE_KIND = "ticket.autoclose"
PANEL_ID_PREFIX = "TP"
MAX_BUTTONS = 5
MAX_TICKETS_PER_USER = 25
MAX_AUTO_CLOSE_HOURS = 24 * 30
MAX_REASON = 1000
MAX_COMMENT = 1000
MAX_CHANNEL_NAME = 100
DEFAULT_NAME_FORMAT = "ticket-{number}"
DEFAULT_WELCOME = (
    "Thanks for reaching out, {user}. Describe your problem and a staff member will be with you "
    "soon."
)
NAME_PLACEHOLDERS = ("number", "user")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_CHANNEL_UNSAFE = re.compile(r"[^\w-]+")
_HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{6})$")
_CUSTOM_EMOJI = re.compile(r"^<a?:\w{2,32}:\d{15,21}>$")


class ButtonStyle(StrEnum):
    """Discord's button colours, by the names people see in the command options."""

    PRIMARY = "primary"  # blurple
    SECONDARY = "secondary"  # grey
    SUCCESS = "success"  # green
    DANGER = "danger"  # red


@dataclass(frozen=True)
class Actor:
    """Who acts, and what Discord says they are in this guild.

    `is_staff`: has one of the ticket's support roles, or Manage Channels.
    `is_admin`: Administrator or Manage Server; admins are staff too.
    """

    user_id: int
    is_staff: bool = False
    is_admin: bool = False

    @property
    def staff(self) -> bool:
        return self.is_staff or self.is_admin


@dataclass(frozen=True)
class PanelButton:
    label: str
    style: ButtonStyle = ButtonStyle.PRIMARY
    emoji: str | None = None
    category_id: int | None = None
    support_role_ids: tuple[int, ...] = ()
    name_format: str = DEFAULT_NAME_FORMAT
    welcome_message: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PanelButton:
        return cls(
            label=str(data.get("label") or "Open a ticket"),
            style=ButtonStyle(data.get("style") or ButtonStyle.PRIMARY),
            emoji=data.get("emoji") or None,
            category_id=data.get("category_id"),
            support_role_ids=tuple(data.get("support_role_ids") or ()),
            name_format=data.get("name_format") or DEFAULT_NAME_FORMAT,
            welcome_message=data.get("welcome_message") or None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "style": str(self.style),
            "emoji": self.emoji,
            "category_id": self.category_id,
            "support_role_ids": list(self.support_role_ids),
            "name_format": self.name_format,
            "welcome_message": self.welcome_message,
        }


def panel_buttons(panel: TicketPanel) -> list[PanelButton]:
    return [PanelButton.from_json(data) for data in panel.buttons]


@dataclass(frozen=True)
class OpenedTicket:
    """A ticket row waiting for its channel: what the caller needs to create it."""

    ticket: Ticket
    label: str  # the button's label: the kind of ticket
    channel_name: str
    category_id: int | None
    support_role_ids: tuple[int, ...]
    welcome_message: str


class AutoCloseVerdict(StrEnum):
    CLOSE = "close"  # inactive long enough: close it now
    WAIT = "wait"  # there was activity: a new timer was scheduled for `due_at`
    SKIP = "skip"  # closed already, deleted, or auto-close turned off


@dataclass(frozen=True)
class AutoCloseCheck:
    verdict: AutoCloseVerdict
    due_at: datetime | None = None
    hours: int | None = None


@dataclass(frozen=True)
class TicketStats:
    opened: int
    open_now: int
    handled: int  # closed tickets (guild), or tickets this member claimed or closed unclaimed
    rated: int
    average_rating: float | None
    median_first_response_seconds: float | None


# --------------------------------------------------------------------------------------------
# Settings


async def get_settings(
    guild_id: int, *, using_db: BaseDBAsyncClient | None = None
) -> TicketSettings:
    """The guild's ticket settings, created with defaults on first use."""
    await _ensure_settings(guild_id, using_db)
    return await TicketSettings.get(guild_id=guild_id).using_db(using_db)


async def _ensure_settings(guild_id: int, using_db: BaseDBAsyncClient | None) -> None:
    await ensure_guild(guild_id, using_db=using_db)
    await TicketSettings.bulk_create(
        [TicketSettings(guild_id=guild_id)], ignore_conflicts=True, using_db=using_db
    )


async def configure(
    guild_id: int,
    *,
    log_channel_id: int | None = None,
    clear_log_channel: bool = False,
    auto_close_hours: int | None = None,
) -> TicketSettings:
    """Change the transcript channel and/or the auto-close delay (0 hours turns it off).

    Arguments left as None are not changed. Open tickets pick up a new delay at their next
    timer: the auto-close handler always reads the current setting.
    """
    changes: dict[str, Any] = {}
    if clear_log_channel:
        changes["log_channel_id"] = None
    elif log_channel_id is not None:
        changes["log_channel_id"] = log_channel_id
    if auto_close_hours is not None:
        if not 0 <= auto_close_hours <= MAX_AUTO_CLOSE_HOURS:
            raise ValidationError(
                f"Auto-close takes a number of hours from 1 to {MAX_AUTO_CLOSE_HOURS:,}, "
                "or 0 to turn it off."
            )
        changes["auto_close_hours"] = auto_close_hours or None
    await _ensure_settings(guild_id, None)
    if changes:
        await TicketSettings.filter(guild_id=guild_id).update(**changes)
    return await TicketSettings.get(guild_id=guild_id)


# --------------------------------------------------------------------------------------------
# Panels


def parse_color(text: str | None) -> int | None:
    """`#5865F2` or `5865f2` → 0x5865F2; None or empty → None."""
    if text is None or not text.strip():
        return None
    match = _HEX_COLOR.match(text.strip())
    if match is None:
        raise ValidationError(
            f"{shown_input(text)} is not a colour: use a hex code such as #5865F2."
        )
    return int(match.group(1), 16)


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
            f"{shown_input(cleaned)} is not an emoji: use one emoji such as 🎫, or a custom emoji "
            "of this server (type it as :name: in Discord)."
        )
    return cleaned


def validate_name_format(name_format: str) -> str:
    """A channel name template using only {number} and {user}."""
    cleaned = name_format.strip()
    unknown = [p for p in _PLACEHOLDER.findall(cleaned) if p not in NAME_PLACEHOLDERS]
    if unknown or cleaned.count("{") != cleaned.count("}"):
        raise ValidationError(
            "The channel name format may only use {number} and {user}, e.g. `ticket-{number}`."
        )
    if not channel_name_from(cleaned, number=1, user_name="user"):
        raise ValidationError("The channel name format gives an empty name.")
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
        raise ValidationError("The panel title must be 1 to 256 characters long.")
    if description is not None and not 1 <= len(description.strip()) <= 4000:
        raise ValidationError("The panel description must be 1 to 4,000 characters long.")


def _validate_max_per_user(value: int) -> None:
    if not 1 <= value <= MAX_TICKETS_PER_USER:
        raise ValidationError(
            f"The number of open tickets per member must be from 1 to {MAX_TICKETS_PER_USER}."
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
) -> TicketPanel:
    """A new panel without buttons yet; returns it with its public id (e.g. `TP-7K2QX`)."""
    _validate_panel_text(title, description)
    _validate_max_per_user(max_tickets_per_user)
    await ensure_guild(guild_id)
    for _attempt in range(5):
        try:
            return await TicketPanel.create(
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
    raise ConflictError("Could not find a free panel id; please try again.")


async def get_panel(guild_id: int, panel_id: str) -> TicketPanel:
    key = ids.TICKET_PANEL.parse(panel_id)
    panel = await TicketPanel.get_or_none(guild_id=guild_id, panel_id=key)
    if panel is None:
        raise ids.TICKET_PANEL.not_found(panel_id)
    return panel


async def list_panels(guild_id: int) -> list[TicketPanel]:
    return await TicketPanel.filter(guild_id=guild_id).order_by("id")


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
) -> TicketPanel:
    """Add a ticket type (a button) to a panel; at most five per panel."""
    label = label.strip()
    if not 1 <= len(label) <= 80:
        raise ValidationError("A button label must be 1 to 80 characters long.")
    if welcome_message is not None and len(welcome_message) > 2000:
        raise ValidationError("The welcome message can be at most 2,000 characters long.")
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
        panel = await _lock_panel(guild_id, panel_id, conn)
        if len(panel.buttons) >= MAX_BUTTONS:
            raise ConflictError(f"Panel `{panel.panel_id}` already has {MAX_BUTTONS} buttons.")
        panel.buttons = [*panel.buttons, button.to_json()]
        await TicketPanel.filter(id=panel.id).using_db(conn).update(buttons=panel.buttons)
    return panel


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
) -> TicketPanel:
    """Change what was given; `remove_button` is the 1-based position of a button to remove."""
    _validate_panel_text(title, description)
    if max_tickets_per_user is not None:
        _validate_max_per_user(max_tickets_per_user)
    async with in_transaction() as conn:
        panel = await _lock_panel(guild_id, panel_id, conn)
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
                raise ValidationError(
                    f"Panel `{panel.panel_id}` has {len(panel.buttons)} button(s): "
                    f"give a position from 1 to {len(panel.buttons)}."
                )
            changes["buttons"] = [b for i, b in enumerate(panel.buttons) if i != remove_button - 1]
        if not changes:
            raise ValidationError("Nothing to change: give at least one option.")
        await TicketPanel.filter(id=panel.id).using_db(conn).update(**changes)
        for name, value in changes.items():
            setattr(panel, name, value)
    return panel


async def record_panel_message(
    guild_id: int, panel_id: str, channel_id: int, message_id: int
) -> None:
    """Remember where the panel was sent, so edits can refresh it."""
    key = ids.TICKET_PANEL.key(panel_id)
    if key is not None:
        await TicketPanel.filter(guild_id=guild_id, panel_id=key).update(
            channel_id=channel_id, message_id=message_id
        )


async def delete_panel(guild_id: int, panel_id: str) -> TicketPanel:
    """Delete a panel; its tickets stay (their panel becomes empty). Returns the deleted panel."""
    panel = await get_panel(guild_id, panel_id)
    await TicketPanel.filter(id=panel.id).delete()
    return panel


async def _lock_panel(guild_id: int, panel_id: str, conn: BaseDBAsyncClient) -> TicketPanel:
    panel = (
        await TicketPanel.filter(guild_id=guild_id, panel_id=ids.TICKET_PANEL.parse(panel_id))
        .select_for_update()
        .using_db(conn)
        .first()
    )
    if panel is None:
        raise ids.TICKET_PANEL.not_found(panel_id)
    return panel


# --------------------------------------------------------------------------------------------
# Opening


def _clean_reason(reason: str | None) -> str | None:
    cleaned = (reason or "").strip()
    if len(cleaned) > MAX_REASON:
        raise ValidationError(f"The reason can be at most {MAX_REASON:,} characters long.")
    return cleaned or None


async def open_ticket(
    guild_id: int,
    panel_id: str,
    button_index: int,
    user_id: int,
    *,
    reason: str | None,
    user_name: str,
    now: datetime,
    label: str | None = None,
) -> OpenedTicket:
    """Open a ticket from a panel button: draw the next number, check the member's limit.

    `label` is the clicked button's text, when known: see `_check_panel_button`.
    The ticket has no channel yet: create it, then call `attach_channel` (or `abandon_ticket` if
    Discord refused).
    """
    reason = _clean_reason(reason)
    async with in_transaction() as conn:
        await ensure_member(guild_id, user_id, using_db=conn)
        panel = await _panel_or_none(guild_id, panel_id, conn)
        button_index, button = _check_panel_button(panel, button_index, label)
        assert panel is not None
        number = await _next_number(guild_id, conn)
        await _check_limit(panel, user_id, conn)
        support_role_ids = button.support_role_ids or tuple(panel.support_role_ids)
        ticket = await Ticket.create(
            guild_id=guild_id,
            panel_id=panel.id,
            button_index=button_index,
            number=number,
            user_id=user_id,
            reason=reason,
            status=TicketStatus.OPEN,
            support_role_ids=list(support_role_ids),
            created_at=now,
            using_db=conn,
        )
    welcome = (button.welcome_message or DEFAULT_WELCOME).replace("{user}", f"<@{user_id}>")
    return OpenedTicket(
        ticket=ticket,
        label=button.label,
        channel_name=channel_name_from(button.name_format, number=number, user_name=user_name)
        or f"ticket-{number:04d}",
        category_id=button.category_id or panel.category_id,
        support_role_ids=support_role_ids,
        welcome_message=welcome,
    )


async def check_can_open(
    guild_id: int, panel_id: str, button_index: int, user_id: int, *, label: str | None = None
) -> PanelButton:
    """The checks of `open_ticket`, without opening: refuse before asking for a reason.
    Returns the button. `open_ticket` checks again under the guild's lock; this only spares a
    member filling in a form for nothing.
    """
    panel = await _panel_or_none(guild_id, panel_id, None)
    _, button = _check_panel_button(panel, button_index, label)
    assert panel is not None
    await _check_limit(panel, user_id, None)
    return button


async def reopened_channel_name(ticket: Ticket, user_name: str) -> str:
    """The channel name a reopened ticket gets: its button's format, if the button is still
    there, else `ticket-0012`."""
    name_format = DEFAULT_NAME_FORMAT
    panel = await TicketPanel.get_or_none(id=ticket.panel_id) if ticket.panel_id else None
    if panel is not None and ticket.button_index is not None:
        buttons = panel_buttons(panel)
        if 0 <= ticket.button_index < len(buttons):
            name_format = buttons[ticket.button_index].name_format
    return channel_name_from(name_format, number=ticket.number, user_name=user_name) or (
        f"ticket-{ticket.number:04d}"
    )


async def _panel_or_none(
    guild_id: int, panel_id: str, conn: BaseDBAsyncClient | None
) -> TicketPanel | None:
    key = ids.TICKET_PANEL.key(panel_id)
    if key is None:
        return None
    query = TicketPanel.get_or_none(guild_id=guild_id, panel_id=key)
    return await (query.using_db(conn) if conn is not None else query)


def _check_panel_button(
    panel: TicketPanel | None, button_index: int, label: str | None = None
) -> tuple[int, PanelButton]:
    """The button at `button_index`, with its (possibly corrected) position.

    A panel posted more than once is refreshed only where it was posted last, so an older copy
    keeps the positions it was sent with; after a button is removed they point at the wrong
    type. When the clicked `label` is given and the position no longer holds it, the button is
    found by its label, and refused if it is gone: never a ticket of another type.
    """
    if panel is None:
        raise NotFoundError("This ticket panel was deleted: ask the staff for a new one.")
    if not panel.is_active:
        raise ConflictError("This ticket panel is closed for now: try again later.")
    buttons = panel_buttons(panel)
    in_place = 0 <= button_index < len(buttons)
    if label is not None and not (in_place and buttons[button_index].label == label):
        button_index = next((i for i, b in enumerate(buttons) if b.label == label), -1)
        in_place = button_index >= 0
    if not in_place:
        raise NotFoundError("This button was removed from the panel: ask the staff.")
    return button_index, buttons[button_index]


async def _next_number(guild_id: int, conn: BaseDBAsyncClient) -> int:
    """Take the guild's next ticket number; holds the guild's counter row until commit."""
    await TicketSettings.bulk_create(
        [TicketSettings(guild_id=guild_id)], ignore_conflicts=True, using_db=conn
    )
    await (
        TicketSettings.filter(guild_id=guild_id)
        .using_db(conn)
        .update(last_number=F("last_number") + 1)
    )
    return await (
        TicketSettings.get(guild_id=guild_id).using_db(conn).values_list("last_number", flat=True)
    )


async def _check_limit(panel: TicketPanel, user_id: int, conn: BaseDBAsyncClient | None) -> None:
    open_channels = await (
        Ticket.filter(guild_id=panel.guild_id, panel_id=panel.id, user_id=user_id)
        .exclude(status=TicketStatus.CLOSED)
        .using_db(conn)
        .values_list("channel_id", flat=True)
    )
    if len(open_channels) >= panel.max_tickets_per_user:
        where = ", ".join(f"<#{c}>" for c in open_channels if c)
        raise ConflictError(
            f"You already have {len(open_channels)} open ticket(s) from this panel, the most "
            f"allowed is {panel.max_tickets_per_user}."
            + (f" Continue in {where}, or close it first." if where else "")
        )


async def attach_channel(ticket_id: UUID | str, channel_id: int, *, now: datetime) -> Ticket:
    """The ticket's channel exists: remember it and start the auto-close timer if enabled."""
    async with in_transaction() as conn:
        ticket = await _lock_ticket(ticket_id, conn)
        await (
            Ticket.filter(id=ticket.id).using_db(conn).update(channel_id=channel_id, updated_at=now)
        )
        ticket.channel_id = channel_id
        await _schedule_autoclose(ticket, now, conn)
    return ticket


async def abandon_ticket(ticket_id: UUID | str) -> None:
    """Discord refused to create the channel: forget the ticket (its number stays unused)."""
    async with in_transaction() as conn:
        await cancel(AUTOCLOSE_KIND, _autoclose_key(ticket_id), using_db=conn)
        await Ticket.filter(id=ticket_id).using_db(conn).delete()


# --------------------------------------------------------------------------------------------
# Lookup


async def get_ticket(ticket_id: UUID | str) -> Ticket:
    ticket = await Ticket.get_or_none(id=ticket_id)
    if ticket is None:
        raise NotFoundError("This ticket no longer exists.")
    return ticket


async def ticket_in_channel(guild_id: int, channel_id: int) -> Ticket:
    ticket = await Ticket.get_or_none(guild_id=guild_id, channel_id=channel_id)
    if ticket is None:
        raise NotFoundError("This is not a ticket channel: run the command inside a ticket.")
    return ticket


async def ticket_by_number(guild_id: int, number: int) -> Ticket:
    ticket = await Ticket.get_or_none(guild_id=guild_id, number=ids.TICKET_NUMBER.check(number))
    if ticket is None:
        raise ids.TICKET_NUMBER.not_found(number)
    return ticket


async def support_role_ids(guild_id: int) -> set[int]:
    """Every support role of the guild's panels and their buttons: who counts as ticket staff
    outside a ticket (e.g. for statistics)."""
    roles: set[int] = set()
    for panel in await TicketPanel.filter(guild_id=guild_id).only("support_role_ids", "buttons"):
        roles.update(panel.support_role_ids)
        for button in panel_buttons(panel):
            roles.update(button.support_role_ids)
    return roles


async def open_ticket_channels() -> dict[int, UUID]:
    """Channel id → ticket id of every ticket that is not closed: the message recorder's set."""
    rows = await (
        Ticket.filter(channel_id__not_isnull=True)
        .exclude(status=TicketStatus.CLOSED)
        .values_list("channel_id", "id")
    )
    return {channel_id: ticket_id for channel_id, ticket_id in rows}


# --------------------------------------------------------------------------------------------
# Status changes


def derive_status(ticket: Ticket) -> TicketStatus:
    """The most restrictive state wins: closed > frozen > locked > claimed > open."""
    if ticket.closed_at is not None:
        return TicketStatus.CLOSED
    if ticket.frozen_at is not None:
        return TicketStatus.FROZEN
    if ticket.locked_at is not None:
        return TicketStatus.LOCKED
    if ticket.claimed_by_id is not None:
        return TicketStatus.CLAIMED
    return TicketStatus.OPEN


async def _lock_ticket(ticket_id: UUID | str, conn: BaseDBAsyncClient) -> Ticket:
    ticket = await Ticket.filter(id=ticket_id).select_for_update().using_db(conn).first()
    if ticket is None:
        raise NotFoundError("This ticket no longer exists.")
    return ticket


Decision = Callable[[Ticket], dict[str, Any]]


async def _change(
    ticket_id: UUID | str,
    decide: Decision,
    *,
    now: datetime,
    users: Sequence[int] = (),
    after: Callable[[Ticket, BaseDBAsyncClient], Any] | None = None,
) -> Ticket:
    """Lock the ticket, let `decide` check the rules and return the changes, write them and the
    derived status. `users` are ids that must exist as user rows (actors stored as foreign keys);
    `after` runs in the same transaction (timers)."""
    async with in_transaction() as conn:
        ticket = await _lock_ticket(ticket_id, conn)
        changes = decide(ticket)
        for user_id in users:
            await ensure_user(user_id, using_db=conn)
        for name, value in changes.items():
            setattr(ticket, name, value)
        ticket.status = derive_status(ticket)
        ticket.updated_at = now
        await (
            Ticket.filter(id=ticket.id)
            .using_db(conn)
            .update(**changes, status=ticket.status, updated_at=now)
        )
        if after is not None:
            await after(ticket, conn)
    return ticket


def _require_staff(actor: Actor, doing: str) -> None:
    if not actor.staff:
        raise PermissionDenied(f"Only the ticket's staff can {doing}.")


def _require_not_closed(ticket: Ticket) -> None:
    if ticket.closed_at is not None:
        raise ConflictError(f"Ticket #{ticket.number:04d} is closed.")


async def claim(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> Ticket:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, "claim tickets")
        _require_not_closed(ticket)
        claimer = ticket.claimed_by_id
        if claimer == actor.user_id:
            raise ConflictError("You have already claimed this ticket.")
        if claimer is not None:
            raise ConflictError(f"This ticket is already claimed by <@{claimer}>.")
        return {"claimed_by_id": actor.user_id, "claimed_at": now}

    return await _change(ticket_id, decide, now=now, users=[actor.user_id])


async def unclaim(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> Ticket:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_not_closed(ticket)
        claimer = ticket.claimed_by_id
        if claimer is None:
            raise ConflictError("Nobody has claimed this ticket.")
        if claimer != actor.user_id and not actor.is_admin:
            raise PermissionDenied(
                f"Only <@{claimer}>, who claimed this ticket, or an admin can unclaim it."
            )
        return {"claimed_by_id": None, "claimed_at": None}

    return await _change(ticket_id, decide, now=now)


async def lock(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> Ticket:
    """Only staff can write in a locked ticket."""

    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, "lock tickets")
        _require_not_closed(ticket)
        if ticket.locked_at is not None:
            raise ConflictError("This ticket is already locked.")
        return {"locked_by_id": actor.user_id, "locked_at": now}

    return await _change(ticket_id, decide, now=now, users=[actor.user_id])


async def unlock(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> Ticket:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, "unlock tickets")
        _require_not_closed(ticket)
        if ticket.locked_at is None:
            raise ConflictError("This ticket is not locked.")
        return {"locked_by_id": None, "locked_at": None}

    return await _change(ticket_id, decide, now=now)


async def freeze(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> Ticket:
    """Nobody but admins can write in a frozen ticket."""

    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, "freeze tickets")
        _require_not_closed(ticket)
        if ticket.frozen_at is not None:
            raise ConflictError("This ticket is already frozen.")
        return {"frozen_by_id": actor.user_id, "frozen_at": now}

    return await _change(ticket_id, decide, now=now, users=[actor.user_id])


async def unfreeze(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> Ticket:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, "unfreeze tickets")
        _require_not_closed(ticket)
        if ticket.frozen_at is None:
            raise ConflictError("This ticket is not frozen.")
        return {"frozen_by_id": None, "frozen_at": None}

    return await _change(ticket_id, decide, now=now)


async def add_participant(
    ticket_id: UUID | str, actor: Actor, member_id: int, *, now: datetime
) -> Ticket:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, "add members to tickets")
        _require_not_closed(ticket)
        if member_id == ticket.user_id:
            raise ConflictError("That member opened this ticket: they are in it already.")
        if member_id in ticket.participant_ids:
            raise ConflictError(f"<@{member_id}> is already in this ticket.")
        return {"participant_ids": [*ticket.participant_ids, member_id]}

    return await _change(ticket_id, decide, now=now)


async def remove_participant(
    ticket_id: UUID | str, actor: Actor, member_id: int, *, now: datetime
) -> Ticket:
    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, "remove members from tickets")
        _require_not_closed(ticket)
        if member_id == ticket.user_id:
            raise ConflictError("The member who opened the ticket cannot be removed from it.")
        if member_id not in ticket.participant_ids:
            raise ConflictError(f"<@{member_id}> was not added to this ticket.")
        return {"participant_ids": [m for m in ticket.participant_ids if m != member_id]}

    return await _change(ticket_id, decide, now=now)


async def rename(ticket_id: UUID | str, actor: Actor, name: str) -> tuple[Ticket, str]:
    """Check that `actor` may rename the ticket's channel; returns the cleaned channel name."""
    if not actor.staff:
        raise PermissionDenied("Only the ticket's staff can rename tickets.")
    ticket = await get_ticket(ticket_id)
    _require_not_closed(ticket)
    cleaned = clean_channel_name(name)
    if not cleaned:
        raise ValidationError("Channel names need letters or digits, e.g. `billing-refund`.")
    return ticket, cleaned


async def close(
    ticket_id: UUID | str, actor: Actor | None, *, reason: str | None, now: datetime
) -> Ticket:
    """Mark the ticket closed (actor None = closed automatically) and stop its timer.

    The opener and staff may close. The caller then writes the transcript; if that fails it calls
    `undo_close`, so a ticket is never left closed with its conversation lost.
    """
    reason = _clean_reason(reason)

    def decide(ticket: Ticket) -> dict[str, Any]:
        if actor is not None and not actor.staff and actor.user_id != ticket.user_id:
            raise PermissionDenied(
                "Only the member who opened this ticket or its staff can close it."
            )
        _require_not_closed(ticket)
        return {
            "closed_by_id": actor.user_id if actor is not None else None,
            "closed_at": now,
            "close_reason": reason,
        }

    async def stop_timer(ticket: Ticket, conn: BaseDBAsyncClient) -> None:
        await cancel(AUTOCLOSE_KIND, _autoclose_key(ticket.id), using_db=conn)

    users = [actor.user_id] if actor is not None else []
    return await _change(ticket_id, decide, now=now, users=users, after=stop_timer)


async def undo_close(ticket_id: UUID | str, *, now: datetime) -> Ticket:
    """The transcript could not be written: the ticket is open again, as it was before."""

    def decide(ticket: Ticket) -> dict[str, Any]:
        return {"closed_by_id": None, "closed_at": None, "close_reason": None}

    return await _change(ticket_id, decide, now=now, after=_restart_timer(now))


async def reopen(ticket_id: UUID | str, actor: Actor, *, now: datetime) -> Ticket:
    """Staff reopen a closed ticket; the caller gives it a channel again if it has none."""

    def decide(ticket: Ticket) -> dict[str, Any]:
        _require_staff(actor, "reopen tickets")
        if ticket.closed_at is None:
            raise ConflictError(f"Ticket #{ticket.number:04d} is not closed.")
        return {
            "closed_by_id": None,
            "closed_at": None,
            "close_reason": None,
            "reopened_at": now,
        }

    return await _change(ticket_id, decide, now=now, after=_restart_timer(now))


def _restart_timer(now: datetime) -> Callable[[Ticket, BaseDBAsyncClient], Any]:
    async def restart(ticket: Ticket, conn: BaseDBAsyncClient) -> None:
        await _schedule_autoclose(ticket, now, conn)

    return restart


# --------------------------------------------------------------------------------------------
# Auto-close


def _autoclose_key(ticket_id: UUID | str) -> str:
    return f"ticket:{ticket_id}"


async def _schedule_autoclose(ticket: Ticket, now: datetime, conn: BaseDBAsyncClient) -> None:
    hours = await (
        TicketSettings.filter(guild_id=ticket.guild_id)
        .using_db(conn)
        .first()
        .values_list("auto_close_hours", flat=True)
    )
    if hours and ticket.channel_id is not None:
        await schedule(
            AUTOCLOSE_KIND,
            now + timedelta(hours=hours),
            {"ticket_id": str(ticket.id)},
            guild_id=ticket.guild_id,
            dedupe_key=_autoclose_key(ticket.id),
            using_db=conn,
        )


async def last_activity(ticket: Ticket) -> datetime:
    """When a person last wrote in the ticket (or it was opened or reopened)."""
    last_message = await (
        TicketMessage.filter(ticket_id=ticket.id, author_is_bot=False)
        .order_by("-created_at")
        .first()
        .values_list("created_at", flat=True)
    )
    moments = [m for m in (ticket.created_at, ticket.reopened_at, last_message) if m is not None]
    return max(moments)


async def check_autoclose(ticket_id: UUID | str, *, now: datetime) -> AutoCloseCheck:
    """Decide what an auto-close timer does when it fires.

    Messages do not touch the timer (that would be a write per message); instead the timer looks
    at the last message when it fires, and if there was activity it schedules itself again for
    `last activity + delay`. Frozen tickets wait: nobody can write in them.
    """
    ticket = await Ticket.get_or_none(id=ticket_id)
    if ticket is None or ticket.closed_at is not None or ticket.channel_id is None:
        return AutoCloseCheck(AutoCloseVerdict.SKIP)
    settings = await get_settings(ticket.guild_id)
    hours = settings.auto_close_hours
    if not hours:
        return AutoCloseCheck(AutoCloseVerdict.SKIP)
    delay = timedelta(hours=hours)
    due_at = now + delay if ticket.frozen_at is not None else await last_activity(ticket) + delay
    if due_at > now:
        async with in_transaction() as conn:
            await schedule(
                AUTOCLOSE_KIND,
                due_at,
                {"ticket_id": str(ticket.id)},
                guild_id=ticket.guild_id,
                dedupe_key=_autoclose_key(ticket.id),
                using_db=conn,
            )
        return AutoCloseCheck(AutoCloseVerdict.WAIT, due_at=due_at, hours=hours)
    return AutoCloseCheck(AutoCloseVerdict.CLOSE, hours=hours)


# --------------------------------------------------------------------------------------------
# Messages


@dataclass(frozen=True)
class MessageRecord:
    """A Discord message as stored in `ticket_messages`."""

    message_id: int
    author_id: int
    author_name: str
    author_is_bot: bool
    content: str
    created_at: datetime
    attachments: Sequence[Mapping[str, str]] = ()  # {"name", "url"}
    embeds: Sequence[Mapping[str, str]] = ()  # {"title", "description"}


async def _store(
    ticket_id: UUID | str, record: MessageRecord, conn: BaseDBAsyncClient, **extra: Any
) -> None:
    """Insert unless stored already (gateway replays, or an edit or deletion that was handled
    before the message itself); note the ticket's first response."""
    await ensure_user(record.author_id, using_db=conn)
    await TicketMessage.bulk_create(
        [
            TicketMessage(
                ticket_id=ticket_id,
                message_id=record.message_id,
                author_id=record.author_id,
                author_name=record.author_name[:100],
                author_is_bot=record.author_is_bot,
                content=record.content,
                attachments=[dict(a) for a in record.attachments],
                embeds=[dict(e) for e in record.embeds],
                created_at=record.created_at,
                **extra,
            )
        ],
        ignore_conflicts=True,
        using_db=conn,
    )
    if not record.author_is_bot:
        await (
            Ticket.filter(id=ticket_id, first_response_at__isnull=True)
            .exclude(user_id=record.author_id)
            .using_db(conn)
            .update(first_response_at=record.created_at)
        )


async def record_message(ticket_id: UUID | str, record: MessageRecord) -> None:
    """Store a message written in a ticket. A repeat is ignored.

    The first message by someone other than the opener (and not a bot) is the first response.
    """
    async with in_transaction() as conn:
        await _store(ticket_id, record, conn)


async def record_edit(
    ticket_id: UUID | str,
    record: MessageRecord,
    *,
    previous_content: str | None,
    edited_at: datetime,
) -> None:
    """Store an edit, keeping the earlier text in the history.

    Events are handled concurrently, so the edit may be handled before the message it edits is
    stored, or the message may be stored already showing the edited text (Discord's client
    updates its cached message in place). So: `record` is the message after the edit,
    `previous_content` the text before it when known, and the result is the same in any order.
    """
    async with in_transaction() as conn:
        # Store the message if it is not stored yet; on PostgreSQL this waits for a concurrent
        # insert of the same message to commit, so the row exists below either way.
        first_history = _history_after([], previous_content, record.content, edited_at)
        await _store(ticket_id, record, conn, edit_history=first_history, edited_at=edited_at)
        stored = (
            await TicketMessage.filter(message_id=record.message_id)
            .select_for_update()
            .using_db(conn)
            .get()
        )
        before = previous_content if previous_content is not None else stored.content
        history = _history_after(stored.edit_history, before, record.content, edited_at)
        if history == stored.edit_history and stored.content == record.content:
            return  # not a text edit (e.g. a link preview appeared), or recorded already
        await (
            TicketMessage.filter(id=stored.id)
            .using_db(conn)
            .update(content=record.content, edited_at=edited_at, edit_history=history)
        )


def _history_after(
    history: list[dict[str, str]], before: str | None, after: str, edited_at: datetime
) -> list[dict[str, str]]:
    if before is None or before == after:
        return history
    if history and history[-1]["content"] == before:
        return history  # this edit is in the history already
    return [*history, {"content": before, "at": edited_at.isoformat()}]


async def record_deletions(
    ticket_id: UUID | str,
    message_ids: Sequence[int],
    *,
    deleted_at: datetime,
    known: Sequence[MessageRecord] = (),
) -> int:
    """Mark messages deleted (they stay in the transcript, struck through).

    `known` are the deleted messages as Discord's client still had them: stored first, so a
    deletion handled before its message was stored still leaves the message, marked deleted.
    """
    async with in_transaction() as conn:
        for record in known:
            await _store(ticket_id, record, conn)
        return await (
            TicketMessage.filter(message_id__in=list(message_ids), deleted_at__isnull=True)
            .using_db(conn)
            .update(deleted_at=deleted_at)
        )


async def ticket_messages(ticket_id: UUID | str) -> list[TicketMessage]:
    return await TicketMessage.filter(ticket_id=ticket_id).order_by("created_at", "message_id")


# --------------------------------------------------------------------------------------------
# Transcripts


def can_read_transcript(ticket: Ticket, actor: Actor) -> bool:
    return actor.staff or actor.user_id == ticket.user_id


@dataclass(frozen=True)
class TranscriptFile:
    html: str
    filename: str
    message_count: int


async def build_transcript(
    ticket: Ticket,
    *,
    guild_name: str,
    name_of: Callable[[int], str],
    now: datetime,
) -> TranscriptFile:
    """The HTML transcript of `ticket` from its stored messages; `name_of` names user ids."""
    messages = await ticket_messages(ticket.id)
    claimed_by = ticket.claimed_by_id
    closed_by = ticket.closed_by_id
    transcript = Transcript(
        guild_name=guild_name,
        number=ticket.number,
        opener_name=name_of(ticket.user_id),
        opened_at=ticket.created_at,
        status=str(ticket.status),
        reason=ticket.reason,
        claimed_by_name=name_of(claimed_by) if claimed_by else None,
        closed_by_name=(name_of(closed_by) if closed_by else "automatic")
        if ticket.closed_at
        else None,
        closed_at=ticket.closed_at,
        close_reason=ticket.close_reason,
        messages=[
            TranscriptMessage(
                author_name=m.author_name,
                author_is_bot=m.author_is_bot,
                content=m.content,
                created_at=m.created_at,
                attachments=m.attachments,
                embeds=m.embeds,
                edit_history=m.edit_history,
                edited_at=m.edited_at,
                deleted_at=m.deleted_at,
            )
            for m in messages
        ],
    )
    return TranscriptFile(
        html=render_transcript(transcript, generated_at=now),
        filename=transcript_filename(ticket.number),
        message_count=len(messages),
    )


# --------------------------------------------------------------------------------------------
# Ratings


async def rate(ticket_id: UUID | str, user_id: int, rating: int, *, now: datetime) -> Ticket:
    """The opener rates a closed ticket 1-5 (again, to change their mind)."""
    if not 1 <= rating <= 5:
        raise ValidationError("A rating is from 1 to 5 stars.")
    updated = await Ticket.filter(id=ticket_id, user_id=user_id, status=TicketStatus.CLOSED).update(
        rating=rating, rated_at=now
    )
    if not updated:
        await _explain_rating_refusal(ticket_id, user_id)
    return await get_ticket(ticket_id)


async def comment_rating(
    ticket_id: UUID | str, user_id: int, comment: str | None, *, now: datetime
) -> Ticket:
    cleaned = (comment or "").strip()
    if len(cleaned) > MAX_COMMENT:
        raise ValidationError(f"The comment can be at most {MAX_COMMENT:,} characters long.")
    updated = await Ticket.filter(
        id=ticket_id, user_id=user_id, status=TicketStatus.CLOSED, rating__isnull=False
    ).update(rating_comment=cleaned or None, rated_at=now)
    if not updated:
        await _explain_rating_refusal(ticket_id, user_id)
        raise ConflictError("Choose a number of stars first.")
    return await get_ticket(ticket_id)


async def _explain_rating_refusal(ticket_id: UUID | str, user_id: int) -> None:
    ticket = await get_ticket(ticket_id)
    if ticket.user_id != user_id:
        raise PermissionDenied("Only the member who opened this ticket can rate it.")
    if ticket.status != TicketStatus.CLOSED:
        raise ConflictError("This ticket is open again: rate it once it is closed.")


# --------------------------------------------------------------------------------------------
# Statistics


async def stats(guild_id: int, *, staff_id: int | None = None) -> TicketStats:
    """Tickets opened and open now in the guild; then, for the guild's closed tickets (or the
    tickets `staff_id` handled: claimed, or closed while unclaimed), how many, their average
    rating and the median time to the first response."""
    opened = await Ticket.filter(guild_id=guild_id).count()
    open_now = await Ticket.filter(guild_id=guild_id).exclude(status=TicketStatus.CLOSED).count()
    if staff_id is None:
        handled = Ticket.filter(guild_id=guild_id, status=TicketStatus.CLOSED)
    else:
        handled = Ticket.filter(guild_id=guild_id).filter(
            Q(claimed_by_id=staff_id) | Q(claimed_by_id__isnull=True, closed_by_id=staff_id)
        )
    rows = await handled.values_list("rating", "created_at", "first_response_at")
    ratings = [rating for rating, _, _ in rows if rating is not None]
    waits = [(first - created).total_seconds() for _, created, first in rows if first is not None]
    return TicketStats(
        opened=opened,
        open_now=open_now,
        handled=len(rows),
        rated=len(ratings),
        average_rating=statistics.fmean(ratings) if ratings else None,
        median_first_response_seconds=statistics.median(waits) if waits else None,
    )
