"""One aerich migration history for both SQLite and PostgreSQL.

aerich writes raw SQL for the dialect of the configured connection. So each migration is generated
twice, offline (no database needed), once per dialect, into throw-away copies of the migrations
folder; the two results are merged into ONE file in `migrations/models/` that carries both SQL texts
and returns the one matching `db.capabilities.dialect` from `upgrade(db)` / `downgrade(db)`.
aerich's own `upgrade`/`downgrade` call those functions, so `aerich upgrade` picks the right SQL.
The file keeps aerich's MODELS_STATE, so the next offline diff starts from it.

Each generation runs in a child process: Tortoise cannot be re-initialised with another dialect in
one process, and aerich's `Migrate` keeps its state in class attributes.

    python -m pegasus.migrations_tool makemigrations [--name NAME] [--reset]
    python -m pegasus.migrations_tool check
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
APP = "models"
DIALECTS = ("sqlite", "postgres")
# Offline generation never connects: these only choose the SQL dialect.
DUMMY_URLS = {
    "sqlite": "sqlite://:memory:",
    "postgres": "postgres://offline:offline@127.0.0.1:9/offline",
}
VERSION_FILE = re.compile(r"^(\d+)_(\d{14})_(\w+)\.py$")
NAME = re.compile(r"^[a-z0-9_]{1,40}$")
GENERATOR_TIMEOUT = 300  # seconds; generation takes about two


class MigrationToolError(Exception):
    """Generation failed or the inputs are invalid; the message says what to do."""


class DriftError(MigrationToolError):
    """The models have changes that no migration covers."""


@dataclass(frozen=True)
class Generated:
    """What aerich produced for one dialect."""

    filename: str
    upgrade: str
    downgrade: str
    models_state: str  # aerich's compressed MODELS_STATE literal


# --------------------------------------------------------------------------- public API


def migrations_dir(root: Path = ROOT) -> Path:
    return root / "migrations" / APP


def version_files(root: Path = ROOT) -> list[Path]:
    """The migration files of the app, oldest first."""
    return version_files_in(migrations_dir(root))


def makemigrations(
    name: str = "update", *, reset: bool = False, root: Path = ROOT
) -> Path | None:
    """Write the next migration (both dialects in one file); None when nothing changed.

    With no migration yet, or with `reset=True` (allowed before the first release), the whole
    history becomes a single `0_<timestamp>_init.py` built from the models in the tree. A reset
    that would produce the same SQL as the existing single init file leaves it untouched.
    """
    if not NAME.match(name):
        raise MigrationToolError(
            f"Migration name {name!r} must be 1-40 lower-case letters, digits or underscores."
        )
    with _migrations_lock(root):
        existing = version_files(root)
        if reset or not existing:
            return _write_initial(root, existing)
        generated = _generate_both(root, copy_history=True, name=name)
        if generated is None:
            return None
        number = int(existing[-1].name.split("_", 1)[0]) + 1
        filename = f"{number}_{_timestamp()}_{name}.py"
        return _write_merged(migrations_dir(root) / filename, generated)


def check(root: Path = ROOT) -> None:
    """Raise DriftError when the models differ from what the migrations build.

    The newest migration's MODELS_STATE is compared with the models by generating a migration
    into a temporary copy of the history, for each dialect: if aerich produces anything, a
    migration is missing.
    """
    with _migrations_lock(root):  # not while another session rewrites the history
        existing = version_files(root)
        if not existing:
            raise DriftError("There are no migrations: run `python -m pegasus db makemigrations`.")
        for path in existing:
            _assert_both_dialects(path)
        generated = _generate_both(root, copy_history=True, name="drift")
    if generated is not None:
        changes = "\n".join(
            f"-- {dialect}\n{g.upgrade.strip()}" for dialect, g in generated.items()
        )
        raise DriftError(
            "The models have changes that no migration covers; run "
            "`python -m pegasus db makemigrations --name <what_changed>` "
            f"(or `--reset` before the first release). Missing SQL:\n{changes}"
        )


def dialect_sql(path: Path, dialect: str) -> tuple[str, str]:
    """The (upgrade, downgrade) SQL a merged migration file holds for `dialect`."""
    module = _load_module(path)
    sql = getattr(module, "SQL", None)
    if not isinstance(sql, dict) or dialect not in sql:
        raise MigrationToolError(f"{path.name} carries no SQL for {dialect}.")
    return sql[dialect]["upgrade"], sql[dialect]["downgrade"]


# --------------------------------------------------------------------------- generation


def _generate_both(
    root: Path, *, copy_history: bool, name: str
) -> dict[str, Generated] | None:
    """Run aerich offline once per dialect (in parallel child processes); None = no changes."""
    with tempfile.TemporaryDirectory(prefix="pegasus-migrate-") as tmp:
        jobs = {}
        for dialect in DIALECTS:
            location = Path(tmp, dialect)
            target = location / APP
            if copy_history and migrations_dir(root).is_dir():
                shutil.copytree(migrations_dir(root), target)
            else:
                target.mkdir(parents=True)
            jobs[dialect] = (location, _start_generator(root, dialect, location, name))
        results = {dialect: _finish_generator(dialect, *job) for dialect, job in jobs.items()}
    produced = {d: g for d, g in results.items() if g is not None}
    if not produced:
        return None
    states = {g.models_state for g in produced.values()}
    if len(states) != 1:
        raise MigrationToolError("aerich described the models differently per dialect.")
    # A change may be invisible in one dialect (e.g. a column comment on SQLite): that dialect
    # then gets a statement that does nothing (aerich refuses an empty downgrade).
    any_result = next(iter(produced.values()))
    nothing = "-- No change in this dialect.\nSELECT 1;"
    return {
        d: produced.get(d)
        or Generated(any_result.filename, nothing, nothing, any_result.models_state)
        for d in DIALECTS
    }


def _start_generator(root: Path, dialect: str, location: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": DUMMY_URLS[dialect], "PYTHONPATH": str(root)}
    env.pop("DATABASE_SSL", None)
    command = [
        sys.executable, "-m", "pegasus.migrations_tool", "_generate",
        dialect, str(location), name,
    ]
    return subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish_generator(dialect: str, location: Path, process: subprocess.Popen) -> Generated | None:
    try:
        stdout, stderr = process.communicate(timeout=GENERATOR_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise MigrationToolError(f"aerich ({dialect}) did not finish within 5 minutes.") from None
    if process.returncode != 0:
        raise MigrationToolError(f"aerich ({dialect}) failed:\n{stderr.strip()}")
    result = json.loads(stdout.strip().splitlines()[-1])
    filename = result["filename"]
    if not filename:
        return None
    module = _load_module(location / APP / filename)
    return Generated(
        filename=filename,
        upgrade=result["upgrade"],
        downgrade=result["downgrade"],
        models_state=_models_state_literal(module),
    )


def _comments_do_nothing_on_sqlite() -> None:
    """SQLite keeps no column comments, so a changed one (a new member of a CharEnumField
    describes itself in it) is a statement that does nothing there; aerich refuses it instead."""
    from aerich.ddl.sqlite import SqliteDDL

    SqliteDDL.set_comment = lambda self, model, field_describe: "SELECT 1"  # type: ignore[method-assign]


async def _generate_in_this_process(dialect: str, location: str, name: str) -> dict[str, str]:
    """Child-process side: let aerich write one migration for `dialect` into `location`."""
    from aerich import Command

    from pegasus.db import tortoise_config

    config = tortoise_config(DUMMY_URLS[dialect])
    folder = Path(location, APP)
    if dialect == "sqlite":
        _comments_do_nothing_on_sqlite()
    before = {p.name for p in version_files_in(folder)}
    command = Command(tortoise_config=config, app=APP, location=location)
    try:
        if not before:
            await command.init_migrations(safe=False)
        else:
            await command.init(offline=True)
            await command.migrate(name, no_input=True, offline=True)
    finally:
        await command.aclose()
    new = [p for p in version_files_in(folder) if p.name not in before]
    if not new:
        return {"filename": "", "upgrade": "", "downgrade": ""}
    module = _load_module(new[-1])
    upgrade = await module.upgrade(None)
    downgrade = await module.downgrade(None)
    if not before:
        # The initial migration may run again after it was downgraded: its downgrade keeps
        # aerich's bookkeeping table, so creating that one must tolerate its existence.
        upgrade = upgrade.replace('CREATE TABLE "aerich"', 'CREATE TABLE IF NOT EXISTS "aerich"')
        if not downgrade.strip():
            downgrade = _drop_tables_sql(upgrade, dialect)
    return {"filename": new[-1].name, "upgrade": upgrade, "downgrade": downgrade}


def version_files_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if VERSION_FILE.match(p.name)]
    return sorted(found, key=lambda p: int(p.name.split("_", 1)[0]))


def _drop_tables_sql(create_sql: str, dialect: str) -> str:
    """Downgrade of an initial migration: drop its tables, newest first.

    aerich writes no downgrade for the initial migration. The `aerich` bookkeeping table stays,
    because aerich deletes its own row after running the downgrade.
    """
    tables = re.findall(r'CREATE TABLE (?:IF NOT EXISTS )?"(\w+)"', create_sql)
    suffix = " CASCADE" if dialect == "postgres" else ""
    dropped = [table for table in reversed(tables) if table != "aerich"]
    return "\n".join(f'DROP TABLE IF EXISTS "{table}"{suffix};' for table in dropped)


# --------------------------------------------------------------------------- writing


def _write_initial(root: Path, existing: list[Path]) -> Path | None:
    generated = _generate_both(root, copy_history=False, name="init")
    if generated is None:  # pragma: no cover - aerich always writes an initial migration
        raise MigrationToolError("aerich produced no initial migration.")
    if len(existing) == 1 and existing[0].name.startswith("0_") and _same_sql(
        existing[0], generated
    ):
        return None
    target = migrations_dir(root) / f"0_{_timestamp()}_init.py"
    written = _write_merged(target, generated)
    for old in existing:
        if old != written:
            old.unlink(missing_ok=True)
    return written


def _same_sql(path: Path, generated: dict[str, Generated]) -> bool:
    try:
        module = _load_module(path)
    except Exception:
        return False
    sql = getattr(module, "SQL", None)
    if not isinstance(sql, dict):
        return False
    return all(
        isinstance(sql.get(d), dict)
        and sql[d]["upgrade"].strip() == g.upgrade.strip()
        and sql[d]["downgrade"].strip() == g.downgrade.strip()
        for d, g in generated.items()
    ) and _models_state_literal(module) == next(iter(generated.values())).models_state


def _write_merged(target: Path, generated: dict[str, Generated]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    text = _render(target.stem, generated)
    # Write then rename, so a reader (aerich, pytest, a second session) never sees half a file.
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
    return target


MERGED_TEMPLATE = '''"""Migration {version}, for SQLite and PostgreSQL.

Generated by `python -m pegasus db makemigrations`. aerich calls upgrade(db) / downgrade(db),
which return the SQL of the dialect of `db`.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

SQL = {{
{sql}
}}


def _sql_for(db: BaseDBAsyncClient, direction: str) -> str:
    dialect = getattr(getattr(db, "capabilities", None), "dialect", None)
    if dialect not in SQL:
        raise RuntimeError(f"This migration has SQL for {{', '.join(SQL)}}, not for {{dialect!r}}.")
    return SQL[dialect][direction]


async def upgrade(db: BaseDBAsyncClient) -> str:
    return _sql_for(db, "upgrade")


async def downgrade(db: BaseDBAsyncClient) -> str:
    return _sql_for(db, "downgrade")


MODELS_STATE = (
{models_state}
)
'''


def _render(version: str, generated: dict[str, Generated]) -> str:
    blocks = []
    for dialect in DIALECTS:
        g = generated[dialect]
        blocks.append(
            f'    "{dialect}": {{\n'
            f'        "upgrade": {_string_literal(g.upgrade)},\n'
            f'        "downgrade": {_string_literal(g.downgrade)},\n'
            f"    }},"
        )
    return MERGED_TEMPLATE.format(
        version=version,
        sql="\n".join(blocks),
        models_state=generated[DIALECTS[0]].models_state,
    )


def _string_literal(text: str) -> str:
    """A triple-quoted literal that evaluates to exactly `text` (SQL stays readable in review)."""
    text = text.strip()
    escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if escaped.endswith('"'):
        escaped = escaped[:-1] + '\\"'
    literal = f'"""{escaped}"""' if "\n" not in text else f'"""\n{escaped}\n"""'
    return literal


def _models_state_literal(module: ModuleType) -> str:
    """MODELS_STATE as a Python literal, re-wrapped for the merged file."""
    state = getattr(module, "MODELS_STATE", None)
    if not isinstance(state, str) or not state:
        raise MigrationToolError(f"{module.__name__} has no MODELS_STATE.")
    return "\n".join(f"    {json.dumps(state[i:i + 90])}" for i in range(0, len(state), 90))


def _assert_both_dialects(path: Path) -> None:
    for dialect in DIALECTS:
        dialect_sql(path, dialect)


# --------------------------------------------------------------------------- helpers


def _load_module(path: Path) -> ModuleType:
    name = f"_pegasus_migration_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MigrationToolError(f"Cannot load {path}.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S")


@contextlib.contextmanager
def _migrations_lock(root: Path) -> Iterator[None]:
    """Serialise generation between sessions working in the same tree.

    The lock lives in the temp folder (keyed by the tree's path), so the repository stays clean.
    """
    key = hashlib.sha1(str(migrations_dir(root).resolve()).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir(), f"pegasus-migrations-{key}.lock")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- command line


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the `makemigrations` and `check` sub-commands (also used by `python -m pegasus db`)."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m pegasus.migrations_tool", description="Database migrations."
    )
    commands = parser.add_subparsers(dest="db_command", required=True)
    make = commands.add_parser(
        "makemigrations", help="Generate the next migration from the models (both dialects)."
    )
    make.add_argument(
        "--name", default="update", help="What the migration does, e.g. add_xp_index."
    )
    make.add_argument(
        "--reset",
        action="store_true",
        help="Before the first release only: replace the whole history by one initial migration.",
    )
    commands.add_parser("check", help="Fail when the models have changes no migration covers.")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run a parsed `makemigrations`/`check` command; returns the process exit code."""
    try:
        if args.db_command == "makemigrations":
            written = makemigrations(args.name, reset=args.reset)
            if written is None:
                print("No changes detected: no migration written.")
            else:
                print(f"Wrote {written.relative_to(ROOT)}")
        elif args.db_command == "check":
            check()
            print("Migrations cover the models: no drift.")
    except MigrationToolError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_generate"]:
        return _child_main(argv[1:])
    return run(build_parser().parse_args(argv))


def _child_main(argv: list[str]) -> int:
    import asyncio

    dialect, location, name = argv
    result = asyncio.run(_generate_in_this_process(dialect, location, name))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
