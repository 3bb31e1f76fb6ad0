"""The verification gate end to end through the local Discord: new members get the unverified
role, press the persistent Verify button (refused for young accounts), and those who never verify
are kicked when their timer comes due, across a restart of the bot and exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from models.moderation import CaseType, ModCase
from models.scheduling import ActionStatus, ScheduledAction
from models.security import SecurityLog
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.permissions import Overwrite, Permissions
from pegasus.localdiscord.state import FakeMember, FakeMessage, now
from pegasus.scheduler import utcnow
from pegasus.services.raids import TIMEOUT_KIND

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.community", "cogs.security", "cogs.raid_response"),
    scheduler_poll_interval=3600,  # timers run when the test says time has passed
)

OLD = timedelta(days=400)


@pytest.fixture
def env(discord_env: DiscordEnv) -> DiscordEnv:
    return discord_env


def said(reply: Any) -> str:
    texts = [reply.text, *(message.text for message in reply.followups)]
    return "\n".join(text for text in texts if text)


async def set_up_gate(env: DiscordEnv, **options: Any) -> FakeMessage:
    verified = await env.guild.create_role("Verified", position=1)
    unverified = await env.guild.create_role("Unverified", position=1)
    reply = await env.owner.slash(
        "verification set",
        enabled=True,
        verified_role=verified,
        unverified_role=unverified,
        **options,
    )
    assert "Verification settings saved" in said(reply), said(reply)
    posted = await env.owner.slash("verification post", channel=env.channel("general"))
    assert "Posted the Verify message" in said(posted), said(posted)
    await env.settle()
    panel = env.channel("general").bot_messages[-1]
    assert [b["custom_id"] for b in panel.buttons] == [f"pegasus:verify:press:{env.guild.id}"]
    return panel


def role_names(member: FakeMember) -> set[str]:
    return {role.name for role in member.roles}


async def make_due(env: DiscordEnv, user_id: int) -> None:
    """Time passes: the member's verification timer is due now."""
    updated = await ScheduledAction.filter(
        kind=TIMEOUT_KIND, dedupe_key=f"{env.guild.id}:{user_id}", status=ActionStatus.PENDING
    ).update(due_at=utcnow() - timedelta(seconds=1))
    assert updated == 1


async def run_timers(env: DiscordEnv) -> int:
    ran = await env.bot.scheduler.run_due()
    await env.settle()
    return ran


async def test_a_new_member_verifies_with_the_button(env: DiscordEnv) -> None:
    panel = await set_up_gate(env, kick_after="1h")
    newcomer = await env.guild.add_member("newcomer", created_at=now() - OLD)
    await env.settle()
    assert role_names(newcomer) >= {"Unverified"} and "Verified" not in role_names(newcomer)
    pending = await ScheduledAction.get(kind=TIMEOUT_KIND)
    assert pending.payload == {"user_id": newcomer.id} and pending.status is ActionStatus.PENDING
    assert 3500 < (pending.due_at - utcnow()).total_seconds() <= 3600

    reply = await newcomer.click(panel, label="Verify")
    assert reply.ephemeral and "You are verified" in said(reply), said(reply)
    assert "Verified" in role_names(newcomer) and "Unverified" not in role_names(newcomer)
    assert (await ScheduledAction.get(pk=pending.pk)).status is ActionStatus.CANCELLED
    again = await newcomer.click(panel, label="Verify")
    assert "already verified" in said(again)


async def test_young_accounts_are_refused_with_a_clear_sentence(env: DiscordEnv) -> None:
    panel = await set_up_gate(env, min_account_age=7)
    fresh = await env.guild.add_member("fresh", created_at=now() - timedelta(days=2))
    await env.settle()
    reply = await fresh.click(panel, label="Verify")
    assert reply.ephemeral
    assert "Your account is too new to verify here: accounts must be at least 7 days old" in (
        said(reply)
    )
    assert "<t:" in said(reply)  # when it may verify
    assert "Verified" not in role_names(fresh) and "Unverified" in role_names(fresh)


async def test_the_gate_works_across_a_restart_and_kicks_once(env: DiscordEnv) -> None:
    panel = await set_up_gate(env, kick_after="10m")
    idle = await env.guild.add_member("idle", created_at=now() - OLD)
    keen = await env.guild.add_member("keen", created_at=now() - OLD)
    await env.settle()
    assert await ScheduledAction.filter(kind=TIMEOUT_KIND).count() == 2

    await env.restart_bot()
    # The button posted before the restart still works.
    reply = await keen.click(panel, label="Verify")
    assert "You are verified" in said(reply), said(reply)
    # The timer set before the restart still runs, once, and spares the member who verified.
    await make_due(env, idle.id)
    assert await run_timers(env) == 1
    action = await ScheduledAction.get(kind=TIMEOUT_KIND, dedupe_key=f"{env.guild.id}:{idle.id}")
    assert action.status is ActionStatus.DONE and action.attempts == 1
    kicked = [user.id for user in env.guild.kicked]
    assert kicked == [idle.id]
    assert env.guild.find_member("keen") is not None
    log = await SecurityLog.get(action="security.verification_timeout")
    assert log.user_id == idle.id  # type: ignore[attr-defined]
    case = await ModCase.get(guild_id=env.guild.id)
    assert (case.type, case.user_id, case.reason) == (
        CaseType.KICK,
        idle.id,
        "Not verified in time",
    )

    await env.restart_bot()
    assert await run_timers(env) == 0
    assert [user.id for user in env.guild.kicked] == [idle.id]
    assert await ModCase.filter(guild_id=env.guild.id).count() == 1


async def test_the_gate_needs_a_role_and_roles_the_invoker_could_give(env: DiscordEnv) -> None:
    refused = await env.owner.slash("verification set", enabled=True)
    assert refused.ephemeral and "needs a verified role, an unverified role, or both" in (
        said(refused)
    )
    high = await env.guild.create_role("Above the bot", position=50)
    above = await env.owner.slash("verification set", enabled=True, verified_role=high)
    assert above.ephemeral and "Verification settings saved" not in said(above)


async def test_a_deleted_verified_role_is_told_and_kicks_nobody(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"), events="member_leave")
    panel = await set_up_gate(env, kick_after="10m")
    waiting = await env.guild.add_member("waiting", created_at=now() - OLD)
    await env.settle()
    await env.guild.delete_role(env.guild.role("Verified"))
    await env.settle()

    for _ in range(3):
        reply = await waiting.click(panel, label="Verify")
        assert reply.ephemeral and "verified role was deleted" in said(reply), said(reply)
    alerts = [m.text for m in env.channel("logs").bot_messages if "gate broken" in m.text]
    assert len(alerts) == 1, alerts  # pressing again does not post again

    await make_due(env, waiting.id)
    assert await run_timers(env) == 1
    assert env.guild.find_member(waiting.id) is not None and not env.guild.kicked
    assert not await ModCase.filter(user_id=waiting.id, type=CaseType.KICK).exists()


async def test_the_verify_message_is_not_posted_where_its_poster_cant_see(
    env: DiscordEnv,
) -> None:
    hidden = await env.guild.create_text_channel(
        "hidden",
        overwrites=[
            Overwrite(env.guild.id, 0, 0, int(Permissions.of("view_channel"))),
            Overwrite(env.guild.role("Pegasus").id, 0, int(Permissions.of("view_channel")), 0),
        ],
    )
    manager = await env.guild.create_role(
        "Manager", permissions=Permissions.of("manage_guild"), position=1
    )
    steward = await env.guild.add_member("steward", roles=[manager])
    await env.settle()
    refused = await steward.slash("verification post", channel=hidden)
    assert refused.ephemeral and "You can't see" in said(refused), said(refused)
    assert hidden.bot_messages == []
    posted = await env.owner.slash("verification post", channel=hidden)
    assert "Posted the Verify message" in said(posted), said(posted)


async def test_an_unverified_role_the_bot_cant_take_away_changes_nothing(
    env: DiscordEnv,
) -> None:
    """Moved above the bot after members got it: pressing Verify gives no role (the member
    would keep the unverified one and still be kicked), the staff are told once, and
    nobody is kicked for what they could not do."""
    await env.owner.slash("logging set", channel=env.channel("logs"), events="member_leave")
    panel = await set_up_gate(env, kick_after="10m")
    stuck = await env.guild.add_member("stuck", created_at=now() - OLD)
    await env.settle()
    assert "Unverified" in role_names(stuck)
    unverified = env.guild.role("Unverified")
    unverified.position = env.guild.role("Pegasus").position + 1
    env.server.events.role_update(unverified)
    await env.settle()

    for _ in range(2):
        reply = await stuck.click(panel, label="Verify")
        assert reply.ephemeral and "can't take your unverified role" in said(reply), said(reply)
    assert "Verified" not in role_names(stuck) and "Unverified" in role_names(stuck)
    alerts = [m.text for m in env.channel("logs").bot_messages if "gate broken" in m.text]
    assert len(alerts) == 1 and "move my role above it" in alerts[0], alerts

    await make_due(env, stuck.id)
    assert await run_timers(env) == 1
    assert env.guild.find_member(stuck.id) is not None and not env.guild.kicked
