"""Ticket settings, declared once: where transcripts go, and when quiet tickets close.

The ticket number counter shares the table but is state, not a setting.
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from models.security import AuditSource
from models.tickets import TicketSettings
from pegasus.errors import ValidationError
from pegasus.i18n import N_, _, format_number
from pegasus.services.settings import (
    FeatureSettings,
    Kind,
    Setting,
    apply_changes,
    ensure_settings_row,
    register,
)

from .results import TicketSettingsInfo

MAX_AUTO_CLOSE_HOURS = 24 * 30

SETTINGS = register(
    FeatureSettings(
        feature="tickets",
        model=TicketSettings,
        settings=(
            Setting(
                "log_channel_id",
                Kind.CHANNEL,
                N_("transcript channel"),
                N_("The channel that receives every closed ticket's transcript"),
                nullable=True,
            ),
            Setting(
                "auto_close_hours",
                Kind.INT,
                N_("auto-close delay"),
                N_("Close tickets after this many hours without messages (0 = never)"),
                minimum=0,
                maximum=MAX_AUTO_CLOSE_HOURS,
                nullable=True,
            ),
        ),
        internal=frozenset({"id", "guild_id", "last_number", "created_at", "updated_at"}),
    )
)


async def get_settings(
    guild_id: int, *, using_db: BaseDBAsyncClient | None = None
) -> TicketSettingsInfo:
    """The guild's ticket settings, created with defaults on first use."""
    await ensure_settings_row(TicketSettings, guild_id, using_db=using_db)
    row = await TicketSettings.filter(guild_id=guild_id).using_db(using_db).get()
    return TicketSettingsInfo.from_row(row)


async def configure(
    guild_id: int,
    *,
    actor_id: int | None = None,
    log_channel_id: int | None = None,
    clear_log_channel: bool = False,
    auto_close_hours: int | None = None,
    source: AuditSource = AuditSource.DISCORD,
) -> TicketSettingsInfo:
    """Change the transcript channel and/or the auto-close delay (0 hours turns it off).

    Arguments left as None are not changed; a change is audited with before and after. Open
    tickets pick up a new delay at their next timer: the auto-close handler always reads the
    current setting.
    """
    changes: dict[str, int | None] = {}
    if clear_log_channel:
        changes["log_channel_id"] = None
    elif log_channel_id is not None:
        changes["log_channel_id"] = log_channel_id
    if auto_close_hours is not None:
        if not 0 <= auto_close_hours <= MAX_AUTO_CLOSE_HOURS:
            raise ValidationError(
                _(
                    "Auto-close takes a number of hours from 1 to {maximum}, or 0 to turn it off."
                ).format(maximum=format_number(MAX_AUTO_CLOSE_HOURS))
            )
        changes["auto_close_hours"] = auto_close_hours or None  # 0 is stored as "never"
    if not changes:
        return await get_settings(guild_id)
    values = await apply_changes(SETTINGS, guild_id, actor_id, changes, source=source)
    return TicketSettingsInfo(
        guild_id=guild_id,
        log_channel_id=values["log_channel_id"],
        auto_close_hours=values["auto_close_hours"],
    )
