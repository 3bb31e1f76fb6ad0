"""/case, /cases, /reason and /modlog through the local Discord."""

from __future__ import annotations

import pytest

from models.moderation import ModCase, ModerationSettings
from models.security import AuditLog
from pegasus.localdiscord import Overwrite, Permissions
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))


async def test_modlog_setting(discord_env: DiscordEnv) -> None:
    env = discord_env
    logs = env.channel("logs")

    reply = await env.owner.slash("modlog", channel=logs)

    assert reply.ephemeral and logs.mention in (reply.content or "")
    assert (await ModerationSettings.get(guild_id=env.guild.id)).modlog_channel_id == logs.id
    audit = await AuditLog.get(action="modlog.set")
    assert audit.after == {"modlog_channel_id": logs.id}
    off = await env.owner.slash("modlog")
    assert "no longer" in (off.content or "")
    await env.mod.slash("kick", member=env.bob)
    await env.settle()
    assert logs.bot_messages == []  # turned off: nothing posted


async def test_modlog_refuses_a_channel_the_bot_cannot_post_in(discord_env: DiscordEnv) -> None:
    env = discord_env
    bot_role = env.guild.role("Pegasus")
    hidden = await env.guild.create_text_channel(
        "hidden", overwrites=[Overwrite(bot_role.id, 0, 0, int(Permissions.of("view_channel")))]
    )
    await env.settle()

    reply = await env.owner.slash("modlog", channel=hidden)

    assert reply.ephemeral and "I can't post in" in (reply.content or "")
    assert (await ModerationSettings.get(guild_id=env.guild.id)).modlog_channel_id is None


async def test_case_cases_and_reason(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("modlog", channel=env.channel("logs"))
    await env.mod.slash("warn", member=env.alice, title="one")
    await env.mod.slash("timeout", member=env.alice, duration="5m", reason="two")
    await env.mod.slash("kick", member=env.bob, reason="three")

    shown = await env.mod.slash("case", number=2)
    assert shown.ephemeral
    assert shown.embed["title"] == "Case #2 · Timeout"
    assert "5m" in shown.text and "two" in shown.text

    listed = await env.mod.slash("cases", member=env.alice)
    assert "#2 · Timeout" in listed.text and "#1 · Warn" in listed.text
    assert "#3" not in listed.text
    assert "Page 1 of 1 · 2 cases" in listed.text

    amended = await env.mod.slash("reason", case_number=3, reason="three, and rude")
    assert amended.ephemeral and "three, and rude" in (amended.content or "")
    await env.settle()
    case = await ModCase.get(guild_id=env.guild.id, case_number=3)
    assert case.reason == "three, and rude"
    assert case.reason_edited_by_id == env.mod.id  # type: ignore[attr-defined]
    # The modlog post of case 3 was edited to the new reason.
    post = next(m for m in env.channel("logs").bot_messages if m.id == case.modlog_message_id)
    assert "three, and rude" in post.text and post.edits


async def test_case_lookups_that_find_nothing(discord_env: DiscordEnv) -> None:
    env = discord_env
    missing = await env.mod.slash("case", number=7)
    empty = await env.mod.slash("cases", member=env.carol)
    beyond = await env.mod.slash("reason", case_number=9, reason="x")

    assert missing.ephemeral and "no case #7" in (missing.content or "")
    assert "has no cases" in empty.text
    assert beyond.ephemeral and "no case #9" in (beyond.content or "")


async def test_case_commands_need_moderators(discord_env: DiscordEnv) -> None:
    from pegasus.localdiscord import CommandUnavailable

    env = discord_env
    for command, options in [
        ("case", {"number": 1}),
        ("cases", {"member": env.bob}),
        ("reason", {"case_number": 1, "reason": "x"}),
    ]:
        with pytest.raises(CommandUnavailable):
            await env.alice.slash(command, **options)
    with pytest.raises(CommandUnavailable):
        await env.mod.slash("modlog", channel=env.channel("logs"))  # needs Manage Server


async def test_a_modlog_change_is_audited_once_with_before_and_after(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    logs = env.channel("logs")

    await env.owner.slash("modlog", channel=logs)
    again = await env.owner.slash("modlog", channel=logs)  # the same channel: nothing changes

    assert again.ephemeral and logs.mention in (again.content or "")
    [entry] = await AuditLog.filter(action="modlog.set")
    assert entry.before == {"modlog_channel_id": None}
    assert entry.after == {"modlog_channel_id": logs.id}
    assert entry.actor_id == env.owner.id  # type: ignore[attr-defined]
    assert entry.target_type == "moderation_settings"
