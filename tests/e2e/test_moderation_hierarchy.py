"""Changing a warning or a case follows the moderation hierarchy, through the local Discord.

`/warning edit`, `/warning remove` and `/reason` apply the rules of `/warn`: nobody changes a record
about themselves, and the member concerned must be below the moderator unless the moderator owns
the server. Another moderator's record also needs Manage Server or a highest role above theirs.
A refusal is private, says why, and changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from models.moderation import CaseType, MemberWarning, ModCase, WarningEdit
from models.scheduling import ScheduledAction
from models.security import AuditLog
from pegasus.localdiscord import FakeMember
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import moderation
from pegasus.services.moderation import Case

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))

WARN_ID = re.compile(r"W-[0-9A-Z]{5}")
AUTOMATION_ID = re.compile(r"A-[0-9A-Z]{5}")
CASE_NUMBER = re.compile(r"Case #(\d+)")
MODERATOR_PERMISSIONS = ["kick_members", "ban_members", "moderate_members", "manage_messages"]


async def senior_moderator(env: DiscordEnv, name: str = "senior") -> FakeMember:
    """A moderator whose role is above Moderator, without Manage Server."""
    senior = await env.guild.create_role("Senior", permissions=MODERATOR_PERMISSIONS, position=2)
    member = await env.guild.add_member(name, roles=[senior])
    await env.settle()
    return member


async def warn(by: FakeMember, member: FakeMember, title: str, level: int = 1) -> tuple[str, int]:
    """Warn `member` as `by`; the warning's id and its case number."""
    reply = await by.slash("warn", member=member, title=title, level=level)
    assert "was warned" in reply.text, reply.text
    warn_id = WARN_ID.search(reply.text).group(0)  # type: ignore[union-attr]
    case_number = int(CASE_NUMBER.search(reply.text).group(1))  # type: ignore[union-attr]
    return warn_id, case_number


async def automatic_kick(env: DiscordEnv, member: FakeMember) -> Case:
    """A case the bot recorded on its own, as an automation does."""
    return await moderation.record_action(
        guild_id=env.guild.id,
        case_type=CaseType.KICK,
        user_id=member.id,
        moderator_id=env.bot_member.id,
        reason="automation",
        now=datetime.now(UTC),
    )


async def assert_warning_unchanged(warn_id: str, *, title: str, level: int) -> None:
    warning = await MemberWarning.get(warn_id=warn_id)
    assert (warning.title, warning.level) == (title, level)
    assert warning.active and warning.removed_at is None and warning.edited_at is None
    assert await WarningEdit.filter(warning_id=warning.id).count() == 0


async def assert_reason_unchanged(env: DiscordEnv, case_number: int, reason: str) -> None:
    case = await ModCase.get(guild_id=env.guild.id, case_number=case_number)
    assert case.reason == reason and case.reason_edited_at is None
    assert await AuditLog.filter(action="case.reason").count() == 0


async def test_nobody_changes_a_warning_or_a_case_about_themselves(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    warn_id, case_number = await warn(env.owner, env.mod, "Too harsh", level=2)

    edited = await env.mod.slash("warning edit", warn_id=warn_id, level=1)
    removed = await env.mod.slash("warning remove", warn_id=warn_id, reason="I disagree")
    reasoned = await env.mod.slash("reason", case_number=case_number, reason="nothing")

    assert edited.ephemeral and edited.content == "You can't edit a warning about yourself."
    assert removed.ephemeral and removed.content == "You can't remove a warning about yourself."
    assert reasoned.ephemeral
    assert reasoned.content == "You can't change the reason of a case about yourself."
    await assert_warning_unchanged(warn_id, title="Too harsh", level=2)
    await assert_reason_unchanged(env, case_number, "Too harsh")


async def test_the_owner_cannot_change_a_case_about_themselves_either(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    case = await automatic_kick(env, env.owner)

    reply = await env.owner.slash("reason", case_number=case.case_number, reason="never happened")

    assert reply.ephemeral
    assert reply.content == "You can't change the reason of a case about yourself."
    await assert_reason_unchanged(env, case.case_number, "automation")


async def test_a_warning_of_a_senior_moderator_cannot_be_raised(discord_env: DiscordEnv) -> None:
    env = discord_env
    senior = await senior_moderator(env)
    created = await env.owner.slash(
        "automation add", name="Severe", trigger="level_total", value=5, action="kick"
    )
    automation_id = AUTOMATION_ID.search(created.content or "").group(0)  # type: ignore[union-attr]
    await env.owner.slash("automation toggle", id=automation_id)
    warn_id, case_number = await warn(env.owner, senior, "Late to the meeting")
    scheduled = await ScheduledAction.all().count()

    raised = await env.mod.slash("warning edit", warn_id=warn_id, level=5)
    removed = await env.mod.slash("warning remove", warn_id=warn_id)
    reasoned = await env.mod.slash("reason", case_number=case_number, reason="insubordination")

    about = f"{senior.mention}: their highest role is not below yours."
    assert raised.ephemeral and raised.content == f"You can't edit a warning about {about}"
    assert removed.ephemeral and removed.content == f"You can't remove a warning about {about}"
    assert reasoned.ephemeral
    assert reasoned.content == f"You can't change the reason of a case about {about}"
    await assert_warning_unchanged(warn_id, title="Late to the meeting", level=1)
    await assert_reason_unchanged(env, case_number, "Late to the meeting")
    await env.settle()
    assert await ScheduledAction.all().count() == scheduled  # no automation set off
    assert senior.in_guild


async def test_a_warning_the_owner_gave_needs_manage_server(discord_env: DiscordEnv) -> None:
    env = discord_env
    warn_id, case_number = await warn(env.owner, env.alice, "Spam", level=2)

    edited = await env.mod.slash("warning edit", warn_id=warn_id, level=1)
    removed = await env.mod.slash("warning remove", warn_id=warn_id)
    reasoned = await env.mod.slash("reason", case_number=case_number, reason="a little spam")

    assert edited.ephemeral
    assert edited.content == "You can't edit a warning by the server owner without Manage Server."
    assert removed.content == (
        "You can't remove a warning by the server owner without Manage Server."
    )
    assert reasoned.content == (
        "You can't change the reason of a case by the server owner without Manage Server."
    )
    await assert_warning_unchanged(warn_id, title="Spam", level=2)
    await assert_reason_unchanged(env, case_number, "Spam")


async def test_another_moderators_record_needs_a_higher_role_or_manage_server(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    senior = await senior_moderator(env)
    peer = await env.guild.add_member("peer", roles=[env.guild.role("Moderator")])
    await env.settle()
    by_senior, senior_case = await warn(senior, env.alice, "Rude", level=2)
    by_peer, peer_case = await warn(peer, env.bob, "Off topic")

    records = [(senior, by_senior, senior_case), (peer, by_peer, peer_case)]
    for issuer, warn_id, case_number in records:
        why = f"{issuer.mention} without Manage Server: their highest role is not below yours."
        edited = await env.mod.slash("warning edit", warn_id=warn_id, level=5)
        removed = await env.mod.slash("warning remove", warn_id=warn_id)
        reasoned = await env.mod.slash("reason", case_number=case_number, reason="x")
        assert edited.ephemeral and edited.content == f"You can't edit a warning by {why}"
        assert removed.ephemeral and removed.content == f"You can't remove a warning by {why}"
        assert reasoned.ephemeral
        assert reasoned.content == f"You can't change the reason of a case by {why}"
    await assert_warning_unchanged(by_senior, title="Rude", level=2)
    await assert_warning_unchanged(by_peer, title="Off topic", level=1)
    await assert_reason_unchanged(env, senior_case, "Rude")
    await assert_reason_unchanged(env, peer_case, "Off topic")

    # Manage Server on the moderator's role lifts the rule about the other moderator.
    await env.guild.set_role_permissions(
        "Moderator", [*MODERATOR_PERMISSIONS, "manage_nicknames", "manage_guild"]
    )
    await env.settle()
    edited = await env.mod.slash("warning edit", warn_id=by_senior, level=3)
    assert "updated" in (edited.content or ""), edited.content
    assert (await MemberWarning.get(warn_id=by_senior)).level == 3


async def test_the_owner_and_a_higher_moderator_may_change_records(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    senior = await senior_moderator(env)
    by_mod, mod_case = await warn(env.mod, env.alice, "Rude", level=2)
    by_senior, _ = await warn(senior, env.bob, "Off topic")

    # The senior moderator outranks the moderator and the member: allowed.
    edited = await senior.slash("warning edit", warn_id=by_mod, level=4)
    reasoned = await senior.slash("reason", case_number=mod_case, reason="Very rude")
    assert "updated" in (edited.content or ""), edited.content
    assert "reason changed" in (reasoned.content or ""), reasoned.content
    # The moderator is below the senior one: refused, and nothing changes.
    refused = await env.mod.slash("warning remove", warn_id=by_senior)
    assert refused.ephemeral and "without Manage Server" in (refused.content or "")
    # The owner may change anyone's record about anyone else.
    removed = await env.owner.slash("warning remove", warn_id=by_senior, reason="sorted out")
    assert "removed" in (removed.content or ""), removed.content

    assert (await MemberWarning.get(warn_id=by_mod)).level == 4
    case = await ModCase.get(guild_id=env.guild.id, case_number=mod_case)
    assert case.reason == "Very rude"
    assert case.reason_edited_by_id == senior.id  # type: ignore[attr-defined]
    gone = await MemberWarning.get(warn_id=by_senior)
    assert not gone.active and gone.removed_by_id == env.owner.id  # type: ignore[attr-defined]


async def test_a_record_by_someone_who_left_or_about_someone_who_left(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    senior = await senior_moderator(env)
    warn_id, _ = await warn(senior, env.alice, "Rude")
    refused = await env.mod.slash("warning edit", warn_id=warn_id, level=3)
    assert refused.ephemeral and "without Manage Server" in (refused.content or "")

    # With neither the moderator nor the member in the server, there is no hierarchy to respect.
    await senior.leave()
    await env.alice.leave()
    await env.settle()
    edited = await env.mod.slash("warning edit", warn_id=warn_id, level=3)

    assert "updated" in (edited.content or ""), edited.content
    assert (await MemberWarning.get(warn_id=warn_id)).level == 3


async def test_an_automatic_case_follows_the_member_alone(discord_env: DiscordEnv) -> None:
    env = discord_env
    # The bot's own cases (timers, automations) are not a superior's.
    about_alice = await automatic_kick(env, env.alice)
    # Even with a role below the moderator's, the owner stays above every moderator.
    await env.guild.remove_role(env.owner, env.guild.role("Admin"))
    await env.settle()
    about_owner = await automatic_kick(env, env.owner)

    allowed = await env.mod.slash("reason", case_number=about_alice.case_number, reason="raid")
    refused = await env.mod.slash("reason", case_number=about_owner.case_number, reason="raid")

    assert "reason changed" in (allowed.content or ""), allowed.content
    assert refused.ephemeral
    assert refused.content == "You can't change the reason of a case about the server owner."
    stored = await ModCase.get(guild_id=env.guild.id, case_number=about_owner.case_number)
    assert stored.reason == "automation" and stored.reason_edited_at is None
