"""The shared refusals speak the member's language: settings, durations, permissions, pagers."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands
from discord.app_commands.transformers import IdentityTransformer

from pegasus.errors import ValidationError
from pegasus.i18n import use_locale
from pegasus.services.durations import parse_duration
from pegasus.services.retention import SETTINGS as RETENTION
from pegasus.tree import describe_error
from pegasus.ui.format import page_of


def test_a_setting_refusal_names_the_setting_in_the_members_language() -> None:
    setting = RETENTION["retention_ticket_days"]
    with pytest.raises(ValidationError) as english:
        setting.check(-1)
    assert str(english.value) == "The ticket retention must be between 0 and 3,650."
    with use_locale("de"), pytest.raises(ValidationError) as german:
        setting.check(-1)
    assert str(german.value) == (
        "Die Einstellung „Aufbewahrung von Tickets“ muss zwischen 0 und 3.650 liegen."
    )


def test_a_duration_refusal_is_spanish_and_shows_spanish_units_the_parser_reads() -> None:
    with use_locale("es"), pytest.raises(ValidationError) as refusal:
        parse_duration("soon")
    assert str(refusal.value) == (
        "`soon` no es una duración. Usa 30s, 10min, 2h, 2d, 1sem o combinaciones como 1d 12h."
    )
    with use_locale("es"):
        assert parse_duration("10min 1sem 1d 12h") == 600 + 604800 + 86400 + 12 * 3600


def test_missing_permissions_are_named_as_discord_names_them_in_french() -> None:
    error = app_commands.MissingPermissions(["manage_guild", "ban_members"])
    assert describe_error(error) == (
        "You need the Manage Server, Ban Members permission to do that."
    )
    with use_locale("fr"):
        assert describe_error(error) == (
            "Il vous faut la permission Gérer le serveur, Bannir des membres pour faire cela."
        )


def test_a_cooldown_is_told_in_the_members_units() -> None:
    cooldown = app_commands.CommandOnCooldown(app_commands.Cooldown(1, 90.0), 89.2)
    assert describe_error(cooldown) == "Slow down: try again in 1m 30s."
    with use_locale("de"):
        assert describe_error(cooldown) == "Langsam: Versuche es in 1 Min. 30 Sek. erneut."


def test_a_value_of_the_wrong_kind_names_the_kind_in_the_members_language() -> None:
    member = discord.AppCommandOptionType.user
    error = app_commands.TransformerError("Bob", member, IdentityTransformer(member))
    assert describe_error(error) == "`Bob` is not a valid member."
    with use_locale("es"):
        assert describe_error(error) == "`Bob` no es un valor válido (miembro)."


def test_pages_count_in_the_locales_numbers() -> None:
    assert page_of(2, 1200) == "Page 2 of 1,200"
    with use_locale("de"):
        assert page_of(2, 1200) == "Seite 2 von 1.200"
