"""Guilds, users and members are stored as the bot sees them: at GUILD_CREATE in a few batched
statements however large the guild, and again when a member's nickname changes."""

from __future__ import annotations

import logging

import pytest

from models.guilds import Member, User
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",), members=300)


def inserts_into(records: list[logging.LogRecord], table: str) -> int:
    return sum(
        1
        for r in records
        if r.name == "tortoise.db_client"
        and f'INSERT INTO "{table}"' in r.getMessage().replace("`", '"')
    )


async def test_a_large_guild_is_stored_in_batches_at_guild_create(
    discord_env: DiscordEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env = discord_env
    everyone = {member.id for member in env.guild.members}
    assert len(everyone) > 300

    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        await env.restart_bot()  # a new session: GUILD_CREATE with every member again
        await env.settle()

    stored = set(await Member.filter(guild_id=env.guild.id).values_list("user_id", flat=True))
    assert stored == everyone
    assert await User.filter(id__in=list(everyone)).count() == len(everyone)
    # One multi-row statement per table (per 500 rows), never one per member.
    assert inserts_into(caplog.records, "members") in (1, 2)
    assert inserts_into(caplog.records, "users") in (1, 2)


async def test_a_nickname_change_is_stored(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.guild.set_nick(env.alice, "Ally")
    await env.settle()
    assert (await Member.get(guild_id=env.guild.id, user_id=env.alice.id)).nickname == "Ally"

    await env.guild.set_nick(env.alice, None)
    await env.settle()
    assert (await Member.get(guild_id=env.guild.id, user_id=env.alice.id)).nickname is None
