"""Several processes race to end the same giveaway: exactly one draws and exactly one announces.

Each process opens the test database itself, reports that it is ready, and waits for "go", so the
ends really overlap; this is the situation of two bot processes (or a restart that overlaps the
old process) sharing one database.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.giveaways import Giveaway, GiveawayStatus
from pegasus.services import giveaways as svc

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4

RACER = """
import asyncio, json, sys
from datetime import UTC, datetime
from pegasus.db import close_db, init_db
from pegasus.errors import ConflictError
from pegasus.services import giveaways as svc

async def main(url: str, giveaway_pk: int, manual: bool) -> None:
    await init_db(url)
    try:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        now = datetime.now(UTC)
        if manual:
            try:
                ended = await svc.end_now(int(sys.argv[4]), sys.argv[5], now=now)
            except ConflictError:
                ended = None
        else:
            ended = await svc.end_due(giveaway_pk, now=now)
        claimed = await svc.claim_announcement(giveaway_pk, now=now)
        print(json.dumps({"ended": ended is not None, "claimed": claimed}), flush=True)
    finally:
        await close_db()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "manual"))
"""


async def test_processes_racing_to_end_draw_and_announce_once(db: str) -> None:
    giveaway = await svc.create_giveaway(
        svc.GiveawayDraft(
            guild_id=11,
            channel_id=12,
            host_id=13,
            prize="Nitro",
            winner_count=2,
            duration_seconds=60,
        ),
        now=datetime.now(UTC),
        rng=random.Random(5),
    )
    for user_id in range(100, 120):
        await svc.toggle_entry(giveaway.id, svc.Entrant(user_id), now=datetime.now(UTC))

    racers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RACER,
            db,
            str(giveaway.id),
            "manual" if i % 2 else "timer",
            "11",
            giveaway.giveaway_id,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for i in range(PROCESSES)
    ]
    for racer in racers:
        assert racer.stdout is not None
        line = await asyncio.wait_for(racer.stdout.readline(), 60)
        if line.strip() != b"ready":
            _, err = await racer.communicate()
            pytest.fail(f"a racer did not start: {line!r} {err.decode()}")
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write(b"go\n")
        await racer.stdin.drain()

    results = []
    for racer in racers:
        out, err = await asyncio.wait_for(racer.communicate(), 60)
        assert racer.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))

    assert sum(r["ended"] for r in results) == 1, results
    assert sum(r["claimed"] for r in results) == 1, results
    stored = await Giveaway.get(id=giveaway.id)
    assert stored.status is GiveawayStatus.ENDED
    assert len(stored.draws) == 1 and len(stored.winners) == 2
    assert svc.verify_draws(stored, await svc.sorted_entries(giveaway.id)).ok
