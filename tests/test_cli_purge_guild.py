"""`python -m pegasus data purge-guild`, run as an operator runs it."""

from __future__ import annotations

import pytest

from models.guilds import Guild
from tests.models.instances import InstanceBuilder
from tests.services.guild_rows import fill_guild, rows_per_table
from tests.test_cli import pegasus

GUILD = 900_000_000_000_000_171
OTHER = 900_000_000_000_000_172


@pytest.fixture
async def two_guilds(db: str) -> str:
    builder = InstanceBuilder()
    await fill_guild(builder, GUILD)
    await fill_guild(builder, OTHER)
    return db


async def test_purge_guild_asks_for_the_id_then_deletes_only_that_guild(two_guilds: str) -> None:
    stored = await rows_per_table(GUILD)
    other = await rows_per_table(OTHER)

    refused = pegasus("data", "purge-guild", str(GUILD), url=two_guilds, stdin="yes\n")

    assert refused.returncode == 1
    assert f"This deletes everything Pegasus stores for server {GUILD}" in refused.stdout
    assert "still in this server" in refused.stdout  # it never left
    assert "Not confirmed: nothing was deleted." in refused.stdout
    assert await rows_per_table(GUILD) == stored

    done = pegasus("data", "purge-guild", str(GUILD), url=two_guilds, stdin=f"{GUILD}\n")

    assert done.returncode == 0, done.stderr
    rows = 1 + sum(stored.values())
    tables = 1 + sum(1 for n in stored.values() if n)
    assert done.stdout.strip().endswith(
        f"to confirm: Deleted server {GUILD}'s data: {rows:,} rows from {tables} tables."
    )
    assert not await Guild.filter(id=GUILD).exists()
    assert set((await rows_per_table(GUILD)).values()) == {0}
    assert await rows_per_table(OTHER) == other


async def test_purge_guild_with_yes_and_again(two_guilds: str) -> None:
    done = pegasus("data", "purge-guild", str(GUILD), "--yes", url=two_guilds)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Deleted server {GUILD}'s data:")

    again = pegasus("data", "purge-guild", str(GUILD), "--yes", url=two_guilds)
    assert again.returncode == 0
    assert again.stdout.strip() == f"Nothing is stored for server {GUILD}: nothing was deleted."
