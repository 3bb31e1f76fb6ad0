"""Who may use each moderation command: Discord hides every one from plain members, and the bot
checks the permission again when a command arrives anyway (a server can override the default)."""

from __future__ import annotations

from typing import Any

import pytest
from discord import app_commands

from models.moderation import MemberWarning, ModCase, WarningAutomation
from models.security import AuditLog, Blacklist
from pegasus.localdiscord import CommandUnavailable
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))


def every_command(env: DiscordEnv) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each moderation command: the permission named in its refusal, and valid options."""
    return {
        "warn": ("Timeout Members", {"member": env.bob, "title": "x"}),
        "warnings": ("Timeout Members", {"member": env.bob}),
        "warning edit": ("Timeout Members", {"warn_id": "W-ZZZZZ", "level": 2}),
        "warning remove": ("Timeout Members", {"warn_id": "W-ZZZZZ"}),
        "warning history": ("Timeout Members", {"warn_id": "W-ZZZZZ"}),
        "warning purge": ("Timeout Members", {"member": env.bob, "reason": "clean slate"}),
        "kick": ("Kick Members", {"member": env.bob}),
        "ban": ("Ban Members", {"user": env.bob, "duration": "1h"}),
        "unban": ("Ban Members", {"user": env.bob}),
        "timeout": ("Timeout Members", {"member": env.bob, "duration": "1m"}),
        "untimeout": ("Timeout Members", {"member": env.bob}),
        "mute": ("Timeout Members", {"member": env.bob}),
        "unmute": ("Timeout Members", {"member": env.bob}),
        "purge": ("Manage Messages", {"count": 2}),
        "case": ("Timeout Members", {"number": 1}),
        "cases": ("Timeout Members", {"member": env.bob}),
        "reason": ("Timeout Members", {"case_number": 1, "reason": "x"}),
        "automation add": (
            "Manage Server",
            {"name": "x", "trigger": "warn_count", "value": 2, "action": "kick"},
        ),
        "automation list": ("Manage Server", {}),
        "automation remove": ("Manage Server", {"id": "A-ZZZZZ"}),
        "automation toggle": ("Manage Server", {"id": "A-ZZZZZ"}),
        "automation simulate": ("Manage Server", {"id": "A-ZZZZZ"}),
        "blacklist add": ("Manage Server", {"kind": "user", "target": "1", "reason": "x"}),
        "blacklist remove": ("Manage Server", {"kind": "user", "target": "1"}),
        "blacklist list": ("Manage Server", {}),
        "modlog": ("Manage Server", {"channel": env.channel("logs")}),
    }


def moderation_command_names(env: DiscordEnv) -> set[str]:
    """The qualified names of every slash command the moderation cogs registered."""
    names: set[str] = set()
    for command in env.bot.tree.get_commands():
        if not (command.module or "").startswith("cogs.moderation"):
            continue
        if isinstance(command, app_commands.Group):
            names |= {sub.qualified_name for sub in command.walk_commands()}
        else:
            names.add(command.qualified_name)
    return names


async def nothing_changed() -> bool:
    return not (
        await ModCase.exists()
        or await MemberWarning.exists()
        or await WarningAutomation.exists()
        or await Blacklist.exists()
        or await AuditLog.exists()
    )


async def test_the_table_covers_every_moderation_command(discord_env: DiscordEnv) -> None:
    assert moderation_command_names(discord_env) == set(every_command(discord_env))


async def test_every_command_is_hidden_from_plain_members(discord_env: DiscordEnv) -> None:
    env = discord_env
    for command, (_, options) in every_command(env).items():
        top = env.server.global_commands[command.split()[0]]
        assert top["default_member_permissions"] not in (None, "0"), command
        with pytest.raises(CommandUnavailable):
            await env.alice.slash(command, **options)
    assert env.bob.in_guild and not env.guild.bans
    assert await nothing_changed()


async def test_every_command_checks_the_permission_again_when_it_runs(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    # A server admin lets everyone see every command (Integrations → command permissions).
    for spec in env.server.global_commands_by_name.values():
        spec["default_member_permissions"] = None

    for command, (permission, options) in every_command(env).items():
        reply = await env.alice.slash(command, **options)
        assert reply.ephemeral, command
        assert reply.content == f"You need the {permission} permission to use /{command}.", command

    assert env.bob.in_guild and not env.guild.bans and not env.bob.has_role("Muted")
    assert env.bob.timed_out_until is None
    assert await nothing_changed()
