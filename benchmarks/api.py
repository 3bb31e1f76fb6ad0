"""The REST API under load, and what serving it costs the bot's message throughput.

    python benchmarks/api.py                 # full: 1,000,000 rows, 64 clients, 3 runs
    python benchmarks/api.py --smoke         # small counts (CI): it must run, that is all
    python benchmarks/api.py --db postgres   # one dialect (default: sqlite and postgres)
    python benchmarks/api.py --part api      # one part (default: both)

Part "api", per dialect (in its own process: Tortoise cannot switch dialects):

1. Seeds `--rows` user_xp rows in one guild (benchmarks/leaderboards.py's seed: the XP of a real
   server, ties included) and counts the XP histogram, then creates one API key per client
   (`levels:read`, each at the highest rate limit a key may have).
2. Starts two servers, each in a child process of its own: the web application as
   `python -m pegasus web` serves it (`pegasus.web.standalone.serve`), and a bare aiohttp
   handler that returns a constant JSON body of a leaderboard page's size.
3. `--clients` clients (one keep-alive connection and one key each, in this process) send
   requests back to back for `--seconds` seconds a phase, after a warm-up: the bare handler,
   pages of ten of the XP leaderboard (each after a random member, by cursor), member ranks
   (random members), the bare handler again.
   Printed: requests/s, their ratio to the bare handler's (the mean of before and after; target
   >= 0.5), p50 and p99 latency (target p99 < 50 ms on PostgreSQL), requests per CPU-second of
   the serving process (barely moved by other load on the machine), and the clients' own CPU
   share: near one core, the clients limit the bare handler's figure and the ratio flatters.

Part "bot", per dialect: benchmarks/activity.py's machinery (the local Discord in a child
process, the real bot over a real websocket, rates as the median of bursts). The bot alone, then
the bot with its web server on while a child process sends it `--web-rate` requests/s (leaderboard
pages and ranks of its guild's members, paced, not back to back): message events/s of both, each
run in alternating order; target: the ratio stays >= 0.95. The requests the web server answered
meanwhile, and their latency, are printed beside it. The same for the web server beside the bot
(`python -m pegasus web`), and for two controls: a bare aiohttp handler returning a constant body,
served from the bot's own event loop, and the same handler in a process of its own beside it.

Every figure is from this run. They vary from run to run, a lot when other processes load the
machine (it is printed): compare the ratios, not the rates. Every client runs on 127.0.0.1, so
the benchmark raises the per-address limit (WEB_IP_RATE_LIMIT) for its servers; the keys keep
theirs. PostgreSQL as in benchmarks/activity.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from benchmarks.activity import (  # noqa: E402
    SMOKE_DEADLINE,
    Arrivals,
    LocalDiscordProcess,
    Rates,
    StatementCounter,
    alternating_pairs,
    bootstrap_interval,
    connect,
    fresh_database,
    interval_text,
    pg_unreachable,
    timed_broadcast,
    total_rate,
)
from benchmarks.children import answering_stack_requests, run_child_process  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    rows: int  # user_xp rows in the guild whose board is read
    clients: int  # clients sending back to back, one key and one connection each
    seconds: float  # measured, a phase
    runs: int
    messages: int  # message events a bot run, over all its bursts
    members: int  # members who speak
    web_rate: int  # requests/s the bot's web server is sent meanwhile
    pairs: int  # pairs of bursts of the bot part: one while its web server is sent requests


FULL = Sizes(
    rows=1_000_000,
    clients=64,
    seconds=10.0,
    runs=3,
    messages=1_000_000,
    members=1_000,
    web_rate=200,
    pairs=10,
)
SMOKE = Sizes(
    rows=5_000, clients=8, seconds=0.5, runs=1, messages=2_000, members=100, web_rate=200, pairs=1
)
WARM_UP_SECONDS = 2.0
SMOKE_WARM_UP_SECONDS = 0.2
SECRET = "benchmark-secret-of-the-web-server-0123456789"
IP_RATE_LIMIT = 1_000_000_000  # every client is 127.0.0.1: the per-address limit is not measured
KEY_RATE_LIMIT = 10_000  # requests a minute: the most a key may allow
KEY_OWNERS = 40_000_000_000_000_000  # first synthetic owner id
SAMPLED_MEMBERS = 2_000
PACED_IN_FLIGHT = 64  # the paced clients' requests waiting for an answer, at most
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
TARGET_BOT_RATIO = 0.95
CONSTANT_PATH = "/constant"
BOARD_PATH = "/api/v1/guilds/{guild_id}/leaderboards/xp?limit=10"  # ten: /leaderboard's page
RANK_PATH = "/api/v1/guilds/{guild_id}/members/{user_id}/rank"


# --------------------------------------------------------------------------- the servers


def constant_body() -> bytes:
    """A JSON body the shape and size of a page of ten members of the XP leaderboard."""
    items = [
        {
            "position": 100_001 + i,
            "user_id": 132_269_581_287_292_928 + i,
            "value": 5_025 - i,
            "level": 17,
            "name": "member",
        }
        for i in range(10)
    ]
    page = {"items": items, "next_cursor": "WzUwMTYsMTMyMjY5NTgxMjg3MjkyOTM3XQ"}
    return json.dumps(page, separators=(",", ":")).encode()


@contextlib.asynccontextmanager
async def bare_handler() -> AsyncIterator[str]:
    """The bare handler, served from this event loop: aiohttp, one route, a constant JSON body;
    yields its URL."""
    body = constant_body()

    async def constant(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get(CONSTANT_PATH, constant)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def serve_bare() -> None:
    """The bare handler in a process of its own; prints its URL."""
    async with bare_handler() as url:
        print(json.dumps({"url": url}), flush=True)
        await until_terminated()


async def until_terminated() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def serve_pegasus(database_url: str) -> None:
    """`python -m pegasus web` on `database_url`, on a free port (it prints its URL)."""
    from pegasus.config import Settings
    from pegasus.web.standalone import serve

    settings = Settings(
        discord_token="benchmark",
        database_url=database_url,
        web_enabled=True,
        web_port=0,
        web_secret=SECRET,
        web_ip_rate_limit=IP_RATE_LIMIT,
        log_level="WARNING",
    )
    asyncio.run(serve(settings))


@dataclass
class ServerProcess:
    """A server in a child process of this script, and the CPU time it has used."""

    process: subprocess.Popen[str]
    url: str

    @classmethod
    def start(cls, *args: str) -> ServerProcess:
        process = subprocess.Popen(
            [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            process.wait(10)
            raise RuntimeError(f"the server {args[0]} did not start")
        if line.startswith("Pegasus API: "):
            url = line.split()[2].removesuffix("/api/v1")
        else:
            url = json.loads(line)["url"]
        return cls(process, url)

    def cpu_seconds(self) -> float:
        """User and system CPU time of the process so far (Linux; 0 elsewhere)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def started_together(*commands: tuple[str, ...]) -> list[ServerProcess]:
    """Servers started at once; if one fails to start, those that did are stopped again."""
    outcomes = await asyncio.gather(
        *(asyncio.to_thread(ServerProcess.start, *command) for command in commands),
        return_exceptions=True,
    )
    servers = [outcome for outcome in outcomes if isinstance(outcome, ServerProcess)]
    if len(servers) < len(outcomes):
        for server in servers:
            server.stop()
        raise next(outcome for outcome in outcomes if isinstance(outcome, BaseException))
    return servers


# --------------------------------------------------------------------------- the clients

# How long the paced clients get to send their report and exit once told to stop (their
# requests still in flight get 10 s of it).
PACED_EXIT_SECONDS = 30


@dataclass(frozen=True)
class Phase:
    """Requests answered back to back by `clients` clients for some seconds."""

    name: str
    requests: int  # answered 200
    other_statuses: dict[str, int]
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    client_cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def per_server_cpu(self) -> float:
        return self.requests / self.server_cpu_s if self.server_cpu_s else 0.0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


class Tally:
    """Statuses and latencies of the answered requests."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}

    def add(self, status: int, seconds: float) -> None:
        if status == 200:
            self.latencies.append(seconds * 1000)
        else:
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1


async def request(session: aiohttp.ClientSession, url: str, key: str, tally: Tally) -> None:
    started = time.perf_counter()
    async with session.get(url, headers={"Authorization": f"Bearer {key}"}) as response:
        await response.read()
        tally.add(response.status, time.perf_counter() - started)


async def back_to_back(
    name: str,
    server: ServerProcess,
    paths: Callable[[random.Random], str],
    keys: Sequence[str],
    seconds: float,
    warm_up: float,
) -> Phase:
    """Each client (one connection and one key) sends its next request when the last is
    answered; what was answered within `seconds` after the warm-up counts."""
    connector = aiohttp.TCPConnector(limit=len(keys), force_close=False)
    async with aiohttp.ClientSession(server.url, connector=connector) as session:
        tally = Tally()
        measuring = False
        deadline = time.perf_counter() + warm_up

        async def client(index: int) -> None:
            rng = random.Random(index)
            while time.perf_counter() < deadline:
                await request(session, paths(rng), keys[index], tally if measuring else Tally())

        warming = [asyncio.create_task(client(i)) for i in range(len(keys))]
        await asyncio.gather(*warming)
        measuring = True
        cpu, client_cpu = server.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(client(i) for i in range(len(keys))))
        elapsed = time.perf_counter() - started
    latencies = sorted(tally.latencies)
    return Phase(
        name=name,
        requests=len(latencies),
        other_statuses=tally.statuses,
        seconds=elapsed,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        server_cpu_s=server.cpu_seconds() - cpu,
        client_cpu_s=time.process_time() - client_cpu,
    )


async def paced(spec: dict[str, Any], out: IO[str]) -> None:
    """Requests at `rate` a second on a fixed schedule (not waiting for answers; at most
    `concurrency` in flight) until SIGTERM; then one JSON line of what was answered."""
    rate, keys, paths = spec["rate"], spec["keys"], spec["paths"]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    tally = Tally()
    rng = random.Random(7)
    in_flight: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(spec["concurrency"])
    connector = aiohttp.TCPConnector(limit=spec["concurrency"])
    async with aiohttp.ClientSession(spec["base"], connector=connector) as session:

        async def one(path: str, key: str) -> None:
            async with slots:
                with contextlib.suppress(aiohttp.ClientError):
                    await request(session, path, key, tally)

        print("ready", file=out, flush=True)
        started = time.perf_counter()
        sent = 0
        while not stop.is_set():
            due = started + sent / rate
            if (wait := due - time.perf_counter()) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                continue
            task = asyncio.create_task(one(rng.choice(paths), keys[sent % len(keys)]))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            sent += 1
        elapsed = time.perf_counter() - started
        answered_in_time = len(tally.latencies)
        if in_flight:
            await asyncio.wait(in_flight, timeout=10)
    latencies = sorted(tally.latencies)
    report = {
        "sent": sent,
        "answered": len(latencies),
        "rate": answered_in_time / elapsed if elapsed else 0.0,
        "other_statuses": tally.statuses,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
    }
    print(json.dumps(report), file=out, flush=True)


# --------------------------------------------------------------------------- part "api"


async def seeded_guild(dialect: str, rows: int, url: str) -> tuple[int, list[tuple[int, int]]]:
    """The guild of benchmarks/leaderboards.py with `rows` members; (user id, xp) of a sample."""
    from tortoise import Tortoise

    from benchmarks.leaderboards import GUILD, seed
    from pegasus.services import directory
    from pegasus.services.levels.histogram import rebuild_histogram

    await seed(dialect, rows, url)
    await directory.ensure_guild(GUILD)
    await rebuild_histogram([GUILD])
    step = max(1, rows // SAMPLED_MEMBERS)
    found = await Tortoise.get_connection("default").execute_query_dict(
        f"SELECT user_id, xp FROM user_xp WHERE guild_id = {GUILD} AND user_id % {step} = 0 "
        f"LIMIT {SAMPLED_MEMBERS}"
    )
    return GUILD, [(row["user_id"], row["xp"]) for row in found]


def board_path(guild_id: int, after: tuple[int, int] | None) -> str:
    """A page of the XP board: the top, or the ten members after (user id, xp)."""
    from pegasus.web.pagination import encode_cursor

    path = BOARD_PATH.format(guild_id=guild_id)
    if after is None:
        return path
    user_id, xp = after
    return f"{path}&cursor={quote(encode_cursor([xp, user_id]))}"


def rank_path(guild_id: int, user_id: int) -> str:
    return RANK_PATH.format(guild_id=guild_id, user_id=user_id)


async def create_keys(guild_id: int, count: int, first_owner: int = KEY_OWNERS) -> list[str]:
    """`count` keys of `guild_id` with `levels:read`, one owner each."""
    from pegasus.services.security import create_api_key

    secrets = []
    for index in range(count):
        created = await create_api_key(
            owner_id=first_owner + index,
            name=f"benchmark client {index}",
            scopes=["levels:read"],
            guild_id=guild_id,
            now=datetime.now(UTC),
            is_bot_owner=False,
            is_guild_admin=True,
            rate_limit=KEY_RATE_LIMIT,
        )
        secrets.append(created.secret)
    return secrets


@dataclass
class ApiFigures:
    dialect: str
    rows: int
    clients: int
    seconds: float
    runs: int
    load_average: tuple[float, float]
    bare: list[dict[str, Any]] = field(default_factory=list)  # Phase as a dict, 2 per run
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    rank: list[dict[str, Any]] = field(default_factory=list)
    statements: dict[str, float] = field(default_factory=dict)  # per request, by route


async def measure_api(dialect: str, sizes: Sizes, smoke: bool) -> ApiFigures:
    from pegasus.db import close_db, init_db

    warm_up = SMOKE_WARM_UP_SECONDS if smoke else WARM_UP_SECONDS
    figures = ApiFigures(dialect, sizes.rows, sizes.clients, sizes.seconds, sizes.runs, (0, 0))
    async with fresh_database(dialect) as url:
        await init_db(url)
        try:
            guild_id, members = await seeded_guild(dialect, sizes.rows, url)
            keys = await create_keys(guild_id, sizes.clients)
        finally:
            await close_db()

        def board(rng: random.Random) -> str:
            return board_path(guild_id, rng.choice(members))

        def rank(rng: random.Random) -> str:
            return rank_path(guild_id, rng.choice(members)[0])

        def constant(_rng: random.Random) -> str:
            return CONSTANT_PATH

        bare, pegasus = await started_together(("serve-bare",), ("serve-pegasus", url))
        try:
            load_before = os.getloadavg()[0]
            for _ in range(sizes.runs):
                # The bare handler before and after: load from elsewhere weighs on both sides.
                for target, phases, server, paths in (
                    ("bare", figures.bare, bare, constant),
                    ("leaderboard", figures.leaderboard, pegasus, board),
                    ("rank", figures.rank, pegasus, rank),
                    ("bare", figures.bare, bare, constant),
                ):
                    phase = await back_to_back(
                        target, server, paths, keys, sizes.seconds, warm_up
                    )
                    phases.append(asdict(phase))
            figures.load_average = (load_before, os.getloadavg()[0])
        finally:
            bare.stop()
            pegasus.stop()
        await init_db(url)
        try:
            figures.statements = {
                "leaderboard": await statements_per_request(board, keys[0]),
                "rank": await statements_per_request(rank, keys[0]),
            }
        finally:
            await close_db()
    return figures


async def statements_per_request(
    paths: Callable[[random.Random], str], key: str, requests: int = 50
) -> float:
    """Database statements a request sends, as Tortoise's client logs them (BEGIN and COMMIT
    are not among them): the application served in this process, one request at a time."""
    from pegasus.web import WebConfig, WebServer, create_app

    config = WebConfig(secret=SECRET.encode(), ip_rate_limit=IP_RATE_LIMIT)
    server = WebServer(create_app(config), "127.0.0.1", 0)
    await server.start()
    rng = random.Random(11)
    tally = Tally()
    try:
        async with aiohttp.ClientSession(server.url) as session:
            await request(session, paths(rng), key, tally)  # caches filled
            with StatementCounter().counting() as counter:
                for _ in range(requests):
                    await request(session, paths(rng), key, tally)
    finally:
        await server.stop()
    if tally.statuses:
        raise RuntimeError(f"the application answered {tally.statuses}")
    return counter.count / requests


# --------------------------------------------------------------------------- part "bot"


@dataclass
class BotPair:
    """Two bursts of messages side by side in one bot: one while its web server was sent
    requests, one while it was sent none."""

    alone: float  # message events/s
    with_web: float
    alone_cpu: float  # per CPU-second of this process
    with_web_cpu: float
    web: dict[str, Any]  # what the paced clients saw

    @property
    def ratio(self) -> float:
        return self.with_web / self.alone


# Where the web server runs in the bot part: in the bot's process (WEB_ENABLED, the default),
# beside it as `python -m pegasus web` on the same database (the bot with WEB_ENABLED=false), and
# the two controls, the bare aiohttp handler in each of those places. Beside the bot it shares
# nothing with the bot but the machine, so what the bot loses then is what any server costs it
# on this machine; in the bot's process (served from the bot's own event loop, the bot with
# WEB_ENABLED=false) it is what any aiohttp server costs the bot there, however little each of
# its answers needs.
WEB_PLACES = ("in-process", "bare-in-process", "beside", "bare-beside")
BARE_PLACES = frozenset({"bare-in-process", "bare-beside"})
PLACE_WORDS = {
    "in-process": "its web server, in its process,",
    "bare-in-process": "a bare aiohttp handler in its process (the control in its process)",
    "beside": "its web server beside it (python -m pegasus web)",
    "bare-beside": "a bare aiohttp handler beside it (the control)",
}


@dataclass
class BotFigures:
    dialect: str
    messages: int
    members: int
    web_rate: int
    load_average: tuple[float, float]
    place: str = "in-process"
    pairs: list[dict[str, Any]] = field(default_factory=list)

    def sides(self) -> tuple[list[Rates], list[Rates]]:
        """The bursts without requests, and those with them, pair by pair."""
        pairs = [BotPair(**row) for row in self.pairs]
        return (
            [Rates(p.alone, p.alone_cpu) for p in pairs],
            [Rates(p.with_web, p.with_web_cpu) for p in pairs],
        )


@contextlib.asynccontextmanager
async def running_bot(
    server: LocalDiscordProcess, db_url: str, *, web_enabled: bool
) -> AsyncIterator[tuple[Any, Arrivals]]:
    """Pegasus with every extension, as benchmarks/activity.py runs it; its web server on a free
    port when `web_enabled`."""
    from pegasus.bot import EXTENSIONS, Pegasus
    from pegasus.config import Settings, SyncMode

    settings = Settings(
        discord_token=server.token,
        database_url=db_url,
        discord_api_base=server.api_base,
        discord_gateway_url=server.gateway_url,
        sync_commands=SyncMode("off"),
        web_enabled=web_enabled,
        web_port=0,
        web_secret=SECRET,
        web_ip_rate_limit=IP_RATE_LIMIT,
    )
    bot = Pegasus(settings, extensions=EXTENSIONS, guild_ready_timeout=0.05)
    arrivals = Arrivals(bot)
    task = await connect(bot, server.token)
    try:
        yield bot, arrivals
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await task


async def web_load_paths(guild_id: int) -> list[str]:
    """The top of the XP board, the page after each of (up to) 500 members, and their ranks."""
    from models.levels import UserXP

    members = await UserXP.filter(guild_id=guild_id).limit(500).values_list("user_id", "xp")
    boards = [board_path(guild_id, (user_id, xp)) for user_id, xp in members]
    ranks = [rank_path(guild_id, user_id) for user_id, _xp in members]
    return [board_path(guild_id, None), *boards, *ranks]


@contextlib.asynccontextmanager
async def paced_load(
    base: str, keys: list[str], paths: list[str], rate: int
) -> AsyncIterator[dict[str, Any]]:
    """A child process sending `rate` requests/s to `base`; yields a dict filled, on exit,
    with what it saw."""
    process = subprocess.Popen(
        [sys.executable, __file__, "load"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdin is not None and process.stdout is not None
    spec = {
        "base": base, "keys": keys, "paths": paths, "rate": rate, "concurrency": PACED_IN_FLIGHT
    }
    process.stdin.write(json.dumps(spec) + "\n")
    process.stdin.close()
    ready = await asyncio.to_thread(process.stdout.readline)
    if ready.strip() != "ready":
        process.kill()
        raise RuntimeError("the paced clients did not start")
    seen: dict[str, Any] = {}
    try:
        yield seen
    finally:
        process.send_signal(signal.SIGTERM)
        line = await asyncio.to_thread(process.stdout.readline)
        try:
            await asyncio.to_thread(process.wait, PACED_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()  # its report, if any, is read; a process left behind is not
            await asyncio.to_thread(process.wait)
        seen.update(json.loads(line) if line.strip() else {"error": "no report"})


async def web_burst(
    server: LocalDiscordProcess,
    arrivals: Arrivals,
    base: str,
    keys: list[str],
    paths: list[str],
    web_rate: int,
    size: int,
    settle: float,
) -> tuple[Rates, dict[str, Any]]:
    """A burst of `size` messages while the web server is sent `web_rate` requests/s."""
    async with paced_load(base, keys, paths, web_rate) as seen:
        await asyncio.sleep(settle)  # the web server's answers reach their steady pace
        rate = await timed_broadcast(server, arrivals, size)
    return rate, seen


async def measure_bot(dialect: str, sizes: Sizes, smoke: bool) -> list[BotFigures]:
    """The bot beside its web server in each place of WEB_PLACES, each in a task of its own: a
    bot leaves its Tortoise context in the task that started it."""
    return [
        await asyncio.create_task(measure_bot_at(place, dialect, sizes, smoke))
        for place in WEB_PLACES
    ]


@contextlib.asynccontextmanager
async def web_beside(*command: str) -> AsyncIterator[str]:
    """A server of this script in a process of its own (`serve-pegasus URL`: `python -m
    pegasus web` on the bot's database, as a deployment runs it); yields its URL."""
    web_server = await asyncio.to_thread(ServerProcess.start, *command)
    try:
        yield web_server.url
    finally:
        await asyncio.to_thread(web_server.stop)


async def measure_bot_at(place: str, dialect: str, sizes: Sizes, smoke: bool) -> BotFigures:
    """One bot and a web server in `place`, bursts of messages in pairs: one while the server is
    sent `web_rate` requests/s, one while it is sent none, in alternating order (alone, loaded,
    loaded, alone, ...): the pair shares the bot's state and the machine's moment, which a
    comparison of two bots started one after the other does not."""
    settle = SMOKE_WARM_UP_SECONDS if smoke else WARM_UP_SECONDS
    server = LocalDiscordProcess.start(sizes.members)
    figures = BotFigures(
        dialect, sizes.messages, sizes.members, sizes.web_rate, (os.getloadavg()[0], 0.0), place
    )
    size = max(1, sizes.messages // (2 * sizes.pairs))
    in_process = place == "in-process"
    try:
        async with (
            fresh_database(dialect) as url,
            running_bot(server, url, web_enabled=in_process) as (bot, arrivals),
            contextlib.AsyncExitStack() as stack,
        ):
            if in_process:
                web_url = bot.web.url
            elif place == "bare-in-process":
                web_url = await stack.enter_async_context(bare_handler())
            else:
                command = ("serve-pegasus", url) if place == "beside" else ("serve-bare",)
                web_url = await stack.enter_async_context(web_beside(*command))
            await timed_broadcast(server, arrivals, min(2_000, size))  # warm-up, as activity.py
            await bot.activity_buffer.flush()
            guild_id = next(iter(bot.guilds)).id
            # A key allows 10,000 requests a minute: enough keys for the rate, with room.
            keys = await create_keys(guild_id, max(1, sizes.web_rate * 60 // KEY_RATE_LIMIT + 1))
            paths = [CONSTANT_PATH] if place in BARE_PLACES else await web_load_paths(guild_id)

            async def burst(loaded: bool) -> tuple[Rates, dict[str, Any]]:
                if loaded:
                    return await web_burst(
                        server, arrivals, web_url, keys, paths, sizes.web_rate, size, settle
                    )
                return await timed_broadcast(server, arrivals, size), {}

            alone, loaded = await alternating_pairs(sizes.pairs, burst)
            for (without, _), (with_web, seen) in zip(alone, loaded, strict=True):
                figures.pairs.append(
                    asdict(BotPair(without.wall, with_web.wall, without.cpu, with_web.cpu, seen))
                )
    finally:
        server.stop()
    figures.load_average = (figures.load_average[0], os.getloadavg()[0])
    return figures


# --------------------------------------------------------------------------- reporting


def phases_of(rows: list[dict[str, Any]]) -> list[Phase]:
    return [Phase(**row) for row in rows]


def report_api(f: ApiFigures, smoke: bool) -> str:
    bare = phases_of(f.bare)
    # The bare handler's figures of a run: the mean of before and after.
    ceiling = [(bare[2 * i].rate + bare[2 * i + 1].rate) / 2 for i in range(f.runs)]
    ceiling_cpu = [
        (bare[2 * i].per_server_cpu + bare[2 * i + 1].per_server_cpu) / 2 for i in range(f.runs)
    ]
    lines = [
        f"== {f.dialect}: REST API, {f.rows:,} user_xp rows in one guild, {f.clients} clients "
        f"back to back, {f.runs} run(s) of {f.seconds:g} s a phase (1-minute load average "
        f"{f.load_average[0]:.1f} before, {f.load_average[1]:.1f} after)",
        "                                 req/s  ratio  p50 ms   p99 ms   req per server "
        "CPU-s (ratio)   client CPU share",
        phase_line("bare aiohttp, constant JSON", bare, [1.0] * f.runs, [1.0] * f.runs),
    ]
    for name, rows in (("leaderboard page", f.leaderboard), ("member rank", f.rank)):
        phases = phases_of(rows)
        ratios = [phase.rate / ceiling[i] for i, phase in enumerate(phases)]
        cpu_ratios = [phase.per_server_cpu / ceiling_cpu[i] for i, phase in enumerate(phases)]
        lines.append(phase_line(name, phases, ratios, cpu_ratios))
        lines.append(f"    ratio of each run: {', '.join(f'{r:.2f}' for r in ratios)}")
    lines.append(
        f"  (medians of the runs; targets: ratio >= {TARGET_RATIO:.2f}, p99 < "
        f"{TARGET_P99_MS:.0f} ms on PostgreSQL)"
    )
    lines.append(
        "  database statements per request (without BEGIN/COMMIT): "
        + ", ".join(f"{name} {count:.1f}" for name, count in f.statements.items())
    )
    if refused := refused_api(f):
        lines.append(f"  NOT 200, not counted above (the figures are not valid): {refused}")
    if smoke:
        lines.append("  (smoke mode: small counts; the figures mean nothing)")
    return "\n".join(lines)


def refused_api(f: ApiFigures) -> dict[str, dict[str, int]]:
    """Statuses other than 200 by phase: a benchmark of refusals measures nothing."""
    refused: dict[str, dict[str, int]] = {}
    for phase in phases_of(f.bare + f.leaderboard + f.rank):
        for status, count in phase.other_statuses.items():
            seen = refused.setdefault(phase.name, {})
            seen[status] = seen.get(status, 0) + count
    return refused


def phase_line(
    name: str, phases: list[Phase], ratios: list[float], cpu_ratios: list[float]
) -> str:
    def median(values: Any) -> float:
        return statistics.median(list(values))

    share = median(p.client_cpu_s / p.seconds for p in phases)
    return (
        f"  {name:<28} {median(p.rate for p in phases):>7,.0f}  {median(ratios):>5.2f} "
        f"{median(p.p50_ms for p in phases):>7.1f}  {median(p.p99_ms for p in phases):>7.1f}   "
        f"{median(p.per_server_cpu for p in phases):>10,.0f} ({median(cpu_ratios):.3f})"
        f"         {share:>5.2f}"
    )


def report_bot(f: BotFigures, smoke: bool) -> str:
    pairs = [BotPair(**row) for row in f.pairs]
    alone, loaded = f.sides()
    wall = total_rate(loaded).wall / total_rate(alone).wall
    cpu = total_rate(loaded).cpu / total_rate(alone).cpu
    served = [pair.web for pair in pairs]
    where = PLACE_WORDS[f.place]
    lines = [
        f"== {f.dialect}: the bot's message throughput while {where} is sent "
        f"{f.web_rate} req/s, {f.messages:,} MESSAGE_CREATE from {f.members:,} members in "
        f"{len(pairs)} pair(s) of bursts (1-minute load average {f.load_average[0]:.1f} before, "
        f"{f.load_average[1]:.1f} after)",
        "                                      per second   per CPU-second   (over the bursts)",
        f"  bot, its web server sent nothing:   {total_rate(alone).wall:>10,.0f}"
        f"   {total_rate(alone).cpu:>10,.0f}  events",
        f"  bot, its web server sent {f.web_rate} req/s: {total_rate(loaded).wall:>9,.0f}   "
        f"{total_rate(loaded).cpu:>10,.0f}  events",
        f"  ratio:                              {wall:>10.2f}   {cpu:>10.2f}"
        f"   (target >= {TARGET_BOT_RATIO:.2f})",
        "  90% interval (pairs resampled):    "
        f"{interval_text(bootstrap_interval(alone, loaded, lambda r: r.wall)):>10}   "
        f"{interval_text(bootstrap_interval(alone, loaded, lambda r: r.cpu)):>10}",
        "  each pair (with requests / without): " + ", ".join(f"{p.ratio:.2f}" for p in pairs),
        "  web answers meanwhile (each pair): "
        + "; ".join(
            f"{s.get('rate', 0):.0f} req/s, p50 {s.get('p50_ms', 0):.1f} ms, "
            f"p99 {s.get('p99_ms', 0):.1f} ms"
            + (f", NOT 200: {s['other_statuses']}" if s.get("other_statuses") else "")
            for s in served
        ),
    ]
    if smoke:
        lines.append("  (smoke mode: small counts; the figures mean nothing)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry points


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="all", help=argparse.SUPPRESS)
    parser.add_argument("database_url", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", help="small counts, for CI")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--part", choices=("api", "bot", "both"), default="both")
    for size in fields(Sizes):
        kind = type(getattr(FULL, size.name))
        parser.add_argument(f"--{size.name.replace('_', '-')}", type=kind, default=None)
    return parser.parse_args(argv)


def sizes_of(args: argparse.Namespace) -> Sizes:
    base = SMOKE if args.smoke else FULL
    given = {f.name: getattr(args, f.name) for f in fields(Sizes)}
    return replace(base, **{name: value for name, value in given.items() if value is not None})


def run_child(part: str, dialect: str, argv: list[str], deadline: float | None) -> Any:
    """Measure one part on one dialect in its own process: its figures, or why it failed."""
    outcome = run_child_process(
        [sys.executable, __file__, f"run-{part}", "--db", dialect, *argv], ROOT, deadline
    )
    if (failure := outcome.failure) is not None:
        return failure
    return json.loads(outcome.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sizes = sizes_of(args)
    if args.command == "serve-bare":
        asyncio.run(serve_bare())
        return 0
    if args.command == "serve-pegasus":
        serve_pegasus(args.database_url)
        return 0
    if args.command == "load":
        asyncio.run(paced(json.loads(sys.stdin.readline()), sys.stdout))
        return 0
    if args.command == "run-api":
        figures = asyncio.run(answering_stack_requests(measure_api(args.db, sizes, args.smoke)))
        print(json.dumps(asdict(figures)))
        return 0
    if args.command == "run-bot":
        bot_figures = asyncio.run(answering_stack_requests(measure_bot(args.db, sizes, args.smoke)))
        print(json.dumps([asdict(figures) for figures in bot_figures]))
        return 0
    forwarded = [f"--{name.replace('_', '-')}={value}" for name, value in asdict(sizes).items()]
    if args.smoke:
        forwarded.append("--smoke")
    parts = ("api", "bot") if args.part == "both" else (args.part,)
    dialects = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    failed = False
    jobs = []
    for dialect in dialects:
        if dialect == "postgres" and (reason := asyncio.run(pg_unreachable())):
            print(f"== postgres: not run. {reason} (set PEGASUS_BENCH_PG_URL)", flush=True)
            failed = failed or bool(os.environ.get("CI"))
            continue
        jobs.extend((part, dialect) for part in parts)
    # One part at a time, the smoke run too: at once, on a small machine, a part could miss its
    # deadline only because the others were running.
    deadline = SMOKE_DEADLINE if args.smoke else None
    for part, dialect in jobs:
        outcome = run_child(part, dialect, forwarded, deadline)
        if isinstance(outcome, str):
            print(f"== {dialect}, part {part}: could not run\n{outcome}", flush=True)
            failed = True
        elif part == "api":
            figures = ApiFigures(**outcome)
            print(report_api(figures, args.smoke), flush=True)
            failed = failed or bool(refused_api(figures))
        else:
            for place in outcome:
                bot_figures = BotFigures(**place)
                print(report_bot(bot_figures, args.smoke), flush=True)
                # Answers other than 200 under load are a finding (printed); in the smoke run, on
                # an idle server, they mean the benchmark is broken.
                failed = failed or (
                    args.smoke
                    and any(
                        pair["web"].get("other_statuses") or "error" in pair["web"]
                        for pair in bot_figures.pairs
                    )
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
