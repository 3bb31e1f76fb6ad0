"""The XP board and ranks read the XP histogram: pages and ranks equal a full sort of the stored
XP on random data (large ties split over user-id blocks, members moving between buckets, up and
down and out), the histogram equals a recount under concurrent flushes and restarts, and a
rank adds what the buffer holds and the stored row does not."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from models.levels import UserXP, XpHistogram, XpHistogramBand, XpTieBlock
from pegasus.services import levels as lv
from pegasus.services.levels import (
    PAGE_SIZE,
    Activity,
    ActivityContext,
    Batch,
    LeaderboardCategory,
    LevelCaches,
    Pending,
    XpOperation,
    write_batch,
)
from pegasus.services.levels.histogram import (
    BAND_SHIFT,
    EXACT_BELOW,
    block_of,
    bucket_bounds,
    bucket_bounds_sql,
    bucket_of,
    bucket_sql,
    rebuild_histogram,
)

GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
GENERAL = 600_000_000_000_000_001
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Snowflakes from several account-creation periods, so ties fall into several blocks.
BLOCKS = (0, 1, 7, 300, 450, 2000)


# --------------------------------------------------------------------------- buckets


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_every_xp_lies_within_the_bounds_of_its_bucket(xp: int) -> None:
    lowest, highest = bucket_bounds(bucket_of(xp))
    assert lowest <= xp <= highest
    assert bucket_of(lowest) == bucket_of(highest) == bucket_of(xp)
    if xp >= EXACT_BELOW:  # a slice of at most 1/512 of its XP
        assert (highest - lowest + 1) * 512 <= lowest


@given(st.integers(min_value=1, max_value=2**62), st.integers(min_value=1, max_value=2**62))
def test_buckets_keep_the_order_of_xp(a: int, b: int) -> None:
    if a <= b:
        assert bucket_of(a) <= bucket_of(b)


async def test_the_sql_buckets_are_the_python_buckets(db: str) -> None:
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    values = [1, 2, 1023, 1024, 1025, 2047, 2048, 999_999, 10**12, 2**62, 2**63 - 1]
    values += [2**k + d for k in range(10, 63) for d in (-1, 0, 1)]
    values += random.Random(5).sample(range(1, 10**9), 200)
    placeholder = "$1" if conn.capabilities.dialect == "postgres" else "?"
    for xp in values:
        rows = await conn.execute_query_dict(
            f"SELECT {bucket_sql('v')} AS b FROM (SELECT CAST({placeholder} AS BIGINT) AS v) t",
            [xp],
        )
        assert rows[0]["b"] == bucket_of(xp), xp


async def test_the_sql_bucket_bounds_are_the_python_bounds(db: str) -> None:
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    last = bucket_of(2**63 - 1)
    buckets = [EXACT_BELOW, EXACT_BELOW + 1, EXACT_BELOW + 511, EXACT_BELOW + 512, last - 1, last]
    buckets += random.Random(6).sample(range(EXACT_BELOW, last), 200)
    placeholder = "$1" if conn.capabilities.dialect == "postgres" else "?"
    lowest, highest = bucket_bounds_sql("b")
    for bucket in buckets:
        rows = await conn.execute_query_dict(
            f"SELECT {lowest} AS lowest, {highest} AS highest "
            f"FROM (SELECT CAST({placeholder} AS INTEGER) AS b) t",
            [bucket],
        )
        assert (rows[0]["lowest"], rows[0]["highest"]) == bucket_bounds(bucket), bucket


# --------------------------------------------------------------------------- exactness


def snowflake(rng: random.Random) -> int:
    return (rng.choice(BLOCKS) << 52) + rng.randrange(1, 1 << 40)


def random_xp(rng: random.Random) -> int:
    """Mostly large ties at low XP (one message each), some spread, a few near bucket edges."""
    kind = rng.random()
    if kind < 0.45:
        return rng.randint(15, 25)
    if kind < 0.7:
        return rng.randint(1, 3_000)
    if kind < 0.85:
        edge = bucket_bounds(rng.randrange(EXACT_BELOW, EXACT_BELOW + 6000))
        return rng.choice(edge) + rng.choice((-1, 0, 0, 1))
    return int(10 ** rng.uniform(3, 8))


async def full_sort(guild_id: int) -> list[tuple[int, int]]:
    """(xp, user) of the ranked members, in board order, from the rows themselves."""
    rows = await UserXP.filter(guild_id=guild_id, xp__gt=0).values_list("xp", "user_id")
    return sorted(rows, key=lambda row: (-row[0], row[1]))


async def assert_histogram_is_a_recount(guild_id: int) -> None:
    rows = await UserXP.filter(guild_id=guild_id, xp__gt=0).values_list("xp", "user_id")
    buckets = Counter(bucket_of(xp) for xp, _ in rows)
    ties = Counter((xp, block_of(u)) for xp, u in rows if xp < EXACT_BELOW)
    stored = await XpHistogram.filter(guild_id=guild_id).values_list("bucket", "members")
    stored_ties = await XpTieBlock.filter(guild_id=guild_id).values_list("xp", "block", "members")
    bands = Counter(bucket_of(xp) >> BAND_SHIFT for xp, _ in rows)
    stored_bands = await XpHistogramBand.filter(guild_id=guild_id).values_list("band", "members")
    assert {b: n for b, n in stored if n} == dict(buckets)
    assert {b: n for b, n in stored_bands if n} == dict(bands)
    assert {(x, k): n for x, k, n in stored_ties if n} == dict(ties)
    assert all(n >= 0 for _, n in stored)


async def assert_board_is_the_full_sort(guild_id: int, rng: random.Random) -> None:
    order = await full_sort(guild_id)
    pages = max(1, -(-len(order) // PAGE_SIZE))
    for page in sorted({1, pages, *rng.sample(range(1, pages + 1), min(pages, 12))}):
        board = await lv.leaderboard_page(guild_id, LeaderboardCategory.XP, page)
        expected = order[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        assert (board.total, board.pages, board.page) == (len(order), pages, page)
        assert [(e.value, e.user_id) for e in board.entries] == expected, page
        assert [e.position for e in board.entries] == list(
            range((page - 1) * PAGE_SIZE + 1, (page - 1) * PAGE_SIZE + len(expected) + 1)
        )
    for position, (xp, user_id) in rng.sample(list(enumerate(order, 1)), min(60, len(order))):
        assert await lv.xp_position(guild_id, user_id, xp) == position
        assert (await lv.member_rank(guild_id, user_id)).rank == position
    # Someone not on the board yet, with any XP: placed where the sort would put them.
    for _ in range(20):
        xp, user_id = rng.choice(order) if rng.random() < 0.5 else (random_xp(rng), 0)
        user_id = user_id + rng.choice((-1, 1)) if user_id else snowflake(rng)
        if any(u == user_id for _, u in order):
            continue
        ahead = sum(1 for x, u in order if x > xp or (x == xp and u < user_id))
        assert await lv.xp_position(guild_id, user_id, xp) == ahead + 1
    # A member placed with less XP than their row holds (the row written since it was read):
    # their own row is not counted ahead of them.
    for xp, user_id in rng.sample(order, min(20, len(order))):
        lower = rng.randint(1, xp)
        ahead = sum(
            1 for x, u in order if u != user_id and (x > lower or (x == lower and u < user_id))
        )
        assert await lv.xp_position(guild_id, user_id, lower) == ahead + 1
    await assert_cursor_walk_is_the_full_sort(guild_id, order, rng)


async def assert_cursor_walk_is_the_full_sort(
    guild_id: int, order: list[tuple[int, int]], rng: random.Random
) -> None:
    """Pages by cursor (as the REST API reads them), of random sizes, from the top and from
    positions that are nobody's, give the sort with exact positions."""
    walked: list[tuple[int, int, int]] = []
    after: tuple[int, int] | None = None
    while len(walked) < min(len(order), 150):
        size = rng.randint(1, 25)
        entries = await lv.leaderboard_after(guild_id, LeaderboardCategory.XP, after, size)
        assert entries, after
        walked += [(e.position, e.value, e.user_id) for e in entries]
        after = (entries[-1].value, entries[-1].user_id)
    expected = [(n, x, u) for n, (x, u) in enumerate(order, 1)]
    assert walked == expected[: len(walked)]
    for _ in range(10):
        xp, user_id = rng.choice(order)
        xp, user_id = (xp, user_id + 1) if rng.random() < 0.5 else (xp + 1, user_id)
        entries = await lv.leaderboard_after(guild_id, LeaderboardCategory.XP, (xp, user_id), 7)
        following = [
            (n, x, u) for n, (x, u) in enumerate(order, 1) if x < xp or (x == xp and u > user_id)
        ]
        assert [(e.position, e.value, e.user_id) for e in entries] == following[:7]


async def test_pages_and_ranks_equal_a_full_sort_while_members_move(db: str) -> None:
    rng = random.Random(18)
    members = list({snowflake(rng) for _ in range(420)})
    # The flush creates the rows (moving members into their first bucket) ...
    batch = Batch(entries={(GUILD, u): Pending(xp=random_xp(rng)) for u in members})
    batch.entries.update({(OTHER_GUILD, u): Pending(xp=50) for u in members[:30]})
    await write_batch(batch, now=NOW)
    await assert_histogram_is_a_recount(GUILD)
    await assert_board_is_the_full_sort(GUILD, rng)
    for _round in range(3):
        # ... then moves them up (within a bucket, across buckets, out of the exact ones) ...
        ups = rng.sample(members, 120)
        await write_batch(
            Batch(entries={(GUILD, u): Pending(xp=rng.choice((0, 1, 9, 600, 5000))) for u in ups}),
            now=NOW,
        )
        # ... and staff move some by hand: down, to a tie, to nothing.
        for user_id in rng.sample(members, 25):
            operation = rng.choice(list(XpOperation))
            amount = rng.choice((20, 21, 1, 1024, 70_000))
            await lv.adjust_xp(GUILD, user_id, operation, amount, now=NOW)
        await assert_histogram_is_a_recount(GUILD)
        await assert_board_is_the_full_sort(GUILD, rng)
    await assert_histogram_is_a_recount(OTHER_GUILD)
    assert (await lv.leaderboard_page(OTHER_GUILD, LeaderboardCategory.XP)).total == 30


async def test_an_empty_board_and_a_page_past_the_end(db: str) -> None:
    empty = await lv.leaderboard_page(GUILD, LeaderboardCategory.XP, 5)
    assert (empty.total, empty.pages, empty.page, empty.entries) == (0, 1, 1, ())
    await write_batch(Batch(entries={(GUILD, 7): Pending(xp=3)}), now=NOW)
    last = await lv.leaderboard_page(GUILD, LeaderboardCategory.XP, 999_999)
    assert (last.page, [(e.position, e.user_id) for e in last.entries]) == (1, [(1, 7)])


async def test_a_rebuild_recounts_rows_written_outside_the_services(db: str) -> None:
    rng = random.Random(4)
    await write_batch(Batch(entries={(GUILD, u): Pending(xp=9) for u in range(1, 40)}), now=NOW)
    # An import writes rows straight into the table: the histogram does not know them ...
    for user_id in range(100, 130):
        await lv.adjust_xp(GUILD, user_id, XpOperation.SET, 1, now=NOW)  # rows and users exist
    await UserXP.filter(guild_id=GUILD, user_id__gte=100).update(xp=12_345)
    # ... until it is recounted.
    await rebuild_histogram([GUILD])
    await assert_histogram_is_a_recount(GUILD)
    await assert_board_is_the_full_sort(GUILD, rng)


# --------------------------------------------------------------------------- concurrency


async def test_histogram_stays_exact_under_concurrent_flushes_and_restarts(db: str) -> None:
    await lv.update_settings(GUILD, xp_min=15, xp_max=25, xp_cooldown_seconds=0)
    rng = random.Random(7)
    members = [snowflake(rng) for _ in range(150)]

    def process(seed: int) -> Activity:
        return Activity(LevelCaches(), rng=random.Random(seed))

    async def talk(activity: Activity, talker: random.Random, messages: int) -> None:
        for _ in range(messages):
            user_id = talker.choice(members)
            await activity.record_message(GUILD, ActivityContext(user_id, (GENERAL,)))

    for life in range(3):  # each life ends with a restart: clean stops, new processes
        processes = [process(life * 10 + n) for n in range(3)]
        for _round in range(4):
            await asyncio.gather(
                *(talk(p, random.Random(rng.random()), 200) for p in processes)
            )
            by_hand = rng.sample(members, 5)
            await asyncio.gather(
                *(p.flush() for p in processes),
                *(
                    lv.adjust_xp(GUILD, u, XpOperation.ADD, rng.randint(1, 3000), now=NOW)
                    for u in by_hand
                ),
            )
        await talk(processes[0], rng, 50)  # left in the buffer: the stop writes it
        await asyncio.gather(*(p.stop() for p in processes))
        await assert_histogram_is_a_recount(GUILD)
    await assert_board_is_the_full_sort(GUILD, rng)


# --------------------------------------------------------------------------- what is unwritten


async def test_a_rank_adds_what_the_buffer_holds_and_the_row_does_not(db: str) -> None:
    await lv.update_settings(GUILD, xp_min=100, xp_max=100, xp_cooldown_seconds=0)
    await lv.adjust_xp(GUILD, 1, XpOperation.SET, 250, now=NOW)
    await lv.adjust_xp(GUILD, 2, XpOperation.SET, 300, now=NOW)
    activity = Activity(LevelCaches(), rng=random.Random(1))
    await activity.record_message(GUILD, ActivityContext(1, (GENERAL,)))

    before_flush = activity.unwritten(GUILD, 1)
    info = await lv.member_rank(GUILD, 1, before_flush)
    assert (info.progress.xp, info.rank, info.messages) == (350, 1, 1)
    assert (await lv.member_rank(GUILD, 1)).rank == 2  # the stored XP alone

    await activity.flush()
    # Taken before the flush, read after it: the row holds the batch now, nothing is doubled.
    info = await lv.member_rank(GUILD, 1, before_flush)
    assert (info.progress.xp, info.rank, info.messages) == (350, 1, 1)
    await activity.record_message(GUILD, ActivityContext(1, (GENERAL,)))
    info = await lv.member_rank(GUILD, 1, activity.unwritten(GUILD, 1))
    assert (info.progress.xp, info.messages) == (450, 2)

    # Someone with no row yet: all of it is in memory.
    await activity.record_message(GUILD, ActivityContext(3, (GENERAL,)))
    info = await lv.member_rank(GUILD, 3, activity.unwritten(GUILD, 3))
    assert (info.progress.xp, info.rank, info.messages) == (100, 3, 1)
    await activity.stop()
