"""The local Discord's guild-level state as discord.py reads it: boosters and the booster role,
the AFK and system channels, the bot leaving (and rejoining) a guild, and the bot's owners set
through the discord_env marker."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from pegasus.localdiscord import (
    SUPPRESS_PREMIUM_SUBSCRIPTIONS,
    ActionRefused,
    CommandUnavailable,
    DiscordEnv,
)
from tests.probe_cog import PROBE_EXTENSIONS

pytestmark = pytest.mark.discord_env(extensions=PROBE_EXTENSIONS)

LEAVE_ROUTE = "/users/@me/guilds/{guild_id}"


def cached_guild(env: DiscordEnv) -> discord.Guild:
    guild = env.bot.get_guild(env.guild.id)
    assert guild is not None
    return guild


def record(env: DiscordEnv, event: str) -> list[Any]:
    """What the bot's listener for `event` receives, in order."""
    seen: list[Any] = []

    async def listener(*args: Any) -> None:
        seen.append(args)

    env.bot.add_listener(listener, f"on_{event}")
    return seen


# ------------------------------------------------------------------------------ boosters


async def test_a_booster_as_discord_py_sees_it(discord_env: DiscordEnv) -> None:
    env = discord_env
    updates = record(env, "member_update")
    assert env.guild.premium_subscriber_role is None  # made at the first boost

    await env.guild.set_booster(env.alice)
    await env.settle()

    role = env.guild.premium_subscriber_role
    assert role is not None and role.managed and env.alice.has_role(role)
    assert env.alice.is_booster and env.guild.boosters == [env.alice]
    guild = cached_guild(env)
    member = guild.get_member(env.alice.id)
    assert member is not None and member.premium_since is not None
    assert abs((member.premium_since - env.alice.premium_since).total_seconds()) < 0.001  # type: ignore[operator]
    assert guild.premium_subscriber_role is not None
    assert guild.premium_subscriber_role.id == role.id
    assert guild.premium_subscriber_role in member.roles
    assert guild.premium_subscribers == [member]
    assert guild.premium_subscription_count == 1 and guild.premium_tier == 0
    [(before, after)] = updates
    assert before.premium_since is None and after.premium_since is not None

    # Discord announces the boost in the system channel, as a message by the booster.
    [announcement] = [m for m in env.channel("general").messages if m.type == 8]
    assert announcement.author.id == env.alice.id
    cached = discord.utils.get(env.bot.cached_messages, id=announcement.id)
    assert cached is not None and cached.type is discord.MessageType.premium_guild_subscription

    await env.guild.set_booster(env.bob)
    await env.settle()
    assert cached_guild(env).premium_tier == 1  # two boosts
    assert len([r for r in env.guild.roles if r.premium_subscriber]) == 1  # one booster role

    await env.guild.set_booster(env.alice, False)
    await env.settle()
    member = cached_guild(env).get_member(env.alice.id)
    assert member is not None and member.premium_since is None
    assert not env.alice.has_role(role) and not env.alice.is_booster
    assert [m.id for m in cached_guild(env).premium_subscribers] == [env.bob.id]
    assert cached_guild(env).premium_tier == 0


async def test_boosters_arrive_with_the_guild_and_announcements_can_be_suppressed(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.guild.edit(system_channel_flags=SUPPRESS_PREMIUM_SUBSCRIPTIONS)
    await env.guild.set_booster(env.carol)
    await env.settle()
    assert [m for m in env.channel("general").all_messages if m.type == 8] == []
    assert cached_guild(env).system_channel_flags.premium_subscriptions is False

    await env.restart_bot()  # from GUILD_CREATE this time
    guild = cached_guild(env)
    carol = guild.get_member(env.carol.id)
    assert carol is not None and carol.premium_since is not None
    assert guild.premium_subscriber_role is not None
    assert guild.premium_subscriber_role in carol.roles


# ------------------------------------------------------------------------------ AFK channel


async def test_the_afk_channel_in_guild_create_and_guild_update(discord_env: DiscordEnv) -> None:
    env = discord_env
    updates = record(env, "guild_update")
    assert cached_guild(env).afk_channel is None

    await env.guild.set_afk_channel("Gaming", timeout=900)
    await env.settle()
    guild = cached_guild(env)
    assert guild.afk_channel is not None and guild.afk_channel.id == env.channel("Gaming").id
    assert guild.afk_timeout == 900
    [(before, after)] = updates
    assert before.afk_channel is None and after.afk_channel.name == "Gaming"
    # GUILD_UPDATE carries no channels or members: discord.py keeps what it had.
    assert len(guild.channels) == len(env.guild.channels)
    assert guild.get_member(env.alice.id) is not None and guild.me is not None

    await env.restart_bot()
    assert cached_guild(env).afk_channel.id == env.channel("Gaming").id  # type: ignore[union-attr]

    await env.guild.set_afk_channel(None)
    await env.settle()
    assert cached_guild(env).afk_channel is None
    with pytest.raises(ValueError, match="voice channel"):
        await env.guild.set_afk_channel("general")
    with pytest.raises(ValueError, match="afk_timeout"):
        await env.guild.set_afk_channel("Lounge", timeout=42)


# ------------------------------------------------------------------------------ leaving


async def test_the_bot_leaves_a_guild(discord_env: DiscordEnv) -> None:
    env = discord_env
    removed = record(env, "guild_remove")
    general = env.channel("general")

    await cached_guild(env).leave()
    await env.settle()

    [leave] = env.server.requests_to("DELETE", LEAVE_ROUTE)
    assert leave.status == 204 and leave.path == f"/users/@me/guilds/{env.guild.id}"
    assert [args[0].id for args in removed] == [env.guild.id]
    assert env.bot.get_guild(env.guild.id) is None
    assert env.guild.bot_left and not env.guild.has_bot
    assert env.bot_member.id not in env.guild.members_by_id and not env.bot_member.in_guild

    # Nothing from there reaches the bot any more, and nothing of the bot answers there.
    before = len(env.bot.cached_messages)
    await env.alice.say(general, "anyone?")
    await env.settle()
    assert len(env.bot.cached_messages) == before
    with pytest.raises(CommandUnavailable, match="left"):
        await env.alice.slash("probe echo", text="hi")
    with pytest.raises(discord.Forbidden) as refused:
        await env.bot.http.send_message(
            general.id, params=discord.http.handle_message_parameters(content="hi")
        )
    assert refused.value.code == 50001
    with pytest.raises(discord.NotFound) as again:
        await env.bot.http.leave_guild(env.guild.id)
    assert again.value.code == 10004

    await env.restart_bot()
    assert env.bot.get_guild(env.guild.id) is None  # not in READY any more


async def test_the_bot_added_again_gets_guild_create(discord_env: DiscordEnv) -> None:
    env = discord_env
    await cached_guild(env).leave()
    await env.settle()
    joined = record(env, "guild_join")

    await env.guild.add_bot()
    await env.settle()

    assert [args[0].id for args in joined] == [env.guild.id]
    assert not env.guild.bot_left and env.bot_member.in_guild
    reply = await env.alice.slash("probe echo", text="back")
    assert reply.content == "back"


async def test_components_of_a_left_guild_are_refused(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("probe confirm")
    await cached_guild(env).leave()
    await env.settle()
    with pytest.raises(ActionRefused, match="left"):
        await env.alice.click(reply.message)


# ------------------------------------------------------------------------------ owners


@pytest.mark.discord_env(owner_ids=["alice", 1234])
async def test_owner_ids_from_the_marker(discord_env: DiscordEnv) -> None:
    env = discord_env
    # The test's marker adds to the module's: the probe extension is loaded too.
    assert env.bot.get_cog("Probe") is not None
    assert env.bot.settings.owner_ids == frozenset({env.alice.id, 1234})
    assert await env.bot.is_owner(_user(env, env.alice.id))
    assert not await env.bot.is_owner(_user(env, env.bob.id))

    await env.restart_bot()  # the same owners after a restart
    assert env.bot.settings.owner_ids == frozenset({env.alice.id, 1234})


async def test_no_owner_ids_by_default(discord_env: DiscordEnv) -> None:
    assert discord_env.bot.settings.owner_ids == frozenset()


def _user(env: DiscordEnv, user_id: int) -> discord.abc.User:
    user = env.bot.get_user(user_id)
    assert user is not None
    return user
