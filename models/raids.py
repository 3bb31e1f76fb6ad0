"""Raid response and the verification gate: their settings, and what a lockdown must restore.

`channel_locks` remembers each locked channel's @everyone overwrite exactly as it was before the
lock (or that there was none), one row per channel: locking a locked channel keeps the first
row, so `/unlock` always restores the state from before the first lock. `channel_slowmodes`
does the same for a slowmode a raid raised.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.guilds import Guild
from models.security import SecurityIncident


class RaidSettings(Model):
    """One row per guild: what Pegasus does when anti-raid detects a raid."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.OneToOneRelation[Guild] = fields.OneToOneField(
        "models.Guild", related_name=False, on_delete=fields.CASCADE
    )
    raid_lockdown = fields.BooleanField(default=False)
    lockdown_channel_ids: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    raid_slowmode_seconds = fields.IntField(default=0)
    slowmode_channel_ids: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    raid_action = fields.CharField(max_length=8, default="none")  # none, kick or ban
    raid_min_account_days = fields.IntField(default=0)
    raid_hold_seconds = fields.IntField(default=1800)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "raid_settings"


class VerificationSettings(Model):
    """One row per guild: the verification gate new members pass with a "Verify" button."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.OneToOneRelation[Guild] = fields.OneToOneField(
        "models.Guild", related_name=False, on_delete=fields.CASCADE
    )
    verification_enabled = fields.BooleanField(default=False)
    verified_role_id = fields.BigIntField(null=True)
    unverified_role_id = fields.BigIntField(null=True)
    verification_min_account_days = fields.IntField(default=0)
    verification_timeout_seconds = fields.IntField(default=0)  # 0: never kicks
    # Where the "Verify" message was posted last (state, not settings).
    verification_channel_id = fields.BigIntField(null=True)
    verification_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "verification_settings"


class ChannelLock(Model):
    """A locked channel and its @everyone overwrite from before the lock (none: `existed` off)."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, on_delete=fields.CASCADE
    )
    channel_id = fields.BigIntField()
    existed = fields.BooleanField()
    allow = fields.BigIntField(default=0)
    deny = fields.BigIntField(default=0)
    reason = fields.TextField(null=True)
    incident: fields.ForeignKeyNullableRelation[SecurityIncident] = fields.ForeignKeyField(
        "models.SecurityIncident",
        related_name=False,
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "channel_locks"
        unique_together = (("guild", "channel_id"),)


class ChannelSlowmode(Model):
    """A channel whose slowmode a raid raised, and the slowmode to restore afterwards."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, on_delete=fields.CASCADE
    )
    channel_id = fields.BigIntField()
    previous_seconds = fields.IntField()
    raised_to = fields.IntField()
    incident: fields.ForeignKeyNullableRelation[SecurityIncident] = fields.ForeignKeyField(
        "models.SecurityIncident",
        related_name=False,
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "channel_slowmodes"
        unique_together = (("guild", "channel_id"),)
