"""Moderation's texts in other languages: refusals, rule summaries and the blacklist's answer
follow the language of the context they are made in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cogs.moderation.blacklist import blacklist_refusal
from cogs.moderation.support import describe_action
from models.security import BlacklistEntityType
from pegasus.errors import ValidationError
from pegasus.i18n import use_locale
from pegasus.services import moderation
from pegasus.services.moderation import AutomationActionType, BlacklistHit


def test_a_service_refusal_is_in_the_language_of_the_context() -> None:
    with use_locale("de"), pytest.raises(ValidationError) as refused:
        moderation.build_action(AutomationActionType.KICK, duration_seconds=60)
    assert str(refused.value) == "Ein Kick hat keine Dauer."
    with pytest.raises(ValidationError) as refused:
        moderation.build_action(AutomationActionType.KICK, duration_seconds=60)
    assert str(refused.value) == "A kick has no duration."


def test_rule_summaries_count_in_each_language() -> None:
    rule = moderation.Automation(
        id=1,
        automation_id="A-7K2QX",
        guild_id=2,
        name="spam",
        description=None,
        trigger_type=moderation.TriggerType.WARN_COUNT,
        trigger_value=1,
        window_days=7,
        actions=(),
        enabled=True,
        notify_channel_id=None,
        created_by_id=None,
        last_triggered_at=None,
        trigger_count=0,
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert moderation.describe_trigger(rule) == "1 warning within 7 days"
    with use_locale("es"):
        assert moderation.describe_trigger(rule) == "1 advertencia en 7 días"
    with use_locale("fr"):
        assert describe_action({"type": "ban", "duration_seconds": None}) == "bannir"


def test_the_blacklist_answer_follows_the_member() -> None:
    hit = BlacklistHit(BlacklistEntityType.USER, 1, 2, "abuse", None)
    with use_locale("fr"):
        assert blacklist_refusal(hit) == (
            "Vous êtes sur la liste noire et ne pouvez pas utiliser ce bot sur ce serveur : abuse."
        )
