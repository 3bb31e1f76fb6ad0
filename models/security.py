"""Security and audit: security logs, the blacklist, audit logs, rate limits, incidents, API keys.

Columns that name an actor (added_by, resolved_by, actor) are nullable with SET NULL, so deleting a
user keeps the record. Logs listed newest first are indexed on (guild_id, created_at).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.guilds import Guild, User
from models.ids import PUBLIC_ID_MAX_LENGTH

BOT_WIDE_SCOPE = 0  # blacklist.scope_id of an entry that applies in every guild


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class BlacklistEntityType(StrEnum):
    USER = "user"
    GUILD = "guild"
    ROLE = "role"
    CHANNEL = "channel"


class AppealStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class AuditSource(StrEnum):
    DISCORD = "discord"
    API = "api"
    WEB = "web"  # the dashboard


class IncidentStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"


class SecurityLog(Model):
    """A security event (raid detected, spam blocked, permission probe, ...)."""

    id = fields.UUIDField(primary_key=True)
    guild: fields.ForeignKeyNullableRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, null=True, on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL, db_index=True
    )
    action = fields.CharField(max_length=64)
    severity = fields.CharEnumField(Severity, default=Severity.LOW)
    description = fields.TextField(default="")
    metadata: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    user_agent = fields.CharField(max_length=512, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "security_logs"
        indexes = (("guild_id", "created_at"),)


class Blacklist(Model):
    """A blocked user, guild, role or channel, in one guild or bot-wide (`guild` null).

    Uniqueness is (entity_type, entity_id, scope_id) where `scope_id` is the guild id or 0 for
    bot-wide entries: SQL treats NULLs as distinct, so a unique key on the nullable `guild_id`
    would let the same bot-wide entry be stored twice. `save()` keeps `scope_id` in step with
    `guild`; code that writes with `bulk_create` or `update()` must set both.
    """

    id = fields.BigIntField(primary_key=True)
    entity_type = fields.CharEnumField(BlacklistEntityType)
    entity_id = fields.BigIntField()
    guild: fields.ForeignKeyNullableRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="blacklist_entries", null=True, on_delete=fields.CASCADE,
        db_index=True,
    )
    scope_id = fields.BigIntField(default=BOT_WIDE_SCOPE)
    reason = fields.TextField(null=True)
    added_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL, db_index=True
    )
    active = fields.BooleanField(default=True)
    appeal_status = fields.CharEnumField(AppealStatus, default=AppealStatus.NONE)
    expires_at = fields.DatetimeField(null=True)
    metadata: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "blacklist"
        unique_together = (("entity_type", "entity_id", "scope_id"),)

    async def save(self, *args: Any, **kwargs: Any) -> None:
        guild_id = self.guild_id  # type: ignore[attr-defined]
        self.scope_id = guild_id if guild_id is not None else BOT_WIDE_SCOPE
        await super().save(*args, **kwargs)


class AuditLog(Model):
    """Who changed what, from Discord, the API or the dashboard, with the state before and after."""

    id = fields.UUIDField(primary_key=True)
    guild: fields.ForeignKeyNullableRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, null=True, on_delete=fields.CASCADE
    )
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL, db_index=True
    )
    source = fields.CharEnumField(AuditSource, default=AuditSource.DISCORD)
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=32, null=True)
    target_id = fields.CharField(max_length=64, null=True)  # a snowflake or a public id
    before: dict[str, Any] | None = fields.JSONField(null=True)  # type: ignore[assignment]
    after: dict[str, Any] | None = fields.JSONField(null=True)  # type: ignore[assignment]
    # Keyed HMAC of the client address; the raw address is never stored.
    ip_hash = fields.CharField(max_length=64, null=True)
    user_agent = fields.CharField(max_length=512, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_logs"
        indexes = (("guild_id", "created_at"),)


class RateLimitViolation(Model):
    """Rate-limit strikes of one subject (a user or an API key) on one endpoint.

    `subject` is "user:<id>" or "api_key:<uuid>", so one unique key covers both kinds.
    """

    id = fields.BigIntField(primary_key=True)
    subject = fields.CharField(max_length=64)
    user_id = fields.BigIntField(null=True)
    api_key: fields.ForeignKeyNullableRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="rate_limit_violations", null=True,
        on_delete=fields.CASCADE, db_index=True,
    )
    guild: fields.ForeignKeyNullableRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, null=True, on_delete=fields.CASCADE, db_index=True
    )
    endpoint = fields.CharField(max_length=128)
    violations = fields.IntField(default=0)
    blocked = fields.BooleanField(default=False)
    blocked_until = fields.DatetimeField(null=True)
    ip_hash = fields.CharField(max_length=64, null=True)
    metadata: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "rate_limit_violations"
        unique_together = (("subject", "endpoint"),)


class SecurityIncident(Model):
    """An incident under investigation (a raid, a compromised account, API abuse, ...)."""

    id = fields.BigIntField(primary_key=True)
    incident_id = fields.CharField(max_length=PUBLIC_ID_MAX_LENGTH, unique=True)  # e.g. "I-7K2QX"
    guild: fields.ForeignKeyNullableRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, null=True, on_delete=fields.CASCADE
    )
    type = fields.CharField(max_length=32)
    severity = fields.CharEnumField(Severity, default=Severity.MEDIUM)
    status = fields.CharEnumField(IncidentStatus, default=IncidentStatus.OPEN)
    description = fields.TextField(default="")
    affected_users: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    actions: list[dict[str, Any]] = fields.JSONField(default=list)  # type: ignore[assignment]
    notes: list[dict[str, Any]] = fields.JSONField(default=list)  # type: ignore[assignment]
    resolved_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL, db_index=True
    )
    resolved_at = fields.DatetimeField(null=True)
    metadata: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "security_incidents"
        indexes = (("guild_id", "created_at"),)


class ApiKey(Model):
    """A key for the REST API. Only the SHA-256 of the secret is stored, never the secret."""

    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=64)
    # A key belongs to its owner: it goes when the owner's user row goes.
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    guild: fields.ForeignKeyNullableRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, null=True, on_delete=fields.CASCADE, db_index=True
    )
    key_prefix = fields.CharField(max_length=16)  # shown to people to tell keys apart
    key_hash = fields.CharField(max_length=64, unique=True)  # hex SHA-256 of the secret
    scopes: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    rate_limit = fields.IntField(default=60)  # requests per minute
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    usage_count = fields.BigIntField(default=0)
    active = fields.BooleanField(default=True)
    metadata: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    rate_limit_violations: fields.ReverseRelation[RateLimitViolation]

    class Meta:
        table = "api_keys"


class RoleDelegation(Model):
    """Who last set a role up to be given by Pegasus on someone's behalf.

    Level rewards, shop role items, automation role steps, autoroles, the mute role and ticket
    support roles all let the bot give or ping a role later. Whoever sets one up must be able to
    give it themselves; when the bot gives it, it checks that this person still could, so a role
    that later gains an elevated permission or rises above them is not handed out.
    """

    id = fields.IntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    role_id = fields.BigIntField()
    # Null once the person's user row is deleted: the role is then treated as vouched by nobody.
    configured_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL, db_index=True
    )
    # The role's permission bits when it was set up: one that gains an elevated permission
    # afterwards is not given until someone sets it up again.
    permissions = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "role_delegations"
        unique_together = (("guild", "role_id"),)


class IdempotentRequest(Model):
    """The first answer to a POST sent with an `Idempotency-Key`, replayed to its retries.

    Keyed by the API key and the client's idempotency key, so two clients never share answers.
    `status` is null while the first request is still running; `fingerprint` is a hash of the
    method, path and body, so the same idempotency key with another request is refused.
    """

    id = fields.BigIntField(primary_key=True)
    api_key: fields.ForeignKeyRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    key = fields.CharField(max_length=255)
    fingerprint = fields.CharField(max_length=64)
    status = fields.IntField(null=True)
    response: dict[str, Any] | None = fields.JSONField(null=True)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotent_requests"
        unique_together = (("api_key", "key"),)
