"""XP leaderboard pages and ranks at millions of members in one guild.

    python benchmarks/leaderboards.py                        # 1,000,000 and 5,000,000 rows
    python benchmarks/leaderboards.py --rows 100000 --smoke  # small (CI): it must run
    python benchmarks/leaderboards.py --db postgres          # one dialect (default: both)

Per database dialect and size (each in its own process: Tortoise cannot switch dialects):

1. Seeds `--rows` user_xp rows in ONE guild, straight into the table, with the XP of a real
   server: most members sent a message or two (ties at 15-25 XP, thousands of members each),
   fewer with hundreds or thousands of XP, a long tail up to ten million. User ids are
   snowflakes spread over ten years of account creation. Then counts the XP histogram from the
   rows (what the migration does for a database that has XP already): its time is printed.
2. Times (median of `--samples` calls, in this process, round trips included) the service as
   the commands call it: leaderboard pages 1, 10,000, 100,000 and the last; the rank of the
   first member, of one in the middle and of one at the end of the largest tie.
3. The baseline in the same run is the previous way (count every ranked row and skip with
   OFFSET; a rank counts every member ahead): same answers, checked, and the ratio is printed.

PostgreSQL as in benchmarks/activity.py (PEGASUS_BENCH_PG_URL, else PEGASUS_TEST_PG_URL, else
the local server); a throw-away database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.activity import fresh_database, pg_unreachable  # noqa: E402

GUILD = 30_000_000_000_000_000
PAGE_SIZE = 10
TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000
FIRST_MS = 31_536_000_000  # accounts from 2016 on (ms after Discord's epoch)

# XP of member i from a small hash: 60% at 15-25 (ties), 30% spread to 5,025, 10% a long tail.
XP_OF_I = (
    "(CASE WHEN (s.i * 7919) % 1000003 < 600000 THEN 15 + ((s.i * 7919) % 1000003) % 11 "
    "WHEN (s.i * 7919) % 1000003 < 900000 THEN 26 + ((s.i * 104729) % 5000) "
    "ELSE 5026 + ((s.i * 15485863) % 10000000) END)"
)
# A snowflake: creation time spread over ten years (in the order of i), a unique low part.
USER_OF_I = f"((({FIRST_MS} + s.i * ({TEN_YEARS_MS} / {{rows}})) * 4194304) + (s.i % 4194304))"


def sequence(dialect: str, rows: int) -> str:
    if dialect == "postgres":
        return f"(SELECT generate_series(0, {rows - 1})::bigint AS i) AS s"
    return (
        f"(WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq "
        f"WHERE i < {rows - 1}) SELECT i FROM seq) AS s"
    )


async def seed(dialect: str, rows: int, url: str) -> float:
    """The rows, straight into the tables; returns the seconds taken."""
    from tortoise import Tortoise

    from models.guilds import Guild

    started = time.perf_counter()
    await Guild.create(id=GUILD)
    user = USER_OF_I.format(rows=rows)
    source = sequence(dialect, rows)
    statements = [
        "INSERT INTO users (id, username, discriminator, is_bot, created_at, updated_at) "
        f"SELECT {user}, 'member', '0', FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        f"FROM {source}",
        "INSERT INTO user_xp (guild_id, user_id, xp, level, created_at, updated_at) "
        f"SELECT {GUILD}, {user}, {XP_OF_I}, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        f"FROM {source}",
        "VACUUM ANALYZE" if dialect == "postgres" else "ANALYZE",
    ]
    if dialect == "postgres":
        # A connection of its own: the pool's statement timeout is shorter than these.
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            for statement in statements:
                await conn.execute(statement, timeout=None)
        finally:
            await conn.close()
    else:
        for statement in statements:
            await Tortoise.get_connection("default").execute_script(statement)
    return time.perf_counter() - started


async def median_ms(samples: int, call: Callable[[], Awaitable[Any]]) -> float:
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


# --------------------------------------------------------------------------- the previous way


async def counted_page(page: int) -> list[tuple[int, int]]:
    """Count every ranked row, then skip to the page with OFFSET."""
    from models.levels import UserXP

    query = UserXP.filter(guild_id=GUILD, xp__gt=0)
    total = await query.count()
    page = min(max(page, 1), max(1, math.ceil(total / PAGE_SIZE)))
    rows = (
        await query.order_by("-xp", "user_id")
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .values_list("xp", "user_id")
    )
    return list(rows)


async def counted_rank(user_id: int, xp: int) -> int:
    from tortoise.expressions import Q

    from models.levels import UserXP

    ahead = await UserXP.filter(
        Q(xp__gt=xp) | Q(xp=xp, user_id__lt=user_id), guild_id=GUILD
    ).count()
    return ahead + 1


# --------------------------------------------------------------------------- one dialect, one size


async def measure(dialect: str, rows: int, samples: int, baseline_samples: int) -> dict[str, Any]:
    from pegasus.db import close_db, init_db
    from pegasus.services import levels
    from pegasus.services.levels.histogram import rebuild_histogram

    figures: dict[str, Any] = {"dialect": dialect, "rows": rows}
    async with fresh_database(dialect) as url:
        await init_db(url)
        try:
            figures["seed_s"] = await seed(dialect, rows, url)
            started = time.perf_counter()
            await rebuild_histogram([GUILD])
            figures["histogram_build_s"] = time.perf_counter() - started

            def board(page: int) -> Awaitable[Any]:
                return levels.leaderboard_page(GUILD, levels.LeaderboardCategory.XP, page)

            last = (await board(1)).pages
            pages = {"page 1": 1, "page 10,000": 10_000, "page 100,000": 100_000, "last page": last}
            timings: dict[str, tuple[float, float]] = {}
            for name, page in pages.items():
                if page > last:
                    continue
                new = await board(page)
                old = await counted_page(page)
                assert [(e.value, e.user_id) for e in new.entries] == old, (name, new, old)
                timings[name] = (
                    await median_ms(samples, lambda page=page: board(page)),
                    await median_ms(baseline_samples, lambda page=page: counted_page(page)),
                )
            middle = (await board(last // 2)).entries[0]
            tie_end = await largest_tie_end()
            people = {
                "rank of #1": (await board(1)).entries[0],
                "rank, middle": middle,
            }
            for name, entry in people.items():
                await check_and_time_rank(
                    timings, name, entry.user_id, entry.value, samples, baseline_samples
                )
            await check_and_time_rank(
                timings, "rank, end of largest tie", *tie_end, samples, baseline_samples
            )
            figures["timings"] = timings
            figures["pages"] = last
        finally:
            await close_db()
    return figures


async def largest_tie_end() -> tuple[int, int]:
    """(user, xp) of the last member (highest id) among those sharing the commonest XP."""
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    rows = await conn.execute_query_dict(
        f"SELECT xp, COUNT(*) AS n FROM user_xp WHERE guild_id = {GUILD} AND xp < 1024 "
        "GROUP BY xp ORDER BY n DESC LIMIT 1"
    )
    xp = rows[0]["xp"]
    last = await conn.execute_query_dict(
        f"SELECT MAX(user_id) AS u FROM user_xp WHERE guild_id = {GUILD} AND xp = {xp}"
    )
    return last[0]["u"], xp


async def check_and_time_rank(
    timings: dict[str, tuple[float, float]],
    name: str,
    user_id: int,
    xp: int,
    samples: int,
    baseline_samples: int,
) -> None:
    from pegasus.services import levels

    new = (await levels.member_rank(GUILD, user_id)).rank
    assert new == await counted_rank(user_id, xp), name
    timings[f"{name} (#{new:,})"] = (
        await median_ms(samples, lambda: levels.member_rank(GUILD, user_id)),
        await median_ms(baseline_samples, lambda: counted_rank(user_id, xp)),
    )


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"== {figures['dialect']}: {figures['rows']:,} user_xp rows in one guild "
        f"({figures['pages']:,} pages); seeded in {figures['seed_s']:.0f} s, histogram counted "
        f"from the rows in {figures['histogram_build_s']:.1f} s",
        "                                          histogram    counted      ratio  (ms, medians)",
    ]
    for name, (new, old) in figures["timings"].items():
        lines.append(f"  {name:<38} {new:>9.2f}  {old:>9.2f}  {old / new:>8.1f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), action="append")
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--samples", type=int, default=25)
    parser.add_argument("--baseline-samples", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="few samples")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.samples, args.baseline_samples = 3, 1
    if args.child:
        figures = asyncio.run(
            measure(args.db[0], args.rows[0], args.samples, args.baseline_samples)
        )
        print(json.dumps(figures))
        return
    for rows in args.rows or [1_000_000, 5_000_000]:
        for dialect in args.db or ["sqlite", "postgres"]:
            if dialect == "postgres" and (why := asyncio.run(pg_unreachable())):
                print(f"== postgres skipped: {why}")
                continue
            child = subprocess.run(
                [
                    sys.executable, __file__, "--child", "--db", dialect, "--rows", str(rows),
                    "--samples", str(args.samples),
                    "--baseline-samples", str(args.baseline_samples),
                ],
                capture_output=True, text=True, check=False,
            )
            if child.returncode != 0:
                print(child.stdout + child.stderr)
                raise SystemExit(f"the {dialect} run at {rows:,} rows failed")
            print(report(json.loads(child.stdout.strip().splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
