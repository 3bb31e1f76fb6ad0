"""`/public-pages`: the switch of the public web pages, for server managers, audited."""

from __future__ import annotations

import pytest

from models.security import AuditLog
from pegasus.localdiscord import CommandUnavailable
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services.dashboard import public_pages_on

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.public_pages"))


async def test_public_pages_are_switched_by_server_managers_only(discord_env: DiscordEnv) -> None:
    env = discord_env
    gid = env.guild.id
    with pytest.raises(CommandUnavailable):
        await env.alice.slash("public-pages set", enabled=True)
    assert not await public_pages_on(gid)

    reply = await env.owner.slash("public-pages show")
    assert reply.ephemeral and "Public pages are off" in str(reply.message.embeds)

    reply = await env.owner.slash("public-pages set", enabled=True)
    assert reply.ephemeral and "Public pages are on" in str(reply.message.embeds)
    assert f"/public/guilds/{gid}/leaderboard" in str(reply.message.embeds)
    assert await public_pages_on(gid)
    change = await AuditLog.get(guild_id=gid, action="web.settings")
    assert change.actor_id == env.owner.id  # type: ignore[attr-defined]
    assert change.after == {"public_pages_enabled": True}

    await env.owner.slash("public-pages set", enabled=False)
    assert not await public_pages_on(gid)
