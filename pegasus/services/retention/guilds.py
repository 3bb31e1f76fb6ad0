"""A guild's data after Pegasus leaves it: kept for a grace period, then deleted.

When the bot leaves a guild (or is removed from it, even while it was offline), `guild_left`
records when and schedules a durable `PURGE_KIND` action due after the grace period
(GUILD_DATA_RETENTION_DAYS). Coming back cancels it (`guild_back`); and when it runs, the action
deletes nothing if the bot is in the guild again (`purge_left_guild`), so a rejoin that the
cancellation missed (the bot was offline) still keeps the data.

`purge_guild` deletes everything stored for one guild in one transaction: the `guilds` row,
which every guild-scoped table references with ON DELETE CASCADE, and the rows of tables that
name the guild in a plain `guild_id` column (scheduled actions). `guild_data_tables` says how
each table's rows are found, and a test fails when a table belongs to no guild and is not listed
in `UNSCOPED_TABLES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields.relational import OnDelete
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.guilds import Guild
from models.scheduling import ActionStatus, ScheduledAction
from pegasus import notify
from pegasus.scheduler import cancel, schedule

__all__ = [
    "PURGE_KIND",
    "UNSCOPED_TABLES",
    "LeftGuildOutcome",
    "PurgeSummary",
    "Reconciled",
    "guild_back",
    "guild_data_counts",
    "guild_data_tables",
    "guild_left",
    "guild_left_at",
    "purge_guild",
    "purge_left_guild",
    "reconcile_guilds",
]

PURGE_KIND = "retention.purge_guild"

# Tables whose rows belong to no guild, and why they are not deleted with one.
UNSCOPED_TABLES = {
    "guilds": "the guild's own row, deleted last",
    "users": "Discord users are shared by every guild; a member's own data is erased with "
    "/privacy delete or `data delete-user`",
    "web_sessions": "a person's dashboard login spans every guild they manage; it ends on logout, "
    "after seven days, or with /privacy delete",
    "change_notices": "a change announced between processes on SQLite names a guild only in its "
    "payload and holds no data of it; every notice is deleted after a minute",
}


def _dedupe_key(guild_id: int) -> str:
    return f"guild:{guild_id}"


@dataclass(frozen=True, slots=True)
class PurgeSummary:
    """What `purge_guild` deleted: rows per table (tables with none are left out)."""

    guild_id: int
    tables: tuple[tuple[str, int], ...]

    @property
    def rows(self) -> int:
        return sum(count for _table, count in self.tables)


class LeftGuildOutcome(StrEnum):
    PURGED = "purged"  # the grace period is over: the data is gone
    KEPT = "kept"  # the bot is in the guild again
    POSTPONED = "postponed"  # not due yet (left again later, or a longer grace): rescheduled


def _models() -> list[type[Model]]:
    return [model for app in Tortoise.apps.values() for model in app.values()]


def _relations(model: type[Model]) -> Iterable[tuple[str, type[Model], OnDelete]]:
    meta = model._meta
    for name in (*sorted(meta.fk_fields), *sorted(meta.o2o_fields)):
        field = meta.fields_map[name]
        yield name, field.related_model, field.on_delete  # type: ignore[attr-defined]


def _guild_paths() -> dict[type[Model], str]:
    """Every table whose rows belong to a guild, with the filter that finds one guild's rows.

    A row belongs to a guild through a foreign key to `guilds` (deleted by its cascade), a plain
    `guild_id` column, or a cascading foreign key to a row that belongs to the guild.
    """
    paths: dict[type[Model], str] = {}
    models = [m for m in _models() if m is not Guild]
    for model in models:
        for name, related, on_delete in _relations(model):
            if related is Guild and on_delete == OnDelete.CASCADE:
                paths[model] = f"{name}_id"
                break
        else:
            if "guild_id" in model._meta.fields_map:
                paths[model] = "guild_id"
    changed = True
    while changed:
        changed = False
        for model in models:
            if model in paths:
                continue
            for name, related, on_delete in _relations(model):
                if related in paths and on_delete == OnDelete.CASCADE:
                    paths[model] = f"{name}__{paths[related]}"
                    changed = True
                    break
    return paths


def _cascades(model: type[Model], path: str) -> bool:
    """Whether deleting the guild row deletes these rows (else they are deleted explicitly)."""
    return path != "guild_id" or "guild" in model._meta.fk_fields


def guild_data_tables() -> dict[str, str]:
    """Table → how its rows of a guild are found (a filter on the model), for every table that
    holds guild data."""
    return {model._meta.db_table: path for model, path in _guild_paths().items()}


async def _count(guild_id: int, conn: BaseDBAsyncClient | None) -> dict[str, int]:
    counts = {"guilds": await Guild.filter(id=guild_id).using_db(conn).count()}
    for model, path in sorted(_guild_paths().items(), key=lambda item: item[0]._meta.db_table):
        counts[model._meta.db_table] = (
            await model.filter(**{path: guild_id}).using_db(conn).count()
        )
    return counts


async def guild_data_counts(guild_id: int) -> dict[str, int]:
    """Rows stored for the guild, per table (with zeros), without changing anything."""
    return await _count(guild_id, None)


async def purge_guild(guild_id: int, *, keep_action_id: int | None = None) -> PurgeSummary:
    """Delete everything stored for the guild, in one transaction.

    `keep_action_id` is a scheduled action of the guild not to delete: the purge action that is
    running this, so the scheduler can still mark it done.
    """
    async with in_transaction() as conn:
        counts = await _count(guild_id, conn)
        for model, path in _guild_paths().items():
            if _cascades(model, path):
                continue
            rows = model.filter(guild_id=guild_id)
            if keep_action_id is not None and model is ScheduledAction:
                rows = rows.exclude(id=keep_action_id)
            counts[model._meta.db_table] = await rows.using_db(conn).delete()
        await Guild.filter(id=guild_id).using_db(conn).delete()
    # Processes keeping the guild's settings in memory drop them (a later event starts afresh).
    await notify.announce(notify.Topic.SETTINGS, guild_id)
    return PurgeSummary(guild_id, tuple((t, n) for t, n in sorted(counts.items()) if n))


async def guild_left_at(guild_id: int) -> datetime | None:
    """When the bot left the guild, or None (it is there, or nothing is stored for it)."""
    found = await Guild.filter(id=guild_id).values_list("left_at", flat=True)
    return found[0] if found else None


async def guild_left(guild_id: int, *, now: datetime, grace: timedelta) -> datetime:
    """Record that the bot left the guild and schedule its data's deletion after `grace`.

    Returns when the data will be deleted. Leaving again replaces the earlier timer.
    """
    due = now + grace
    async with in_transaction() as conn:
        await Guild.filter(id=guild_id, left_at=None).using_db(conn).update(left_at=now)
        await schedule(
            PURGE_KIND,
            due,
            {"guild_id": guild_id},
            guild_id=guild_id,
            dedupe_key=_dedupe_key(guild_id),
            using_db=conn,
        )
    return due


async def guild_back(guild_id: int) -> bool:
    """The bot is in the guild (again): its data stays. Returns whether a deletion was pending."""
    return await cancel(PURGE_KIND, _dedupe_key(guild_id)) > 0


async def purge_left_guild(
    guild_id: int,
    *,
    bot_is_there: bool,
    now: datetime,
    grace: timedelta,
    action_id: int | None = None,
) -> tuple[LeftGuildOutcome, PurgeSummary | None]:
    """Run a due deletion of a left guild's data, unless the bot is back.

    `bot_is_there` is the gateway's word (the process owning the guild's shard, once ready).
    A guild whose leaving was never recorded (that write was lost) is recorded as left now and
    gets a full `grace` from now.
    """
    if bot_is_there:
        return LeftGuildOutcome.KEPT, None
    if not await Guild.filter(id=guild_id).exists():
        return LeftGuildOutcome.PURGED, PurgeSummary(guild_id, ())
    if await guild_left_at(guild_id) is None:
        await guild_left(guild_id, now=now, grace=grace)
        return LeftGuildOutcome.POSTPONED, None
    return LeftGuildOutcome.PURGED, await purge_guild(guild_id, keep_action_id=action_id)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What `reconcile_guilds` changed: guilds back before their data went, guilds gone."""

    back: tuple[int, ...]
    gone: tuple[int, ...]


async def reconcile_guilds(
    present: Iterable[int],
    *,
    owned: Callable[[int], bool],
    now: datetime,
    grace: timedelta,
) -> Reconciled:
    """Match the stored guilds to the gateway's list when the bot (re)connects.

    A pending deletion of a guild the gateway lists is cancelled (the bot was added back while
    it was offline); a guild stored as joined that it does not list (the bot was removed while
    offline) is recorded as left now, with its deletion scheduled. Only guilds `owned` by this
    process (its shards) are considered.
    """
    here = set(present)
    pending = await ScheduledAction.filter(
        kind=PURGE_KIND, status=ActionStatus.PENDING
    ).values_list("guild_id", flat=True)
    back = sorted({g for g in pending if g in here and owned(g)})
    for guild_id in back:
        await guild_back(guild_id)
    stored = await Guild.filter(left_at=None).values_list("id", flat=True)
    gone = sorted(g for g in stored if g not in here and owned(g))
    for guild_id in gone:
        await guild_left(guild_id, now=now, grace=grace)
    return Reconciled(tuple(back), tuple(gone))
