"""Raid response and verification settings (`raid_settings`, `verification_settings`).

Declared once in `RAID` and `VERIFICATION`; every change goes through `apply_changes`, so it is
validated and written to `audit_logs` with the values before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from models.raids import RaidSettings, VerificationSettings
from pegasus.errors import ValidationError
from pegasus.i18n import N_, _
from pegasus.services.settings import (
    FeatureSettings,
    Kind,
    Setting,
    apply_changes,
    read_settings,
    register,
)

__all__ = [
    "MAX_SLOWMODE_SECONDS",
    "RAID",
    "VERIFICATION",
    "RaidAction",
    "RaidConfig",
    "VerificationConfig",
    "raid_config",
    "toggle_raid_channel",
    "update_raid_settings",
    "update_verification_settings",
    "verification_config",
]

MAX_SLOWMODE_SECONDS = 21600  # Discord's limit: 6 hours
MAX_RAID_CHANNELS = 50
_STATE = frozenset({"id", "guild", "guild_id", "created_at", "updated_at"})


class RaidAction(StrEnum):
    NONE = "none"
    KICK = "kick"
    BAN = "ban"


RAID = register(
    FeatureSettings(
        feature="security.raid",
        model=RaidSettings,
        settings=(
            Setting(
                "raid_lockdown",
                Kind.BOOL,
                N_("raid lockdown"),
                N_("Lock the lockdown channels when a raid is detected"),
            ),
            Setting(
                "lockdown_channel_ids",
                Kind.IDS,
                N_("lockdown channels"),
                N_("Channels a raid and /lock server lock (none chosen: every text channel)"),
            ),
            Setting(
                "raid_slowmode_seconds",
                Kind.SECONDS,
                N_("raid slowmode"),
                N_("Slowmode a raid sets in the slowmode channels (0: none; at most 6h)"),
                minimum=0,
                maximum=MAX_SLOWMODE_SECONDS,
            ),
            Setting(
                "slowmode_channel_ids",
                Kind.IDS,
                N_("slowmode channels"),
                N_("Channels a raid slows down (none chosen: the lockdown channels)"),
            ),
            Setting(
                "raid_action",
                Kind.TEXT,
                N_("raid action"),
                N_("What happens to the members who joined in the raid: none, kick or ban"),
                max_length=8,
                choices=tuple(action.value for action in RaidAction),
            ),
            Setting(
                "raid_min_account_days",
                Kind.INT,
                N_("raid account age"),
                N_(
                    "While a raid lasts, kick joining accounts younger than this many days (0: off)"
                ),
                minimum=0,
                maximum=365,
            ),
            Setting(
                "raid_hold_seconds",
                Kind.SECONDS,
                N_("raid hold"),
                N_("How long the age gate lasts after the raid's last join (1m-1d)"),
                minimum=60,
                maximum=86400,
            ),
        ),
        internal=_STATE,
        rules=(
            (
                lambda values: (
                    len(values["lockdown_channel_ids"]) <= MAX_RAID_CHANNELS
                    and len(values["slowmode_channel_ids"]) <= MAX_RAID_CHANNELS
                ),
                # Translators: keep the number as MAX_RAID_CHANNELS has it.
                N_("A raid can lock or slow down at most 50 chosen channels."),
            ),
        ),
    )
)

VERIFICATION = register(
    FeatureSettings(
        feature="security.verification",
        model=VerificationSettings,
        settings=(
            Setting(
                "verification_enabled",
                Kind.BOOL,
                N_("verification gate"),
                N_("New members must press Verify before they get access"),
            ),
            Setting(
                "verified_role_id",
                Kind.ROLE,
                N_("verified role"),
                N_("Role given when a member verifies"),
                nullable=True,
            ),
            Setting(
                "unverified_role_id",
                Kind.ROLE,
                N_("unverified role"),
                N_("Role given on joining and taken away on verifying"),
                nullable=True,
            ),
            Setting(
                "verification_min_account_days",
                Kind.INT,
                N_("minimum account age"),
                N_("Accounts younger than this many days can't verify (0: any age)"),
                minimum=0,
                maximum=365,
            ),
            Setting(
                "verification_timeout_seconds",
                Kind.SECONDS,
                N_("verification timeout"),
                N_("Kick members not verified this long after joining (0: never; at most 7d)"),
                minimum=0,
                maximum=7 * 86400,
            ),
        ),
        internal=_STATE | {"verification_channel_id", "verification_message_id"},
        rules=(
            (
                lambda values: (
                    not values["verification_enabled"]
                    or values["verified_role_id"] is not None
                    or values["unverified_role_id"] is not None
                ),
                N_("The verification gate needs a verified role, an unverified role, or both."),
            ),
            (
                lambda values: (
                    values["verified_role_id"] is None
                    or values["verified_role_id"] != values["unverified_role_id"]
                ),
                N_("The verified and the unverified role must be two different roles."),
            ),
            (
                lambda values: (
                    values["verification_timeout_seconds"] == 0
                    or values["verification_timeout_seconds"] >= 60
                ),
                N_("The verification timeout must be at least 1m (or 0: never)."),
            ),
        ),
    )
)


@dataclass(frozen=True, slots=True)
class RaidConfig:
    """What a raid sets off in a guild."""

    lockdown: bool
    lockdown_channel_ids: tuple[int, ...]
    slowmode_seconds: int
    slowmode_channel_ids: tuple[int, ...]
    action: RaidAction
    min_account_days: int
    hold_seconds: int

    @property
    def responds(self) -> bool:
        return (
            self.lockdown
            or self.slowmode_seconds > 0
            or self.action is not RaidAction.NONE
            or self.min_account_days > 0
        )


@dataclass(frozen=True, slots=True)
class VerificationConfig:
    enabled: bool
    verified_role_id: int | None
    unverified_role_id: int | None
    min_account_days: int
    timeout_seconds: int
    channel_id: int | None
    message_id: int | None


def _raid(values: Mapping[str, Any]) -> RaidConfig:
    return RaidConfig(
        lockdown=values["raid_lockdown"],
        lockdown_channel_ids=tuple(values["lockdown_channel_ids"]),
        slowmode_seconds=values["raid_slowmode_seconds"],
        slowmode_channel_ids=tuple(values["slowmode_channel_ids"]),
        action=RaidAction(values["raid_action"]),
        min_account_days=values["raid_min_account_days"],
        hold_seconds=values["raid_hold_seconds"],
    )


async def raid_config(guild_id: int) -> RaidConfig:
    return _raid(await read_settings(RAID, guild_id))


async def verification_config(guild_id: int) -> VerificationConfig:
    row = await VerificationSettings.get_or_none(guild_id=guild_id)
    if row is None:
        row = VerificationSettings(guild_id=guild_id)
    return VerificationConfig(
        enabled=row.verification_enabled,
        verified_role_id=row.verified_role_id,
        unverified_role_id=row.unverified_role_id,
        min_account_days=row.verification_min_account_days,
        timeout_seconds=row.verification_timeout_seconds,
        channel_id=row.verification_channel_id,
        message_id=row.verification_message_id,
    )


async def update_raid_settings(
    guild_id: int, actor_id: int, changes: Mapping[str, Any]
) -> RaidConfig:
    """Change raid settings by name (None values are left out); audited."""
    wanted = {name: value for name, value in changes.items() if value is not None}
    if not wanted:
        raise ValidationError(_("Nothing to change: give at least one option."))
    return _raid(await apply_changes(RAID, guild_id, actor_id, wanted, action="raid.set"))


async def toggle_raid_channel(
    guild_id: int,
    actor_id: int,
    channel_id: int,
    *,
    lockdown: bool | None,
    slowmode: bool | None,
) -> RaidConfig:
    """Add a channel to (True) or remove it from (False) the lockdown and slowmode lists.

    Computed on the locked settings row, so two changes at once never lose one another."""
    if lockdown is None and slowmode is None:
        raise ValidationError(_("Say whether a raid locks the channel, slows it down, or both."))

    def changed(current: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for column, wanted in (
            ("lockdown_channel_ids", lockdown),
            ("slowmode_channel_ids", slowmode),
        ):
            if wanted is None:
                continue
            ids = [item for item in current[column] if item != channel_id]
            result[column] = [*ids, channel_id] if wanted else ids
        return result

    return _raid(await apply_changes(RAID, guild_id, actor_id, changed, action="raid.channel"))


async def update_verification_settings(
    guild_id: int, actor_id: int, changes: Mapping[str, Any], *, clear: tuple[str, ...] = ()
) -> VerificationConfig:
    """Change verification settings by name (None values are left out, `clear` sets None)."""
    wanted: dict[str, Any] = {name: value for name, value in changes.items() if value is not None}
    wanted.update({name: None for name in clear})
    if not wanted:
        raise ValidationError(_("Nothing to change: give at least one option."))
    await apply_changes(VERIFICATION, guild_id, actor_id, wanted, action="verification.set")
    return await verification_config(guild_id)
