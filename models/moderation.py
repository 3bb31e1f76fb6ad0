"""Moderation: cases, warnings with their edit history, warning automations, per-guild settings.

Every moderation action is a `mod_cases` row numbered per guild (1, 2, 3 ...). The number comes
from `moderation_settings.last_case_number`, moved with an atomic UPDATE inside the transaction
that writes the case, so concurrent actions (and several processes) never share or skip a number.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.guilds import Guild, User
from models.ids import PUBLIC_ID_MAX_LENGTH


class CaseType(StrEnum):
    WARN = "warn"
    MUTE = "mute"
    UNMUTE = "unmute"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    TIMEOUT = "timeout"
    UNTIMEOUT = "untimeout"
    PURGE = "purge"


class TriggerType(StrEnum):
    WARN_COUNT = "warn_count"  # number of counting warnings
    LEVEL_TOTAL = "level_total"  # sum of their levels


class AutomationActionType(StrEnum):
    TIMEOUT = "timeout"
    MUTE = "mute"
    KICK = "kick"
    BAN = "ban"
    ROLE = "role"
    MESSAGE = "message"


class WarningEditKind(StrEnum):
    EDIT = "edit"
    REMOVE = "remove"
    EXPIRE = "expire"


class ModerationSettings(Model):
    """One row per guild: where cases are posted, the mute role, and the case counter."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.OneToOneRelation[Guild] = fields.OneToOneField(
        "models.Guild", related_name="moderation_settings", on_delete=fields.CASCADE
    )
    modlog_channel_id = fields.BigIntField(null=True)
    mute_role_id = fields.BigIntField(null=True)
    # The number of the newest case; the next case takes last_case_number + 1.
    last_case_number = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "moderation_settings"

    def __str__(self) -> str:
        return f"Moderation settings of guild {self.guild_id}"  # type: ignore[attr-defined]


class ModCase(Model):
    """One moderation action. `active` is true while a timed punishment is still running."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="mod_cases", on_delete=fields.CASCADE
    )
    case_number = fields.IntField()
    type = fields.CharEnumField(CaseType, max_length=16)
    # The target; null only for actions on no one in particular (a purge of a whole channel).
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="mod_cases_received",
        on_delete=fields.CASCADE,
        null=True,
        db_index=True,
    )
    moderator: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="mod_cases_issued",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    reason = fields.TextField(null=True)
    duration_seconds = fields.BigIntField(null=True)
    expires_at = fields.DatetimeField(null=True)
    active = fields.BooleanField(default=False)
    proof: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    reason_edited_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="mod_cases_reason_edited",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    reason_edited_at = fields.DatetimeField(null=True)
    channel_id = fields.BigIntField(null=True)  # where it happened (purge), when it matters
    modlog_message_id = fields.BigIntField(null=True)
    # Extra facts: the automation that fired, the number of messages purged, ...
    metadata: dict = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "mod_cases"
        unique_together = (("guild", "case_number"),)
        indexes = (("guild_id", "user_id", "type"), ("created_at",))

    def __str__(self) -> str:
        return f"Case #{self.case_number} ({self.type}) in guild {self.guild_id}"  # type: ignore[attr-defined]


class MemberWarning(Model):
    """A warning with a public id (`W-7K2QX`), a level 1-5 and the case it created."""

    id = fields.BigIntField(primary_key=True)
    warn_id = fields.CharField(max_length=PUBLIC_ID_MAX_LENGTH, unique=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="warnings", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="warnings_received", on_delete=fields.CASCADE, db_index=True
    )
    moderator: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="warnings_issued",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    case: fields.ForeignKeyNullableRelation[ModCase] = fields.ForeignKeyField(
        "models.ModCase",
        related_name="warnings",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    title = fields.CharField(max_length=256)
    description = fields.TextField(null=True)
    level = fields.SmallIntField(default=1)
    proof: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    # False once removed or expired; removed warnings keep who removed them and why.
    active = fields.BooleanField(default=True)
    expires_at = fields.DatetimeField(null=True)
    removed_at = fields.DatetimeField(null=True)
    removed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="warnings_removed",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    removed_reason = fields.TextField(null=True)
    edited_at = fields.DatetimeField(null=True)
    edited_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="warnings_edited",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "warnings"
        indexes = (("guild_id", "user_id", "created_at"),)

    def __str__(self) -> str:
        return f"Warning {self.warn_id}"


class WarningEdit(Model):
    """One change to a warning (edit, removal, expiry) with the values before and after."""

    id = fields.BigIntField(primary_key=True)
    warning: fields.ForeignKeyRelation[MemberWarning] = fields.ForeignKeyField(
        "models.MemberWarning", related_name="edits", on_delete=fields.CASCADE, db_index=True
    )
    editor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="warning_edits",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    kind = fields.CharEnumField(WarningEditKind, max_length=16, default=WarningEditKind.EDIT)
    before: dict = fields.JSONField(default=dict)
    after: dict = fields.JSONField(default=dict)
    reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "warning_edits"

    def __str__(self) -> str:
        return f"{self.kind} of warning {self.warning_id}"  # type: ignore[attr-defined]


class WarningAutomation(Model):
    """A rule: when a member's warnings cross `trigger_value`, run `actions` once.

    `actions` is a list of `{type, duration_seconds?, role_id?, message?}` (AutomationActionType).
    """

    id = fields.BigIntField(primary_key=True)
    automation_id = fields.CharField(max_length=PUBLIC_ID_MAX_LENGTH, unique=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="warning_automations", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    description = fields.TextField(null=True)
    trigger_type = fields.CharEnumField(TriggerType, max_length=16)
    trigger_value = fields.IntField()
    window_days = fields.IntField(null=True)  # null = all time
    actions: list[dict] = fields.JSONField(default=list)  # type: ignore[assignment]
    enabled = fields.BooleanField(default=True)
    notify_channel_id = fields.BigIntField(null=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="warning_automations_created",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    last_triggered_at = fields.DatetimeField(null=True)
    trigger_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "warning_automations"
        indexes = (("guild_id", "enabled"),)

    def __str__(self) -> str:
        return f"Automation {self.automation_id} ({self.name})"


class CaseAuditEntry(Model):
    """The Discord audit log entry a case was read from: a ban, unban, kick or timeout taken in
    Discord's own menus. The unique entry id makes one case per entry at most, whatever replays."""

    id = fields.BigIntField(primary_key=True)
    entry_id = fields.BigIntField(unique=True)  # Discord's id of the audit log entry
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="case_audit_entries", on_delete=fields.CASCADE, db_index=True
    )
    case: fields.OneToOneRelation[ModCase] = fields.OneToOneField(
        "models.ModCase", related_name="audit_entry", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "mod_case_audit_entries"

    def __str__(self) -> str:
        return f"Audit log entry {self.entry_id} of case {self.case_id}"  # type: ignore[attr-defined]
