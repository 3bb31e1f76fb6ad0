"""What a process serving the API keeps in memory (keys, guilds, leaderboard pages and ranks)
follows every change: at once in the process that makes it, within a second in another one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp

from models.security import ApiKey
from pegasus import notify
from pegasus.db import close_db, dialect_of, init_db
from pegasus.services import directory, levels, security
from pegasus.services.levels import XpOperation
from pegasus.services.levels.activity import Batch, Pending, write_batch
from pegasus.services.retention.guilds import purge_guild
from pegasus.services.security.apikeys import hash_secret
from pegasus.web.answers import AnswerCache
from tests.e2e.waiting import eventually
from tests.web.conftest import GUILD, OWNER, Api
from tests.web.test_standalone import start_web

MEMBERS = [744_000_000_000_000_001 + index for index in range(3)]
BOARD = f"/api/v1/guilds/{GUILD}/leaderboards/xp?limit=10"
WITHIN_A_SECOND = 1.0
# The write-behind round reads kept keys again every second; a loaded machine adds a little.
REFRESHED_WITHIN = 1.5


def rank_url(user_id: int) -> str:
    return f"/api/v1/guilds/{GUILD}/members/{user_id}/rank"


async def seed_xp(*amounts: int) -> None:
    now = datetime.now(UTC)
    for user_id, xp in zip(MEMBERS, amounts, strict=True):
        await levels.adjust_xp(GUILD, user_id, XpOperation.SET, xp, now=now)


async def status_of(api: Api, path: str, key: str) -> int:
    return (await api.call("GET", path, key=key))[0]


async def board_xp(api: Api, key: str) -> list[tuple[int, int]]:
    status, body, _ = await api.call("GET", BOARD, key=key)
    assert status == 200, body
    return [(item["user_id"], item["value"]) for item in body["items"]]


# --------------------------------------------------------------------------- keys


async def test_a_kept_key_revoked_without_a_notice_is_refused_within_a_second(api: Api) -> None:
    """As a revocation by another process reaches this one on SQLite: the row changes, no
    notice comes; the write-behind round's read of the kept keys refuses it."""
    await seed_xp(100, 50, 10)
    key = await api.key(["levels:read"])
    assert await status_of(api, rank_url(MEMBERS[0]), key) == 200
    assert len(api.state.keys) == 1  # kept: the next request reads no key
    await ApiKey.filter(key_hash=hash_secret(key)).update(active=False)

    async def refused() -> bool:
        return await status_of(api, rank_url(MEMBERS[0]), key) == 401

    await eventually(refused, "the revoked key is refused", timeout=REFRESHED_WITHIN)
    assert len(api.state.keys) == 0


async def test_a_key_revoked_in_this_process_is_refused_by_the_next_request(api: Api) -> None:
    await seed_xp(100, 50, 10)
    key = await api.key(["levels:read"])
    assert await status_of(api, rank_url(MEMBERS[0]), key) == 200
    await security.revoke_api_key(
        key[:12], actor_id=OWNER, guild_id=GUILD, is_bot_owner=False, is_guild_admin=True
    )
    status, body, _ = await api.call("GET", rank_url(MEMBERS[0]), key=key)
    assert status == 401 and "revoked" in body["detail"]


async def test_a_kept_key_is_refused_once_it_expires(api: Api) -> None:
    await seed_xp(100, 50, 10)
    key = await api.key(["levels:read"], expires_in_seconds=1)
    assert await status_of(api, rank_url(MEMBERS[0]), key) == 200
    assert len(api.state.keys) == 1
    await asyncio.sleep(1.05)
    status, body, _ = await api.call("GET", rank_url(MEMBERS[0]), key=key)
    assert status == 401 and "expired" in body["detail"]


async def test_changed_scopes_of_a_kept_key_apply_within_a_second(api: Api) -> None:
    await seed_xp(100, 50, 10)
    key = await api.key(["levels:read"])
    assert await status_of(api, rank_url(MEMBERS[0]), key) == 200
    await ApiKey.filter(key_hash=hash_secret(key)).update(scopes=["economy:read"])

    async def forbidden() -> bool:
        return await status_of(api, rank_url(MEMBERS[0]), key) == 403

    await eventually(forbidden, "the key's new scopes apply", timeout=REFRESHED_WITHIN)
    assert await status_of(api, f"/api/v1/guilds/{GUILD}/economy/shop/items", key) == 200


# --------------------------------------------------------------------------- guilds


async def test_a_guild_whose_data_is_deleted_is_404_at_once_though_it_was_known(
    api: Api,
) -> None:
    await seed_xp(100, 50, 10)
    key = await api.key(["levels:read"], guild_id=None)  # bot-wide: not deleted with the guild
    assert await status_of(api, rank_url(MEMBERS[0]), key) == 200
    await purge_guild(GUILD)
    status, body, _ = await api.call("GET", rank_url(MEMBERS[0]), key=key)
    assert status == 404, body
    await directory.ensure_guild(GUILD)  # back: the next request finds it
    assert await status_of(api, rank_url(MEMBERS[0]), key) == 200


# --------------------------------------------------------------------------- answers


async def test_kept_boards_and_ranks_change_with_a_members_xp(api: Api) -> None:
    await seed_xp(100, 50, 10)
    key = await api.key(["levels:read"])
    before = await board_xp(api, key)
    assert before == [(MEMBERS[0], 100), (MEMBERS[1], 50), (MEMBERS[2], 10)]
    rank = (await api.call("GET", rank_url(MEMBERS[2]), key=key))[1]
    assert rank["rank"] == 3
    hits = api.state.answers.hits
    assert await board_xp(api, key) == before
    assert api.state.answers.hits == hits + 1  # the second read was the kept answer

    await levels.adjust_xp(GUILD, MEMBERS[2], XpOperation.SET, 500, now=datetime.now(UTC))
    assert await board_xp(api, key) == [(MEMBERS[2], 500), (MEMBERS[0], 100), (MEMBERS[1], 50)]
    rank = (await api.call("GET", rank_url(MEMBERS[2]), key=key))[1]
    assert rank["rank"] == 1 and rank["progress"]["xp"] == 500


async def test_kept_boards_and_ranks_change_when_the_activity_flush_writes_the_guild(
    api: Api,
) -> None:
    await seed_xp(100, 50, 10)
    key = await api.key(["levels:read"])
    assert (await board_xp(api, key))[0] == (MEMBERS[0], 100)
    assert (await api.call("GET", rank_url(MEMBERS[1]), key=key))[1]["messages"] == 0
    batch = Batch()
    batch.entries[(GUILD, MEMBERS[1])] = Pending(xp=200, messages=3)
    await write_batch(batch, now=datetime.now(UTC))
    assert (await board_xp(api, key))[0] == (MEMBERS[1], 250)
    rank = (await api.call("GET", rank_url(MEMBERS[1]), key=key))[1]
    assert (rank["rank"], rank["messages"], rank["progress"]["xp"]) == (1, 3, 250)


async def test_a_kept_rank_changes_with_the_members_rank_card(api: Api) -> None:
    await seed_xp(100, 50, 10)
    key = await api.key(["levels:read"])
    assert (await api.call("GET", rank_url(MEMBERS[0]), key=key))[1]["accent"] is None
    await levels.set_rank_card(MEMBERS[0], accent="#336699")
    assert (await api.call("GET", rank_url(MEMBERS[0]), key=key))[1]["accent"] == 0x336699


# --------------------------------------------------------------------------- another process


async def _answer(session: aiohttp.ClientSession, path: str, key: str) -> tuple[int, Any]:
    async with session.get(path, headers={"Authorization": f"Bearer {key}"}) as response:
        return response.status, await response.json(content_type=None)


async def test_another_process_follows_xp_changes_and_revocations_within_a_second(
    db_url: str,
) -> None:
    from tortoise import connections

    await init_db(db_url)
    try:
        await directory.ensure_guild(GUILD)
        await seed_xp(100, 50, 10)
        created = await security.create_api_key(
            owner_id=OWNER, name="dashboard", scopes=["levels:read"], guild_id=GUILD,
            now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True,
        )
    finally:
        await close_db()
    process, url = await start_web(db_url)
    await init_db(db_url)
    try:
        database = connections.get("default")

        async def listening() -> bool:
            rows = await database.execute_query_dict(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'pegasus-listener' AND query = 'LISTEN \"pegasus_changes\"'"
            )
            return bool(rows)

        # On SQLite the web process reads the notices written since it started: nothing to
        # wait for.
        if dialect_of(db_url) == "postgres":
            await eventually(listening, "the web process listens for changes")
        async with aiohttp.ClientSession(base_url=url) as session:
            key = created.secret
            for _ in range(2):  # the second answer is the kept one
                status, body = await _answer(session, rank_url(MEMBERS[2]), key)
                assert (status, body["rank"]) == (200, 3)

            await levels.adjust_xp(GUILD, MEMBERS[2], XpOperation.SET, 500, now=datetime.now(UTC))

            async def first() -> bool:
                return (await _answer(session, rank_url(MEMBERS[2]), key))[1]["rank"] == 1

            await eventually(first, "the other process shows the new XP", WITHIN_A_SECOND)

            await security.revoke_api_key(
                created.key.key_prefix, actor_id=OWNER, guild_id=GUILD, is_bot_owner=False,
                is_guild_admin=True,
            )

            async def refused() -> bool:
                return (await _answer(session, rank_url(MEMBERS[2]), key))[0] == 401

            await eventually(refused, "the other process refuses the revoked key", WITHIN_A_SECOND)
    finally:
        await close_db()
        process.terminate()
        await process.wait()


# --------------------------------------------------------------------------- the cache itself


async def test_requests_for_an_answer_being_computed_wait_for_that_one_computation() -> None:
    answers = AnswerCache()
    release = asyncio.Event()
    computed: list[int] = []

    async def compute() -> int:
        computed.append(1)
        await release.wait()
        return 42

    waiting = [asyncio.create_task(answers.answer(GUILD, "page", compute)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [42] * 5
    assert len(computed) == 1
    assert await answers.answer(GUILD, "page", compute) == 42 and len(computed) == 1


async def test_an_answer_computed_across_a_change_notice_is_not_kept() -> None:
    answers = AnswerCache()
    noticed = asyncio.Event()
    values = iter([1, 2])

    async def compute_while_xp_changes() -> int:
        value = next(values)
        if value == 1:
            await answers.forget(notify.Change(notify.Topic.XP, GUILD))
            noticed.set()
        return value

    assert await answers.answer(GUILD, "rank", compute_while_xp_changes) == 1
    assert noticed.is_set()
    # The first answer was read before the notice: the next request computes again.
    assert await answers.answer(GUILD, "rank", compute_while_xp_changes) == 2
    assert len(answers) == 1
