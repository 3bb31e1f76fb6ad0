"""Giveaways and their entries.

A giveaway moves through `scheduled → active → ended` (or `cancelled`) only by conditional UPDATEs
(`... WHERE status = 'active'`), so a manual end racing the timer, a restart or a second process
end it exactly once. The draw is verifiable: `seed_hash` (SHA-256 of `seed`) is shown while the
giveaway runs, `seed` is revealed when it ends, and every draw (the first one and each reroll) is
recorded in `draws` with everything needed to recompute it (see pegasus.services.giveaways).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.ids import PUBLIC_ID_MAX_LENGTH


class GiveawayStatus(StrEnum):
    SCHEDULED = "scheduled"  # posted, not open for entries until starts_at
    ACTIVE = "active"  # open for entries until ends_at
    ENDED = "ended"  # winners drawn (possibly none), seed revealed
    CANCELLED = "cancelled"  # stopped without a draw


class Giveaway(Model):
    """One giveaway. `requirements` and `bonus_entries` are JSON objects:

    requirements  {"role_ids": [int], "min_level": int | null, "min_account_age_days": int | null,
                   "min_server_age_days": int | null}
    bonus_entries {"roles": {"<role id>": int}, "booster": int}
    draws         [{"round": int, "count": int, "excluded": [int], "winners": [int],
                    "at": iso-8601, "by": int | null}]
    """

    id = fields.BigIntField(primary_key=True)
    giveaway_id = fields.CharField(max_length=PUBLIC_ID_MAX_LENGTH, unique=True)  # "G-7K2QX"
    guild: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.Guild", related_name="giveaways", on_delete=fields.CASCADE
    )
    channel_id = fields.BigIntField()
    message_id = fields.BigIntField(null=True, db_index=True)
    host: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="hosted_giveaways", null=True, on_delete=fields.SET_NULL,
        db_index=True,
    )
    prize = fields.CharField(max_length=256)
    description = fields.TextField(null=True)
    winner_count = fields.IntField()
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    status = fields.CharEnumField(GiveawayStatus, max_length=16, default=GiveawayStatus.ACTIVE)
    # Number of people entered (not the sum of weights); moved with F() under the row lock.
    entry_count = fields.IntField(default=0)
    requirements: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    bonus_entries: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    # The commitment: seed_hash is public from the start; seed is only shown once it has ended.
    seed_hash = fields.CharField(max_length=64)
    seed = fields.CharField(max_length=64)
    # SHA-256 of the sorted, weighted entry list the first draw used (see entries_digest).
    entries_digest = fields.CharField(max_length=64, null=True)
    winners: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    draws: list[dict[str, Any]] = fields.JSONField(default=list)  # type: ignore[assignment]
    ended_at = fields.DatetimeField(null=True)
    # The announcement of the end is a lease: `announced_at` is when a process claimed it (before
    # posting; cleared again if posting failed), `announcement_confirmed_at` when the post
    # succeeded. A claim still unconfirmed after the lease (its process died) is taken back by
    # the end timer, so every end is announced, and a confirmed one is never announced again.
    announced_at = fields.DatetimeField(null=True)
    announcement_confirmed_at = fields.DatetimeField(null=True)
    cancelled_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="cancelled_giveaways", null=True, on_delete=fields.SET_NULL,
        db_index=True,
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    entries: fields.ReverseRelation[GiveawayEntry]

    class Meta:
        table = "giveaways"
        indexes = (("guild_id", "status"), ("status", "ends_at"))

    def __str__(self) -> str:
        return f"Giveaway {self.giveaway_id}: {self.prize}"


class GiveawayEntry(Model):
    """A member's entry; `entries` is its weight (1 plus bonus entries), fixed when they entered."""

    id = fields.BigIntField(primary_key=True)
    giveaway: fields.ForeignKeyRelation[Giveaway] = fields.ForeignKeyField(
        "models.Giveaway", related_name="entries", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="giveaway_entries", on_delete=fields.CASCADE, db_index=True
    )
    entries = fields.IntField(default=1)
    joined_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "giveaway_entries"
        unique_together = (("giveaway", "user"),)

    def __str__(self) -> str:
        return f"Entry of {self.user_id} in giveaway {self.giveaway_id}"  # type: ignore[attr-defined]
