"""Changes announced to every process, so none keeps using a copy that a change made stale.

Bots keep guild settings, level settings and the blacklist in memory. A change made through the
services (a slash command, the REST API in the bot's process or standalone) is announced here:
in this process at once, and on PostgreSQL with NOTIFY on `CHANNEL`, which every process
listens to with a `ChangeListener` (LISTEN on a connection of its own). Each process then drops
what it cached of that guild, and the next read loads the new values: a change reaches every
process within a second instead of when its cache expires.

SQLite has no NOTIFY, and a second process on the same file is still possible (`python -m pegasus
web` beside the bot): there an announcement is also a row of `change_notices`, which every
process's `NoticeReader` reads every half second (the rows after the last it saw, skipping its
own), and rows older than a minute are deleted.

An announcement that cannot be sent is logged, not raised: the change itself is committed, and
the caches' expiry still bounds how long another process may miss it. A listener whose
connection drops reconnects and, since it may have missed announcements meanwhile, tells its
subscribers that everything changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise import connections

from models.notices import ChangeNotice
from pegasus.outage import health, is_database_unreachable

log = logging.getLogger(__name__)

CHANNEL = "pegasus_changes"
RECONNECT_SECONDS = 1.0
# SQLite: how often a process reads the notices of the others, and how long they are kept.
POLL_SECONDS = 0.5
KEEP_SECONDS = 60.0
# This process, in the notices it writes on SQLite (it heard its own changes at once).
ORIGIN = secrets.token_hex(8)


class Topic(StrEnum):
    SETTINGS = "settings"  # a feature's guild settings, level rewards and multipliers
    BLACKLIST = "blacklist"
    API_KEYS = "api_keys"  # a key revoked or changed: the REST API reads it again
    # A guild's XP, activity counts or rank cards changed (None: rank cards, every guild):
    # answers of leaderboards and ranks kept by the REST API are dropped.
    XP = "xp"
    EVERYTHING = "everything"  # announcements may have been missed: drop every copy


@dataclass(frozen=True, slots=True)
class Change:
    """What changed: a topic, the guild (None: every guild or bot-wide) and the feature."""

    topic: Topic
    guild_id: int | None = None
    feature: str = ""

    def encode(self) -> str:
        return f"{self.topic.value}:{self.guild_id or ''}:{self.feature}"

    @classmethod
    def decode(cls, text: str) -> Change | None:
        """The change a NOTIFY payload carries; None for one this version does not know."""
        topic, _, rest = text.partition(":")
        guild, _, feature = rest.partition(":")
        try:
            return cls(Topic(topic), int(guild) if guild else None, feature)
        except ValueError:
            return None


Subscriber = Callable[[Change], Awaitable[None]]

_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Callable[[], None]:
    """Call `subscriber` for every change announced or heard; returns the unsubscribe."""
    _subscribers.append(subscriber)

    def unsubscribe() -> None:
        with contextlib.suppress(ValueError):
            _subscribers.remove(subscriber)

    return unsubscribe


async def deliver(change: Change) -> None:
    """Tell this process's subscribers; one that fails is logged, the others still hear it."""
    for subscriber in tuple(_subscribers):
        try:
            await subscriber(change)
        except Exception as error:
            if is_database_unreachable(error):
                health.report(error)  # the outage is logged once; the caches expire anyway
            else:
                log.exception("A subscriber failed to handle the change %s", change)


async def announce(topic: Topic, guild_id: int | None = None, feature: str = "") -> None:
    """Announce a committed change to this process and to every other one."""
    change = Change(topic, guild_id, feature)
    await deliver(change)
    try:
        connection = connections.get("default")
        if connection.capabilities.dialect == "postgres":
            await connection.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, change.encode()])
        else:
            await _write_notices([change])
    except Exception as error:
        log.warning("Could not announce %s to the other processes: %s", change, error)


async def _write_notices(changes: list[Change]) -> None:
    await ChangeNotice.bulk_create(
        [ChangeNotice(origin=ORIGIN, payload=change.encode()) for change in changes]
    )


MAX_NOTICES_A_STATEMENT = 200  # more guilds than this are announced as "every guild"


async def announce_guilds(topic: Topic, guild_ids: Collection[int]) -> None:
    """Announce the same change of several guilds, to the other processes in one statement;
    beyond MAX_NOTICES_A_STATEMENT guilds, one change of every guild is announced instead."""
    if not guild_ids:
        return
    if len(guild_ids) > MAX_NOTICES_A_STATEMENT:
        await announce(topic)
        return
    changes = [Change(topic, guild_id) for guild_id in sorted(guild_ids)]
    for change in changes:
        await deliver(change)
    try:
        connection = connections.get("default")
        if connection.capabilities.dialect == "postgres":
            await connection.execute_query(
                "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
                [CHANNEL, [change.encode() for change in changes]],
            )
        else:
            await _write_notices(changes)
    except Exception as error:
        log.warning("Could not announce %s to the other processes: %s", topic, error)


class _Hearing:
    """A task of its own that delivers what other processes announce: `start` it in the task that
    initialised the database (subscribers may query), `stop` it before the database closes."""

    task_name = ""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError


def listener_for(url: str, ssl: str | None = None) -> ChangeListener | NoticeReader | None:
    """What hears the other processes' changes on the database at `url`: a ChangeListener on
    PostgreSQL, a NoticeReader on a SQLite file, None on a SQLite database in memory (no other
    process can open it)."""
    from pegasus.db import dialect_of, tortoise_config

    if dialect_of(url) == "sqlite":
        return None if ":memory:" in url else NoticeReader()
    return ChangeListener(tortoise_config(url, ssl)["connections"]["default"]["credentials"])


class ChangeListener(_Hearing):
    """LISTEN on `CHANNEL` over a PostgreSQL connection of its own and deliver what it hears.

    Notifications are queued by the connection's callback and delivered by the listener's task,
    one at a time.
    """

    task_name = "pegasus-change-listener"

    def __init__(self, credentials: Mapping[str, Any]) -> None:
        super().__init__()
        keys = ("host", "port", "user", "password", "database", "ssl", "timeout")
        self._connect_args = {key: credentials[key] for key in keys if key in credentials}
        self._connect_args["server_settings"] = {"application_name": "pegasus-listener"}
        # None: the connection was lost.
        self._queue: asyncio.Queue[Change | None] = asyncio.Queue()
        self._connection: Any = None
        self.listening = asyncio.Event()

    async def stop(self) -> None:
        await super().stop()
        await self._disconnect()

    async def _run(self) -> None:
        first = True
        while True:
            try:
                await self._connect()
            except Exception as error:
                log.warning("Cannot listen for changes (%s); retrying", error)
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            if not first:
                # Announcements made while we were not listening are lost: forget everything.
                await deliver(Change(Topic.EVERYTHING))
            first = False
            await self._deliver_until_disconnected()

    async def _connect(self) -> None:
        import asyncpg

        self._connection = await asyncpg.connect(**self._connect_args)
        self._connection.add_termination_listener(self._on_termination)
        await self._connection.add_listener(CHANNEL, self._on_notification)
        self.listening.set()

    async def _deliver_until_disconnected(self) -> None:
        while True:
            change = await self._queue.get()
            if change is None:
                self.listening.clear()
                await self._disconnect()
                await asyncio.sleep(RECONNECT_SECONDS)
                return
            await deliver(change)

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        change = Change.decode(payload)
        if change is not None:
            self._queue.put_nowait(change)

    def _on_termination(self, _connection: Any) -> None:
        self._queue.put_nowait(None)

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)


class NoticeReader(_Hearing):
    """On SQLite: deliver the changes other processes wrote to `change_notices` (module text).

    A read that fails (the database unreachable) is tried again; since notices may have been
    deleted meanwhile, the next read that works tells the subscribers that everything changed.
    """

    task_name = "pegasus-notice-reader"

    def __init__(self, interval: float = POLL_SECONDS, keep: float = KEEP_SECONDS) -> None:
        super().__init__()
        self.interval = interval
        self.keep = keep
        self._last: int | None = None  # the last notice seen; None until the first read
        self._missed = False
        self._pruned_at = 0.0
        self._made_at = datetime.now(UTC)

    async def _run(self) -> None:
        while True:
            try:
                await self.read()
            except Exception as error:
                self._missed = True
                if is_database_unreachable(error):
                    health.report(error)
                else:
                    log.warning("Cannot read the changes of other processes (%s); retrying", error)
            await asyncio.sleep(self.interval)

    async def read(self) -> None:
        """Deliver the notices written since the last read (the first read: since the reader
        was made), and delete those older than `keep` once in a while."""
        if self._last is None:
            newest = await ChangeNotice.all().order_by("-id").limit(1).values_list("id", flat=True)
            query = ChangeNotice.filter(created_at__gte=self._made_at)
            self._last = int(newest[0]) if newest else 0
        else:
            query = ChangeNotice.filter(id__gt=self._last)
        rows = await query.order_by("id").values_list("id", "origin", "payload")
        if self._missed:
            self._missed = False
            await deliver(Change(Topic.EVERYTHING))
        for notice_id, origin, payload in rows:
            self._last = max(self._last, notice_id)
            change = Change.decode(payload)
            if origin != ORIGIN and change is not None:
                await deliver(change)
        now = time.monotonic()
        if now - self._pruned_at >= self.keep:
            self._pruned_at = now
            await self._prune()

    async def _prune(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(seconds=self.keep)
        await ChangeNotice.filter(created_at__lt=cutoff).delete()
