"""The commands as Discord receives them at sync: every command, subcommand, option and choice
carries German, Spanish and French names and descriptions that Discord accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import discord
import pytest

from pegasus.bot import EXTENSIONS
from pegasus.localdiscord.env import DiscordEnv
from pegasus.ui.translator import PegasusTranslator, translated_payload

pytestmark = pytest.mark.discord_env(extensions=EXTENSIONS)

# Discord's locales for the languages Pegasus speaks (Spanish has two).
LOCALES = ("de", "es-ES", "es-419", "fr")
SLASH_NAME = re.compile(r"^[-_\w]{1,32}$")
SUBCOMMANDS = (1, 2)


def synced(env: DiscordEnv) -> list[dict[str, Any]]:
    commands = [*env.server.global_commands_by_name.values()]
    commands.extend(env.server.guild_commands_by_id.get(env.guild.id, {}).values())
    return commands


def levels(command: dict[str, Any], path: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each level of a command's tree: (where, the options or subcommands at that level)."""
    options = command.get("options") or []
    yield path, options
    for option in options:
        if option.get("type") in SUBCOMMANDS:
            yield from levels(option, f"{path} {option['name']}")


def name_problems(item: dict[str, Any], where: str, *, slash: bool) -> list[str]:
    found = []
    names = item.get("name_localizations") or {}
    descriptions = item.get("description_localizations") or {}
    for locale in LOCALES:
        name = names.get(locale)
        if not name:
            found.append(f"{where}: no {locale} name")
        elif slash and (not SLASH_NAME.match(name) or name != name.lower()):
            found.append(f"{where}: {locale} name {name!r} is not a valid slash name")
        elif not 1 <= len(name) <= 32:
            found.append(f"{where}: {locale} name {name!r} is longer than 32")
        if slash:
            description = descriptions.get(locale)
            if not description or not 1 <= len(description) <= 100:
                found.append(f"{where}: {locale} description {description!r}")
    return found


def duplicate_names(items: list[dict[str, Any]], where: str) -> list[str]:
    found = []
    for locale in LOCALES:
        names = [(i.get("name_localizations") or {}).get(locale, i["name"]) for i in items]
        found.extend(
            f"{where}: {locale} name {name!r} is used twice"
            for name in {n for n in names if names.count(n) > 1}
        )
    return found


def command_problems(command: dict[str, Any]) -> list[str]:
    slash = command.get("type", 1) == 1
    where = f"/{command['name']}"
    found = name_problems(command, where, slash=slash)
    for level, options in levels(command, where):
        found.extend(duplicate_names(options, level))
        for option in options:
            found.extend(name_problems(option, f"{level} {option['name']}", slash=True))
            for choice in option.get("choices") or []:
                choices = choice.get("name_localizations") or {}
                found.extend(
                    f"{level} {option['name']} choice {choice['name']!r}: no {locale} name"
                    for locale in LOCALES
                    if not 1 <= len(choices.get(locale) or "") <= 100
                )
    return found


async def test_every_command_is_synced_in_german_spanish_and_french(
    discord_env: DiscordEnv,
) -> None:
    commands = synced(discord_env)
    assert len(commands) > 50
    found = [problem for command in commands for problem in command_problems(command)]
    for kind in (1, 2, 3):
        found.extend(
            duplicate_names([c for c in commands if c.get("type", 1) == kind], f"type {kind}")
        )
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found[:60])


def test_the_check_finds_a_bad_translation() -> None:
    command = {
        "name": "pay",
        "type": 1,
        "name_localizations": {"de": "Bezahlen", "es-ES": "pagar", "es-419": "pagar"},
        "description_localizations": dict.fromkeys(LOCALES, "x"),
        "options": [
            {
                "name": "member",
                "type": 6,
                "name_localizations": dict.fromkeys(LOCALES, "a"),
                "description_localizations": dict.fromkeys(LOCALES, "x"),
            },
            {
                "name": "amount",
                "type": 3,
                "name_localizations": dict.fromkeys(LOCALES, "a"),
                "description_localizations": dict.fromkeys(LOCALES, "x"),
            },
        ],
    }
    found = "\n".join(command_problems(command))
    assert "de name 'Bezahlen' is not a valid slash name" in found
    assert "no fr name" in found
    assert "name 'a' is used twice" in found


async def test_the_payload_kept_for_the_process_is_discord_pys_own(discord_env: DiscordEnv) -> None:
    # Every test's bot syncs the tree again: the kept payload must be what discord.py would
    # build from the translator at that sync, and each sync gets its own copy.
    tree = discord_env.bot.tree
    translator = tree.translator
    assert isinstance(translator, PegasusTranslator)
    commands = [
        *tree.get_commands(),
        *tree.get_commands(type=discord.AppCommandType.user),
        *tree.get_commands(type=discord.AppCommandType.message),
    ]
    for command in commands:
        built = await command.get_translated_payload(tree, translator)
        kept = await translated_payload(tree, command, translator)
        assert kept == built, command.name
        kept["name_localizations"].clear()
        assert await translated_payload(tree, command, translator) == built, command.name
