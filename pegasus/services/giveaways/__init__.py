"""Giveaways: what the giveaway feature owns, one idea per module.

* `lifecycle`: creating (the seed is committed, timers set), starting, ending exactly once with
  the draw, rerolling and cancelling; the limits of a giveaway.
* `entries`: entering and leaving, requirements, bonus entries, members who leave the server.
* `draw`: the documented, verifiable draw and the check of every stored draw.
* `announcement`: the lease that has every end announced once, across crashes and processes.
* `lookup`: finding giveaways and their entry lists.
* `results`: the frozen values every function takes or hands back (never database rows).

Giveaways have no per-guild settings.
"""

from __future__ import annotations

from .announcement import (
    ANNOUNCEMENT_LEASE_SECONDS,
    claim_announcement,
    confirm_announcement,
    follow_up_announcement,
    release_announcement,
    schedule_announcement_retry,
)
from .draw import (
    draw_winners,
    entries_digest,
    hash_seed,
    new_seed,
    uniform_below,
    verify,
    verify_draws,
)
from .entries import check_requirements, member_level, toggle_entry, withdraw_member
from .lifecycle import (
    ANNOUNCEMENT_BACKSTOP_SECONDS,
    END_KIND,
    MAX_AGE_DAYS,
    MAX_BONUS_ENTRIES,
    MAX_DESCRIPTION_LENGTH,
    MAX_DURATION_SECONDS,
    MAX_LEVEL,
    MAX_PRIZE_LENGTH,
    MAX_START_DELAY_SECONDS,
    MAX_WINNERS,
    MIN_DURATION_SECONDS,
    PUBLIC_ID_PREFIX,
    START_KIND,
    attach_message,
    cancel_giveaway,
    check_can_cancel,
    check_can_end,
    check_can_reroll,
    create_giveaway,
    delete_unposted,
    end_due,
    end_giveaway,
    end_now,
    reroll,
    start_giveaway,
)
from .lookup import (
    entry_page,
    get_giveaway,
    giveaway_by_pk,
    list_entries,
    list_giveaways,
    sorted_entries,
    suggest_giveaways,
)
from .results import (
    BonusEntries,
    DrawCheck,
    DrawRecord,
    Entrant,
    Entry,
    EntryResult,
    GiveawayDraft,
    GiveawayInfo,
    RequirementNotMet,
    Requirements,
    Verification,
)

__all__ = [
    "ANNOUNCEMENT_BACKSTOP_SECONDS",
    "ANNOUNCEMENT_LEASE_SECONDS",
    "END_KIND",
    "MAX_AGE_DAYS",
    "MAX_BONUS_ENTRIES",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_DURATION_SECONDS",
    "MAX_LEVEL",
    "MAX_PRIZE_LENGTH",
    "MAX_START_DELAY_SECONDS",
    "MAX_WINNERS",
    "MIN_DURATION_SECONDS",
    "PUBLIC_ID_PREFIX",
    "START_KIND",
    "BonusEntries",
    "DrawCheck",
    "DrawRecord",
    "Entrant",
    "Entry",
    "EntryResult",
    "GiveawayDraft",
    "GiveawayInfo",
    "RequirementNotMet",
    "Requirements",
    "Verification",
    "attach_message",
    "cancel_giveaway",
    "check_can_cancel",
    "check_can_end",
    "check_can_reroll",
    "check_requirements",
    "claim_announcement",
    "confirm_announcement",
    "create_giveaway",
    "delete_unposted",
    "draw_winners",
    "end_due",
    "end_giveaway",
    "end_now",
    "entries_digest",
    "entry_page",
    "follow_up_announcement",
    "get_giveaway",
    "giveaway_by_pk",
    "hash_seed",
    "list_entries",
    "list_giveaways",
    "member_level",
    "new_seed",
    "release_announcement",
    "reroll",
    "schedule_announcement_retry",
    "sorted_entries",
    "start_giveaway",
    "suggest_giveaways",
    "toggle_entry",
    "uniform_below",
    "verify",
    "verify_draws",
    "withdraw_member",
]
