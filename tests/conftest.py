"""Shared fixtures: a fresh, migrated database per test, on SQLite or PostgreSQL.

The dialect of a run is chosen by `PEGASUS_TEST_DB` (`sqlite`, the default, or `postgres`), one per
process: Tortoise cannot switch dialects within a process. PostgreSQL is reached at
`PEGASUS_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`, trust auth).

The schema is built ONCE per session by running the real migrations into a template (a SQLite
file, or a PostgreSQL template database); each test then gets a copy of it, which is cheap. Names
are random, so several runs on one machine never collide, and everything is dropped at the end.

* `db_url`: the URL of a fresh migrated database, not opened (for code that opens it itself, such
  as the bot or a subprocess).
* `db`: Tortoise opened on such a database for the test, from the test's own context, so the test
  body and every task it creates can query; closed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import pytest

from pegasus.db import apply_migrations, close_db, init_db

T = TypeVar("T")

# The local Discord's fixtures (local_discord, discord_env, bot_process): pegasus/localdiscord.
pytest_plugins = ["tests.localdiscord_plugin"]

DIALECTS = ("sqlite", "postgres")
DEFAULT_PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def test_dialect() -> str:
    """The dialect of this pytest process (`PEGASUS_TEST_DB`)."""
    return (os.environ.get("PEGASUS_TEST_DB") or "sqlite").strip().lower()


test_dialect.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def pytest_configure(config: pytest.Config) -> None:
    if test_dialect() not in DIALECTS:
        raise pytest.UsageError(
            f"PEGASUS_TEST_DB must be sqlite or postgres, not {test_dialect()!r}."
        )
    config.addinivalue_line(
        "markers",
        "postgres_only: a behaviour only PostgreSQL has (LISTEN/NOTIFY, several processes on "
        "one database); left out of the SQLite run rather than counted there as skipped",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if test_dialect() == "postgres":
        return
    left_out = [item for item in items if item.get_closest_marker("postgres_only")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("postgres_only")]


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {test_dialect()} (PEGASUS_TEST_DB)"


class _BackgroundLoop:
    """An event loop on its own thread, for database set-up that must not touch the test's loop
    or its Tortoise context (migrations, CREATE/DROP DATABASE)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="pegasus-test-db", daemon=True
        )
        self.thread.start()

    def submit(self, coro: Awaitable[T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    def run(self, coro: Awaitable[T], timeout: float = 120) -> T:
        return self.submit(coro).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class SqliteTemplate:
    """A migrated SQLite file, copied for each test."""

    def __init__(self, background: _BackgroundLoop) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pegasus-test-"))
        self.template = self.folder / "template.sqlite3"
        self._counter = 0
        try:
            background.run(apply_migrations(f"sqlite://{self.template}"))
            # Fold the WAL into the main file so that copying one file copies the whole schema.
            with contextlib.closing(sqlite3.connect(self.template)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except BaseException:
            self.close()
            raise

    def new_database(self) -> str:
        self._counter += 1
        path = self.folder / f"test_{self._counter}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite://{path}"

    def new_empty_database(self) -> str:
        self._counter += 1
        return f"sqlite://{self.folder / f'empty_{self._counter}.sqlite3'}"

    def drop_database(self, url: str) -> None:
        path = url.removeprefix("sqlite://")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class PostgresTemplate:
    """A migrated template database; each test gets a `CREATE DATABASE ... TEMPLATE` copy of it.

    Copying the template is the slow part (0.1-0.3 s for this schema), but copies can be made
    in parallel: a few workers on the background loop keep databases ready ahead of the tests,
    and drops run in the background. Every database of the session shares a random token, so
    the final sweep drops exactly this session's databases, even ones a cancelled worker made.
    """

    # Databases created ahead, in parallel. Two keep up with trivial tests on an idle machine;
    # more only add load when several test runs share one server.
    PREFETCH = 2

    def __init__(self, background: _BackgroundLoop, admin_url: str) -> None:
        self.background = background
        self.admin_url = admin_url
        self._base = urlparse(admin_url)._replace(scheme="postgres")
        self.token = f"{os.getpid()}_{secrets.token_hex(4)}"
        self.template = f"pegasus_tpl_{self.token}"
        self._numbers = itertools.count(1)  # next() is atomic: used from two threads
        self._pool: Any = None
        self._ready: asyncio.Queue[str] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._drops: list[Future[None]] = []
        try:
            background.run(self._start())
        except BaseException:
            self.close()
            raise

    def url_of(self, name: str) -> str:
        return self._base._replace(path=f"/{name}").geturl()

    async def _start(self) -> None:
        import asyncpg

        try:
            self._pool = await asyncpg.create_pool(
                self._base._replace(scheme="postgresql").geturl(),
                min_size=1,
                max_size=self.PREFETCH + 2,
                timeout=10,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError) as error:
            raise PostgresUnavailable(
                f"PEGASUS_TEST_DB=postgres but PostgreSQL at {self.admin_url} is unreachable "
                f"({type(error).__name__}: {error}). Start PostgreSQL or set PEGASUS_TEST_PG_URL; "
                "to test on SQLite, unset PEGASUS_TEST_DB."
            ) from error
        await self._pool.execute(f'CREATE DATABASE "{self.template}"')
        await apply_migrations(self.url_of(self.template))
        self._ready = asyncio.Queue(maxsize=self.PREFETCH)

    async def _create_ahead(self) -> None:
        assert self._ready is not None
        while True:
            name = f"pegasus_test_{self.token}_{next(self._numbers)}"
            await self._pool.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            await self._ready.put(name)

    async def _take(self) -> str:
        assert self._ready is not None
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._create_ahead()) for _ in range(self.PREFETCH)
            ]
        getter = asyncio.ensure_future(self._ready.get())
        await asyncio.wait([getter, *self._workers], return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        failed = next(worker for worker in self._workers if worker.done())
        raise RuntimeError("Could not create a test database") from failed.exception()

    def new_database(self) -> str:
        return self.url_of(self.background.run(self._take()))

    def new_empty_database(self) -> str:
        name = f"pegasus_test_{self.token}_{next(self._numbers)}"
        self.background.run(self._pool.execute(f'CREATE DATABASE "{name}"'))
        return self.url_of(name)

    def drop_database(self, url: str) -> None:
        name = urlparse(url).path.lstrip("/")
        self._drops.append(self.background.submit(self._drop(name)))

    async def _drop(self, name: str) -> None:
        await self._pool.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def _drop_everything(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        names = await self._pool.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2",
            f"pegasus_test_{self.token}_%",
            self.template,
        )
        results = await asyncio.gather(
            *(self._drop(row["datname"]) for row in names), return_exceptions=True
        )
        await self._pool.close()
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def close(self) -> None:
        for drop in self._drops:
            # A failed background drop is retried by the sweep below.
            with contextlib.suppress(Exception):
                drop.result(timeout=60)
        if self._pool is not None:
            self.background.run(self._drop_everything())


class PostgresUnavailable(Exception):
    """PostgreSQL was asked for and cannot be reached."""


@pytest.fixture(scope="session")
def _database_template() -> Iterator[SqliteTemplate | PostgresTemplate]:
    background = _BackgroundLoop()
    template: SqliteTemplate | PostgresTemplate | None = None
    try:
        if test_dialect() == "postgres":
            admin_url = os.environ.get("PEGASUS_TEST_PG_URL") or DEFAULT_PG_ADMIN_URL
            unavailable = None
            try:
                template = PostgresTemplate(background, admin_url)
            except PostgresUnavailable as error:
                unavailable = str(error)
            if unavailable:  # fail every database test loudly, never skip
                pytest.fail(unavailable, pytrace=False)
        else:
            template = SqliteTemplate(background)
        yield template
    finally:
        try:
            if template is not None:
                template.close()
        finally:
            background.close()


_last_test: list[str] = [""]


@pytest.fixture(autouse=True)
def _no_tortoise_context_carried_over(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts without a Tortoise context in pytest's own context.

    pytest-asyncio copies what an async fixture sets into the context every later test starts
    from, and takes it back in the fixture's finalizer; a finalizer that raises first (a
    database that went away mid-teardown) leaves the fixture's Tortoise context behind, and a
    later test would find Tortoise open on a database that no longer exists. It is dropped
    here, with a warning that names the test it came from.
    """
    from tortoise.context import _current_context

    left = _current_context.get()
    if left is not None:
        _current_context.set(None)
        request.node.warn(
            pytest.PytestWarning(
                f"a Tortoise context was left open by {_last_test[0] or 'an earlier test'}"
            )
        )
    yield
    _last_test[0] = request.node.nodeid


@pytest.fixture
def db_url(_database_template: SqliteTemplate | PostgresTemplate) -> Iterator[str]:
    """The URL of a fresh database with every migration applied; nothing is opened."""
    url = _database_template.new_database()
    try:
        yield url
    finally:
        _database_template.drop_database(url)


@pytest.fixture
def empty_db_url(_database_template: SqliteTemplate | PostgresTemplate) -> Iterator[str]:
    """The URL of a fresh database with no tables at all (for testing migrations themselves)."""
    url = _database_template.new_empty_database()
    try:
        yield url
    finally:
        _database_template.drop_database(url)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[str]:
    """Tortoise opened on a fresh migrated database for this test; yields its URL.

    pytest-asyncio runs this fixture and the test in one context, so the Tortoise context set
    here is visible in the test body and in the tasks it creates; closing happens from the same
    context, which is what releases the connections.
    """
    await init_db(db_url)
    try:
        yield db_url
    finally:
        await close_db()

