"""Moderation cases: numbering under concurrency, timed punishments and their timers, amendments."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models.moderation import CaseType, ModCase, ModerationSettings
from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditLog, SecurityLog
from pegasus.errors import NotFoundError, ValidationError
from pegasus.services import moderation
from pegasus.services.moderation import Case

GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
MOD = 900_000_000_000_000_001
ALICE = 800_000_000_000_000_001
BOB = 800_000_000_000_000_002
BOT = 700_000_000_000_000_001
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def record(case_type: CaseType, user_id: int | None = ALICE, **kwargs) -> Case:
    kwargs.setdefault("guild_id", GUILD)
    kwargs.setdefault("moderator_id", MOD)
    kwargs.setdefault("reason", "testing")
    kwargs.setdefault("now", NOW)
    return await moderation.record_action(case_type=case_type, user_id=user_id, **kwargs)


async def pending_timers(kind: str) -> list[ScheduledAction]:
    return list(await ScheduledAction.filter(kind=kind, status=ActionStatus.PENDING))


async def test_case_numbers_are_sequential_per_guild(db: str) -> None:
    first = await record(CaseType.WARN)
    second = await record(CaseType.KICK, BOB)
    elsewhere = await record(CaseType.KICK, guild_id=OTHER_GUILD)
    third = await record(CaseType.BAN)

    assert [first.case_number, second.case_number, third.case_number] == [1, 2, 3]
    assert elsewhere.case_number == 1
    counter = await ModerationSettings.get(guild_id=GUILD)
    assert counter.last_case_number == 3


async def test_concurrent_actions_get_distinct_numbers_without_gaps(db: str) -> None:
    users = [ALICE + i for i in range(30)]
    cases = await asyncio.gather(*(record(CaseType.KICK, user) for user in users))

    numbers = sorted(case.case_number for case in cases)
    assert numbers == list(range(1, 31))
    stored = await ModCase.filter(guild_id=GUILD).values_list("case_number", flat=True)
    assert sorted(stored) == list(range(1, 31))


async def test_every_case_writes_a_security_log(db: str) -> None:
    case = await record(CaseType.BAN, reason="raiding")

    log = await SecurityLog.get(action="moderation.ban")
    assert log.user_id == ALICE  # type: ignore[attr-defined]
    assert log.severity == "high"
    assert log.metadata["case_number"] == case.case_number
    assert log.metadata["moderator_id"] == MOD
    assert "raiding" in log.description


async def test_tempban_schedules_its_unban_in_the_same_write(db: str) -> None:
    case = await record(CaseType.BAN, duration_seconds=3600)

    assert case.active
    assert case.expires_at == NOW + timedelta(hours=1)
    [timer] = await pending_timers(moderation.KIND_UNBAN)
    assert timer.due_at == NOW + timedelta(hours=1)
    assert timer.payload == {"case_id": case.id, "user_id": ALICE}
    assert timer.guild_id == GUILD


async def test_permanent_ban_has_no_timer_and_replaces_a_tempban(db: str) -> None:
    tempban = await record(CaseType.BAN, duration_seconds=60)
    permanent = await record(CaseType.BAN, reason="for good")

    assert await pending_timers(moderation.KIND_UNBAN) == []
    assert not (await ModCase.get(id=tempban.id)).active
    assert permanent.active and permanent.expires_at is None
    assert permanent.metadata["ended_cases"] == [tempban.id]


async def test_timer_of_a_replaced_tempban_does_nothing(db: str) -> None:
    tempban = await record(CaseType.BAN, duration_seconds=60)
    await record(CaseType.BAN, reason="for good")

    found = await moderation.inspect_timed_case(tempban.id)
    assert not found.still_running
    ended = await moderation.end_timed_case(tempban.id, now=NOW, actor_id=BOT)
    assert ended is None
    # No unban case was written and the numbering did not move.
    assert await ModCase.filter(type=CaseType.UNBAN).count() == 0
    assert (await ModerationSettings.get(guild_id=GUILD)).last_case_number == 2


async def test_timer_ends_a_running_tempban_exactly_once(db: str) -> None:
    tempban = await record(CaseType.BAN, duration_seconds=60)
    later = NOW + timedelta(minutes=1)

    assert (await moderation.inspect_timed_case(tempban.id)).still_running
    results = await asyncio.gather(
        *(moderation.end_timed_case(tempban.id, now=later, actor_id=BOT) for _ in range(5))
    )

    unbans = [case for case in results if case is not None]
    assert len(unbans) == 1
    assert unbans[0].type == CaseType.UNBAN
    assert unbans[0].moderator_id == BOT
    assert unbans[0].metadata == {"expired_case": tempban.case_number, "automatic": True}
    assert await ModCase.filter(type=CaseType.UNBAN).count() == 1
    assert not (await ModCase.get(id=tempban.id)).active


async def test_manual_unban_ends_the_ban_and_cancels_its_timer(db: str) -> None:
    tempban = await record(CaseType.BAN, duration_seconds=3600)
    unban = await record(CaseType.UNBAN, reason="appeal accepted")

    assert not unban.active
    assert not (await ModCase.get(id=tempban.id)).active
    timer = await ScheduledAction.get(kind=moderation.KIND_UNBAN)
    assert timer.status == ActionStatus.CANCELLED
    assert await moderation.active_case(GUILD, ALICE, CaseType.BAN) is None


async def test_a_newer_ban_is_reported_to_the_old_timer(db: str) -> None:
    old = await record(CaseType.BAN, duration_seconds=60)
    new = await record(CaseType.BAN, reason="for good")
    # The state a timer sees if it raced the new ban: its own case still marked running.
    await ModCase.filter(id=old.id).update(active=True)

    found = await moderation.inspect_timed_case(old.id)

    assert not found.still_running
    assert found.newer is not None and found.newer.id == new.id
    # Another member's ban is not "newer" for alice.
    other = await record(CaseType.BAN, BOB, duration_seconds=60)
    assert (await moderation.inspect_timed_case(other.id)).still_running


async def test_mutes_and_timeouts(db: str) -> None:
    mute = await record(CaseType.MUTE, duration_seconds=600)
    timeout = await record(CaseType.TIMEOUT, duration_seconds=300)

    assert [t.payload["case_id"] for t in await pending_timers(moderation.KIND_UNMUTE)] == [mute.id]
    assert [t.payload["case_id"] for t in await pending_timers(moderation.KIND_TIMEOUT_END)] == [
        timeout.id
    ]
    assert (await moderation.active_case(GUILD, ALICE, CaseType.MUTE)).id == mute.id
    # Past its end but before the timer ran: no longer counts as running.
    late = NOW + timedelta(minutes=11)
    assert await moderation.active_case(GUILD, ALICE, CaseType.MUTE, now=late) is None

    unmute = await record(CaseType.UNMUTE)
    assert unmute.metadata["ended_cases"] == [mute.id]
    assert await pending_timers(moderation.KIND_UNMUTE) == []


async def test_open_ended_mute_stays_active_without_a_timer(db: str) -> None:
    mute = await record(CaseType.MUTE)
    assert mute.active and mute.expires_at is None
    assert await pending_timers(moderation.KIND_UNMUTE) == []
    assert (await moderation.active_case(GUILD, ALICE, CaseType.MUTE, now=NOW)).id == mute.id


@pytest.mark.parametrize(
    ("case_type", "duration", "message"),
    [
        (CaseType.TIMEOUT, None, "needs a duration"),
        (CaseType.TIMEOUT, 29 * 86400, "at most 28 days"),
        (CaseType.KICK, 60, "cannot have a duration"),
        (CaseType.BAN, 0, "must be positive"),
    ],
)
async def test_bad_durations_are_refused(
    db: str, case_type: CaseType, duration: int | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        await record(case_type, duration_seconds=duration)
    assert await ModCase.all().count() == 0


async def test_reason_is_limited(db: str) -> None:
    with pytest.raises(ValidationError, match="at most 1000"):
        await record(CaseType.KICK, reason="x" * 1001)


async def test_purge_case_needs_no_member(db: str) -> None:
    case = await record(CaseType.PURGE, None, channel_id=5, metadata={"deleted": 12})
    assert case.user_id is None
    assert case.channel_id == 5 and case.metadata == {"deleted": 12}
    with pytest.raises(ValidationError, match="needs a member"):
        await record(CaseType.KICK, None)


async def test_get_and_list_cases(db: str) -> None:
    for _ in range(12):
        await record(CaseType.WARN)
    await record(CaseType.KICK, BOB)

    assert (await moderation.get_case(GUILD, 13)).user_id == BOB
    with pytest.raises(NotFoundError, match="no case #99"):
        await moderation.get_case(GUILD, 99)
    page_one, total = await moderation.list_cases(GUILD, ALICE, page=1)
    page_two, _ = await moderation.list_cases(GUILD, ALICE, page=2)
    assert total == 12
    assert [c.case_number for c in page_one] == list(range(12, 2, -1))
    assert [c.case_number for c in page_two] == [2, 1]
    with pytest.raises(ValidationError):
        await moderation.list_cases(GUILD, ALICE, page=0)


async def test_amend_reason_is_recorded(db: str) -> None:
    case = await record(CaseType.KICK, reason="spam")
    later = NOW + timedelta(hours=1)

    amended, old = await moderation.amend_reason(
        GUILD, case.case_number, "spam in #general", editor_id=BOB, now=later
    )

    assert old == "spam"
    assert amended.reason == "spam in #general"
    assert (amended.reason_edited_by_id, amended.reason_edited_at) == (BOB, later)
    stored = await ModCase.get(id=case.id)
    assert stored.reason == "spam in #general"
    assert stored.reason_edited_by_id == BOB  # type: ignore[attr-defined]
    assert stored.reason_edited_at == later
    audit = await AuditLog.get(action="case.reason")
    assert audit.before == {"reason": "spam"} and audit.after == {"reason": "spam in #general"}
    assert audit.actor_id == BOB  # type: ignore[attr-defined]
    with pytest.raises(NotFoundError):
        await moderation.amend_reason(GUILD, 42, "x", editor_id=BOB, now=later)
    with pytest.raises(ValidationError):
        await moderation.amend_reason(GUILD, 1, "  ", editor_id=BOB, now=later)


async def test_modlog_channel_setting_is_audited(db: str) -> None:
    await moderation.set_modlog_channel(GUILD, 555, actor_id=MOD)
    settings = await moderation.set_modlog_channel(GUILD, 666, actor_id=MOD)

    assert settings.modlog_channel_id == 666
    assert (await moderation.get_settings(GUILD)).modlog_channel_id == 666
    audits = await AuditLog.filter(action="modlog.set").order_by("created_at")
    assert [(a.before, a.after) for a in audits] == [
        ({"modlog_channel_id": None}, {"modlog_channel_id": 555}),
        ({"modlog_channel_id": 555}, {"modlog_channel_id": 666}),
    ]


async def test_deleting_the_moderator_keeps_the_case(db: str) -> None:
    from models.guilds import User

    case = await record(CaseType.KICK)
    await User.filter(id=MOD).delete()

    stored = await ModCase.get(id=case.id)
    assert stored.moderator_id is None  # type: ignore[attr-defined]
