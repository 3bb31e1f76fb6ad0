"""Levels in other languages: refusals in the asker's language, the rank card drawn in it, a
refusal kept for a background only handed to askers of its language, and the level-up post's
default message in the server's."""

from __future__ import annotations

import asyncio

import pytest

from models.guilds import DEFAULT_LEVEL_UP_MESSAGE
from pegasus.errors import ValidationError
from pegasus.i18n import for_guild, remember_guild_locale, use_locale
from pegasus.services.levels import (
    BackgroundCache,
    announced_template,
    compact_number,
    render_level_up,
    render_rank_card,
    validate_template,
)
from tests.image_hosts import grey_png
from tests.services.test_levels_rankcard import Host, card


def test_a_refusal_is_in_the_askers_language() -> None:
    with use_locale("de"), pytest.raises(ValidationError, match="darf nicht leer sein"):
        validate_template("   ")
    with use_locale("fr"), pytest.raises(ValidationError, match=r"Variable inconnue \{name\}"):
        validate_template("GG {name}")
    with pytest.raises(ValidationError, match="cannot be empty"):
        validate_template("")


def test_the_level_up_default_follows_the_servers_language_and_staff_text_stays() -> None:
    guild = 9_301
    assert announced_template(DEFAULT_LEVEL_UP_MESSAGE) == DEFAULT_LEVEL_UP_MESSAGE
    remember_guild_locale(guild, "es")
    try:
        with for_guild(guild):
            default = announced_template(DEFAULT_LEVEL_UP_MESSAGE)
            post = render_level_up(default, user="<@1>", level=12, server="Casa")
            staff = render_level_up(
                announced_template("GG {user}, {level}!"), user="<@1>", level=1_234, server="Casa"
            )
        assert post == "¡<@1> ha alcanzado el nivel 12!"
        assert staff == "GG <@1>, 1.234!"  # as written; only the number in the Spanish way
    finally:
        remember_guild_locale(guild, "en")


def test_the_rank_card_is_drawn_in_the_askers_language() -> None:
    english = render_rank_card(card())
    with use_locale("de"):
        german = render_rank_card(card())
        assert compact_number(12_345) == "12,3K"
    assert german != english  # RANG, Nachrichten, Sprachminuten...
    assert render_rank_card(card()) == english


async def test_the_rank_card_is_drawn_in_the_language_of_the_thread_that_asks() -> None:
    with use_locale("de"):
        in_thread = await asyncio.to_thread(render_rank_card, card())
        assert in_thread == render_rank_card(card())


async def test_a_kept_refusal_is_only_handed_to_askers_of_its_language() -> None:
    bomb = Host(grey_png(4096, 4096, 1))
    cache = BackgroundCache()
    with use_locale("de"), pytest.raises(ValidationError, match=r"4\.096×4\.096 Pixel"):
        await cache.get("https://images.test/bomb.png", bomb.fetch)
    with pytest.raises(ValidationError, match="4,096×4,096 pixels"):
        await cache.get("https://images.test/bomb.png", bomb.fetch)  # English: checked again
    assert bomb.downloads == 2
    with pytest.raises(ValidationError, match="4,096×4,096 pixels"):
        await cache.get("https://images.test/bomb.png", bomb.fetch)  # kept, in English
    assert bomb.downloads == 2
