"""Durable timers: every delayed action is a row, written with the action that schedules it."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class ActionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ScheduledAction(Model):
    """One timed action (unban, end of a mute, giveaway end, ticket auto-close, item expiry...).

    The scheduler claims a due row by moving it from `pending` to `running` with a conditional
    UPDATE, so two processes or a restart never run it twice; a crashed claim is taken back
    once `locked_until` has passed.
    """

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    guild_id = fields.BigIntField(null=True)
    payload: dict = fields.JSONField(default=dict)
    due_at = fields.DatetimeField()
    status = fields.CharEnumField(ActionStatus, default=ActionStatus.PENDING, max_length=16)
    dedupe_key = fields.CharField(max_length=128, null=True)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)
    # What a queued job (an action asked for over the API) produced, for its job URL to report.
    result: dict | None = fields.JSONField(null=True)
    locked_by = fields.CharField(max_length=64, null=True)
    locked_until = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "scheduled_actions"
        indexes = (("status", "due_at"), ("kind", "dedupe_key"), ("guild_id",))

    def __str__(self) -> str:
        return f"{self.kind}#{self.id} due {self.due_at.isoformat()}"
