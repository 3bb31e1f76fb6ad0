"""The blacklist through the local Discord: refusals on every command, scopes, owners, leaving."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from models.security import AuditLog, Blacklist, BlacklistEntityType
from pegasus.localdiscord import CommandUnavailable
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import moderation

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))


LEAVE_ROUTE = "/users/@me/guilds/{guild_id}"


async def test_a_blacklisted_user_is_refused_by_every_command(discord_env: DiscordEnv) -> None:
    env = discord_env

    added = await env.owner.slash(
        "blacklist add", kind="user", target=env.alice.mention, reason="abusing the bot"
    )

    assert added.ephemeral and "is blacklisted in this server" in (added.content or "")
    for command, options in [("ping", {}), ("help", {})]:
        refused = await env.alice.slash(command, **options)
        assert refused.ephemeral
        assert refused.content == (
            "You are blacklisted from using this bot in this server: abusing the bot."
        )
    assert (await env.bob.slash("ping")).content.startswith("Pong")  # type: ignore[union-attr]

    removed = await env.owner.slash("blacklist remove", kind="user", target=str(env.alice.id))
    assert "no longer blacklisted" in (removed.content or "")
    assert (await env.alice.slash("ping")).content.startswith("Pong")  # type: ignore[union-attr]
    assert [a.action for a in await AuditLog.all().order_by("created_at")] == [
        "blacklist.add",
        "blacklist.remove",
    ]


async def test_blacklisted_roles_and_channels(discord_env: DiscordEnv) -> None:
    env = discord_env
    troublemakers = await env.guild.create_role("Troublemakers")
    await env.guild.add_role(env.bob, troublemakers)
    await env.settle()
    announcements = env.channel("announcements")

    await env.owner.slash(
        "blacklist add", kind="role", target=troublemakers.mention, reason="raiders"
    )
    await env.owner.slash(
        "blacklist add", kind="channel", target=announcements.mention, reason="read only"
    )

    by_role = await env.bob.slash("ping")
    assert by_role.ephemeral and "One of your roles is blacklisted" in (by_role.content or "")
    in_channel = await env.alice.slash("ping", in_channel=announcements)
    assert in_channel.ephemeral and "disabled in this channel" in (in_channel.content or "")
    elsewhere = await env.alice.slash("ping")
    assert (elsewhere.content or "").startswith("Pong")
    # The server's admins are never locked out by its own entries.
    admin_there = await env.owner.slash("ping", in_channel=announcements)
    assert (admin_there.content or "").startswith("Pong")

    listed = await env.owner.slash("blacklist list")
    assert troublemakers.mention in listed.text and announcements.mention in listed.text
    assert "raiders" in listed.text and "read only" in listed.text


async def test_a_long_blacklist_is_listed_within_discords_embed_limits(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    for number in range(20):
        await moderation.add_entry(
            BlacklistEntityType.USER,
            900_000_000_000_000_000 + number,
            guild_id=env.guild.id,
            actor_id=env.owner.id,
            reason=f"entry {number} " + "x" * 480,
            now=datetime.now(UTC),
        )

    listed = await env.owner.slash("blacklist list")

    assert listed.ephemeral and len(listed.embeds) == 1, listed.text
    description = listed.embeds[0]["description"]
    assert len(description) <= 4096 and description.endswith("…")
    assert "entry 19 " in description and "entry 0 " not in description  # newest first


async def test_refused_targets_and_scopes(discord_env: DiscordEnv) -> None:
    env = discord_env
    boss = await env.guild.add_member("boss", roles=[env.guild.role("Admin")])
    await env.settle()

    admin = await env.owner.slash("blacklist add", kind="user", target=boss.mention, reason="x")
    yourself = await env.owner.slash(
        "blacklist add", kind="user", target=env.owner.mention, reason="x"
    )
    everyone = await env.owner.slash(
        "blacklist add", kind="role", target=str(env.guild.id), reason="x"
    )
    wide = await env.owner.slash(
        "blacklist add", kind="user", target=env.alice.mention, reason="x", bot_wide=True
    )
    server = await env.owner.slash(
        "blacklist add", kind="guild", target=str(env.guild.id), reason="x"
    )
    garbage = await env.owner.slash("blacklist add", kind="user", target="alice", reason="x")
    missing = await env.owner.slash("blacklist remove", kind="user", target=env.carol.mention)

    assert "admins can't be blacklisted" in (admin.content or "")
    assert "lock out yourself" in (yourself.content or "")
    assert "@everyone" in (everyone.content or "")
    assert "Only the bot's owners" in (wide.content or "")
    assert "Only the bot's owners" in (server.content or "")
    assert "not a mention or an id" in (garbage.content or "")
    assert "not blacklisted here" in (missing.content or "")
    assert await Blacklist.all().count() == 0
    with pytest.raises(CommandUnavailable):
        await env.mod.slash("blacklist list")  # needs Manage Server


@pytest.mark.discord_env(owner_ids=["owner"])  # OWNER_IDS as an operator sets it
async def test_bot_owners_manage_bot_wide_entries(discord_env: DiscordEnv) -> None:
    env = discord_env

    added = await env.owner.slash(
        "blacklist add", kind="user", target=env.alice.mention, reason="spam bot", bot_wide=True
    )

    assert "is blacklisted everywhere" in (added.content or "")
    entry = await Blacklist.get(entity_id=env.alice.id)
    assert entry.guild_id is None  # type: ignore[attr-defined]
    refused = await env.alice.slash("ping")
    assert refused.content == "You are blacklisted from using this bot: spam bot."
    listed = await env.owner.slash("blacklist list", bot_wide=True)
    assert "bot-wide" in listed.text
    # A bot owner is never refused, even when an entry names them.
    await Blacklist.create(
        entity_type=BlacklistEntityType.USER, entity_id=env.owner.id, guild_id=None, scope_id=0
    )
    env.bot.blacklist.invalidate()
    assert (await env.owner.slash("ping")).content.startswith("Pong")  # type: ignore[union-attr]


@pytest.mark.discord_env(owner_ids=["owner"])
async def test_a_bot_wide_blacklisted_server_is_left(discord_env: DiscordEnv) -> None:
    env = discord_env

    await env.owner.slash(
        "blacklist add", kind="guild", target=str(env.guild.id), reason="scam server"
    )
    await env.settle()

    [leave] = env.server.requests_to("DELETE", LEAVE_ROUTE)
    assert leave.path == f"/users/@me/guilds/{env.guild.id}" and leave.status == 204
    assert env.guild.bot_left and env.bot.get_guild(env.guild.id) is None
    with pytest.raises(CommandUnavailable):  # the bot's commands left with it
        await env.alice.slash("ping")


@pytest.mark.discord_env(owner_ids=["owner"])
async def test_commands_are_refused_in_a_blacklisted_server_the_bot_could_not_leave(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    env.server.faults.fail("DELETE", LEAVE_ROUTE, status=400, message="Discord is unwell")

    await env.owner.slash(
        "blacklist add", kind="guild", target=str(env.guild.id), reason="scam server"
    )
    await env.settle()

    assert len(env.server.faults.hits) == 1 and not env.guild.bot_left
    refused = await env.alice.slash("ping")
    assert refused.content == "This server is blacklisted from using this bot: scam server."


async def test_a_blacklisted_server_is_left_at_start_up(discord_env: DiscordEnv) -> None:
    env = discord_env
    await moderation.add_entry(
        BlacklistEntityType.GUILD,
        env.guild.id,
        guild_id=None,
        actor_id=env.owner.id,
        reason="scam",
        now=datetime.now(UTC),
        actor_is_owner=True,
    )

    await env.restart_bot()
    await env.settle()

    leaves = [r.path for r in env.server.requests if r.method == "DELETE"]
    assert f"/users/@me/guilds/{env.guild.id}" in leaves
    assert env.guild.bot_left and env.bot.get_guild(env.guild.id) is None


@pytest.mark.discord_env(owner_ids=["owner"])
async def test_a_blacklisted_server_is_left_again_when_it_adds_the_bot_back(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.owner.slash(
        "blacklist add", kind="guild", target=str(env.guild.id), reason="scam server"
    )
    await env.settle()
    assert env.guild.bot_left

    await env.guild.add_bot()  # someone invites the bot again
    await env.settle()

    assert len(env.server.requests_to("DELETE", LEAVE_ROUTE)) == 2
    assert env.guild.bot_left and env.bot.get_guild(env.guild.id) is None


@pytest.mark.discord_env(owner_ids=["owner"])
async def test_only_bot_owners_lift_bot_wide_entries(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash(
        "blacklist add", kind="user", target=env.alice.mention, reason="spam bot", bot_wide=True
    )
    boss = await env.guild.add_member("boss", roles=[env.guild.role("Admin")])
    await env.settle()

    refused = await boss.slash(
        "blacklist remove", kind="user", target=env.alice.mention, bot_wide=True
    )
    assert refused.ephemeral and "Only the bot's owners" in (refused.content or "")
    local = await boss.slash("blacklist remove", kind="user", target=env.alice.mention)
    assert local.ephemeral and "not blacklisted here" in (local.content or "")
    assert (await env.alice.slash("ping")).ephemeral  # still refused everywhere

    lifted = await env.owner.slash(
        "blacklist remove", kind="user", target=env.alice.mention, bot_wide=True
    )

    assert lifted.ephemeral and "no longer blacklisted anywhere" in (lifted.content or "")
    assert (await env.alice.slash("ping")).content.startswith("Pong")  # type: ignore[union-attr]
    removal = await AuditLog.get(action="blacklist.remove")
    assert removal.before is not None and removal.after is not None


async def test_start_up_reads_the_blacklist_once_however_many_guilds(
    discord_env: DiscordEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env = discord_env
    others = [env.server.create_guild(f"Guild {n}", owner="owner") for n in range(5)]
    scam = others[2]
    await moderation.add_entry(
        BlacklistEntityType.GUILD,
        scam.id,
        guild_id=None,
        actor_id=env.owner.id,
        reason="scam",
        now=datetime.now(UTC),
        actor_is_owner=True,
    )

    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        await env.restart_bot()
        await env.settle()

    reads = [
        r
        for r in caplog.records
        if r.name == "tortoise.db_client"
        and 'FROM "blacklist"' in r.getMessage().replace("`", '"')
    ]
    assert len(reads) == 1
    assert scam.bot_left and env.bot.get_guild(scam.id) is None
    assert not any(g.bot_left for g in [env.guild, *others] if g is not scam)
