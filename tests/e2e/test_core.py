"""The bot core end to end: start-up storage of members, /ping and /help, the error bridge for
commands and persistent buttons, and interaction checks."""

from __future__ import annotations

import re

import pytest

from models.guilds import Guild, Member, User
from pegasus.errors import Blacklisted
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "tests.e2e.error_cog"))

REFERENCE = re.compile(r"Reference `([0-9A-F]{8})`")


async def test_guild_and_members_are_stored_at_start_up(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.settle()
    assert await Guild.filter(id=env.guild.id, left_at=None).exists()
    stored = set(await Member.filter(guild_id=env.guild.id).values_list("user_id", flat=True))
    assert {env.alice.id, env.bob.id, env.mod.id, env.owner.id} <= stored
    alice = await User.get(id=env.alice.id)
    assert alice.username == "alice"


async def test_a_member_who_joins_is_stored(discord_env: DiscordEnv) -> None:
    env = discord_env
    dora = await env.guild.add_member("dora", nick="Dora the Explorer")
    await env.settle()
    member = await Member.get(guild_id=env.guild.id, user_id=dora.id)
    assert member.nickname == "Dora the Explorer"


async def test_ping_and_help(discord_env: DiscordEnv) -> None:
    env = discord_env
    pong = await env.alice.slash("ping")
    assert pong.ephemeral and (pong.content or "").startswith("Pong!")
    help_reply = await env.alice.slash("help")
    assert help_reply.ephemeral
    assert "/ping" in help_reply.text and "/help" in help_reply.text


async def test_expected_errors_are_shown_privately(discord_env: DiscordEnv) -> None:
    reply = await discord_env.alice.slash("refuse")
    assert reply.ephemeral
    assert reply.content == "No, and here is why."


@pytest.mark.allow_errors
async def test_unexpected_errors_show_a_reference_that_is_logged(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("explode")
    assert reply.ephemeral
    match = REFERENCE.search(reply.content or "")
    assert match, reply.content
    assert "kaboom" not in (reply.content or "")  # internals are logged, not shown
    logged = [r for r in env.errors if match.group(1) in r.getMessage()]
    assert len(logged) == 1 and "kaboom" in str(logged[0].exc_info[1])


@pytest.mark.allow_errors
async def test_persistent_button_errors_reach_the_member(discord_env: DiscordEnv) -> None:
    env = discord_env
    posted = await env.alice.slash("buttons")
    assert posted.message is not None
    ok = await env.bob.click(posted.message, label="ok")
    assert ok.content == "clicked"
    refused = await env.bob.click(posted.message, label="refuse")
    assert refused.ephemeral and refused.content == "That button says no."
    bug = await env.bob.click(posted.message, label="bug")
    assert bug.ephemeral and REFERENCE.search(bug.content or ""), bug.content


async def test_interaction_checks_refuse_commands_and_buttons(discord_env: DiscordEnv) -> None:
    env = discord_env
    posted = await env.alice.slash("buttons")
    assert posted.message is not None
    refused_ids = {env.bob.id}

    async def no_bob(interaction) -> None:  # type: ignore[no-untyped-def]
        if interaction.user.id in refused_ids:
            raise Blacklisted("You are blacklisted from using Pegasus here.")

    env.bot.pegasus_tree.interaction_checks.append(no_bob)
    command = await env.bob.slash("ping")
    assert command.ephemeral and command.content == "You are blacklisted from using Pegasus here."
    click = await env.bob.click(posted.message, label="ok")
    assert click.ephemeral and click.content == "You are blacklisted from using Pegasus here."
    allowed = await env.alice.slash("ping")
    assert (allowed.content or "").startswith("Pong!")


async def test_restart_keeps_persistent_buttons_working(discord_env: DiscordEnv) -> None:
    env = discord_env
    posted = await env.alice.slash("buttons")
    assert posted.message is not None
    await env.restart_bot()
    again = await env.carol.click(posted.message, label="ok")
    assert again.content == "clicked"


async def test_help_explains_one_command_and_refuses_unknown_ones(discord_env: DiscordEnv) -> None:
    env = discord_env
    detail = await env.alice.slash("help", command="/help")
    assert detail.ephemeral and detail.embed is not None
    assert detail.embed["title"] == "/help"
    assert "`command` (optional)" in detail.text
    unknown = await env.alice.slash("help", command="nope")
    assert unknown.ephemeral
    assert unknown.content == "There is no command `/nope`. Run /help to see them all."
