"""The migration history: aerich's own CLI applies and reverts it on this run's dialect, every
file carries both dialects, and the drift check catches model changes no migration covers."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import pytest
from tortoise import Tortoise

from pegasus import migrations_tool
from pegasus.db import dialect_of
from tests.conftest import test_dialect

ROOT = Path(__file__).resolve().parent.parent

SEED_TABLES = {
    "guilds", "guild_settings", "users", "members", "mod_cases", "warnings",
    "warning_automations", "economy_balances", "economy_transactions", "economy_shop_items",
    "economy_user_items", "economy_cooldowns", "economy_gambling_stats", "user_xp", "xp_rewards",
    "xp_multipliers", "xp_settings", "ticket_panels", "tickets", "ticket_messages", "giveaways",
    "giveaway_entries", "security_logs", "blacklist", "audit_logs", "rate_limit_violations",
    "security_incidents", "api_keys",
}  # fmt: skip
BEYOND_SEED_TABLES = {"scheduled_actions", "voice_sessions"}
CHILD_TIMEOUT = 240  # seconds for one aerich or generator run


def run_aerich(url: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """aerich's CLI as an operator runs it: from the repository root with DATABASE_URL set."""
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "aerich", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"aerich {' '.join(args)} failed:\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


async def tables_of(url: str) -> set[str]:
    if dialect_of(url) == "sqlite":
        path = url.removeprefix("sqlite://")
        with contextlib.closing(sqlite3.connect(path)) as connection:
            rows = connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        return {name for (name,) in rows}
    connection = await asyncpg.connect(urlparse(url)._replace(scheme="postgresql").geturl())
    try:
        rows = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    finally:
        await connection.close()
    return {row["tablename"] for row in rows}


def pending_heads(url: str) -> list[str]:
    """The migrations aerich's CLI reports as not applied (`aerich heads`)."""
    result = run_aerich(url, "heads")
    return [line.strip() for line in result.stdout.splitlines() if line.strip().endswith(".py")]


async def schema_of(url: str) -> set[str]:
    """Tables, columns and index names: enough to tell two schemas apart."""
    if dialect_of(url) == "sqlite":
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite://"))) as connection:
            objects = connection.execute(
                "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchall()
            schema = {f"{kind}:{name}" for kind, name, _ in objects}
            for kind, name, _ in objects:
                if kind == "table":
                    columns = connection.execute(f'PRAGMA table_info("{name}")').fetchall()
                    schema |= {f"column:{name}.{column[1]}" for column in columns}
        return schema
    connection = await asyncpg.connect(urlparse(url)._replace(scheme="postgresql").geturl())
    try:
        columns = await connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
        indexes = await connection.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
    finally:
        await connection.close()
    schema = {f"table:{row['table_name']}" for row in columns}
    schema |= {f"column:{row['table_name']}.{row['column_name']}" for row in columns}
    return schema | {f"index:{row['indexname']}" for row in indexes}


# --------------------------------------------------------------------------- applying


async def test_aerich_upgrade_creates_every_table(empty_db_url: str) -> None:
    assert dialect_of(empty_db_url) == test_dialect()
    assert await tables_of(empty_db_url) == set()

    result = run_aerich(empty_db_url, "upgrade")

    files = migrations_tool.version_files()
    for path in files:
        assert f"Success upgrading to {path.name}" in result.stdout
    tables = await tables_of(empty_db_url)
    assert tables >= SEED_TABLES | BEYOND_SEED_TABLES | {"aerich"}
    assert pending_heads(empty_db_url) == []  # no pending heads


async def test_aerich_downgrade_steps_back_and_upgrade_runs_again(empty_db_url: str) -> None:
    run_aerich(empty_db_url, "upgrade")
    full = await schema_of(empty_db_url)
    files = migrations_tool.version_files()

    result = run_aerich(empty_db_url, "downgrade", "--yes")

    assert f"Success downgrading to {files[-1].name}" in result.stdout
    assert pending_heads(empty_db_url) == [files[-1].name]
    after = await schema_of(empty_db_url)
    assert after != full  # the newest migration's changes are gone
    if len(files) == 1:
        # The initial migration reverted: only aerich's own bookkeeping table stays.
        assert await tables_of(empty_db_url) == {"aerich"}
    run_aerich(empty_db_url, "upgrade")
    assert await schema_of(empty_db_url) == full


async def test_aerich_downgrade_to_the_start_removes_every_table(empty_db_url: str) -> None:
    run_aerich(empty_db_url, "upgrade")

    run_aerich(empty_db_url, "downgrade", "--version", "0", "--yes")

    assert await tables_of(empty_db_url) == {"aerich"}
    assert pending_heads(empty_db_url) == [p.name for p in migrations_tool.version_files()]


async def test_the_migration_returns_the_sql_of_the_connection_dialect(db: str) -> None:
    connection = Tortoise.get_connection("default")
    assert connection.capabilities.dialect == test_dialect()
    for path in migrations_tool.version_files():
        module = migrations_tool._load_module(path)
        upgrade, downgrade = migrations_tool.dialect_sql(path, test_dialect())
        assert await module.upgrade(connection) == upgrade
        assert await module.downgrade(connection) == downgrade
        other = next(d for d in migrations_tool.DIALECTS if d != test_dialect())
        assert upgrade != migrations_tool.dialect_sql(path, other)[0]


def test_every_migration_carries_both_dialects_and_the_models_state() -> None:
    files = migrations_tool.version_files()
    assert files, "no migrations: run python -m pegasus db makemigrations"
    assert [int(p.name.split("_", 1)[0]) for p in files] == list(range(len(files)))
    for path in files:
        module = migrations_tool._load_module(path)
        assert set(module.SQL) == set(migrations_tool.DIALECTS), path.name
        assert isinstance(module.MODELS_STATE, str) and module.MODELS_STATE, path.name
        for dialect in migrations_tool.DIALECTS:
            assert module.SQL[dialect]["upgrade"].strip(), f"{path.name}: no {dialect} upgrade"
            assert module.SQL[dialect]["downgrade"].strip(), f"{path.name}: no {dialect} downgrade"


# --------------------------------------------------------------------------- drift and generation


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The code that defines the schema, copied: models, pegasus, migrations, pyproject.toml."""
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for folder in ("models", "pegasus", "migrations"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def run_tool(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run(
        [sys.executable, "-m", "pegasus.migrations_tool", *args],
        cwd=copy, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False,
    )  # fmt: skip


def add_field_to_guilds(copy: Path) -> None:
    path = copy / "models" / "guilds.py"
    source = path.read_text()
    anchor = '    language = fields.CharField(max_length=16, default="en")\n'
    assert anchor in source
    path.write_text(
        source.replace(anchor, anchor + "    motto = fields.CharField(max_length=50, default='')\n")
    )


def test_the_drift_check_passes_on_the_tree() -> None:
    migrations_tool.check()


def test_the_drift_check_fails_when_a_field_has_no_migration(repo_copy: Path) -> None:
    assert run_tool(repo_copy, "check").returncode == 0
    add_field_to_guilds(repo_copy)

    result = run_tool(repo_copy, "check")

    assert result.returncode == 1
    assert "no migration covers" in result.stderr
    assert '"motto"' in result.stderr  # the missing SQL is shown


async def test_makemigrations_writes_a_migration_that_aerich_applies(
    repo_copy: Path, empty_db_url: str
) -> None:
    add_field_to_guilds(repo_copy)
    before = migrations_tool.version_files(repo_copy)

    made = run_tool(repo_copy, "makemigrations", "--name", "add_motto")

    assert made.returncode == 0, made.stderr
    after = migrations_tool.version_files(repo_copy)
    assert len(after) == len(before) + 1
    new = after[-1]
    assert new.name.startswith(f"{len(before)}_") and new.name.endswith("_add_motto.py")
    for dialect in migrations_tool.DIALECTS:
        upgrade, downgrade = migrations_tool.dialect_sql(new, dialect)
        assert '"motto"' in upgrade and '"motto"' in downgrade
    assert run_tool(repo_copy, "check").returncode == 0
    again = run_tool(repo_copy, "makemigrations", "--name", "again")
    assert "No changes" in again.stdout
    assert migrations_tool.version_files(repo_copy) == after

    run_aerich(empty_db_url, "upgrade", cwd=repo_copy)
    assert "motto" in await column_names(empty_db_url, "guilds")
    run_aerich(empty_db_url, "downgrade", "--yes", cwd=repo_copy)
    assert "motto" not in await column_names(empty_db_url, "guilds")


async def column_names(url: str, table: str) -> set[str]:
    if dialect_of(url) == "sqlite":
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite://"))) as connection:
            return {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
    connection = await asyncpg.connect(urlparse(url)._replace(scheme="postgresql").geturl())
    try:
        rows = await connection.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1", table
        )
    finally:
        await connection.close()
    return {row["column_name"] for row in rows}


def test_reset_squashes_the_history_into_one_initial_migration(repo_copy: Path) -> None:
    add_field_to_guilds(repo_copy)
    assert run_tool(repo_copy, "makemigrations", "--name", "add_motto").returncode == 0
    assert len(migrations_tool.version_files(repo_copy)) >= 2

    reset = run_tool(repo_copy, "makemigrations", "--reset")

    assert reset.returncode == 0, reset.stderr
    files = migrations_tool.version_files(repo_copy)
    assert len(files) == 1 and files[0].name.startswith("0_") and files[0].name.endswith("_init.py")
    assert '"motto"' in migrations_tool.dialect_sql(files[0], "sqlite")[0]
    assert run_tool(repo_copy, "check").returncode == 0
    # Repeating it with unchanged models leaves the file alone.
    assert "No changes" in run_tool(repo_copy, "makemigrations", "--reset").stdout
    assert migrations_tool.version_files(repo_copy) == files


def test_the_first_migration_is_generated_when_there_is_none(repo_copy: Path) -> None:
    shutil.rmtree(repo_copy / "migrations")

    assert run_tool(repo_copy, "check").returncode == 1
    made = run_tool(repo_copy, "makemigrations")

    assert made.returncode == 0, made.stderr
    files = migrations_tool.version_files(repo_copy)
    assert len(files) == 1 and files[0].name.endswith("_init.py")
    tree = migrations_tool.version_files()
    if len(tree) == 1:  # before the first release the tree's history is one squashed init
        for dialect in migrations_tool.DIALECTS:
            generated = migrations_tool.dialect_sql(files[0], dialect)
            assert generated[0].strip() == migrations_tool.dialect_sql(tree[0], dialect)[0].strip()
    assert run_tool(repo_copy, "check").returncode == 0


def test_a_bad_migration_name_is_refused(repo_copy: Path) -> None:
    result = run_tool(repo_copy, "makemigrations", "--name", "Add Motto!")
    assert result.returncode == 1
    assert "lower-case letters" in result.stderr
