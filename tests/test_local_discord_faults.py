"""Faults Discord produces, and the bot's recovery: each effect happens exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from pegasus.localdiscord import DiscordEnv
from tests.probe_cog import PROBE_EXTENSIONS

pytestmark = pytest.mark.discord_env(extensions=PROBE_EXTENSIONS)

MESSAGES = "/channels/{channel_id}/messages"
CALLBACK = "/interactions/{interaction_id}/{token}/callback"


def probe(env: DiscordEnv) -> Any:
    return env.bot.get_cog("Probe")


def callbacks_for(env: DiscordEnv, interaction_id: int) -> list[Any]:
    return [
        r
        for r in env.server.requests_to("POST", CALLBACK)
        if r.path.startswith(f"/interactions/{interaction_id}/") and not r.fault
    ]


async def test_rate_limited_message_is_retried_once(discord_env: DiscordEnv) -> None:
    env = discord_env
    logs = env.channel("logs")
    env.server.faults.rate_limit("POST", MESSAGES, retry_after=0.05)
    reply = await env.mod.slash("probe post", channel=logs, text="announcement")
    assert reply.content.startswith("Posted")
    assert [m.content for m in logs.bot_messages] == ["announcement (edited)"]
    attempts = [
        r
        for r in env.server.requests_to("POST", MESSAGES)
        if r.path.endswith(f"/{logs.id}/messages")
    ]
    assert [r.status for r in attempts] == [429, 200]
    assert len(env.server.faults.hits) == 1


async def test_rate_limited_interaction_response_is_sent_once(discord_env: DiscordEnv) -> None:
    env = discord_env
    env.server.faults.rate_limit("POST", CALLBACK, retry_after=0.05)
    reply = await env.alice.slash("probe echo", text="once")
    assert reply.content == "once"
    assert [r.status for r in env.server.requests_to("POST", CALLBACK)] == [429, 200]
    assert [m.content for m in env.channel("general").messages] == ["once"]


async def test_server_error_is_retried_without_duplicating(discord_env: DiscordEnv) -> None:
    env = discord_env
    logs = env.channel("logs")
    env.server.faults.fail("POST", MESSAGES, status=500)
    reply = await env.mod.slash("probe post", channel=logs, text="after a 500")
    assert reply.content.startswith("Posted")
    assert [m.content for m in logs.bot_messages] == ["after a 500 (edited)"]
    statuses = [
        r.status
        for r in env.server.requests_to("POST", MESSAGES)
        if r.path == f"/channels/{logs.id}/messages"
    ]
    assert statuses == [500, 200]


@pytest.mark.parametrize("abort", [False, True], ids=["close-frame", "cut-connection"])
async def test_dropped_gateway_resumes_and_replays_missed_events(
    discord_env: DiscordEnv, abort: bool
) -> None:
    env = discord_env
    before = await env.alice.say("general", "before the drop")
    await env.settle()
    await env.server.gateway.drop(abort=abort)
    assert not env.server.gateway.connected
    # While the bot is away, people keep talking and run a command.
    missed = await env.bob.say("general", "while you were away")
    reply = await env.alice.slash("probe echo", text="still there?")
    assert reply.content == "still there?"
    await env.server.gateway.wait_resumed(1)
    await env.settle()
    seen = probe(env).seen_messages
    assert seen[before.id] == 1
    assert seen[missed.id] == 1
    assert len(callbacks_for(env, reply.interaction_id)) == 1
    assert env.server.gateway.identify_count == 1
    assert env.server.gateway.resume_count == 1


async def test_reconnect_request_resumes(discord_env: DiscordEnv) -> None:
    env = discord_env
    before = await env.bob.say("general", "before op 7")
    await env.settle()
    await env.server.gateway.reconnect()
    during = await env.carol.say("general", "while reconnecting")
    reply = await env.alice.slash("probe echo", text="after op 7")
    await env.server.gateway.wait_resumed(1)
    await env.settle()
    assert reply.content == "after op 7"
    seen = probe(env).seen_messages
    assert (seen[before.id], seen[during.id]) == (1, 1)
    assert len(callbacks_for(env, reply.interaction_id)) == 1
    assert env.server.gateway.identify_count == 1


async def test_resumable_invalid_session_resumes(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.server.gateway.invalidate_session(resumable=True)
    await env.server.gateway.wait_resumed(1)
    reply = await env.alice.slash("probe echo", text="resumed")
    assert reply.content == "resumed"
    assert env.server.gateway.identify_count == 1


async def test_invalid_session_identifies_again_without_repeating_effects(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    logs = env.channel("logs")
    await env.mod.slash("probe post", channel=logs, text="before")
    said = await env.alice.say("general", "heard before the new session")
    await env.settle()
    await env.server.gateway.invalidate_session(resumable=False)
    # discord.py waits 5 s before a new IDENTIFY (its identify rate limit).
    await env.server.gateway.wait_identified(2, timeout=15)
    await env.settle()
    reply = await env.alice.slash("probe echo", text="new session")
    assert reply.content == "new session"
    assert len(callbacks_for(env, reply.interaction_id)) == 1
    assert [m.content for m in logs.bot_messages] == ["before (edited)"]
    # The new session starts afresh: nothing of the old one is delivered again.
    assert probe(env).seen_messages[said.id] == 1
    assert env.server.gateway.resume_count == 0
    guild = env.bot.get_guild(env.guild.id)
    assert guild is not None and guild.get_member(env.alice.id) is not None
