"""Raid response (lockdown, slowmode, the joining wave, the age gate) and the verification gate.

Anti-raid detection is `pegasus.services.security.raids`; this package decides what a detected
raid sets off, remembers what a lockdown changed so that an unlock restores it exactly, and
keeps the verification gate's timers.
"""

from .lockdown import (
    LOCK_BITS,
    THREAD_LOCK_BITS,
    Overwrite,
    RememberedLock,
    RememberedSlowmode,
    forget_lock,
    forget_slowmode,
    locked_overwrite,
    record_lock_change,
    remember_lock,
    remember_slowmode,
    remembered_lock,
    remembered_locks,
    remembered_slowmodes,
)
from .response import ActiveRaid, Joiner, active_raid, too_young, wave_targets
from .settings import (
    MAX_SLOWMODE_SECONDS,
    RAID,
    VERIFICATION,
    RaidAction,
    RaidConfig,
    VerificationConfig,
    raid_config,
    toggle_raid_channel,
    update_raid_settings,
    update_verification_settings,
    verification_config,
)
from .verification import (
    TIMEOUT_KIND,
    cancel_timeout,
    record_panel,
    record_timeout_kick,
    require_old_enough,
    schedule_timeout,
)

__all__ = [
    "LOCK_BITS",
    "MAX_SLOWMODE_SECONDS",
    "RAID",
    "THREAD_LOCK_BITS",
    "TIMEOUT_KIND",
    "VERIFICATION",
    "ActiveRaid",
    "Joiner",
    "Overwrite",
    "RaidAction",
    "RaidConfig",
    "RememberedLock",
    "RememberedSlowmode",
    "VerificationConfig",
    "active_raid",
    "cancel_timeout",
    "forget_lock",
    "forget_slowmode",
    "locked_overwrite",
    "raid_config",
    "record_lock_change",
    "record_panel",
    "record_timeout_kick",
    "remember_lock",
    "remember_slowmode",
    "remembered_lock",
    "remembered_locks",
    "remembered_slowmodes",
    "require_old_enough",
    "schedule_timeout",
    "toggle_raid_channel",
    "too_young",
    "update_raid_settings",
    "update_verification_settings",
    "verification_config",
    "wave_targets",
]
