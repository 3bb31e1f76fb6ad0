"""Leaderboards (XP, messages, voice minutes, money) and a member's rank and progress.

The XP board and ranks read the XP histogram (histogram.py) instead of counting the guild: a
rank is the sum of the buckets above the member plus a count inside the member's bucket (or
tie block), and a page starts at the member found the same way, then walks down the
(guild_id, xp, user_id) index. Both cost the same at any page and any size of guild. The
histogram and the rows are read in one snapshot, so they agree while flushes commit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models.economy import EconomyBalance
from models.guilds import Member, User
from models.levels import UserXP

from .activity import Unwritten
from .histogram import EXACT_BELOW, block_of, block_start, bucket_bounds, bucket_of
from .rules import LevelProgress, level_progress

__all__ = [
    "PAGE_SIZE",
    "LeaderboardCategory",
    "LeaderboardEntry",
    "LeaderboardPage",
    "RankInfo",
    "leaderboard_after",
    "leaderboard_page",
    "member_rank",
    "top_xp",
    "xp_position",
]

PAGE_SIZE = 10


class LeaderboardCategory(StrEnum):
    XP = "xp"
    MESSAGES = "messages"
    VOICE = "voice"
    MONEY = "money"


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    position: int
    user_id: int
    value: int
    level: int | None  # for the XP board
    name: str  # as last stored; the adapter prefers the live display name


@dataclass(frozen=True, slots=True)
class LeaderboardPage:
    category: LeaderboardCategory
    page: int  # 1-based, clamped to the pages that exist
    pages: int
    total: int
    entries: tuple[LeaderboardEntry, ...]


_BOARDS: dict[LeaderboardCategory, tuple[Any, str]] = {
    LeaderboardCategory.XP: (UserXP, "xp"),
    LeaderboardCategory.MESSAGES: (Member, "messages"),
    LeaderboardCategory.VOICE: (Member, "voice_minutes"),
    LeaderboardCategory.MONEY: (EconomyBalance, "net_worth"),
}


def _display_name(username: str | None, global_name: str | None, user_id: int) -> str:
    return global_name or username or f"User {user_id}"


async def leaderboard_page(
    guild_id: int, category: LeaderboardCategory, page: int = 1
) -> LeaderboardPage:
    """Ten members per page, best first (ties broken by user id); zeros are left out."""
    if category is LeaderboardCategory.XP:
        return await _xp_page(guild_id, page)
    model, column = _BOARDS[category]
    query = model.filter(guild_id=guild_id, **{f"{column}__gt": 0})
    total = await query.count()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    fields = ["user_id", column, "user__username", "user__global_name"]
    if category is LeaderboardCategory.XP:
        fields.append("level")
    rows = (
        await query.order_by(f"-{column}", "user_id")
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .values(*fields)
    )
    entries = tuple(
        LeaderboardEntry(
            position=(page - 1) * PAGE_SIZE + index + 1,
            user_id=row["user_id"],
            value=row[column],
            level=row.get("level"),
            name=_display_name(row["user__username"], row["user__global_name"], row["user_id"]),
        )
        for index, row in enumerate(rows)
    )
    return LeaderboardPage(category, page, pages, total, entries)


async def leaderboard_after(
    guild_id: int,
    category: LeaderboardCategory,
    after: tuple[int, int] | None,
    count: int,
) -> list[LeaderboardEntry]:
    """Up to `count` members in board order after the member with (value, user id) `after`, or
    from the top: a keyset walk for clients that page with a cursor. Positions are exact: the
    first one is counted in the same snapshot (by the histogram on the XP board)."""
    if category is LeaderboardCategory.XP:
        return await _xp_after(guild_id, after, count)
    model, column = _BOARDS[category]
    ranked = model.filter(guild_id=guild_id, **{f"{column}__gt": 0})
    async with _Snapshot() as conn:
        query = ranked.using_db(conn)
        if after is not None:
            query = query.filter(_below(column, *after))
        rows = (
            await query.order_by(f"-{column}", "user_id")
            .limit(count)
            .values("user_id", column, "user__username", "user__global_name")
        )
        ahead = 0
        if rows:
            first = rows[0]
            ahead = await ranked.using_db(conn).filter(
                _above(column, first[column], first["user_id"])
            ).count()
    return [
        LeaderboardEntry(
            position=ahead + index + 1,
            user_id=row["user_id"],
            value=row[column],
            level=None,
            name=_display_name(row["user__username"], row["user__global_name"], row["user_id"]),
        )
        for index, row in enumerate(rows)
    ]


def _below(column: str, value: int, user_id: int) -> Q:
    """Rows after (value, user id) in board order: less of it, or as much and a higher id."""
    return Q(**{f"{column}__lt": value}) | Q(**{column: value, "user_id__gt": user_id})


def _above(column: str, value: int, user_id: int) -> Q:
    return Q(**{f"{column}__gt": value}) | Q(**{column: value, "user_id__lt": user_id})


async def _xp_after(
    guild_id: int, after: tuple[int, int] | None, count: int
) -> list[LeaderboardEntry]:
    async with _Snapshot() as conn:
        sql = _Sql(conn)
        if after is None:
            start = await _member_at(sql, guild_id, 0)
        else:
            xp, user_id = after
            # Members without XP are not ranked, and nobody follows the largest id in a tie.
            start = (xp, user_id + 1) if xp > 0 and user_id < 2**63 - 1 else None
        rows = await _walk_down(sql, guild_id, start, count) if start else []
        ahead = await _members_ahead(sql, guild_id, rows[0][1], rows[0][0]) if rows else 0
        names = await _names([row[1] for row in rows], using_db=conn)
    return [
        LeaderboardEntry(
            position=ahead + index + 1,
            user_id=user_id,
            value=xp,
            level=level,
            name=names.get(user_id) or _display_name(None, None, user_id),
        )
        for index, (xp, user_id, level) in enumerate(rows)
    ]


async def top_xp(guild_id: int, limit: int = PAGE_SIZE) -> list[tuple[int, int, int]]:
    """(user id, xp, level) of the best `limit` members: one index scan."""
    return await (
        UserXP.filter(guild_id=guild_id, xp__gt=0)
        .order_by("-xp", "user_id")
        .limit(limit)
        .values_list("user_id", "xp", "level")
    )


async def xp_position(guild_id: int, user_id: int, xp: int) -> int:
    """1-based position on the XP leaderboard of a member with `xp` (same order as the board;
    the member's own stored row may hold less, it is never counted as ahead)."""
    async with _Snapshot() as conn:
        return await _members_ahead(_Sql(conn), guild_id, user_id, xp) + 1


# --------------------------------------------------------------------------- the XP board


class _Sql:
    """Statements on one connection, with `?` written for either dialect's placeholders."""

    def __init__(self, conn: BaseDBAsyncClient) -> None:
        self.conn = conn
        self.postgres = conn.capabilities.dialect == "postgres"

    def _text(self, sql: str) -> str:
        if not self.postgres:
            return sql
        parts = sql.split("?")
        return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]

    async def rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        return await self.conn.execute_query_dict(self._text(sql), list(params))

    async def one(self, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
        rows = await self.rows(sql, params)
        return rows[0] if rows else None


class _Snapshot:
    """A read-only transaction whose statements all see the same committed state."""

    async def __aenter__(self) -> BaseDBAsyncClient:
        self._transaction = in_transaction()
        conn = await self._transaction.__aenter__()
        if conn.capabilities.dialect == "postgres":
            await conn.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return conn

    async def __aexit__(self, *exc: Any) -> None:
        await self._transaction.__aexit__(*exc)


async def _members_ahead(sql: _Sql, guild_id: int, user_id: int, xp: int) -> int:
    """Ranked members before (user_id, xp): the buckets above, then inside the bucket."""
    bucket = bucket_of(xp)
    if xp < EXACT_BELOW:  # a bucket of one XP value: ties in user-id blocks, then one block
        block = block_of(user_id)
        row = await sql.one(
            "SELECT (SELECT COALESCE(SUM(members), 0) FROM xp_histogram "
            "WHERE guild_id = ? AND bucket > ?) AS above, "
            "(SELECT COALESCE(SUM(members), 0) FROM xp_tie_blocks "
            "WHERE guild_id = ? AND xp = ? AND block < ?) AS blocks, "
            "(SELECT COUNT(*) FROM user_xp "
            "WHERE guild_id = ? AND xp = ? AND user_id >= ? AND user_id < ?) AS inside",
            [guild_id, bucket, guild_id, xp, block, guild_id, xp, block_start(block), user_id],
        )
        assert row is not None
        return int(row["above"]) + int(row["blocks"]) + int(row["inside"])
    highest = bucket_bounds(bucket)[1]
    row = await sql.one(
        "SELECT (SELECT COALESCE(SUM(members), 0) FROM xp_histogram "
        "WHERE guild_id = ? AND bucket > ?) AS above, "
        "(SELECT COUNT(*) FROM user_xp WHERE guild_id = ? AND xp > ? AND xp <= ?) AS higher, "
        "(SELECT COUNT(*) FROM user_xp WHERE guild_id = ? AND xp = ? AND user_id < ?) AS ties",
        [guild_id, bucket, guild_id, xp, highest, guild_id, xp, user_id],
    )
    assert row is not None
    return int(row["above"]) + int(row["higher"]) + int(row["ties"])


async def _xp_page(guild_id: int, page: int) -> LeaderboardPage:
    async with _Snapshot() as conn:
        sql = _Sql(conn)
        total_row = await sql.one(
            "SELECT COALESCE(SUM(members), 0) AS total FROM xp_histogram WHERE guild_id = ?",
            [guild_id],
        )
        total = int(total_row["total"]) if total_row else 0
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(max(page, 1), pages)
        skip = (page - 1) * PAGE_SIZE
        start = await _member_at(sql, guild_id, skip) if total else None
        rows = await _walk_down(sql, guild_id, start, PAGE_SIZE) if start else []
        names = await _names([row[1] for row in rows], using_db=conn)
    entries = tuple(
        LeaderboardEntry(
            position=skip + index + 1,
            user_id=user_id,
            value=xp,
            level=level,
            name=names.get(user_id) or _display_name(None, None, user_id),
        )
        for index, (xp, user_id, level) in enumerate(rows)
    )
    return LeaderboardPage(LeaderboardCategory.XP, page, pages, total, entries)


async def _member_at(sql: _Sql, guild_id: int, skip: int) -> tuple[int, int] | None:
    """(xp, user id) of the ranked member with `skip` members before them."""
    found = await sql.one(
        "SELECT bucket, running - members AS before FROM (SELECT bucket, members, "
        "SUM(members) OVER (ORDER BY bucket DESC) AS running FROM xp_histogram "
        "WHERE guild_id = ?) AS h WHERE running > ? ORDER BY bucket DESC LIMIT 1",
        [guild_id, skip],
    )
    if found is None:
        return None
    bucket, inside = found["bucket"], skip - int(found["before"])
    if bucket < EXACT_BELOW:
        block = await sql.one(
            "SELECT block, running - members AS before FROM (SELECT block, members, "
            "SUM(members) OVER (ORDER BY block) AS running FROM xp_tie_blocks "
            "WHERE guild_id = ? AND xp = ?) AS t WHERE running > ? ORDER BY block LIMIT 1",
            [guild_id, bucket, inside],
        )
        if block is None:
            return None
        row = await sql.one(
            "SELECT xp, user_id FROM user_xp WHERE guild_id = ? AND xp = ? AND user_id >= ? "
            "ORDER BY user_id LIMIT 1 OFFSET ?",
            [guild_id, bucket, block_start(block["block"]), inside - int(block["before"])],
        )
    else:
        lowest, highest = bucket_bounds(bucket)
        row = await sql.one(
            "SELECT xp, user_id FROM user_xp WHERE guild_id = ? AND xp >= ? AND xp <= ? "
            "ORDER BY xp DESC, user_id LIMIT 1 OFFSET ?",
            [guild_id, lowest, highest, inside],
        )
    return (row["xp"], row["user_id"]) if row else None


async def _walk_down(
    sql: _Sql, guild_id: int, start: tuple[int, int], count: int
) -> list[tuple[int, int, int]]:
    """`count` ranked members from `start` on, in board order: (xp, user id, level).

    The index is (guild_id, xp, user_id): read backwards it gives whole groups of equal XP in
    the order of the board except within the group, which is re-sorted; the last group read
    may be cut short, so it is read forwards on its own. A large tie is never read whole."""
    xp, user_id = start
    rows = await sql.rows(
        "SELECT xp, user_id, level FROM user_xp WHERE guild_id = ? AND xp = ? AND user_id >= ? "
        "ORDER BY user_id LIMIT ?",
        [guild_id, xp, user_id, count],
    )
    found = [(r["xp"], r["user_id"], r["level"]) for r in rows]
    while len(found) < count:
        below = await sql.rows(
            "SELECT xp, user_id, level FROM user_xp WHERE guild_id = ? AND xp < ? AND xp > 0 "
            "ORDER BY xp DESC, user_id DESC LIMIT ?",
            [guild_id, xp, count - len(found)],
        )
        if not below:
            break
        xp = below[-1]["xp"]
        whole = sorted(
            ((r["xp"], r["user_id"], r["level"]) for r in below if r["xp"] > xp),
            key=lambda r: (-r[0], r[1]),
        )
        found += whole
        rest = await sql.rows(
            "SELECT xp, user_id, level FROM user_xp WHERE guild_id = ? AND xp = ? "
            "ORDER BY user_id LIMIT ?",
            [guild_id, xp, count - len(found)],
        )
        found += [(r["xp"], r["user_id"], r["level"]) for r in rest]
    return found[:count]


async def _names(user_ids: list[int], *, using_db: BaseDBAsyncClient) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await User.filter(id__in=user_ids).using_db(using_db).values_list(
        "id", "username", "global_name"
    )
    return {uid: _display_name(username, global_name, uid) for uid, username, global_name in rows}


@dataclass(frozen=True, slots=True)
class RankInfo:
    guild_id: int
    user_id: int
    progress: LevelProgress
    rank: int | None  # None while the member has no XP
    messages: int
    voice_minutes: int
    background: str | None
    accent: int | None


async def member_rank(
    guild_id: int, user_id: int, unwritten: Unwritten | None = None
) -> RankInfo:
    """Level, progress, rank and activity of a member, and their rank card style.

    `unwritten`, taken from the activity buffer before the call, adds what the member earned
    and the flush has not stored yet: the answer is exact without waiting for a flush."""
    async with _Snapshot() as conn:
        sql = _Sql(conn)
        stored = await sql.one(
            "SELECT x.xp, x.updated_at, m.messages, m.voice_minutes FROM user_xp AS x "
            "LEFT JOIN members AS m ON m.guild_id = x.guild_id AND m.user_id = x.user_id "
            "WHERE x.guild_id = ? AND x.user_id = ?",
            [guild_id, user_id],
        )
        if stored is None:  # no XP row: counters may exist without one (set by hand)
            stored = await sql.one(
                "SELECT 0 AS xp, NULL AS updated_at, messages, voice_minutes FROM members "
                "WHERE guild_id = ? AND user_id = ?",
                [guild_id, user_id],
            )
        xp, messages, voice_minutes, stored_at = _stored_counts(stored)
        if unwritten is not None:
            extra = unwritten.beyond(stored_at)
            xp, messages = xp + extra.xp, messages + extra.messages
            voice_minutes += extra.voice_minutes
        rank = await _members_ahead(sql, guild_id, user_id, xp) + 1 if xp > 0 else None
    style = await User.filter(id=user_id).values_list("rank_card_background", "rank_card_accent")
    background, accent = style[0] if style else (None, None)
    return RankInfo(
        guild_id=guild_id,
        user_id=user_id,
        progress=level_progress(xp),
        rank=rank,
        messages=messages,
        voice_minutes=voice_minutes,
        background=background,
        accent=accent,
    )


def _stored_counts(row: dict[str, Any] | None) -> tuple[int, int, int, datetime | None]:
    """(xp, messages, voice minutes, when the XP row was written) of a stored member."""
    if row is None:
        return 0, 0, 0, None
    stored_at = row["updated_at"]
    if isinstance(stored_at, str):  # SQLite hands raw rows back as text
        stored_at = datetime.fromisoformat(stored_at)
    return (
        int(row["xp"] or 0),
        int(row["messages"] or 0),
        int(row["voice_minutes"] or 0),
        stored_at,
    )

