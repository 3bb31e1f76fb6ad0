"""Run hypothesis examples against the test's database, and compare whole-database snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from tortoise import Tortoise

from pegasus.errors import PegasusError

from .refusals import check_refusal

T = TypeVar("T")

Snapshot = dict[str, list[dict[str, Any]]]


# Written by almost every service call (ids, audit trail, timers): always compared.
COMMON_TABLES = ("Guild", "User", "Member", "AuditLog", "ScheduledAction")


async def snapshot(names: Iterable[str] | None = None) -> Snapshot:
    """Every row of the named tables (model names; all tables when None), by primary key."""
    models = {name: model for app in Tortoise.apps.values() for name, model in app.items()}
    chosen = sorted(models) if names is None else sorted(set(names) | set(COMMON_TABLES))
    tables: Snapshot = {}
    for name in chosen:
        model = models[name]
        tables[name] = await model.all().order_by(model._meta.pk_attr).values()
    return tables


def changed_tables(before: Snapshot, after: Snapshot) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


class OnTestLoop:
    """Lets a synchronous hypothesis test (run in a thread with `run_in_thread`) await
    coroutines on the test's own event loop, where the database context lives."""

    def __init__(self, *tables: str) -> None:
        """`tables`: the models the calls under test may write, besides COMMON_TABLES. A
        snapshot of all 36 tables costs ~50 ms on SQLite, too slow for every example."""
        self.loop = asyncio.get_running_loop()
        self.tables = tables or None

    def __call__(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)  # type: ignore[arg-type]

    def refused_or_done(self, call: Callable[[], Awaitable[T]]) -> T | PegasusError:
        """Run `call()`; if it raises, it must be a proper refusal that changed no row."""
        before = self(snapshot(self.tables))
        try:
            return self(call())
        except Exception as error:
            check_refusal(error)
            assert isinstance(error, PegasusError)
            after = self(snapshot(self.tables))
            assert not changed_tables(before, after), (
                f"refused with {error!r} but changed {changed_tables(before, after)}"
            )
            return error


async def run_in_thread(test: Callable[[], None]) -> None:
    """Run a hypothesis-decorated synchronous test off the loop; the thread copies this
    context, so the coroutines it submits see the database opened by the `db` fixture."""
    await asyncio.to_thread(test)
