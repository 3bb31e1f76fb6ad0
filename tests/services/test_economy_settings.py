"""The economy's settings: declared once, every change validated and audited."""

from __future__ import annotations

import pytest

from models.economy import EconomySettings
from models.security import AuditLog, AuditSource
from pegasus.errors import ValidationError
from pegasus.services import economy
from pegasus.services.settings import declared
from tests.services.test_economy import GUILD, STAFF

pytestmark = pytest.mark.usefixtures("db")


def test_every_column_of_the_settings_table_is_declared_or_internal() -> None:
    columns = set(EconomySettings._meta.fields_map)
    spec = economy.SETTINGS
    assert declared()["economy"] is spec
    assert columns == set(spec.by_name) | spec.internal
    assert not set(spec.by_name) & spec.internal


async def test_a_settings_change_is_audited_with_before_and_after() -> None:
    # Refused changes store nothing and leave no audit row.
    for bad in ({"min_bet": 10, "max_bet": 5}, {"sell_percent": 101}, {"nonsense": 1}):
        with pytest.raises(ValidationError):
            await economy.update_settings(GUILD, actor_id=STAFF, **bad)
    assert not await AuditLog.exists()
    assert (await economy.get_settings(GUILD)).max_bet == 100_000
    stored = await economy.update_settings(
        GUILD, actor_id=STAFF, currency_name="gems", daily_amount=250, max_bet=5_000
    )
    assert (stored.currency_name, stored.daily_amount, stored.max_bet) == ("gems", 250, 5_000)
    assert isinstance(stored, economy.EconomyConfig)
    [entry] = await AuditLog.all()
    # The daily amount was 250 already: only what changed is recorded.
    assert entry.action == "economy.settings" and entry.source == AuditSource.DISCORD
    assert entry.actor_id == STAFF  # type: ignore[attr-defined]
    assert entry.guild_id == GUILD  # type: ignore[attr-defined]
    assert entry.before == {"currency_name": "coins", "max_bet": 100_000}
    assert entry.after == {"currency_name": "gems", "max_bet": 5_000}
    row = await EconomySettings.get(guild_id=GUILD)
    assert (row.currency_name, row.max_bet) == ("gems", 5_000)
