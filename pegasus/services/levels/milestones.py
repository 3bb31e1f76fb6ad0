"""A member's level milestones: each change of their level, dated, and the reward roles it
reached.

A row is written in the transaction that changes the level (the activity flush, or XP set by
hand), so a milestone exists exactly when the level changed. Rows before this table existed are
not recreated: a member's earlier levels have no date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from models.levels import LevelMilestone

from .config import Reward

__all__ = ["LevelStep", "Milestone", "member_milestones", "record_milestones"]


@dataclass(frozen=True, slots=True)
class LevelStep:
    """One member's level changing, as the writer of their XP saw it."""

    guild_id: int
    user_id: int
    old_level: int
    new_level: int
    xp: int


@dataclass(frozen=True, slots=True)
class Milestone:
    reached_at: datetime
    old_level: int
    new_level: int
    xp: int
    by_hand: bool
    reward_role_ids: tuple[int, ...]  # reward roles of the levels this change reached

    @property
    def up(self) -> bool:
        return self.new_level > self.old_level


async def record_milestones(
    conn: BaseDBAsyncClient, steps: Iterable[LevelStep], now: datetime, *, by_hand: bool = False
) -> None:
    """Store each level change, in the caller's transaction."""
    rows = [
        LevelMilestone(
            guild_id=step.guild_id,
            user_id=step.user_id,
            old_level=step.old_level,
            new_level=step.new_level,
            xp=step.xp,
            by_hand=by_hand,
            reached_at=now,
        )
        for step in steps
        if step.new_level != step.old_level
    ]
    if rows:
        await LevelMilestone.bulk_create(rows, using_db=conn)


def _rewards_reached(rewards: list[Reward], old_level: int, new_level: int) -> tuple[int, ...]:
    return tuple(
        r.role_id
        for r in sorted(rewards, key=lambda r: r.level)
        if old_level < r.level <= new_level
    )


async def member_milestones(
    guild_id: int, user_id: int, rewards: Iterable[Reward], *, limit: int = 50
) -> list[Milestone]:
    """The member's newest level changes, newest first, each with the reward roles it reached
    (the roles the bot then gives, when Discord lets it)."""
    reward_list = list(rewards)
    rows = (
        await LevelMilestone.filter(guild_id=guild_id, user_id=user_id)
        .order_by("-reached_at", "-id")
        .limit(limit)
    )
    return [
        Milestone(
            reached_at=row.reached_at,
            old_level=row.old_level,
            new_level=row.new_level,
            xp=row.xp,
            by_hand=row.by_hand,
            reward_role_ids=_rewards_reached(reward_list, row.old_level, row.new_level),
        )
        for row in rows
    ]
