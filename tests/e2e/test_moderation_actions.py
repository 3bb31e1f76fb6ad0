"""Kick, ban, unban, timeout, mute and purge through the local Discord, with their refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models.moderation import CaseType, ModCase
from models.scheduling import ScheduledAction
from models.security import SecurityLog
from pegasus.localdiscord import CommandUnavailable, Permissions
from pegasus.localdiscord.env import DiscordEnv
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))


async def case_types(user_id: int) -> list[CaseType]:
    return [c.type for c in await cases_of(user_id)]


async def cases_of(user_id: int) -> list[ModCase]:
    return list(await ModCase.filter(user_id=user_id).order_by("case_number"))


async def set_modlog(env: DiscordEnv) -> None:
    reply = await env.owner.slash("modlog", channel=env.channel("logs"))
    assert "logs" in (reply.content or "") or str(env.channel("logs").id) in (reply.content or "")


async def test_kick_tells_the_member_first_then_kicks_and_logs(discord_env: DiscordEnv) -> None:
    env = discord_env
    await set_modlog(env)

    reply = await env.mod.slash("kick", member=env.bob, reason="spamming links")

    assert not reply.ephemeral
    assert "was kicked" in reply.text and "spamming links" in reply.text
    assert env.guild.kicked == [env.bob.user]
    assert not env.bob.in_guild
    [dm] = env.server.dms(env.bob)
    assert "kicked" in dm.text and "spamming links" in dm.text
    # The DM went out before the kick.
    paths = [(r.method, r.path) for r in env.server.requests]
    dm_sent = paths.index(("POST", f"/channels/{dm.channel.id}/messages"))
    kicked = paths.index(("DELETE", f"/guilds/{env.guild.id}/members/{env.bob.id}"))
    assert dm_sent < kicked
    [case] = await cases_of(env.bob.id)
    assert (case.type, case.reason, case.case_number) == (CaseType.KICK, "spamming links", 1)
    assert case.moderator_id == env.mod.id  # type: ignore[attr-defined]
    await env.settle()
    [post] = env.channel("logs").bot_messages
    assert post.embed["title"] == "Case #1 · Kick"
    assert (await ModCase.get(id=case.id)).modlog_message_id == post.id
    assert await SecurityLog.filter(action="moderation.kick").count() == 1


async def test_permanent_ban_and_unban(discord_env: DiscordEnv) -> None:
    env = discord_env

    banned = await env.mod.slash("ban", user=env.bob, reason="raid", delete_messages=86400)

    assert "was banned" in banned.text
    assert env.guild.is_banned(env.bob)
    [dm] = env.server.dms(env.bob)
    assert "You were banned" in dm.text and "raid" in dm.text
    assert "raid" in (env.guild.bans[env.bob.id].reason or "")
    [ban_request] = env.server.requests_to("PUT", "/guilds/{guild_id}/bans/{user_id}")
    assert int(ban_request.query["delete_message_seconds"]) == 86400
    assert await ScheduledAction.all().count() == 0  # permanent: no timer

    unbanned = await env.mod.slash("unban", user=env.bob, reason="appeal")

    assert "was unbanned" in unbanned.text
    assert not env.guild.is_banned(env.bob)
    assert [c.type for c in await cases_of(env.bob.id)] == [CaseType.BAN, CaseType.UNBAN]
    again = await env.mod.slash("unban", user=env.bob)
    assert again.ephemeral and "not banned" in (again.content or "")


async def test_tempban_is_lifted_by_its_timer(discord_env: DiscordEnv) -> None:
    env = discord_env

    reply = await env.mod.slash("ban", user=env.bob, duration="1s", reason="cool off")

    assert "for 1s" in reply.text
    assert env.guild.is_banned(env.bob)

    async def unbanned() -> bool:
        return len(await cases_of(env.bob.id)) == 2

    await eventually(unbanned, "the unban case is recorded")
    assert not env.guild.is_banned(env.bob)
    assert len(env.server.requests_to("DELETE", "/guilds/{guild_id}/bans/{user_id}")) == 1
    ban, unban = await cases_of(env.bob.id)
    assert (ban.type, ban.active) == (CaseType.BAN, False)
    assert unban.type == CaseType.UNBAN and unban.metadata["expired_case"] == ban.case_number


async def test_ban_a_user_who_is_not_a_member(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.carol.leave()

    reply = await env.mod.slash("ban", user=env.carol, reason="ban evasion")

    assert env.guild.is_banned(env.carol)
    assert "was banned" in reply.text
    assert env.server.dms(env.carol) == []  # no shared server: no DM attempted


async def test_timeout_and_untimeout(discord_env: DiscordEnv) -> None:
    env = discord_env

    reply = await env.mod.slash("timeout", member=env.alice, duration="10m", reason="calm down")

    assert "was timed out for 10m" in reply.text
    until = env.alice.timed_out_until
    assert until is not None
    assert timedelta(minutes=9) < until - datetime.now(UTC) <= timedelta(minutes=10)
    timer = await ScheduledAction.get(kind="moderation.timeout_end")
    assert timer.payload["user_id"] == env.alice.id

    released = await env.mod.slash("untimeout", member=env.alice)

    assert "released from timeout" in released.text
    assert env.alice.timed_out_until is None
    assert [c.type for c in await cases_of(env.alice.id)] == [CaseType.TIMEOUT, CaseType.UNTIMEOUT]
    await timer.refresh_from_db()
    assert timer.status == "cancelled"


@pytest.mark.parametrize(
    ("duration", "message"),
    [("29d", "at most 28 days"), ("soon", "is not a duration"), ("0s", "at least")],
)
async def test_bad_timeout_durations(discord_env: DiscordEnv, duration: str, message: str) -> None:
    env = discord_env
    reply = await env.mod.slash("timeout", member=env.alice, duration=duration)
    assert reply.ephemeral and message in (reply.content or "")
    assert env.alice.timed_out_until is None
    assert await ModCase.all().count() == 0


async def test_mute_creates_the_role_and_unmute_lifts_it(discord_env: DiscordEnv) -> None:
    env = discord_env

    reply = await env.mod.slash("mute", member=env.alice, reason="shouting")

    assert "was muted" in reply.text
    assert env.alice.has_role("Muted")
    muted = env.guild.role("Muted")
    general = env.channel("general")
    assert not general.permissions_for(env.alice).send_messages
    assert general.permissions_for(env.bob).send_messages
    assert muted.id in general.overwrites

    again = await env.mod.slash("mute", member=env.bob)
    assert env.bob.has_role("Muted")
    assert len([r for r in env.guild.roles if r.name == "Muted"]) == 1  # reused, not recreated
    assert "was muted" in again.text

    lifted = await env.mod.slash("unmute", member=env.alice)

    assert "was unmuted" in lifted.text
    assert not env.alice.has_role("Muted")
    not_muted = await env.mod.slash("unmute", member=env.alice)
    assert not_muted.ephemeral and "is not muted" in (not_muted.content or "")


async def test_a_muted_member_who_rejoins_is_muted_again(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.mod.slash("mute", member=env.alice, duration="1h")
    await env.alice.leave()
    await env.settle()

    back = await env.guild.add_member("alice", user=env.alice.user)
    await env.settle()

    assert back.has_role("Muted")
    assert await SecurityLog.filter(action="moderation.mute_reapplied").count() == 1


async def test_timed_mute_ends_by_itself(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.mod.slash("mute", member=env.alice, duration="1s")
    assert env.alice.has_role("Muted")

    async def unmuted() -> bool:
        return await case_types(env.alice.id) == [CaseType.MUTE, CaseType.UNMUTE]

    await eventually(unmuted, "the unmute case is recorded")
    assert not env.alice.has_role("Muted")


async def test_purge_asks_then_deletes_only_that_members_messages(discord_env: DiscordEnv) -> None:
    env = discord_env
    general = env.channel("general")
    for i in range(4):
        await env.alice.say(general, f"spam {i}")
        await env.bob.say(general, f"hello {i}")
    await env.settle()

    prompt = await env.mod.slash("purge", count=3, member=env.alice)
    assert prompt.ephemeral and "Delete the last 3 messages" in (prompt.content or "")
    assert len(general.messages) == 8  # nothing deleted before confirming
    done = await env.mod.click(prompt, label="Delete")
    await env.settle()

    left = [m.content for m in general.messages]
    assert left == ["spam 0", "hello 0", "hello 1", "hello 2", "hello 3"]
    assert "Deleted 3 messages" in (done.content or "")
    [case] = await ModCase.filter(type=CaseType.PURGE)
    assert case.metadata["deleted"] == 3 and case.channel_id == general.id


async def test_purge_cancelled_deletes_nothing(discord_env: DiscordEnv) -> None:
    env = discord_env
    general = env.channel("general")
    await env.alice.say(general, "keep me")
    prompt = await env.mod.slash("purge", count=5)
    cancelled = await env.mod.click(prompt, label="Cancel")
    assert "nothing was changed" in (cancelled.content or "")
    assert [m.content for m in general.messages] == ["keep me"]


# -- refusals -------------------------------------------------------------------------------


async def test_hierarchy_refusals(discord_env: DiscordEnv) -> None:
    env = discord_env
    boss = await env.guild.add_member("boss", roles=[env.guild.role("Admin")])
    other_mod = await env.guild.add_member("other_mod", roles=[env.guild.role("Moderator")])
    await env.settle()

    refusals = {
        "owner": await env.mod.slash("ban", user=env.owner),
        "self": await env.mod.slash("kick", member=env.mod),
        "bot": await env.mod.slash("timeout", member=env.bot_member, duration="1m"),
        "higher": await env.mod.slash("kick", member=boss),
        "equal": await env.mod.slash("mute", member=other_mod),
    }

    assert "server owner" in (refusals["owner"].content or "")
    assert "yourself" in (refusals["self"].content or "")
    assert "myself" in (refusals["bot"].content or "")
    assert "not below yours" in (refusals["higher"].content or "")
    assert "not below yours" in (refusals["equal"].content or "")
    assert all(r.ephemeral for r in refusals.values())
    assert env.owner.in_guild and boss.in_guild and not env.guild.bans
    assert not other_mod.has_role("Muted")
    assert await ModCase.all().count() == 0


async def test_the_bot_must_outrank_the_target(discord_env: DiscordEnv) -> None:
    env = discord_env
    top = await env.guild.create_role("Top", position=10)
    vip = await env.guild.add_member("vip", roles=[top])
    await env.settle()

    reply = await env.owner.slash("kick", member=vip)  # the owner outranks everyone; the bot not

    assert reply.ephemeral and "not below mine" in (reply.content or "")
    assert vip.in_guild


async def test_members_without_the_permission_cannot_use_the_commands(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    for command, options in [
        ("ban", {"user": env.bob}),
        ("kick", {"member": env.bob}),
        ("timeout", {"member": env.bob, "duration": "1m"}),
        ("purge", {"count": 2}),
        ("warn", {"member": env.bob, "title": "x"}),
        ("modlog", {}),
    ]:
        with pytest.raises(CommandUnavailable):
            await env.alice.slash(command, **options)
    assert not env.guild.bans and env.bob.in_guild


async def test_permission_is_checked_again_when_the_command_runs(discord_env: DiscordEnv) -> None:
    env = discord_env
    # A server admin lets everyone see /kick (Integrations → command permissions override the
    # default). Discord then delivers the interaction; the bot still checks Kick Members.
    env.server.global_commands_by_name["1:kick"]["default_member_permissions"] = None

    reply = await env.alice.slash("kick", member=env.bob)

    assert reply.ephemeral and "Kick Members" in (reply.content or "")
    assert env.bob.in_guild and not env.guild.kicked
    assert await ModCase.all().count() == 0


async def test_the_bot_needs_its_own_permission(discord_env: DiscordEnv) -> None:
    env = discord_env
    bot_role = env.guild.role("Pegasus")
    await env.guild.set_role_permissions(
        bot_role, Permissions(bot_role.permissions) & ~Permissions.of("ban_members")
    )
    await env.settle()

    reply = await env.mod.slash("ban", user=env.bob)

    assert reply.ephemeral and "I need the Ban Members permission" in (reply.content or "")
    assert not env.guild.bans


async def test_a_tempban_replaced_by_a_permanent_ban_is_never_lifted(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.mod.slash("ban", user=env.bob, duration="1s", reason="cool off")
    await env.mod.slash("ban", user=env.bob, reason="for good")

    timer = await ScheduledAction.get(kind="moderation.unban")
    assert timer.status == "cancelled"
    await asyncio.sleep(1.2)  # past the tempban's end
    assert await env.bot.scheduler.run_due() == 0
    await env.settle()
    assert env.guild.is_banned(env.bob)
    assert env.server.requests_to("DELETE", "/guilds/{guild_id}/bans/{user_id}") == []
    tempban, permanent = await cases_of(env.bob.id)
    assert (tempban.active, permanent.active) == (False, True)


async def test_a_tempban_lifted_outside_the_bot_ends_quietly(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.mod.slash("ban", user=env.bob, duration="1s", reason="cool off")
    del env.guild.bans[env.bob.id]  # an admin lifted it in Discord's own settings

    async def recorded() -> bool:
        return await case_types(env.bob.id) == [CaseType.BAN, CaseType.UNBAN]

    await eventually(recorded, "the timer ends the case")
    await env.settle()
    # Discord answered "Unknown Ban"; the bot took it as done, with no error and no retry.
    [unban] = env.server.requests_to("DELETE", "/guilds/{guild_id}/bans/{user_id}")
    assert unban.status == 404

    async def timer_finished() -> bool:
        # The case is visible before the scheduler writes "done" (just after the handler).
        return (await ScheduledAction.get(kind="moderation.unban")).status != "running"

    await eventually(timer_finished, "the scheduler marks the timer finished")
    timer = await ScheduledAction.get(kind="moderation.unban")
    assert (timer.status, timer.attempts) == ("done", 1)


@pytest.mark.parametrize(
    ("command", "option", "kind", "route"),
    [
        ("ban", "user", "moderation.unban", "/guilds/{guild_id}/bans/{user_id}"),
        (
            "mute",
            "member",
            "moderation.unmute",
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        ),
    ],
)
async def test_a_timer_already_running_when_a_permanent_punishment_lands_leaves_it(
    discord_env: DiscordEnv, command: str, option: str, kind: str, route: str
) -> None:
    env = discord_env
    await env.mod.slash(command, **{option: env.bob}, duration="1h", reason="cool off")
    timer = await ScheduledAction.get(kind=kind)
    await env.mod.slash(command, **{option: env.bob}, reason="for good")

    # The scheduler claimed the old timer just before the new punishment cancelled it, so its
    # handler still runs: it must see that its case was replaced and touch nothing.
    timers = env.bot.get_cog("Moderation timers")
    await timers.handlers[kind](timer)  # type: ignore[union-attr]
    await env.settle()

    assert env.server.requests_to("DELETE", route) == []
    still_punished = env.guild.is_banned(env.bob) if command == "ban" else env.bob.has_role("Muted")
    assert still_punished
    first, second = await cases_of(env.bob.id)
    assert (first.active, second.active) == (False, True)
