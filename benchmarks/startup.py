"""Start-up with many guilds and with one huge guild, against a bare discord.py client.

    python benchmarks/startup.py                  # 1,000 guilds x 50 members; 1 guild x 100,000
    python benchmarks/startup.py --smoke          # small counts (CI): it must run, that is all
    python benchmarks/startup.py --db postgres    # one dialect (default: sqlite and postgres)
    python benchmarks/startup.py --pairs 5        # more pairs (default 3; smoke: 1)
    python benchmarks/startup.py --compare-heap   # also Pegasus without deferred collections

Per database dialect (each in its own process: Tortoise cannot switch dialects) and per world
(the local Discord in a child process, so that it does not share this process's CPU), `--pairs`
times in a row, so that the bare client and Pegasus alternate under the same load:

1. A bare discord.py client with Pegasus's intents connects: seconds until `on_ready`, and the
   longest the event loop was held meanwhile.
2. Pegasus, unchanged, every extension, on a fresh migrated database (first start), then again
   on the same database (second start). For each: seconds until `on_ready`, seconds until the
   directory (guilds, users, members) is stored, the ratio of the latter to the bare client's
   ready in the same pair (target <= 1.3 for 1,000 x 50), the rows the sync wrote (target on
   the second start: under 1% of the rows), and the longest the loop was held between
   `on_ready` and the end of the sync: what a slash command arriving then would wait (target
   < 100 ms), with the CPU time this thread used within it (much less than the stall: the
   process was waiting for a CPU on a loaded machine, not holding the loop with work).

Also per start: this process's CPU seconds (the local Discord runs elsewhere; Pegasus's
extensions are imported before the starts, as discord.py is before the bare client's), CPython's
garbage collections from connecting to the end (timed with `gc.callbacks`): how many full
(generation 2) collections ran, the longest, and the longest collection after `on_ready`; and
the garbage a full collection finds at the end, frozen objects included (what putting full
collections off and freezing the cache kept alive; the bare client's count for comparison).
The load average is printed per pair, the medians and spread of the ratios per world.
`guild_ready_timeout` is discord.py's default (2 s) for both clients. Figures vary from run to
run, a lot when other processes load the machine: compare the ratios in a pair, and the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import discord  # noqa: E402

from benchmarks.activity import (  # noqa: E402
    SMOKE_DEADLINE,
    fresh_database,
    pg_unreachable,
    point_discord_py_at,
)
from benchmarks.children import answering_stack_requests, run_child_process  # noqa: E402

WORLDS = {
    "many": {"guilds": 1_000, "guild_members": 50, "members": 0},
    "big": {"guilds": 0, "guild_members": 0, "members": 100_000},
}
SMOKE_WORLDS = {
    "many": {"guilds": 50, "guild_members": 20, "members": 0},
    "big": {"guilds": 0, "guild_members": 0, "members": 3_000},
}
READY_TIMEOUT = 600.0


@dataclass
class Server:
    process: subprocess.Popen[str]
    api_base: str
    gateway_url: str
    token: str
    control_url: str

    @classmethod
    def start(cls, guilds: int, guild_members: int, members: int) -> Server:
        command = [sys.executable, "-m", "pegasus.localdiscord", "serve", "--members", str(members)]
        command += ["--guilds", str(guilds), "--guild-members", str(guild_members)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the local Discord did not start")
        return cls(process, **json.loads(line))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class LoopWatch:
    """The longest time the event loop went without running this watcher, from `mark()` on,
    and the CPU time this thread used meanwhile (much less: the process was waiting for a CPU
    on a loaded machine, not holding the loop with work of its own)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_cpu = 0.0
        self._task: asyncio.Task[None] | None = None

    def mark(self) -> None:
        self.longest = self.longest_cpu = 0.0
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        last, last_cpu = loop.time(), time.thread_time()
        while True:
            await asyncio.sleep(0.001)
            now, cpu = loop.time(), time.thread_time()
            if now - last - 0.001 > self.longest:
                self.longest, self.longest_cpu = now - last - 0.001, cpu - last_cpu
            last, last_cpu = now, cpu

    def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
        return self.longest


class GcWatch:
    """CPython's garbage collections while watching: generation, start, duration (gc.callbacks)."""

    def __init__(self) -> None:
        self.collections: list[tuple[int, float, float]] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        else:
            self.collections.append((info["generation"], self._started, now - self._started))

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def full(self, since: float = 0.0) -> list[float]:
        """Durations of the full collections that started after `since` (perf_counter)."""
        return [took for gen, at, took in self.collections if gen == 2 and at >= since]

    def longest(self, since: float = 0.0) -> float:
        return max((took for _gen, at, took in self.collections if at >= since), default=0.0)


@dataclass
class Start:
    ready_s: float
    stored_s: float
    longest_stall_ms: float
    longest_stall_cpu_ms: float = 0.0
    cpu_s: float = 0.0
    full_collections: int = 0
    longest_full_collection_ms: float = 0.0
    longest_collection_after_ready_ms: float = 0.0
    garbage_at_end: int = 0
    users_written: int = 0
    members_written: int = 0
    guilds_written: int = 0
    batches: int = 0

    def collections(self, watch: GcWatch, ready_at: float) -> None:
        full = watch.full()
        self.full_collections = len(full)
        self.longest_full_collection_ms = max(full, default=0.0) * 1000
        self.longest_collection_after_ready_ms = watch.longest(ready_at) * 1000


async def until_ready(client: discord.Client, token: str) -> tuple[asyncio.Task[None], float]:
    started = time.perf_counter()
    await client.login(token)
    task = asyncio.create_task(client.connect())
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait(
        {ready, task}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
    )
    if ready not in done:
        task.result()
        raise RuntimeError("not ready in time")
    return task, time.perf_counter() - started


async def bare_start(server: Server) -> Start:
    from pegasus.bot import build_intents

    client = discord.Client(intents=build_intents())
    watch = LoopWatch()
    watch.mark()
    cpu = time.process_time()
    with GcWatch() as collections:
        task, ready = await until_ready(client, server.token)
        result = Start(ready_s=ready, stored_s=ready, longest_stall_ms=watch.stop() * 1000)
        result.cpu_s = time.process_time() - cpu
        result.collections(collections, time.perf_counter())
    result.garbage_at_end = gc.collect()
    await client.close()
    with contextlib.suppress(Exception):
        await task
    return result


async def pegasus_start(server: Server, db_url: str, heap: bool = True) -> Start:
    """Pegasus until its directory is stored; `heap=False`: without putting full collections
    off and freezing the cache (pegasus/longlived.py), to compare."""
    from pegasus.bot import Pegasus
    from pegasus.config import Settings, SyncMode
    from pegasus.longlived import LongLivedHeap

    if not heap:
        with _patched(LongLivedHeap, defer=lambda self: None):
            return await pegasus_start(server, db_url)

    settings = Settings(
        discord_token=server.token,
        database_url=db_url,
        discord_api_base=server.api_base,
        discord_gateway_url=server.gateway_url,
        sync_commands=SyncMode("off"),
    )
    bot = Pegasus(settings)
    watch = LoopWatch()
    started = time.perf_counter()
    cpu = time.process_time()
    ready_at: list[float] = []
    bot.add_listener(_mark_at_ready(watch, ready_at), "on_ready")
    with GcWatch() as collections:
        task, ready = await until_ready(bot, server.token)
        core = bot.get_cog("Core")
        await core.directory.drained()  # type: ignore[union-attr]
        stored = time.perf_counter() - started
        totals = core.directory.totals  # type: ignore[union-attr]
        result = Start(
            ready_s=ready,
            stored_s=stored,
            longest_stall_ms=watch.stop() * 1000,
            longest_stall_cpu_ms=watch.longest_cpu * 1000,
            cpu_s=time.process_time() - cpu,
            users_written=totals.users_written,
            members_written=totals.members_written,
            guilds_written=totals.guilds_written,
            batches=totals.batches,
        )
        result.collections(collections, ready_at[0] if ready_at else started)
    # Garbage a full collection finds now, frozen objects included: what freezing kept alive.
    gc.unfreeze()
    result.garbage_at_end = gc.collect()
    await bot.close()
    with contextlib.suppress(Exception):
        await task
    return result


@contextlib.contextmanager
def _patched(cls: type, **methods: object):  # type: ignore[no-untyped-def]
    saved = {name: getattr(cls, name) for name in methods}
    for name, method in methods.items():
        setattr(cls, name, method)
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(cls, name, method)


def _mark_at_ready(watch: LoopWatch, ready_at: list[float]):  # type: ignore[no-untyped-def]
    async def on_ready() -> None:
        ready_at.append(time.perf_counter())
        watch.mark()

    return on_ready


def import_extensions() -> float:
    """Imports Pegasus's extensions before any start, as discord.py is imported before the bare
    client starts: otherwise the first start of the process alone would pay for them. Returns
    the seconds taken (printed apart)."""
    import importlib

    from pegasus.bot import EXTENSIONS

    started = time.perf_counter()
    for name in EXTENSIONS:
        importlib.import_module(name)
    return time.perf_counter() - started


async def run_world(
    dialect: str, name: str, smoke: bool, pairs: int, compare_heap: bool = False
) -> dict[str, object]:
    """One world on one dialect (its own process: Tortoise is opened once per process): `pairs`
    times the bare client, then Pegasus's first and second start on a fresh database (and with
    `compare_heap`, both again on another without deferring full collections)."""
    figures: dict[str, object] = {"dialect": dialect}
    world = (SMOKE_WORLDS if smoke else WORLDS)[name]
    runs: list[dict[str, object]] = []
    figures["imports_s"] = import_extensions()
    async with contextlib.AsyncExitStack() as databases:
        # Each migrated in a task of its own with a context of its own: Tortoise keeps its
        # state in context variables, and aerich closes it when it is done.
        urls = [
            await asyncio.get_running_loop().create_task(
                databases.enter_async_context(fresh_database(dialect)),
                context=contextvars.Context(),
            )
            for _ in range(pairs * (2 if compare_heap else 1))
        ]
        server = Server.start(**world)
        try:
            point_discord_py_at(server)  # type: ignore[arg-type]
            for pair in range(pairs):
                load = os.getloadavg()[0]
                await _collect_the_last_start()
                run: dict[str, object] = {"load": load, "bare": asdict(await bare_start(server))}
                variants = [("", True)] + ([(" (heap off)", False)] if compare_heap else [])
                for number, (label, heap) in enumerate(variants):
                    url = urls[pair * len(variants) + number]
                    for start in ("first", "second"):
                        await _collect_the_last_start()
                        run[start + label] = asdict(await pegasus_start(server, url, heap))
                runs.append(run)
        finally:
            server.stop()
    rows = (world["guilds"] * world["guild_members"] + world["members"]) * 2
    figures[name] = {"world": world, "rows": rows, "runs": runs}
    return figures


async def _collect_the_last_start() -> None:
    """Each start begins with the garbage of the last one collected: a client's cache becomes
    garbage only once its closing callbacks have run, and one left for the next start's
    collector would be counted against it."""
    await asyncio.sleep(1.0)
    gc.collect()


def _spread(values: list[float], unit: str = "", digits: int = 2) -> str:
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.{digits}f}{unit}"
    return f"{median:.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def report(figures: dict[str, object]) -> str:
    lines = [
        f"== {figures['dialect']} (Pegasus's extensions imported before the starts, in"
        f" {figures.get('imports_s', 0.0):.2f} s)"
    ]
    for name in WORLDS:
        data = figures.get(name)
        if not isinstance(data, dict):
            continue
        runs = data["runs"]
        lines.append(f"-- {name}: {data['world']}, {len(runs)} pairs")
        for number, run in enumerate(runs, 1):
            bare = run["bare"]
            lines.append(
                f"   pair {number} (load average {run['load']:.1f}): bare discord.py ready"
                f" {bare['ready_s']:.2f} s, CPU {bare['cpu_s']:.2f} s,"
                f" {bare['full_collections']} full collections"
            )
            for start in [key for key in run if key.startswith(("first", "second"))]:
                s = run[start]
                written = s["users_written"] + s["members_written"]
                lines.append(
                    f"     Pegasus {start}: ready {s['ready_s']:.2f} s,"
                    f" stored {s['stored_s']:.2f} s"
                    f" = {s['stored_s'] / bare['ready_s']:.2f}x bare, CPU {s['cpu_s']:.2f} s"
                    f" = {s['cpu_s'] / max(bare['cpu_s'], 1e-9):.2f}x; rows written {written:,}"
                    f" of {data['rows']:,} ({written / max(data['rows'], 1):.2%}) in"
                    f" {s['batches']} batches; longest loop stall after ready"
                    f" {s['longest_stall_ms']:.0f} ms ({s['longest_stall_cpu_ms']:.0f} ms of"
                    f" it on CPU); {s['full_collections']} full"
                    f" collections, longest {s['longest_full_collection_ms']:.0f} ms; longest"
                    f" collection after ready {s['longest_collection_after_ready_ms']:.0f} ms;"
                    f" garbage at the end {s['garbage_at_end']:,} objects"
                    f" (bare: {bare['garbage_at_end']:,})"
                )
        for start in [key for key in runs[0] if key.startswith(("first", "second"))]:
            ratios = [r[start]["stored_s"] / r["bare"]["ready_s"] for r in runs]
            cpu = [r[start]["cpu_s"] / max(r["bare"]["cpu_s"], 1e-9) for r in runs]
            stalls = [r[start]["longest_stall_ms"] for r in runs]
            lines.append(
                f"   {start} start, median (spread): stored/bare ready {_spread(ratios, 'x')},"
                f" CPU/bare {_spread(cpu, 'x')}, longest stall {_spread(stalls, ' ms', 0)}"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), action="append")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--world", choices=tuple(WORLDS), action="append")
    parser.add_argument("--pairs", type=int, help="bare/Pegasus pairs per world (3; smoke: 1)")
    parser.add_argument(
        "--compare-heap",
        action="store_true",
        help="also start Pegasus without putting full collections off, in each pair",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    dialects = args.db or ["sqlite", "postgres"]
    worlds = args.world or list(WORLDS)
    pairs = args.pairs or (1 if args.smoke else 3)
    if args.child:
        figures = asyncio.run(
            answering_stack_requests(
                run_world(dialects[0], worlds[0], args.smoke, pairs, args.compare_heap)
            )
        )
        print(json.dumps(figures), flush=True)
        return 0
    for dialect in dialects:
        if dialect == "postgres":
            why = asyncio.run(pg_unreachable())
            if why:
                print(f"== postgres skipped: {why}")
                continue
        figures: dict[str, object] = {"dialect": dialect}
        for world in worlds:
            command = [sys.executable, __file__, "--child", "--db", dialect, "--world", world]
            command += ["--pairs", str(pairs)] + (["--compare-heap"] if args.compare_heap else [])
            command += ["--smoke"] if args.smoke else []
            done = run_child_process(command, ROOT, SMOKE_DEADLINE if args.smoke else None)
            if (failure := done.failure) is not None:
                print(f"== {dialect} {world} failed:\n{failure}")
                return 1
            figures.update(json.loads(done.stdout.strip().splitlines()[-1]))
        print(report(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
