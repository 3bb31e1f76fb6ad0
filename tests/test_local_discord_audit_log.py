"""The local Discord's audit log: moderation through REST by the bot or by a person with their
own token is recorded as Discord records it, sent to the bot and listed by GET audit-logs."""

from __future__ import annotations

from datetime import timedelta

import discord
import pytest

from pegasus.localdiscord import ActionRefused, LocalDiscord
from pegasus.localdiscord.auditlog import (
    MEMBER_BAN_ADD,
    MEMBER_BAN_REMOVE,
    MEMBER_KICK,
    MEMBER_UPDATE,
    PersonClient,
)
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",))


async def test_a_person_acts_with_their_own_permissions(local_discord: LocalDiscord) -> None:
    guild = local_discord.guild
    mod, alice, bob, owner = (guild.member(n) for n in ("mod", "alice", "bob", "owner"))

    with pytest.raises(ActionRefused, match="50013"):
        await alice.ban(bob)  # no Ban Members
    with pytest.raises(ActionRefused, match="50013"):
        await mod.kick(owner)  # the owner is out of anyone's reach
    with pytest.raises(ActionRefused, match="50001"):
        # People reach only the moderation routes, where their own permissions are checked.
        await PersonClient(local_discord, mod).request(
            "POST", f"/channels/{guild.channel('general').id}/messages", body={}, reason=None
        )
    await mod.ban(bob, reason="spam, and more")
    await mod.unban(bob)
    await mod.kick(alice, reason="alt")
    await mod.timeout(guild.member("carol"), timedelta(minutes=10), reason="calm")

    assert not guild.is_banned(bob) and not alice.in_guild
    assert guild.member("carol").is_timed_out
    entries = local_discord.audit_log.entries(guild)
    assert [(e.action_type, e.user_id, e.reason) for e in entries] == [
        (MEMBER_BAN_ADD, mod.id, "spam, and more"),
        (MEMBER_BAN_REMOVE, mod.id, None),
        (MEMBER_KICK, mod.id, "alt"),
        (MEMBER_UPDATE, mod.id, "calm"),
    ]
    [timeout_change] = entries[-1].changes
    assert timeout_change["key"] == "communication_disabled_until"
    assert "old_value" not in timeout_change and timeout_change["new_value"]
    # People's calls are not the bot's: the bot's request log stays the bot's own.
    assert local_discord.requests == [] and len(local_discord.person_requests) == 7


async def test_the_bot_receives_entries_and_reads_the_log(discord_env: DiscordEnv) -> None:
    env = discord_env
    seen: list[discord.AuditLogEntry] = []

    async def listener(entry: discord.AuditLogEntry) -> None:
        seen.append(entry)

    env.bot.add_listener(listener, "on_audit_log_entry_create")
    guild = env.bot.get_guild(env.guild.id)
    assert guild is not None
    member = guild.get_member(env.alice.id)
    assert member is not None

    await member.timeout(timedelta(hours=1), reason="from the bot")
    await env.mod.timeout(env.alice, None)
    await env.mod.ban(env.bob, reason="spam")
    await env.settle()

    ours, removal, ban = seen
    assert (ours.action, ours.user_id, ours.reason) == (
        discord.AuditLogAction.member_update,
        env.bot.user.id,
        "from the bot",
    )
    assert ours.after.timed_out_until is not None and ours.before.timed_out_until is None
    assert removal.user_id == env.mod.id and removal.after.timed_out_until is None
    assert removal.before.timed_out_until is not None
    assert (ban.action, ban.target.id, ban.reason) == (  # type: ignore[union-attr]
        discord.AuditLogAction.ban,
        env.bob.id,
        "spam",
    )
    listed = [e async for e in guild.audit_logs(limit=None)]
    assert [e.id for e in listed] == [ban.id, removal.id, ours.id]  # newest first
    oldest_first = [e async for e in guild.audit_logs(limit=2, oldest_first=True)]
    assert [e.id for e in oldest_first] == [ours.id, removal.id]
    by_mod = [e async for e in guild.audit_logs(user=discord.Object(env.mod.id))]
    assert [e.id for e in by_mod] == [ban.id, removal.id]
    bans = [e async for e in guild.audit_logs(action=discord.AuditLogAction.ban)]
    assert [e.id for e in bans] == [ban.id]
