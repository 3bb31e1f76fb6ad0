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
from pegasus.i18n import N_, _
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
        Setting("currency_name", Kind.TEXT, N_("currency name"),
                N_("Name of the currency, e.g. coins"), max_length=32),
        Setting("currency_symbol", Kind.TEXT, N_("currency symbol"),
                N_("Symbol or emoji shown before amounts"), max_length=32),
        _money("starting_balance", N_("starting balance"), N_("Wallet of a new account")),
        _money("daily_amount", N_("daily amount"), N_("Base /daily reward")),
        _money("daily_streak_bonus", N_("daily streak bonus"),
               N_("Extra per consecutive day of /daily")),
        Setting("daily_streak_max_days", Kind.INT, N_("streak bonus cap"),
                N_("Streak days that add a bonus, at most"), minimum=0, maximum=365),
        _money("work_min", N_("minimum work pay"), N_("Lowest /work pay")),
        _money("work_max", N_("maximum work pay"), N_("Highest /work pay")),
        Setting("work_cooldown_seconds", Kind.SECONDS, N_("work cooldown"),
                N_("Time between two /work, e.g. 1h or 30m"), minimum=0, maximum=_WEEK),
        Setting("rob_enabled", Kind.BOOL, N_("robbing"), N_("Whether /rob is allowed")),
        _percent("rob_success_percent", N_("rob success chance"),
                 N_("Chance that a robbery succeeds (%)")),
        Setting("rob_cooldown_seconds", Kind.SECONDS, N_("rob cooldown"),
                N_("Time between two /rob, e.g. 2h"), minimum=0, maximum=_WEEK),
        _money("rob_min_victim_wallet", N_("minimum victim wallet"),
               N_("Wallet a victim needs to be robbed")),
        _percent("rob_max_steal_percent", N_("most stolen"),
                 N_("Largest share of the victim's wallet stolen (%)"), minimum=1),
        _percent("rob_fine_percent", N_("fine on failure"),
                 N_("Share of the robber's wallet paid to the victim on failure (%)")),
        _money("min_bet", N_("minimum bet"), N_("Smallest bet in games"), minimum=1),
        _money("max_bet", N_("maximum bet"), N_("Largest bet in games"), minimum=1),
        _percent("sell_percent", N_("sell-back price"),
                 N_("What selling back pays, % of the price")),
    ),
    internal=frozenset({"id", "guild", "guild_id", "created_at", "updated_at"}),
    rules=(
        (lambda v: v["work_min"] <= v["work_max"],
         N_("The minimum work pay can't be above the maximum work pay.")),
        (lambda v: v["min_bet"] <= v["max_bet"],
         N_("The minimum bet can't be above the maximum bet.")),
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
        raise ValidationError(_("`{name}` is not an economy setting.").format(name=unknown[0]))
    values = await apply_changes(SETTINGS, guild_id, actor_id, changes, source=source)
    return EconomyConfig.from_values(guild_id, values)
