"""Support tickets: panels with buttons, the tickets they open, and every message written in them.

A ticket's number is sequential per guild. It is drawn from `ticket_settings.last_number` with a
conditional `UPDATE ... SET last_number = last_number + 1` inside the opening transaction, so
two members opening at the same instant get distinct numbers on SQLite and PostgreSQL alike (the
row lock also serialises the per-member open-ticket limit of that guild).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.ids import PUBLIC_ID_MAX_LENGTH

if TYPE_CHECKING:
    from models.guilds import Guild, User


class TicketStatus(StrEnum):
    """The state people see. It is derived from the timestamps below (closed > frozen > locked >
    claimed > open), so unlocking a claimed ticket returns it to `claimed`, not `open`."""

    OPEN = "open"
    CLAIMED = "claimed"
    LOCKED = "locked"
    FROZEN = "frozen"
    CLOSED = "closed"


class TicketSettings(Model):
    """One row per guild: where transcripts go, the auto-close delay and the number counter."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.OneToOneRelation[Guild] = fields.OneToOneField(
        "models.Guild", related_name="ticket_settings", on_delete=fields.CASCADE
    )
    log_channel_id = fields.BigIntField(null=True)  # transcripts are posted here
    auto_close_hours = fields.IntField(null=True)  # null = never close for inactivity
    # The last ticket number handed out in this guild; only ever moved with F() + 1.
    last_number = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    if TYPE_CHECKING:
        guild_id: int

    class Meta:
        table = "ticket_settings"

    def __str__(self) -> str:
        return f"Ticket settings of guild {self.guild_id}"


class TicketPanel(Model):
    """A message with up to five buttons; each button opens one type of ticket.

    `buttons` is a JSON list of `{label, style, emoji, category_id, support_role_ids, name_format,
    welcome_message}`; a button's own category and roles take precedence over the panel's.
    """

    id = fields.BigIntField(primary_key=True)
    panel_id = fields.CharField(max_length=PUBLIC_ID_MAX_LENGTH, unique=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="ticket_panels", on_delete=fields.CASCADE, db_index=True
    )
    channel_id = fields.BigIntField(null=True)  # where the panel was last sent
    message_id = fields.BigIntField(null=True)
    title = fields.CharField(max_length=256)
    description = fields.TextField()
    image_url = fields.CharField(max_length=1024, null=True)
    footer = fields.CharField(max_length=2048, null=True)
    color = fields.IntField(null=True)  # 0xRRGGBB
    category_id = fields.BigIntField(null=True)  # default category for the ticket channels
    buttons: list[dict[str, Any]] = fields.JSONField(default=list)  # type: ignore[assignment]
    support_role_ids: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    max_tickets_per_user = fields.IntField(default=1)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    tickets: fields.ReverseRelation[Ticket]

    if TYPE_CHECKING:
        guild_id: int

    class Meta:
        table = "ticket_panels"

    def __str__(self) -> str:
        return f"Ticket panel {self.panel_id}"


class Ticket(Model):
    """One support conversation in its own private channel."""

    id = fields.UUIDField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="tickets", on_delete=fields.CASCADE
    )
    panel: fields.ForeignKeyNullableRelation[TicketPanel] = fields.ForeignKeyField(
        "models.TicketPanel",
        related_name="tickets",
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    button_index = fields.IntField(null=True)
    number = fields.IntField()
    # Null between the opening transaction and the creation of the Discord channel.
    channel_id = fields.BigIntField(null=True, db_index=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tickets_opened", on_delete=fields.CASCADE, db_index=True
    )
    reason = fields.TextField(null=True)
    status = fields.CharEnumField(TicketStatus, default=TicketStatus.OPEN, max_length=16)
    # Roles that see and staff this ticket, resolved when it was opened (panel may change later).
    support_role_ids: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    # Members added with /ticket add (besides the opener), so permissions can be rebuilt.
    participant_ids: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    claimed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="tickets_claimed",
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    claimed_at = fields.DatetimeField(null=True)
    closed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="tickets_closed",
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    closed_at = fields.DatetimeField(null=True)
    close_reason = fields.TextField(null=True)
    locked_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="tickets_locked",
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    locked_at = fields.DatetimeField(null=True)
    frozen_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="tickets_frozen",
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    frozen_at = fields.DatetimeField(null=True)
    reopened_at = fields.DatetimeField(null=True)  # auto-close counts inactivity from here too
    # First message by someone other than the opener (and not a bot): the first response.
    first_response_at = fields.DatetimeField(null=True)
    rating = fields.SmallIntField(null=True)  # 1-5
    rating_comment = fields.TextField(null=True)
    rated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    messages: fields.ReverseRelation[TicketMessage]

    if TYPE_CHECKING:  # the id columns Tortoise adds for the foreign keys above
        guild_id: int
        panel_id: int | None
        user_id: int
        claimed_by_id: int | None
        closed_by_id: int | None
        locked_by_id: int | None
        frozen_by_id: int | None

    class Meta:
        table = "tickets"
        unique_together = (("guild", "number"),)
        # The per-member limit counts open tickets of (guild, user); start-up loads open channels.
        indexes = (("guild_id", "user_id", "status"), ("status",))

    def __str__(self) -> str:
        return f"Ticket #{self.number} of guild {self.guild_id}"


class TicketMessage(Model):
    """A message written in a ticket channel, kept after the channel is gone.

    Edits replace `content` and keep the earlier text in `edit_history`; deletions only set
    `deleted_at`, so the transcript still shows what was said.
    """

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="messages", on_delete=fields.CASCADE
    )
    message_id = fields.BigIntField(unique=True)
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="ticket_messages",
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    # The name shown at the time, so a transcript reads well even after the user is gone.
    author_name = fields.CharField(max_length=100)
    author_is_bot = fields.BooleanField(default=False)
    content = fields.TextField(default="")
    attachments: list[dict[str, str]] = fields.JSONField(default=list)  # type: ignore[assignment]
    # Embeds the message carried, reduced to `{title, description}`: the bot's own messages.
    embeds: list[dict[str, str]] = fields.JSONField(default=list)  # type: ignore[assignment]
    edit_history: list[dict[str, str]] = fields.JSONField(default=list)  # type: ignore[assignment]
    created_at = fields.DatetimeField()  # when Discord says the message was sent
    edited_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)

    if TYPE_CHECKING:
        ticket_id: str
        author_id: int | None

    class Meta:
        table = "ticket_messages"
        indexes = (("ticket_id", "created_at"),)

    def __str__(self) -> str:
        return f"Message {self.message_id} in ticket {self.ticket_id}"
