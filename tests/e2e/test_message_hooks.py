"""The order in which features see a message: Security first, then levels, then the rest.

Extensions are loaded here in an order that puts levels before security, so only the declared
order of the message hooks keeps spam from earning XP.
"""

from __future__ import annotations

import pytest

from models.guilds import Member
from models.levels import UserXP
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.levels", "cogs.community", "cogs.security")
)


async def test_spam_that_security_removes_earns_no_xp(discord_env: DiscordEnv) -> None:
    env = discord_env
    buffer = env.bot.activity_buffer
    await env.owner.slash("security set", anti_spam=True, max_mentions=3)

    spam = await env.alice.say("general", " ".join(m.mention for m in env.guild.members[:4]))
    await env.settle()
    await buffer.flush()
    assert spam.deleted
    assert await UserXP.get_or_none(guild_id=env.guild.id, user_id=env.alice.id) is None
    counted = Member.filter(guild_id=env.guild.id, user_id=env.alice.id, messages__gt=0)
    assert not await counted.exists()

    # The removed message started no cooldown: the next message alice says earns XP at once.
    fine = await env.alice.say("general", "sorry, hello everyone")
    await env.settle()
    await buffer.flush()
    assert not fine.deleted
    stored = await UserXP.get(guild_id=env.guild.id, user_id=env.alice.id)
    assert 15 <= stored.xp <= 25
