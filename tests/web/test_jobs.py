"""Queued Discord actions: the API queues them, the bot that owns the guild carries them out with
the same flows as the slash commands, and the job reports pending, done or failed."""

from __future__ import annotations

import asyncio
import re

import discord
import pytest

from pegasus.errors import ConflictError, NotFoundError, ValidationError
from pegasus.localdiscord import DiscordEnv
from pegasus.web import jobs
from pegasus.web.jobs import Job, JobState

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.tickets", "cogs.giveaways", "cogs.community"),
    scheduler_poll_interval=0.05,
)

PANEL_ID = re.compile(r"TP-[0-9A-Z]+")
GIVEAWAY_ID = re.compile(r"G-[0-9A-Z]{5}")


async def finished(job: Job, env: DiscordEnv, timeout: float = 10) -> Job:
    """The job once it is no longer pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        current = await jobs.get_job(job.id, guild_id=job.guild_id)
        if current.state is not JobState.PENDING:
            await env.settle()
            return current
        if loop.time() > deadline:
            raise AssertionError(f"job {job.id} still pending after {timeout}s")
        await asyncio.sleep(0.05)


async def make_panel(env: DiscordEnv) -> str:
    created = await env.owner.slash("ticket-panel create", title="Support", description="Ask us")
    match = PANEL_ID.search(created.content or "")
    assert match, created.content
    added = await env.owner.slash("ticket-panel button", panel=match.group(0), label="Help")
    assert "added" in (added.content or ""), added.content
    return match.group(0)


async def test_a_queued_panel_is_posted_once_and_the_job_reports_where(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    panel_id = await make_panel(env)
    channel = env.channel("announcements")
    job = await jobs.enqueue_ticket_panel_send(
        env.guild.id, panel_id, channel.id, actor_id=env.owner.id, now=discord.utils.utcnow()
    )
    assert job.state is JobState.PENDING and job.url == f"/api/v1/jobs/{job.id}"
    assert job.as_json()["status"] == "pending"

    done = await finished(job, env)

    assert done.state is JobState.DONE, done
    posted = [message for message in channel.bot_messages if message.buttons]
    assert len(posted) == 1
    assert posted[0].buttons[0]["label"] == "Help"
    assert done.result == {
        "panel_id": panel_id,
        "channel_id": str(channel.id),
        "message_id": str(posted[0].id),
    }
    assert done.as_json()["result"]["message_id"] == str(posted[0].id)
    assert done.error is None and done.attempts == 1


async def test_a_refused_job_fails_at_once_with_the_reason_and_posts_nothing(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    panel_id = await make_panel(env)
    voice = env.channel("Lounge")
    job = await jobs.enqueue_ticket_panel_send(
        env.guild.id, panel_id, voice.id, actor_id=env.owner.id, now=discord.utils.utcnow()
    )

    failed = await finished(job, env)

    assert failed.state is JobState.FAILED
    assert failed.error == "Pick a text channel of this server to post the panel in."
    assert failed.result is None
    assert failed.attempts == 1  # a refusal is not retried
    assert failed.as_json()["error"] == failed.error
    assert not [m for m in env.server.messages_by_bot if m.buttons]


async def test_what_can_be_refused_without_discord_is_refused_before_queueing(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    from models.scheduling import ScheduledAction

    now = discord.utils.utcnow()
    created = await env.owner.slash("ticket-panel create", title="Empty", description="x")
    empty = PANEL_ID.search(created.content or "")
    assert empty
    with pytest.raises(ValidationError, match="no buttons yet"):
        await jobs.enqueue_ticket_panel_send(
            env.guild.id, empty.group(0), env.channel("general").id, actor_id=None, now=now
        )
    with pytest.raises(NotFoundError):
        await jobs.enqueue_giveaway_end(env.guild.id, "G-ZZZZZ", actor_id=None, now=now)
    with pytest.raises(ValidationError):
        await jobs.enqueue_greeting_test(
            env.guild.id, "hello", env.alice.id, actor_id=None, now=now
        )
    assert not await ScheduledAction.filter(kind__startswith="job.").exists()


async def test_a_job_of_another_server_is_not_found(discord_env: DiscordEnv) -> None:
    env = discord_env
    panel_id = await make_panel(env)
    job = await jobs.enqueue_ticket_panel_send(
        env.guild.id, panel_id, env.channel("general").id, actor_id=None,
        now=discord.utils.utcnow(),
    )
    with pytest.raises(NotFoundError, match="no such job"):
        await jobs.get_job(job.id, guild_id=env.guild.id + 1)
    with pytest.raises(NotFoundError, match="no such job"):
        await jobs.get_job(job.id + 1000, guild_id=None)
    assert (await jobs.get_job(job.id, guild_id=None)).id == job.id  # a bot-wide key


async def test_a_giveaway_ended_and_rerolled_through_jobs_is_announced(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    reply = await env.owner.slash("giveaway start", prize="Nitro", duration="1h", winners=1)
    match = GIVEAWAY_ID.search(reply.text)
    assert match, reply.text
    public_id = match.group(0)
    message = next(m for m in env.channel("general").bot_messages if public_id in m.text)
    for member in (env.alice, env.bob):
        await member.click(message, label="Enter")
    now = discord.utils.utcnow()
    with pytest.raises(ConflictError, match="has not ended"):
        await jobs.enqueue_giveaway_reroll(env.guild.id, public_id, 1, actor_id=None, now=now)

    ended = await finished(
        await jobs.enqueue_giveaway_end(env.guild.id, public_id, actor_id=env.owner.id, now=now),
        env,
    )

    assert ended.state is JobState.DONE, ended
    assert ended.result is not None
    (winner,) = ended.result["winners"]
    assert winner in {str(env.alice.id), str(env.bob.id)}
    announcements = [m for m in env.channel("general").bot_messages if winner in m.content]
    assert len(announcements) == 1

    rerolled = await finished(
        await jobs.enqueue_giveaway_reroll(
            env.guild.id, public_id, 1, actor_id=env.owner.id, now=discord.utils.utcnow()
        ),
        env,
    )
    assert rerolled.state is JobState.DONE, rerolled
    assert rerolled.result is not None and rerolled.result["announced"] is True
    (second,) = rerolled.result["winners"]
    assert second != winner and second in {str(env.alice.id), str(env.bob.id)}

    # Ending it again is the service's refusal, in the job's words.
    again = await finished(
        await jobs.enqueue(
            jobs.JobKind.GIVEAWAY_END, env.guild.id, {"giveaway_id": public_id},
            actor_id=None, now=discord.utils.utcnow(),
        ),
        env,
    )
    assert again.state is JobState.FAILED and again.error and public_id in again.error


async def test_a_test_welcome_is_posted_for_the_member(discord_env: DiscordEnv) -> None:
    env = discord_env
    now = discord.utils.utcnow()
    unset = await finished(
        await jobs.enqueue_greeting_test(env.guild.id, "welcome", env.alice.id, actor_id=None,
                                         now=now),
        env,
    )
    assert unset.state is JobState.FAILED
    assert unset.error == "Set welcome messages up first."

    await env.owner.slash("welcome set", channel=env.channel("general"), message="Hi {user}!")
    done = await finished(
        await jobs.enqueue_greeting_test(
            env.guild.id, "welcome", env.alice.id, actor_id=env.owner.id, now=now
        ),
        env,
    )
    assert done.state is JobState.DONE, done
    assert done.result == {"channel_id": str(env.channel("general").id),
                           "member_id": str(env.alice.id)}
    assert any(env.alice.mention in m.text for m in env.channel("general").bot_messages)
