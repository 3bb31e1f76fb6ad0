"""Raid response rules without Discord: the wave, the age gate, the lock's overwrite, what a lock
remembers, the settings' rules, and a raid resumed after a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.security import SecurityIncident
from pegasus.errors import ValidationError
from pegasus.services import raids
from pegasus.services.raids import LOCK_BITS, THREAD_LOCK_BITS, Joiner, Overwrite, RaidAction
from pegasus.services.security import RaidDetector, SecurityConfig, handle_join, resume_raids

GUILD = 444_444_444_444_444_444
ADMIN = 900_000_000_000_000_021
CHANNEL = 555_555_555_555_555_555
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = SecurityConfig(enabled=True, anti_raid_enabled=True, raid_joins=3, raid_seconds=60)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_the_wave_leaves_staff_bots_and_earlier_members_alone() -> None:
    joiners = [
        Joiner(1, at(0), is_staff=False, is_bot=False),
        Joiner(2, at(1), is_staff=True, is_bot=False),
        Joiner(3, at(2), is_staff=False, is_bot=True),
        Joiner(4, at(-61), is_staff=False, is_bot=False),
        Joiner(5, None, is_staff=False, is_bot=False),
        Joiner(6, at(-60), is_staff=False, is_bot=False),
    ]
    assert raids.wave_targets(joiners, at(-60)) == [1, 6]


def test_young_accounts() -> None:
    assert raids.too_young(NOW - timedelta(days=2), NOW, 7)
    assert not raids.too_young(NOW - timedelta(days=7), NOW, 7)
    assert not raids.too_young(NOW, NOW, 0)  # the gate is off


def test_a_lock_denies_sending_and_reacting_and_keeps_every_other_bit() -> None:
    assert raids.locked_overwrite(None, 0) == Overwrite(0, LOCK_BITS)
    previous = Overwrite(allow=(1 << 11) | (1 << 14), deny=1 << 15)
    locked = raids.locked_overwrite(previous, 0)
    assert locked == Overwrite(allow=1 << 14, deny=(1 << 15) | LOCK_BITS)


def test_a_lock_closes_threads_as_far_as_the_bot_may() -> None:
    """Sending in a thread needs Send Messages in Threads: a lock denies it, and creating
    threads, unless the bot lacks the permission (Discord would refuse the whole overwrite)."""
    everything = raids.locked_overwrite(Overwrite(allow=1 << 38, deny=0))
    assert everything == Overwrite(allow=0, deny=LOCK_BITS | THREAD_LOCK_BITS)
    no_private = THREAD_LOCK_BITS & ~(1 << 36)
    partly = raids.locked_overwrite(None, no_private)
    assert partly == Overwrite(0, LOCK_BITS | no_private)


async def test_a_second_lock_keeps_the_first_remembered_overwrite(db: str) -> None:
    first = await raids.remember_lock(GUILD, CHANNEL, Overwrite(8, 16), reason="one")
    second = await raids.remember_lock(GUILD, CHANNEL, Overwrite(0, LOCK_BITS), reason="two")
    assert first == second and second.previous == Overwrite(8, 16) and second.reason == "one"
    assert await raids.forget_lock(GUILD, CHANNEL)
    none_before = await raids.remember_lock(GUILD, CHANNEL, None, reason=None)
    assert none_before.previous is None
    assert [lock.channel_id for lock in await raids.remembered_locks(GUILD)] == [CHANNEL]


async def test_slowmodes_remember_the_first_value(db: str) -> None:
    await raids.remember_slowmode(GUILD, CHANNEL, 5, 120)
    kept = await raids.remember_slowmode(GUILD, CHANNEL, 120, 300)
    assert (kept.previous_seconds, kept.raised_to) == (5, 120)
    assert await raids.forget_slowmode(GUILD, CHANNEL)
    assert await raids.remembered_slowmodes(GUILD) == []


async def test_raid_settings_are_checked_and_audited(db: str) -> None:
    config = await raids.update_raid_settings(
        GUILD, ADMIN, {"raid_action": "ban", "raid_slowmode_seconds": 30}
    )
    assert config.action is RaidAction.BAN and config.slowmode_seconds == 30 and config.responds
    with pytest.raises(ValidationError, match="none, kick or ban"):
        await raids.update_raid_settings(GUILD, ADMIN, {"raid_action": "explode"})
    config = await raids.toggle_raid_channel(GUILD, ADMIN, CHANNEL, lockdown=True, slowmode=None)
    assert config.lockdown_channel_ids == (CHANNEL,) and config.slowmode_channel_ids == ()
    config = await raids.toggle_raid_channel(GUILD, ADMIN, CHANNEL, lockdown=False, slowmode=True)
    assert config.lockdown_channel_ids == () and config.slowmode_channel_ids == (CHANNEL,)


async def test_the_verification_gate_needs_a_role(db: str) -> None:
    with pytest.raises(ValidationError, match="needs a verified role"):
        await raids.update_verification_settings(GUILD, ADMIN, {"verification_enabled": True})
    with pytest.raises(ValidationError, match="two different roles"):
        await raids.update_verification_settings(
            GUILD, ADMIN, {"verified_role_id": 7, "unverified_role_id": 7}
        )
    config = await raids.update_verification_settings(
        GUILD, ADMIN, {"verification_enabled": True, "unverified_role_id": 7}
    )
    assert config.enabled and config.unverified_role_id == 7


async def test_a_raid_resumed_after_a_restart_stays_one_incident(db: str) -> None:
    before = RaidDetector()
    for user in range(1, 5):
        await handle_join(GUILD, user, at(user), CONFIG, detector=before)
    incident = await SecurityIncident.get()
    active = await raids.active_raid(GUILD, at(5), hold_seconds=600)
    assert active is not None and active.incident_pk == incident.pk

    after = RaidDetector()  # a new process: nothing in memory
    assert await resume_raids(after, at(20), lambda _guild: True) == 1
    report = await handle_join(GUILD, 9, at(21), CONFIG, detector=after)
    assert report is not None and not report.created and report.incident_pk == incident.pk
    assert report.added_user_ids == (9,)
    assert await SecurityIncident.all().count() == 1
    stored = await SecurityIncident.get()
    assert stored.affected_users == [1, 2, 3, 4, 9]


async def test_a_raid_long_over_is_not_resumed(db: str) -> None:
    detector = RaidDetector()
    for user in range(1, 5):
        await handle_join(GUILD, user, at(user), CONFIG, detector=detector)
    assert await resume_raids(RaidDetector(), at(3600), lambda _guild: True) == 0
    assert await raids.active_raid(GUILD, at(3600), hold_seconds=600) is None
