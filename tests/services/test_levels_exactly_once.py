"""XP is written exactly once: a flush that fails halfway leaves nothing behind and its retry
counts once, and XP set by hand never overwrites an increment another writer made meanwhile.

Both tests make the other writer wait or fail with the database's own means (an open
transaction, a trigger), not with stand-ins for our code.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from datetime import UTC, datetime

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.guilds import Member
from models.levels import UserXP
from pegasus.services import levels as lv
from pegasus.services.levels import Activity, ActivityContext, LevelCaches

GUILD = 111_111_111_111_111_111
ALICE = 800_000_000_000_000_001
GENERAL = 600_000_000_000_000_001

FAIL_MEMBERS_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER fail_members BEFORE INSERT ON members "
        "BEGIN SELECT RAISE(ABORT, 'members are read-only for this test'); END",
    ],
    "postgres": [
        "CREATE FUNCTION fail_members() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'members are read-only for this test'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER fail_members BEFORE INSERT ON members "
        "FOR EACH ROW EXECUTE FUNCTION fail_members()",
    ],
}
DROP_TRIGGER = {
    "sqlite": ["DROP TRIGGER fail_members"],
    "postgres": ["DROP TRIGGER fail_members ON members", "DROP FUNCTION fail_members()"],
}


def dialect() -> str:
    return connections.get("default").capabilities.dialect


async def run_sql(statements: list[str]) -> None:
    conn = connections.get("default")
    for statement in statements:
        await conn.execute_script(statement)


async def test_a_flush_that_fails_halfway_writes_nothing_and_counts_once_on_retry(db: str) -> None:
    await lv.update_settings(GUILD, xp_min=20, xp_max=20)
    activity = Activity(LevelCaches(), rng=random.Random(1), clock=time.time)
    ctx = ActivityContext(ALICE, (GENERAL,), now=time.time())
    assert await activity.record_message(GUILD, ctx) == 20
    await activity.flush()  # the rows exist now: the next upserts update them
    activity.clock = lambda: time.time() + 120  # off cooldown
    assert await activity.record_message(GUILD, ctx) == 20

    # user_xp is written first, then members fails: the whole flush must roll back.
    await run_sql(FAIL_MEMBERS_TRIGGER[dialect()])
    try:
        failed = False
        try:
            await activity.flush()
        except Exception as error:
            failed = "read-only for this test" in str(error)
        assert failed
        assert (await UserXP.get(guild_id=GUILD, user_id=ALICE)).xp == 20
    finally:
        await run_sql(DROP_TRIGGER[dialect()])

    await activity.flush()  # the kept batch, once
    row = await UserXP.get(guild_id=GUILD, user_id=ALICE)
    member = await Member.get(guild_id=GUILD, user_id=ALICE)
    assert (row.xp, member.xp, member.messages) == (40, 40, 2)


async def locks_awaited(conn: BaseDBAsyncClient) -> int:
    """PostgreSQL sessions of this database waiting for a lock another session holds."""
    rows = await conn.execute_query_dict(
        "SELECT count(*) AS waiting FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return int(rows[0]["waiting"])


async def test_xp_changed_by_hand_never_overwrites_an_increment_in_flight(db: str) -> None:
    now = datetime.now(UTC)
    await lv.adjust_xp(GUILD, ALICE, lv.XpOperation.SET, 100, now=now)
    postgres = dialect() == "postgres"
    where = "guild_id = $1 AND user_id = $2" if postgres else "guild_id = ? AND user_id = ?"
    # Tortoise keeps the current transaction in a context variable: the command runs in a
    # context from outside the writer's transaction, as it would in its own task.
    outside = contextvars.copy_context()
    watcher = connections.get("default")  # outside the transaction: its own connection
    async with in_transaction() as writer:
        # Another writer (a flush, say) has the row and is about to increment it.
        if postgres:
            await writer.execute_query(
                f"SELECT xp FROM user_xp WHERE {where} FOR UPDATE", [GUILD, ALICE]
            )
        added = asyncio.create_task(
            lv.adjust_xp(GUILD, ALICE, lv.XpOperation.ADD, 5, now=now), context=outside
        )
        if postgres:
            # Wait (no sleeping on a guess) until /xp add is blocked by the writer's row lock.
            for _ in range(500):
                if await locks_awaited(watcher):
                    break
                await asyncio.sleep(0.01)
            assert await locks_awaited(watcher) == 1
        else:
            await asyncio.sleep(0.05)  # SQLite runs one transaction at a time: it queues
        await writer.execute_query(f"UPDATE user_xp SET xp = xp + 10 WHERE {where}", [GUILD, ALICE])
        assert not added.done()
    change = await added
    assert (change.old_xp, change.new_xp) == (110, 115)  # it read the committed increment
    row = await UserXP.get(guild_id=GUILD, user_id=ALICE)
    member = await Member.get(guild_id=GUILD, user_id=ALICE)
    assert (row.xp, member.xp) == (115, 115)
