"""Database configuration and lifecycle.

`TORTOISE_ORM` is what aerich reads (`[tool.aerich]` in pyproject.toml). It depends only on
`DATABASE_URL` (and `DATABASE_SSL`), so it can be imported without a Discord token.

Migrations live in one aerich history under `migrations/models/`; every migration file carries
the SQL of both dialects and picks the one of the connection it runs on (see README, "Migrations").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

from tortoise import Tortoise

from models import MODEL_MODULES
from pegasus.config import DEFAULT_DATABASE_URL, SQLITE_PREFIX

# The folder that holds the `pegasus` package: the checkout, or site-packages for an installed
# copy, where the migrations are installed beside it. Never the current directory.
ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_LOCATION = str(ROOT / "migrations")
APP = "models"

# Every wait on PostgreSQL is bounded, so a database that hangs fails queries instead of piling
# them up: connecting, waiting for a free pool connection, and each statement. (Interactions
# are answered within Discord's 3 s by pegasus.ui.deadline, whatever these bounds.)
PG_POOL = {
    "minsize": 1,
    "maxsize": 10,  # at most 10 connections
    "max_inactive_connection_lifetime": 20.0,  # idle connections closed after 20 s
    "timeout": 10,  # connect timeout, seconds
    "acquire_timeout": 10,  # seconds waiting for a free connection (pegasus.pgpool)
    "command_timeout": 30,  # seconds per statement
}
# Tortoise's asyncpg engine, with the bounded acquire.
PG_ENGINE = "pegasus.pgpool"
# Tortoise's SQLite engine, its statements waited for in SQLite's thread.
SQLITE_ENGINE = "pegasus.sqlitehandoff"


def dialect_of(url: str) -> str:
    return "sqlite" if url.startswith(SQLITE_PREFIX) else "postgres"


def _sqlite_connection(url: str) -> dict[str, Any]:
    path, _, query = url[len(SQLITE_PREFIX):].partition("?")
    credentials: dict[str, Any] = {
        "file_path": path,
        "journal_mode": "WAL",
        # NORMAL is durable in WAL mode for everything but an OS crash, and 2-3x faster per commit.
        "synchronous": "NORMAL",
        "foreign_keys": "ON",
        "busy_timeout": 10000,
    }
    credentials.update(dict(parse_qsl(query)))
    return {"engine": SQLITE_ENGINE, "credentials": credentials}


def _postgres_connection(url: str, ssl: str | None) -> dict[str, Any]:
    parsed = urlparse(url)
    credentials: dict[str, Any] = {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": unquote(parsed.username or "postgres"),
        "password": unquote(parsed.password or ""),
        "database": parsed.path.lstrip("/"),
        "application_name": "pegasus",
        **PG_POOL,
    }
    # Query options override the pool defaults; ssl is never taken from the URL (it would be
    # cast to bool, i.e. verify-full), only from DATABASE_SSL.
    for key, value in parse_qsl(parsed.query):
        if key not in ("ssl", "sslmode"):
            credentials[key] = _coerce(value)
    if ssl:
        credentials["ssl"] = ssl
    return {"engine": PG_ENGINE, "credentials": credentials}


def _coerce(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def tortoise_config(url: str | None = None, ssl: str | None = None) -> dict[str, Any]:
    """The Tortoise config dict for `url` (default: $DATABASE_URL or the SQLite file)."""
    url = url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if ssl is None:
        ssl = os.environ.get("DATABASE_SSL") or None
    if dialect_of(url) == "sqlite":
        connection = _sqlite_connection(url)
    else:
        connection = _postgres_connection(url, ssl)
    return {
        "connections": {"default": connection},
        "apps": {
            APP: {"models": [*MODEL_MODULES, "aerich.models"], "default_connection": "default"}
        },
        "use_tz": True,
        "timezone": "UTC",
    }


TORTOISE_ORM = tortoise_config()


async def apply_migrations(url: str, ssl: str | None = None) -> list[str]:
    """Bring the database at `url` to the newest schema; returns the migrations applied.

    aerich's Command closes Tortoise's connections when it exits, so call this before `init_db`.
    """
    from aerich import Command

    config = tortoise_config(url, ssl)
    if dialect_of(url) == "postgres":
        # Building an index on a big table may honestly take longer than a command's statement.
        config["connections"]["default"]["credentials"]["command_timeout"] = None
    async with Command(tortoise_config=config, app=APP, location=MIGRATIONS_LOCATION) as command:
        return await command.upgrade(run_in_transaction=True)


async def init_db(url: str, ssl: str | None = None) -> None:
    """Open the connections, from the task that will use them (Tortoise state is per task)."""
    await Tortoise.init(config=tortoise_config(url, ssl))


async def close_db() -> None:
    await Tortoise.close_connections()


def migration_files() -> list[str]:
    """Names of the migration files shipped with this version, oldest first."""
    folder = Path(MIGRATIONS_LOCATION) / APP
    files = [p.name for p in folder.glob("*.py") if p.name[0].isdigit()]
    return sorted(files, key=lambda name: int(name.split("_", 1)[0]))


async def pending_migrations() -> list[str]:
    """Migration files not yet applied to the open database (all of them on an empty one)."""
    from aerich.models import Aerich
    from tortoise.exceptions import OperationalError

    try:
        applied = set(await Aerich.filter(app=APP).values_list("version", flat=True))
    except OperationalError:
        applied = set()
    return [name for name in migration_files() if name not in applied]
