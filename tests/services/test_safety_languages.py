"""Safety in other languages: automod's and the verification gate's refusals in the asker's
language, an automod firing put into words in the language of where it is read (the server's,
for what automod records and posts), and spam's stored record kept in English."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.security import IncidentStatus
from pegasus.errors import PermissionDenied, ValidationError
from pegasus.i18n import for_guild, remember_guild_locale, use_locale
from pegasus.services.automod import GuildRules, MessageFacts, RuleKind, parse_actions
from pegasus.services.raids import require_old_enough
from pegasus.services.security import SpamKind, SpamVerdict, status_label
from tests.services.test_automod import rule

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_automod_refusals_are_in_the_askers_language() -> None:
    with use_locale("de"), pytest.raises(ValidationError, match="ist keine Aktion"):
        parse_actions("explode")
    with use_locale("es"), pytest.raises(ValidationError, match="aparece dos veces"):
        parse_actions("delete, delete")
    with pytest.raises(ValidationError, match="is not an action"):
        parse_actions("explode")


def test_a_firing_is_put_into_words_where_it_is_read() -> None:
    guild = 9_401
    caps = rule(RuleKind.CAPS, threshold=50)
    [firing] = GuildRules([caps]).evaluate(MessageFacts("THIS IS ALL SHOUTING"))
    assert firing.reason == "100% capitals"
    remember_guild_locale(guild, "fr")
    try:
        with for_guild(guild):
            assert firing.reason == "100 % de majuscules"
            assert caps.describe_params() == "50 % de majuscules ou plus"
    finally:
        remember_guild_locale(guild, "en")
    assert firing.reason == "100% capitals"


def test_the_gate_refuses_a_young_account_in_the_members_language() -> None:
    created = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    with use_locale("de"), pytest.raises(PermissionDenied, match="mindestens 3 Tage alt"):
        require_old_enough(created, NOW, 3)
    with pytest.raises(PermissionDenied, match="at least 1 day old"):
        require_old_enough(datetime(2026, 3, 1, 11, 0, tzinfo=UTC), NOW, 1)


def test_spam_reasons_and_incident_states_follow_the_language() -> None:
    verdict = SpamVerdict(SpamKind.DUPLICATES, 4, 3)
    assert verdict.reason() == "the same message 4 times in a row"
    with use_locale("es"):
        assert verdict.reason() == "el mismo mensaje 4 veces seguidas"
        assert status_label(IncidentStatus.FALSE_POSITIVE) == "falso positivo"
    assert status_label("false_positive") == "false positive"
