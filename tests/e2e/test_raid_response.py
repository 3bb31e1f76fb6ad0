"""Raid response end to end through the local Discord: /lock, /unlock and /slowmode by staff, and
what a detected raid sets off (lockdown, slowmode, the joining wave kicked or banned, the
account-age gate), across a restart too. The tests look at the channels' overwrites and
slowmode as Discord has them, at who was kicked, and at what the database recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import discord
import pytest

from models.moderation import CaseType, ModCase
from models.raids import ChannelLock, ChannelSlowmode
from models.security import AuditLog, SecurityIncident, SecurityLog
from pegasus.localdiscord import CommandUnavailable
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.permissions import Overwrite, Permissions
from pegasus.localdiscord.state import FakeChannel, now
from pegasus.services.security import CommandRateLimiter

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.community", "cogs.security", "cogs.raid_response")
)

LOCKED = Permissions.of("send_messages", "add_reactions")
THREAD_BITS = ("send_messages_in_threads", "create_public_threads", "create_private_threads")


@pytest.fixture
def env(discord_env: DiscordEnv) -> DiscordEnv:
    # Setting a server up takes more commands in a row than the rate limit lets a person send.
    security = discord_env.bot.get_cog("Security")
    security.limiter = CommandRateLimiter(limit=1000, window_seconds=10)
    return discord_env


def said(reply: Any) -> str:
    """What a (possibly deferred) answer shows."""
    texts = [reply.text, *(message.text for message in reply.followups)]
    return "\n".join(text for text in texts if text)


def overwrites(channel: FakeChannel) -> dict[int, tuple[int, int, int]]:
    return {key: (o.type, int(o.allow), int(o.deny)) for key, o in channel.overwrites.items()}


def everyone_denied(env: DiscordEnv, channel: FakeChannel) -> int:
    overwrite = channel.overwrites.get(env.guild.id)
    return int(overwrite.deny) if overwrite is not None else 0


async def make_channels(env: DiscordEnv) -> dict[str, FakeChannel]:
    """Channels with an @everyone overwrite of their own, with none, with an empty one, and
    one with a role overwrite beside @everyone's."""
    moderator = env.guild.role("Moderator")
    custom = Overwrite(
        env.guild.id,
        0,
        int(Permissions.of("embed_links")),
        int(Permissions.of("attach_files", "add_reactions")),
    )
    return {
        "custom": await env.guild.create_text_channel("custom", overwrites=[custom]),
        "plain": await env.guild.create_text_channel("plain", overwrites=[]),
        "empty": await env.guild.create_text_channel(
            "empty", overwrites=[Overwrite(env.guild.id, 0, 0, 0)]
        ),
        "staffed": await env.guild.create_text_channel(
            "staffed",
            overwrites=[
                Overwrite(moderator.id, 0, int(Permissions.of("send_messages")), 0),
                Overwrite(env.guild.id, 0, int(Permissions.of("read_message_history")), 0),
            ],
        ),
    }


# ------------------------------------------------------------------------------ /lock, /unlock


async def test_lockdown_then_unlock_leaves_every_channel_exactly_as_before(env: DiscordEnv) -> None:
    channels = await make_channels(env)
    await env.settle()
    before = {name: overwrites(channel) for name, channel in channels.items()}
    for name in channels:
        await env.owner.slash("raid channel", channel=channels[name], lockdown=True)

    locked = await env.owner.slash("lock", server=True, reason="raid drill")
    assert "Locked" in said(locked), said(locked)
    for name, channel in channels.items():
        assert everyone_denied(env, channel) & LOCKED == LOCKED, name
        assert not channel.permissions_for(env.alice).send_messages, name
    # Every other bit of @everyone's overwrite, and the role overwrite, are untouched.
    custom = channels["custom"].overwrites[env.guild.id]
    assert int(custom.allow) == int(Permissions.of("embed_links"))
    moderator = env.guild.role("Moderator")
    assert overwrites(channels["staffed"])[moderator.id] == before["staffed"][moderator.id]
    assert await ChannelLock.filter(guild_id=env.guild.id).count() == 4

    # Locking again does not replace what was remembered by the first lock.
    again = await env.owner.slash("lock", channel=channels["custom"])
    assert "already locked" in said(again), said(again)

    unlocked = await env.owner.slash("unlock", server=True, reason="drill over")
    assert "Unlocked" in said(unlocked), said(unlocked)
    await env.settle()
    after = {name: overwrites(channel) for name, channel in channels.items()}
    assert after == before
    assert env.guild.id not in channels["plain"].overwrites  # none before: none after
    assert channels["plain"].permissions_for(env.alice).send_messages
    assert await ChannelLock.all().count() == 0

    actions = await AuditLog.filter(guild_id=env.guild.id).values_list("action", flat=True)
    assert "channel.lock" in actions and "channel.unlock" in actions
    unlock_row = await AuditLog.get(action="channel.unlock")
    assert unlock_row.actor_id == env.owner.id  # type: ignore[attr-defined]
    assert unlock_row.after["reason"] == "drill over"
    assert await SecurityLog.filter(action="security.channel_lock").count() == 2


async def test_one_channel_lock_and_unlock(env: DiscordEnv) -> None:
    general = env.channel("general")
    before = overwrites(general)
    reply = await env.owner.slash("lock", in_channel=general, reason="heated")
    assert "Locked" in said(reply) and general.mention in said(reply)
    assert not general.permissions_for(env.alice).send_messages
    assert general.permissions_for(env.mod).view_channel
    await env.owner.slash("unlock", in_channel=general)
    assert overwrites(general) == before
    nothing = await env.owner.slash("unlock", in_channel=general)
    assert nothing.ephemeral and "is not locked by me" in said(nothing)


async def test_lock_needs_manage_channels(env: DiscordEnv) -> None:
    with pytest.raises(CommandUnavailable):
        await env.alice.slash("lock")
    with pytest.raises(CommandUnavailable):
        await env.alice.slash("slowmode", seconds="10s")


async def test_slowmode_is_set_and_turned_off(env: DiscordEnv) -> None:
    general = env.channel("general")
    reply = await env.owner.slash("slowmode", seconds="30s", channel=general, reason="calm")
    assert "Slowmode in" in said(reply) and "30s" in said(reply)
    assert general.rate_limit_per_user == 30
    bad = await env.owner.slash("slowmode", seconds="7h", channel=general)
    assert "at most 6h" in said(bad)
    await env.owner.slash("slowmode", seconds="off", channel=general)
    assert general.rate_limit_per_user == 0
    rows = await AuditLog.filter(action="channel.slowmode")
    changes = sorted(
        (row.before["slowmode_seconds"], row.after["slowmode_seconds"]) for row in rows
    )
    assert changes == [(0, 30), (30, 0)]  # the refused 7h changed nothing


# ------------------------------------------------------------------------------ raids


async def turn_on_anti_raid(env: DiscordEnv, **raid: Any) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"), events="member_leave")
    await env.owner.slash("security set", anti_raid=True, raid_joins=3, raid_seconds=60)
    if raid:
        reply = await env.owner.slash("raid set", **raid)
        assert "Raid response saved" in said(reply), said(reply)


async def test_a_raid_wave_is_kicked_but_never_staff_or_older_members(env: DiscordEnv) -> None:
    await turn_on_anti_raid(env, action="kick")
    moderator = env.guild.role("Moderator")
    raiders = [await env.guild.add_member(f"raider{n}") for n in range(3)]
    # Staff joining in the wave, and a member whose join predates the window (Discord says
    # when they joined), are left alone.
    staff = await env.guild.add_member("helper", roles=[moderator])
    old = await env.guild.add_member("veteran", joined_at=now() - timedelta(days=30))
    late = await env.guild.add_member("raider3")
    await env.settle()

    kicked = {user.id for user in env.guild.kicked}
    assert kicked == {m.id for m in [*raiders, late]}
    assert env.guild.find_member("helper") is not None
    assert env.guild.find_member("veteran") is not None
    for member in (env.alice, env.bob, env.mod, staff, old):
        assert member.id not in kicked
    incident = await SecurityIncident.get()
    kicks = [a for a in incident.actions if a["type"] == "kicked"]
    assert sorted(u for a in kicks for u in a["users"]) == sorted(kicked)
    # Each removal is a case like a moderator's, with Pegasus as the moderator.
    cases = await ModCase.filter(guild_id=env.guild.id).order_by("case_number")
    assert {case.user_id for case in cases} == kicked
    assert {(case.type, case.moderator_id) for case in cases} == {(CaseType.KICK, env.bot.user.id)}
    assert all("Joined in raid" in (case.reason or "") for case in cases)
    alerts = [m.text for m in env.channel("logs").bot_messages]
    assert any("Raid response" in text and "kicked" in text for text in alerts), alerts
    # Later joins of the same raid are acted on without a post each.
    assert len([text for text in alerts if "Raid response" in text]) == 1


async def test_a_raid_wave_can_be_banned(env: DiscordEnv) -> None:
    await turn_on_anti_raid(env, action="ban")
    raiders = [await env.guild.add_member(f"banned{n}") for n in range(4)]
    await env.settle()
    assert set(env.guild.bans) == {m.id for m in raiders}
    assert env.mod.id not in env.guild.bans
    cases = await ModCase.filter(guild_id=env.guild.id)
    assert sorted(case.user_id for case in cases) == sorted(m.id for m in raiders)
    assert {case.type for case in cases} == {CaseType.BAN}


@pytest.mark.discord_env(
    extensions=(
        "cogs.core",
        "cogs.community",
        "cogs.moderation",
        "cogs.security",
        "cogs.raid_response",
    )
)
async def test_a_large_wave_is_one_modlog_post_and_a_small_one_a_post_per_case(
    env: DiscordEnv,
) -> None:
    modlog = await env.guild.create_text_channel("modlog")
    await env.owner.slash("modlog", channel=modlog)
    await turn_on_anti_raid(env, action="kick")
    # The raid is seen at the 13th join: those 13 are one wave; the 14th is a wave of its own.
    await env.owner.slash("security set", raid_joins=12)
    raiders = [await env.guild.add_member(f"wave{n}") for n in range(14)]
    await env.settle()
    kicked = {user.id for user in env.guild.kicked}
    assert kicked == {m.id for m in raiders}
    cases = await ModCase.filter(guild_id=env.guild.id).order_by("case_number")
    assert sorted(case.user_id for case in cases) == sorted(kicked)
    posts = [m.embeds[0] for m in modlog.bot_messages if m.embeds]
    summaries = [e for e in posts if "cases" in (e.get("title") or "")]
    singles = [e for e in posts if (e.get("title") or "").startswith("Case #")]
    assert len(summaries) == 1 and "Kick" in summaries[0]["title"]
    summarised = {
        n for case in cases if f"`#{(n := case.case_number)}`" in summaries[0]["description"]
    }
    assert len(summarised) == 13
    assert len(singles) == 1


async def test_the_account_age_gate_kicks_young_accounts_while_the_raid_lasts(
    env: DiscordEnv,
) -> None:
    await turn_on_anti_raid(env, min_account_age=7, hold="10m")
    old_enough = now() - timedelta(days=30)
    wave = [await env.guild.add_member(f"w{n}", created_at=old_enough) for n in range(3)]
    young_in_wave = await env.guild.add_member("fresh0")
    await env.settle()
    assert {u.id for u in env.guild.kicked} == {young_in_wave.id}

    # The burst is over as far as the detector goes, but the raid lasts for `hold`: a young
    # account is still turned away, an old one comes in.
    security = env.bot.get_cog("Security")
    security.raids.clear()
    young = await env.guild.add_member("fresh1")
    grown = await env.guild.add_member("grown", created_at=old_enough)
    await env.settle()
    kicked = {u.id for u in env.guild.kicked}
    assert young.id in kicked and grown.id not in kicked
    assert not kicked & {m.id for m in wave}
    incident = await SecurityIncident.get()
    assert any(a["type"] == "age_gate" and young.id in a["users"] for a in incident.actions)

    # Once the incident is resolved, the gate is lifted.
    await env.owner.slash("security resolve", id=incident.incident_id)
    later = await env.guild.add_member("fresh2")
    await env.settle()
    assert later.id not in {u.id for u in env.guild.kicked}


async def test_a_raid_locks_and_slows_down_and_unlock_restores_both(env: DiscordEnv) -> None:
    channels = await make_channels(env)
    general = env.channel("general")
    general.rate_limit_per_user = 5
    await env.settle()
    before = {name: overwrites(channel) for name, channel in channels.items()}
    await turn_on_anti_raid(env, lockdown=True, slowmode="2m")
    for channel in (*channels.values(), general):
        await env.owner.slash("raid channel", channel=channel, lockdown=True, slowmode=True)

    for n in range(4):
        await env.guild.add_member(f"locker{n}")
    await env.settle()
    for channel in (*channels.values(), general):
        assert everyone_denied(env, channel) & LOCKED == LOCKED, channel.name
        assert channel.rate_limit_per_user == 120
    assert await ChannelSlowmode.filter(channel_id=general.id, previous_seconds=5).exists()
    incident = await SecurityIncident.get()
    kinds = [a["type"] for a in incident.actions]
    assert "lockdown" in kinds and "slowmode" in kinds

    unlocked = await env.owner.slash("unlock", server=True)
    assert "Slowmode is back" in said(unlocked), said(unlocked)
    await env.settle()
    assert {name: overwrites(channel) for name, channel in channels.items()} == before
    assert general.rate_limit_per_user == 5
    assert channels["plain"].rate_limit_per_user == 0
    assert await ChannelSlowmode.all().count() == 0


async def test_a_raid_going_on_across_a_restart_stays_one_incident(env: DiscordEnv) -> None:
    await turn_on_anti_raid(env, action="kick")
    first = [await env.guild.add_member(f"before{n}") for n in range(4)]
    await env.settle()
    assert await SecurityIncident.all().count() == 1

    await env.restart_bot()
    after = [await env.guild.add_member(f"after{n}") for n in range(2)]
    await env.settle()

    assert await SecurityIncident.all().count() == 1
    incident = await SecurityIncident.get()
    assert set(incident.affected_users) == {m.id for m in [*first, *after]}
    # The members who joined after the restart belong to the raid: kicked too.
    assert {u.id for u in env.guild.kicked} == {m.id for m in [*first, *after]}
    assert len([m for m in env.channel("logs").bot_messages if "Raid detected" in m.text]) == 1


async def test_discord_refuses_a_slowmode_over_six_hours(env: DiscordEnv) -> None:
    general = env.bot.get_channel(env.channel("general").id)
    with pytest.raises(discord.HTTPException) as refused:
        await general.edit(slowmode_delay=21601)
    assert refused.value.status == 400 and refused.value.code == 50035
    await general.edit(slowmode_delay=21600)
    assert env.channel("general").rate_limit_per_user == 21600


async def test_a_server_lock_with_no_chosen_channel_spares_the_log_and_private_ones(
    env: DiscordEnv,
) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"), events="member_leave")
    hidden = Overwrite(env.guild.id, 0, 0, int(Permissions.of("view_channel")))
    private = await env.guild.create_text_channel("staff-room", overwrites=[hidden])
    await env.settle()
    reply = await env.owner.slash("lock", server=True)
    assert "Locked" in said(reply), said(reply)
    for name in ("general", "announcements"):
        assert everyone_denied(env, env.channel(name)) & LOCKED == LOCKED, name
    assert env.guild.id not in env.channel("logs").overwrites
    assert overwrites(private) == {env.guild.id: (0, 0, int(Permissions.of("view_channel")))}
    await env.owner.slash("unlock", server=True)
    for name in ("general", "announcements"):
        assert env.channel(name).permissions_for(env.alice).send_messages, name


async def test_a_lock_is_undone_exactly_after_a_restart(env: DiscordEnv) -> None:
    channels = await make_channels(env)
    await env.settle()
    before = overwrites(channels["custom"])
    await env.owner.slash("lock", channel=channels["custom"], reason="before the restart")
    assert everyone_denied(env, channels["custom"]) & LOCKED == LOCKED
    await env.restart_bot()
    reply = await env.owner.slash("unlock", channel=channels["custom"])
    assert "Unlocked" in said(reply), said(reply)
    assert overwrites(channels["custom"]) == before


async def test_lock_unlock_and_slowmode_need_manage_channels_in_the_channel_changed(
    env: DiscordEnv,
) -> None:
    """Discord checks a command's permission where it is typed: a member who manages only
    their own channel must not lock, unlock or slow down another one from there."""
    desk = await env.guild.create_text_channel(
        "desk",
        overwrites=[Overwrite(env.alice.id, 1, int(Permissions.of("manage_channels")), 0)],
    )
    general = env.channel("general")
    before = overwrites(general)

    lock = await env.alice.slash("lock", in_channel=desk, channel=general)
    assert lock.ephemeral and "Manage Channels permission in" in said(lock)
    slow = await env.alice.slash("slowmode", in_channel=desk, seconds="1h", channel=general)
    assert slow.ephemeral and "Manage Channels permission in" in said(slow)
    server = await env.alice.slash("lock", in_channel=desk, server=True)
    assert server.ephemeral and "server-wide" in said(server)
    assert overwrites(general) == before and general.rate_limit_per_user == 0
    assert not await ChannelLock.exists()

    await env.owner.slash("lock", in_channel=general)
    unlock = await env.alice.slash("unlock", in_channel=desk, channel=general)
    assert unlock.ephemeral and "Manage Channels permission in" in said(unlock)
    unlock_all = await env.alice.slash("unlock", in_channel=desk, server=True)
    assert "server-wide" in said(unlock_all)
    assert not general.permissions_for(env.alice).send_messages
    assert await ChannelLock.filter(channel_id=general.id).exists()

    own = await env.alice.slash("lock", in_channel=desk)
    assert "Locked" in said(own) and desk.mention in said(own)


async def test_unlock_finishes_when_discord_refuses_one_channel(env: DiscordEnv) -> None:
    """A channel the bot may no longer manage is reported; the others are unlocked, their
    slowmode restored and the unlock recorded, and the refused one stays remembered."""
    general, other = env.channel("general"), await env.guild.create_text_channel("other")
    await turn_on_anti_raid(env, lockdown=True, slowmode="2m")
    for channel in (general, other):
        await env.owner.slash("raid channel", channel=channel, lockdown=True, slowmode=True)
    for n in range(4):
        await env.guild.add_member(f"locker{n}")
    await env.settle()
    assert general.rate_limit_per_user == other.rate_limit_per_user == 120

    general.overwrites[env.bot.user.id] = Overwrite(
        env.bot.user.id, 1, 0, int(Permissions.of("manage_channels"))
    )
    env.guild.server.events.channel_update(general)
    await env.settle()
    reply = await env.owner.slash("unlock", in_channel=other, server=True)
    text = said(reply)
    assert "Unlocked" in text and other.mention in text, text
    assert f"could not put back the slowmode of {general.mention}" in text, text
    assert other.rate_limit_per_user == 0 and general.rate_limit_per_user == 120
    assert await AuditLog.filter(action="channel.unlock").count() == 1
    assert await ChannelSlowmode.filter(channel_id=general.id).exists()
    assert not await ChannelSlowmode.filter(channel_id=other.id).exists()


async def test_a_lock_closes_the_channels_threads_too(env: DiscordEnv) -> None:
    """In a thread, sending needs Send Messages in Threads: a lock denies it and creating
    threads (as far as the bot holds them), and an unlock restores the overwrite exactly."""
    threads = Permissions.of(*THREAD_BITS)
    busy = await env.guild.create_text_channel(
        "busy", overwrites=[Overwrite(env.guild.id, 0, int(threads), 0)]
    )
    bot_role = env.guild.role("Pegasus")
    await env.guild.set_role_permissions(bot_role, int(bot_role.permissions) | int(threads))
    await env.settle()
    before = overwrites(busy)
    assert all(getattr(busy.permissions_for(env.alice), bit) for bit in THREAD_BITS)
    reply = await env.owner.slash("lock", channel=busy)
    assert "Locked" in said(reply), said(reply)
    for bit in THREAD_BITS:
        assert not getattr(busy.permissions_for(env.alice), bit), bit
    await env.owner.slash("unlock", channel=busy)
    assert overwrites(busy) == before
