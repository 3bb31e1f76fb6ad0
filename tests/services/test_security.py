"""Security settings, raid detection and incidents opened by raids, spam detection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from random import Random

import pytest

from models.guilds import GuildSettings
from models.security import AuditLog, IncidentStatus, SecurityIncident, SecurityLog, Severity
from pegasus.errors import ValidationError
from pegasus.services import security
from pegasus.services.security import RaidDetector, SecurityConfig, SpamDetector, SpamKind

GUILD = 333_333_333_333_333_333
ADMIN = 900_000_000_000_000_020
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RAID = SecurityConfig(enabled=True, anti_raid_enabled=True, raid_joins=10, raid_seconds=10)
SPAM = SecurityConfig(enabled=True, anti_spam_enabled=True, max_mentions=5, max_duplicates=3)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


# ------------------------------------------------------------------------------------------------
# Settings


async def test_turning_a_protection_on_turns_security_on(db: str) -> None:
    config = await security.update_security_settings(GUILD, ADMIN, anti_raid=True, raid_joins=5)
    assert config.raid_protection_on
    assert config.raid_joins == 5
    assert not config.spam_protection_on
    stored = await GuildSettings.get(guild_id=GUILD)
    assert (stored.raid_joins, stored.anti_raid_enabled, stored.security_enabled) == (5, True, True)
    audit = await AuditLog.get(action="security.set")
    assert audit.before == {"raid_joins": 10, "anti_raid_enabled": False, "security_enabled": False}
    assert audit.after == {"raid_joins": 5, "anti_raid_enabled": True, "security_enabled": True}


async def test_master_switch_and_alert_role(db: str) -> None:
    await security.update_security_settings(GUILD, ADMIN, anti_spam=True, alert_role_id=77)
    config = await security.update_security_settings(GUILD, ADMIN, enabled=False)
    assert config.anti_spam_enabled and not config.spam_protection_on
    assert config.alert_role_id == 77
    config = await security.update_security_settings(GUILD, ADMIN, alert_role_id=None)
    assert config.alert_role_id is None


@pytest.mark.parametrize(
    ("option", "value"),
    [("raid_joins", 1), ("raid_seconds", 301), ("max_mentions", 0), ("max_duplicates", 21)],
)
async def test_limits_are_checked(db: str, option: str, value: int) -> None:
    with pytest.raises(ValidationError, match="must be between"):
        await security.update_security_settings(GUILD, ADMIN, **{option: value})
    assert await AuditLog.all().count() == 0


async def test_nothing_to_change(db: str) -> None:
    with pytest.raises(ValidationError, match="Nothing to change"):
        await security.update_security_settings(GUILD, ADMIN)


# ------------------------------------------------------------------------------------------------
# The raid detector (memory only)


def join_many(detector: RaidDetector, users: range, *, start: float = 0, step: float = 0.5):
    results = []
    for index, user in enumerate(users):
        results.append(
            detector.observe(GUILD, user, at(start + index * step), joins=10, seconds=10)
        )
    return results


def test_normal_join_rate_is_not_a_raid() -> None:
    detector = RaidDetector()
    # 10 joins in 10 seconds is the limit, not above it; then one every 1.1 s goes on for ever.
    assert all(r is None for r in join_many(detector, range(1, 41), step=1.1))


def test_the_join_above_the_limit_starts_a_raid_with_everyone_in_the_window() -> None:
    detector = RaidDetector()
    results = join_many(detector, range(1, 12))
    assert results[:10] == [None] * 10
    raid = results[10]
    assert raid is not None
    assert raid.pending == list(range(1, 12))
    assert detector.in_raid(GUILD, at(5), 10)


def test_joins_during_a_raid_belong_to_it() -> None:
    detector = RaidDetector()
    first = join_many(detector, range(1, 12))[-1]
    assert first is not None
    first.pending.clear()
    more = join_many(detector, range(12, 16), start=5.5)
    assert all(raid is first for raid in more)
    assert first.pending == [12, 13, 14, 15]


def test_a_quiet_period_ends_the_raid() -> None:
    detector = RaidDetector()
    first = join_many(detector, range(1, 12))[-1]
    assert detector.observe(GUILD, 99, at(25.1), joins=10, seconds=10) is None
    assert not detector.in_raid(GUILD, at(25.1), 10)
    second = join_many(detector, range(100, 111), start=30)[-1]
    assert second is not None and second is not first


def test_a_raid_ends_when_the_rate_falls_to_half_the_limit() -> None:
    detector = RaidDetector()
    assert join_many(detector, range(1, 12))[-1] is not None
    # One join every 4 seconds: never more than 3 in 10 seconds, below half of 10.
    later = join_many(detector, range(20, 26), start=14, step=4)
    assert later[-1] is None


def test_guilds_are_counted_apart() -> None:
    detector = RaidDetector()
    for user in range(1, 12):
        other_guild = user % 2
        result = detector.observe(other_guild, user, at(user * 0.1), joins=10, seconds=10)
        assert result is None


# ------------------------------------------------------------------------------------------------
# Raid incidents in the database


async def test_one_incident_per_raid(db: str) -> None:
    detector = RaidDetector()
    reports = [
        await security.handle_join(
            GUILD, user, at(index * 0.5), RAID, detector=detector, rng=Random(1)
        )
        for index, user in enumerate(range(1, 16))
    ]
    assert reports[:10] == [None] * 10
    opened = reports[10]
    assert opened is not None and opened.created
    assert opened.added_user_ids == tuple(range(1, 12))
    for report in reports[11:]:
        assert report is not None and not report.created
        assert report.incident_pk == opened.incident_pk
    assert reports[-1] is not None and reports[-1].total_users == 15

    incident = await SecurityIncident.get()
    assert incident.incident_id == opened.incident_id
    assert incident.incident_id.startswith("I-")
    assert incident.type == "raid"
    assert incident.severity is Severity.HIGH
    assert incident.status is IncidentStatus.OPEN
    assert incident.affected_users == list(range(1, 16))
    assert isinstance(opened.incident_pk, int)
    assert incident.guild_id == GUILD  # type: ignore[attr-defined]
    assert "11 members joined within 10 seconds" in incident.description
    log = await SecurityLog.get()
    assert log.action == "security.raid_detected"
    assert log.severity is Severity.HIGH
    assert log.metadata["incident_id"] == incident.incident_id


async def test_concurrent_joins_make_one_incident_with_everyone(db: str) -> None:
    detector = RaidDetector()
    users = range(1, 41)
    reports = await asyncio.gather(
        *(
            security.handle_join(GUILD, user, at(user * 0.1), RAID, detector=detector)
            for user in users
        )
    )
    assert sum(1 for report in reports if report is not None and report.created) == 1
    incident = await SecurityIncident.get()
    assert sorted(incident.affected_users) == list(users)
    assert await SecurityLog.filter(action="security.raid_detected").count() == 1


async def test_a_new_raid_after_a_quiet_period_is_a_new_incident(db: str) -> None:
    detector = RaidDetector()
    for index, user in enumerate(range(1, 12)):
        await security.handle_join(GUILD, user, at(index * 0.5), RAID, detector=detector)
    for index, user in enumerate(range(100, 111)):
        await security.handle_join(GUILD, user, at(60 + index * 0.5), RAID, detector=detector)
    incidents = await SecurityIncident.all().order_by("id")
    assert [len(incident.affected_users) for incident in incidents] == [11, 11]
    assert incidents[0].incident_id != incidents[1].incident_id


async def test_joins_after_the_incident_was_closed_open_a_new_one(db: str) -> None:
    detector = RaidDetector()
    for index, user in enumerate(range(1, 12)):
        await security.handle_join(GUILD, user, at(index * 0.5), RAID, detector=detector)
    first = await SecurityIncident.get()
    await security.resolve_incident(GUILD, first.incident_id, ADMIN, at(6))
    report = await security.handle_join(GUILD, 50, at(6), RAID, detector=detector)
    assert report is not None and report.created
    assert report.added_user_ids == (50,)
    assert await SecurityIncident.filter(status=IncidentStatus.OPEN).count() == 1


async def test_raids_are_ignored_when_protection_is_off(db: str) -> None:
    detector = RaidDetector()
    off = SecurityConfig(enabled=False, anti_raid_enabled=True, raid_joins=2, raid_seconds=10)
    for user in range(1, 20):
        assert await security.handle_join(GUILD, user, at(0), off, detector=detector) is None
    assert await SecurityIncident.all().count() == 0


async def test_incident_actions_are_appended(db: str) -> None:
    detector = RaidDetector()
    for index, user in enumerate(range(1, 12)):
        report = await security.handle_join(GUILD, user, at(index * 0.5), RAID, detector=detector)
    assert report is not None
    await security.record_incident_action(
        report.incident_pk, {"type": "alert", "channel_id": 5, "message_id": 6}, at(6)
    )
    incident = await SecurityIncident.get()
    assert [action["type"] for action in incident.actions] == ["detected", "alert"]
    assert incident.actions[1]["message_id"] == 6
    assert incident.actions[1]["at"] == at(6).isoformat()


# ------------------------------------------------------------------------------------------------
# Spam


@pytest.mark.parametrize(
    ("content", "count"),
    [
        ("hello", 0),
        ("<@1> <@!2> <@&3>", 3),
        ("<@1><@1><@1>", 3),
        ("@everyone look @here", 2),
        ("<#123> is a channel, not a mention", 0),
    ],
)
def test_mentions_are_counted(content: str, count: int) -> None:
    assert security.count_mentions(content) == count


def test_too_many_mentions() -> None:
    detector = SpamDetector()
    assert detector.check(GUILD, 1, "<@1> " * 5, NOW, SPAM) is None
    verdict = detector.check(GUILD, 1, "<@1> " * 6, NOW, SPAM)
    assert verdict is not None and verdict.kind is SpamKind.MENTIONS
    assert (verdict.count, verdict.limit) == (6, 5)
    assert "too many mentions (6" in verdict.reason()


def test_the_same_message_three_times_in_a_row() -> None:
    detector = SpamDetector()
    assert detector.check(GUILD, 1, "buy now", at(0), SPAM) is None
    assert detector.check(GUILD, 1, "  BUY   now ", at(1), SPAM) is None  # same, once normalised
    verdict = detector.check(GUILD, 1, "buy now", at(2), SPAM)
    assert verdict is not None and verdict.kind is SpamKind.DUPLICATES and verdict.count == 3
    fourth = detector.check(GUILD, 1, "buy now", at(3), SPAM)
    assert fourth is not None and fourth.count == 4


def test_a_different_message_or_person_breaks_the_run() -> None:
    detector = SpamDetector()
    for second, (user, text) in enumerate(
        [(1, "hi"), (1, "hi"), (1, "other"), (1, "hi"), (2, "hi"), (1, "hi")]
    ):
        assert detector.check(GUILD, user, text, at(second), SPAM) is None
    assert detector.check(GUILD, 1, "hi", at(7), SPAM) is not None


def test_repeats_outside_the_window_are_fine() -> None:
    detector = SpamDetector(window_seconds=30)
    for minute in range(5):
        assert detector.check(GUILD, 1, "good morning", at(minute * 20), SPAM) is None


def test_spam_checks_are_off_unless_enabled() -> None:
    detector = SpamDetector()
    off = SecurityConfig(enabled=True, anti_spam_enabled=False)
    assert detector.check(GUILD, 1, "<@1> " * 50, NOW, off) is None
    assert len(detector) == 0


def test_old_runs_are_forgotten() -> None:
    detector = SpamDetector(window_seconds=30)
    for user in range(100):
        detector.check(GUILD, user, "hello", at(0), SPAM)
    assert len(detector) == 100
    detector.check(GUILD, 1000, "hello", at(31), SPAM)
    assert len(detector) == 1


def test_attachments_only_do_not_count_as_repeats() -> None:
    detector = SpamDetector()
    for second in range(5):
        assert detector.check(GUILD, 1, "", at(second), SPAM) is None


async def test_spam_is_logged(db: str) -> None:
    verdict = security.SpamVerdict(SpamKind.MENTIONS, 9, 5)
    await security.record_spam(GUILD, 42, verdict, channel_id=7, message_id=8, deleted=True)
    log = await SecurityLog.get()
    assert log.action == "security.spam_mentions"
    assert log.severity is Severity.MEDIUM
    assert log.user_id == 42  # type: ignore[attr-defined]
    assert log.metadata == {
        "channel_id": 7,
        "message_id": 8,
        "count": 9,
        "limit": 5,
        "deleted": True,
    }
    assert "too many mentions" in log.description
