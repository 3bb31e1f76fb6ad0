"""Moderation's settings: where cases are posted and which role mutes (`moderation_settings`).

Declared once in `SETTINGS`; every change goes through `apply_changes`, so it is validated and
written to `audit_logs` with the values before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.moderation import ModerationSettings
from pegasus.i18n import N_
from pegasus.services.settings import (
    FeatureSettings,
    Kind,
    Setting,
    apply_changes,
    ensure_settings_row,
    register,
)

__all__ = [
    "SETTINGS",
    "ModerationConfig",
    "get_settings",
    "set_modlog_channel",
    "set_mute_role",
]

SETTINGS = register(
    FeatureSettings(
        feature="moderation",
        model=ModerationSettings,
        settings=(
            Setting(
                "modlog_channel_id",
                Kind.CHANNEL,
                N_("modlog channel"),
                N_("The channel cases are posted in; leave empty to stop posting cases"),
                nullable=True,
            ),
            Setting(
                "mute_role_id",
                Kind.ROLE,
                N_("mute role"),
                N_("The role /mute gives"),
                nullable=True,
            ),
        ),
        # The case counter is state that moves with every case, not a setting.
        internal=frozenset(
            {"id", "guild", "guild_id", "last_case_number", "created_at", "updated_at"}
        ),
    )
)


@dataclass(frozen=True, slots=True)
class ModerationConfig:
    """A guild's moderation settings."""

    guild_id: int
    modlog_channel_id: int | None
    mute_role_id: int | None


async def get_settings(guild_id: int) -> ModerationConfig:
    rows = await ModerationSettings.filter(guild_id=guild_id).values(
        "modlog_channel_id", "mute_role_id"
    )
    if rows:
        return ModerationConfig(guild_id, rows[0]["modlog_channel_id"], rows[0]["mute_role_id"])
    await ensure_settings_row(ModerationSettings, guild_id)
    return ModerationConfig(guild_id, None, None)  # a new row holds the defaults


async def _change(
    guild_id: int, name: str, value: int | None, actor_id: int | None, action: str
) -> ModerationConfig:
    values = await apply_changes(SETTINGS, guild_id, actor_id, {name: value}, action=action)
    return ModerationConfig(guild_id, values["modlog_channel_id"], values["mute_role_id"])


async def set_modlog_channel(
    guild_id: int, channel_id: int | None, *, actor_id: int | None
) -> ModerationConfig:
    """Set (or clear, with None) the channel cases are posted in; recorded in the audit log."""
    return await _change(guild_id, "modlog_channel_id", channel_id, actor_id, "modlog.set")


async def set_mute_role(
    guild_id: int, role_id: int | None, *, actor_id: int | None
) -> ModerationConfig:
    """Set (or clear) the role /mute gives; recorded in the audit log."""
    return await _change(guild_id, "mute_role_id", role_id, actor_id, "muterole.set")
