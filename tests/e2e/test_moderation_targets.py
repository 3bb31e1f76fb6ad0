"""Whom each moderation command may act on, and what the target is told.

Every command that acts on a member refuses, privately and saying why: the moderator themself, the
bot, the server owner, and anyone whose highest role is not below the moderator's and (for the
commands the bot carries out) the bot's. The target hears by DM before a kick or ban, and a closed
DM never stops the action.
"""

from __future__ import annotations

from typing import Any

import pytest

from models.moderation import CaseType, MemberWarning, ModCase
from pegasus.localdiscord import FakeMember
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))

# Each command that acts on one member: its option for the target, other options, and the verb
# its refusals use ("You can't <verb> ...").
MEMBER_COMMANDS: dict[str, tuple[str, dict[str, Any], str]] = {
    "warn": ("member", {"title": "x"}, "warn"),
    "kick": ("member", {}, "kick"),
    "ban": ("user", {"duration": "1h"}, "ban"),
    "timeout": ("member", {"duration": "10m"}, "time out"),
    "untimeout": ("member", {}, "release"),
    "mute": ("member", {"duration": "1h"}, "mute"),
    "unmute": ("member", {}, "unmute"),
}
# The commands the bot carries out on Discord, so the bot must outrank the target too.
BOT_ACTS = [name for name in MEMBER_COMMANDS if name != "warn"]


async def add_member(env: DiscordEnv, name: str, role: str) -> FakeMember:
    member = await env.guild.add_member(name, roles=[env.guild.role(role)])
    await env.settle()
    return member


async def assert_nothing_happened(env: DiscordEnv, *members: FakeMember) -> None:
    for member in members:
        assert member.in_guild and not env.guild.is_banned(member), member.name
        assert member.timed_out_until is None and not member.has_role("Muted"), member.name
    assert await ModCase.all().count() == 0
    assert await MemberWarning.all().count() == 0
    assert env.server.messages_by_bot == [] or all(m.ephemeral for m in env.server.messages_by_bot)


@pytest.mark.parametrize("command", list(MEMBER_COMMANDS))
async def test_who_a_moderator_can_never_target(discord_env: DiscordEnv, command: str) -> None:
    env = discord_env
    option, options, verb = MEMBER_COMMANDS[command]
    boss = await add_member(env, "boss", "Admin")  # above the moderator
    peer = await add_member(env, "peer", "Moderator")  # level with the moderator
    targets = {
        "yourself": (env.mod, f"You can't {verb} yourself."),
        "me": (env.bot_member, f"I can't {verb} myself."),
        "owner": (env.owner, f"You can't {verb} the server owner."),
        "higher": (
            boss,
            f"You can't {verb} {boss.mention}: their highest role is not below yours.",
        ),
        "equal": (peer, f"You can't {verb} {peer.mention}: their highest role is not below yours."),
    }

    for who, (target, refusal) in targets.items():
        reply = await env.mod.slash(command, **{option: target}, **options)
        assert reply.ephemeral, (command, who)
        assert reply.content == refusal, (command, who)

    await assert_nothing_happened(env, env.owner, boss, peer)


@pytest.mark.parametrize("command", BOT_ACTS)
async def test_the_bot_must_outrank_the_target_of_every_action(
    discord_env: DiscordEnv, command: str
) -> None:
    env = discord_env
    option, options, verb = MEMBER_COMMANDS[command]
    top = await env.guild.create_role("Top", position=10)  # above the bot's own role
    vip = await env.guild.add_member("vip", roles=[top])
    await env.settle()

    # The owner outranks everyone; the bot does not outrank vip.
    reply = await env.owner.slash(command, **{option: vip}, **options)

    assert reply.ephemeral
    assert reply.content == (
        f"I can't {verb} {vip.mention}: their highest role is not below mine. "
        "Move my role above theirs in Server Settings → Roles."
    )
    await assert_nothing_happened(env, vip)


async def test_a_warning_needs_no_bot_rank(discord_env: DiscordEnv) -> None:
    env = discord_env
    top = await env.guild.create_role("Top", position=10)
    vip = await env.guild.add_member("vip", roles=[top])
    await env.settle()

    # A warning is only a record: the owner may warn someone the bot could not touch.
    reply = await env.owner.slash("warn", member=vip, title="Rude")

    assert not reply.ephemeral and "was warned" in reply.text
    assert await MemberWarning.filter(user_id=vip.id).count() == 1


async def test_an_administrator_cannot_be_timed_out(discord_env: DiscordEnv) -> None:
    env = discord_env
    boss = await add_member(env, "boss", "Admin")

    reply = await env.owner.slash("timeout", member=boss, duration="10m")

    assert reply.ephemeral
    assert reply.content == f"Discord does not let anyone time out {boss.mention}, an admin."
    await assert_nothing_happened(env, boss)


async def test_the_member_hears_of_a_ban_before_it(discord_env: DiscordEnv) -> None:
    env = discord_env

    await env.mod.slash("ban", user=env.bob, duration="1d", reason="raid")

    [dm] = env.server.dms(env.bob)
    assert dm.embed["title"] == f"You were banned in {env.guild.name}"
    assert "raid" in dm.text and "1d" in dm.text
    paths = [(r.method, r.path) for r in env.server.requests]
    dm_sent = paths.index(("POST", f"/channels/{dm.channel.id}/messages"))
    banned = paths.index(("PUT", f"/guilds/{env.guild.id}/bans/{env.bob.id}"))
    assert dm_sent < banned


@pytest.mark.parametrize(
    ("command", "option", "options", "done"),
    [
        ("kick", "member", {}, "was kicked"),
        ("ban", "user", {}, "was banned"),
        ("timeout", "member", {"duration": "5m"}, "was timed out"),
        ("mute", "member", {}, "was muted"),
        ("warn", "member", {"title": "Rude"}, "was warned"),
    ],
)
async def test_closed_dms_never_stop_an_action(
    discord_env: DiscordEnv, command: str, option: str, options: dict[str, Any], done: str
) -> None:
    env = discord_env
    env.bob.user.dms_open = False

    reply = await env.mod.slash(command, **{option: env.bob}, **options)
    await env.settle()

    assert not reply.ephemeral and done in reply.text
    assert env.server.dms(env.bob) == []
    [case] = await ModCase.filter(user_id=env.bob.id)
    assert case.type == CaseType(command)
    assert env.errors == []


async def test_cases_are_paged(discord_env: DiscordEnv) -> None:
    env = discord_env
    for number in range(12):
        await env.mod.slash("warn", member=env.alice, title=f"warning {number}")

    first = await env.mod.slash("cases", member=env.alice)
    second = await env.mod.slash("cases", member=env.alice, page=2)
    beyond = await env.mod.slash("cases", member=env.alice, page=3)

    assert "Page 1 of 2 · 12 cases" in first.text and "#12 · Warn" in first.text
    assert "#2 · Warn" not in first.text
    assert "Page 2 of 2 · 12 cases" in second.text
    assert "#2 · Warn" in second.text and "#1 · Warn" in second.text and "#3" not in second.text
    assert beyond.ephemeral and beyond.content == "There are only 2 pages."


async def test_paging_past_a_single_page_reads_well(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.mod.slash("warn", member=env.alice, title="once")

    beyond = await env.mod.slash("cases", member=env.alice, page=2)

    assert beyond.ephemeral and beyond.content == "There is only 1 page."
