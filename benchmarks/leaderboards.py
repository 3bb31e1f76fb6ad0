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
2. Times the service as the commands call it (medians of `--samples` calls, in this process):
   leaderboard pages 1, 10,000, 100,000 and the last; the rank of the first member, of one in
   the middle and of one at the end of the largest tie. For each, three clocks:
   - wall: the whole call (Python, driver, database);
   - database, at the driver: the sum of the round trips of the statements the call runs,
     each timed around the database client's execute call (pool, send, execution, rows back),
     with how many statements;
   - database, engine alone: each of those statements run again on its own and timed inside
     the database: on PostgreSQL the planning and execution times EXPLAIN (ANALYZE, TIMING
     OFF) reports, on SQLite the statement run on a plain sqlite3 connection in this thread.
   The target (20 ms) is checked against the round trips at the driver, the larger figure.
3. The baseline in the same run is the previous way (count every ranked row and skip with
   OFFSET; a rank counts every member ahead): same answers, checked, and the ratio of wall
   times is printed.

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


TARGET_MS = 20.0
CLIENT_METHODS = ("execute_query", "execute_query_dict", "execute_script", "execute_insert")


class DatabaseClock:
    """Times every statement the default database client runs while recording: the round trip
    around the client's execute call, with the statement and its parameters to run again."""

    def __init__(self, url: str) -> None:
        from tortoise import connections

        self.url = url
        self.client = connections.get("default")
        self.dialect = self.client.capabilities.dialect
        self.statements: list[tuple[str, list[Any], float]] = []
        self.recording = False
        self._sqlite: Any = None  # a plain connection of its own, opened once
        for name in CLIENT_METHODS:
            if hasattr(self.client, name):
                setattr(self.client, name, self._timed(getattr(self.client, name)))

    def _timed(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(query: str, *args: Any) -> Any:
            if not self.recording:
                return await method(query, *args)
            started = time.perf_counter()
            try:
                return await method(query, *args)
            finally:
                values = list(args[0] or []) if args else []
                self.statements.append((query, values, time.perf_counter() - started))

        return timed

    async def call(
        self, call: Callable[[], Awaitable[Any]]
    ) -> tuple[float, float, int, list[tuple[str, list[Any]]]]:
        """(wall ms, round trips ms, statements, the statements) of one call."""
        self.statements = []
        self.recording = True
        started = time.perf_counter()
        try:
            await call()
        finally:
            wall = (time.perf_counter() - started) * 1000
            self.recording = False
        trips = sum(seconds for _, _, seconds in self.statements) * 1000
        return wall, trips, len(self.statements), [(q, v) for q, v, _ in self.statements]

    async def engine_ms(self, statements: list[tuple[str, list[Any]]]) -> float:
        """The statements' time inside the database engine (see the module's docstring)."""
        total = 0.0
        if self.dialect == "postgres":
            for query, values in statements:
                rows = await self.client.execute_query_dict(
                    f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {query}", values
                )
                plan = rows[0]["QUERY PLAN"]
                plan = json.loads(plan) if isinstance(plan, str) else plan
                total += plan[0]["Planning Time"] + plan[0]["Execution Time"]
            return total
        if self._sqlite is None:
            import sqlite3

            self._sqlite = sqlite3.connect(self.url.removeprefix("sqlite://"))
        for query, values in statements:
            started = time.perf_counter()
            self._sqlite.execute(query, values).fetchall()
            total += (time.perf_counter() - started) * 1000
        return total

    async def medians(
        self, samples: int, call: Callable[[], Awaitable[Any]]
    ) -> dict[str, float]:
        walls, trips, engine, counts = [], [], [], []
        for _ in range(samples):
            wall, trip, count, statements = await self.call(call)
            walls.append(wall)
            trips.append(trip)
            counts.append(count)
            engine.append(await self.engine_ms(statements))
        return {
            "wall_ms": statistics.median(walls),
            "driver_ms": statistics.median(trips),
            "driver_max_ms": max(trips),
            "engine_ms": statistics.median(engine),
            "statements": statistics.median(counts),
        }


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
    from tortoise import Tortoise

    from pegasus.db import close_db, init_db
    from pegasus.services import levels
    from pegasus.services.levels.histogram import rebuild_histogram

    figures: dict[str, Any] = {"dialect": dialect, "rows": rows, "samples": samples}
    async with fresh_database(dialect) as url:
        await init_db(url)
        try:
            figures["seed_s"] = await seed(dialect, rows, url)
            started = time.perf_counter()
            await rebuild_histogram([GUILD])
            figures["histogram_build_s"] = time.perf_counter() - started
            # The planner's statistics of the histogram, as the database's own analysis keeps
            # them in service (the seed analysed the tables before the histogram was counted).
            await Tortoise.get_connection("default").execute_script(
                "ANALYZE xp_histogram; ANALYZE xp_tie_blocks"
                if dialect == "sqlite"
                else "ANALYZE xp_histogram, xp_tie_blocks"
            )
            clock = DatabaseClock(url)

            def board(page: int) -> Awaitable[Any]:
                return levels.leaderboard_page(GUILD, levels.LeaderboardCategory.XP, page)

            last = (await board(1)).pages
            pages = {"page 1": 1, "page 10,000": 10_000, "page 100,000": 100_000, "last page": last}
            timings: dict[str, tuple[dict[str, float], float]] = {}
            for name, page in pages.items():
                if page > last:
                    continue
                new = await board(page)
                old = await counted_page(page)
                assert [(e.value, e.user_id) for e in new.entries] == old, (name, new, old)
                timings[name] = (
                    await clock.medians(samples, lambda page=page: board(page)),
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
                clock, timings, name, entry.user_id, entry.value, samples, baseline_samples
            )
            await check_and_time_rank(
                clock, timings, "rank, end of largest tie", *tie_end, samples, baseline_samples
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
    clock: DatabaseClock,
    timings: dict[str, tuple[dict[str, float], float]],
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
        await clock.medians(samples, lambda: levels.member_rank(GUILD, user_id)),
        await median_ms(baseline_samples, lambda: counted_rank(user_id, xp)),
    )


def report(figures: dict[str, Any]) -> str:
    engine = (
        "EXPLAIN ANALYZE planning + execution"
        if figures["dialect"] == "postgres"
        else "the statements on a plain sqlite3 connection"
    )
    lines = [
        f"== {figures['dialect']}: {figures['rows']:,} user_xp rows in one guild "
        f"({figures['pages']:,} pages); seeded in {figures['seed_s']:.0f} s, histogram counted "
        f"from the rows in {figures['histogram_build_s']:.1f} s",
        f"   ms, medians of {figures['samples']} calls; database = round trips at the driver "
        f"(max of the calls), engine = {engine}",
        f"  {'':<38} {'wall':>7} {'stmts':>5} {'database':>8} {'(max)':>7} {'engine':>7}"
        f" {'counted':>9} {'ratio':>7}  target {TARGET_MS:.0f} ms",
    ]
    for name, (new, old) in figures["timings"].items():
        met = "met" if new["driver_ms"] < TARGET_MS else "MISSED"
        lines.append(
            f"  {name:<38} {new['wall_ms']:>7.2f} {new['statements']:>5.0f}"
            f" {new['driver_ms']:>8.2f} {new['driver_max_ms']:>7.2f} {new['engine_ms']:>7.2f}"
            f" {old:>9.2f} {old / new['wall_ms']:>6.1f}x  {met}"
        )
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
