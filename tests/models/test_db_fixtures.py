"""The shared database fixtures do what tests rely on."""

from __future__ import annotations

import asyncio

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from models.guilds import Guild
from pegasus.db import close_db, dialect_of, init_db, pending_migrations
from tests.conftest import test_dialect


async def test_db_is_migrated_and_of_the_chosen_dialect(db: str) -> None:
    assert dialect_of(db) == test_dialect()
    assert await pending_migrations() == []
    assert await Guild.all().count() == 0


async def test_the_context_reaches_tasks_the_test_creates(db: str) -> None:
    async def create_in_a_task(guild_id: int) -> int:
        await Guild.create(id=guild_id)
        return await Guild.filter(id=guild_id).count()

    counts = await asyncio.gather(*(asyncio.create_task(create_in_a_task(i)) for i in (1, 2, 3)))
    assert counts == [1, 1, 1]
    async with in_transaction() as connection:
        assert await Guild.all().using_db(connection).count() == 3


async def test_each_test_gets_its_own_database_part_one(db: str) -> None:
    await Guild.create(id=42)
    assert await Guild.all().count() == 1


async def test_each_test_gets_its_own_database_part_two(db: str) -> None:
    # Whichever of the two runs second would see the other's row if databases were shared.
    await Guild.create(id=42)
    assert await Guild.all().count() == 1


async def test_db_url_is_a_fresh_database_that_is_not_opened(db_url: str) -> None:
    assert not Tortoise._inited  # opening it is the test's business
    await init_db(db_url)
    try:
        assert await pending_migrations() == []
        assert await Guild.all().count() == 0
    finally:
        await close_db()
