"""Leaderboards (XP, messages, voice minutes, money) and a member's rank and progress.

The XP board and ranks read the XP histogram (histogram.py) instead of counting the guild: a
rank is the sum of the bands and buckets above the member plus a count inside the member's
bucket (or tie block), and a page starts at the member found the same way, then walks down the
(guild_id, xp, user_id) index. Both cost about the same at any page and any size of guild. A
page is one statement and a rank one (a rank card two), so the histogram and the rows they
read are of one snapshot and agree while flushes commit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models.economy import EconomyBalance
from models.guilds import Member
from models.levels import UserXP

from .activity import Unwritten
from .histogram import (
    BAND_SHIFT,
    BLOCK_SHIFT,
    BUCKETS_PER_BAND,
    EXACT_BELOW,
    block_of,
    block_start,
    bucket_bounds,
    bucket_bounds_sql,
    bucket_of,
)
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
    sql = _Sql()
    if after is None:
        rows = await sql.rows(PAGE_SQL, {"guild": guild_id, "page": 1, "count": count})
        return [_entry(int(row["n"]), row) for row in rows if row["user_id"] is not None]
    xp, user_id = after
    if xp <= 0 or user_id >= 2**63 - 1:
        return []  # members without XP are not ranked; nobody follows the largest id
    # Those ahead of the first member returned are those at or before `after`: ahead of the
    # next id with the same XP.
    params = _ahead_params(guild_id, user_id + 1, xp)
    rows = await sql.rows(AFTER_SQL, {**params, "count": count, "self": NOBODY, "at": user_id})
    return [_entry(int(row["ahead"]) + int(row["n"]), row) for row in rows]


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
    the member's own stored row is never counted as ahead, whatever it holds)."""
    return await _members_ahead(_Sql(), guild_id, user_id, xp) + 1


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


# --------------------------------------------------------------------------- the XP board
#
# A page and a rank are each ONE statement (a rank card two: the stored row, then the rank of
# the XP shown): no transaction, since one statement reads one snapshot on both databases, and
# one round trip. Statements are written with :names; `_Sql` turns them into each dialect's
# placeholders, the same text every call, so PostgreSQL plans each once per connection.

BOARD_ORDER = "xp DESC, user_id"


def _next_sql(xp: str, user_id: str) -> tuple[str, str]:
    """(xp, user id) of the ranked member after (xp, user id) in board order, as two scalar
    expressions, NULL after the last one: the next id with the same XP, else the lowest id of
    the next lower XP. Each is one probe of the (guild_id, xp, user_id) index, so a tie of any
    size is never read whole."""
    same = (
        f"(SELECT user_id FROM user_xp WHERE guild_id = :guild AND xp = {xp} "
        f"AND user_id > {user_id} ORDER BY user_id LIMIT 1)"
    )
    lower = (
        f"(SELECT xp FROM user_xp WHERE guild_id = :guild AND xp < {xp} AND xp > 0 "
        "ORDER BY xp DESC LIMIT 1)"
    )
    next_xp = f"CASE WHEN {same} IS NOT NULL THEN {xp} ELSE {lower} END"
    next_user = (
        f"COALESCE({same}, (SELECT user_id FROM user_xp WHERE guild_id = :guild "
        f"AND xp = {lower} ORDER BY user_id LIMIT 1))"
    )
    return next_xp, next_user


def _walk_sql(first: str) -> str:
    """CTEs that walk `:count` members down the board from the member `first` selects
    (n = 1; an n = 0 row is a position to start after and is not returned), then the rows
    with level and names."""
    next_xp, next_user = _next_sql("w.xp", "w.user_id")
    return (
        f"walk(n, xp, user_id) AS ({first} UNION ALL "
        f"SELECT w.n + 1, {next_xp}, {next_user} FROM walk AS w "
        "WHERE w.n < :count AND w.xp IS NOT NULL), "
        "found AS (SELECT w.n, w.xp, w.user_id, x.level, u.username, u.global_name "
        "FROM walk AS w JOIN user_xp AS x ON x.guild_id = :guild AND x.user_id = w.user_id "
        "LEFT JOIN users AS u ON u.id = w.user_id WHERE w.n > 0 AND w.xp IS NOT NULL)"
    )


def _page_sql() -> str:
    """One page: the total from the histogram clamps the page; the bucket (and tie block)
    holding its first position is found by running sums; the member at that position by an
    offset inside them; the rest by the walk. One row with the total when the page is empty."""
    pages = f"CASE WHEN total = 0 THEN 1 ELSE (total + {PAGE_SIZE - 1}) / {PAGE_SIZE} END"
    lowest, highest = bucket_bounds_sql("b.bucket")
    return (
        "WITH RECURSIVE "
        "counted AS (SELECT CAST(COALESCE(SUM(members), 0) AS BIGINT) AS total "
        "FROM xp_histogram_bands WHERE guild_id = :guild), "
        "asked AS (SELECT CAST(:page AS BIGINT) AS page), "
        "paged AS (SELECT total, CASE WHEN a.page < 1 THEN 1 "
        f"WHEN a.page > {pages} THEN {pages} ELSE a.page END AS page FROM counted, asked AS a), "
        f"params AS (SELECT total, page, (page - 1) * {PAGE_SIZE} AS skip FROM paged), "
        # The one band holding the position, then the one bucket in it (no ORDER BY: each
        # scan stops where the running sum passes the position).
        "band AS (SELECT h.band, CAST(h.running - h.members AS BIGINT) AS before FROM "
        "(SELECT band, members, SUM(members) OVER (ORDER BY band DESC ROWS UNBOUNDED "
        "PRECEDING) AS running FROM xp_histogram_bands WHERE guild_id = :guild) AS h "
        "WHERE h.running > (SELECT skip FROM params) "
        "AND h.running - h.members <= (SELECT skip FROM params) LIMIT 1), "
        "bucket AS (SELECT h.bucket, CAST(h.running - h.members AS BIGINT) AS before FROM "
        "(SELECT bucket, members, (SELECT before FROM band) + SUM(members) OVER "
        "(ORDER BY bucket DESC ROWS UNBOUNDED PRECEDING) AS running FROM xp_histogram "
        f"WHERE guild_id = :guild AND bucket >= (SELECT band FROM band) * {BUCKETS_PER_BAND} "
        f"AND bucket < ((SELECT band FROM band) + 1) * {BUCKETS_PER_BAND}) AS h "
        "WHERE h.running > (SELECT skip FROM params) "
        "AND h.running - h.members <= (SELECT skip FROM params) LIMIT 1), "
        "block AS (SELECT t.block, CAST(t.running - t.members AS BIGINT) AS before FROM "
        "(SELECT block, members, SUM(members) OVER (ORDER BY block ROWS UNBOUNDED PRECEDING) "
        "AS running FROM xp_tie_blocks WHERE guild_id = :guild "
        "AND xp = (SELECT bucket FROM bucket)) AS t "
        "WHERE t.running > (SELECT skip FROM params) - (SELECT before FROM bucket) "
        "AND t.running - t.members <= (SELECT skip FROM params) - (SELECT before FROM bucket) "
        "LIMIT 1), "
        # Inside a bucket of one XP value: the tie block, then an offset among its ids.
        "in_tie AS (SELECT xp, user_id FROM user_xp WHERE guild_id = :guild "
        f"AND xp = (SELECT bucket FROM bucket WHERE bucket < {EXACT_BELOW}) "
        f"AND user_id >= (SELECT block FROM block) * {1 << BLOCK_SHIFT} "
        "ORDER BY user_id LIMIT 1 OFFSET (SELECT COALESCE((SELECT skip FROM params) "
        "- (SELECT before FROM bucket) - (SELECT before FROM block), 0))), "
        # Inside a bucket of several XP values: an offset among its few members.
        f"bounds AS (SELECT {lowest} AS lowest, {highest} AS highest FROM bucket AS b "
        f"WHERE b.bucket >= {EXACT_BELOW}), "
        "in_range AS (SELECT xp, user_id FROM user_xp WHERE guild_id = :guild "
        "AND xp >= (SELECT lowest FROM bounds) AND xp <= (SELECT highest FROM bounds) "
        f"ORDER BY {BOARD_ORDER} LIMIT 1 OFFSET (SELECT COALESCE((SELECT skip FROM params) "
        "- (SELECT before FROM bucket), 0))), "
        + _walk_sql(
            "SELECT 1, xp, user_id FROM in_tie UNION ALL SELECT 1, xp, user_id FROM in_range"
        )
        + " SELECT p.total, p.page, f.n, f.xp, f.user_id, f.level, f.username, f.global_name "
        "FROM params AS p LEFT JOIN found AS f ON 1 = 1 ORDER BY f.n"
    )


def _after_sql() -> str:
    """`:count` members after the position (:xp, :at) in board order, each row with the
    members ahead of the first (`_ahead_sql` for the position after it)."""
    return (
        "WITH RECURSIVE "
        + _walk_sql("SELECT 0, CAST(:xp AS BIGINT), CAST(:at AS BIGINT)")
        + f" SELECT ({_ahead_expr()}) AS ahead, n, xp, user_id, level, username, global_name "
        "FROM found ORDER BY n"
    )


def _ahead_expr() -> str:
    """Ranked members ahead of (:xp, :user), :bucket being the bucket of :xp, :band its band
    (ending before bucket :band_end) and :highest its highest XP: the bands above, the buckets
    above in its band, then inside the bucket: for an exact bucket the tie blocks
    of lower ids and a count inside the member's block, else the higher XP in the bucket and
    the ties of lower id. The row of :self is never ahead: when it holds more than :xp
    (written after the XP shown was read) it is counted above, and taken off again."""
    return (
        "(SELECT COALESCE(SUM(members), 0) FROM xp_histogram_bands "
        "WHERE guild_id = :guild AND band > :band) "
        "+ (SELECT COALESCE(SUM(members), 0) FROM xp_histogram "
        "WHERE guild_id = :guild AND bucket > :bucket AND bucket < :band_end) "
        "+ (SELECT COALESCE(SUM(members), 0) FROM xp_tie_blocks "
        "WHERE guild_id = :guild AND xp = :xp AND block < :block) "
        "+ (SELECT COUNT(*) FROM user_xp WHERE guild_id = :guild "
        "AND xp > :xp AND xp <= :highest) "
        "+ (SELECT COUNT(*) FROM user_xp WHERE guild_id = :guild AND xp = :xp "
        "AND user_id >= :from_user AND user_id < :user) "
        "- (SELECT COUNT(*) FROM user_xp WHERE guild_id = :guild AND user_id = :self "
        "AND xp > :xp)"
    )


def _ahead_params(guild_id: int, user_id: int, xp: int) -> dict[str, int]:
    bucket = bucket_of(xp)
    exact = xp < EXACT_BELOW
    block = block_of(user_id) if exact else 0
    band = bucket >> BAND_SHIFT
    return {
        "guild": guild_id,
        "band": band,
        "band_end": (band + 1) << BAND_SHIFT,
        "bucket": bucket,
        "xp": xp,
        # An exact bucket holds one XP value: blocks of lower ids count the ties before the
        # member's block. Otherwise no tie block matches (block < 0) and all ties are counted.
        "block": block if exact else -1,
        "highest": bucket_bounds(bucket)[1],
        "from_user": block_start(block) if exact else -(2**63),
        "user": user_id,
        "self": user_id,
    }


PAGE_SQL = _page_sql()
AFTER_SQL = _after_sql()
AHEAD_SQL = f"SELECT {_ahead_expr()} AS ahead"
NOBODY = -1  # no member has this id: nobody's row is taken off the members ahead
STORED_SQL = (
    "SELECT x.xp, x.updated_at, m.messages, m.voice_minutes, "
    "u.rank_card_background AS background, u.rank_card_accent AS accent "
    "FROM (SELECT 1 AS one) AS base "
    "LEFT JOIN user_xp AS x ON x.guild_id = :guild AND x.user_id = :user "
    "LEFT JOIN members AS m ON m.guild_id = :guild AND m.user_id = :user "
    "LEFT JOIN users AS u ON u.id = :user"
)


class _Sql:
    """Statements with :named parameters, run on the default connection outside any
    transaction, with each dialect's placeholders (PostgreSQL: one $n per name)."""

    _texts: dict[tuple[str, bool], tuple[str, tuple[str, ...]]] = {}

    def __init__(self, conn: BaseDBAsyncClient | None = None) -> None:
        self.conn = conn or connections.get("default")
        self.postgres = self.conn.capabilities.dialect == "postgres"

    def _text(self, sql: str) -> tuple[str, tuple[str, ...]]:
        key = (sql, self.postgres)
        if key not in self._texts:
            names: list[str] = []

            def placeholder(match: re.Match[str]) -> str:
                name = match.group(1)
                if not self.postgres:
                    names.append(name)
                    return "?"
                if name not in names:
                    names.append(name)
                return f"${names.index(name) + 1}"

            text = re.sub(r"(?<![:\w]):([a-z_]+)", placeholder, sql)
            self._texts[key] = (text, tuple(names))
        return self._texts[key]

    async def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        text, names = self._text(sql)
        return await self.conn.execute_query_dict(text, [params[name] for name in names])

    async def one(self, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
        rows = await self.rows(sql, params)
        return rows[0] if rows else None


async def _members_ahead(sql: _Sql, guild_id: int, user_id: int, xp: int) -> int:
    row = await sql.one(AHEAD_SQL, _ahead_params(guild_id, user_id, xp))
    assert row is not None
    return int(row["ahead"])


def _entry(position: int, row: dict[str, Any]) -> LeaderboardEntry:
    user_id = int(row["user_id"])
    return LeaderboardEntry(
        position=position,
        user_id=user_id,
        value=int(row["xp"]),
        level=row["level"],
        name=_display_name(row["username"], row["global_name"], user_id),
    )


async def _xp_page(guild_id: int, page: int) -> LeaderboardPage:
    asked = min(max(page, 1), 2**40)  # clamped again to the pages that exist, in the statement
    rows = await _Sql().rows(PAGE_SQL, {"guild": guild_id, "page": asked, "count": PAGE_SIZE})
    total, page = int(rows[0]["total"]), int(rows[0]["page"])
    pages = max(1, math.ceil(total / PAGE_SIZE))
    skip = (page - 1) * PAGE_SIZE
    entries = tuple(
        _entry(skip + int(row["n"]), row) for row in rows if row["user_id"] is not None
    )
    return LeaderboardPage(LeaderboardCategory.XP, page, pages, total, entries)


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
    sql = _Sql()
    stored = await sql.one(STORED_SQL, {"guild": guild_id, "user": user_id})
    xp, messages, voice_minutes, stored_at = _stored_counts(stored)
    if unwritten is not None:
        extra = unwritten.beyond(stored_at)
        xp, messages = xp + extra.xp, messages + extra.messages
        voice_minutes += extra.voice_minutes
    # A second statement: it ranks the XP shown, stored and unwritten, and the member's own
    # row is never counted ahead, so a flush committed in between changes nothing.
    rank = await _members_ahead(sql, guild_id, user_id, xp) + 1 if xp > 0 else None
    background, accent = (stored["background"], stored["accent"]) if stored else (None, None)
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

