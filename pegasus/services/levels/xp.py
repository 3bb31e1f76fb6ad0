"""XP by hand: staff add, remove, set or reset a member's XP; a member's stored level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise.transactions import in_transaction

from models.guilds import Member
from models.levels import UserXP
from pegasus import notify
from pegasus.errors import ValidationError
from pegasus.i18n import _, format_number
from pegasus.services import directory

from .histogram import HistogramDelta, write_histogram
from .milestones import LevelStep, record_milestones
from .rules import MAX_XP, level_for_xp

__all__ = ["MAX_ADJUST", "XpChange", "XpOperation", "adjust_xp", "stored_level"]

MAX_ADJUST = 100_000_000


class XpOperation(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    SET = "set"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class XpChange:
    guild_id: int
    user_id: int
    old_xp: int
    new_xp: int
    old_level: int
    new_level: int


async def adjust_xp(
    guild_id: int, user_id: int, operation: XpOperation, amount: int = 0, *, now: datetime
) -> XpChange:
    """Add, remove, set or reset a member's XP; user_xp and members change together.

    The user_xp row is locked first (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite transactions
    are serialised), so a concurrent flush or command never loses an update; like the flush, it
    touches user_xp before members and the XP histogram, so none wait on each other in a circle.
    """
    if operation is XpOperation.RESET:
        amount = 0
    elif not 0 <= amount <= MAX_ADJUST or (operation is not XpOperation.SET and amount == 0):
        raise ValidationError(
            _("The amount must be between 1 and {maximum}.").format(
                maximum=format_number(MAX_ADJUST)
            )
        )
    async with in_transaction() as conn:
        await directory.ensure_guild(guild_id, using_db=conn)
        await directory.ensure_user(user_id, using_db=conn)
        await UserXP.bulk_create(
            [UserXP(guild_id=guild_id, user_id=user_id)], ignore_conflicts=True, using_db=conn
        )
        row = (
            await UserXP.filter(guild_id=guild_id, user_id=user_id)
            .using_db(conn)
            .select_for_update()
            .get()
        )
        if operation is XpOperation.ADD:
            new_xp = min(row.xp + amount, MAX_XP)
        elif operation is XpOperation.REMOVE:
            new_xp = max(row.xp - amount, 0)
        else:
            new_xp = amount
        new_level = level_for_xp(new_xp)
        await UserXP.filter(id=row.id).using_db(conn).update(
            xp=new_xp, level=new_level, updated_at=now
        )
        await Member.bulk_create(
            [Member(guild_id=guild_id, user_id=user_id)], ignore_conflicts=True, using_db=conn
        )
        await Member.filter(guild_id=guild_id, user_id=user_id).using_db(conn).update(
            xp=new_xp, level=new_level, updated_at=now
        )
        moved = HistogramDelta()
        moved.move(guild_id, user_id, row.xp, new_xp)
        await write_histogram(conn, moved)
        await record_milestones(
            conn,
            [LevelStep(guild_id, user_id, row.level, new_level, new_xp)],
            now,
            by_hand=True,
        )
    await notify.announce(notify.Topic.XP, guild_id)  # kept leaderboards and ranks are stale
    return XpChange(guild_id, user_id, row.xp, new_xp, row.level, new_level)


async def stored_level(guild_id: int, user_id: int) -> int | None:
    """The member's stored level, or None when they never earned XP here."""
    row = await UserXP.filter(guild_id=guild_id, user_id=user_id).values_list("level", flat=True)
    return row[0] if row else None

