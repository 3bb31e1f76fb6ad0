"""Database configuration: pool limits, SSL from DATABASE_SSL only, SQLite pragmas live."""

from __future__ import annotations

import os

import pytest
from tortoise import connections

from pegasus.db import dialect_of, tortoise_config


def test_postgres_pool_settings() -> None:
    config = tortoise_config("postgres://bot:s%40cret@db.example:6543/pegasus", ssl="require")
    connection = config["connections"]["default"]
    assert connection["engine"] == "pegasus.pgpool"  # asyncpg, with a bounded acquire
    credentials = connection["credentials"]
    assert credentials["maxsize"] == 10
    assert credentials["max_inactive_connection_lifetime"] == 20.0
    assert credentials["timeout"] == 10
    assert credentials["acquire_timeout"] == 10
    assert credentials["command_timeout"] == 30
    assert credentials["ssl"] == "require"
    assert (credentials["host"], credentials["port"]) == ("db.example", 6543)
    assert (credentials["user"], credentials["password"]) == ("bot", "s@cret")
    assert credentials["database"] == "pegasus"


def test_ssl_is_never_taken_from_the_url() -> None:
    config = tortoise_config("postgres://u@h/db?ssl=false&maxsize=4", ssl=None)
    credentials = config["connections"]["default"]["credentials"]
    assert "ssl" not in credentials
    assert credentials["maxsize"] == 4


def test_sqlite_settings() -> None:
    config = tortoise_config("sqlite://data/x.sqlite3")
    credentials = config["connections"]["default"]["credentials"]
    assert credentials["file_path"] == "data/x.sqlite3"
    assert credentials["journal_mode"] == "WAL"
    assert credentials["foreign_keys"] == "ON"


async def test_live_connection_settings(db: None, db_url: str) -> None:
    client = connections.get("default")
    if dialect_of(db_url) == "sqlite":
        _, journal = await client.execute_query("PRAGMA journal_mode")
        _, foreign = await client.execute_query("PRAGMA foreign_keys")
        assert str(next(iter(dict(journal[0]).values()))).lower() == "wal"
        assert next(iter(dict(foreign[0]).values())) == 1
    else:
        assert os.environ.get("PEGASUS_TEST_DB") == "postgres"
        await client.execute_query("SELECT 1")
        pool = client._pool
        assert pool.get_max_size() == 10
        assert pool._max_inactive_connection_lifetime == 20.0


@pytest.mark.postgres_only
async def test_a_pooled_connection_goes_back_without_a_reset_query(db: None) -> None:
    """asyncpg would send `... RESET ALL` on every release: a second round trip for each
    statement Tortoise runs outside a transaction. Pegasus leaves no session state to reset."""
    client = connections.get("default")
    await client.execute_query("SELECT 0")  # the pool is made on the first statement
    async with client._pool.acquire() as connection:
        sent: list[str] = []
        connection.add_query_logger(lambda record: sent.append(record.query))
        await connection.execute("SELECT 1")
    async with client._pool.acquire() as again:
        await again.execute("SELECT 2")
        assert not again.is_in_transaction()
    # The logger is the connection's: it saw the second statement, so the pool gave the same
    # connection back, and nothing in between.
    assert sent == ["SELECT 1", "SELECT 2"]
