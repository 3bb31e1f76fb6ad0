"""Security's settings: anti-raid, anti-spam and the alert role (its columns of `guild_settings`).

Declared once in `SETTINGS`; every change goes through `apply_changes`, so it is validated and
written to `audit_logs` with the values before and after. The other columns of `guild_settings`
belong to the features that declare them (community, levels).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.guilds import GuildSettings
from pegasus.errors import ValidationError
from pegasus.i18n import N_, _
from pegasus.services.community import SecurityConfig
from pegasus.services.settings import FeatureSettings, Kind, Setting, apply_changes, register

__all__ = ["SETTINGS", "security_config", "update_security_settings"]

SETTINGS = register(
    FeatureSettings(
        feature="security",
        model=GuildSettings,
        settings=(
            Setting(
                "security_enabled",
                Kind.BOOL,
                N_("security switch"),
                N_("Master switch for anti-raid and anti-spam"),
            ),
            Setting(
                "security_alert_role_id",
                Kind.ROLE,
                N_("alert role"),
                N_("Role pinged when a raid is detected"),
                nullable=True,
            ),
            Setting(
                "anti_raid_enabled",
                Kind.BOOL,
                N_("anti-raid"),
                N_("Watch for many members joining at once"),
            ),
            Setting(
                "raid_joins",
                Kind.INT,
                N_("raid join limit"),
                N_("A raid is more than this many joins… (2-100)"),
                minimum=2,
                maximum=100,
            ),
            Setting(
                "raid_seconds",
                Kind.SECONDS,
                N_("raid window"),
                N_("…within this many seconds (2-300)"),
                minimum=2,
                maximum=300,
            ),
            Setting(
                "anti_spam_enabled",
                Kind.BOOL,
                N_("anti-spam"),
                N_("Remove mass mentions and repeated messages"),
            ),
            Setting(
                "max_mentions",
                Kind.INT,
                N_("mention limit"),
                N_("Most mentions allowed in one message (1-50)"),
                minimum=1,
                maximum=50,
            ),
            Setting(
                "max_duplicates",
                Kind.INT,
                N_("repeat limit"),
                N_("The same message this many times in a row is spam (2-20)"),
                minimum=2,
                maximum=20,
            ),
        ),
    )
)

# SecurityConfig's fields, by the column that stores each.
_FIELDS = {
    "security_enabled": "enabled",
    "security_alert_role_id": "alert_role_id",
    "anti_raid_enabled": "anti_raid_enabled",
    "raid_joins": "raid_joins",
    "raid_seconds": "raid_seconds",
    "anti_spam_enabled": "anti_spam_enabled",
    "max_mentions": "max_mentions",
    "max_duplicates": "max_duplicates",
}
_UNSET: Any = object()


def security_config(values: Mapping[str, Any]) -> SecurityConfig:
    """The settings as hot paths read them, from the stored values by column."""
    return SecurityConfig(**{field: values[column] for column, field in _FIELDS.items()})


async def update_security_settings(
    guild_id: int,
    actor_id: int,
    *,
    enabled: bool | None = None,
    alert_role_id: int | None = _UNSET,
    anti_raid: bool | None = None,
    raid_joins: int | None = None,
    raid_seconds: int | None = None,
    anti_spam: bool | None = None,
    max_mentions: int | None = None,
    max_duplicates: int | None = None,
) -> SecurityConfig:
    """Change anti-raid and anti-spam settings; None keeps a value (`alert_role_id=None` clears).

    Turning anti-raid or anti-spam on also turns the security master switch on, unless
    `enabled=False` is given in the same call. Returns the settings as stored afterwards; a
    cached copy of the guild's configuration is the caller's to refresh.
    """
    changes: dict[str, Any] = {
        column: value
        for column, value in (
            ("raid_joins", raid_joins),
            ("raid_seconds", raid_seconds),
            ("max_mentions", max_mentions),
            ("max_duplicates", max_duplicates),
            ("anti_raid_enabled", anti_raid),
            ("anti_spam_enabled", anti_spam),
        )
        if value is not None
    }
    if alert_role_id is not _UNSET:
        changes["security_alert_role_id"] = alert_role_id
    if enabled is not None:
        changes["security_enabled"] = enabled
    elif anti_raid or anti_spam:
        changes["security_enabled"] = True
    if not changes:
        raise ValidationError(_("Nothing to change: give at least one option."))
    values = await apply_changes(SETTINGS, guild_id, actor_id, changes, action="security.set")
    return security_config(values)
