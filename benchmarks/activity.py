"""The activity hot path at gateway speed, and the leaderboard queries at scale.

    python benchmarks/activity.py                 # full: 400,000 messages x 3 runs, 1,000,000 rows
    python benchmarks/activity.py --smoke         # small counts (CI): it must run, that is all
    python benchmarks/activity.py --db sqlite     # one dialect (default: sqlite and postgres)
    python benchmarks/activity.py --automod-rules 50   # also: the same bot with 50 automod rules

What it does, per database dialect (each in its own process: Tortoise cannot switch dialects):

1. Starts the local Discord in a child process (`python -m pegasus.localdiscord serve`, so it
   does not share this process's CPU) with `--members` members who speak.
2. Ceiling: a bare discord.py client with a no-op `on_message` connects over a real websocket and
   receives `--messages` MESSAGE_CREATE events from the members in rotation: events/s.
3. Pegasus, unchanged, with every extension, on a fresh migrated database (persistence on: the
   buffer is flushed every second as in production), receives the same events after a warm-up:
   events/s, the ratio to the ceiling (target ≥ 0.9), the database statements sent per 1,000
   messages, counted at Tortoise's client (target ≤ 20 once warm), how often a message waited
   for its guild's settings, and the event loop's CPU time for flushing 1,000 members.
   Steps 2 and 3 are repeated `--runs` times (ceiling, Pegasus, ceiling again each time); the
   median ratio is reported with the spread of the runs.
   With `--automod-rules N`, the same bot then receives the messages again, in bursts that
   alternate between N automod rules of mixed kinds switched on in the guild (words, regular
   expressions, invites, links, caps, emoji, mentions, attachments, new accounts; none fires
   on the messages sent) and the same rules switched off: the rate with rules, the rate
   without, and their ratio (target >= 0.9), with the ratio of each burst to its neighbour.
   The messages are then plain sentences, or what `--automod-content` says
   (`rich`: sentences with a link and an emoji, so that every kind of rule has work to do).
4. Seeds `--rows` user_xp rows in `--guilds` guilds and prints the median time of "top 10" and
   "rank of member" (target ≤ 5 ms on PostgreSQL).

PostgreSQL is reached at PEGASUS_BENCH_PG_URL, else PEGASUS_TEST_PG_URL (default
postgres://postgres@127.0.0.1:5432/postgres); a throw-away database is created and dropped. When it
is unreachable the PostgreSQL part is skipped with a note (an error when CI is set). Figures vary
from run to run, a lot when other processes load the machine: compare the ratio, not the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import discord  # noqa: E402

from benchmarks.children import answering_stack_requests, run_child_process  # noqa: E402

T = TypeVar("T")
DEFAULT_PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
BENCH_CHANNEL = "general"
RECEIVE_TIMEOUT = 600.0
DEMO_PLAIN_MEMBERS = ("mod", "alice", "bob", "carol")
BATCHES = 5  # the measured messages go in this many bursts; the median burst rate is reported
# The automod comparison's pairs of bursts (one with the rules, one without): more, shorter
# bursts than BATCHES, since a burst's rate varies more than 50 rules cost.
AUTOMOD_PAIRS = 12
# Resamplings of the pairs for the interval around the automod ratio, from a fixed seed.
BOOTSTRAP_RESAMPLES = 4_000
# Each rule added or removed is announced, and on PostgreSQL heard back over LISTEN a moment
# later (each time the guild's rules are compiled again): measured only once that is done.
ANNOUNCEMENTS_HEARD = 3.0
# What members say in the automod comparison (`--automod-content` changes it): a sentence.
AUTOMOD_CONTENT = "Hey everyone, message {i} here: did you all see the game last night? So good"
# A harder one, for every kind of rule to have something to read: a link and an emoji.
AUTOMOD_RICH_CONTENT = (
    "Hey everyone, message {i} here: did you all see the game last night? "
    "the highlights are on https://example.com/watch?v={i} 🎉"
)

FULL = {
    "messages": 400_000,
    "members": 1_000,
    "rows": 1_000_000,
    "guilds": 100,
    "samples": 300,
    "runs": 3,
}
# A smoke run's dialect that has not finished by then is stuck: it fails, printing where.
SMOKE_DEADLINE = 600.0
SMOKE = {"messages": 2_000, "members": 100, "rows": 20_000, "guilds": 10, "samples": 30, "runs": 1}
FLUSH_PROBE_MEMBERS = 1_000


# --------------------------------------------------------------------------- the local Discord


@dataclass
class LocalDiscordProcess:
    process: subprocess.Popen[str]
    api_base: str
    gateway_url: str
    token: str
    control_url: str
    content: str | None = None  # what the members say (None: the local Discord's default)

    @classmethod
    def start(cls, members: int) -> LocalDiscordProcess:
        """`python -m pegasus.localdiscord serve`: its broadcasts come from every plain member
        (mod, alice, bob and carol of the demo guild, plus the extra ones)."""
        extra = max(members - len(DEMO_PLAIN_MEMBERS), 0)
        process = subprocess.Popen(
            [sys.executable, "-m", "pegasus.localdiscord", "serve", "--members", str(extra)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the local Discord did not start")
        return cls(process, **json.loads(line))

    async def broadcast(self, count: int) -> None:
        timeout = aiohttp.ClientTimeout(total=RECEIVE_TIMEOUT)
        body: dict[str, Any] = {"channel": BENCH_CHANNEL, "count": count}
        if self.content is not None:
            body["content"] = self.content
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(f"{self.control_url}/broadcast", json=body) as response,
        ):
            response.raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def point_discord_py_at(server: LocalDiscordProcess) -> None:
    import yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = server.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)


class Arrivals:
    """Whether a client has read and handled events, told by its gateway sequence number, so
    that measuring adds no listener (no task per event) to the client measured."""

    POLL_SECONDS = 0.002

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    @property
    def sequence(self) -> int:
        sequences = [
            (shard._parent.ws.sequence or 0)  # type: ignore[attr-defined]
            for shard in getattr(self.client, "shards", {}).values()
        ]
        if not sequences and self.client.ws is not None:
            sequences = [self.client.ws.sequence or 0]
        return sum(sequences)

    async def wait_for(self, sequence: int) -> None:
        """Until the client has read events up to `sequence` and finished handling them."""
        async with asyncio.timeout(RECEIVE_TIMEOUT):
            # Polled: an event or a listener would add work to every event measured.
            while self.sequence < sequence:  # noqa: ASYNC110
                await asyncio.sleep(self.POLL_SECONDS)
            await handlers_done()


async def handlers_done() -> None:
    """Until every on_message handler task discord.py started has finished."""
    while True:
        pending = [
            task
            for task in asyncio.all_tasks()
            if task.get_name() == "discord.py: on_message" and not task.done()
        ]
        if not pending:
            return
        await asyncio.wait(pending, timeout=RECEIVE_TIMEOUT)


@dataclass(frozen=True)
class Rates:
    """Events per second of wall time, and per second of this process's CPU time (all threads:
    the SQLite worker's too). The second barely moves when other processes load the machine."""

    wall: float
    cpu: float


async def timed_broadcast(server: LocalDiscordProcess, arrivals: Arrivals, count: int) -> Rates:
    """Rates from the first event sent until the client received `count` more of them and
    every listener has finished with them."""
    target = arrivals.sequence + count  # one sequence number per MESSAGE_CREATE
    started, started_cpu = time.perf_counter(), time.process_time()
    sending = asyncio.create_task(server.broadcast(count))
    await arrivals.wait_for(target)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    await sending
    return Rates(count / elapsed, count / max(cpu, 1e-9))


async def connect(client: discord.Client, token: str) -> asyncio.Task[None]:
    await client.login(token)
    task = asyncio.create_task(client.connect())
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({ready, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task in done:
            task.result()
        raise RuntimeError("the client was not ready within 60 s")
    return task


# --------------------------------------------------------------------------- the two clients


async def median_rate(server: LocalDiscordProcess, arrivals: Arrivals, messages: int) -> Rates:
    """Rates over `messages` sent in BATCHES bursts: the median burst, so that a moment of
    load from another process on the machine does not decide the figure."""
    size = max(1, messages // BATCHES)
    bursts = [await timed_broadcast(server, arrivals, size) for _ in range(BATCHES)]
    return Rates(
        statistics.median(b.wall for b in bursts), statistics.median(b.cpu for b in bursts)
    )


async def bare_client_rate(server: LocalDiscordProcess, messages: int) -> Rates:
    """Events/s of a bare discord.py client with a no-op listener: the ceiling."""
    from pegasus.bot import build_intents

    point_discord_py_at(server)
    client = discord.Client(intents=build_intents(), guild_ready_timeout=0.05)

    @client.event
    async def on_message(_message: discord.Message) -> None:
        return None  # the no-op listener

    arrivals = Arrivals(client)
    task = await connect(client, server.token)
    try:
        await timed_broadcast(server, arrivals, min(2_000, messages))  # warm-up
        return await median_rate(server, arrivals, messages)
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await task


class StatementCounter(logging.Handler):
    """Counts the statements Tortoise sends (it logs each one at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.kinds: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        text = str(record.args[0]) if record.args else record.getMessage()
        kind = " ".join(text.split()[:3])[:40]
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    @contextlib.contextmanager
    def counting(self) -> Any:
        logger = logging.getLogger("tortoise.db_client")
        old, propagated = logger.level, logger.propagate
        logger.setLevel(logging.DEBUG)
        # Counted here only: passed on, each statement was also written out to stderr in full
        # (every value of a flush), which the measured bot paid for.
        logger.propagate = False
        logger.addHandler(self)
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.setLevel(old)
            logger.propagate = propagated


@dataclass
class PipelineResult:
    rate: Rates
    statements: int
    statements_per_1000: float
    statement_kinds: dict[str, int]
    flushes: int
    settings_waits: int  # messages that waited for their guild's settings to load
    flush_loop_ms: float  # event-loop thread CPU to flush FLUSH_PROBE_MEMBERS members
    automod: AutomodComparison | None = None


@dataclass
class AutomodComparison:
    rules: int
    without: Rates  # over the bursts with the rules off
    with_rules: Rates  # over the bursts with them on, alternating with the others
    hits: int  # rules that fired on the messages sent: 0, or the comparison measures actions
    pair_ratios: list[float] = field(default_factory=list)  # each burst on / the one off beside it
    interval: tuple[float, float] = (0.0, 0.0)  # 90% bootstrap interval of `ratio`
    cpu_interval: tuple[float, float] = (0.0, 0.0)

    @property
    def ratio(self) -> float:
        return self.with_rules.wall / self.without.wall

    @property
    def cpu_ratio(self) -> float:
        return self.with_rules.cpu / self.without.cpu


def automod_rule_specs(count: int) -> list[dict[str, Any]]:
    """`count` rules of mixed kinds, as `pegasus.services.automod.add_rule` takes them; none of
    them fires on AUTOMOD_CONTENT."""
    kinds: list[dict[str, Any]] = [
        {"kind": "words", "pattern": "scamword{n}, free nitro {n}, badword{n}x, slur{n}"},
        {"kind": "regex", "pattern": r"(?i)free\s+n[i1]tro\s*{n}|steam\s*gift{n}"},
        {"kind": "words", "pattern": "spoiler{n}", "whole_word": False},
        {"kind": "invites", "allow": "friends{n}"},
        {"kind": "links", "deny": "grabify{n}.link, evil{n}.com"},
        {"kind": "regex", "pattern": r"(a+)+$|(?i)\bbuy\s+followers{n}\b"},
        {"kind": "caps", "threshold": 80},
        {"kind": "emoji", "threshold": 10},
        {"kind": "mentions", "threshold": 5},
        {"kind": "attachments", "pattern": "exe, scr, bat{n}"},
        {"kind": "new_account", "min_account_age": "1s"},
    ]
    specs = []
    for n in range(count):
        spec = dict(kinds[n % len(kinds)])
        for key in ("pattern", "allow", "deny"):
            if key in spec:
                spec[key] = spec[key].replace("{n}", str(n))
        specs.append(spec)
    return specs


async def add_automod_rules(guild_id: int, count: int) -> None:
    from pegasus.services import automod

    for n, spec in enumerate(automod_rule_specs(count)):
        await automod.add_rule(
            guild_id=guild_id,
            actor_id=guild_id,
            name=f"bench {n}",
            actions=automod.parse_actions("delete"),
            **{**spec, "kind": automod.RuleKind(spec["kind"])},
        )


async def remove_automod_rules(guild_id: int) -> None:
    from pegasus.services import automod

    for rule in await automod.list_rules(guild_id):
        await automod.remove_rule(guild_id=guild_id, rule_id=rule.rule_id, actor_id=guild_id)


async def switch_automod_rules(guild_id: int, enabled: bool) -> None:
    """Turn every rule of the guild on or off, as `/automod edit` does one at a time: stored,
    announced, and the guild's rules compiled again by the bot once the notice is heard."""
    from models.automod import AutomodRule
    from pegasus import notify

    await AutomodRule.filter(guild_id=guild_id).update(enabled=enabled)
    await notify.announce(notify.Topic.SETTINGS, guild_id, "automod")
    await asyncio.sleep(ANNOUNCEMENTS_HEARD)


async def compare_automod(
    server: LocalDiscordProcess,
    arrivals: Arrivals,
    guild_id: int,
    messages: int,
    rules: int,
    pairs: int = AUTOMOD_PAIRS,
) -> AutomodComparison:
    """The rate with `rules` automod rules on, against the rate with them off, in bursts that
    alternate (off, on, on, off, off, on, ...): a slow change of the machine's load or of the
    database during the run weighs on both sides alike, instead of on whichever came later.
    Each side's rate is its messages over its time, summed over its bursts; the interval says
    how far the pairs let that ratio move."""
    from models.automod import AutomodHit

    await add_automod_rules(guild_id, rules)
    await switch_automod_rules(guild_id, False)
    size = max(1, messages // (2 * pairs))
    enabled = False

    async def burst(on: bool) -> Rates:
        nonlocal enabled
        if on != enabled:
            await switch_automod_rules(guild_id, on)
            enabled = on
        return await timed_broadcast(server, arrivals, size)

    off, on_ = await alternating_pairs(pairs, burst)
    hits = await AutomodHit.filter(guild_id=guild_id).count()
    await remove_automod_rules(guild_id)
    await asyncio.sleep(ANNOUNCEMENTS_HEARD)
    return AutomodComparison(
        rules,
        total_rate(off),
        total_rate(on_),
        hits,
        [w.wall / o.wall for o, w in zip(off, on_, strict=True)],
        bootstrap_interval(off, on_, lambda r: r.wall),
        bootstrap_interval(off, on_, lambda r: r.cpu),
    )


async def alternating_pairs(
    pairs: int, burst: Callable[[bool], Awaitable[T]]
) -> tuple[list[T], list[T]]:
    """`pairs` pairs of `burst(False)` and `burst(True)` in alternating order (off, on, on, off,
    off, on, ...): a slow change of the machine's load weighs on both sides alike. Returns each
    side's results, pair by pair."""
    sides: dict[bool, list[T]] = {False: [], True: []}
    for pair in range(pairs):
        for on in (False, True) if pair % 2 == 0 else (True, False):
            sides[on].append(await burst(on))
    return sides[False], sides[True]


def bootstrap_interval(
    off: list[Rates], on: list[Rates], value: Callable[[Rates], float]
) -> tuple[float, float]:
    """The 5th and 95th percentiles of the with/without ratio of total rates over the pairs
    resampled with replacement (a pair stays together: its two bursts shared the moment)."""
    rng = random.Random(0)
    count = len(off)
    ratios = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        picks = [rng.randrange(count) for _ in range(count)]
        with_rules = count / sum(1 / value(on[i]) for i in picks)
        without = count / sum(1 / value(off[i]) for i in picks)
        ratios.append(with_rules / without)
    ratios.sort()
    return ratios[int(0.05 * len(ratios))], ratios[int(0.95 * len(ratios)) - 1]


def total_rate(bursts: list[Rates]) -> Rates:
    """Events per second over bursts of one size: the harmonic mean of their rates."""
    return Rates(
        len(bursts) / sum(1 / b.wall for b in bursts), len(bursts) / sum(1 / b.cpu for b in bursts)
    )


async def flush_loop_ms(activity: Any, guild_id: int, members: int) -> float:
    """CPU time the event loop's thread spends flushing `members` members, once their rows
    exist (the median of a few flushes, measured while no message arrives). PostgreSQL's
    client works on that thread; SQLite's statements run in its own worker thread."""
    from pegasus.services.levels import ActivityContext

    user_ids = [SEED_USERS - 1 - i for i in range(members)]
    timings = []
    for _ in range(4):
        for user_id in user_ids:
            await activity.record_message(guild_id, ActivityContext(user_id, (guild_id,)))
        started = time.thread_time()
        await activity.flush(collect_voice=False)
        timings.append((time.thread_time() - started) * 1000)
    return statistics.median(timings[1:])  # the first creates the users' rows


async def pegasus_rate(
    server: LocalDiscordProcess,
    db_url: str,
    messages: int,
    extensions: tuple[str, ...] | None = None,
    automod_rules: int = 0,
    automod_pairs: int = AUTOMOD_PAIRS,
    automod_messages: int | None = None,
) -> PipelineResult:
    """Events/s of Pegasus (every extension unless told), and the statements it sent meanwhile."""
    from pegasus.bot import EXTENSIONS, Pegasus
    from pegasus.config import Settings, SyncMode

    settings = Settings(
        discord_token=server.token,
        database_url=db_url,
        discord_api_base=server.api_base,
        discord_gateway_url=server.gateway_url,
        sync_commands=SyncMode("off"),
    )
    bot = Pegasus(settings, extensions=extensions or EXTENSIONS, guild_ready_timeout=0.05)
    arrivals = Arrivals(bot)
    task = await connect(bot, server.token)
    try:
        activity = bot.activity_buffer
        assert activity is not None, "the levels extension is not loaded"
        # Warm-up: guild settings cached, every member seen once and stored.
        await timed_broadcast(server, arrivals, min(2_000, messages))
        await activity.flush()
        flushes_before = activity.flushes
        waits_before = activity.settings_waits
        with StatementCounter().counting() as counter:
            rate = await median_rate(server, arrivals, messages)
            await activity.flush()  # what the run buffered is part of its cost
        settings_waits = activity.settings_waits - waits_before
        flushes = activity.flushes - flushes_before
        guild_id = next(iter(bot.guilds)).id
        automod = (
            await compare_automod(
                server,
                arrivals,
                guild_id,
                automod_messages or messages,
                automod_rules,
                automod_pairs,
            )
            if automod_rules
            else None
        )
        return PipelineResult(
            rate=rate,
            statements=counter.count,
            statements_per_1000=counter.count * 1000 / messages,
            statement_kinds=dict(sorted(counter.kinds.items(), key=lambda kv: -kv[1])[:8]),
            flushes=flushes,
            settings_waits=settings_waits,
            flush_loop_ms=await flush_loop_ms(activity, guild_id, FLUSH_PROBE_MEMBERS),
            automod=automod,
        )
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await task


# --------------------------------------------------------------------------- leaderboard queries


SEED_USERS = 10_000_000_000_000_000  # first synthetic user id
SEED_GUILDS = 20_000_000_000_000_000


async def seed_user_xp(rows: int, guilds: int) -> tuple[list[int], list[int]]:
    """`rows` user_xp rows: `rows // guilds` users, each in every guild, with spread-out XP."""
    from tortoise import Tortoise

    from models.guilds import Guild, User

    per_guild = rows // guilds
    guild_ids = [SEED_GUILDS + g for g in range(guilds)]
    user_ids = [SEED_USERS + u for u in range(per_guild)]
    await Guild.bulk_create([Guild(id=g) for g in guild_ids], batch_size=1000)
    await User.bulk_create(
        [User(id=u, username=f"u{u % 100000}") for u in user_ids], batch_size=1000
    )
    conn = Tortoise.get_connection("default")
    # XP from a small hash: reproducible, spread over 0..999,999, with ties; integer-safe on both.
    xp = "(((user_xp_src.u % 100003) * 7919 + (user_xp_src.g % 101) * 104729) % 1000000)"
    select = (
        f"SELECT g.id AS g, u.id AS u FROM guilds g CROSS JOIN users u "
        f"WHERE g.id BETWEEN {guild_ids[0]} AND {guild_ids[-1]} "
        f"AND u.id BETWEEN {user_ids[0]} AND {user_ids[-1]}"
    )
    await conn.execute_script(
        "INSERT INTO user_xp (guild_id, user_id, xp, level, created_at, updated_at) "
        f"SELECT user_xp_src.g, user_xp_src.u, {xp}, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        f"FROM ({select}) AS user_xp_src"
    )
    # Rows written straight into the table: count the XP histogram the boards read.
    from pegasus.services.levels.histogram import rebuild_histogram

    await rebuild_histogram(guild_ids)
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script("VACUUM ANALYZE user_xp")
    else:
        await conn.execute_script("ANALYZE")
    return guild_ids, user_ids


async def median_ms(samples: int, call: Callable[[], Awaitable[Any]]) -> float:
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def query_times(rows: int, guilds: int, samples: int) -> dict[str, float]:
    from models.levels import UserXP
    from pegasus.services import levels

    guild_ids, user_ids = await seed_user_xp(rows, guilds)
    rng = random.Random(42)
    sample = rng.sample(user_ids, min(50, len(user_ids)))
    picks = list(await UserXP.filter(user_id__in=sample).values_list("guild_id", "user_id", "xp"))
    top = await median_ms(samples, lambda: levels.top_xp(rng.choice(guild_ids)))

    def rank_call() -> Awaitable[int]:
        guild_id, user_id, xp = rng.choice(picks)
        return levels.xp_position(guild_id, user_id, xp)

    rank = await median_ms(samples, rank_call)
    board = await median_ms(
        samples,
        lambda: levels.leaderboard_page(guild_ids[0], levels.LeaderboardCategory.XP, 1),
    )
    return {"top10_ms": top, "rank_ms": rank, "leaderboard_page_ms": board}


# --------------------------------------------------------------------------- databases


def pg_admin_url() -> str:
    return (
        os.environ.get("PEGASUS_BENCH_PG_URL")
        or os.environ.get("PEGASUS_TEST_PG_URL")
        or DEFAULT_PG_ADMIN_URL
    )


async def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be reached, or None when it can."""
    import asyncpg

    url = urlparse(pg_admin_url())._replace(scheme="postgresql").geturl()
    try:
        connection = await asyncpg.connect(url, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        return f"PostgreSQL is not reachable at {pg_admin_url()}: {error}"
    await connection.close()
    return None


@contextlib.asynccontextmanager
async def fresh_database(dialect: str) -> AsyncIterator[str]:
    """A migrated, throw-away database of `dialect`; yields its URL."""
    from pegasus.db import apply_migrations

    if dialect == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="pegasus-bench-"))
        url = f"sqlite://{folder / 'bench.sqlite3'}"
        await apply_migrations(url)
        try:
            yield url
        finally:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
        return
    import asyncpg

    base = urlparse(pg_admin_url())
    name = f"pegasus_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(base._replace(scheme="postgresql").geturl(), timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = base._replace(scheme="postgres", path=f"/{name}").geturl()
        await apply_migrations(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# --------------------------------------------------------------------------- one dialect


@dataclass
class Figures:
    dialect: str
    messages: int
    members: int
    runs: int
    ceiling_rate: float  # medians of the runs
    pegasus_rate: float
    ratio: float
    ceiling_cpu_rate: float
    pegasus_cpu_rate: float
    cpu_ratio: float
    ratios: list[float]  # each run's
    cpu_ratios: list[float]
    statements_per_1000: float
    statements: int
    statement_kinds: dict[str, int]
    flushes: int
    settings_waits: int
    flush_loop_ms: float
    load_average: tuple[float, float]  # the machine's 1-minute load before and after the runs
    rows: int
    guilds: int
    top10_ms: float
    rank_ms: float
    leaderboard_page_ms: float
    extensions: list[str] = field(default_factory=list)  # empty: every extension
    automod_rules: int = 0
    automod_without_rate: float = 0.0  # medians of the runs
    automod_with_rate: float = 0.0
    automod_without_cpu_rate: float = 0.0
    automod_with_cpu_rate: float = 0.0
    automod_ratio: float = 0.0
    automod_cpu_ratio: float = 0.0
    automod_ratios: list[float] = field(default_factory=list)
    automod_hits: int = 0
    automod_pair_ratios: list[float] = field(default_factory=list)
    automod_intervals: list[list[float]] = field(default_factory=list)  # each run's, wall
    automod_cpu_intervals: list[list[float]] = field(default_factory=list)
    automod_content: str = ""
    automod_messages: int = 0  # sent in the comparison's bursts, all pairs together


async def run_dialect(
    dialect: str,
    sizes: dict[str, int],
    extensions: tuple[str, ...] | None = None,
    automod_rules: int = 0,
    automod_content: str = AUTOMOD_CONTENT,
    automod_pairs: int = AUTOMOD_PAIRS,
    automod_messages: int | None = None,
) -> Figures:
    from pegasus.db import close_db, init_db

    server = LocalDiscordProcess.start(sizes["members"])
    if automod_rules:
        server.content = automod_content
    runs: list[tuple[Rates, PipelineResult]] = []
    load_before = os.getloadavg()[0]
    try:
        async with fresh_database(dialect) as url:
            # Every run measures the ceiling before and after Pegasus, and averages them: load
            # from elsewhere on the machine then weighs on both sides alike. The database is
            # kept from run to run, as a bot's is from one start to the next.
            for _ in range(max(1, sizes["runs"])):
                before = await bare_client_rate(server, sizes["messages"] // 2)
                pipeline = await pegasus_rate(
                    server,
                    url,
                    sizes["messages"],
                    extensions,
                    automod_rules,
                    automod_pairs,
                    automod_messages,
                )
                after = await bare_client_rate(server, sizes["messages"] // 2)
                ceiling = Rates((before.wall + after.wall) / 2, (before.cpu + after.cpu) / 2)
                runs.append((ceiling, pipeline))
            load_after = os.getloadavg()[0]
            await init_db(url)
            try:
                queries = await query_times(sizes["rows"], sizes["guilds"], sizes["samples"])
            finally:
                await close_db()
    finally:
        server.stop()
    ratios = [pipeline.rate.wall / ceiling.wall for ceiling, pipeline in runs]
    cpu_ratios = [pipeline.rate.cpu / ceiling.cpu for ceiling, pipeline in runs]
    statements = sum(pipeline.statements for _, pipeline in runs)
    kinds: dict[str, int] = {}
    for _, pipeline in runs:
        for kind, count in pipeline.statement_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
    comparisons = [pipeline.automod for _, pipeline in runs if pipeline.automod is not None]
    return Figures(
        dialect=dialect,
        messages=sizes["messages"],
        members=sizes["members"],
        runs=len(runs),
        ceiling_rate=statistics.median(ceiling.wall for ceiling, _ in runs),
        pegasus_rate=statistics.median(pipeline.rate.wall for _, pipeline in runs),
        ratio=statistics.median(ratios),
        ceiling_cpu_rate=statistics.median(ceiling.cpu for ceiling, _ in runs),
        pegasus_cpu_rate=statistics.median(pipeline.rate.cpu for _, pipeline in runs),
        cpu_ratio=statistics.median(cpu_ratios),
        ratios=ratios,
        cpu_ratios=cpu_ratios,
        statements_per_1000=statements * 1000 / (sizes["messages"] * len(runs)),
        statements=statements,
        statement_kinds=dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:8]),
        flushes=sum(pipeline.flushes for _, pipeline in runs),
        settings_waits=sum(pipeline.settings_waits for _, pipeline in runs),
        flush_loop_ms=statistics.median(pipeline.flush_loop_ms for _, pipeline in runs),
        load_average=(load_before, load_after),
        rows=sizes["rows"],
        guilds=sizes["guilds"],
        extensions=list(extensions or ()),
        **automod_figures(comparisons),
        automod_messages=(automod_messages or sizes["messages"]) if automod_rules else 0,
        **queries,
    )


def automod_figures(comparisons: list[AutomodComparison]) -> dict[str, Any]:
    if not comparisons:
        return {}
    return {
        "automod_rules": comparisons[0].rules,
        "automod_without_rate": statistics.median(c.without.wall for c in comparisons),
        "automod_with_rate": statistics.median(c.with_rules.wall for c in comparisons),
        "automod_without_cpu_rate": statistics.median(c.without.cpu for c in comparisons),
        "automod_with_cpu_rate": statistics.median(c.with_rules.cpu for c in comparisons),
        "automod_ratio": statistics.median(c.ratio for c in comparisons),
        "automod_cpu_ratio": statistics.median(c.cpu_ratio for c in comparisons),
        "automod_ratios": [c.ratio for c in comparisons],
        "automod_hits": sum(c.hits for c in comparisons),
        "automod_pair_ratios": [r for c in comparisons for r in c.pair_ratios],
        "automod_intervals": [list(c.interval) for c in comparisons],
        "automod_cpu_intervals": [list(c.cpu_interval) for c in comparisons],
    }


# --------------------------------------------------------------------------- reporting


def pipeline_label(figures: Figures) -> str:
    if not figures.extensions:
        return "Pegasus, whole pipeline:"
    return f"Pegasus ({', '.join(e.removeprefix('cogs.') for e in figures.extensions)}):"


def report(figures: Figures, smoke: bool) -> str:
    f = figures
    lines = [
        f"== {f.dialect}: {f.messages:,} MESSAGE_CREATE from {f.members:,} members over a "
        f"real websocket, {f.runs} run(s), persistence on (1-minute load average "
        f"{f.load_average[0]:.1f} before, {f.load_average[1]:.1f} after)",
        "                                           per second   per CPU-second   (medians)",
        f"  bare discord.py client (no-op listener): {f.ceiling_rate:>10,.0f}   "
        f"{f.ceiling_cpu_rate:>10,.0f}  events",
        f"  {pipeline_label(f):<40} {f.pegasus_rate:>10,.0f}   "
        f"{f.pegasus_cpu_rate:>10,.0f}  events",
        f"  ratio, median of the runs:               {f.ratio:>10.2f}   {f.cpu_ratio:>10.2f}"
        "   (target >= 0.90)",
        f"  spread of the runs (min - max):          {spread(f.ratios):>10}   "
        f"{spread(f.cpu_ratios):>10}",
        f"  each run:                                {runs_of(f.ratios)}  |  "
        f"{runs_of(f.cpu_ratios)}",
        f"  statements per 1,000 messages (warm):    {f.statements_per_1000:>10.2f}   "
        f"(target <= 20; {f.statements:,} in {f.flushes:,} flushes)",
        f"  statements by kind: {f.statement_kinds}",
        f"  messages that waited for their guild's settings: {f.settings_waits:,}",
        f"  event-loop CPU to flush {FLUSH_PROBE_MEMBERS:,} members (median): "
        f"{f.flush_loop_ms:.2f} ms",
        f"== {f.dialect}: {f.rows:,} user_xp rows in {f.guilds:,} guilds",
        f"  top 10 (median):           {f.top10_ms:7.2f} ms",
        f"  rank of member (median):   {f.rank_ms:7.2f} ms   (target <= 5 ms on PostgreSQL)",
        f"  leaderboard page (median): {f.leaderboard_page_ms:7.2f} ms",
    ]
    if f.automod_rules:
        lines += [
            f"== {f.dialect}: the same bot with {f.automod_rules} automod rules of mixed kinds "
            f"(members say {f.automod_content!r}; {f.automod_messages:,} messages in "
            f"{len(f.automod_pair_ratios)} pairs of bursts)",
            "                                           per second   per CPU-second   (medians)",
            f"  without rules (bursts between the others): {f.automod_without_rate:>8,.0f}   "
            f"{f.automod_without_cpu_rate:>10,.0f}  events",
            f"  {'with ' + str(f.automod_rules) + ' rules:':<40} {f.automod_with_rate:>10,.0f}   "
            f"{f.automod_with_cpu_rate:>10,.0f}  events",
            f"  ratio, median of the runs:               {f.automod_ratio:>10.2f}   "
            f"{f.automod_cpu_ratio:>10.2f}   (per second, per CPU-second; target >= 0.90)",
            f"  each run:                                {runs_of(f.automod_ratios)}",
            f"  each run's 90% interval (pairs resampled): {intervals_of(f.automod_intervals)}"
            f"  |  {intervals_of(f.automod_cpu_intervals)}",
            f"  each burst with rules / the one beside it: {runs_of(f.automod_pair_ratios)}",
            f"  rules that fired (should be 0):          {f.automod_hits:>10,}",
        ]
    if smoke:
        lines.append("  (smoke mode: small counts; the figures mean nothing)")
    return "\n".join(lines)


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def runs_of(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def interval_text(interval: Sequence[float]) -> str:
    low, high = interval
    return f"{low:.2f}-{high:.2f}"


def intervals_of(intervals: list[list[float]]) -> str:
    return ", ".join(interval_text(interval) for interval in intervals)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    for target in (parser, sub.add_parser("run", help="(internal) measure one dialect")):
        target.add_argument("--smoke", action="store_true", help="small counts, for CI")
        target.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
        for name in ("messages", "members", "rows", "guilds", "samples", "runs"):
            target.add_argument(f"--{name}", type=int, default=None)
        target.add_argument(
            "--automod-rules",
            type=int,
            default=0,
            help="also measure the bot with this many automod rules of mixed kinds (e.g. 50)",
        )
        target.add_argument(
            "--automod-pairs",
            type=int,
            default=AUTOMOD_PAIRS,
            help="pairs of bursts (with the rules, without) the automod comparison alternates",
        )
        target.add_argument(
            "--automod-messages",
            type=int,
            default=None,
            help="messages the automod comparison sends, all bursts together (default: "
            "--messages); the local Discord keeps every message, so a long comparison is "
            "best run with a short main run",
        )
        target.add_argument(
            "--automod-content",
            default=AUTOMOD_CONTENT,
            help="what members say in the automod comparison ({i}: a number; `rich`: a "
            "sentence with a link and an emoji)",
        )
        target.add_argument(
            "--extensions",
            default=None,
            help="comma-separated extensions to load instead of all (to see what each costs)",
        )
    return parser.parse_args(argv)


def sizes_of(args: argparse.Namespace) -> dict[str, int]:
    sizes = dict(SMOKE if args.smoke else FULL)
    for name in sizes:
        value = getattr(args, name, None)
        if value is not None:
            sizes[name] = value
    return sizes


def run_child(dialect: str, argv: list[str], deadline: float | None) -> Figures | str:
    """Measure one dialect in its own process; returns its figures or why it could not run."""
    outcome = run_child_process(
        [sys.executable, __file__, "run", "--db", dialect, *argv], ROOT, deadline
    )
    if (failure := outcome.failure) is not None:
        return failure
    return Figures(**json.loads(outcome.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sizes = sizes_of(args)
    if args.command == "run":
        extensions = tuple(args.extensions.split(",")) if args.extensions else None
        content = AUTOMOD_RICH_CONTENT if args.automod_content == "rich" else args.automod_content
        figures = asyncio.run(
            answering_stack_requests(
                run_dialect(
                    args.db,
                    sizes,
                    extensions,
                    args.automod_rules,
                    content,
                    args.automod_pairs,
                    args.automod_messages,
                )
            )
        )
        figures.automod_content = content if args.automod_rules else ""
        print(json.dumps(asdict(figures)))
        return 0
    forwarded = [f"--{name}={value}" for name, value in sizes.items()]
    if args.extensions:
        forwarded.append(f"--extensions={args.extensions}")
    if args.automod_rules:
        forwarded.append(f"--automod-rules={args.automod_rules}")
        forwarded.append(f"--automod-content={args.automod_content}")
        forwarded.append(f"--automod-pairs={args.automod_pairs}")
        if args.automod_messages:
            forwarded.append(f"--automod-messages={args.automod_messages}")
    dialects = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    failed = False
    for dialect in dialects:
        if dialect == "postgres" and (reason := asyncio.run(pg_unreachable())):
            # Like scripts/test: required in CI, a note elsewhere.
            print(f"== postgres: not run. {reason} (set PEGASUS_BENCH_PG_URL)", flush=True)
            failed = failed or bool(os.environ.get("CI"))
            continue
        outcome = run_child(dialect, forwarded, SMOKE_DEADLINE if args.smoke else None)
        if isinstance(outcome, Figures):
            print(report(outcome, args.smoke), flush=True)
            continue
        print(f"== {dialect}: could not run\n{outcome}", flush=True)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
