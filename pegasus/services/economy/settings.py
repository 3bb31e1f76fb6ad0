"""The economy's settings, declared once: currency, earning, robbing, betting and selling back.

Every change goes through `pegasus.services.settings.apply_changes`, so it is validated against
this declaration, checked against the rules between settings on the locked row, and recorded in
`audit_logs` with before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from models.economy import EconomySettings
from models.security import AuditSource
from pegasus.errors import ValidationError
from pegasus.services.settings import (
    FeatureSettings,
    Kind,
    Setting,
    apply_changes,
    ensure_settings_row,
    register,
)

from .amounts import MAX_BALANCE, Currency

__all__ = ["SETTINGS", "EconomyConfig", "currency_of", "get_settings", "update_settings"]

_WEEK = 7 * 86400


def _money(name: str, label: str, help: str, *, minimum: int = 0) -> Setting:
    return Setting(name, Kind.INT, label, help, minimum=minimum, maximum=MAX_BALANCE)


def _percent(name: str, label: str, help: str, *, minimum: int = 0) -> Setting:
    return Setting(name, Kind.PERCENT, label, help, minimum=minimum, maximum=100)


SETTINGS = register(FeatureSettings(
    feature="economy",
    model=EconomySettings,
    settings=(
        Setting("currency_name", Kind.TEXT, "currency name", "Name of the currency, e.g. coins",
                max_length=32),
        Setting("currency_symbol", Kind.TEXT, "currency symbol",
                "Symbol or emoji shown before amounts", max_length=32),
        _money("starting_balance", "starting balance", "Wallet of a new account"),
        _money("daily_amount", "daily amount", "Base /daily reward"),
        _money("daily_streak_bonus", "daily streak bonus", "Extra per consecutive day of /daily"),
        Setting("daily_streak_max_days", Kind.INT, "streak bonus cap",
                "Streak days that add a bonus, at most", minimum=0, maximum=365),
        _money("work_min", "minimum work pay", "Lowest /work pay"),
        _money("work_max", "maximum work pay", "Highest /work pay"),
        Setting("work_cooldown_seconds", Kind.SECONDS, "work cooldown",
                "Time between two /work, e.g. 1h or 30m", minimum=0, maximum=_WEEK),
        Setting("rob_enabled", Kind.BOOL, "robbing", "Whether /rob is allowed"),
        _percent("rob_success_percent", "rob success chance",
                 "Chance that a robbery succeeds (%)"),
        Setting("rob_cooldown_seconds", Kind.SECONDS, "rob cooldown",
                "Time between two /rob, e.g. 2h", minimum=0, maximum=_WEEK),
        _money("rob_min_victim_wallet", "minimum victim wallet",
               "Wallet a victim needs to be robbed"),
        _percent("rob_max_steal_percent", "most stolen",
                 "Largest share of the victim's wallet stolen (%)", minimum=1),
        _percent("rob_fine_percent", "fine on failure",
                 "Share of the robber's wallet paid to the victim on failure (%)"),
        _money("min_bet", "minimum bet", "Smallest bet in games", minimum=1),
        _money("max_bet", "maximum bet", "Largest bet in games", minimum=1),
        _percent("sell_percent", "sell-back price", "What selling back pays, % of the price"),
    ),
    internal=frozenset({"id", "guild", "guild_id", "created_at", "updated_at"}),
    rules=(
        (lambda v: v["work_min"] <= v["work_max"],
         "The minimum work pay can't be above the maximum work pay."),
        (lambda v: v["min_bet"] <= v["max_bet"],
         "The minimum bet can't be above the maximum bet."),
    ),
))


@dataclass(frozen=True, slots=True)
class EconomyConfig:
    """A guild's economy settings as they are stored."""

    guild_id: int
    currency_name: str
    currency_symbol: str
    starting_balance: int
    daily_amount: int
    daily_streak_bonus: int
    daily_streak_max_days: int
    work_min: int
    work_max: int
    work_cooldown_seconds: int
    rob_enabled: bool
    rob_success_percent: int
    rob_cooldown_seconds: int
    rob_min_victim_wallet: int
    rob_max_steal_percent: int
    rob_fine_percent: int
    min_bet: int
    max_bet: int
    sell_percent: int

    @classmethod
    def from_values(cls, guild_id: int, values: dict[str, Any]) -> EconomyConfig:
        return cls(guild_id=guild_id, **{f.name: values[f.name] for f in fields(cls)
                                         if f.name != "guild_id"})

    @classmethod
    def from_row(cls, row: EconomySettings) -> EconomyConfig:
        return cls.from_values(row.guild_id,  # type: ignore[attr-defined]
                               {name: getattr(row, name) for name in SETTINGS.by_name})

    @property
    def currency(self) -> Currency:
        return Currency(self.currency_name, self.currency_symbol)


def currency_of(settings: EconomyConfig) -> Currency:
    return settings.currency


async def get_settings(guild_id: int) -> EconomyConfig:
    """The guild's economy settings, created with defaults on first use."""
    row = await EconomySettings.get_or_none(guild_id=guild_id)
    if row is None:
        await ensure_settings_row(EconomySettings, guild_id)
        row = await EconomySettings.get(guild_id=guild_id)
    return EconomyConfig.from_row(row)


async def update_settings(
    guild_id: int,
    *,
    actor_id: int | None = None,
    source: AuditSource = AuditSource.DISCORD,
    **changes: Any,
) -> EconomyConfig:
    """Validate and store some settings (None leaves one as it is), audited with before and
    after; nothing is stored if any value or rule is refused."""
    changes = {name: value for name, value in changes.items() if value is not None}
    unknown = sorted(set(changes) - set(SETTINGS.by_name))
    if unknown:
        raise ValidationError(f"`{unknown[0]}` is not an economy setting.")
    values = await apply_changes(SETTINGS, guild_id, actor_id, changes, source=source)
    return EconomyConfig.from_values(guild_id, values)
