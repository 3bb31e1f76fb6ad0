"""A guild's figures per day, for the dashboard's overview.

Messages, active members and XP given are added by the activity flush (one statement per flush,
inside its transaction: no query per message); joins and leaves by the gateway's member events.
Money, tickets and cases live in their own tables and are aggregated by query over the range.
No figure names a member.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum

from models.economy import EconomyBalance, EconomyTransaction
from models.levels import UserXP
from models.moderation import ModCase
from models.stats import GuildDailyStats
from models.tickets import Ticket
from pegasus.services import directory

__all__ = [
    "PERIODS",
    "DayFigures",
    "FlushedActivity",
    "GuildCharts",
    "guild_charts",
    "record_flush",
    "record_join",
    "record_leave",
]

PERIODS = (7, 30, 90)  # the ranges the overview offers, in days
# Members per read of who was active earlier today: well under SQLite's limit of variables.
READ_CHUNK = 900


@dataclass(frozen=True, slots=True)
class FlushedActivity:
    """One member's counts in a flushed batch."""

    guild_id: int
    user_id: int
    messages: int
    xp: int


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    messages: int = 0
    active_members: int = 0
    joins: int = 0
    leaves: int = 0
    xp_given: int = 0
    transactions: int = 0
    money_moved: int = 0  # sum of the absolute wallet and bank changes
    money_supply: int = 0  # wallets and banks at the end of the day
    tickets_opened: int = 0
    tickets_closed: int = 0


@dataclass(frozen=True, slots=True)
class GuildCharts:
    days: tuple[DayFigures, ...]  # oldest first, one per day of the range
    cases_by_type: tuple[tuple[str, int], ...]  # most first
    median_first_response_seconds: float | None  # tickets opened in the range and answered


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


# -- writing ----------------------------------------------------------------------------------


def _upsert_sql(dialect: str) -> str:
    marks = [f"${i}" for i in range(1, 8)] if dialect == "postgres" else ["?"] * 7
    return (
        "INSERT INTO guild_daily_stats "
        "(guild_id, day, messages, active_members, joins, leaves, xp_given) "
        f"VALUES ({', '.join(marks)}) ON CONFLICT (guild_id, day) DO UPDATE SET "
        "messages = guild_daily_stats.messages + EXCLUDED.messages, "
        "active_members = guild_daily_stats.active_members + EXCLUDED.active_members, "
        "joins = guild_daily_stats.joins + EXCLUDED.joins, "
        "leaves = guild_daily_stats.leaves + EXCLUDED.leaves, "
        "xp_given = guild_daily_stats.xp_given + EXCLUDED.xp_given"
    )


def _day_value(dialect: str, day: date) -> date | str:
    return day if dialect == "postgres" else day.isoformat()


async def _add(
    conn: BaseDBAsyncClient, rows: Sequence[tuple[int, date, int, int, int, int, int]]
) -> None:
    """Add to the figures of (guild, day) rows atomically, in guild order (lock order)."""
    dialect = conn.capabilities.dialect
    values = [
        [guild_id, _day_value(dialect, day), *counts]
        for guild_id, day, *counts in sorted(rows, key=lambda row: (row[0], row[1]))
    ]
    if values:
        await conn.execute_many(_upsert_sql(dialect), values)


async def record_flush(
    conn: BaseDBAsyncClient, activity: Iterable[FlushedActivity], now: datetime
) -> None:
    """Add a flushed batch to today's figures, inside the flush's transaction and before its
    user_xp rows are written. A member counts as active once a day: not when their message XP
    was already earned earlier today (user_xp.last_message_xp_at), which the batch has not
    written yet."""
    today = now.astimezone(UTC).date()
    members = [entry for entry in activity if entry.messages or entry.xp]
    if not members:
        return
    talking = [entry for entry in members if entry.messages]
    seen_today: set[tuple[int, int]] = set()
    user_ids = sorted({entry.user_id for entry in talking})
    guild_ids = sorted({entry.guild_id for entry in talking})
    for start in range(0, len(user_ids), READ_CHUNK):
        chunk = user_ids[start : start + READ_CHUNK]
        if conn.capabilities.dialect == "sqlite":
            rows = await _seen_today_on_sqlite(conn, guild_ids, chunk, _day_start(today))
        else:
            rows = await (
                UserXP.filter(
                    guild_id__in=guild_ids,
                    user_id__in=chunk,
                    last_message_xp_at__gte=_day_start(today),
                )
                .using_db(conn)
                .values_list("guild_id", "user_id")
            )
        seen_today.update((guild_id, user_id) for guild_id, user_id in rows)
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in members:
        total = totals[entry.guild_id]
        total[0] += entry.messages
        if entry.messages and (entry.guild_id, entry.user_id) not in seen_today:
            total[1] += 1
        total[2] += entry.xp
    await _add(
        conn,
        [
            (guild_id, today, messages, active, 0, 0, xp)
            for guild_id, (messages, active, xp) in totals.items()
        ],
    )


async def _seen_today_on_sqlite(
    conn: BaseDBAsyncClient, guild_ids: Sequence[int], user_ids: Sequence[int], since: datetime
) -> list[tuple[int, int]]:
    """The (guild, user) rows among these that earned message XP since `since`, read as one
    JSON array: row by row, aiosqlite's thread would take Python's lock (the GIL) back after
    each, and while the bot's own thread lets go of it for every message (RE2 does, for
    automod), each row would cost both threads a switch."""
    sql = _seen_today_sql(len(guild_ids), len(user_ids))
    found = await conn.execute_query_dict(sql, [*guild_ids, *user_ids, since])
    return [(guild_id, user_id) for guild_id, user_id in json.loads(found[0]["found"])]


def _seen_today_sql(guilds: int, users: int) -> str:
    return (
        "SELECT json_group_array(json_array(guild_id, user_id)) AS found FROM user_xp "
        f"WHERE guild_id IN ({', '.join('?' * guilds)}) "
        f"AND user_id IN ({', '.join('?' * users)}) AND last_message_xp_at >= ?"
    )


async def _record_member_event(guild_id: int, now: datetime, *, joined: bool) -> None:
    conn = Tortoise.get_connection("default")
    row = (guild_id, now.astimezone(UTC).date(), 0, 0, int(joined), int(not joined), 0)
    try:
        await _add(conn, [row])
    except IntegrityError:  # the guild's row is not stored yet (one statement in a raid)
        await directory.ensure_guild(guild_id)
        await _add(conn, [row])


async def record_join(guild_id: int, now: datetime) -> None:
    await _record_member_event(guild_id, now, joined=True)


async def record_leave(guild_id: int, now: datetime) -> None:
    await _record_member_event(guild_id, now, joined=False)


# -- reading ----------------------------------------------------------------------------------


async def guild_charts(guild_id: int, days: int, today: date) -> GuildCharts:
    """The figures of the `days` days up to and including `today` (UTC)."""
    first = today - timedelta(days=days - 1)
    since = _day_start(first)
    figures: dict[date, dict[str, int]] = {
        first + timedelta(days=i): defaultdict(int) for i in range(days)
    }
    await _stored_figures(guild_id, first, figures)
    await _money_figures(guild_id, since, figures)
    median = await _ticket_figures(guild_id, since, figures)
    cases = await _cases_by_type(guild_id, since)
    return GuildCharts(
        days=tuple(DayFigures(day=day, **values) for day, values in sorted(figures.items())),
        cases_by_type=cases,
        median_first_response_seconds=median,
    )


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def _stored_figures(guild_id: int, first: date, figures: dict[date, dict[str, int]]) -> None:
    rows = await GuildDailyStats.filter(guild_id=guild_id, day__gte=first).values(
        "day", "messages", "active_members", "joins", "leaves", "xp_given"
    )
    for row in rows:
        day = _as_date(row.pop("day"))
        if day in figures:
            figures[day].update(row)


async def _money_figures(
    guild_id: int, since: datetime, figures: dict[date, dict[str, int]]
) -> None:
    """Transactions a day, and the money supply at each day's end: today's wallets and banks
    less what the transactions after that day added."""
    sums = (
        await EconomyBalance.filter(guild_id=guild_id)
        .annotate(wallets=Sum("wallet"), banks=Sum("bank"))
        .values("wallets", "banks")
    )
    supply = sum(int(row["wallets"] or 0) + int(row["banks"] or 0) for row in sums)
    rows = await EconomyTransaction.filter(guild_id=guild_id, created_at__gte=since).values_list(
        "created_at", "amount", "bank_amount"
    )
    added: Counter[date] = Counter()
    for created_at, amount, bank_amount in rows:
        day = created_at.astimezone(UTC).date()
        if day in figures:
            figures[day]["transactions"] += 1
            figures[day]["money_moved"] += abs(amount) + abs(bank_amount)
            added[day] += amount + bank_amount
    for day in sorted(figures, reverse=True):  # today first: later days are known
        figures[day]["money_supply"] = supply
        supply -= added[day]


async def _ticket_figures(
    guild_id: int, since: datetime, figures: dict[date, dict[str, int]]
) -> float | None:
    opened = await Ticket.filter(guild_id=guild_id, created_at__gte=since).values_list(
        "created_at", "first_response_at"
    )
    waits: list[float] = []
    for created_at, first_response_at in opened:
        day = created_at.astimezone(UTC).date()
        if day in figures:
            figures[day]["tickets_opened"] += 1
        if first_response_at is not None:
            waits.append((first_response_at - created_at).total_seconds())
    closed = await Ticket.filter(guild_id=guild_id, closed_at__gte=since).values_list(
        "closed_at", flat=True
    )
    for closed_at in closed:
        day = closed_at.astimezone(UTC).date()
        if day in figures:
            figures[day]["tickets_closed"] += 1
    return statistics.median(waits) if waits else None


async def _cases_by_type(guild_id: int, since: datetime) -> tuple[tuple[str, int], ...]:
    kinds = await ModCase.filter(guild_id=guild_id, created_at__gte=since).values_list(
        "type", flat=True
    )
    counted = Counter(str(getattr(kind, "value", kind)) for kind in kinds)
    return tuple(sorted(counted.items(), key=lambda item: (-item[1], item[0])))
