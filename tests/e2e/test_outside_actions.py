"""Bans, unbans, kicks and timeouts taken in Discord's own menus become cases, read from the
audit log; Pegasus' own actions are not recorded twice, nor is a replayed entry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from models.moderation import CaseAuditEntry, CaseType, ModCase
from models.scheduling import ActionStatus, ScheduledAction
from pegasus.bot import build_intents
from pegasus.localdiscord import Permissions
from pegasus.localdiscord.auditlog import MEMBER_BAN_ADD, AuditEntry
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))


async def cases_of(user_id: int) -> list[ModCase]:
    return list(await ModCase.filter(user_id=user_id).order_by("case_number"))


async def set_modlog(env: DiscordEnv) -> None:
    await env.owner.slash("modlog", channel=env.channel("logs"))


def modlog_posts(env: DiscordEnv) -> list[dict]:
    return [m.embed for m in env.channel("logs").bot_messages if m.embed]


def last_entry(env: DiscordEnv) -> AuditEntry:
    return env.server.audit_log.entries(env.guild)[-1]


async def test_a_ban_in_discords_menu_becomes_one_case_with_its_moderator_and_reason(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await set_modlog(env)

    await env.mod.ban(env.bob, reason="spam in DMs")
    await env.settle()

    assert env.guild.is_banned(env.bob)
    [case] = await cases_of(env.bob.id)
    assert (case.type, case.case_number, case.reason) == (CaseType.BAN, 1, "spam in DMs")
    assert case.moderator_id == env.mod.id  # type: ignore[attr-defined]
    assert case.active and case.duration_seconds is None
    entry = last_entry(env)
    assert (entry.user_id, entry.target_id) == (env.mod.id, env.bob.id)
    assert case.metadata["audit_entry_id"] == str(entry.id)
    assert await CaseAuditEntry.filter(entry_id=entry.id, case_id=case.id).count() == 1
    [post] = modlog_posts(env)
    assert post["title"] == "Case #1 · Ban"
    fields = {f["name"]: f["value"] for f in post["fields"]}
    assert fields["Moderator"] == f"{env.mod.mention} (in Discord)"
    assert fields["Reason"] == "spam in DMs"
    listed = await env.mod.slash("cases", member=env.bob)
    assert "#1 · Ban" in listed.text and "1 case" in listed.text


async def test_unban_kick_and_timeouts_in_discords_menu_become_cases(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.mod.ban(env.bob, reason="raid")
    await env.owner.unban(env.bob, reason="appeal accepted")
    await env.mod.kick(env.carol, reason="alt account")
    await env.mod.timeout(env.alice, timedelta(hours=1), reason="calm down")
    await env.settle()
    [timed] = await cases_of(env.alice.id)
    await env.mod.timeout(env.alice, None)  # the menu's "Remove Timeout", no reason
    await env.settle()

    ban, unban = await cases_of(env.bob.id)
    assert (ban.type, ban.active) == (CaseType.BAN, False)  # the unban ended it
    assert (unban.type, unban.reason) == (CaseType.UNBAN, "appeal accepted")
    assert unban.moderator_id == env.owner.id  # type: ignore[attr-defined]
    assert unban.metadata["ended_cases"] == [ban.id]
    [kick] = await cases_of(env.carol.id)
    assert (kick.type, kick.reason) == (CaseType.KICK, "alt account")
    assert kick.moderator_id == env.mod.id  # type: ignore[attr-defined]
    timeout, removal = await cases_of(env.alice.id)
    assert timeout.id == timed.id
    assert (timeout.type, timeout.reason, timeout.duration_seconds) == (
        CaseType.TIMEOUT,
        "calm down",
        3600,
    )
    assert timeout.expires_at is not None and not timeout.active
    assert (removal.type, removal.reason) == (CaseType.UNTIMEOUT, None)
    assert removal.moderator_id == env.mod.id  # type: ignore[attr-defined]
    assert [c.case_number for c in await ModCase.all().order_by("case_number")] == [1, 2, 3, 4, 5]
    # The running timeout's end was scheduled, then cancelled by the removal.
    [timer] = await ScheduledAction.filter(kind="moderation.timeout_end")
    assert timer.status == ActionStatus.CANCELLED


async def test_an_entry_without_a_reason_reads_well(discord_env: DiscordEnv) -> None:
    env = discord_env
    await set_modlog(env)

    await env.mod.kick(env.carol)
    await env.settle()

    [case] = await cases_of(env.carol.id)
    assert case.reason is None
    [post] = modlog_posts(env)
    fields = {f["name"]: f["value"] for f in post["fields"]}
    assert (post["title"], fields["Reason"]) == ("Case #1 · Kick", "No reason given")
    shown = await env.mod.slash("case", number=1)
    assert "No reason given" in shown.text and env.mod.mention in shown.text


async def test_a_ban_through_pegasus_is_recorded_once(discord_env: DiscordEnv) -> None:
    env = discord_env
    await set_modlog(env)

    await env.mod.slash("ban", user=env.bob, reason="raid")
    await env.mod.slash("timeout", member=env.alice, duration="10m", reason="flood")
    await env.settle()
    # The same menu action by a person is recorded: the listener was listening all along.
    await env.mod.ban(env.carol, reason="raid too")
    await env.settle()

    ours = [e for e in env.server.audit_log.entries(env.guild) if e.user_id == env.bot.user.id]
    assert len(ours) == 2  # Discord logged Pegasus' ban and timeout, with Pegasus as the actor
    assert [c.type for c in await cases_of(env.bob.id)] == [CaseType.BAN]
    assert [c.type for c in await cases_of(env.alice.id)] == [CaseType.TIMEOUT]
    [carol] = await cases_of(env.carol.id)
    assert carol.moderator_id == env.mod.id  # type: ignore[attr-defined]
    assert await ModCase.all().count() == 3
    assert await CaseAuditEntry.all().count() == 1
    assert [p["title"].split(" · ")[0] for p in modlog_posts(env)] == [
        "Case #1",
        "Case #2",
        "Case #3",
    ]


async def test_a_replayed_entry_makes_no_second_case(discord_env: DiscordEnv) -> None:
    env = discord_env
    await set_modlog(env)
    await env.mod.ban(env.bob, reason="spam")
    await env.settle()
    entry = last_entry(env)

    # The gateway sends the same entry again, twice at once (a replay after RESUME, racing).
    assert env.server.audit_log.dispatch(env.guild, entry) == 1
    assert env.server.audit_log.dispatch(env.guild, entry) == 1
    await env.settle()
    # And again after a restart.
    await env.restart_bot()
    await env.settle()
    env.server.audit_log.dispatch(env.guild, entry)
    await env.settle()

    [case] = await cases_of(env.bob.id)
    assert case.type == CaseType.BAN
    assert await ModCase.all().count() == 1
    assert len(modlog_posts(env)) == 1
    # The case number was not spent by the refused duplicates.
    await env.mod.kick(env.carol)
    await env.settle()
    [kick] = await cases_of(env.carol.id)
    assert kick.case_number == 2


async def test_concurrent_handlers_of_one_entry_record_one_case(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.mod.ban(env.bob, reason="spam")
    await env.settle()
    entry = last_entry(env)
    await ModCase.all().delete()  # as if the first delivery had not been handled yet
    cog = env.bot.get_cog("Actions outside Pegasus")
    guild = env.bot.get_guild(env.guild.id)
    assert cog is not None and guild is not None
    [fetched] = [e async for e in guild.audit_logs(limit=1)]
    assert fetched.id == entry.id

    await asyncio.gather(*(cog.on_audit_log_entry_create(fetched) for _ in range(5)))

    assert await ModCase.filter(user_id=env.bob.id).count() == 1
    assert await CaseAuditEntry.filter(entry_id=entry.id).count() == 1


async def test_a_pegasus_tempban_lifted_in_discords_menu_cancels_its_timer(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.mod.slash("ban", user=env.bob, duration="1h", reason="cool off")
    [timer] = await ScheduledAction.filter(kind="moderation.unban")

    await env.mod.unban(env.bob, reason="changed my mind")
    await env.settle()

    assert not env.guild.is_banned(env.bob)
    ban, unban = await cases_of(env.bob.id)
    assert (ban.type, ban.active, ban.duration_seconds) == (CaseType.BAN, False, 3600)
    assert (unban.type, unban.reason) == (CaseType.UNBAN, "changed my mind")
    assert unban.moderator_id == env.mod.id  # type: ignore[attr-defined]
    await timer.refresh_from_db()
    assert timer.status == ActionStatus.CANCELLED


async def test_another_bots_ban_is_a_case_naming_that_bot(discord_env: DiscordEnv) -> None:
    env = discord_env
    role = await env.guild.create_role("Other bot", permissions=Permissions.of("ban_members"))
    other = await env.guild.add_member("Carl", roles=[role], bot=True)
    await env.settle()

    await other.ban(env.bob)
    await env.settle()

    [case] = await cases_of(env.bob.id)
    assert (case.type, case.reason) == (CaseType.BAN, None)
    assert case.moderator_id == other.id  # type: ignore[attr-defined]
    assert case.metadata["moderator_is_bot"] is True


async def test_without_view_audit_log_nothing_arrives(discord_env: DiscordEnv) -> None:
    env = discord_env
    bot_role = env.guild.role("Pegasus")
    without = Permissions(int(bot_role.permissions) & ~int(Permissions.of("view_audit_log")))
    await env.guild.set_role_permissions(bot_role, without)
    await env.settle()

    await env.mod.ban(env.bob, reason="spam")
    await env.settle()

    assert env.guild.is_banned(env.bob)
    assert last_entry(env).action_type == MEMBER_BAN_ADD
    assert await ModCase.all().count() == 0


async def test_quick_successive_entries_are_recorded_in_their_order(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    for round_ in range(4):  # each event's handler is a task of its own, all racing
        await env.mod.ban(env.bob, reason=f"ban {round_}")
        await env.owner.unban(env.bob, reason=f"unban {round_}")
    await env.settle()

    cases = await cases_of(env.bob.id)
    assert [(c.type, c.reason) for c in cases] == [
        (kind, f"{kind} {round_}") for round_ in range(4) for kind in (CaseType.BAN, CaseType.UNBAN)
    ]
    assert not any(c.active for c in cases)  # every ban was ended by the unban after it
    assert [c.case_number for c in cases] == list(range(1, 9))


def test_the_bot_asks_for_the_moderation_intent() -> None:
    # Discord sends audit log entries only with GUILD_MODERATION (and View Audit Log).
    assert build_intents().moderation


async def test_actions_while_pegasus_was_away_are_recorded_when_it_returns(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await set_modlog(env)
    await env.mod.ban(env.bob, reason="spam")
    await env.settle()
    await env.stop_bot()

    await env.mod.kick(env.carol, reason="while you slept")
    await env.mod.timeout(env.alice, timedelta(minutes=10), reason="also")
    await env.owner.unban(env.bob)
    await env.start_bot()
    await env.settle()

    assert [(c.type, c.reason) for c in await ModCase.all().order_by("case_number")] == [
        (CaseType.BAN, "spam"),
        (CaseType.KICK, "while you slept"),
        (CaseType.TIMEOUT, "also"),
        (CaseType.UNBAN, None),
    ]
    [timeout] = await cases_of(env.alice.id)
    assert timeout.duration_seconds == 600
    assert len(modlog_posts(env)) == 4
    # Read again at the next start, nothing is recorded twice.
    await env.restart_bot()
    await env.settle()
    assert await ModCase.all().count() == 4
    assert len(modlog_posts(env)) == 4
    reads = env.server.requests_to("GET", "/guilds/{guild_id}/audit-logs")
    assert len(reads) == 2 and all(r.query.get("after") for r in reads)


async def test_a_server_with_no_recorded_entry_is_not_read_at_start(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.mod.slash("ban", user=env.bob, reason="through Pegasus")
    await env.stop_bot()
    await env.mod.kick(env.carol)  # before Pegasus ever recorded an action taken in Discord

    await env.start_bot()
    await env.settle()

    assert env.server.requests_to("GET", "/guilds/{guild_id}/audit-logs") == []
    assert [c.type for c in await ModCase.all()] == [CaseType.BAN]
