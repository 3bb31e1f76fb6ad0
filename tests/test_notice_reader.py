"""Change notices between processes on SQLite (`change_notices`, read by `notify.NoticeReader`):
what another process announced is delivered, a process's own announcements are not delivered
twice, a notice written before the first read is not lost, and old notices are deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from models.notices import ChangeNotice
from pegasus import notify
from pegasus.db import dialect_of

LEVELS = notify.Change(notify.Topic.SETTINGS, 5, "levels")
BLACKLIST = notify.Change(notify.Topic.BLACKLIST, 6)


@pytest.fixture
def heard() -> Iterator[list[notify.Change]]:
    changes: list[notify.Change] = []

    async def collect(change: notify.Change) -> None:
        changes.append(change)

    unsubscribe = notify.subscribe(collect)
    try:
        yield changes
    finally:
        unsubscribe()


async def written_by(origin: str, change: notify.Change) -> ChangeNotice:
    return await ChangeNotice.create(origin=origin, payload=change.encode())


async def test_another_process_notices_are_delivered_and_this_process_own_are_not(
    db: str, heard: list[notify.Change]
) -> None:
    reader = notify.NoticeReader()
    await reader.read()
    await written_by("another", LEVELS)
    await written_by(notify.ORIGIN, BLACKLIST)  # heard here when it was announced
    await written_by("another", notify.Change(notify.Topic.BLACKLIST))
    await ChangeNotice.create(origin="another", payload="a-topic-of-a-later-version:1:")

    await reader.read()
    assert heard == [LEVELS, notify.Change(notify.Topic.BLACKLIST)]
    await reader.read()  # each notice once
    assert len(heard) == 2


async def test_a_notice_written_before_the_first_read_is_delivered_and_older_ones_are_not(
    db: str, heard: list[notify.Change]
) -> None:
    await written_by("another", BLACKLIST)
    await asyncio.sleep(0.01)
    reader = notify.NoticeReader()
    await written_by("another", LEVELS)  # the reader exists, it has not read yet

    await reader.read()
    assert heard == [LEVELS]


async def test_an_announcement_reaches_the_other_processes(
    db: str, heard: list[notify.Change]
) -> None:
    await notify.announce(LEVELS.topic, LEVELS.guild_id, LEVELS.feature)
    await notify.announce_guilds(notify.Topic.XP, [7, 8])
    assert heard == [LEVELS, notify.Change(notify.Topic.XP, 7), notify.Change(notify.Topic.XP, 8)]
    written = await ChangeNotice.all().order_by("id").values_list("origin", "payload")
    if dialect_of(db) == "sqlite":  # a row for the NoticeReaders of the other processes
        assert written == [
            (notify.ORIGIN, LEVELS.encode()),
            (notify.ORIGIN, "xp:7:"),
            (notify.ORIGIN, "xp:8:"),
        ]
    else:  # NOTIFY: nothing written
        assert written == []


async def test_notices_older_than_a_minute_are_deleted(db: str) -> None:
    old = await written_by("another", LEVELS)
    await ChangeNotice.filter(id=old.id).update(
        created_at=datetime.now(UTC) - timedelta(seconds=notify.KEEP_SECONDS + 5)
    )
    recent = await written_by("another", BLACKLIST)

    await notify.NoticeReader().read()
    assert await ChangeNotice.all().values_list("id", flat=True) == [recent.id]


def test_sqlite_files_get_a_notice_reader_and_memory_databases_nothing() -> None:
    on_a_file = notify.listener_for("sqlite://data/x.sqlite3")
    assert isinstance(on_a_file, notify.NoticeReader)
    assert notify.listener_for("sqlite://:memory:") is None
    listener = notify.listener_for("postgres://u@127.0.0.1:5432/x")
    assert isinstance(listener, notify.ChangeListener)
