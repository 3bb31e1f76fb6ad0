"""Actions taken in Discord's menus as cases: timeouts read from their end, one case per entry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models.moderation import CaseAuditEntry, CaseType, ModCase
from models.security import SecurityLog
from pegasus.services.moderation import MAX_TIMEOUT_SECONDS
from pegasus.services.moderation.outside import (
    OutsideAction,
    newest_recorded_entries,
    record_outside_action,
    timeout_change,
)

GUILD = 111_111_111_111_111_111
MOD = 900_000_000_000_000_001
ALICE = 800_000_000_000_000_001
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def action(case_type: CaseType, entry_id: int = 1, **kwargs: object) -> OutsideAction:
    values: dict[str, object] = {
        "guild_id": GUILD,
        "entry_id": entry_id,
        "case_type": case_type,
        "user_id": ALICE,
        "moderator_id": MOD,
        "reason": "spam",
        "at": AT,
    }
    values.update(kwargs)
    return OutsideAction(**values)  # type: ignore[arg-type]


def test_a_timeout_is_read_from_its_end() -> None:
    # The end comes from the moderator's clock, a little off Discord's: the menu's lengths win.
    assert timeout_change(AT + timedelta(hours=1, milliseconds=400), AT) == (CaseType.TIMEOUT, 3600)
    assert timeout_change(AT + timedelta(seconds=3566), AT) == (CaseType.TIMEOUT, 3600)
    assert timeout_change(AT + timedelta(seconds=59.6), AT) == (CaseType.TIMEOUT, 60)
    assert timeout_change(AT + timedelta(days=7, seconds=-50), AT) == (CaseType.TIMEOUT, 604800)
    # Other lengths (set by another bot, say) are kept, to the second.
    assert timeout_change(AT + timedelta(seconds=3500), AT) == (CaseType.TIMEOUT, 3500)
    assert timeout_change(AT + timedelta(seconds=57), AT) == (CaseType.TIMEOUT, 57)
    assert timeout_change(AT + timedelta(milliseconds=100), AT) == (CaseType.TIMEOUT, 1)
    assert timeout_change(AT + timedelta(days=30), AT) == (CaseType.TIMEOUT, MAX_TIMEOUT_SECONDS)


def test_a_cleared_or_past_end_is_a_removal() -> None:
    assert timeout_change(None, AT) == (CaseType.UNTIMEOUT, None)
    assert timeout_change(AT - timedelta(seconds=1), AT) == (CaseType.UNTIMEOUT, None)


async def test_one_entry_makes_one_case_however_often_it_comes(db: str) -> None:
    first = await record_outside_action(action(CaseType.BAN))
    again = await record_outside_action(action(CaseType.BAN))
    racing = await asyncio.gather(
        *(record_outside_action(action(CaseType.KICK, entry_id=2)) for _ in range(10))
    )

    assert first is not None and again is None
    assert sum(case is not None for case in racing) == 1
    assert await ModCase.filter(guild_id=GUILD).count() == 2
    assert sorted(await ModCase.all().values_list("case_number", flat=True)) == [1, 2]
    # The refused duplicates left nothing behind: no security log entry, no audit row.
    assert await SecurityLog.filter(guild_id=GUILD).count() == 2
    assert await CaseAuditEntry.all().count() == 2


async def test_the_case_keeps_the_entry_time_and_the_source(db: str) -> None:
    case = await record_outside_action(
        action(CaseType.TIMEOUT, duration_seconds=600, reason="  ", moderator_is_bot=True)
    )

    assert case is not None
    assert (case.created_at, case.expires_at) == (AT, AT + timedelta(seconds=600))
    assert case.reason is None  # a blank reason is no reason
    assert case.metadata == {"source": "discord", "audit_entry_id": "1", "moderator_is_bot": True}


async def test_only_menu_actions_are_taken(db: str) -> None:
    with pytest.raises(ValueError, match="warn"):
        await record_outside_action(action(CaseType.WARN))


async def test_the_newest_recorded_entry_of_each_guild(db: str) -> None:
    other = GUILD + 1
    for entry_id, guild_id in ((5, GUILD), (9, GUILD), (7, other), (3, GUILD)):
        await record_outside_action(action(CaseType.KICK, entry_id=entry_id, guild_id=guild_id))

    assert await newest_recorded_entries([GUILD, other, GUILD + 2]) == {GUILD: 9, other: 7}
    assert await newest_recorded_entries([]) == {}
