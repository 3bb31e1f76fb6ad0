"""Giveaways end to end, through the local Discord: members click Enter, staff run /giveaway,
timers fire (made due by moving their time, as if it had passed), and the tests look at the
messages, DMs and the database."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from datetime import timedelta

import discord
import pytest

from models.giveaways import Giveaway, GiveawayEntry, GiveawayStatus
from models.levels import UserXP
from models.scheduling import ActionStatus, ScheduledAction
from pegasus.localdiscord import FakeMember, FakeMessage
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import giveaways as service
from pegasus.services.directory import ensure_member

# The scheduler runs only when a test calls run_due(), so timers fire exactly when the test says.
pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.giveaways"), scheduler_poll_interval=3600
)

GIVEAWAY_ID = re.compile(r"G-[0-9A-Z]{5}")
MESSAGE_ROUTE = "/channels/{channel_id}/messages/{message_id}"


# ------------------------------------------------------------------------------ helpers


async def start(env: DiscordEnv, **options: object) -> tuple[str, FakeMessage]:
    """The owner starts a giveaway in #general; returns its public id and its message."""
    values: dict[str, object] = {"prize": "Nitro", "duration": "1h", "winners": 1}
    values.update(options)
    reply = await env.owner.slash("giveaway start", **values)
    match = GIVEAWAY_ID.search(reply.text)
    assert reply.ephemeral and match, reply.text
    public_id = match.group(0)
    message = next(m for m in reversed(env.channel("general").bot_messages) if public_id in m.text)
    return public_id, message


async def enter(member: FakeMember, message: FakeMessage) -> str:
    reply = await member.click(message, label="Enter")
    assert reply.ephemeral
    return reply.content or ""


async def stored(public_id: str) -> Giveaway:
    return await Giveaway.get(giveaway_id=public_id)


async def make_due(public_id: str, kind: str = service.END_KIND) -> None:
    """Let time pass until the giveaway's start or end."""
    past = discord.utils.utcnow() - timedelta(seconds=1)
    await ScheduledAction.filter(
        kind=kind, dedupe_key=public_id, status=ActionStatus.PENDING
    ).update(due_at=past)
    field = "ends_at" if kind == service.END_KIND else "starts_at"
    await Giveaway.filter(giveaway_id=public_id).update(**{field: past})


async def message_edits(env: DiscordEnv, at_least: int) -> int:
    """Wait until the bot has edited giveaway messages `at_least` times; returns how often."""
    while len(env.server.requests_to("PATCH", MESSAGE_ROUTE)) < at_least:
        await env.server.wait_for_request("PATCH", MESSAGE_ROUTE)
    await env.settle()
    return len(env.server.requests_to("PATCH", MESSAGE_ROUTE))


def announcements(env: DiscordEnv) -> list[FakeMessage]:
    return [
        m
        for m in env.channel("general").bot_messages
        if "Congratulations" in m.content or "without a winner" in m.content
    ]


def mentioned(text: str) -> set[int]:
    return {int(user_id) for user_id in re.findall(r"<@(\d+)>", text)}


def field_value(message: FakeMessage, name: str) -> str:
    embed = message.embed
    assert embed is not None
    return next(f["value"] for f in embed["fields"] if f["name"] == name)


# ------------------------------------------------------------------------------ entering


async def test_enter_and_leave(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env, prize="Nitro Classic", description="One month")
    assert message.embed is not None and message.embed["title"] == "🎉 Nitro Classic"
    assert [b["label"] for b in message.buttons] == ["Enter"]
    giveaway = await stored(public_id)
    assert giveaway.seed_hash in field_value(message, "Fair draw")
    assert giveaway.seed not in message.text  # only the commitment is public

    assert "You're in with **1 entry**" in await enter(env.alice, message)
    assert await message_edits(env, 1) == 1
    assert field_value(message, "Entries") == "1"
    assert await GiveawayEntry.filter(giveaway_id=giveaway.id).values_list(
        "user_id", "entries"
    ) == [(env.alice.id, 1)]

    assert "You left the giveaway" in await enter(env.alice, message)
    assert not await GiveawayEntry.filter(giveaway_id=giveaway.id).exists()
    assert (await stored(public_id)).entry_count == 0


async def test_entry_count_edits_are_throttled_and_coalesced(discord_env: DiscordEnv) -> None:
    env = discord_env
    _, message = await start(env)
    for member in (env.alice, env.bob, env.carol, env.mod):
        await enter(member, message)
    # Four clicks, one edit so far (the first, at once); the others wait for the interval.
    assert await message_edits(env, 1) == 1
    assert field_value(message, "Entries") == "1"
    refresher = env.bot.get_cog("Giveaways").entry_count_refresher
    assert refresher.pending == 1
    await refresher.flush()  # as at shutdown: the coalesced edit now, instead of in 5 s
    await env.settle()
    assert len(env.server.requests_to("PATCH", MESSAGE_ROUTE)) == 2
    assert field_value(message, "Entries") == "4"


async def test_only_staff_start_giveaways(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("giveaway start", prize="Nitro", duration="1h", winners=1)
    assert reply.ephemeral and "Manage Server" in (reply.content or "")
    bad = await env.owner.slash("giveaway start", prize="Nitro", duration="soon", winners=1)
    assert bad.ephemeral and "is not a duration" in (bad.content or "")
    assert not await Giveaway.exists()


async def test_each_requirement_refusal_says_what_is_missing(discord_env: DiscordEnv) -> None:
    env = discord_env
    verified = await env.guild.create_role("Verified")
    long_ago = discord.utils.utcnow() - timedelta(days=400)
    just_now = discord.utils.utcnow()

    async def person(name: str, *, role: bool, created: object, joined: object, level: int):  # type: ignore[no-untyped-def]
        member = await env.guild.add_member(
            name, roles=[verified] if role else [], created_at=created, joined_at=joined
        )
        await env.settle()
        await ensure_member(env.guild.id, member.id)
        await UserXP.create(guild_id=env.guild.id, user_id=member.id, xp=level * 100, level=level)
        return member

    no_role = await person("dora", role=False, created=long_ago, joined=long_ago, level=9)
    new_account = await person("erin", role=True, created=just_now, joined=long_ago, level=9)
    newcomer = await person("frank", role=True, created=long_ago, joined=just_now, level=9)
    low_level = await person("gina", role=True, created=long_ago, joined=long_ago, level=2)
    eligible = await person("hank", role=True, created=long_ago, joined=long_ago, level=5)

    public_id, message = await start(
        env,
        required_role=verified,
        min_level=5,
        min_account_age_days=30,
        min_server_age_days=7,
    )
    requirements = field_value(message, "Requirements")
    assert verified.mention in requirements and "Level 5" in requirements

    assert f"You need the role {verified.mention}" in await enter(no_role, message)
    assert "account must be at least 30 days old" in await enter(new_account, message)
    assert "in this server for at least 7 days" in await enter(newcomer, message)
    assert "You need level 5 to enter this giveaway; you are level 2" in await enter(
        low_level, message
    )
    assert "You're in" in await enter(eligible, message)
    entrants = await GiveawayEntry.filter(giveaway__giveaway_id=public_id).values_list(
        "user_id", flat=True
    )
    assert entrants == [eligible.id]

    # Meeting the requirement later is enough: an admin gives dora the role.
    await env.guild.add_role(no_role, verified)
    await env.settle()
    assert "You're in" in await enter(no_role, message)


async def test_bonus_entries_weigh_in_the_draw(discord_env: DiscordEnv) -> None:
    env = discord_env
    vip = await env.guild.create_role("VIP")
    await env.guild.add_role(env.bob, vip)
    await env.settle()
    public_id, message = await start(env, bonus_role=vip, bonus_entries=3, booster_bonus=2)
    bonus = field_value(message, "Bonus entries")
    assert f"{vip.mention}: +3 entries" in bonus and "Server boosters: +2 entries" in bonus

    assert "**1 entry**" in await enter(env.alice, message)
    assert "**4 entries** (1 + 3 bonus)" in await enter(env.bob, message)
    giveaway = await stored(public_id)
    entries = await service.sorted_entries(giveaway.id)
    assert dict(entries) == {env.alice.id: 1, env.bob.id: 4}

    # The draw over many seeds: bob, with 4 of the 5 entries, wins the first pick 4/5 of the
    # time. The seeds are fixed, so this is deterministic; the tolerance is 5 standard
    # deviations of Binomial(trials, 4/5), far below the gap to an unweighted draw (1/2).
    trials, p = 4000, 4 / 5
    bob_wins = sum(
        service.draw_winners(service.hash_seed(f"e2e-{i}"), 0, entries, 1) == [env.bob.id]
        for i in range(trials)
    )
    assert abs(bob_wins - trials * p) <= 5 * math.sqrt(trials * p * (1 - p)), bob_wins


async def test_a_scheduled_giveaway_opens_when_its_start_timer_fires(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    public_id, message = await start(env, starts_in="2h")
    assert "Entries open" in message.text
    assert "has not started yet" in await enter(env.alice, message)

    await make_due(public_id, service.START_KIND)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    assert (await stored(public_id)).status is GiveawayStatus.ACTIVE
    assert "Click **Enter** to join" in message.text
    assert "You're in" in await enter(env.alice, message)


# ------------------------------------------------------------------------------ ending


async def test_end_by_timer_after_a_restart(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env, winners=2)
    await enter(env.alice, message)
    await env.restart_bot()
    # The Enter button outlives the restart.
    assert "You're in" in await enter(env.bob, message)
    await enter(env.carol, message)

    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()

    giveaway = await stored(public_id)
    assert giveaway.status is GiveawayStatus.ENDED and len(giveaway.winners) == 2
    assert set(giveaway.winners) <= {env.alice.id, env.bob.id, env.carol.id}
    [announcement] = announcements(env)
    assert mentioned(announcement.content) == set(giveaway.winners)
    assert "Nitro" in announcement.content
    # The giveaway message shows the result and reveals the seed; the button is gone.
    assert message.embed is not None and message.embed["title"].endswith("(ended)")
    assert mentioned(field_value(message, "Winners")) == set(giveaway.winners)
    assert giveaway.seed in field_value(message, "Fair draw")
    assert message.buttons == []
    for winner in giveaway.winners:
        [dm] = env.server.dms(env.member(winner))
        assert "You won **Nitro**" in dm.content
    # A repeat of the timer (after a crash, say) announces nothing more.
    await make_due(public_id)
    await ScheduledAction.filter(kind=service.END_KIND, dedupe_key=public_id).update(
        status=ActionStatus.PENDING
    )
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    assert len(announcements(env)) == 1


async def test_manual_end_racing_the_timer_announces_once(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env)
    for member in (env.alice, env.bob):
        await enter(member, message)
    prompt = await env.owner.slash("giveaway end", id=public_id)
    assert prompt.ephemeral and "End giveaway" in [b["label"] for b in prompt.buttons]

    await make_due(public_id)
    clicked, _ = await asyncio.gather(
        env.owner.click(prompt, label="End giveaway"), env.bot.scheduler.run_due()
    )
    await env.settle()

    assert re.search(r"has (already )?ended", clicked.content or ""), clicked.content
    giveaway = await stored(public_id)
    assert giveaway.status is GiveawayStatus.ENDED and len(giveaway.draws) == 1
    assert len(announcements(env)) == 1
    winner = env.member(giveaway.winners[0])
    assert len(env.server.dms(winner)) == 1
    again = await env.owner.slash("giveaway end", id=public_id)
    assert again.ephemeral and "has already ended" in (again.content or "")
    assert len(announcements(env)) == 1


async def test_ending_with_no_entries(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env)
    prompt = await env.owner.slash("giveaway end", id=public_id.lower())
    done = await env.owner.click(prompt, label="End giveaway")
    await env.settle()
    assert "nobody" in (done.content or "")
    [announcement] = announcements(env)
    assert "without a winner" in announcement.content
    assert field_value(message, "Winners") == "No valid entries"


async def test_reroll_excludes_previous_winners_and_members_who_left(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    public_id, message = await start(env)
    entrants = [env.alice, env.bob, env.carol, env.mod]
    for member in entrants:
        await enter(member, message)
    prompt = await env.owner.slash("giveaway end", id=public_id)
    await env.owner.click(prompt, label="End giveaway")
    await env.settle()
    [first_winner] = (await stored(public_id)).winners

    leaver = next(m for m in entrants if m.id != first_winner)
    await leaver.leave()
    await env.settle()
    expected = {m.id for m in entrants} - {first_winner, leaver.id}

    rerolled = await env.owner.slash("giveaway reroll", id=public_id, count=5)
    await env.settle()
    assert rerolled.ephemeral and mentioned(rerolled.content or "") == expected
    reroll_announcement = env.channel("general").bot_messages[-1]
    assert "Reroll" in reroll_announcement.content
    assert mentioned(reroll_announcement.content) == expected
    for user_id in expected:
        assert len(env.server.dms(env.member(user_id))) == 1

    giveaway = await stored(public_id)
    assert giveaway.winners[0] == first_winner and set(giveaway.winners[1:]) == expected
    assert {first_winner, leaver.id} <= set(giveaway.draws[1]["excluded"])
    assert mentioned(field_value(message, "Winners")) == {first_winner, *expected}

    nobody = await env.owner.slash("giveaway reroll", id=public_id)
    assert nobody.ephemeral and "Nobody is left to draw" in (nobody.content or "")
    verified = await env.owner.slash("giveaway verify", id=public_id)
    assert verified.embed is not None and verified.embed["title"].startswith("✅")


async def test_cancel(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env)
    await enter(env.alice, message)
    prompt = await env.owner.slash("giveaway cancel", id=public_id)
    assert prompt.ephemeral and "cannot be undone" in (prompt.content or "")
    kept = await env.owner.click(prompt, label="Cancel")  # the prompt's own "no"
    assert "nothing was changed" in (kept.content or "")
    assert (await stored(public_id)).status is GiveawayStatus.ACTIVE

    prompt = await env.owner.slash("giveaway cancel", id=public_id)
    done = await env.owner.click(prompt, label="Cancel giveaway")
    await env.settle()
    assert "was cancelled" in (done.content or "")
    giveaway = await stored(public_id)
    assert giveaway.status is GiveawayStatus.CANCELLED and giveaway.winners == []
    assert message.embed is not None and message.embed["title"].endswith("(cancelled)")
    assert message.buttons == []
    assert not await ScheduledAction.filter(
        dedupe_key=public_id, status=ActionStatus.PENDING
    ).exists()
    ended = await env.owner.slash("giveaway end", id=public_id)
    assert "was cancelled" in (ended.content or "")
    assert announcements(env) == []


async def test_verify_and_entries_let_anyone_check_the_draw(discord_env: DiscordEnv) -> None:
    env = discord_env
    vip = await env.guild.create_role("VIP")
    await env.guild.add_role(env.carol, vip)
    await env.settle()
    public_id, message = await start(env, winners=2, bonus_role=vip, bonus_entries=2)
    published_hash = field_value(message, "Fair draw")
    for member in (env.alice, env.bob, env.carol):
        await enter(member, message)

    early = await env.alice.slash("giveaway verify", id=public_id)
    assert early.ephemeral and "has not ended" in (early.content or "")
    prompt = await env.owner.slash("giveaway end", id=public_id)
    await env.owner.click(prompt, label="End giveaway")
    await env.settle()

    giveaway = await stored(public_id)
    assert hashlib.sha256(giveaway.seed.encode()).hexdigest() in published_hash
    report = await env.alice.slash("giveaway verify", id=public_id)
    assert report.ephemeral and report.embed is not None
    assert report.embed["title"].startswith("✅"), report.embed
    assert giveaway.seed in report.text

    listing = await env.alice.slash("giveaway entries", id=public_id)
    [file] = listing.attachments
    lines = file.data.decode().splitlines()
    assert lines == [f"{u}:{w}" for u, w in sorted(await service.sorted_entries(giveaway.id))]
    assert f"{env.carol.id}:3" in lines
    assert hashlib.sha256(file.data).hexdigest() == giveaway.entries_digest
    # What anyone can do with the file and the seed: the documented algorithm gives the winners.
    entries = [(int(u), int(w)) for u, w in (line.split(":") for line in lines)]
    assert service.draw_winners(giveaway.seed, 0, entries, 2) == giveaway.winners


async def test_list_and_autocomplete(discord_env: DiscordEnv) -> None:
    env = discord_env
    first, _ = await start(env, prize="Steam key")
    second, _ = await start(env, prize="Nitro")
    prompt = await env.owner.slash("giveaway end", id=first)
    await env.owner.click(prompt, label="End giveaway")
    await env.settle()

    everything = await env.alice.slash("giveaway list")
    assert everything.ephemeral and first in everything.text and second in everything.text
    ended = await env.alice.slash("giveaway list", status="ended")
    assert first in ended.text and second not in ended.text
    choices = await env.owner.autocomplete("giveaway end", "id", "steam")
    assert [c["value"] for c in choices] == [first]
    missing = await env.owner.slash("giveaway end", id="G-ZZZZZ")
    assert missing.ephemeral and "no giveaway `G-ZZZZZ`" in (missing.content or "")


# ------------------------------------------------------------------------------ Discord failing

POST_MESSAGE = "/channels/{channel_id}/messages"


async def test_a_failed_announcement_by_the_timer_is_retried_once(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env)
    await enter(env.alice, message)
    env.server.faults.fail("POST", POST_MESSAGE, status=400, message="Discord is unwell")

    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 0  # the handler failed: retried with back-off
    await env.settle()
    assert announcements(env) == []
    giveaway = await stored(public_id)
    assert giveaway.status is GiveawayStatus.ENDED and giveaway.announced_at is None
    [timer] = await ScheduledAction.filter(kind=service.END_KIND, dedupe_key=public_id)
    assert timer.status is ActionStatus.PENDING and timer.attempts == 1

    await make_due(public_id)  # the back-off has passed
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    [announcement] = announcements(env)
    assert mentioned(announcement.content) == {env.alice.id}
    assert len(env.server.dms(env.alice)) == 1


async def test_a_failed_announcement_after_a_manual_end_is_retried_by_a_timer(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    public_id, message = await start(env)
    await enter(env.bob, message)
    prompt = await env.owner.slash("giveaway end", id=public_id)
    env.server.faults.fail("POST", POST_MESSAGE, status=400, message="Discord is unwell")
    done = await env.owner.click(prompt, label="End giveaway")
    await env.settle()
    assert "has ended" in (done.content or "") and announcements(env) == []
    [retry] = await ScheduledAction.filter(
        kind=service.END_KIND, dedupe_key=public_id, status=ActionStatus.PENDING
    )
    assert retry.due_at > discord.utils.utcnow()

    await make_due(public_id)
    assert await env.bot.scheduler.run_due() == 1
    await env.settle()
    [announcement] = announcements(env)
    assert mentioned(announcement.content) == {env.bob.id}


async def test_a_reroll_that_cannot_be_announced_says_so(discord_env: DiscordEnv) -> None:
    env = discord_env
    public_id, message = await start(env)
    for member in (env.alice, env.bob):
        await enter(member, message)
    prompt = await env.owner.slash("giveaway end", id=public_id)
    await env.owner.click(prompt, label="End giveaway")
    await env.settle()
    env.server.faults.fail("POST", POST_MESSAGE, status=400, message="Discord is unwell")
    rerolled = await env.owner.slash("giveaway reroll", id=public_id)
    await env.settle()
    [note] = rerolled.followups
    assert "could not announce them" in note.content and "Discord is unwell" in note.content
    assert len((await stored(public_id)).winners) == 2  # the draw itself stands


async def test_server_boosters_get_the_booster_bonus(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.guild.set_booster(env.carol)
    await env.settle()
    public_id, message = await start(env, booster_bonus=2)
    assert "Server boosters: +2 entries" in field_value(message, "Bonus entries")

    assert "**3 entries** (1 + 2 bonus)" in await enter(env.carol, message)
    assert "**1 entry**" in await enter(env.alice, message)
    giveaway = await stored(public_id)
    assert dict(await service.sorted_entries(giveaway.id)) == {env.carol.id: 3, env.alice.id: 1}

    # A boost that starts after the giveaway did counts from the next entry on.
    await env.guild.set_booster(env.alice)
    await env.settle()
    assert "You left" in await enter(env.alice, message)
    assert "**3 entries** (1 + 2 bonus)" in await enter(env.alice, message)
    assert dict(await service.sorted_entries(giveaway.id)) == {env.carol.id: 3, env.alice.id: 3}
