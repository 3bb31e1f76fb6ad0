"""The activity buffer: cooldowns, batched flushes, level changes, voice time and reconciliation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from tortoise.transactions import in_transaction

from models.guilds import Member
from models.levels import UserXP, VoiceSession
from pegasus.db import dialect_of
from pegasus.services import levels as lv
from pegasus.services.directory import UserInfo
from pegasus.services.levels import (
    CONFIG_TTL_SECONDS,
    Activity,
    ActivityContext,
    ChannelKind,
    GuildVoice,
    LevelCaches,
    LevelChange,
    VoiceRules,
    VoiceStateInfo,
    VoiceTracker,
)

GUILD = 111_111_111_111_111_111
ALICE = 800_000_000_000_000_001
BOB = 800_000_000_000_000_002
CAROL = 800_000_000_000_000_003
DAVE = 800_000_000_000_000_004
ERIN = 800_000_000_000_000_005
GENERAL = 600_000_000_000_000_001
QUIET = 600_000_000_000_000_002
LOUNGE = 700_000_000_000_000_001
GAMING = 700_000_000_000_000_002
AFK = 700_000_000_000_000_009
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_activity(clock: Clock, **kwargs) -> Activity:
    return Activity(LevelCaches(), clock=clock, rng=random.Random(3), **kwargs)


def said(user_id: int, clock: Clock, channel: int = GENERAL, **kwargs) -> ActivityContext:
    return ActivityContext(user_id, (channel,), now=clock(), **kwargs)


async def stored(user_id: int) -> tuple[int, int, int, int, int]:
    """(user_xp.xp, user_xp.level, members.xp, members.messages, members.voice_minutes)."""
    row = await UserXP.get(guild_id=GUILD, user_id=user_id)
    member = await Member.get(guild_id=GUILD, user_id=user_id)
    assert member.level == row.level  # the mirror is always in step
    return row.xp, row.level, member.xp, member.messages, member.voice_minutes


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --------------------------------------------------------------------------- messages


async def test_cooldown_gives_xp_once_per_minute_but_counts_every_message(
    db: str, clock: Clock
) -> None:
    activity = make_activity(clock)
    first = await activity.record_message(GUILD, said(ALICE, clock))
    assert 15 <= first <= 25
    for _ in range(4):
        clock.advance(10)
        assert await activity.record_message(GUILD, said(ALICE, clock)) == 0
    clock.advance(20)  # 60 s after the first
    second = await activity.record_message(GUILD, said(ALICE, clock))
    assert second > 0
    assert await activity.flush() == []
    assert await stored(ALICE) == (first + second, 0, first + second, 6, 0)


async def test_flushes_increment_and_report_level_ups(db: str, clock: Clock) -> None:
    await lv.update_settings(GUILD, xp_min=60, xp_max=60, xp_cooldown_seconds=0)
    seen: list[list[LevelChange]] = []

    async def handler(changes: list[LevelChange]) -> None:
        seen.append(changes)

    activity = make_activity(clock, on_level_changes=handler)
    await activity.record_message(GUILD, said(ALICE, clock))
    assert await activity.flush() == []
    await activity.record_message(GUILD, said(ALICE, clock, channel=QUIET))
    changes = await activity.flush()
    assert changes == [LevelChange(GUILD, ALICE, 0, 1, 120, QUIET)]
    assert await stored(ALICE) == (120, 1, 120, 2, 0)
    for _ in range(3):
        await activity.record_message(GUILD, said(ALICE, clock))
    assert await activity.flush() == [LevelChange(GUILD, ALICE, 1, 2, 300, GENERAL)]
    await activity.stop()  # waits for the handlers
    assert [c.new_level for batch in seen for c in batch] == [1, 2]


async def test_channels_roles_and_blacklist(db: str, clock: Clock) -> None:
    await lv.update_settings(GUILD, xp_cooldown_seconds=0)
    await lv.set_channel_kind(GUILD, QUIET, ChannelKind.NO_XP)
    await lv.set_channel_kind(GUILD, 42, ChannelKind.IGNORED)
    await lv.toggle_ignored_role(GUILD, 7)
    activity = make_activity(clock)
    assert await activity.record_message(GUILD, said(ALICE, clock, channel=42)) == 0
    assert await activity.record_message(GUILD, said(ALICE, clock, channel=QUIET)) == 0
    assert await activity.record_message(GUILD, said(BOB, clock, role_ids=frozenset({7}))) == 0
    assert await activity.record_message(GUILD, said(CAROL, clock, blacklisted=True)) == 0
    await activity.flush()
    assert await stored(ALICE) == (0, 0, 0, 1, 0)  # the ignored channel did not count
    assert await stored(BOB) == (0, 0, 0, 1, 0)
    assert await stored(CAROL) == (0, 0, 0, 1, 0)


async def test_settings_apply_after_invalidation(db: str, clock: Clock) -> None:
    activity = make_activity(clock)
    await activity.record_message(GUILD, said(ALICE, clock))
    await lv.update_settings(GUILD, xp_enabled=False)
    activity.caches.invalidate(GUILD)
    clock.advance(120)
    assert await activity.record_message(GUILD, said(ALICE, clock)) == 0


@contextlib.asynccontextmanager
async def settings_reads_held(db_url: str) -> AsyncIterator[None]:
    """Reads of the guild settings wait until the block ends, as behind another writer: on
    PostgreSQL a transaction holds the table's lock, on SQLite one holds the connection."""
    held, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with in_transaction() as conn:
            if dialect_of(db_url) == "postgres":
                await conn.execute_script("LOCK TABLE guild_settings IN ACCESS EXCLUSIVE MODE")
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    try:
        yield
    finally:
        release.set()
        await holder


async def test_expired_settings_are_served_while_one_reload_runs(
    db: str, clock: Clock, statements: list[str]
) -> None:
    ttl_clock = Clock()
    activity = Activity(LevelCaches(clock=ttl_clock), clock=clock, rng=random.Random(3))
    assert 15 <= await activity.record_message(GUILD, said(ALICE, clock)) <= 25
    await lv.update_settings(GUILD, xp_min=1, xp_max=2)  # as another process would
    ttl_clock.advance(CONFIG_TTL_SECONDS + 1)  # both the settings and the boosts expired
    statements.clear()
    async with settings_reads_held(db):
        async with asyncio.timeout(0.5):  # nothing waits for the reload
            earned = [
                await activity.record_message(GUILD, said(user_id, clock))
                for user_id in (BOB, CAROL, DAVE)
            ]
        assert all(15 <= xp <= 25 for xp in earned), earned  # counted with the old settings
        assert activity.caches.reloading(GUILD)
    await activity.caches.wait_reloads()
    reads = [s for s in statements if 'FROM "guild_settings"' in s]
    assert len(reads) == 1, reads  # one reload for all the messages that met the expiry
    # Counted with the new settings (1 or 2 XP a message), now that they are loaded.
    assert await activity.record_message(GUILD, said(ERIN, clock)) in (1, 2)
    await activity.flush()
    assert [(await stored(u))[3] for u in (ALICE, BOB, CAROL, DAVE, ERIN)] == [1] * 5


async def test_names_of_new_users_are_stored(db: str, clock: Clock) -> None:
    from models.guilds import User

    activity = make_activity(clock)
    info = UserInfo(id=ALICE, username="alice", global_name="Alice A.")
    assert activity.needs_user(ALICE)
    await activity.record_message(GUILD, said(ALICE, clock), user=info)
    await activity.flush()
    assert not activity.needs_user(ALICE)
    user = await User.get(id=ALICE)
    assert (user.username, user.global_name) == ("alice", "Alice A.")


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """SQL statements sent by Tortoise during the test."""
    sent: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sent.append(str(record.args[0]) if record.args else record.getMessage())

    logger = logging.getLogger("tortoise.db_client")
    handler = Count(logging.DEBUG)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield sent
    logger.removeHandler(handler)
    logger.setLevel(old_level)


async def test_a_warm_flush_of_2500_members_is_a_handful_of_statements(
    db: str, clock: Clock, statements: list[str]
) -> None:
    activity = make_activity(clock)
    users = [900_000 + i for i in range(2500)]
    for user_id in users:
        await activity.record_message(GUILD, said(user_id, clock))
    await activity.flush()  # cold: creates the guild and user rows as well
    clock.advance(61)
    for user_id in users:
        await activity.record_message(GUILD, said(user_id, clock))
    statements.clear()
    await activity.flush()
    upserts = [
        s for s in statements if s.startswith("INSERT") and '"change_notices"' not in s
    ]
    # For user_xp and for members: on SQLite 3 chunks of at most 1,000 rows, on PostgreSQL one
    # statement of arrays; then one each for the XP histogram and its tie blocks, and one for
    # the guild's figures of the day.
    assert len(upserts) == (2 if dialect_of(db) == "postgres" else 6) + 3
    # Who was active earlier today is read once per 900 members (the day's active members;
    # on SQLite as one JSON array, not row by row).
    reads = [
        s
        for s in statements
        if s.startswith("SELECT")
        and ('FROM "user_xp"' in s or "FROM user_xp WHERE guild_id IN" in s)
    ]
    assert len(reads) == 3
    # On SQLite each chunk's user_xp rows are read back as one JSON array (RETURNING would
    # send them one row at a time); PostgreSQL's statement returns them.
    read_backs = [s for s in statements if s.startswith("WITH keys(guild_id, user_id)")]
    assert len(read_backs) == (0 if dialect_of(db) == "postgres" else 3)
    # plus at most one batched level update, and the change announced to the other processes
    # in one statement (PostgreSQL's NOTIFY, SQLite's notice rows)
    announced = [
        s for s in statements if "pg_notify" in s or s.startswith('INSERT INTO "change_notices"')
    ]
    assert len(announced) == 1
    assert len(statements) <= len(upserts) + len(reads) + len(read_backs) + 1 + len(announced)
    assert await UserXP.filter(guild_id=GUILD).count() == 2500
    assert sum(await Member.filter(guild_id=GUILD).values_list("messages", flat=True)) == 5000


async def test_flushes_of_any_size_reuse_their_statements_and_store_exact_values(
    db: str, clock: Clock, statements: list[str]
) -> None:
    await lv.update_settings(GUILD, xp_min=10, xp_max=10, xp_cooldown_seconds=0)
    activity = make_activity(clock)
    expected: dict[int, int] = {}  # user → messages (and XP / 10)
    sent: list[list[str]] = []  # the user_xp upserts of each flush
    for size in (1234, 7, 1234, 1000, 7):
        users = [900_000 + (size * 7 + i) % 2000 for i in range(size)]  # overlapping sets
        for user_id in users:
            await activity.record_message(GUILD, said(user_id, clock))
            expected[user_id] = expected.get(user_id, 0) + 1
        statements.clear()
        await activity.flush()
        sent.append([s for s in statements if s.startswith("INSERT INTO user_xp")])
        rows = await UserXP.filter(guild_id=GUILD).values_list("user_id", "xp")
        assert dict(rows) == {u: 10 * n for u, n in expected.items()}
        members = await Member.filter(guild_id=GUILD).values_list("user_id", "messages", "xp")
        assert {u: (m, xp) for u, m, xp in members} == {u: (n, 10 * n) for u, n in expected.items()}
    texts = [text for flush in sent for text in flush]
    if dialect_of(db) == "postgres":
        # One text whatever the number of rows: prepared once per connection.
        assert [len(flush) for flush in sent] == [1] * 5
        assert len(set(texts)) == 1
    else:
        assert [len(flush) for flush in sent] == [2, 1, 2, 1, 1]  # chunks of 1,000 rows
        assert len(set(texts)) == 3  # 1,000, 234 and 7 rows
    # Each text was built once and then reused, not built again for every flush.
    assert len({id(text) for text in texts}) == len(set(texts))


async def test_a_failed_flush_is_kept_and_retried(db: str, clock: Clock) -> None:
    activity = make_activity(clock)
    await activity.record_message(GUILD, said(ALICE, clock))
    # Pretend the guild row exists when it does not: the write fails on the foreign key.
    activity._known_guilds.add(GUILD)
    activity._known_users.add(ALICE)
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await activity.flush()
    clock.advance(61)
    await activity.record_message(GUILD, said(ALICE, clock))  # arrives meanwhile
    await activity.flush()
    xp, _level, _mirror, messages, _minutes = await stored(ALICE)
    assert messages == 2 and xp >= 30


async def test_stop_flushes_what_is_left(db: str, clock: Clock) -> None:
    activity = make_activity(clock, interval=3600)
    activity.start()
    await activity.record_message(GUILD, said(ALICE, clock))
    await activity.stop()
    assert (await stored(ALICE))[3] == 1


async def test_discard_drops_pending_xp_before_a_manual_set(db: str, clock: Clock) -> None:
    activity = make_activity(clock)
    await activity.record_message(GUILD, said(ALICE, clock))
    async with activity.lock:
        activity.discard(GUILD, ALICE)
        await lv.adjust_xp(GUILD, ALICE, lv.XpOperation.SET, 500, now=datetime.now(UTC))
    await activity.flush()
    assert await stored(ALICE) == (500, 3, 500, 1, 0)


# --------------------------------------------------------------------------- voice, in memory


RULES = VoiceRules(min_members=2, afk_channel_id=AFK)


def join(tracker: VoiceTracker, user_id: int, channel: int, now: float, **flags) -> None:
    tracker.update(GUILD, user_id, VoiceStateInfo(user_id, channel, **flags), now=now, rules=RULES)


def leave(tracker: VoiceTracker, user_id: int, now: float) -> None:
    tracker.update(GUILD, user_id, None, now=now, rules=RULES)


def minutes(credits) -> dict[int, int]:
    totals: dict[int, int] = {}
    for credit in credits:
        totals[credit.user_id] = totals.get(credit.user_id, 0) + credit.minutes
    return totals


def test_voice_counts_only_with_company() -> None:
    tracker = VoiceTracker()
    join(tracker, ALICE, LOUNGE, 0)
    assert not tracker.is_counting(GUILD, ALICE)
    join(tracker, BOB, LOUNGE, 100)
    assert tracker.is_counting(GUILD, ALICE) and tracker.is_counting(GUILD, BOB)
    assert minutes(tracker.collect(now=250)) == {ALICE: 2, BOB: 2}  # 150 s: 2 min, 30 s carried
    leave(tracker, BOB, 280)  # 180 s for bob: his third minute is credited as he leaves
    assert not tracker.is_counting(GUILD, ALICE)
    # alice's third minute was complete when bob left; nothing counts after that
    assert minutes(tracker.collect(now=1000)) == {ALICE: 1, BOB: 1}
    assert minutes(tracker.collect(now=5000)) == {}
    assert tracker.members(GUILD) == {ALICE: LOUNGE}


def test_carry_becomes_a_minute_later() -> None:
    tracker = VoiceTracker()
    join(tracker, ALICE, LOUNGE, 0)
    join(tracker, BOB, LOUNGE, 0)
    assert minutes(tracker.collect(now=90)) == {ALICE: 1, BOB: 1}
    assert minutes(tracker.collect(now=110)) == {}
    assert minutes(tracker.collect(now=120)) == {ALICE: 1, BOB: 1}


def test_muted_deafened_and_afk_members_do_not_count() -> None:
    tracker = VoiceTracker()
    join(tracker, ALICE, LOUNGE, 0, muted=True)
    join(tracker, BOB, LOUNGE, 0)
    join(tracker, CAROL, LOUNGE, 0, deafened=True)
    assert not tracker.is_counting(GUILD, ALICE)
    assert tracker.is_counting(GUILD, BOB)  # muted and deafened members still keep him company
    assert not tracker.is_counting(GUILD, CAROL)
    tracker.update(GUILD, ALICE, VoiceStateInfo(ALICE, LOUNGE), now=60, rules=RULES)  # unmutes
    assert tracker.is_counting(GUILD, ALICE)
    join(tracker, BOB, AFK, 60)
    join(tracker, CAROL, AFK, 60)
    assert not tracker.is_counting(GUILD, BOB)
    assert not tracker.is_counting(GUILD, ALICE)  # alone in the lounge now
    assert minutes(tracker.collect(now=600)) == {BOB: 1}


def test_rules_can_count_muted_members() -> None:
    tracker = VoiceTracker()
    lenient = VoiceRules(min_members=1, count_muted=True, count_deafened=True)
    tracker.update(GUILD, ALICE, VoiceStateInfo(ALICE, LOUNGE, True, True), now=0, rules=lenient)
    assert tracker.is_counting(GUILD, ALICE)


def test_new_rules_apply_at_collection() -> None:
    tracker = VoiceTracker()
    join(tracker, ALICE, LOUNGE, 0)
    assert minutes(tracker.collect(now=60, rules_for=lambda _g: RULES)) == {}
    relaxed = VoiceRules(min_members=1, afk_channel_id=AFK)
    assert minutes(tracker.collect(now=60, rules_for=lambda _g: relaxed)) == {}
    assert tracker.is_counting(GUILD, ALICE)
    assert minutes(tracker.collect(now=125, rules_for=lambda _g: relaxed)) == {ALICE: 1}


def test_time_while_disconnected_is_never_credited() -> None:
    tracker = VoiceTracker()
    join(tracker, ALICE, LOUNGE, 0)
    join(tracker, BOB, LOUNGE, 0)
    tracker.pause([GUILD], now=50)
    leave(tracker, BOB, 3000)  # replayed on resume: bob left at some unknown moment
    assert minutes(tracker.collect(now=3000)) == {}  # 50 s each before the pause: no minute yet
    states = [VoiceStateInfo(ALICE, LOUNGE), VoiceStateInfo(CAROL, LOUNGE)]
    tracker.reconcile(GUILD, states, now=3600, rules=RULES)
    assert tracker.is_counting(GUILD, ALICE) and tracker.is_counting(GUILD, CAROL)
    # alice: 50 s before the pause + 10 s after the reconcile = her first minute
    assert minutes(tracker.collect(now=3610)) == {ALICE: 1}


# --------------------------------------------------------------------------- voice, stored


async def test_voice_sessions_minutes_and_xp_are_stored(db: str, clock: Clock) -> None:
    activity = make_activity(clock)
    for user_id in (ALICE, BOB):
        await activity.record_voice(
            GUILD, user_id, VoiceStateInfo(user_id, LOUNGE), afk_channel_id=AFK
        )
    await activity.flush()
    sessions = await VoiceSession.filter(guild_id=GUILD).order_by("user_id")
    assert [(s.user_id, s.channel_id) for s in sessions] == [(ALICE, LOUNGE), (BOB, LOUNGE)]
    clock.advance(125)
    await activity.flush()
    assert await stored(ALICE) == (10, 0, 10, 0, 2)  # 2 minutes at 5 XP
    session = await VoiceSession.get(guild_id=GUILD, user_id=ALICE)
    assert session.last_credited_at.timestamp() == pytest.approx(clock.now)
    await activity.record_voice(GUILD, BOB, None, afk_channel_id=AFK)
    await activity.flush()
    assert await VoiceSession.filter(guild_id=GUILD).values_list("user_id", flat=True) == [ALICE]


async def test_a_crash_never_credits_the_time_the_bot_was_down(db: str, clock: Clock) -> None:
    before = make_activity(clock)
    for user_id in (ALICE, BOB):
        await before.record_voice(
            GUILD, user_id, VoiceStateInfo(user_id, LOUNGE), afk_channel_id=AFK
        )
    clock.advance(90)
    await before.flush()  # one minute each credited, 30 s carried in memory
    del before  # the process dies: no stop, no flush

    clock.advance(3 * 3600)
    after = make_activity(clock)
    # Bob left while the bot was down; Carol joined alice meanwhile.
    await after.reconcile_voice(
        GUILD,
        [VoiceStateInfo(ALICE, LOUNGE), VoiceStateInfo(CAROL, LOUNGE)],
        afk_channel_id=AFK,
    )
    await after.flush()
    rows = await VoiceSession.filter(guild_id=GUILD).order_by("user_id")
    assert [r.user_id for r in rows] == [ALICE, CAROL]
    assert rows[0].started_at.timestamp() == pytest.approx(START)  # the same session goes on
    clock.advance(61)
    await after.flush()
    assert (await stored(ALICE))[4] == 2  # one minute before the crash, one after
    assert (await stored(BOB))[4] == 1
    assert (await stored(CAROL))[4] == 1  # counted from the start-up, not from her join


async def test_reconciling_a_thousand_guilds_at_start_up_reads_their_sessions_once(
    db: str, clock: Clock, statements: list[str]
) -> None:
    guilds = [GUILD + i for i in range(1000)]
    before = make_activity(clock)
    for guild_id in (guilds[0], guilds[-1]):
        await before.record_voice(
            guild_id, ALICE, VoiceStateInfo(ALICE, LOUNGE), afk_channel_id=AFK
        )
    await before.flush()
    del before  # the process stops without leaving voice

    clock.advance(3600)
    after = make_activity(clock)
    # Alice is still in voice in the last guild and left the first one while the bot was down.
    present = (VoiceStateInfo(ALICE, LOUNGE),)
    voice = [GuildVoice(g, present if g == guilds[-1] else (), AFK) for g in guilds]
    statements.clear()
    await after.reconcile_voice_of_guilds(voice)
    reads = [s for s in statements if "voice_sessions" in s and s.startswith("SELECT")]
    assert len(reads) == 2  # 900 guilds a statement, not one statement per guild
    await after.flush()
    rows = await VoiceSession.all().values_list("guild_id", "user_id", "started_at")
    assert [(g, u) for g, u, _ in rows] == [(guilds[-1], ALICE)]
    assert rows[0][2].timestamp() == pytest.approx(START)  # the same session goes on
    assert after.voice.members(guilds[-1]) == {ALICE: LOUNGE}
    assert after.voice.members(guilds[0]) == {}


async def test_flushes_and_manual_changes_race_without_losing_xp(db: str, clock: Clock) -> None:
    # No buffer lock here: the database alone must keep both writers' increments.
    await lv.update_settings(GUILD, xp_min=10, xp_max=10, xp_cooldown_seconds=0)
    activity = make_activity(clock)
    users = [900_000 + i for i in range(30)]
    now = datetime.now(UTC)
    for _ in range(3):
        for user_id in users:
            await activity.record_message(GUILD, said(user_id, clock))
        await asyncio.gather(
            activity.flush(),
            *(lv.adjust_xp(GUILD, u, lv.XpOperation.ADD, 5, now=now) for u in users),
        )
    for user_id in users:
        xp, level, mirror, messages, _minutes = await stored(user_id)
        assert (xp, mirror, messages) == (45, 45, 3)
        assert level == lv.level_for_xp(45)


def test_sqlite_reads_the_flushed_rows_back_by_index_not_by_scanning() -> None:
    """The flush reads its rows back as one JSON array on SQLite: each key must be found by
    user_xp's unique (guild_id, user_id) index, which its ON CONFLICT relies on, or every flush
    would read the whole table. (SQLite's planner, on a table with that index.)"""
    from pegasus.services.levels.activity import _read_back_sql
    from pegasus.services.stats import _seen_today_sql

    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE user_xp (id INTEGER PRIMARY KEY, guild_id BIGINT, user_id BIGINT, "
        "xp BIGINT, level INT, last_message_xp_at TIMESTAMP)"
    )
    db.execute("CREATE UNIQUE INDEX uid_user_xp ON user_xp (guild_id, user_id)")
    for sql, values in ((_read_back_sql(3), [1, 2] * 3), (_seen_today_sql(2, 3), [1] * 6)):
        details = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, values)]
        assert not any(d.startswith("SCAN") and "user_xp" in d for d in details), details
        assert any("USING INDEX uid_user_xp" in d for d in details), details
        assert db.execute(sql, values).fetchone() == ("[]",)
