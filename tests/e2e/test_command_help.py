"""Every slash command of every extension has help text on itself and on each option, and the
names are unique: what members see in Discord's command picker."""

from __future__ import annotations

from discord import app_commands

from pegasus.localdiscord.env import DiscordEnv

PLACEHOLDER = "…"  # discord.py's description when none was written


def all_commands(env: DiscordEnv) -> list[app_commands.Command | app_commands.Group]:
    return list(env.bot.tree.walk_commands())


async def test_every_command_and_option_has_help_text(discord_env: DiscordEnv) -> None:
    missing = []
    for command in all_commands(discord_env):
        if not command.description or command.description == PLACEHOLDER:
            missing.append(f"/{command.qualified_name}")
        if isinstance(command, app_commands.Command):
            for parameter in command.parameters:
                if not parameter.description or parameter.description == PLACEHOLDER:
                    missing.append(f"/{command.qualified_name} {parameter.name}")
    assert not missing, f"without help text: {missing}"


async def test_every_extension_registers_commands_with_unique_names(
    discord_env: DiscordEnv,
) -> None:
    names = [c.name for c in discord_env.bot.tree.get_commands()]
    assert len(names) == len(set(names)), sorted(names)
    assert len(all_commands(discord_env)) >= 20


async def test_help_overview_lists_every_command(discord_env: DiscordEnv) -> None:
    reply = await discord_env.alice.slash("help")
    missing = [
        c.name for c in discord_env.bot.tree.get_commands() if f"`/{c.name}`" not in reply.text
    ]
    assert not missing, f"/help does not show {missing}"
