"""Level settings changed through the commands: each change is audited with before and after."""

from __future__ import annotations

import pytest

from models.security import AuditLog
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))


async def test_levels_set_writes_one_audit_row_per_table_with_before_and_after(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    reply = await env.owner.slash("levels set", xp_min=5, rate=150, voice_min_members=3)
    assert reply.ephemeral and "updated" in reply.text, reply.text
    rows = await AuditLog.filter(guild_id=env.guild.id).order_by("created_at")
    assert [(row.action, row.target_type, row.before, row.after) for row in rows] == [
        ("levels.settings", "guild_settings", {"xp_min": 15, "xp_rate": 100},
         {"xp_min": 5, "xp_rate": 150}),
        ("levels.settings", "xp_settings", {"voice_min_members": 2}, {"voice_min_members": 3}),
    ]
    assert {row.actor_id for row in rows} == {env.owner.id}  # type: ignore[attr-defined]


async def test_channel_kinds_and_ignored_roles_are_audited(discord_env: DiscordEnv) -> None:
    env = discord_env
    general = env.channel("general")
    await env.owner.slash("levels channel", channel=general, kind="double-xp")
    muted = await env.guild.create_role("No XP")
    await env.owner.slash("levels ignore-role", role=muted)
    await env.owner.slash("levels reward-mode", mode="replace")
    rows = await AuditLog.filter(guild_id=env.guild.id).order_by("created_at")
    assert [(row.action, row.before, row.after) for row in rows] == [
        ("levels.channel", {"double_xp_channels": []}, {"double_xp_channels": [general.id]}),
        ("levels.ignore_role", {"ignored_roles": []}, {"ignored_roles": [muted.id]}),
        ("levels.settings", {"reward_mode": "stack"}, {"reward_mode": "replace"}),
    ]


async def test_a_refused_change_is_one_sentence_and_stores_nothing(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    refused = await env.owner.slash("levels set", xp_min=30, voice_min_members=3)
    assert refused.ephemeral and refused.text == "The minimum XP per message is above the maximum."
    assert not await AuditLog.exists()
