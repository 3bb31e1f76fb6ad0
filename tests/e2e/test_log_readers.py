"""Reading the logs in Discord (`/audit`, `/security log`: filtered, paged) and `/warning purge`,
through the local Discord."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from models.moderation import CaseType, MemberWarning, WarningEdit, WarningEditKind
from models.security import AuditLog
from pegasus.localdiscord import FakeMember
from pegasus.localdiscord.actions import CommandUnavailable
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import moderation

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.community", "cogs.moderation", "cogs.security", "cogs.logs")
)

WARN_ID = re.compile(r"W-[0-9A-Z]{5}")
PAGE = re.compile(r"Page (\d+) of (\d+) · (\d+) (?:changes?|events?)")


def page_of(text: str) -> tuple[int, int, int]:
    found = PAGE.search(text)
    assert found, text
    page, pages, total = found.groups()
    return int(page), int(pages), int(total)


async def record(
    env: DiscordEnv, kind: CaseType, member: FakeMember, reason: str, now: datetime
) -> None:
    await moderation.record_action(
        guild_id=env.guild.id,
        case_type=kind,
        user_id=member.id,
        moderator_id=env.mod.id,
        reason=reason,
        now=now,
    )


async def warn(by: FakeMember, member: FakeMember, title: str) -> str:
    reply = await by.slash("warn", member=member, title=title)
    assert "was warned" in reply.text, reply.text
    return WARN_ID.search(reply.text).group(0)  # type: ignore[union-attr]


# -- /audit -----------------------------------------------------------------------------------


async def test_audit_shows_who_changed_what_filters_and_pages(env: DiscordEnv) -> None:
    dana = await env.guild.add_member("dana", roles=["Admin"])
    await env.settle()
    general, logs = env.channel("general"), env.channel("logs")
    await env.owner.slash("welcome set", channel=general)
    await env.owner.slash("goodbye set", channel=general)
    await env.owner.slash("logging set", channel=logs)
    await env.owner.slash("modlog", channel=logs)
    await env.owner.slash("logging off", category="voice")
    await dana.slash("logging off", category="server")
    await dana.slash("welcome set", channel=general, message="Hi {user}!")
    assert await AuditLog.filter(guild_id=env.guild.id).count() == 7

    # Commands are rate limited per person: dana reads what the owner mostly wrote.
    first = await dana.slash("audit")
    assert first.ephemeral
    assert page_of(first.text) == (1, 2, 7)
    # Newest first: dana's welcome message, with the value before and after.
    assert first.text.index("Hi {user}!") < first.text.index("logging.category")
    assert f"{dana.mention} · **community**" in first.text
    second = await dana.click(first, label="Next ▶")
    assert page_of(second.text) == (2, 2, 7)
    assert f"`welcome_channel_id`: not set → {general.mention}" in second.text
    assert env.owner.mention in second.text

    by_dana = await dana.slash("audit", member=dana)
    assert page_of(by_dana.text) == (1, 1, 2)
    assert env.owner.mention not in by_dana.text

    moderation = await dana.slash("audit", feature="moderation")
    assert page_of(moderation.text) == (1, 1, 1)
    assert f"`modlog_channel_id`: not set → {logs.mention}" in moderation.text
    community = await dana.slash("audit", feature="community")
    assert page_of(community.text)[2] == 6

    with pytest.raises(CommandUnavailable):
        await env.alice.slash("audit")


# -- /security log ----------------------------------------------------------------------------


async def test_security_log_shows_events_filters_and_pages(env: DiscordEnv) -> None:
    # Cases as the moderation commands record them (each writes a security event).
    start = datetime.now(UTC)
    for i, (member, reason) in enumerate(
        [*((env.alice, f"Spam {i}") for i in range(6)), *((env.bob, f"Rude {i}") for i in range(3))]
    ):
        await record(env, CaseType.WARN, member, reason, start + timedelta(seconds=i))
    await record(env, CaseType.KICK, env.carol, "trouble", start + timedelta(seconds=10))

    shown = await env.owner.slash("security log")
    assert shown.ephemeral and page_of(shown.text) == (1, 2, 10)
    assert "`moderation.kick` · high" in shown.text  # newest first
    later = await env.owner.click(shown, label="Next ▶")
    assert page_of(later.text) == (2, 2, 10)
    assert "Spam 0" in later.text
    back = await env.owner.click(later, label="◀ Previous")
    assert page_of(back.text) == (1, 2, 10)

    # The page buttons carry their page and filters: they work after a restart.
    await env.restart_bot()
    again = await env.owner.click(back, label="Next ▶")
    assert page_of(again.text) == (2, 2, 10) and "Spam 0" in again.text

    about_bob = await env.owner.slash("security log", member=env.bob)
    assert page_of(about_bob.text) == (1, 1, 3)
    assert "Rude 2" in about_bob.text and "Spam" not in about_bob.text
    assert f"Only about {env.bob.mention}" in about_bob.text
    high = await env.owner.slash("security log", severity="high")
    assert page_of(high.text) == (1, 1, 1) and "moderation.kick" in high.text
    warns = await env.owner.slash("security log", event="moderation.warn")
    assert page_of(warns.text) == (1, 2, 9)
    family = await env.owner.slash("security log", event="moderation.*")
    assert page_of(family.text) == (1, 2, 10)
    bad = await env.owner.slash("security log", event="no such event!")
    assert bad.ephemeral and "Filter by a name" in bad.text

    with pytest.raises(CommandUnavailable):  # Moderate Members is not Manage Server
        await env.mod.slash("security log")


# -- /warning purge ---------------------------------------------------------------------------


async def test_warning_purge_clears_only_that_members_active_warnings(env: DiscordEnv) -> None:
    first = await warn(env.mod, env.alice, "Spam")
    second = await warn(env.mod, env.alice, "Spam again")
    removed = await warn(env.mod, env.alice, "Old")
    await env.mod.slash("warning remove", warn_id=removed, reason="was a mistake")
    bobs = await warn(env.owner, env.bob, "Rude")

    prompt = await env.mod.slash("warning purge", member=env.alice, reason="fresh start")
    assert prompt.ephemeral and "Clear 2 active warnings" in (prompt.content or "")
    assert (await MemberWarning.get(warn_id=first)).active  # nothing before confirming
    done = await env.mod.click(prompt, label="Clear")
    assert "Cleared 2 active warnings" in (done.content or "")

    for warn_id in (first, second):
        cleared = await MemberWarning.get(warn_id=warn_id)
        assert not cleared.active and cleared.removed_reason == "fresh start"
        edit = await WarningEdit.get(warning_id=cleared.id, kind=WarningEditKind.REMOVE)
        assert edit.reason == "fresh start"
    old = await MemberWarning.get(warn_id=removed)
    assert old.removed_reason == "was a mistake"  # already inactive: untouched
    assert (await MemberWarning.get(warn_id=bobs)).active  # another member's
    [audit] = await AuditLog.filter(action="warning.purge")
    assert audit.actor_id == env.mod.id  # type: ignore[attr-defined]
    assert audit.target_id == str(env.alice.id)
    assert sorted(audit.before["active_warnings"]) == sorted([first, second])
    assert audit.after == {"active_warnings": [], "reason": "fresh start"}
    history = await env.mod.slash("warning history", warn_id=first)
    assert "fresh start" in history.text

    again = await env.mod.slash("warning purge", member=env.alice, reason="again")
    assert again.ephemeral and "has no active warnings" in again.text


async def test_a_warning_given_while_the_purge_waits_is_not_cleared(env: DiscordEnv) -> None:
    listed = await warn(env.mod, env.alice, "Spam")
    prompt = await env.mod.slash("warning purge", member=env.alice, reason="fresh start")
    assert "Clear 1 active warning of" in (prompt.content or "")
    later = await warn(env.owner, env.alice, "Spam while you were asking")
    done = await env.mod.click(prompt, label="Clear")
    assert f"Cleared 1 active warning of {env.alice.mention}: `{listed}`" in (done.content or "")
    assert not (await MemberWarning.get(warn_id=listed)).active
    assert (await MemberWarning.get(warn_id=later)).active  # not what the moderator confirmed


async def test_warning_purge_is_refused_for_someone_above_the_moderator(env: DiscordEnv) -> None:
    senior_role = await env.guild.create_role(
        "Senior", permissions=["moderate_members", "kick_members"], position=2
    )
    senior = await env.guild.add_member("senior", roles=[senior_role])
    await env.settle()
    warn_id = await warn(env.owner, senior, "Late again")

    refused = await env.mod.slash("warning purge", member=senior, reason="be nice")
    assert refused.ephemeral and "their highest role is not below yours" in refused.text
    assert (await MemberWarning.get(warn_id=warn_id)).active
    assert await AuditLog.filter(action="warning.purge").count() == 0


async def test_warning_purge_cancelled_changes_nothing(env: DiscordEnv) -> None:
    warn_id = await warn(env.mod, env.alice, "Spam")
    prompt = await env.mod.slash("warning purge", member=env.alice, reason="never mind")
    cancelled = await env.mod.click(prompt, label="Cancel")
    assert "nothing was changed" in (cancelled.content or "")
    assert (await MemberWarning.get(warn_id=warn_id)).active


@pytest.fixture
def env(discord_env: DiscordEnv) -> DiscordEnv:
    return discord_env
