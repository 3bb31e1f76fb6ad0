"""Automod: the rules a guild filters messages with, and the hits they scored.

A rule's `params` hold what its kind needs (words, a pattern, domains, a threshold, ...);
`actions` and `escalation` are lists and objects of `{type, duration_seconds?, level?}`. Hits are
kept per rule and member: escalation ("3 hits in 10 minutes") counts them, so it survives a
restart. A hit keeps the case or warning an action made; removing a rule keeps its hits.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.guilds import Guild, User
from models.ids import PUBLIC_ID_MAX_LENGTH
from models.moderation import MemberWarning, ModCase


class AutomodRuleKind(StrEnum):
    WORDS = "words"
    REGEX = "regex"
    INVITES = "invites"
    LINKS = "links"
    CAPS = "caps"
    EMOJI = "emoji"
    MENTIONS = "mentions"
    ATTACHMENTS = "attachments"
    NEW_ACCOUNT = "new_account"


class AutomodRule(Model):
    """One filter of a guild, with a public id (`AM-7K2QX`)."""

    id = fields.BigIntField(primary_key=True)
    rule_id = fields.CharField(max_length=PUBLIC_ID_MAX_LENGTH, unique=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="automod_rules", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    kind = fields.CharEnumField(AutomodRuleKind, max_length=16)
    params: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    exempt_roles: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    exempt_channels: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    actions: list[dict[str, Any]] = fields.JSONField(default=list)  # type: ignore[assignment]
    # {hits, window_seconds, action: {type, duration_seconds?, level?}} or null
    escalation: dict[str, Any] | None = fields.JSONField(null=True)  # type: ignore[assignment]
    enabled = fields.BooleanField(default=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="automod_rules_created",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "automod_rules"
        indexes = (("guild_id", "enabled"),)


class AutomodHit(Model):
    """A message that set off a rule: who, where, an excerpt, and what was done about it."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="automod_hits", on_delete=fields.CASCADE
    )
    rule: fields.ForeignKeyNullableRelation[AutomodRule] = fields.ForeignKeyField(
        "models.AutomodRule", related_name="hits", on_delete=fields.SET_NULL, null=True
    )
    rule_name = fields.CharField(max_length=100)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="automod_hits", on_delete=fields.CASCADE, db_index=True
    )
    channel_id = fields.BigIntField()
    message_id = fields.BigIntField(null=True)
    excerpt = fields.CharField(max_length=200, default="")
    reason = fields.CharField(max_length=200, default="")
    actions: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    # This hit set off the rule's escalation; hits before it no longer count towards the next.
    escalated = fields.BooleanField(default=False)
    case: fields.ForeignKeyNullableRelation[ModCase] = fields.ForeignKeyField(
        "models.ModCase",
        related_name="automod_hits",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    warning: fields.ForeignKeyNullableRelation[MemberWarning] = fields.ForeignKeyField(
        "models.MemberWarning",
        related_name="automod_hits",
        on_delete=fields.SET_NULL,
        null=True,
        db_index=True,
    )
    # When the message was said (or edited), as Discord tells it: escalation counts by it.
    created_at = fields.DatetimeField()

    class Meta:
        table = "automod_hits"
        indexes = (("rule_id", "user_id", "created_at"), ("guild_id", "created_at"))
        # One message sets off one rule once: a replayed or re-edited message is not punished
        # again. The insert that wins this acts; the one that loses does nothing.
        unique_together = (("guild", "message_id", "rule"),)
