"""Levels over HTTP: reward roles, multipliers, leaderboards and ranks, through the same services
as the slash commands: the same answers, the same refusals, audited as the key's owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from models.economy import EconomyBalance
from models.guilds import Member, User
from models.levels import MultiplierTarget, RewardMode, XpMultiplier, XpReward
from models.security import AuditLog, AuditSource, RoleDelegation
from pegasus.localdiscord import DiscordEnv
from pegasus.services import levels
from pegasus.services.levels import LeaderboardCategory, XpOperation
from pegasus.services.security import API_SCOPES, create_api_key
from tests.e2e.test_role_delegation import cast_of
from tests.web.beside_bot import SOURCES, api_beside_bot, as_plain
from tests.web.conftest import GUILD, OWNER, Api

LEVELS = f"/api/v1/guilds/{GUILD}/levels"
ROLE = 744_444_444_444_444_401
OTHER_ROLE = 744_444_444_444_444_402
CHANNEL = 755_555_555_555_555_501
MEMBER = 766_666_666_666_666_600  # the members of the boards are MEMBER + 1, + 2, ...


async def walk(api: Api, key: str, url: str, limit: int) -> list[dict[str, Any]]:
    """Every item of a paginated list, following its cursors."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = await api.call("GET", url + query, key=key)
        assert status == 200, page
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def audited(action: str) -> list[AuditLog]:
    return await AuditLog.filter(action=action, guild_id=GUILD).order_by("created_at")


# --------------------------------------------------------------------------- rewards


async def test_rewards_are_listed_by_level_a_page_at_a_time(api: Api) -> None:
    key = await api.key(["levels:read"])
    for level, role_id in [(20, ROLE), (5, OTHER_ROLE), (5, ROLE), (10, ROLE + 7)]:
        await levels.add_reward(GUILD, level, role_id, actor_id=OWNER)
    await levels.add_reward(
        GUILD, 30, ROLE + 8, message="{user} is level {level}!", mode=RewardMode.REPLACE,
        actor_id=OWNER,
    )
    items = await walk(api, key, f"{LEVELS}/rewards", limit=2)
    assert [(item["level"], item["role_id"]) for item in items] == [
        (5, ROLE), (5, OTHER_ROLE), (10, ROLE + 7), (20, ROLE), (30, ROLE + 8)
    ]
    assert items[-1]["message"] == "{user} is level {level}!" and items[-1]["mode"] == "replace"
    assert items[0] == {"level": 5, "role_id": ROLE, "mode": None, "message": None}


async def test_a_reward_is_removed_and_audited_as_the_keys_owner(api: Api) -> None:
    key = await api.key(["levels:write"])
    await levels.add_reward(GUILD, 5, ROLE, actor_id=OWNER + 1)
    status, body, _ = await api.call(
        "DELETE", f"{LEVELS}/rewards/5/{ROLE}", key=key, headers={"User-Agent": "levels-test"}
    )
    assert status == 204, body
    assert await XpReward.filter(guild_id=GUILD).count() == 0
    [row] = await audited("levels.reward.remove")
    assert row.source is AuditSource.API and row.actor_id == OWNER  # type: ignore[attr-defined]
    assert row.user_agent == "levels-test" and row.ip_hash
    assert row.before == {"level": 5, "role_id": ROLE, "mode": None, "message": None}
    assert row.after is None


async def test_removing_a_reward_that_is_not_there_is_refused_like_the_command(
    api: Api,
) -> None:
    key = await api.key()
    await levels.add_reward(GUILD, 5, ROLE, actor_id=OWNER)
    status, body, _ = await api.call("DELETE", f"{LEVELS}/rewards/6/{ROLE}", key=key)
    assert status == 404, body
    assert body["detail"] == "That role is not a reward for level 6."
    assert await XpReward.filter(guild_id=GUILD).count() == 1
    assert await audited("levels.reward.remove") == []
    status, body, _ = await api.call("DELETE", f"{LEVELS}/rewards/10001/{ROLE}", key=key)
    assert status == 422 and "level parameter" in body["detail"]


# --------------------------------------------------------------------------- multipliers


async def test_a_multiplier_is_set_changed_listed_and_removed(api: Api) -> None:
    key = await api.key(["levels:read", "levels:write"])
    role_url = f"{LEVELS}/multipliers/roles/{ROLE}"
    status, body, _ = await api.call("PUT", role_url, key=key, json={"percent": 150})
    assert status == 200, body
    assert body == {"target_type": "role", "target_id": ROLE, "percent": 150}
    status, _, _ = await api.call(
        "PUT", f"{LEVELS}/multipliers/channels/{CHANNEL}", key=key, json={"percent": 50}
    )
    assert status == 200
    status, body, _ = await api.call("PUT", role_url, key=key, json={"percent": 200})
    assert status == 200 and body["percent"] == 200
    assert await walk(api, key, f"{LEVELS}/multipliers", limit=1) == [
        {"target_type": "channel", "target_id": CHANNEL, "percent": 50},
        {"target_type": "role", "target_id": ROLE, "percent": 200},
    ]
    config = await levels.load_config(GUILD)
    assert config.role_multipliers == {ROLE: 200}
    assert config.channel_multipliers == {CHANNEL: 50}
    changes = [(row.before, row.after) for row in await audited("levels.multiplier.set")]
    assert changes == [(None, {"percent": 150}), (None, {"percent": 50}),
                       ({"percent": 150}, {"percent": 200})]
    status, _, _ = await api.call("DELETE", role_url, key=key)
    assert status == 204
    assert await XpMultiplier.filter(guild_id=GUILD, target_type=MultiplierTarget.ROLE).count() == 0
    [removed] = await audited("levels.multiplier.remove")
    assert removed.source is AuditSource.API and removed.before == {"percent": 200}


async def test_setting_the_same_multiplier_again_is_not_audited(api: Api) -> None:
    key = await api.key()
    url = f"{LEVELS}/multipliers/roles/{ROLE}"
    for _ in range(2):
        status, _, _ = await api.call("PUT", url, key=key, json={"percent": 150})
        assert status == 200
    assert len(await audited("levels.multiplier.set")) == 1
    assert await AuditLog.filter(action__startswith="api.").count() == 0


async def test_multiplier_refusals_are_the_commands_and_change_nothing(api: Api) -> None:
    key = await api.key()
    url = f"{LEVELS}/multipliers/roles/{ROLE}"
    await api.call("PUT", url, key=key, json={"percent": 120})
    status, body, _ = await api.call("PUT", url, key=key, json={"percent": 1001})
    assert status == 422
    assert body["detail"] == "The multiplier must be between 0% and 1,000% (100% = normal)."
    status, body, _ = await api.call(
        "DELETE", f"{LEVELS}/multipliers/channels/{CHANNEL}", key=key
    )
    assert status == 404 and body["detail"] == "That channel has no XP multiplier."
    stored = await XpMultiplier.filter(guild_id=GUILD).values_list("target_id", "multiplier")
    assert stored == [(ROLE, 120)]
    assert len(await audited("levels.multiplier.set")) == 1


# --------------------------------------------------------------------------- leaderboards


async def seed_members(count: int) -> list[int]:
    """Members with XP (ties included), messages, voice minutes and money; some with names."""
    now = datetime.now(UTC)
    users = [MEMBER + index for index in range(1, count + 1)]
    for index, user_id in enumerate(users):
        await levels.adjust_xp(GUILD, user_id, XpOperation.SET, 100 * (index % 7) + 40, now=now)
        await Member.filter(guild_id=GUILD, user_id=user_id).update(
            messages=index % 5, voice_minutes=3 * (index % 4)
        )
        await EconomyBalance.create(
            guild_id=GUILD, user_id=user_id, wallet=index % 6, bank=0, net_worth=index % 6
        )
        if index % 3 == 0:
            await User.filter(id=user_id).update(username=f"member{index}")
    return users


async def command_board(category: LeaderboardCategory) -> list[dict[str, Any]]:
    """The board as `/leaderboard` pages it (ten a page)."""
    first = await levels.leaderboard_page(GUILD, category, 1)
    entries = list(first.entries)
    for page in range(2, first.pages + 1):
        entries += (await levels.leaderboard_page(GUILD, category, page)).entries
    return [
        {
            "position": entry.position,
            "user_id": entry.user_id,
            "value": entry.value,
            "level": entry.level if category is LeaderboardCategory.XP else None,
            "name": entry.name,
        }
        for entry in entries
    ]


async def test_every_leaderboard_walked_by_cursor_is_the_commands_board(api: Api) -> None:
    key = await api.key(["levels:read"])
    await seed_members(23)
    for category in LeaderboardCategory:
        expected = await command_board(category)
        assert expected, category
        for limit in (1, 4, 100):
            board = await walk(api, key, f"/api/v1/guilds/{GUILD}/leaderboards/{category}", limit)
            assert board == expected, (category, limit)


async def test_a_board_page_starts_where_the_cursor_left_even_after_changes(api: Api) -> None:
    """Keyset pages: a member who climbs above the page just read is not shown twice, and the
    positions on the next page are the ones of the board now."""
    key = await api.key(["levels:read"])
    users = await seed_members(12)
    url = f"/api/v1/guilds/{GUILD}/leaderboards/xp"
    status, first, _ = await api.call("GET", f"{url}?limit=5", key=key)
    assert status == 200
    last_shown = {item["user_id"] for item in first["items"]}
    climber = next(u for u in reversed(users) if u not in last_shown)
    await levels.adjust_xp(GUILD, climber, XpOperation.SET, 10_000, now=datetime.now(UTC))
    status, second, _ = await api.call(
        "GET", f"{url}?limit=5&cursor={first['next_cursor']}", key=key
    )
    assert status == 200
    assert climber not in {item["user_id"] for item in second["items"]}
    board = await command_board(LeaderboardCategory.XP)
    by_user = {entry["user_id"]: entry["position"] for entry in board}
    for item in second["items"]:
        assert item["position"] == by_user[item["user_id"]]


async def test_a_cursor_the_board_did_not_give_is_refused(api: Api) -> None:
    key = await api.key(["levels:read"])
    url = f"/api/v1/guilds/{GUILD}/leaderboards/xp"
    for cursor in ("nonsense", "WzEsMl0", "WyJhIiwxXQ", "Wy0xLDJd"):  # [1,2] fits; others not
        status, body, _ = await api.call("GET", f"{url}?cursor={cursor}", key=key)
        if cursor == "WzEsMl0":
            assert status == 200 and body == {"items": [], "next_cursor": None}
        else:
            assert status == 422, (cursor, body)
            assert "start again without a cursor" in body["detail"]


# --------------------------------------------------------------------------- ranks


async def test_a_members_rank_is_the_rank_command_reads(api: Api) -> None:
    key = await api.key(["levels:read"])
    users = await seed_members(9)
    for user_id in users:
        expected = await levels.member_rank(GUILD, user_id)
        status, body, _ = await api.call(
            "GET", f"/api/v1/guilds/{GUILD}/members/{user_id}/rank", key=key
        )
        assert status == 200, body
        assert body["rank"] == expected.rank and body["rank"] is not None
        assert body["progress"] == {
            "level": expected.progress.level,
            "xp": expected.progress.xp,
            "into_level": expected.progress.into_level,
            "needed": expected.progress.needed,
        }
        assert (body["messages"], body["voice_minutes"]) == (
            expected.messages, expected.voice_minutes
        )
    status, body, _ = await api.call(
        "GET", f"/api/v1/guilds/{GUILD}/members/{MEMBER}/rank", key=key
    )
    assert status == 200 and body["rank"] is None and body["progress"]["xp"] == 0


# --------------------------------------------------------------------------- in the bot's process


@asynccontextmanager
async def served_by(
    env: DiscordEnv, owner_id: int | None = None, source: str = "bot cache"
) -> AsyncIterator[aiohttp.ClientSession]:
    """The API beside the bot (see tests.web.beside_bot) with a key of `owner_id` (the server's
    owner) for the env's server with every scope."""
    created = await create_api_key(
        owner_id=owner_id or env.owner.id, name="levels", scopes=list(API_SCOPES),
        guild_id=env.guild.id, now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True,
    )
    headers = {"Authorization": f"Bearer {created.secret}"}
    async with (
        api_beside_bot(env, source) as url,
        aiohttp.ClientSession(base_url=url, headers=headers) as session,
    ):
        yield session


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))
@pytest.mark.parametrize("source", SOURCES)
async def test_a_reward_role_is_checked_for_the_keys_owner_like_the_command(
    discord_env: DiscordEnv, source: str
) -> None:
    env = discord_env
    cast = await cast_of(env)
    url = f"/api/v1/guilds/{env.guild.id}/levels/rewards"
    async with served_by(env, cast.manager.id, source) as session:
        for role in (cast.moderator, cast.admin, env.guild.default_role):
            said = await cast.manager.slash("levels reward-add", level=5, role=role)
            async with session.post(url, json={"level": 5, "role_id": role.id}) as response:
                problem = await response.json(content_type=None)
                assert response.status in (403, 422), (role.name, problem)
            assert problem["detail"] == as_plain(said.text), role.name
        assert await XpReward.filter(guild_id=env.guild.id).count() == 0
        assert await RoleDelegation.filter(guild_id=env.guild.id).count() == 0
        assert await AuditLog.filter(source=AuditSource.API).count() == 0

        sent = {"level": 5, "role_id": cast.regular.id, "message": "{user} is a regular now"}
        async with session.post(url, json=sent) as response:
            assert response.status == 201, await response.text()
            assert await response.json() == {**sent, "mode": None}
    assert (await levels.load_config(env.guild.id)).rewards == (
        levels.Reward(5, cast.regular.id, None, "{user} is a regular now"),
    )
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=cast.regular.id)
    assert delegation.configured_by_id == cast.manager.id  # type: ignore[attr-defined]
    audit = await AuditLog.get(action="levels.reward.add")
    assert audit.source is AuditSource.API
    assert audit.actor_id == cast.manager.id  # type: ignore[attr-defined]


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))
async def test_the_rank_in_the_bots_process_counts_what_is_not_written_yet(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    reply = await env.owner.slash("levels set", xp_min=100, xp_max=100)
    assert "updated" in reply.text, reply.text
    now = datetime.now(UTC)
    await levels.adjust_xp(env.guild.id, env.alice.id, XpOperation.SET, 500, now=now)
    await levels.adjust_xp(env.guild.id, env.bob.id, XpOperation.SET, 520, now=now)
    assert env.bot.activity_buffer is not None
    await env.bot.activity_buffer.stop_flusher()  # nothing is written behind the test's back
    await env.alice.say("general", "a hundred XP, not stored yet")
    await env.settle()
    async with served_by(env) as session:
        url = f"/api/v1/guilds/{env.guild.id}/members/{env.alice.id}/rank"
        async with session.get(url) as response:
            assert response.status == 200
            rank = await response.json()
        async with session.get(f"/api/v1/guilds/{env.guild.id}/leaderboards/xp") as response:
            board = await response.json()
    assert rank["progress"]["xp"] == 600 and rank["rank"] == 1
    assert rank["messages"] == 1
    # The board shows what is stored, as /leaderboard does: Bob first until the buffer is written.
    assert [item["user_id"] for item in board["items"]][:2] == [env.bob.id, env.alice.id]
    await env.bot.activity_buffer.flush()
