"""Timed punishments survive restarts: lifted exactly once by a restarted bot, or by one of two
bot processes sharing the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from models.moderation import CaseType, MemberWarning, ModCase, WarningEdit, WarningEditKind
from models.scheduling import ActionStatus, ScheduledAction
from pegasus.db import close_db, init_db
from pegasus.localdiscord import BotProcessFactory
from pegasus.localdiscord.env import DiscordEnv
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))

UNBAN_ROUTE = "/guilds/{guild_id}/bans/{user_id}"
ROLE_ROUTE = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"


async def issue_two_second_punishments(env: DiscordEnv) -> datetime:
    """A 2-second tempban of bob and a 2-second mute of carol; returns when both are due."""
    await env.mod.slash("ban", user=env.bob, duration="2s", reason="cool off")
    await env.mod.slash("mute", member=env.carol, duration="2s", reason="quiet")
    ban = await ModCase.get(user_id=env.bob.id, type=CaseType.BAN)
    mute = await ModCase.get(user_id=env.carol.id, type=CaseType.MUTE)
    assert ban.expires_at is not None and mute.expires_at is not None
    return max(ban.expires_at, mute.expires_at)


async def wait_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, delay) + 0.5)


def lifts(env: DiscordEnv) -> tuple[int, int]:
    """How many unbans of bob and removals of carol's mute role the server received."""
    unbans = [
        r
        for r in env.server.requests_to("DELETE", UNBAN_ROUTE)
        if r.path.endswith(f"/{env.bob.id}")
    ]
    role_removals = [
        r
        for r in env.server.requests_to("DELETE", ROLE_ROUTE)
        if f"/members/{env.carol.id}/" in r.path
    ]
    return len(unbans), len(role_removals)


async def lifted_cases(env: DiscordEnv) -> list[CaseType]:
    rows = await ModCase.filter(type__in=[CaseType.UNBAN, CaseType.UNMUTE]).order_by("type")
    return [row.type for row in rows]


async def assert_lifted_exactly_once(env: DiscordEnv) -> None:
    assert not env.guild.is_banned(env.bob)
    assert not env.carol.has_role("Muted")
    assert lifts(env) == (1, 1)
    assert sorted(await lifted_cases(env)) == [CaseType.UNBAN, CaseType.UNMUTE]
    kinds = ["moderation.unban", "moderation.unmute"]

    async def timers_finished() -> bool:
        # The lift is visible before the scheduler writes "done" (just after the handler).
        statuses = await ScheduledAction.filter(kind__in=kinds).values_list("status", flat=True)
        return ActionStatus.RUNNING not in statuses

    await eventually(timers_finished, "the scheduler marks both timers finished", timeout=30)
    timers = await ScheduledAction.filter(kind__in=kinds)
    assert [t.status for t in timers] == [ActionStatus.DONE, ActionStatus.DONE]
    assert all(t.attempts == 1 for t in timers)
    assert not await ModCase.filter(active=True, type__in=[CaseType.BAN, CaseType.MUTE]).exists()


async def test_punishments_due_while_the_bot_was_down_are_lifted_once(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    due = await issue_two_second_punishments(env)
    # Closing stops the scheduler first; doing it now keeps a slow stop from racing the timers.
    await env.bot.scheduler.stop()
    await env.stop_bot()
    assert env.guild.is_banned(env.bob) and env.carol.has_role("Muted")
    assert lifts(env) == (0, 0)

    await wait_until(due)  # both are due while no bot runs
    await env.start_bot()

    async def both_lifted() -> bool:
        return len(await lifted_cases(env)) == 2

    await eventually(both_lifted, "the unban and unmute cases", timeout=30)
    await env.settle()
    await assert_lifted_exactly_once(env)
    # Another restart finds nothing left to do.
    await env.restart_bot()
    await env.settle()
    assert lifts(env) == (1, 1)


async def test_two_bot_processes_on_one_database_lift_them_once(
    discord_env: DiscordEnv, bot_process: BotProcessFactory
) -> None:
    env = discord_env
    due = await issue_two_second_punishments(env)
    await env.bot.scheduler.stop()
    await env.stop_bot()  # closes its database connections too
    await wait_until(due)

    first, second = await asyncio.gather(bot_process.start(), bot_process.start())
    await init_db(env.db_url)  # the test's own view of the shared database
    try:

        async def both_lifted() -> bool:
            return len(await lifted_cases(env)) == 2 and lifts(env) == (1, 1)

        await eventually(both_lifted, "the unban and unmute by one process", timeout=30)
        await first.settle(timeout=10)
        await assert_lifted_exactly_once(env)
        codes = await asyncio.gather(first.terminate(), second.terminate())
        assert codes == [0, 0], first.output + "\n" + second.output
    finally:
        await close_db()


async def test_two_running_processes_race_for_timers_that_come_due(
    discord_env: DiscordEnv, bot_process: BotProcessFactory
) -> None:
    env = discord_env
    await env.mod.slash("ban", user=env.bob, duration="5s", reason="cool off")
    await env.mod.slash("mute", member=env.carol, duration="5s", reason="quiet")
    await env.stop_bot()

    # Both processes are up and polling before the timers are due: they race for each one.
    first, second = await asyncio.gather(bot_process.start(), bot_process.start())
    await init_db(env.db_url)
    try:
        assert lifts(env) == (0, 0)

        async def both_lifted() -> bool:
            return len(await lifted_cases(env)) == 2 and lifts(env) == (1, 1)

        await eventually(both_lifted, "the unban and unmute by one process", timeout=30)
        await first.settle(timeout=10)
        await assert_lifted_exactly_once(env)
        codes = await asyncio.gather(first.terminate(), second.terminate())
        assert codes == [0, 0], first.output + "\n" + second.output
    finally:
        await close_db()


async def test_a_warning_due_to_expire_while_the_bot_was_down_expires_once(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.bot.scheduler.stop()  # the stop comes before the expiry, whatever the timing
    await env.mod.slash("warn", member=env.alice, title="Minor", expires="2s")
    warning = await MemberWarning.get(user_id=env.alice.id)
    assert warning.expires_at is not None
    await env.stop_bot()

    await wait_until(warning.expires_at)
    await env.start_bot()

    async def expired() -> bool:
        return not (await MemberWarning.get(id=warning.id)).active

    await eventually(expired, "the warning's expiry", timeout=30)
    await env.restart_bot()
    await env.settle()
    assert await WarningEdit.filter(warning_id=warning.id, kind=WarningEditKind.EXPIRE).count() == 1
    [timer] = await ScheduledAction.filter(kind="moderation.warning_expire")
    assert (timer.status, timer.attempts) == (ActionStatus.DONE, 1)


async def test_an_automation_fired_just_before_a_stop_runs_once_after_it(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.owner.slash(
        "automation add",
        name="Out",
        trigger="warn_count",
        value=1,
        action="kick",
        enabled=True,
        notify_channel=env.channel("logs"),
    )
    await env.bot.scheduler.stop()  # the bot stops before it gets to the automation's action
    await env.mod.slash("warn", member=env.bob, title="severe")
    await env.stop_bot()
    assert env.bob.in_guild
    # The scheduler starts before the gateway is ready: hold the gateway back a second, so the
    # action comes due while the bot knows no guild yet (it must wait, not drop the rule).
    env.server.faults.rate_limit("GET", "/gateway/bot", retry_after=1.0)

    await env.start_bot()

    async def reported() -> bool:  # the notice is the action's last step
        return any("Automation fired" in m.text for m in env.channel("logs").bot_messages)

    await eventually(reported, "the automation's kick and its notice", timeout=30)
    assert env.server.faults.hits  # the gateway really was held back
    await env.restart_bot()
    await env.settle()
    assert not env.bob.in_guild and env.guild.kicked == [env.bob.user]
    assert await ModCase.filter(user_id=env.bob.id, type=CaseType.KICK).count() == 1
    [action] = await ScheduledAction.filter(kind="moderation.automation")
    assert (action.status, action.attempts) == (ActionStatus.DONE, 1)
    notices = [m for m in env.channel("logs").bot_messages if "Automation fired" in m.text]
    assert len(notices) == 1 and "kick: done" in notices[0].text
