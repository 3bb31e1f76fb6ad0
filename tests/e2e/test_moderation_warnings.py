"""Warnings and automations through the local Discord."""

from __future__ import annotations

import re

import pytest

from models.moderation import CaseType, MemberWarning, ModCase, WarningAutomation
from models.security import AuditLog
from pegasus.localdiscord import File
from pegasus.localdiscord.env import DiscordEnv
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))

WARN_ID = re.compile(r"W-[0-9A-Z]{5}")
AUTOMATION_ID = re.compile(r"A-[0-9A-Z]{5}")


async def test_warn_records_a_case_tells_the_member_and_posts_to_the_modlog(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.owner.slash("modlog", channel=env.channel("logs"))
    shot = File("shot.png", b"\x89PNG fake", content_type="image/png")

    reply = await env.mod.slash(
        "warn",
        member=env.alice,
        title="Spamming",
        description="Same link ten times",
        level=3,
        proof=shot,
        proof_url="https://example.com/log",
    )

    assert not reply.ephemeral
    assert "was warned" in reply.text and "Spamming" in reply.text
    warn_id = WARN_ID.search(reply.text).group(0)  # type: ignore[union-attr]
    warning = await MemberWarning.get(warn_id=warn_id)
    assert (warning.level, warning.description) == (3, "Same link ten times")
    assert len(warning.proof) == 2 and warning.proof[1] == "https://example.com/log"
    assert warning.proof[0].endswith("shot.png")
    case = await ModCase.get(id=warning.case_id)  # type: ignore[attr-defined]
    assert case.type == CaseType.WARN and case.case_number == 1
    await env.settle()
    [post] = env.channel("logs").bot_messages
    assert post.embed["title"] == "Case #1 · Warn" and warn_id in post.text
    [dm] = env.server.dms(env.alice)
    assert "warned" in dm.text and warn_id in dm.text


async def test_warnings_list_edit_history_and_remove(discord_env: DiscordEnv) -> None:
    env = discord_env
    first = await env.mod.slash("warn", member=env.alice, title="Rude", level=2)
    await env.mod.slash("warn", member=env.alice, title="Off topic")
    warn_id = WARN_ID.search(first.text).group(0)  # type: ignore[union-attr]

    listed = await env.mod.slash("warnings", member=env.alice)
    assert listed.ephemeral
    assert "Rude" in listed.text and "Off topic" in listed.text
    assert "2 active (levels total 3)" in listed.text

    edited = await env.mod.slash(
        "warning edit", warn_id=warn_id.lower(), level=4, title="Very rude"
    )
    assert edited.ephemeral and "updated" in (edited.content or "")
    assert "2 → 4" in (edited.content or "")

    removed = await env.owner.slash("warning remove", warn_id=warn_id, reason="sorted out")
    assert "removed" in (removed.content or "")

    history = await env.mod.slash("warning history", warn_id=warn_id)
    assert "Very rude" in history.text
    assert "level: 2 → 4" in history.text and "title: Rude → Very rude" in history.text
    assert "sorted out" in history.text
    stored = await MemberWarning.get(warn_id=warn_id)
    assert not stored.active and stored.removed_by_id == env.owner.id  # type: ignore[attr-defined]

    again = await env.mod.slash("warnings", member=env.alice)
    assert "1 active (levels total 1) · 2 in all" in again.text
    missing = await env.mod.slash("warning history", warn_id="W-ZZZZZ")
    assert missing.ephemeral and "no warning `W-ZZZZZ`" in (missing.content or "")


async def test_warn_refusals(discord_env: DiscordEnv) -> None:
    env = discord_env
    self_warn = await env.mod.slash("warn", member=env.mod, title="x")
    owner = await env.mod.slash("warn", member=env.owner, title="x")
    bad_proof = await env.mod.slash("warn", member=env.alice, title="x", proof_url="ftp://x")
    bad_expiry = await env.mod.slash("warn", member=env.alice, title="x", expires="later")

    assert "yourself" in (self_warn.content or "")
    assert "server owner" in (owner.content or "")
    assert "must be a link" in (bad_proof.content or "")
    assert "is not a duration" in (bad_expiry.content or "")
    assert all(r.ephemeral for r in (self_warn, owner, bad_proof, bad_expiry))
    assert await MemberWarning.all().count() == 0


async def test_automation_lifecycle_and_firing(discord_env: DiscordEnv) -> None:
    env = discord_env
    logs = env.channel("logs")

    created = await env.owner.slash(
        "automation add",
        name="Two strikes",
        trigger="warn_count",
        value=2,
        action="timeout",
        duration="1h",
        notify_channel=logs,
    )
    assert created.ephemeral and "is **off**" in (created.content or "")
    automation_id = AUTOMATION_ID.search(created.content or "").group(0)  # type: ignore[union-attr]

    # Stored history: bob already had two warnings; simulate before switching on.
    await env.mod.slash("warn", member=env.bob, title="one")
    await env.mod.slash("warn", member=env.bob, title="two")
    simulated = await env.owner.slash("automation simulate", id=automation_id)
    assert "would have fired 1 time, hitting 1 member" in (simulated.content or "")
    assert env.bob.timed_out_until is None  # off: nothing happened to bob

    toggled = await env.owner.slash("automation toggle", id=automation_id)
    assert "now **on**" in (toggled.content or "")
    listed = await env.owner.slash("automation list")
    assert automation_id in listed.text and "**on**" in listed.text

    await env.mod.slash("warn", member=env.alice, title="first")
    assert env.alice.timed_out_until is None
    second = await env.mod.slash("warn", member=env.alice, title="second")
    assert "Automation: Two strikes" in second.text

    async def timed_out() -> bool:
        return await ModCase.filter(user_id=env.alice.id, type=CaseType.TIMEOUT).exists()

    await eventually(timed_out, "the automation's timeout case")
    await env.settle()
    assert env.alice.timed_out_until is not None
    case = await ModCase.get(user_id=env.alice.id, type=CaseType.TIMEOUT)
    assert case.metadata["automation_id"] == automation_id
    assert case.moderator_id == env.bot_member.id  # type: ignore[attr-defined]
    # The notice follows the case from the scheduler's task, which settle() does not wait for.
    async def noticed() -> bool:
        return any("Automation fired" in m.text for m in logs.bot_messages)

    await eventually(noticed, "the automation's notice")
    [notice] = [m for m in logs.bot_messages if "Automation fired" in m.text]
    assert "Two strikes" in notice.text and env.alice.mention in notice.text
    assert "done (case #" in notice.text

    # A third warning is above the threshold already: no second firing.
    await env.mod.slash("warn", member=env.alice, title="third")
    await env.settle()
    rule = await WarningAutomation.get(automation_id=automation_id)
    assert rule.trigger_count == 1
    assert await ModCase.filter(user_id=env.alice.id, type=CaseType.TIMEOUT).count() == 1

    prompt = await env.owner.slash("automation remove", id=automation_id)
    done = await env.owner.click(prompt, label="Delete")
    assert "deleted" in (done.content or "")
    assert not await WarningAutomation.exists(automation_id=automation_id)
    actions = set(await AuditLog.all().values_list("action", flat=True))
    assert {"automation.add", "automation.toggle", "automation.remove"} <= actions


async def test_automation_role_and_message_actions(discord_env: DiscordEnv) -> None:
    env = discord_env
    watched = await env.guild.create_role("Watched")
    await env.settle()
    await env.owner.slash(
        "automation add",
        name="Watch",
        trigger="level_total",
        value=3,
        action="role",
        role=watched,
        enabled=True,
    )
    await env.owner.slash(
        "automation add",
        name="Tell",
        trigger="level_total",
        value=3,
        action="message",
        message="Please read the rules.",
        enabled=True,
    )

    await env.mod.slash("warn", member=env.carol, title="big", level=3)

    async def watched_given() -> bool:
        return env.carol.has_role("Watched") and any(
            "Please read the rules." in m.text for m in env.server.dms(env.carol)
        )

    await eventually(watched_given, "the role and the message")
    assert await ModCase.filter(user_id=env.carol.id).count() == 1  # only the warning's case


async def test_automation_refusals(discord_env: DiscordEnv) -> None:
    env = discord_env
    no_duration = await env.owner.slash(
        "automation add", name="x", trigger="warn_count", value=2, action="timeout"
    )
    no_role = await env.owner.slash(
        "automation add", name="x", trigger="warn_count", value=2, action="role"
    )
    top = await env.guild.create_role("Top", position=10)
    await env.settle()
    too_high = await env.owner.slash(
        "automation add", name="x", trigger="warn_count", value=2, action="role", role=top
    )
    unknown = await env.owner.slash("automation toggle", id="A-ZZZZZ")

    assert "needs a duration" in (no_duration.content or "")
    assert "needs the role" in (no_role.content or "")
    assert "above my highest role" in (too_high.content or "")
    assert "no automation `A-ZZZZZ`" in (unknown.content or "")
    assert await WarningAutomation.all().count() == 0


async def test_a_warning_with_an_expiry_lapses_by_itself(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.mod.slash("warn", member=env.alice, title="Minor", expires="1s")
    warn_id = WARN_ID.search(reply.text).group(0)  # type: ignore[union-attr]
    assert "Expires" in reply.text

    async def lapsed() -> bool:
        return not (await MemberWarning.get(warn_id=warn_id)).active

    await eventually(lapsed, "the warning's expiry")
    history = await env.mod.slash("warning history", warn_id=warn_id)
    assert "Expire" in history.text and "expired" in history.text
    listed = await env.mod.slash("warnings", member=env.alice)
    assert "0 active" in listed.text


async def test_kick_automation_records_its_own_case(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash(
        "automation add",
        name="Out",
        trigger="level_total",
        value=5,
        action="kick",
        enabled=True,
        notify_channel=env.channel("logs"),
    )

    await env.mod.slash("warn", member=env.bob, title="severe", level=5)

    async def kicked() -> bool:
        return await ModCase.filter(user_id=env.bob.id, type=CaseType.KICK).exists()

    await eventually(kicked, "the automation's kick case")
    await env.settle()
    assert not env.bob.in_guild and env.guild.kicked == [env.bob.user]
    case = await ModCase.get(user_id=env.bob.id, type=CaseType.KICK)
    assert case.metadata["automation_name"] == "Out"
    assert "Automation “Out”" in (case.reason or "")
    assert any("kicked" in m.text for m in env.server.dms(env.bob))


async def test_automation_refuses_a_notify_channel_the_bot_cannot_post_in(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    bot_role = env.guild.role("Pegasus")
    hidden = await env.guild.create_text_channel(
        "staff-only",
        overwrites=[env.guild.overwrite_for(bot_role, deny=["send_messages"])],
    )
    await env.settle()

    reply = await env.owner.slash(
        "automation add",
        name="Two strikes",
        trigger="warn_count",
        value=2,
        action="kick",
        notify_channel=hidden,
    )

    assert reply.ephemeral
    assert reply.content == (
        f"I can't post the rule's reports in {hidden.mention}: "
        "I need Send Messages and Embed Links there."
    )
    assert await WarningAutomation.all().count() == 0
