"""`python -m pegasus i18n`: keep the language catalogs in step with the source (Babel).

extract          write each domain's template (.pot) from the source and the command tree,
                 and bring every language's catalog up to it (new texts untranslated)
check            list what any catalog lacks (missing, untranslated, fuzzy, placeholders)
init LOCALE      start a new language: its catalogs, from the templates
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from pegasus.i18n.catalogs import (
    DOMAINS,
    TRANSLATED_LOCALES,
    Entry,
    build_template,
    problems,
    source_entries,
    template_path,
    update_catalog,
    write_catalog,
)


def add_i18n_parser(sub: Any) -> None:
    i18n = sub.add_parser("i18n", help="Language catalogs: extract texts, check translations.")
    i18n_sub = i18n.add_subparsers(dest="command", required=True)
    extract_parser = i18n_sub.add_parser(
        "extract", help="Write the templates from the source and update every catalog."
    )
    check_parser = i18n_sub.add_parser(
        "check", help="Fail when a catalog lacks a text or gets one wrong."
    )
    for command in (extract_parser, check_parser):
        command.add_argument(
            "--domain", choices=list(DOMAINS), help="Only this domain (default: all of them)"
        )


async def _command_entries() -> dict[str, list[Entry]]:
    """The command tree's texts: the extensions loaded into a bot that never connects, over an
    in-memory database (some cogs read it while loading)."""
    from tortoise import Tortoise
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    from pegasus.bot import EXTENSIONS, Pegasus
    from pegasus.config import Settings
    from pegasus.db import tortoise_config
    from pegasus.ui.translator import command_entries

    # Tortoise keeps each table's prepared INSERT by connection name, not by dialect: the
    # in-memory SQLite's must not outlive it, or a PostgreSQL "default" opened later in this
    # process (the test suite's) would send SQLite's statements.
    prepared = dict(EXECUTOR_CACHE)
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config("sqlite://:memory:"))
    try:
        await Tortoise.generate_schemas()
        bot = Pegasus(Settings(discord_token="extract"))
        for name in EXTENSIONS:
            await bot.load_extension(name)
        try:
            return await command_entries(bot.tree)
        finally:
            for name in EXTENSIONS:
                await bot.unload_extension(name)
    finally:
        await Tortoise.close_connections()
        EXECUTOR_CACHE.clear()
        EXECUTOR_CACHE.update(prepared)


def templates() -> dict[str, Any]:
    commands = asyncio.run(_command_entries())
    built = {}
    for domain in DOMAINS:
        entries = [*source_entries(domain), *commands.get(domain, [])]
        built[domain] = build_template(domain, entries)
    return built


def extract(domain_name: str | None = None) -> int:
    for domain, template in templates().items():
        if domain_name not in (None, domain):
            continue
        write_catalog(template_path(domain), template)
        for locale in TRANSLATED_LOCALES:
            update_catalog(locale, domain, template)
        print(f"{domain}: {len(template)} texts")
    return 0


def check(domain_name: str | None = None) -> int:
    found = [
        problem
        for domain, template in templates().items()
        if domain_name in (None, domain)
        for locale in TRANSLATED_LOCALES
        for problem in problems(locale, domain, template)
    ]
    for problem in found:
        print(problem)
    print(f"{len(found)} problem(s)", file=sys.stderr)
    return 1 if found else 0


def run_i18n_command(args: argparse.Namespace) -> int:
    if args.command == "extract":
        return extract(args.domain)
    return check(args.domain)
