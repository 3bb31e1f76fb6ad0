"""What the ticket services hand back: plain, frozen values, never database rows.

`Actor` comes in (who acts, and what Discord says they are); `TicketInfo`, `PanelInfo` and
`TicketSettingsInfo` go out. Every adapter (the cog, the API, the dashboard) reads these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from models.tickets import Ticket, TicketPanel, TicketSettings, TicketStatus

DEFAULT_NAME_FORMAT = "ticket-{number}"


class ButtonStyle(StrEnum):
    """Discord's button colours, by the names people see in the command options."""

    PRIMARY = "primary"  # blurple
    SECONDARY = "secondary"  # grey
    SUCCESS = "success"  # green
    DANGER = "danger"  # red


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class PanelInfo:
    """A ticket panel: the message with up to five buttons, each opening one type of ticket."""

    pk: int
    panel_id: str  # the public id, e.g. TP-7K2QX
    guild_id: int
    channel_id: int | None  # where it was last sent
    message_id: int | None
    title: str
    description: str
    image_url: str | None
    footer: str | None
    color: int | None
    category_id: int | None
    buttons: tuple[PanelButton, ...]
    support_role_ids: tuple[int, ...]
    max_tickets_per_user: int
    is_active: bool

    @classmethod
    def from_row(cls, row: TicketPanel) -> PanelInfo:
        return cls(
            pk=row.id,
            panel_id=row.panel_id,
            guild_id=row.guild_id,
            channel_id=row.channel_id,
            message_id=row.message_id,
            title=row.title,
            description=row.description,
            image_url=row.image_url,
            footer=row.footer,
            color=row.color,
            category_id=row.category_id,
            buttons=tuple(PanelButton.from_json(data) for data in row.buttons),
            support_role_ids=tuple(row.support_role_ids),
            max_tickets_per_user=row.max_tickets_per_user,
            is_active=row.is_active,
        )


@dataclass(frozen=True, slots=True)
class TicketInfo:
    """One support ticket as it is now."""

    id: UUID
    guild_id: int
    panel_pk: int | None
    button_index: int | None
    number: int
    channel_id: int | None  # None between opening and the channel's creation
    user_id: int  # who opened it
    reason: str | None
    status: TicketStatus
    support_role_ids: tuple[int, ...]
    participant_ids: tuple[int, ...]
    claimed_by_id: int | None
    claimed_at: datetime | None
    closed_by_id: int | None
    closed_at: datetime | None
    close_reason: str | None
    locked_by_id: int | None
    locked_at: datetime | None
    frozen_by_id: int | None
    frozen_at: datetime | None
    reopened_at: datetime | None
    first_response_at: datetime | None
    rating: int | None
    rating_comment: str | None
    rated_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Ticket) -> TicketInfo:
        return cls(
            id=row.id if isinstance(row.id, UUID) else UUID(str(row.id)),
            guild_id=row.guild_id,
            panel_pk=row.panel_id,
            button_index=row.button_index,
            number=row.number,
            channel_id=row.channel_id,
            user_id=row.user_id,
            reason=row.reason,
            status=TicketStatus(row.status),
            support_role_ids=tuple(row.support_role_ids),
            participant_ids=tuple(row.participant_ids),
            claimed_by_id=row.claimed_by_id,
            claimed_at=row.claimed_at,
            closed_by_id=row.closed_by_id,
            closed_at=row.closed_at,
            close_reason=row.close_reason,
            locked_by_id=row.locked_by_id,
            locked_at=row.locked_at,
            frozen_by_id=row.frozen_by_id,
            frozen_at=row.frozen_at,
            reopened_at=row.reopened_at,
            first_response_at=row.first_response_at,
            rating=row.rating,
            rating_comment=row.rating_comment,
            rated_at=row.rated_at,
            created_at=row.created_at,
        )

    @property
    def label(self) -> str:
        """How people name it: `#0012`."""
        return f"#{self.number:04d}"


@dataclass(frozen=True, slots=True)
class TicketSettingsInfo:
    """A guild's ticket settings: where transcripts go, and the auto-close delay."""

    guild_id: int
    log_channel_id: int | None
    auto_close_hours: int | None  # None: never closed for inactivity

    @classmethod
    def from_row(cls, row: TicketSettings) -> TicketSettingsInfo:
        return cls(
            guild_id=row.guild_id,
            log_channel_id=row.log_channel_id,
            auto_close_hours=row.auto_close_hours,
        )


@dataclass(frozen=True, slots=True)
class OpenedTicket:
    """A ticket row waiting for its channel: what the caller needs to create it.

    `welcome_message` is the text with `{user}` left in: the adapter fills in the mention.
    """

    ticket: TicketInfo
    label: str  # the button's label: the kind of ticket
    channel_name: str
    category_id: int | None
    support_role_ids: tuple[int, ...]
    welcome_message: str


class AutoCloseVerdict(StrEnum):
    CLOSE = "close"  # inactive long enough: close it now
    WAIT = "wait"  # there was activity: a new timer was scheduled for `due_at`
    SKIP = "skip"  # closed already, deleted, or auto-close turned off


@dataclass(frozen=True, slots=True)
class AutoCloseCheck:
    verdict: AutoCloseVerdict
    due_at: datetime | None = None
    hours: int | None = None


@dataclass(frozen=True, slots=True)
class TicketStats:
    opened: int
    open_now: int
    handled: int  # closed tickets (guild), or tickets this member claimed or closed unclaimed
    rated: int
    average_rating: float | None
    median_first_response_seconds: float | None
