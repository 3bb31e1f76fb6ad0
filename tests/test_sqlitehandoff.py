"""The SQLite engine that waits for a statement in SQLite's thread (pegasus.sqlitehandoff): quick
statements are answered without a turn of the event loop, slow ones are left to finish while the
loop goes on, and neither way loses an answer or an error, whatever the order they race in."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import connections

from pegasus import sqlitehandoff
from pegasus.db import dialect_of, tortoise_config
from pegasus.sqlitehandoff import Handoff, HandoffConnection

SLOW_MS = int(sqlitehandoff.WAIT_LIMIT * 1000 * 4)  # well past the wait


def _pause(milliseconds: int) -> int:
    time.sleep(milliseconds / 1000)
    return milliseconds


def _fail_after(milliseconds: int) -> int:
    time.sleep(milliseconds / 1000)
    raise ValueError("refused")


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[HandoffConnection]:
    connection = await sqlitehandoff.connect(str(tmp_path / "handoff.sqlite3"))
    await connection.create_function("pause", 1, _pause)
    await connection.create_function("fail_after", 1, _fail_after)
    try:
        yield connection
    finally:
        await connection.close()


def test_sqlite_urls_use_the_handoff_engine() -> None:
    config = tortoise_config("sqlite://data/x.sqlite3")
    assert config["connections"]["default"]["engine"] == "pegasus.sqlitehandoff"


async def test_the_bots_sqlite_connection_is_a_handoff_connection(db: None, db_url: str) -> None:
    client = connections.get("default")
    await client.execute_query("SELECT 1")
    if dialect_of(db_url) == "sqlite":
        assert isinstance(client._connection, HandoffConnection)
    else:
        assert not hasattr(client, "_connection") or client._connection is None


async def test_a_quick_statement_is_answered_without_a_turn_of_the_loop(
    conn: HandoffConnection,
) -> None:
    turned: list[bool] = []
    asyncio.get_running_loop().call_soon(turned.append, True)
    rows = await conn.execute_fetchall("SELECT 40 + 2")
    assert [tuple(row) for row in rows] == [(42,)]
    # Awaiting aiosqlite's future would have let the loop run the callback first.
    assert turned == []


async def test_a_slow_statement_is_left_to_finish_while_the_loop_goes_on(
    conn: HandoffConnection,
) -> None:
    turned: list[bool] = []
    asyncio.get_running_loop().call_soon(turned.append, True)
    started = time.perf_counter()
    rows = await conn.execute_fetchall("SELECT pause(?)", (SLOW_MS,))
    assert time.perf_counter() - started >= SLOW_MS / 1000
    assert [tuple(row) for row in rows] == [(SLOW_MS,)]
    assert turned == [True]  # the loop ran meanwhile: the wait gave up


async def test_errors_reach_the_caller_both_ways(conn: HandoffConnection) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await conn.execute_fetchall("SELECT * FROM missing")
    with pytest.raises(sqlite3.OperationalError, match="user-defined function raised"):
        await conn.execute_fetchall("SELECT fail_after(?)", (SLOW_MS,))
    rows = await conn.execute_fetchall("SELECT 1")  # and the connection works on
    assert [tuple(row) for row in rows] == [(1,)]


async def test_many_tasks_each_get_their_own_answer_quick_or_slow(
    conn: HandoffConnection,
) -> None:
    await conn.execute("CREATE TABLE seen (n INTEGER PRIMARY KEY)")
    rng = random.Random(7)
    pauses = [rng.choice((0, 0, 0, 1, SLOW_MS // 2, SLOW_MS)) for _ in range(60)]

    async def one(n: int, pause: int) -> int:
        await conn.execute("INSERT INTO seen (n) VALUES (?)", (n,))
        rows = await conn.execute_fetchall("SELECT ? + pause(?) - ?", (n, pause, pause))
        return int(rows[0][0])

    answers = await asyncio.gather(*(one(n, pause) for n, pause in enumerate(pauses)))
    assert answers == list(range(len(pauses)))
    rows = await conn.execute_fetchall("SELECT count(*), sum(n) FROM seen")
    assert tuple(rows[0]) == (len(pauses), sum(range(len(pauses))))


def _handoff(function: object) -> tuple[Handoff, asyncio.AbstractEventLoop, asyncio.Future[int]]:
    loop = asyncio.new_event_loop()
    future: asyncio.Future[int] = loop.create_future()
    return Handoff(function, future), loop, future  # type: ignore[arg-type]


def test_an_answer_that_comes_before_the_wait_ends_is_taken_directly() -> None:
    handoff, loop, future = _handoff(lambda: 7)
    try:
        worker = threading.Thread(target=handoff)
        worker.start()
        worker.join()
        assert handoff.stop_waiting() is False  # the answer is already there
        assert handoff.answer() == 7
        loop.run_until_complete(asyncio.sleep(0))
        assert not future.done()  # and it did not also go through the loop
    finally:
        loop.close()


def test_an_answer_that_comes_after_the_wait_ended_goes_through_the_future() -> None:
    handoff, loop, future = _handoff(lambda: 8)
    try:
        assert handoff.stop_waiting() is True
        worker = threading.Thread(target=handoff)
        worker.start()
        worker.join()
        assert loop.run_until_complete(asyncio.wait_for(future, 5)) == 8
        assert not handoff.done.is_set()
    finally:
        loop.close()


def test_an_error_after_the_wait_ended_goes_through_the_future() -> None:
    def refuse() -> int:
        raise sqlite3.IntegrityError("taken")

    handoff, loop, future = _handoff(refuse)
    try:
        assert handoff.stop_waiting() is True
        threading.Thread(target=handoff).start()
        with pytest.raises(sqlite3.IntegrityError, match="taken"):
            loop.run_until_complete(asyncio.wait_for(future, 5))
    finally:
        loop.close()


def test_the_race_between_the_answer_and_giving_up_answers_exactly_once() -> None:
    """The statement ends while the loop's thread gives up: exactly one way answers, each time."""
    loop = asyncio.new_event_loop()
    try:
        for n in range(300):
            future: asyncio.Future[int] = loop.create_future()
            handoff = Handoff(lambda n=n: n, future)  # type: ignore[misc]
            worker = threading.Thread(target=handoff)
            worker.start()
            gave_up = handoff.stop_waiting()
            worker.join()
            if gave_up:
                assert loop.run_until_complete(asyncio.wait_for(future, 5)) == n
                assert not handoff.done.is_set()
            else:
                assert handoff.answer() == n
                loop.run_until_complete(asyncio.sleep(0))
                assert not future.done()
    finally:
        loop.close()
