"""Channel and role names: the bot's cache in its process, Discord's REST API (cached) standalone;
both give the same answer."""

from __future__ import annotations

import pytest

from pegasus.localdiscord import DiscordEnv
from pegasus.web.discord_names import BotNames, RestNames

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",))


async def test_the_cache_and_the_rest_api_name_the_same_channels_and_roles(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    clock = [0.0]
    rest = RestNames(env.server.api_base, env.server.token, ttl=60, clock=lambda: clock[0])
    try:
        from_cache = await BotNames(env.bot).guild_names(env.guild.id)
        from_rest = await rest.guild_names(env.guild.id)
        assert from_cache is not None and from_rest is not None
        assert from_cache == from_rest
        general, lounge = env.channel("general"), env.channel("Lounge")
        assert from_rest.channel_name(general.id) == "general"
        assert from_rest.is_text_channel(general.id) and not from_rest.is_text_channel(lounge.id)
        assert from_rest.role_name(env.guild.role("Moderator").id) == "Moderator"

        fetched = len(env.server.requests_to("GET", "/guilds/{guild_id}/channels"))
        await env.guild.create_text_channel("rules")
        assert (await rest.guild_names(env.guild.id)) == from_rest  # kept: no new request
        assert len(env.server.requests_to("GET", "/guilds/{guild_id}/channels")) == fetched
        clock[0] = 61.0
        renewed = await rest.guild_names(env.guild.id)
        assert renewed is not None
        assert renewed.channel_name(env.channel("rules").id) == "rules"

        assert await rest.guild_names(env.guild.id + 1) is None  # a guild the bot is not in
        assert await BotNames(env.bot).guild_names(env.guild.id + 1) is None
    finally:
        await rest.close()


async def test_the_cache_and_the_rest_api_name_the_same_people(discord_env: DiscordEnv) -> None:
    env = discord_env
    rest = RestNames(env.server.api_base, env.server.token)
    try:
        alice = env.member("alice").user.id  # type: ignore[attr-defined]
        from_cache = await BotNames(env.bot).user_name(alice)
        assert from_cache is not None and "alice" in from_cache
        assert await rest.user_name(alice) == from_cache
        assert await rest.user_name(123) is None  # nobody Discord knows
        assert await BotNames(env.bot).user_name(123) is None
    finally:
        await rest.close()
