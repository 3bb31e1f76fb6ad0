"""Operator commands, run as an operator runs them: `python -m pegasus db ...`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pegasus.cli import confirm_drop, database_name
from pegasus.db import dialect_of, migration_files

ROOT = Path(__file__).resolve().parent.parent


def pegasus(*args: str, url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "pegasus", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def table_exists(url: str, table: str) -> bool:
    import asyncpg

    if dialect_of(url) == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite://")) as connection:
            row = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
            ).fetchone()
        return row is not None
    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        return bool(await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", table))
    finally:
        await connection.close()


def test_history_lists_every_migration_as_applied(db_url: str) -> None:
    result = pegasus("db", "history", url=db_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines == [f"applied  {name}" for name in migration_files()]


async def test_downgrade_then_upgrade(db_url: str) -> None:
    down = pegasus("db", "downgrade", "--version", "0", url=db_url)
    assert down.returncode == 0, down.stderr + down.stdout
    assert not await table_exists(db_url, "economy_balances")
    history = pegasus("db", "history", url=db_url)
    assert "pending" in history.stdout
    up = pegasus("db", "upgrade", url=db_url)
    assert up.returncode == 0, up.stderr
    assert "Applied" in up.stdout
    assert await table_exists(db_url, "economy_balances")
    again = pegasus("db", "upgrade", url=db_url)
    assert "Already up to date" in again.stdout


def test_backup_writes_a_usable_copy(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / ("backup.sqlite3" if dialect_of(db_url) == "sqlite" else "backup.dump")
    result = pegasus("db", "backup", "--output", str(target), url=db_url)
    assert result.returncode == 0, result.stderr
    assert target.stat().st_size > 0
    if dialect_of(db_url) == "sqlite":
        with sqlite3.connect(target) as connection:
            tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        assert {"guilds", "economy_transactions", "scheduled_actions"} <= tables
    else:
        assert target.read_bytes().startswith(b"PGDMP")


async def test_drop_asks_for_the_name_and_keeps_the_database_otherwise(db_url: str) -> None:
    refused = pegasus("db", "drop", url=db_url, stdin="not-the-name\n")
    assert refused.returncode == 1
    assert "nothing was deleted" in refused.stdout
    assert await table_exists(db_url, "guilds")

    confirmed = pegasus("db", "drop", url=db_url, stdin=f"{database_name(db_url)}\n")
    assert confirmed.returncode == 0, confirmed.stderr
    if dialect_of(db_url) == "sqlite":
        assert not Path(db_url.removeprefix("sqlite://")).exists()
    else:
        with pytest.raises(Exception, match="does not exist"):
            await table_exists(db_url, "guilds")


def test_confirm_drop_with_yes_does_not_ask() -> None:
    def never(_prompt: str) -> str:
        raise AssertionError("asked")

    assert confirm_drop("sqlite://data/x.sqlite3", assume_yes=True, prompt=never)
    assert not confirm_drop("sqlite://data/x.sqlite3", assume_yes=False, prompt=lambda _: "y")


def test_bad_database_url_is_one_clear_line() -> None:
    result = pegasus("db", "upgrade", url="mysql://nowhere/db")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "DATABASE_URL" in result.stderr


UNREACHABLE_POSTGRES = "postgres://postgres@127.0.0.1:1/pegasus"


@pytest.mark.parametrize("command", [("upgrade",), ("downgrade",), ("history",), ("drop", "--yes")])
def test_an_unreachable_database_is_one_clear_line(command: tuple[str, ...]) -> None:
    result = pegasus("db", *command, url=UNREACHABLE_POSTGRES)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: DATABASE_URL: cannot use the database")


def test_downgrade_with_nothing_applied_says_so(empty_db_url: str) -> None:
    result = pegasus("db", "downgrade", url=empty_db_url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: Nothing to downgrade"), result.stderr


async def test_downgrade_without_a_version_reverts_only_the_newest(db_url: str) -> None:
    newest = migration_files()[-1]
    down = pegasus("db", "downgrade", url=db_url)
    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines() == ["Reverted 1 migration(s).", f"  {newest}"]
    history = pegasus("db", "history", url=db_url).stdout.strip().splitlines()
    assert history[-1] == f"pending  {newest}"
    assert all(line.startswith("applied") for line in history[:-1])
    assert await table_exists(db_url, "guilds")  # older migrations stay applied


async def test_drop_with_yes_does_not_ask(db_url: str) -> None:
    result = pegasus("db", "drop", "--yes", url=db_url)  # no stdin to answer a question
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"Dropped {database_name(db_url)}.")
    if dialect_of(db_url) == "sqlite":
        assert not Path(db_url.removeprefix("sqlite://")).exists()
    else:
        with pytest.raises(Exception, match="does not exist"):
            await table_exists(db_url, "guilds")


def test_postgres_backup_without_pg_dump_says_how_to_install_it(tmp_path: Path) -> None:
    target = tmp_path / "backup.dump"
    env = {**os.environ, "DATABASE_URL": UNREACHABLE_POSTGRES, "PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pegasus", "db", "backup", "--output", str(target)],
        cwd=ROOT, env=env, input="", capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: pg_dump is not installed: install the PostgreSQL client tools "
        "(Debian/Ubuntu: apt-get install postgresql-client) and run this again."
    )
    assert not target.exists()


def test_a_failed_pg_dump_leaves_no_file_that_looks_like_a_backup(tmp_path: Path) -> None:
    # A pg_dump that starts the file and then fails, as one losing its connection does.
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\nfor a; do case $a in --file=*) printf PGDMP > "${a#--file=}";; esac; done\n'
        "echo 'pg_dump: error: connection lost' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    target = tmp_path / "backup.dump"
    env = {**os.environ, "DATABASE_URL": UNREACHABLE_POSTGRES, "PATH": f"{fake.parent}:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "pegasus", "db", "backup", "--output", str(target)],
        cwd=ROOT, env=env, input="", capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "Error: pg_dump failed: pg_dump: error: connection lost"
    assert not target.exists()
