"""Retention: how long a guild's data is kept.

* `guilds`: a guild's data is deleted a grace period after Pegasus leaves it (a durable
  scheduled action, cancelled when it comes back), or at once by an operator (`purge_guild`,
  `python -m pegasus data purge-guild`).
* `settings`: per-guild retention of ticket messages, security logs and audit logs, declared
  once and audited.
* `sweep`: the periodic job that deletes what is older than each guild keeps.
"""

from .guilds import (
    PURGE_KIND,
    UNSCOPED_TABLES,
    LeftGuildOutcome,
    PurgeSummary,
    Reconciled,
    guild_back,
    guild_data_counts,
    guild_data_tables,
    guild_left,
    guild_left_at,
    purge_guild,
    purge_left_guild,
    reconcile_guilds,
)
from .settings import (
    MAX_RETENTION_DAYS,
    SETTINGS,
    RetentionSettings,
    retention_settings,
    update_retention_settings,
)
from .sweep import (
    SWEEP_INTERVAL,
    SWEEP_KIND,
    SweepSummary,
    ensure_sweep_scheduled,
    schedule_next_sweep,
    sweep,
)

__all__ = [
    "MAX_RETENTION_DAYS",
    "PURGE_KIND",
    "SETTINGS",
    "SWEEP_INTERVAL",
    "SWEEP_KIND",
    "UNSCOPED_TABLES",
    "LeftGuildOutcome",
    "PurgeSummary",
    "Reconciled",
    "RetentionSettings",
    "SweepSummary",
    "ensure_sweep_scheduled",
    "guild_back",
    "guild_data_counts",
    "guild_data_tables",
    "guild_left",
    "guild_left_at",
    "purge_guild",
    "purge_left_guild",
    "reconcile_guilds",
    "retention_settings",
    "schedule_next_sweep",
    "sweep",
    "update_retention_settings",
]
