"""Giveaways as members and staff meet them, through the local Discord: who may run the staff
commands, where a giveaway is posted, winners who closed their DMs, members who leave, and a
manual end whose announcement was cut short by a crash."""

from __future__ import annotations

from datetime import timedelta

import discord
import pytest

from models.giveaways import Giveaway, GiveawayStatus
from models.scheduling import ActionStatus, ScheduledAction
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import giveaways as service
from tests.e2e.test_giveaways import (
    announcements,
    enter,
    field_value,
    make_due,
    mentioned,
    message_edits,
    start,
    stored,
)

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.giveaways"), scheduler_poll_interval=3600
)


async def test_only_staff_end_reroll_or_cancel(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env)
    await enter(env.alice, message)
    # A moderator without Manage Server is refused as well as a plain member.
    for member in (env.alice, env.mod):
        for command in ("giveaway end", "giveaway cancel", "giveaway reroll"):
            reply = await member.slash(command, id=public_id)
            assert reply.ephemeral and reply.buttons == [], (command, reply)
            assert "Manage Server" in (reply.content or ""), (command, reply.content)
    giveaway = await stored(public_id)
    assert giveaway.status is GiveawayStatus.ACTIVE and giveaway.draws == []
    assert announcements(env) == []


async def test_start_in_another_channel_shows_the_description(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.owner.slash(
        "giveaway start",
        prize="Steam key",
        duration="2h",
        winners=3,
        channel="announcements",
        description="Any game under 20 €",
    )
    assert reply.ephemeral and env.channel("announcements").mention in (reply.content or "")
    [message] = env.channel("announcements").bot_messages
    assert message.embed is not None
    assert message.embed["description"].startswith("Any game under 20 €")
    assert field_value(message, "Winners") == "3"
    assert field_value(message, "Hosted by") == env.owner.mention
    assert env.channel("general").bot_messages == []
    giveaway = await Giveaway.get(message_id=message.id)
    assert giveaway.channel_id == env.channel("announcements").id


async def test_a_channel_the_bot_cannot_post_in_is_refused(discord_env: DiscordEnv) -> None:
    env = discord_env
    guild = env.guild
    await guild.create_text_channel(
        "staff-only",
        overwrites=[
            guild.overwrite_for(guild.default_role, deny=["view_channel"]),
            guild.overwrite_for(env.owner, allow=["view_channel"]),
        ],
    )
    await env.settle()
    reply = await env.owner.slash(
        "giveaway start", prize="Nitro", duration="1h", winners=1, channel="staff-only"
    )
    assert reply.ephemeral and "I can't post in" in (reply.content or "")
    assert "View Channel" in (reply.content or "")
    assert not await Giveaway.exists()
    assert not await ScheduledAction.exists()


async def test_a_winner_with_closed_dms_is_still_announced(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env, winners=2)
    env.alice.user.dms_open = False
    for member in (env.alice, env.bob):
        await enter(member, message)
    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()  # the strict environment also fails the test on any logged ERROR

    [announcement] = announcements(env)
    assert mentioned(announcement.content) == {env.alice.id, env.bob.id}
    assert env.server.dms(env.alice) == []
    [dm] = env.server.dms(env.bob)
    assert "You won **Nitro**" in dm.content
    assert (await stored(public_id)).announced_at is not None


async def test_a_member_who_leaves_the_server_is_out_of_the_draw(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env, winners=3)
    for member in (env.alice, env.bob):
        await enter(member, message)
    await message_edits(env, 1)
    await env.alice.leave()
    await env.settle()
    giveaway = await stored(public_id)
    assert giveaway.entry_count == 1
    assert await service.sorted_entries(giveaway.id) == [(env.bob.id, 1)]
    await env.bot.get_cog("Giveaways").entry_count_refresher.flush()
    await env.settle()
    assert field_value(message, "Entries") == "1"

    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    assert (await stored(public_id)).winners == [env.bob.id]
    [announcement] = announcements(env)
    assert mentioned(announcement.content) == {env.bob.id}


async def test_refusals_after_the_end_read_well(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env)
    await enter(env.alice, message)
    prompt = await env.owner.slash("giveaway end", id=public_id)
    await env.owner.click(prompt, label="End giveaway")
    await env.settle()

    cancel = await env.owner.slash("giveaway cancel", id=public_id)
    assert cancel.ephemeral and cancel.buttons == []
    assert cancel.content == f"Giveaway `{public_id}` has already ended."
    late = await env.bob.click(message, label="Enter") if message.buttons else None
    assert late is None  # the Enter button is gone once it has ended
    assert (await stored(public_id)).status is GiveawayStatus.ENDED


async def test_a_manual_end_cut_short_before_announcing_is_announced_once(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    public_id, message = await start(env)
    for member in (env.alice, env.bob):
        await enter(member, message)
    # `/giveaway end` committed the draw, then the process died before it could announce:
    # exactly what end_now leaves behind when nothing runs after it.
    ended = await service.end_now(
        env.guild.id, public_id, now=discord.utils.utcnow(), by=env.owner.id
    )
    assert ended.status is GiveawayStatus.ENDED and ended.announced_at is None
    [backstop] = await ScheduledAction.filter(
        kind=service.END_KIND, dedupe_key=public_id, status=ActionStatus.PENDING
    )
    await env.restart_bot()
    assert announcements(env) == []

    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    [announcement] = announcements(env)
    assert mentioned(announcement.content) == set(ended.winners)
    assert message.embed is not None and message.embed["title"].endswith("(ended)")
    # The backstop running again (a retry, a second process) announces nothing more.
    await ScheduledAction.filter(id=backstop.id).update(status=ActionStatus.PENDING)
    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    assert len(announcements(env)) == 1


async def test_an_announcement_claimed_by_a_process_that_died_is_made_after_its_lease(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    public_id, message = await start(env)
    await enter(env.alice, message)
    # `/giveaway end` drew, claimed the announcement, and the process died before posting.
    ended = await service.end_now(
        env.guild.id, public_id, now=discord.utils.utcnow(), by=env.owner.id
    )
    assert await service.claim_announcement(ended.id, now=discord.utils.utcnow())
    await env.restart_bot()

    await make_due(public_id)  # the backstop: the claim is still within its lease
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    assert announcements(env) == []
    claim = await stored(public_id)
    assert claim.announcement_confirmed_at is None and claim.announced_at is not None
    [follow_up] = await ScheduledAction.filter(
        kind=service.END_KIND, dedupe_key=public_id, status=ActionStatus.PENDING
    )
    lease = timedelta(seconds=service.ANNOUNCEMENT_LEASE_SECONDS)
    assert follow_up.due_at == claim.announced_at + lease

    # The lease runs out: the timer takes the claim back and announces, once.
    await Giveaway.filter(id=ended.id).update(
        announced_at=discord.utils.utcnow() - lease - timedelta(seconds=1)
    )
    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    [announcement] = announcements(env)
    assert mentioned(announcement.content) == {env.alice.id}
    assert len(env.server.dms(env.alice)) == 1
    assert (await stored(public_id)).announcement_confirmed_at is not None
    assert (
        await ScheduledAction.filter(
            kind=service.END_KIND, dedupe_key=public_id, status=ActionStatus.PENDING
        ).count()
        == 0
    )
    # A repeat of that timer, however late, announces nothing more.
    await ScheduledAction.filter(id=follow_up.id).update(status=ActionStatus.PENDING)
    await Giveaway.filter(id=ended.id).update(announced_at=discord.utils.utcnow() - 10 * lease)
    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    assert len(announcements(env)) == 1 and len(env.server.dms(env.alice)) == 1


async def test_a_reroll_the_bot_may_not_post_tells_staff(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env)
    for member in (env.alice, env.bob):
        await enter(member, message)
    prompt = await env.owner.slash("giveaway end", id=public_id)
    await env.owner.click(prompt, label="End giveaway")
    await env.settle()
    [first] = (await stored(public_id)).winners
    env.server.faults.fail(
        "POST",
        "/channels/{channel_id}/messages",
        status=403,
        code=50013,
        message="Missing Permissions",
    )
    rerolled = await env.owner.slash("giveaway reroll", id=public_id)
    await env.settle()
    [note] = rerolled.followups
    assert note.ephemeral
    assert "could not announce them" in note.content and "not allowed to post" in note.content
    assert "Missing Permissions" in note.content
    giveaway = await stored(public_id)
    [second] = [w for w in giveaway.winners if w != first]
    assert len(announcements(env)) == 1  # only the end's; the reroll was refused
    # The new winner still hears of it by DM.
    winner = env.alice if second == env.alice.id else env.bob
    assert any("You won" in dm.content for dm in env.server.dms(winner))


async def test_winners_are_told_by_dm_when_the_channel_is_gone(discord_env: DiscordEnv) -> None:
    env = discord_env
    channel = await env.guild.create_text_channel("prizes")
    await env.settle()
    reply = await env.owner.slash(
        "giveaway start", prize="Nitro", duration="1h", winners=1, channel=channel
    )
    public_id = reply.text.split("`")[1]
    [message] = channel.bot_messages
    await enter(env.carol, message)
    await env.guild.delete_channel(channel)
    await env.settle()

    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    giveaway = await stored(public_id)
    assert giveaway.winners == [env.carol.id] and giveaway.announced_at is not None
    [dm] = env.server.dms(env.carol)
    assert "You won **Nitro**" in dm.content


async def test_every_command_and_option_of_the_issue_has_help_text(discord_env: DiscordEnv) -> None:
    group = discord_env.server.global_commands["giveaway"]
    subcommands = {option["name"]: option for option in group["options"]}
    assert set(subcommands) == {"start", "end", "reroll", "cancel", "list", "entries", "verify"}
    start_options = [option["name"] for option in subcommands["start"]["options"]]
    assert start_options == [
        "prize",
        "duration",
        "winners",
        "channel",
        "description",
        "required_role",
        "min_level",
        "min_account_age_days",
        "min_server_age_days",
        "bonus_role",
        "bonus_entries",
        "booster_bonus",
        "starts_in",
    ]
    assert [o["name"] for o in subcommands["reroll"]["options"]] == ["id", "count"]
    assert [o["name"] for o in subcommands["list"]["options"]] == ["status"]
    for name, command in subcommands.items():
        # discord.py fills in "…" where a description was forgotten.
        assert command["description"] not in ("", "…"), name
        for option in command.get("options", []):
            assert option["description"] not in ("", "…"), (name, option["name"])
