"""The catalogs: which source files each domain's messages come from, extracting them (Babel),
updating each language's catalog, and finding what a catalog lacks.

One domain per feature, so each feature's texts and translations live together. The command
tree's names and descriptions (which only exist once the cogs are loaded) are extracted by
`python -m pegasus i18n extract` and added to the domain of the module that declares them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po, write_po

from pegasus.i18n import CATALOG_DIR, DEFAULT_LOCALE, LANGUAGES

SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent

# Each domain: the source files whose texts it holds (globs relative to the source root). A
# file belongs to the first domain that names it.
DOMAINS: dict[str, tuple[str, ...]] = {
    "economy": ("cogs/economy/*.py", "pegasus/services/economy/*.py"),
    "levels": ("cogs/levels/*.py", "pegasus/services/levels/*.py"),
    "moderation": (
        "cogs/moderation/*.py",
        "cogs/logs/*.py",
        "pegasus/services/moderation/*.py",
        "pegasus/services/log_readers.py",
        "pegasus/ui/logreaders.py",
        "pegasus/ui/logpost.py",
    ),
    "safety": (
        "cogs/automod.py",
        "cogs/raid_response.py",
        "cogs/security.py",
        "pegasus/services/automod/*.py",
        "pegasus/services/raids/*.py",
        "pegasus/services/security/*.py",
    ),
    "tickets": ("cogs/tickets/*.py", "pegasus/services/tickets/*.py"),
    "giveaways": ("cogs/giveaways/*.py", "pegasus/services/giveaways/*.py"),
    "community": (
        "cogs/community.py",
        "cogs/role_menus.py",
        "pegasus/services/community/*.py",
        "pegasus/services/rolemenus/*.py",
        "pegasus/services/role_delegations.py",
    ),
    "web": (
        "pegasus/web/dashboard/*.py",
        "pegasus/web/dashboard/templates/*.html",
        "pegasus/web/*.py",
        "pegasus/services/dashboard/*.py",
    ),
    "core": (
        "cogs/core.py",
        "cogs/language.py",
        "cogs/privacy.py",
        "cogs/retention.py",
        "cogs/public_pages.py",
        "pegasus/tree.py",
        "pegasus/errors.py",
        "pegasus/outage.py",
        "pegasus/bot.py",
        "pegasus/ui/*.py",
        "pegasus/services/*.py",
        "pegasus/services/attachments/*.py",
        "pegasus/services/retention/*.py",
        "pegasus/services/stats/*.py",
    ),
}

KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
COMMENT_TAGS = ("Translators:",)
PYTHON_METHOD = "python"
TEMPLATE_METHOD = "jinja2.ext:babel_extract"
# How a command tree entry is told apart from the same English word elsewhere.
COMMAND_NAME = "command name"
OPTION_NAME = "option name"
CHOICE_NAME = "choice"
TRANSLATED_LOCALES = tuple(locale for locale in LANGUAGES if locale != DEFAULT_LOCALE)


@dataclass(frozen=True, slots=True)
class Entry:
    """One text to translate: its message id, context and where it comes from."""

    message: str | tuple[str, str]  # a (singular, plural) pair for counted texts
    context: str | None
    location: tuple[str, int]
    comments: tuple[str, ...] = ()


def domain_files(domain: str) -> list[Path]:
    """The source files of `domain`, not claimed by a domain declared before it."""
    claimed = {path for earlier in _domains_before(domain) for path in _globbed(earlier)}
    return [path for path in _globbed(domain) if path not in claimed]


def _domains_before(domain: str) -> list[str]:
    names = list(DOMAINS)
    return names[: names.index(domain)]


def _globbed(domain: str) -> list[Path]:
    found: list[Path] = []
    for pattern in DOMAINS[domain]:
        found.extend(sorted(SOURCE_ROOT.glob(pattern)))
    return list(dict.fromkeys(found))


def domain_of_file(path: str | Path) -> str | None:
    resolved = Path(path).resolve()
    for domain in DOMAINS:
        if resolved in domain_files(domain):
            return domain
    return None


def source_entries(domain: str) -> Iterator[Entry]:
    """The texts marked with `_`, `ngettext`, `pgettext`, `N_` in the domain's files."""
    for path in domain_files(domain):
        method = TEMPLATE_METHOD if path.suffix == ".html" else PYTHON_METHOD
        options = (
            {"extensions": "jinja2.ext.i18n", "trimmed": "true"} if method != PYTHON_METHOD else {}
        )
        relative = path.relative_to(SOURCE_ROOT).as_posix()
        for line, message, comments, context in extract_from_file(
            method,
            str(path),
            keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS,
            options=options,
            strip_comment_tags=True,
        ):
            if isinstance(message, tuple):
                message = (message[0], message[1])
            yield Entry(message, context, (relative, line), tuple(comments))


def build_template(domain: str, entries: Iterable[Entry]) -> Catalog:
    """The domain's template (.pot): every text to translate, with where it comes from."""
    template = Catalog(
        domain=domain,
        project="Pegasus",
        msgid_bugs_address="",
        copyright_holder="",
        charset="utf-8",
    )
    for entry in entries:
        if not entry.message or (isinstance(entry.message, str) and not entry.message.strip()):
            continue
        template.add(
            entry.message,
            locations=[entry.location],
            auto_comments=list(entry.comments),
            context=entry.context,
        )
    return template


def template_path(domain: str) -> Path:
    return CATALOG_DIR / f"{domain}.pot"


def catalog_path(locale: str, domain: str) -> Path:
    return CATALOG_DIR / locale / "LC_MESSAGES" / f"{domain}.po"


def write_catalog(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as target:
        write_po(
            target,
            catalog,
            width=100,
            sort_output=False,
            omit_header=False,
            ignore_obsolete=True,
            include_previous=False,
        )


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=path.stem)


def update_catalog(locale: str, domain: str, template: Catalog) -> Catalog:
    """`locale`'s catalog of `domain` brought up to `template`: new texts added untranslated,
    texts no longer in the source dropped, translations kept (never guessed: no fuzzy matches)."""
    path = catalog_path(locale, domain)
    if path.exists():
        catalog = read_catalog(path, locale)
    else:
        catalog = Catalog(locale=locale, domain=domain, project="Pegasus", charset="utf-8")
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    write_catalog(path, catalog)
    return catalog


PERCENT_FIELD = re.compile(r"%\((\w+)\)[sdif]")


def placeholders(text: str) -> set[str]:
    """The fields of a text: brace fields ("{member}", "{amount:,}" → {"member", "amount"}) and
    the named %-fields of the dashboard's templates ("%(count)s" → {"count"})."""
    fields: set[str] = {f"%({name})" for name in PERCENT_FIELD.findall(text)}
    try:
        for _literal, field, _spec, _conversion in string.Formatter().parse(text):
            if field is not None:
                fields.add(field.split(".")[0].split("[")[0])
    except ValueError:
        fields.add("<unbalanced braces>")
    return fields


def message_ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [message.id]


def message_strings(message: Message) -> list[str]:
    if isinstance(message.string, tuple | list):
        return list(message.string)
    return [message.string]


def problems(locale: str, domain: str, template: Catalog) -> list[str]:
    """What `locale`'s catalog of `domain` gets wrong against `template`: a missing or
    untranslated text, a fuzzy entry, placeholders that differ from the English."""
    path = catalog_path(locale, domain)
    if not path.exists():
        return [f"{path.name} ({locale}) is missing"]
    catalog = read_catalog(path, locale)
    found: list[str] = []
    for wanted in template:
        if not wanted.id:
            continue
        label = f"{locale}/{domain}: {message_ids(wanted)[0]!r}"
        entry = catalog.get(wanted.id, context=wanted.context)
        if entry is None:
            found.append(f"{label} is not in the catalog")
            continue
        if entry.fuzzy:
            found.append(f"{label} is fuzzy")
        strings = message_strings(entry)
        if not all(s and s.strip() for s in strings):
            found.append(f"{label} is not translated")
            continue
        expected = set().union(*(placeholders(m) for m in message_ids(wanted)))
        for translated in strings:
            if placeholders(translated) != expected:
                found.append(
                    f"{label}: placeholders {sorted(placeholders(translated))} "
                    f"differ from {sorted(expected)}"
                )
    return found
