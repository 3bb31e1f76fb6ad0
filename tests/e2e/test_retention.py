"""A server's data after Pegasus leaves it, and /retention, through the local Discord.

A left server's data is deleted once the grace period is over, by a durable action that a
restart does not lose; coming back first (online or while the bot was offline) keeps it. The
grace is shortened to seconds here: the bot reads it from its settings when it leaves.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from models.guilds import Guild
from models.moderation import ModCase
from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditLog, SecurityLog
from pegasus.localdiscord import CommandUnavailable
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services.retention import PURGE_KIND, SWEEP_KIND
from tests.e2e.waiting import eventually
from tests.services.guild_rows import rows_per_table

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.moderation", "cogs.retention"), scheduler_poll_interval=0.1
)

GRACE = timedelta(seconds=2)


def shorten_grace(env: DiscordEnv) -> None:
    days = GRACE / timedelta(days=1)
    env.bot.settings = dataclasses.replace(env.bot.settings, guild_data_retention_days=days)


async def store_some_data(env: DiscordEnv) -> dict[str, int]:
    """A warning (a case and a warning row) besides the members the bot stores by itself."""
    await env.mod.slash("warn", member=env.alice, title="Spam", description="Links", level=1)
    await env.settle()
    stored = await rows_per_table(env.guild.id)
    assert stored["members"] >= 5 and stored["mod_cases"] == 1 and stored["warnings"] == 1
    return stored


async def leave(env: DiscordEnv) -> ScheduledAction:
    env.server.bot_leaves(env.guild)
    await env.settle()
    return await ScheduledAction.get(kind=PURGE_KIND, guild_id=env.guild.id)


async def wait_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.3)


async def purge_finished(env: DiscordEnv) -> ScheduledAction:
    async def finished() -> bool:
        statuses = await ScheduledAction.filter(kind=PURGE_KIND).values_list("status", flat=True)
        return bool(statuses) and not {ActionStatus.PENDING, ActionStatus.RUNNING} & set(
            statuses
        )

    await eventually(finished, "the guild's deletion has run", timeout=20)
    return await ScheduledAction.filter(kind=PURGE_KIND).order_by("-id").first()  # type: ignore[return-value]


async def test_a_left_guild_is_deleted_after_the_grace_even_across_a_restart(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    gid = env.guild.id
    stored = await store_some_data(env)
    shorten_grace(env)

    action = await leave(env)

    guild = await Guild.get(id=gid)
    assert guild.left_at is not None and action.status == ActionStatus.PENDING
    assert abs(action.due_at - guild.left_at - GRACE) < timedelta(seconds=1)
    # Nothing goes during the grace; the deletion itself waits in scheduled_actions.
    assert await rows_per_table(gid) == {**stored, "scheduled_actions": 1}
    await env.stop_bot()
    await wait_until(action.due_at)  # due while the bot is down
    await env.start_bot()

    done = await purge_finished(env)
    assert (done.id, done.status, done.result) == (
        action.id,
        ActionStatus.DONE,
        {"outcome": "purged", "rows": 1 + sum(stored.values())},
    )
    assert not await Guild.filter(id=gid).exists()
    # Only the record that the deletion ran remains (the guild's id, in its own action).
    assert await rows_per_table(gid) == {**dict.fromkeys(stored, 0), "scheduled_actions": 1}


async def test_a_guild_rejoined_before_the_grace_keeps_its_data(discord_env: DiscordEnv) -> None:
    env = discord_env
    stored = await store_some_data(env)
    shorten_grace(env)
    action = await leave(env)

    await env.guild.add_bot()
    await env.settle()

    assert (await ScheduledAction.get(id=action.id)).status == ActionStatus.CANCELLED
    await wait_until(action.due_at)
    await env.restart_bot()
    await asyncio.sleep(0.5)  # a few scheduler polls
    assert (await Guild.get(id=env.guild.id)).left_at is None
    # Everything is kept; the cancelled deletion stays as a record.
    assert await rows_per_table(env.guild.id) == {**stored, "scheduled_actions": 1}
    assert await ModCase.filter(guild_id=env.guild.id).count() == 1


async def test_a_guild_added_back_while_the_bot_was_offline_keeps_its_data(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    stored = await store_some_data(env)
    shorten_grace(env)
    action = await leave(env)
    await env.stop_bot()
    await env.guild.add_bot()  # no gateway session: the bot learns it from READY
    await wait_until(action.due_at)

    await env.start_bot()

    done = await purge_finished(env)
    assert done.id == action.id
    assert done.status == ActionStatus.CANCELLED or done.result == {"outcome": "kept", "rows": 0}
    assert await Guild.filter(id=env.guild.id).exists()
    assert (await rows_per_table(env.guild.id))["mod_cases"] == stored["mod_cases"]


async def test_a_removal_while_the_bot_was_offline_schedules_the_deletion(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await store_some_data(env)
    await env.stop_bot()
    env.server.bot_leaves(env.guild)

    await env.start_bot()

    guild = await Guild.get(id=env.guild.id)
    assert guild.left_at is not None
    action = await ScheduledAction.get(kind=PURGE_KIND, guild_id=env.guild.id)
    assert action.status == ActionStatus.PENDING
    assert abs(action.due_at - guild.left_at - timedelta(days=30)) < timedelta(seconds=5)


async def test_retention_set_is_for_server_managers_and_the_sweep_applies_it(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    gid = env.guild.id
    with pytest.raises(CommandUnavailable):
        await env.alice.slash("retention set", security_logs=7)

    reply = await env.owner.slash("retention set", security_logs=7, audit_logs=0)

    assert reply.ephemeral and "Retention saved" in reply.text
    assert "7 days" in reply.text
    change = await AuditLog.get(guild_id=gid, action="retention.set")
    assert change.after == {"retention_security_log_days": 7, "retention_audit_log_days": 0}
    now = datetime.now(UTC)
    ages = {"old": 8, "recent": 6}
    for label, days in ages.items():
        row = await SecurityLog.create(guild_id=gid, action=label)
        await SecurityLog.filter(id=row.id).update(created_at=now - timedelta(days=days))
    old_audit = await AuditLog.create(guild_id=gid, action="old.change")
    await AuditLog.filter(id=old_audit.id).update(created_at=now - timedelta(days=3000))

    # The hourly sweep, made due now.
    sweep = await ScheduledAction.get(kind=SWEEP_KIND, status=ActionStatus.PENDING)
    await ScheduledAction.filter(id=sweep.id).update(due_at=now)
    env.bot.scheduler.wake()

    async def swept() -> bool:
        return (await ScheduledAction.get(id=sweep.id)).status == ActionStatus.DONE

    await eventually(swept, "the retention sweep ran")
    assert await SecurityLog.filter(guild_id=gid).values_list("action", flat=True) == ["recent"]
    assert await AuditLog.filter(id=old_audit.id).exists()  # audit logs are kept (0)
    assert (await ScheduledAction.get(id=sweep.id)).result == {
        "ticket_messages": 0,
        "security_logs": 1,
        "audit_logs": 0,
    }
    assert await ScheduledAction.filter(kind=SWEEP_KIND, status=ActionStatus.PENDING).exists()
