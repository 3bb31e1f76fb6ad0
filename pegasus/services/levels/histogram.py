"""The per-guild XP histogram: how many members have XP in each bucket.

Every write to `user_xp.xp` moves the member from the bucket of the old XP to that of the new
one in the same transaction (`HistogramDelta` collects the moves, `write_histogram` applies them
as increments), so the histogram is exact at every commit. Ranks and leaderboard pages read it
(see leaderboards.py): a rank is the sum of the buckets above the member plus a count inside the
member's bucket, which holds few members.

The buckets are also summed per band of `BUCKETS_PER_BAND` (`xp_histogram_bands`, written in
the same statements' transaction), so that a total or a page deep in the board adds a few
hundred bands and the buckets of one band, not thousands of buckets.

Buckets are the exact XP values below `EXACT_BELOW`, then `BUCKETS_PER_DOUBLING` equal slices of
each doubling, so a bucket spans at most 1/512 of its XP. Members with no XP are not ranked and
not counted. Many members may share one low XP value (one message each): those are counted
again per block of user ids (`xp_tie_blocks`), since they are ordered by user id; a block is
2^52 ids, about 12 days of Discord account creation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.levels import XpHistogram, XpHistogramBand, XpTieBlock

__all__ = [
    "BAND_SHIFT",
    "BLOCK_SHIFT",
    "BUCKETS_PER_BAND",
    "BUCKETS_PER_DOUBLING",
    "EXACT_BELOW",
    "HistogramDelta",
    "after_increments",
    "block_of",
    "block_start",
    "bucket_bounds",
    "bucket_bounds_sql",
    "bucket_of",
    "bucket_sql",
    "rebuild_histogram",
    "write_histogram",
]

EXACT_BELOW = 1024  # 2 ** EXACT_BITS
EXACT_BITS = 10
SLICE_BITS = 9
BUCKETS_PER_DOUBLING = 1 << SLICE_BITS
MAX_BIT = 62  # XP is a signed 64-bit integer
BLOCK_SHIFT = 52
BAND_SHIFT = 6
BUCKETS_PER_BAND = 1 << BAND_SHIFT
ROWS_PER_STATEMENT = 1000


def bucket_of(xp: int) -> int:
    """The bucket of a positive XP value; buckets grow with XP."""
    if xp < EXACT_BELOW:
        return xp
    top = xp.bit_length() - 1
    slice_ = (xp >> (top - SLICE_BITS)) & (BUCKETS_PER_DOUBLING - 1)
    return EXACT_BELOW + (top - EXACT_BITS) * BUCKETS_PER_DOUBLING + slice_


def bucket_bounds(bucket: int) -> tuple[int, int]:
    """The lowest and highest XP of a bucket."""
    if bucket < EXACT_BELOW:
        return bucket, bucket
    return _bucket_start(bucket), _bucket_start(bucket + 1) - 1


def _bucket_start(bucket: int) -> int:
    top, slice_ = divmod(bucket - EXACT_BELOW, BUCKETS_PER_DOUBLING)
    return (BUCKETS_PER_DOUBLING + slice_) << (top + EXACT_BITS - SLICE_BITS)


def block_of(user_id: int) -> int:
    return user_id >> BLOCK_SHIFT


def block_start(block: int) -> int:
    """The lowest user id of a block."""
    return block << BLOCK_SHIFT


def bucket_sql(column: str) -> str:
    """`bucket_of` as an SQL expression on an integer column (the same on both databases)."""
    cases = [f"WHEN {column} < {EXACT_BELOW} THEN {column}"]
    for top in range(EXACT_BITS, MAX_BIT + 1):
        base = EXACT_BELOW + (top - EXACT_BITS) * BUCKETS_PER_DOUBLING
        shift = top - SLICE_BITS
        value = f"{base} + (({column} >> {shift}) & {BUCKETS_PER_DOUBLING - 1})"
        if top == MAX_BIT:
            cases.append(f"ELSE {value}")  # 2 ** 63 is no 64-bit literal
        else:
            cases.append(f"WHEN {column} < {1 << (top + 1)} THEN {value}")
    return f"(CASE {' '.join(cases)} END)"


def bucket_bounds_sql(bucket: str) -> tuple[str, str]:
    """`bucket_bounds` in SQL on an integer column holding a bucket from EXACT_BELOW on: the
    lowest XP, and the highest as the lowest plus the slice's width less one (2 ** 63 is no
    64-bit value, so the end of the last bucket is not computed as the next one's start)."""
    top = f"(({bucket} - {EXACT_BELOW}) / {BUCKETS_PER_DOUBLING} + {EXACT_BITS - SLICE_BITS})"
    slice_ = f"(({bucket} - {EXACT_BELOW}) % {BUCKETS_PER_DOUBLING})"
    lowest = f"(CAST({BUCKETS_PER_DOUBLING} + {slice_} AS BIGINT) << {top})"
    return lowest, f"({lowest} + ((CAST(1 AS BIGINT) << {top}) - 1))"


@dataclass(slots=True)
class HistogramDelta:
    """Moves of members between buckets, summed, to be written in one go."""

    buckets: dict[tuple[int, int], int] = field(default_factory=dict)
    bands: dict[tuple[int, int], int] = field(default_factory=dict)
    ties: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def move(self, guild_id: int, user_id: int, old_xp: int, new_xp: int) -> None:
        """A member's XP went from `old_xp` to `new_xp` (0 or less: not ranked)."""
        if old_xp == new_xp:
            return
        if old_xp > 0:
            self._add(guild_id, user_id, old_xp, -1)
        if new_xp > 0:
            self._add(guild_id, user_id, new_xp, 1)

    def _add(self, guild_id: int, user_id: int, xp: int, change: int) -> None:
        bucket = bucket_of(xp)
        key = (guild_id, bucket)
        self.buckets[key] = self.buckets.get(key, 0) + change
        band = (guild_id, bucket >> BAND_SHIFT)
        self.bands[band] = self.bands.get(band, 0) + change
        if xp < EXACT_BELOW:
            tie = (guild_id, xp, block_of(user_id))
            self.ties[tie] = self.ties.get(tie, 0) + change

    def __bool__(self) -> bool:
        return any(self.buckets.values()) or any(self.ties.values())


HISTOGRAM = XpHistogram._meta.db_table
TIE_BLOCKS = XpTieBlock._meta.db_table
BANDS = XpHistogramBand._meta.db_table
BUCKETS_UPSERT = (
    f"INSERT INTO {HISTOGRAM} (guild_id, bucket, members) VALUES {{values}} "
    f"ON CONFLICT (guild_id, bucket) DO UPDATE SET members = {HISTOGRAM}.members + "
    "EXCLUDED.members"
)
BANDS_UPSERT = (
    f"INSERT INTO {BANDS} (guild_id, band, members) VALUES {{values}} "
    f"ON CONFLICT (guild_id, band) DO UPDATE SET members = {BANDS}.members + EXCLUDED.members"
)
TIES_UPSERT = (
    f"INSERT INTO {TIE_BLOCKS} (guild_id, xp, block, members) VALUES {{values}} "
    f"ON CONFLICT (guild_id, xp, block) DO UPDATE SET members = {TIE_BLOCKS}.members + "
    "EXCLUDED.members"
)


async def write_histogram(conn: BaseDBAsyncClient, delta: HistogramDelta) -> None:
    """Apply the moves inside the caller's transaction, rows in key order (so concurrent
    writers lock them in the same order). The guilds' rows must exist."""
    buckets = [(*key, change) for key, change in sorted(delta.buckets.items()) if change]
    bands = [(*key, change) for key, change in sorted(delta.bands.items()) if change]
    ties = [(*key, change) for key, change in sorted(delta.ties.items()) if change]
    await _upsert(conn, BUCKETS_UPSERT, buckets)
    await _upsert(conn, BANDS_UPSERT, bands)
    await _upsert(conn, TIES_UPSERT, ties)


async def _upsert(conn: BaseDBAsyncClient, template: str, rows: Sequence[tuple[int, ...]]) -> None:
    if not rows:
        return
    dialect = conn.capabilities.dialect
    width = len(rows[0])
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        values: list[Any] = [value for row in chunk for value in row]
        await conn.execute_query(
            template.format(values=_placeholders(dialect, len(chunk), width)), values
        )


def _placeholders(dialect: str, rows: int, columns: int) -> str:
    if dialect == "postgres":
        return ", ".join(
            "(" + ", ".join(f"${r * columns + c + 1}" for c in range(columns)) + ")"
            for r in range(rows)
        )
    row = "(" + ", ".join("?" * columns) + ")"
    return ", ".join(row for _ in range(rows))


def rebuild_sql(guild_ids: Iterable[int] | None = None) -> list[str]:
    """Statements that recount the histogram from `user_xp` (all guilds, or these)."""
    where = ""
    if guild_ids is not None:
        ids = ", ".join(str(int(g)) for g in guild_ids) or "NULL"
        where = f" AND guild_id IN ({ids})"
    scope = f"WHERE 1 = 1{where}"
    return [
        f"DELETE FROM {HISTOGRAM} {scope}",
        f"DELETE FROM {BANDS} {scope}",
        f"DELETE FROM {TIE_BLOCKS} {scope}",
        f"INSERT INTO {HISTOGRAM} (guild_id, bucket, members) "
        f"SELECT guild_id, {bucket_sql('xp')}, COUNT(*) FROM user_xp "
        f"WHERE xp > 0{where} GROUP BY guild_id, {bucket_sql('xp')}",
        bands_sql(where),
        f"INSERT INTO {TIE_BLOCKS} (guild_id, xp, block, members) "
        f"SELECT guild_id, xp, user_id >> {BLOCK_SHIFT}, COUNT(*) FROM user_xp "
        f"WHERE xp > 0 AND xp < {EXACT_BELOW}{where} "
        f"GROUP BY guild_id, xp, user_id >> {BLOCK_SHIFT}",
    ]


def bands_sql(where: str = "") -> str:
    """The bands summed from the buckets (`where`: " AND guild_id IN (...)" or nothing)."""
    return (
        f"INSERT INTO {BANDS} (guild_id, band, members) "
        f"SELECT guild_id, bucket >> {BAND_SHIFT}, SUM(members) FROM {HISTOGRAM} "
        f"WHERE members <> 0{where} GROUP BY guild_id, bucket >> {BAND_SHIFT}"
    )


async def rebuild_histogram(guild_ids: Iterable[int] | None = None) -> None:
    """Recount the histogram from `user_xp`, in one transaction: for rows written outside the
    service functions (imports, hand-made SQL). Concurrent XP writes to those guilds wait."""
    statements = rebuild_sql(guild_ids)
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            # The recount must not miss a flush committed while it runs.
            await conn.execute_script("LOCK TABLE user_xp IN SHARE MODE")
        for statement in statements:
            await conn.execute_script(statement)


def after_increments(
    increments: Iterable[tuple[tuple[int, int], int]],
    stored: Mapping[tuple[int, int], tuple[int, ...]],
) -> HistogramDelta:
    """The moves made by adding `increment` to the XP of (guild, user), given each member's
    XP after it (`stored[key][0]`, as the increment's RETURNING gave it)."""
    delta = HistogramDelta()
    for (guild_id, user_id), increment in increments:
        after = stored[(guild_id, user_id)][0]
        delta.move(guild_id, user_id, after - increment, after)
    return delta
