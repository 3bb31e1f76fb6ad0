"""A change made outside the bot's own commands (the REST API, another process) is used at once:
the change is announced and the bot drops its copy, instead of waiting for the copy to expire."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import pytest

from pegasus import notify
from pegasus.localdiscord import BotProcessFactory, DiscordEnv, FakeChannel, LocalDiscord
from pegasus.services import community, directory
from pegasus.services.levels import set_multiplier
from pegasus.services.moderation import BlacklistEntityType, add_entry
from pegasus.services.security import create_api_key
from tests.e2e.waiting import eventually
from tests.web.test_standalone import start_web

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.community", "cogs.moderation", "cogs.levels")
)


def test_a_change_survives_its_notify_payload() -> None:
    for change in (
        notify.Change(notify.Topic.SETTINGS, 1234567890123, "levels"),
        notify.Change(notify.Topic.BLACKLIST),
    ):
        assert notify.Change.decode(change.encode()) == change
    assert notify.Change.decode("unknown:1:x") is None


async def test_a_settings_change_made_outside_the_bot_is_used_at_once(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    general, announcements = env.channel("general"), env.channel("announcements")
    await env.owner.slash("welcome set", channel=general, message="Hi {user}!")
    assert (await env.bot.guild_configs.get(env.guild.id)).welcome.channel_id == general.id

    # As the REST API does: the service alone, with no bot cache at hand.
    await community.change_settings(
        env.guild.id, env.owner.id, "welcome.set", {"welcome_channel_id": announcements.id}
    )
    dave = await env.guild.add_member("dave")
    await env.settle()

    assert any(dave.mention in message.text for message in announcements.bot_messages)
    assert not any(dave.mention in message.text for message in general.bot_messages)


async def test_a_blacklist_entry_added_outside_the_bot_refuses_at_once(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    assert (await env.alice.slash("ping")).content.startswith("Pong!")  # the copy is loaded

    await add_entry(
        BlacklistEntityType.USER,
        env.alice.id,
        guild_id=env.guild.id,
        actor_id=env.owner.id,
        reason="spam",
        now=datetime.now(UTC),
    )

    refused = await env.alice.slash("ping")
    assert "blacklisted" in (refused.content or ""), refused.content


async def test_a_multiplier_set_outside_the_bot_drops_the_level_settings(
    discord_env: DiscordEnv,
) -> None:
    from models.levels import MultiplierTarget

    env = discord_env
    buffer = env.bot.activity_buffer
    assert buffer is not None
    await buffer.caches.get(env.guild.id)
    assert buffer.caches.peek(env.guild.id) is not None

    await set_multiplier(
        env.guild.id, MultiplierTarget.CHANNEL, env.channel("general").id, 200,
        actor_id=env.owner.id,
    )

    # Without the announcement, the copy loaded above would serve for minutes.
    state = await buffer.caches.get(env.guild.id)
    assert state.config.channel_multipliers == {env.channel("general").id: 200}


async def test_a_change_made_in_another_process_is_used_within_a_second(
    bot_process: BotProcessFactory, local_discord: LocalDiscord, db: str
) -> None:
    process = await bot_process.start({"WEB_ENABLED": "false"})
    await process.wait_ready(timeout=60)
    alice = local_discord.guild.member("alice")
    owner = local_discord.guild.member("owner")
    assert (await alice.slash("ping", timeout=15)).content.startswith("Pong!")

    # This test's process is "another process": it writes through the services, as the
    # standalone web process does, and the bot process hears of it: by NOTIFY on PostgreSQL,
    # by the notice it reads on SQLite.
    await add_entry(
        BlacklistEntityType.USER,
        alice.id,
        guild_id=local_discord.guild.id,
        actor_id=owner.id,
        reason="spam",
        now=datetime.now(UTC),
    )
    started = asyncio.get_running_loop().time()

    async def refused() -> bool:
        reply = await alice.slash("ping", timeout=15)
        return "blacklisted" in (reply.content or "")

    await eventually(refused, "the bot process refuses alice", timeout=1.0)
    assert asyncio.get_running_loop().time() - started < 1.0
    assert await process.terminate(timeout=30) == 0, process.output


async def test_a_setting_changed_through_the_web_process_is_used_by_a_bot_within_a_second(
    bot_process: BotProcessFactory, local_discord: LocalDiscord, db: str
) -> None:
    guild = local_discord.guild
    general, announcements = guild.channel("general"), guild.channel("announcements")
    await directory.ensure_guild(guild.id)
    created = await create_api_key(
        owner_id=guild.member("owner").id, name="dashboard", scopes=["community:write"],
        guild_id=guild.id, now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True,
    )
    web, url = await start_web(
        db, DISCORD_API_BASE=local_discord.api_base, DISCORD_TOKEN=local_discord.token
    )
    session = aiohttp.ClientSession(
        base_url=url, headers={"Authorization": f"Bearer {created.secret}"}
    )
    welcome = f"/api/v1/guilds/{guild.id}/community/welcome"

    async def welcomed(name: str, channel: FakeChannel) -> bool:
        return any(name in message.text for message in channel.bot_messages)

    try:
        async with session.put(
            welcome, json={"channel_id": general.id, "message": "Hi {username}!"}
        ) as response:
            assert response.status == 200, await response.text()
        process = await bot_process.start({"WEB_ENABLED": "false"})
        await process.wait_ready(timeout=60)
        await guild.add_member("dave")
        await eventually(lambda: welcomed("Hi dave", general), "dave is welcomed in #general")

        async with session.put(welcome, json={"channel_id": announcements.id}) as response:
            assert response.status == 200, await response.text()
        started = asyncio.get_running_loop().time()
        joined: list[str] = []

        async def next_one_welcomed_in_announcements() -> bool:
            # Members keep joining: those before the bot has heard of the change (NOTIFY takes
            # milliseconds, SQLite's notices are read every half second) are welcomed as before.
            name = f"erin{len(joined)}"
            joined.append(name)
            await guild.add_member(name)
            await asyncio.sleep(0.05)
            return await welcomed(f"Hi {name}!", announcements)

        await eventually(
            next_one_welcomed_in_announcements, "a new member is welcomed in #announcements",
            timeout=1.0,
        )
        assert asyncio.get_running_loop().time() - started < 1.0
        assert not await welcomed(f"Hi {joined[-1]}!", general)
        assert await process.terminate(timeout=30) == 0, process.output
    finally:
        await session.close()
        web.terminate()
        await web.wait()
