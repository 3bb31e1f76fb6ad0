"""Operator commands.

`python -m pegasus db upgrade|downgrade|history|check|makemigrations|backup|drop`,
`python -m pegasus apikey create|list|revoke`,
`python -m pegasus data export-user|delete-user|purge-guild` and `python -m pegasus sandbox`.

Each command reads DATABASE_URL (and DATABASE_SSL) like the bot does, so it acts on the same
database the bot would use.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from dotenv import load_dotenv

from pegasus import cli_data, cli_guilds, cli_i18n
from pegasus.config import DEFAULT_DATABASE_URL, SQLITE_PREFIX, parse_database_url
from pegasus.db import APP, MIGRATIONS_LOCATION, dialect_of, tortoise_config
from pegasus.errors import PegasusError

Prompt = Callable[[str], str]
T = TypeVar("T")


class CommandFailed(PegasusError):
    """An operator command could not do its job; the message says why and what to do."""


def database_url() -> str:
    return parse_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)


def _aerich_command(url: str):  # type: ignore[no-untyped-def]
    from aerich import Command

    return Command(tortoise_config=tortoise_config(url), app=APP, location=MIGRATIONS_LOCATION)


async def upgrade(url: str) -> list[str]:
    async with _aerich_command(url) as command:
        return await command.upgrade(run_in_transaction=True)


async def downgrade(url: str, version: int, delete: bool) -> list[str]:
    from aerich.exceptions import DowngradeError

    async with _aerich_command(url) as command:
        try:
            return await command.downgrade(version=version, delete=delete)
        except DowngradeError:
            raise CommandFailed(
                "Nothing to downgrade: no applied migration matches "
                f"{'the newest one' if version == -1 else f'version {version}'}. "
                "See `python -m pegasus db history` for what is applied."
            ) from None


async def history(url: str) -> list[tuple[str, bool]]:
    """Every migration file with whether it is applied to the database."""
    from pegasus.db import close_db, init_db, migration_files, pending_migrations

    await init_db(url)
    try:
        pending = set(await pending_migrations())
    finally:
        await close_db()
    return [(name, name not in pending) for name in migration_files()]


def sqlite_path(url: str) -> Path:
    return Path(url[len(SQLITE_PREFIX) :].split("?", 1)[0])


def backup(url: str, output: Path | None, *, now: datetime | None = None) -> Path:
    """Copy the database to a file: SQLite's online backup API, or pg_dump for PostgreSQL."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    if dialect_of(url) == "sqlite":
        source = sqlite_path(url)
        if not source.exists():
            raise CommandFailed(f"There is no database at {source} to back up.")
        target = output or Path("backups") / f"pegasus-{stamp}.sqlite3"
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)  # consistent even while the bot is writing
        return target
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise CommandFailed(
            "pg_dump is not installed: install the PostgreSQL client tools "
            "(Debian/Ubuntu: apt-get install postgresql-client) and run this again."
        )
    target = output or Path("backups") / f"pegasus-{stamp}.dump"
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [pg_dump, "--format=custom", f"--file={target}", _libpq_url(url)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        target.unlink(missing_ok=True)  # an empty or partial dump must not pass for a backup
        raise CommandFailed(f"pg_dump failed: {result.stderr.strip()}")
    return target


def _libpq_url(url: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(scheme="postgresql").geturl()


def database_name(url: str) -> str:
    if dialect_of(url) == "sqlite":
        return sqlite_path(url).name
    return urlparse(url).path.lstrip("/")


def drop_sqlite(url: str) -> None:
    path = sqlite_path(url)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def drop_postgres(url: str) -> None:
    import asyncpg

    parsed = urlparse(url)
    name = database_name(url)
    maintenance = parsed._replace(scheme="postgresql", path="/postgres").geturl()
    connection = await asyncpg.connect(maintenance)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def confirm_drop(url: str, *, assume_yes: bool, prompt: Prompt = input) -> bool:
    if assume_yes:
        return True
    name = database_name(url)
    print(f"This deletes the database {name!r} and everything in it. It cannot be undone.")
    return prompt(f"Type the database name ({name}) to confirm: ").strip() == name


def _owner_id(given: int | None) -> int:
    """The operator's Discord id: --owner, or the first of OWNER_IDS."""
    if given is not None:
        return given
    first = (os.environ.get("OWNER_IDS") or "").split(",")[0].strip()
    if not first.isdigit():
        raise CommandFailed(
            "Say whose key it is with --owner <Discord user id> (or set OWNER_IDS)."
        )
    return int(first)


async def _with_database(url: str, work: Callable[[], Awaitable[T]]) -> T:
    from pegasus.db import close_db, init_db

    await init_db(url)
    try:
        return await work()
    finally:
        await close_db()


def run_apikey_command(args: argparse.Namespace) -> int:
    """Operators create, list and revoke API keys, bot-wide or of one guild."""
    from pegasus.services import security
    from pegasus.services.durations import parse_duration

    url = database_url()
    now = datetime.now(UTC)
    if args.command == "create":
        scopes = security.parse_scopes(args.scopes)
        expires = parse_duration(args.expires) if args.expires else None
        created = asyncio.run(
            _with_database(
                url,
                lambda: security.create_api_key(
                    owner_id=_owner_id(args.owner),
                    name=args.name,
                    scopes=scopes,
                    guild_id=args.guild,
                    now=now,
                    is_bot_owner=True,
                    is_guild_admin=True,
                    expires_in_seconds=expires,
                    rate_limit=args.rate_limit,
                ),
            )
        )
        print(f"Created API key {created.key.key_prefix} ({created.key.id}): {created.key.name}")
        print(f"  {'guild ' + str(created.key.guild_id) if created.key.guild_id else 'bot-wide'}")
        print(f"  scopes: {' '.join(created.key.scopes)}")
        expiry = created.key.expires_at
        print(f"  expires: {expiry.strftime('%Y-%m-%d %H:%M UTC') if expiry else 'never'}")
        print("The key, shown this once (only its hash is stored; keep it secret):")
        print(created.secret)
    elif args.command == "list":
        keys = asyncio.run(
            _with_database(
                url,
                lambda: security.list_api_keys(
                    viewer_id=args.owner or 0,
                    guild_id=args.guild,
                    is_bot_owner=True,
                    is_guild_admin=True,
                ),
            )
        )
        if not keys:
            print("No API keys.")
        for key in keys:
            state = "active" if key.active else "revoked"
            if key.active and key.expires_at is not None and key.expires_at <= now:
                state = "expired"
            scope = f"guild {key.guild_id}" if key.guild_id else "bot-wide"
            print(
                f"{key.key_prefix}  {key.id}  {state:7}  {scope:24}  owner {key.owner_id}  "
                f"{key.name!r}  {' '.join(key.scopes)}"
            )
    elif args.command == "revoke":
        revoked = asyncio.run(
            _with_database(
                url,
                lambda: security.revoke_api_key(
                    args.key,
                    actor_id=_owner_id(args.owner),
                    guild_id=None,
                    is_bot_owner=True,
                    is_guild_admin=False,
                ),
            )
        )
        print(f"Revoked API key {revoked.key_prefix} ({revoked.id}).")
    return 0


def run_data_command(args: argparse.Namespace, *, prompt: Prompt = input) -> int:
    """A member's data for operators (pegasus.cli_data): export or erase it."""
    url = database_url()
    if args.command == "export-user":
        summary = asyncio.run(
            _with_database(url, lambda: cli_data.export_user(args.user, args.guild, args.output))
        )
        print(summary)
        return 0
    if args.command == "delete-user":
        done, summary = asyncio.run(
            _with_database(
                url,
                lambda: cli_data.delete_user(
                    args.user, args.guild, assume_yes=args.yes, prompt=prompt
                ),
            )
        )
        print(summary)
        return 0 if done else 1
    if args.command == "purge-guild":
        return asyncio.run(_with_database(url, lambda: cli_guilds.purge_guild(args, prompt=prompt)))
    raise CommandFailed(f"There is no `data {args.command}` command.")


def _add_apikey_parser(sub: Any) -> None:
    keys = sub.add_parser("apikey", help="Create, list and revoke REST API keys (operators).")
    key_sub = keys.add_subparsers(dest="command", required=True)
    create = key_sub.add_parser("create", help="Create a key; its secret is shown once.")
    create.add_argument("--name", required=True, help="What the key is for.")
    create.add_argument(
        "--scopes", required=True, help="e.g. 'levels:read economy:write', 'read' or 'all'."
    )
    create.add_argument("--guild", type=int, help="The guild's id (default: a bot-wide key).")
    create.add_argument("--expires", help="Lifetime, e.g. 30d or 12h (default: never).")
    create.add_argument("--rate-limit", type=int, default=60, help="Requests a minute.")
    create.add_argument("--owner", type=int, help="Whose key (default: first of OWNER_IDS).")
    listing = key_sub.add_parser(
        "list", help="List bot-wide keys, and those of --guild and --owner."
    )
    listing.add_argument("--guild", type=int, help="Also this guild's keys.")
    listing.add_argument("--owner", type=int, help="Also this person's keys.")
    revoke = key_sub.add_parser("revoke", help="Revoke a key by its id or shown prefix.")
    revoke.add_argument("key", help="The key's id or its prefix (pgs_...).")
    revoke.add_argument("--owner", type=int, help="Who revokes it (default: first of OWNER_IDS).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pegasus", description=__doc__)
    sub = parser.add_subparsers(dest="group", required=True)
    sandbox = sub.add_parser(
        "sandbox", help="Run the bot and its dashboard against a local Discord with a demo."
    )
    sandbox.add_argument(
        "--keep", action="store_true", help="Keep everything running after the demo, until Ctrl-C."
    )
    sub.add_parser("web", help="Serve the REST API without a gateway (reads .env like the bot).")
    _add_apikey_parser(sub)
    cli_guilds.add_purge_guild_parser(cli_data.add_data_parser(sub))
    cli_i18n.add_i18n_parser(sub)
    db = sub.add_parser("db", help="Database operations (reads DATABASE_URL).")
    db_sub = db.add_subparsers(dest="command", required=True)
    db_sub.add_parser("upgrade", help="Apply every migration not yet applied.")
    down = db_sub.add_parser("downgrade", help="Revert migrations (by default the newest one).")
    down.add_argument("--version", type=int, default=-1, help="Revert down to this version.")
    down.add_argument("--delete", action="store_true", help="Also delete the reverted files.")
    db_sub.add_parser("history", help="List the migrations and whether each is applied.")
    db_sub.add_parser("check", help="Fail when models have changes no migration covers.")
    make = db_sub.add_parser("makemigrations", help="Write a migration for model changes.")
    make.add_argument("--name", default="update", help="A short name for the migration.")
    make.add_argument(
        "--reset", action="store_true", help="Rewrite the history as one initial migration."
    )
    bk = db_sub.add_parser("backup", help="Back up the database to a file.")
    bk.add_argument("--output", type=Path, help="Where to write the backup.")
    dr = db_sub.add_parser("drop", help="Delete the database (asks you to type its name).")
    dr.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
    return parser


def run_db_command(args: argparse.Namespace) -> int:
    if args.command in ("check", "makemigrations"):
        from pegasus import migrations_tool

        if args.command == "check":
            return migrations_tool.main(["check"])
        return migrations_tool.main(
            ["makemigrations", "--name", args.name, *(["--reset"] if args.reset else [])]
        )
    url = database_url()
    if args.command == "upgrade":
        applied = asyncio.run(upgrade(url))
        print(f"Applied {len(applied)} migration(s)." if applied else "Already up to date.")
        for name in applied:
            print(f"  {name}")
    elif args.command == "downgrade":
        reverted = asyncio.run(downgrade(url, args.version, args.delete))
        print(f"Reverted {len(reverted)} migration(s).")
        for name in reverted:
            print(f"  {name}")
    elif args.command == "history":
        for name, applied in asyncio.run(history(url)):
            print(f"{'applied' if applied else 'pending'}  {name}")
    elif args.command == "backup":
        print(f"Backup written to {backup(url, args.output)}")
    elif args.command == "drop":
        if not confirm_drop(url, assume_yes=args.yes):
            print("Not confirmed: nothing was deleted.")
            return 1
        if dialect_of(url) == "sqlite":
            drop_sqlite(url)
        else:
            asyncio.run(drop_postgres(url))
        print(f"Dropped {database_name(url)}.")
    return 0


def describe_database_failure(error: Exception) -> str | None:
    """One line for a database that cannot be reached or opened, or None for anything else."""
    module = type(error).__module__
    if isinstance(error, OSError | TimeoutError) or module.startswith(
        ("tortoise", "asyncpg", "sqlite3", "aiosqlite")
    ):
        return (
            f"DATABASE_URL: cannot use the database ({type(error).__name__}: {error}). "
            "Check the URL and that the database server is running."
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    load_dotenv(override=False)
    args = build_parser().parse_args(argv)
    try:
        if args.group == "web":
            from pegasus.web import standalone

            return standalone.main()
        if args.group == "sandbox":
            from pegasus import sandbox

            return sandbox.main(keep=args.keep)
        if args.group == "apikey":
            return run_apikey_command(args)
        if args.group == "data":
            return run_data_command(args)
        if args.group == "i18n":
            return cli_i18n.run_i18n_command(args)
        return run_db_command(args)
    except PegasusError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        message = describe_database_failure(error)
        if message is None:
            raise
        print(f"Error: {message}", file=sys.stderr)
        return 2
