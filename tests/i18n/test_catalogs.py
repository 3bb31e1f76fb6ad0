"""The catalogs against the source: every text of every domain translated in de, es and fr,
nothing fuzzy, the same placeholders as the English."""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog
from tortoise.backends.base.executor import EXECUTOR_CACHE

from pegasus.cli_i18n import templates
from pegasus.i18n.catalogs import (
    DOMAINS,
    TRANSLATED_LOCALES,
    catalog_path,
    placeholders,
    problems,
    read_catalog,
    template_path,
    write_catalog,
)


@pytest.fixture(scope="module")
def extracted() -> dict[str, Catalog]:
    prepared = dict(EXECUTOR_CACHE)
    built = templates()
    # The extraction's in-memory SQLite leaves no prepared statement behind (the suite's
    # PostgreSQL run would send them: Tortoise keys them by connection name, not dialect).
    assert prepared == EXECUTOR_CACHE
    return built


@pytest.mark.parametrize("locale", TRANSLATED_LOCALES)
@pytest.mark.parametrize("domain", list(DOMAINS))
def test_catalog_holds_every_text_translated(
    extracted: dict[str, Catalog], domain: str, locale: str
) -> None:
    found = problems(locale, domain, extracted[domain])
    assert not found, f"{len(found)} problem(s); run `python -m pegasus i18n extract`:\n" + (
        "\n".join(found[:40])
    )


def test_every_domain_has_texts(extracted: dict[str, Catalog]) -> None:
    assert all(len(extracted[domain]) for domain in DOMAINS), {
        domain: len(template) for domain, template in extracted.items()
    }


def test_templates_in_the_package_are_current(extracted: dict[str, Catalog]) -> None:
    """The shipped .pot files are what the source gives (translators work from them)."""
    for domain, template in extracted.items():
        shipped = read_catalog(template_path(domain))
        assert {(m.id, m.context) for m in shipped if m.id} == {
            (m.id, m.context) for m in template if m.id
        }, f"{domain}.pot is stale: run `python -m pegasus i18n extract`"


def test_placeholders_are_the_brace_fields() -> None:
    assert placeholders("{member} paid {amount:,} to {target.name}") == {
        "member",
        "amount",
        "target",
    }
    assert placeholders("no fields") == set()


def test_a_wrong_translation_is_found(tmp_path, monkeypatch, extracted) -> None:
    """The check is not vacuous: a catalog with a changed placeholder, a fuzzy entry and a
    missing text is reported for each."""
    import pegasus.i18n.catalogs as catalogs

    domain = "core"
    original = read_catalog(catalog_path("de", domain), "de")
    broken = Catalog(locale="de", domain=domain)
    template = extracted[domain]
    with_field = next(m for m in template if m.id and isinstance(m.id, str) and "{" in m.id)
    plain = [m for m in template if m.id and m is not with_field]
    broken.add(with_field.id, "{falsch}", context=with_field.context)
    broken.add(plain[0].id, "übersetzt", context=plain[0].context, flags=["fuzzy"])
    for message in plain[2:]:
        kept = original.get(message.id, context=message.context)
        broken.add(message.id, kept.string if kept else "x", context=message.context)
    monkeypatch.setattr(catalogs, "CATALOG_DIR", tmp_path)
    write_catalog(catalogs.catalog_path("de", domain), broken)
    found = "\n".join(problems("de", domain, template))
    assert "placeholders ['falsch']" in found
    assert "is fuzzy" in found
    assert f"{plain[1].id!r} is not in the catalog" in found


@pytest.mark.parametrize("locale", TRANSLATED_LOCALES)
def test_a_text_has_one_translation_whatever_the_domain(locale: str) -> None:
    """The domains are merged into one catalog at run time, where one translation of a shared
    text wins for every feature: they must agree (a command called `remove` is one word)."""
    seen: dict[tuple[str | None, object], dict[str, object]] = {}
    for domain in DOMAINS:
        for message in read_catalog(catalog_path(locale, domain), locale):
            if message.id:
                key = (
                    message.context,
                    message.id if isinstance(message.id, str) else tuple(message.id),
                )
                string = message.string
                seen.setdefault(key, {})[domain] = (
                    string if isinstance(string, str) else tuple(string)
                )
    differing = {key: found for key, found in seen.items() if len(set(found.values())) > 1}
    assert not differing, "\n".join(f"{key}: {found}" for key, found in differing.items())
