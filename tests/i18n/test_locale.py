"""Which language a text is for: locale tags, a member's choice, a server's language."""

from __future__ import annotations

import asyncio

import pytest

from pegasus.i18n import (
    _,
    current_locale,
    for_guild,
    format_number,
    guild_locale,
    ngettext,
    remember_guild_locale,
    remember_user_locale,
    reply_locale,
    supported_locale,
    use_locale,
)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de", "de"),
        ("es-ES", "es"),
        ("es-419", "es"),
        ("fr", "fr"),
        ("fr_CA", "fr"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("pt-BR", None),
        ("", None),
        (None, None),
    ],
)
def test_locale_tags_map_to_the_languages_spoken(tag: str | None, expected: str | None) -> None:
    assert supported_locale(tag) == expected


def test_a_members_choice_beats_their_app_and_is_forgotten_when_cleared() -> None:
    member = 901
    assert reply_locale(member, "de") == "de"
    assert reply_locale(member, "pt-BR") == "en"
    remember_user_locale(member, "fr")
    assert reply_locale(member, "de") == "fr"
    remember_user_locale(member, None)
    assert reply_locale(member, "de") == "de"


def test_a_servers_language_applies_inside_for_guild_only() -> None:
    guild = 902
    remember_guild_locale(guild, "es")
    try:
        assert guild_locale(guild) == "es"
        with for_guild(guild):
            assert current_locale() == "es"
            with use_locale("de"):
                assert current_locale() == "de"
            assert current_locale() == "es"
        assert current_locale() == "en"
    finally:
        remember_guild_locale(guild, "en")
    assert guild_locale(guild) == "en"


async def test_each_task_keeps_its_own_language() -> None:
    async def reader(locale: str) -> str:
        with use_locale(locale):
            await asyncio.sleep(0.01)
            return current_locale()

    assert await asyncio.gather(reader("de"), reader("fr"), reader("es")) == ["de", "fr", "es"]


def test_english_is_the_source_and_numbers_follow_the_language() -> None:
    assert _("An English text not in any catalog") == "An English text not in any catalog"
    assert ngettext("{n} coin", "{n} coins", 1) == "{n} coin"
    assert ngettext("{n} coin", "{n} coins", 2) == "{n} coins"
    assert format_number(1234567) == "1,234,567"
    with use_locale("de"):
        assert format_number(1234567) == "1.234.567"
    with use_locale("fr"):
        assert format_number(1234567).replace("\u202f", " ") == "1 234 567"
