"""Retention settings, declared once: how long a guild's records are kept (their columns of
`guild_settings`).

Each is a number of days, 0 meaning "kept": a closed ticket's messages (its transcript) are
deleted that many days after it closed; security and audit log entries that many days after
they were written. The retention sweep reads them; every change is validated and audited with
the values before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from models.guilds import GuildSettings
from pegasus.errors import ValidationError
from pegasus.i18n import N_, _
from pegasus.services.settings import (
    FeatureSettings,
    Kind,
    Setting,
    apply_changes,
    register,
)

__all__ = [
    "MAX_RETENTION_DAYS",
    "SETTINGS",
    "RetentionSettings",
    "retention_settings",
    "update_retention_settings",
]

MAX_RETENTION_DAYS = 3650  # ten years

SETTINGS = register(
    FeatureSettings(
        feature="retention",
        model=GuildSettings,
        settings=(
            Setting(
                "retention_ticket_days",
                Kind.INT,
                N_("ticket retention"),
                N_(
                    "Delete a closed ticket's messages and transcript this many days after "
                    "(0 = keep)"
                ),
                minimum=0,
                maximum=MAX_RETENTION_DAYS,
            ),
            Setting(
                "retention_security_log_days",
                Kind.INT,
                N_("security log retention"),
                N_("Delete security log entries older than this many days (0 = keep)"),
                minimum=0,
                maximum=MAX_RETENTION_DAYS,
            ),
            Setting(
                "retention_audit_log_days",
                Kind.INT,
                N_("audit log retention"),
                N_("Delete audit log entries older than this many days (0 = keep)"),
                minimum=0,
                maximum=MAX_RETENTION_DAYS,
            ),
        ),
    )
)


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """Days each kind of record is kept; 0 = kept for as long as the guild's data is."""

    ticket_days: int
    security_log_days: int
    audit_log_days: int


COLUMNS = tuple(setting.name for setting in SETTINGS.settings)


def _from_values(values: Mapping[str, int]) -> RetentionSettings:
    return RetentionSettings(
        ticket_days=values["retention_ticket_days"],
        security_log_days=values["retention_security_log_days"],
        audit_log_days=values["retention_audit_log_days"],
    )


async def retention_settings(guild_id: int) -> RetentionSettings:
    """The guild's retention settings (the defaults when nothing is stored yet)."""
    stored = await GuildSettings.filter(guild_id=guild_id).values(*COLUMNS)
    if not stored:
        defaults = GuildSettings(guild_id=guild_id)  # not stored: only its default values
        return _from_values({column: getattr(defaults, column) for column in COLUMNS})
    return _from_values(stored[0])


async def update_retention_settings(
    guild_id: int,
    actor_id: int,
    *,
    ticket_days: int | None = None,
    security_log_days: int | None = None,
    audit_log_days: int | None = None,
) -> RetentionSettings:
    """Change how long records are kept; None keeps a value, 0 keeps the records.

    Audited with before and after; returns the settings as stored afterwards.
    """
    changes = {
        column: value
        for column, value in (
            ("retention_ticket_days", ticket_days),
            ("retention_security_log_days", security_log_days),
            ("retention_audit_log_days", audit_log_days),
        )
        if value is not None
    }
    if not changes:
        raise ValidationError(_("Nothing to change: give at least one option."))
    values = await apply_changes(SETTINGS, guild_id, actor_id, changes, action="retention.set")
    return _from_values(values)
