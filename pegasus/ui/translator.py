"""Command names, descriptions, options and choices in each member's language.

Discord shows a command in the language of the member's client when the command carries
`name_localizations` and `description_localizations`; discord.py fills them at sync from an
`app_commands.Translator`. This one reads the same gettext catalogs as every other text: names
under a context of their own (a command called "warn" and the English word are not the same
entry), descriptions as plain texts.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from pegasus.i18n import DEFAULT_LOCALE, gettext_in, pgettext_in, supported_locale
from pegasus.i18n.catalogs import (
    CHOICE_NAME,
    COMMAND_NAME,
    OPTION_NAME,
    SOURCE_ROOT,
    Entry,
    domain_of_file,
)

NAME_CONTEXTS = {
    Where.command_name: COMMAND_NAME,
    Where.group_name: COMMAND_NAME,
    Where.parameter_name: OPTION_NAME,
    Where.choice_name: CHOICE_NAME,
}


def context_of(location: Where) -> str | None:
    """The catalog context of a command tree text; None for descriptions."""
    return NAME_CONTEXTS.get(location)


# Discord's locales whose language Pegasus speaks (English is the source: nothing to send).
TRANSLATED_LOCALES = {
    locale: language
    for locale in discord.Locale
    if (language := supported_locale(locale.value)) not in (None, DEFAULT_LOCALE)
}

# (language, catalog context, English text) -> what the catalogs say, for this process.
_ANSWERS: dict[tuple[str, str | None, str], str] = {}


class PegasusTranslator(app_commands.Translator):
    """Looks command tree texts up in the catalogs of the member's language.

    discord.py asks for every text of the tree in each of Discord's 30-odd locales at every
    sync: the answers are kept for the process (the catalogs do not change while it runs), so a
    bot started again asks the catalogs nothing."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        language = TRANSLATED_LOCALES.get(locale)
        if language is None:
            return None
        key = (language, context_of(context.location), string.message)
        answer = _ANSWERS.get(key)
        if answer is None:
            answer = _ANSWERS[key] = _translated(*key)
        # Sent even where it is the English word ("Discord" is "Discord" in German too): the
        # catalogs' check makes sure every text was translated on purpose.
        return answer


# A command's untranslated sync payload (JSON) -> the same with every locale's texts (JSON).
_PAYLOADS: dict[str, str] = {}


async def translated_payload(
    tree: app_commands.CommandTree[Any], command: AnyCommand, translator: PegasusTranslator
) -> dict[str, Any]:
    """`command`'s sync payload with its names and descriptions in each of Discord's locales.

    discord.py builds it by awaiting the translator once per text and locale (some 30 locales
    times every name, description, option and choice: some 7,000 calls for the whole tree,
    about 20 ms of each bot start, and every test starts one). PegasusTranslator's answers
    depend only on each text and where it is in the command, and the untranslated payload
    holds both, so it keys the finished payload for the process: the first sync builds it,
    every later bot of the process reuses it."""
    key = json.dumps(command.to_dict(tree), sort_keys=True)
    known = _PAYLOADS.get(key)
    if known is None:
        payload = await command.get_translated_payload(tree, translator)
        known = _PAYLOADS[key] = json.dumps(payload)
    return json.loads(known)  # type: ignore[no-any-return]  # a fresh copy for each sync


def _translated(language: str, catalog_context: str | None, text: str) -> str:
    if catalog_context is None:
        return gettext_in(language, text)
    return pgettext_in(language, catalog_context, text)


@dataclass(frozen=True, slots=True)
class TreeText:
    """One text of the command tree, with the top-level command it belongs to."""

    location: Where
    text: str
    command: str


class _Recorder(app_commands.Translator):
    """Notes every text discord.py would have translated while building the sync payload."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.texts: list[TreeText] = []

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale is discord.Locale.german:  # once per text, not once per locale
            self.texts.append(TreeText(context.location, string.message, self.command))
        return None


AnyCommand = app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu


async def tree_texts(tree: app_commands.CommandTree[Any], command: AnyCommand) -> list[TreeText]:
    """Every text of `command` (its subcommands, options, choices) as the sync sends them."""
    recorder = _Recorder(getattr(command, "qualified_name", command.name))
    await command.get_translated_payload(tree, recorder)
    return recorder.texts


def module_file(command: AnyCommand) -> Path | None:
    """The source file that declares `command` (a group: the one of its first subcommand)."""
    callback = getattr(command, "callback", None)
    module = getattr(callback, "__module__", None) if callback is not None else None
    if module is None and isinstance(command, app_commands.Group):
        for child in command.walk_commands():
            return module_file(child)
    if module is None:
        module = getattr(command, "module", None)
    loaded = sys.modules.get(module or "")
    path = getattr(loaded, "__file__", None)
    return Path(path) if path else None


async def command_entries(tree: app_commands.CommandTree[Any]) -> dict[str, list[Entry]]:
    """The command tree's texts by catalog domain, as `python -m pegasus i18n extract` adds
    them to the templates."""
    by_domain: dict[str, list[Entry]] = {}
    commands: list[AnyCommand] = [*tree.get_commands()]
    for kind in (discord.AppCommandType.user, discord.AppCommandType.message):
        commands.extend(c for c in tree.get_commands(type=kind) if c not in commands)
    for command in commands:
        path = module_file(command)
        domain = domain_of_file(path) if path else None
        if domain is None:
            problem = f"/{command.name}: its module is in no catalog domain"  # for developers
            raise LookupError(problem)
        where = (path.resolve().relative_to(SOURCE_ROOT).as_posix(), 0) if path else ("?", 0)
        for text in await tree_texts(tree, command):
            comment = f"/{text.command}: {text.location.name.replace('_', ' ')}"
            entry = Entry(text.text, context_of(text.location), where, (comment,))
            by_domain.setdefault(domain, []).append(entry)
    return by_domain
