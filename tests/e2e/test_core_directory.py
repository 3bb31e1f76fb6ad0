"""Guilds, users and members are stored as the bot sees them: from GUILD_CREATE and member chunks,
in the background and only what changed, and again when a member's nickname changes."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import weakref

import discord
import pytest
from tortoise import connections

from models.guilds import Member, User
from pegasus.localdiscord.env import DiscordEnv
from pegasus.longlived import DEFERRED_FULL_THRESHOLD

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",), members=300)

BIG_GUILD_MEMBERS = 20_000


async def test_a_large_guild_is_stored_at_start_up(discord_env: DiscordEnv) -> None:
    env = discord_env
    everyone = {member.id for member in env.guild.members}
    assert len(everyone) > 300

    stored = set(await Member.filter(guild_id=env.guild.id).values_list("user_id", flat=True))
    assert stored == everyone
    assert await User.filter(id__in=list(everyone)).count() == len(everyone)


@pytest.mark.discord_env(chunk_guilds_at_startup=False)
async def test_members_that_arrive_in_chunks_later_are_stored(discord_env: DiscordEnv) -> None:
    env = discord_env
    # A large guild's GUILD_CREATE carries only the bot (and members in voice); with chunking
    # at start-up off, the rest arrive only when the bot asks for them.
    stored = await Member.filter(guild_id=env.guild.id).count()
    assert stored < 10

    guild = env.bot.get_guild(env.guild.id)
    await guild.chunk()
    await env.settle()

    everyone = {member.id for member in env.guild.members}
    stored_ids = await Member.filter(guild_id=env.guild.id).values_list("user_id", flat=True)
    assert set(stored_ids) == everyone
    alice = await User.get(id=env.alice.id)
    assert alice.username == "alice"


WRITE_COUNTER_SQLITE = [
    'CREATE TABLE "test_writes" ("tbl" TEXT PRIMARY KEY, "n" INTEGER NOT NULL)',
    "INSERT INTO \"test_writes\" VALUES ('users', 0), ('members', 0)",
    *(
        f'CREATE TRIGGER "test_{table}_{op}" AFTER {op} ON "{table}" BEGIN '
        f"UPDATE \"test_writes\" SET \"n\" = \"n\" + 1 WHERE \"tbl\" = '{table}'; END"
        for table in ("users", "members")
        for op in ("INSERT", "UPDATE")
    ),
]

WRITE_COUNTER_POSTGRES = [
    'CREATE TABLE "test_writes" ("tbl" TEXT PRIMARY KEY, "n" INTEGER NOT NULL)',
    "INSERT INTO \"test_writes\" VALUES ('users', 0), ('members', 0)",
    'CREATE FUNCTION "test_count_write"() RETURNS trigger AS $$ BEGIN '
    'UPDATE "test_writes" SET "n" = "n" + 1 WHERE "tbl" = TG_TABLE_NAME; RETURN NULL; END '
    "$$ LANGUAGE plpgsql",
    *(
        f'CREATE TRIGGER "test_{table}_written" AFTER INSERT OR UPDATE ON "{table}" '
        'FOR EACH ROW EXECUTE FUNCTION "test_count_write"()'
        for table in ("users", "members")
    ),
]


async def count_row_writes() -> None:
    """From now on the database counts every row inserted or updated in users and members."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    for sql in WRITE_COUNTER_POSTGRES if postgres else WRITE_COUNTER_SQLITE:
        await conn.execute_script(sql)


async def rows_written() -> dict[str, int]:
    rows = await connections.get("default").execute_query_dict('SELECT * FROM "test_writes"')
    return {row["tbl"]: row["n"] for row in rows}


async def test_a_second_start_writes_only_the_rows_that_changed(discord_env: DiscordEnv) -> None:
    env = discord_env
    await count_row_writes()
    await env.stop_bot()
    # While the bot is away: one member changes their nickname, one joins.
    env.guild.member("alice").nick = "Ally"
    newcomer = env.guild.new_member(env.server.create_user("newcomer"))

    await env.start_bot()
    await env.settle()

    assert await rows_written() == {"users": 1, "members": 2}
    assert (await Member.get(guild_id=env.guild.id, user_id=env.alice.id)).nickname == "Ally"
    assert await Member.exists(guild_id=env.guild.id, user_id=newcomer.id)


class LoopTicker:
    """Counts the turns of the event loop, to show what ran between two other things."""

    def __init__(self) -> None:
        self.turns = 0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.turns += 1

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()


class MemberWrites(logging.Handler):
    """The loop turn at which each statement writing `members` was sent."""

    def __init__(self, ticker: LoopTicker) -> None:
        super().__init__(logging.DEBUG)
        self.ticker = ticker
        self.turns: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        sql = str(record.args[0]) if record.args else record.getMessage()
        if 'INSERT INTO "members"' in sql:
            self.turns.append(self.ticker.turns)


@pytest.mark.discord_env(extensions=("cogs.core",), members=0)
async def test_a_big_guild_is_stored_in_batches_with_the_loop_free_between_them(
    discord_env: DiscordEnv,
) -> None:
    """No stall long enough to hold up a command: the 20,000 members are written as a few
    multi-row statements, and other tasks run between them (the loop is not held for the whole
    sync). How long a stall lasts is measured by benchmarks/startup.py, not asserted here."""
    env = discord_env
    big = env.server.create_guild("Big", owner="big-owner")
    bot_user = env.server.bot_user
    big.members_by_id.pop(bot_user.id)  # the bot is not in it yet
    big.bot_left = True
    for index in range(BIG_GUILD_MEMBERS):
        big.new_member(env.server.create_user(f"big{index:05d}"))

    ticker = LoopTicker()
    writes = MemberWrites(ticker)
    logger = logging.getLogger("tortoise.db_client")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(writes)
    ticker.start()
    try:
        await big.add_bot()  # GUILD_CREATE, then GUILD_MEMBERS_CHUNK events, then the sync
        await env.settle(timeout=120)
    finally:
        ticker.stop()
        logger.removeHandler(writes)
        logger.setLevel(old_level)

    assert await Member.filter(guild_id=big.id).count() == BIG_GUILD_MEMBERS + 2
    # Multi-row statements: a few dozen, not one per member.
    assert BIG_GUILD_MEMBERS // 1000 <= len(writes.turns) <= BIG_GUILD_MEMBERS // 500, writes.turns
    # Between any two of them the loop ran other work.
    assert all(later > earlier for earlier, later in itertools.pairwise(writes.turns))


async def test_a_nickname_change_is_stored(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.guild.set_nick(env.alice, "Ally")
    await env.settle()
    assert (await Member.get(guild_id=env.guild.id, user_id=env.alice.id)).nickname == "Ally"

    await env.guild.set_nick(env.alice, None)
    await env.settle()
    assert (await Member.get(guild_id=env.guild.id, user_id=env.alice.id)).nickname is None


def frozen(obj: object) -> bool:
    """Out of every garbage collection's reach (gc.freeze): in no generation's list."""
    return gc.is_tracked(obj) and not any(o is obj for o in gc.get_objects())


async def test_the_guild_cache_is_kept_out_of_full_garbage_collections(
    discord_env: DiscordEnv,
) -> None:
    # A full collection walks every object; with a big guild's members cached that held the
    # loop for hundreds of milliseconds, several times while the guild started. They are put
    # off while guilds arrive and are stored, then the cache is frozen.
    env = discord_env
    await env.settle()
    member = env.bot.get_guild(env.guild.id).get_member(env.alice.id)
    assert frozen(member)
    assert gc.get_threshold()[2] < DEFERRED_FULL_THRESHOLD  # full collections run again

    # A guild arriving later: put off again until its members are stored, then frozen too.
    later = env.server.create_guild("Later", owner="later-owner")
    later.members_by_id.pop(env.server.bot_user.id)
    later.bot_left = True
    newcomer = later.new_member(env.server.create_user("newcomer"))
    await later.add_bot()
    await env.settle()
    cached = env.bot.get_guild(later.id).get_member(newcomer.id)
    assert frozen(cached)
    assert gc.get_threshold()[2] < DEFERRED_FULL_THRESHOLD

    # The guild's objects refer to each other: once it is left, a full collection frees them
    # (a frozen object never is), and what is still alive is frozen again.
    left = weakref.ref(member._user)  # alice's user: in no other guild, cached weakly
    del member
    env.server.bot_leaves(env.guild)
    await env.settle()
    assert left() is None
    assert frozen(cached)
    assert gc.get_threshold()[2] < DEFERRED_FULL_THRESHOLD


async def test_a_new_session_frees_the_cache_it_replaces(discord_env: DiscordEnv) -> None:
    # At the READY of a new session discord.py builds the guilds anew; frozen, the old ones
    # would never be freed. The cache is released at READY and the settle collects fully.
    env = discord_env
    await env.settle()
    old_guild = env.bot.get_guild(env.guild.id)
    assert frozen(old_guild)
    old_id = id(old_guild)
    del old_guild

    ready = asyncio.ensure_future(env.bot.wait_for("shard_ready", timeout=20))
    await env.server.gateway.invalidate_session(resumable=False)
    await ready  # discord.py waits 5 s before identifying again
    await env.settle()
    new_guild = env.bot.get_guild(env.guild.id)
    assert frozen(new_guild)
    assert gc.get_threshold()[2] < DEFERRED_FULL_THRESHOLD
    gc.unfreeze()  # to look at every object, the frozen ones too
    try:
        still_there = [
            o for o in gc.get_objects() if id(o) == old_id and isinstance(o, discord.Guild)
        ]
        # Gone (its address may be the new one's; guilds of one id are == each other).
        assert all(o is new_guild for o in still_there)
    finally:
        gc.freeze()
