"""Guilds, users and members as the bot sees them, written in batches.

Feature services call `ensure_member` (or `ensure_guild`/`ensure_user`) before writing rows that
reference them. The gateway adapters hand what GUILD_CREATE, member chunks and member events
carry to a `DirectorySync`, which writes it in the background in multi-row statements, batched
across guilds, and only the rows that changed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, NamedTuple

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.guilds import Guild, GuildSettings, Member, User


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str = ""
    global_name: str | None = None
    discriminator: str = "0"
    avatar: str | None = None
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class MemberInfo:
    user: UserInfo
    nickname: str | None = None
    joined_at: datetime | None = None


async def ensure_guild(guild_id: int, *, using_db: BaseDBAsyncClient | None = None) -> None:
    """Make sure the guild and its settings row exist (never overwrites)."""
    await Guild.bulk_create([Guild(id=guild_id)], ignore_conflicts=True, using_db=using_db)
    await GuildSettings.bulk_create(
        [GuildSettings(guild_id=guild_id)], ignore_conflicts=True, using_db=using_db
    )


async def ensure_user(user_id: int, *, using_db: BaseDBAsyncClient | None = None) -> None:
    await User.bulk_create([User(id=user_id)], ignore_conflicts=True, using_db=using_db)


async def ensure_member(
    guild_id: int, user_id: int, *, using_db: BaseDBAsyncClient | None = None
) -> None:
    """Make sure the guild, the user and their membership rows exist."""
    await ensure_guild(guild_id, using_db=using_db)
    await ensure_user(user_id, using_db=using_db)
    await Member.bulk_create(
        [Member(guild_id=guild_id, user_id=user_id)], ignore_conflicts=True, using_db=using_db
    )


async def mark_guild_joined(guild_id: int) -> None:
    await ensure_guild(guild_id)
    await Guild.filter(id=guild_id).update(left_at=None)


async def mark_guild_left(guild_id: int, *, now: datetime | None = None) -> None:
    """Soft delete: the data is kept for a grace period after the bot leaves."""
    await Guild.filter(id=guild_id).update(left_at=now or datetime.now(UTC))


async def members_on_record(guild_id: int) -> int:
    """How many memberships of the guild are stored: its member count when the bot's cache is
    not at hand (members who left stay counted until their rows are purged)."""
    return await Member.filter(guild_id=guild_id).count()


async def upsert_members(guild_id: int, members: Iterable[MemberInfo]) -> None:
    """Store the guild and these members now (what changed), as the gateway sync does."""
    sync = DirectorySync()
    sync.guild_available(guild_id, members)
    await sync.drained()


# -- the gateway sync ----------------------------------------------------------------------------

SYNC_BATCH_SIZE = 1_000  # members per batch: 9 parameters each stays far below SQLite's limit
SYNC_TASK_NAME = "pegasus: directory sync"

_USER_COLUMNS = ("username", "global_name", "discriminator", "avatar", "is_bot")
_UserRow = tuple[str, str | None, str, str | None, bool]
_MemberRow = tuple[str | None, datetime | None]


class MemberRows(NamedTuple):
    """A member as the `users` and `members` rows hold them: what the sync compares and writes.
    Built by `member_rows` straight from what the gateway sent, it costs a fraction of a
    `MemberInfo` (a start of 100,000 members builds 100,000 of them)."""

    user_id: int
    user: _UserRow
    member: _MemberRow


def member_rows(
    user_id: int,
    username: str,
    global_name: str | None,
    discriminator: str,
    avatar: str | None,
    is_bot: bool,
    nickname: str | None,
    joined_at: datetime | None,
) -> MemberRows:
    """The rows of a member, as stored (names cut to the columns' sizes, times in UTC)."""
    return MemberRows(
        user_id,
        _user_columns(username, global_name, discriminator, avatar, is_bot),
        _member_columns(nickname, joined_at),
    )


@dataclass(frozen=True, slots=True)
class _GuildState:
    guild_id: int
    left_at: datetime | None  # None: the bot is there


@dataclass(frozen=True, slots=True)
class _Members:
    guild_id: int
    members: Iterator[MemberInfo]


@dataclass(frozen=True, slots=True)
class _MemberRowsOf:
    guild_id: int
    rows: Iterator[MemberRows]


@dataclass(frozen=True, slots=True)
class _Users:
    users: Iterator[UserInfo]


_Work = _GuildState | _Members | _MemberRowsOf | _Users


@dataclass(slots=True)
class _Batch:
    """What one transaction writes: the latest state of each guild, user and member in it."""

    guilds: dict[int, datetime | None] = field(default_factory=dict)
    users: dict[int, _UserRow] = field(default_factory=dict)
    members: dict[tuple[int, int], _MemberRow] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.guilds or self.users or self.members)


@dataclass(frozen=True, slots=True)
class SyncTotals:
    """Rows the sync has written since it was created (inserted or changed, never unchanged)."""

    batches: int
    users_written: int
    members_written: int
    guilds_written: int


class DirectorySync:
    """Stores what the gateway reports about guilds, users and members, in the background.

    Submitting is cheap and never waits: the members of a GUILD_CREATE or of a member chunk are
    handed over as a lazy iterable and converted a batch at a time, so a guild of 100,000
    members never holds the event loop for long. A batch gathers work across guilds (a thousand
    small guilds are a few dozen batches), compares it with what is stored and writes, in one
    transaction of multi-row statements, only the rows that are new or changed: the second
    start of an unchanged world writes nothing. Work is written in the order it was submitted.
    """

    def __init__(
        self,
        *,
        batch_size: int = SYNC_BATCH_SIZE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_error: Callable[[BaseException], None] | None = None,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.batch_size = batch_size
        self._clock = clock
        self._on_error = on_error
        self._on_idle = on_idle
        self._queue: deque[_Work] = deque()
        self._task: asyncio.Task[None] | None = None
        self._batches = 0
        self._written = {"users": 0, "members": 0, "guilds": 0}

    # -- submitting ----------------------------------------------------------------------------
    def guild_available(self, guild_id: int, members: Iterable[MemberInfo] = ()) -> None:
        """The bot is in `guild_id` (again): its row says so, and `members` are stored."""
        self._submit(_GuildState(guild_id, None))
        self.members_seen(guild_id, members)

    def guild_left(self, guild_id: int, *, now: datetime) -> None:
        """Soft delete: the data is kept for a grace period after the bot leaves."""
        self._submit(_GuildState(guild_id, now))

    def members_seen(self, guild_id: int, members: Iterable[MemberInfo]) -> None:
        self._submit(_Members(guild_id, iter(members)))

    def member_rows_seen(self, guild_id: int, rows: Iterable[MemberRows]) -> None:
        """Members as `member_rows` gives them: what the gateway adapters hand over for the
        thousands of members of GUILD_CREATE and member chunks."""
        self._submit(_MemberRowsOf(guild_id, iter(rows)))

    def users_seen(self, users: Iterable[UserInfo]) -> None:
        self._submit(_Users(iter(users)))

    def _submit(self, work: _Work) -> None:
        self._queue.append(work)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name=SYNC_TASK_NAME)

    # -- waiting -------------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        return not self._queue and (self._task is None or self._task.done())

    async def drained(self) -> None:
        """Until everything submitted so far (and meanwhile) is stored or has failed."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    @property
    def totals(self) -> SyncTotals:
        return SyncTotals(
            self._batches, self._written["users"], self._written["members"], self._written["guilds"]
        )

    # -- the drain -----------------------------------------------------------------------------
    async def _drain(self) -> None:
        while self._queue:
            batch = self._take_batch()
            if not batch:
                continue
            try:
                await self._write(batch)
            except Exception as error:
                # The next GUILD_CREATE (new session or restart) submits the same facts again.
                if self._on_error is None:
                    raise
                self._on_error(error)
            # Let commands and events run between batches, even when the writes did not wait.
            await asyncio.sleep(0)
        if self._on_idle is not None:
            self._on_idle()  # everything submitted is stored (or failed)

    def _take_batch(self) -> _Batch:
        """Up to `batch_size` members and users from the head of the queue, in order."""
        batch = _Batch()
        size = 0
        while self._queue and size < self.batch_size:
            work = self._queue[0]
            if isinstance(work, _GuildState):
                batch.guilds[work.guild_id] = work.left_at
                self._queue.popleft()
                continue
            room = self.batch_size - size
            taken = 0
            if isinstance(work, _MemberRowsOf):
                for user_id, user, member in islice(work.rows, room):
                    batch.members[(work.guild_id, user_id)] = member
                    batch.users[user_id] = user
                    taken += 1
            elif isinstance(work, _Members):
                for info in islice(work.members, room):
                    batch.members[(work.guild_id, info.user.id)] = _member_row(info)
                    batch.users[info.user.id] = _user_row(info.user)
                    taken += 1
            else:
                for user in islice(work.users, room):
                    batch.users[user.id] = _user_row(user)
                    taken += 1
            size += taken
            if taken < room:  # this source is used up
                self._queue.popleft()
        return batch

    async def _write(self, batch: _Batch) -> None:
        now = self._clock()
        conn = connections.get("default")
        dialect = conn.capabilities.dialect
        guild_ids = set(batch.guilds) | {guild_id for guild_id, _user in batch.members}
        users = await _changed_users(conn, dialect, batch.users)
        members = await _changed_members(conn, dialect, batch.members)
        async with in_transaction() as tx:
            if dialect == "postgres":
                # What Discord said at connect, sent again at every start and new session: a
                # crash that loses the last batches loses nothing the next start does not write
                # again, so these commits do not wait for the disk (a slow flush once held a
                # start-up's sync for over a second).
                await tx.execute_script("SET LOCAL synchronous_commit TO OFF")
            guilds = await _store_guilds(tx, guild_ids, batch.guilds)
            await _upsert_user_rows(tx, dialect, users, now)
            await _upsert_member_rows(tx, dialect, members, now)
        self._batches += 1
        self._written["guilds"] += guilds
        self._written["users"] += len(users)
        self._written["members"] += len(members)


def _user_row(user: UserInfo) -> _UserRow:
    return _user_columns(
        user.username, user.global_name, user.discriminator, user.avatar, user.is_bot
    )


def _user_columns(
    username: str, global_name: str | None, discriminator: str, avatar: str | None, is_bot: bool
) -> _UserRow:
    """A user as the `users` columns hold it."""
    global_name = (global_name or None) and global_name[:64]
    return (username[:64], global_name, discriminator[:4] or "0", avatar, is_bot)


def _instant(value: datetime | str | None) -> datetime | None:
    """A stored or given moment, comparable whatever the database returned it as."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _member_row(member: MemberInfo) -> _MemberRow:
    return _member_columns(member.nickname, member.joined_at)


def _member_columns(nickname: str | None, joined_at: datetime | None) -> _MemberRow:
    return (nickname[:64] if nickname else None, _instant(joined_at))


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


async def _changed_users(
    conn: BaseDBAsyncClient, dialect: str, users: dict[int, _UserRow]
) -> list[tuple[int, _UserRow]]:
    if not users:
        return []
    columns = ", ".join(f'"{c}"' for c in ("id", *_USER_COLUMNS))
    ids = list(users)
    if dialect == "postgres":
        # A join with the ids, not `id = ANY($1)`: the statement is prepared once per connection,
        # and a generic plan made while the table was nearly empty scans it whole, comparing
        # each row with every id (a first start of 100,000 members spent 10-25 s there).
        columns = ", ".join(f'u."{c}"' for c in ("id", *_USER_COLUMNS))
        sql = (
            f'SELECT {columns} FROM unnest($1::bigint[]) AS k(id) '
            'JOIN "users" AS u ON u."id" = k.id'
        )
        rows = await conn.execute_query_dict(sql, [ids])
    else:
        sql = f'SELECT {columns} FROM "users" WHERE "id" IN ({_placeholders(len(ids))})'
        rows = await conn.execute_query_dict(sql, ids)
    stored = {
        row["id"]: (
            row["username"],
            row["global_name"],
            row["discriminator"],
            row["avatar"],
            bool(row["is_bot"]),
        )
        for row in rows
    }
    return [(user_id, row) for user_id, row in users.items() if stored.get(user_id) != row]


async def _changed_members(
    conn: BaseDBAsyncClient, dialect: str, members: dict[tuple[int, int], _MemberRow]
) -> list[tuple[int, int, _MemberRow]]:
    if not members:
        return []
    guild_ids = list({guild_id for guild_id, _user in members})
    user_ids = list({user_id for _guild, user_id in members})
    columns = '"guild_id", "user_id", "nickname", "joined_at"'
    if dialect == "postgres":
        # The (guild, user) pairs joined, for the reason given in `_changed_users`.
        pairs = list(members)
        sql = (
            'SELECT m."guild_id", m."user_id", m."nickname", m."joined_at" '
            "FROM unnest($1::bigint[], $2::bigint[]) AS k(guild_id, user_id) "
            'JOIN "members" AS m ON m."guild_id" = k.guild_id AND m."user_id" = k.user_id'
        )
        rows = await conn.execute_query_dict(
            sql, [[guild_id for guild_id, _ in pairs], [user_id for _, user_id in pairs]]
        )
    else:
        sql = (
            f'SELECT {columns} FROM "members" WHERE "guild_id" IN ({_placeholders(len(guild_ids))})'
            f' AND "user_id" IN ({_placeholders(len(user_ids))})'
        )
        rows = await conn.execute_query_dict(sql, [*guild_ids, *user_ids])
    stored = {
        (row["guild_id"], row["user_id"]): (row["nickname"], _instant(row["joined_at"]))
        for row in rows
    }
    return [(key[0], key[1], row) for key, row in members.items() if stored.get(key) != row]


async def _store_guilds(
    conn: BaseDBAsyncClient, guild_ids: set[int], states: dict[int, datetime | None]
) -> int:
    """Create the guilds (and settings) not stored yet and record joins and leaves that
    changed something; returns the number of guild rows written."""
    if not guild_ids:
        return 0
    ids = list(guild_ids)
    stored = dict(await Guild.filter(id__in=ids).using_db(conn).values_list("id", "left_at"))
    missing = [guild_id for guild_id in ids if guild_id not in stored]
    if missing:
        await Guild.bulk_create(
            [Guild(id=guild_id, left_at=states.get(guild_id)) for guild_id in missing],
            ignore_conflicts=True,
            using_db=conn,
        )
    settings = GuildSettings.filter(guild_id__in=ids).using_db(conn)
    with_settings = set(await settings.values_list("guild_id", flat=True))
    if len(with_settings) < len(ids):
        without = [guild_id for guild_id in ids if guild_id not in with_settings]
        await _insert_default_settings(conn, without)
    back = [g for g, left_at in states.items() if left_at is None and stored.get(g) is not None]
    if back:
        await Guild.filter(id__in=back).using_db(conn).update(left_at=None)
    for guild_id, left_at in states.items():
        if left_at is not None and guild_id in stored and stored[guild_id] is None:
            await Guild.filter(id=guild_id).using_db(conn).update(left_at=left_at)
            back.append(guild_id)
    return len(missing) + len(back)


SETTINGS_ROWS_PER_STATEMENT = 100


def _default_settings_row() -> tuple[list[str], list[Any]]:
    """The columns of a new `guild_settings` row and their values but the guild's, from one
    model instance, converted as `bulk_create` converts them: a model per guild costs more than
    writing it (the table has dozens of columns)."""
    meta = GuildSettings._meta
    template = GuildSettings(guild_id=0)
    names = [
        name
        for name in meta.fields_db_projection
        if not meta.fields_map[name].generated and name != "guild_id"
    ]
    values = [
        meta.fields_map[name].to_db_value(getattr(template, name), template) for name in names
    ]
    return [meta.fields_db_projection[name] for name in names], values


async def _insert_default_settings(conn: BaseDBAsyncClient, guild_ids: list[int]) -> None:
    """Settings rows with the defaults for these guilds (existing rows are left alone), in
    multi-row statements whose shared values are sent once."""
    columns, shared = _default_settings_row()
    mark = "$" if conn.capabilities.dialect == "postgres" else "?"
    shared_marks = ", ".join(f"{mark}{number}" for number in range(1, len(shared) + 1))
    names = ", ".join(f'"{column}"' for column in ("guild_id", *columns))
    for start in range(0, len(guild_ids), SETTINGS_ROWS_PER_STATEMENT):
        chunk = guild_ids[start : start + SETTINGS_ROWS_PER_STATEMENT]
        rows = ", ".join(
            f"({mark}{len(shared) + index}, {shared_marks})" for index in range(1, len(chunk) + 1)
        )
        await conn.execute_query(
            f'INSERT INTO "{GuildSettings._meta.db_table}" ({names}) VALUES {rows} '
            "ON CONFLICT DO NOTHING",
            [*shared, *chunk],
        )


_PG_USERS_UPSERT = """
INSERT INTO "users" ("id", "username", "global_name", "discriminator", "avatar", "is_bot",
                     "created_at", "updated_at")
SELECT u.*, $7::timestamptz, $7::timestamptz
FROM unnest($1::bigint[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::bool[])
     AS u
ON CONFLICT ("id") DO UPDATE SET "username" = EXCLUDED."username",
    "global_name" = EXCLUDED."global_name", "discriminator" = EXCLUDED."discriminator",
    "avatar" = EXCLUDED."avatar", "is_bot" = EXCLUDED."is_bot", "updated_at" = EXCLUDED."updated_at"
"""

_SQLITE_USERS_UPSERT = """
INSERT INTO "users" ("id", "username", "global_name", "discriminator", "avatar", "is_bot",
                     "created_at", "updated_at")
VALUES {values}
ON CONFLICT ("id") DO UPDATE SET "username" = excluded."username",
    "global_name" = excluded."global_name", "discriminator" = excluded."discriminator",
    "avatar" = excluded."avatar", "is_bot" = excluded."is_bot", "updated_at" = excluded."updated_at"
"""

# A membership created here starts with no activity; an existing one keeps its counters.
_PG_MEMBERS_UPSERT = """
INSERT INTO "members" ("guild_id", "user_id", "nickname", "joined_at", "xp", "level", "messages",
                       "voice_minutes", "created_at", "updated_at")
SELECT m.*, 0, 0, 0, 0, $5::timestamptz, $5::timestamptz
FROM unnest($1::bigint[], $2::bigint[], $3::varchar[], $4::timestamptz[]) AS m
ON CONFLICT ("guild_id", "user_id") DO UPDATE SET "nickname" = EXCLUDED."nickname",
    "joined_at" = EXCLUDED."joined_at", "updated_at" = EXCLUDED."updated_at"
"""

_SQLITE_MEMBERS_UPSERT = """
INSERT INTO "members" ("guild_id", "user_id", "nickname", "joined_at", "xp", "level", "messages",
                       "voice_minutes", "created_at", "updated_at")
VALUES {values}
ON CONFLICT ("guild_id", "user_id") DO UPDATE SET "nickname" = excluded."nickname",
    "joined_at" = excluded."joined_at", "updated_at" = excluded."updated_at"
"""


def _sqlite_values(rows: int, columns: int) -> str:
    row = f"({_placeholders(columns)})"
    return ", ".join([row] * rows)


async def _upsert_user_rows(
    conn: BaseDBAsyncClient, dialect: str, users: list[tuple[int, _UserRow]], now: datetime
) -> None:
    if not users:
        return
    if dialect == "postgres":
        columns = [list(values) for values in zip(*(row for _id, row in users), strict=True)]
        await conn.execute_query(_PG_USERS_UPSERT, [[i for i, _row in users], *columns, now])
        return
    stamp = now.isoformat(" ")
    values = [v for user_id, row in users for v in (user_id, *row, stamp, stamp)]
    sql = _SQLITE_USERS_UPSERT.format(values=_sqlite_values(len(users), 8))
    await conn.execute_query(sql, values)


async def _upsert_member_rows(
    conn: BaseDBAsyncClient,
    dialect: str,
    members: list[tuple[int, int, _MemberRow]],
    now: datetime,
) -> None:
    if not members:
        return
    if dialect == "postgres":
        guild_ids, user_ids, rows = zip(*members, strict=True)
        nicknames = [nickname for nickname, _joined in rows]
        joined = [joined_at for _nickname, joined_at in rows]
        await conn.execute_query(
            _PG_MEMBERS_UPSERT, [list(guild_ids), list(user_ids), nicknames, joined, now]
        )
        return
    stamp = now.isoformat(" ")
    values = [
        v
        for guild_id, user_id, (nickname, joined_at) in members
        for v in (
            guild_id,
            user_id,
            nickname,
            joined_at.isoformat(" ") if joined_at else None,
            0,
            0,
            0,
            0,
            stamp,
            stamp,
        )
    ]
    sql = _SQLITE_MEMBERS_UPSERT.format(values=_sqlite_values(len(members), 10))
    await conn.execute_query(sql, values)
