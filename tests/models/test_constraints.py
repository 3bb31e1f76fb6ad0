"""Constraints SCHEMA.md asks for, enforced by the database that the migrations build."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.guilds import Guild, GuildSettings, Member, User
from models.moderation import CaseType, ModCase
from models.security import (
    BOT_WIDE_SCOPE,
    ApiKey,
    AuditLog,
    Blacklist,
    BlacklistEntityType,
    RateLimitViolation,
    SecurityIncident,
)

GUILD_ID = 900_000_000_000_000_001
OTHER_GUILD_ID = 900_000_000_000_000_002
ALICE = 800_000_000_000_000_001
MOD = 800_000_000_000_000_002


async def _guild_and_users() -> tuple[Guild, User, User]:
    guild = await Guild.create(id=GUILD_ID)
    alice = await User.create(id=ALICE, username="alice")
    mod = await User.create(id=MOD, username="mod")
    return guild, alice, mod


async def test_snowflakes_beyond_32_bits_round_trip(db: str) -> None:
    await Guild.create(id=2**63 - 1)
    assert (await Guild.get(id=2**63 - 1)).id == 2**63 - 1


async def test_a_user_is_a_member_of_a_guild_once(db: str) -> None:
    guild, alice, _ = await _guild_and_users()
    await Member.create(guild=guild, user=alice)
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await Member.create(guild=guild, user=alice)
    assert await Member.filter(guild=guild, user=alice).count() == 1


async def test_the_same_user_may_be_a_member_of_two_guilds(db: str) -> None:
    guild, alice, _ = await _guild_and_users()
    other = await Guild.create(id=OTHER_GUILD_ID)
    await Member.create(guild=guild, user=alice)
    await Member.create(guild=other, user=alice)
    assert await Member.filter(user=alice).count() == 2


async def test_a_guild_has_one_settings_row(db: str) -> None:
    guild, _, _ = await _guild_and_users()
    await GuildSettings.create(guild=guild)
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await GuildSettings.create(guild=guild)


async def test_deleting_a_guild_removes_its_members_and_settings(db: str) -> None:
    guild, alice, mod = await _guild_and_users()
    other = await Guild.create(id=OTHER_GUILD_ID)
    await GuildSettings.create(guild=guild)
    await GuildSettings.create(guild=other)
    await Member.create(guild=guild, user=alice)
    await Member.create(guild=guild, user=mod)
    await Member.create(guild=other, user=alice)

    await Guild.filter(id=GUILD_ID).delete()

    assert await Member.filter(guild_id=GUILD_ID).count() == 0
    assert await GuildSettings.filter(guild_id=GUILD_ID).count() == 0
    # Other guilds and the users themselves stay.
    assert await Member.filter(guild_id=OTHER_GUILD_ID).count() == 1
    assert await GuildSettings.filter(guild_id=OTHER_GUILD_ID).count() == 1
    assert await User.filter(id__in=[ALICE, MOD]).count() == 2


async def test_deleting_a_user_removes_their_memberships(db: str) -> None:
    guild, alice, mod = await _guild_and_users()
    await Member.create(guild=guild, user=alice)
    await Member.create(guild=guild, user=mod)
    await User.filter(id=ALICE).delete()
    assert await Member.filter(guild=guild).values_list("user_id", flat=True) == [MOD]


async def test_deleting_a_moderator_keeps_their_cases_with_no_moderator(db: str) -> None:
    guild, alice, mod = await _guild_and_users()
    case = await ModCase.create(
        guild=guild, case_number=1, type=CaseType.BAN, user=alice, moderator=mod, reason="spam"
    )

    await User.filter(id=MOD).delete()

    kept = await ModCase.get(id=case.id)
    assert kept.moderator_id is None  # type: ignore[attr-defined]
    assert kept.user_id == ALICE  # type: ignore[attr-defined]
    assert kept.reason == "spam"


async def test_case_numbers_are_unique_per_guild(db: str) -> None:
    guild, alice, _ = await _guild_and_users()
    other = await Guild.create(id=OTHER_GUILD_ID)
    await ModCase.create(guild=guild, case_number=1, type=CaseType.WARN, user=alice)
    await ModCase.create(guild=other, case_number=1, type=CaseType.WARN, user=alice)
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await ModCase.create(guild=guild, case_number=1, type=CaseType.KICK, user=alice)


async def test_deleting_an_actor_keeps_security_records(db: str) -> None:
    guild, _alice, mod = await _guild_and_users()
    entry = await Blacklist.create(
        entity_type=BlacklistEntityType.USER, entity_id=ALICE, guild=guild, added_by=mod
    )
    incident = await SecurityIncident.create(
        incident_id="I-7K2QX", guild=guild, type="raid", resolved_by=mod
    )
    log = await AuditLog.create(guild=guild, actor=mod, action="settings.update")

    await User.filter(id=MOD).delete()

    assert (await Blacklist.get(id=entry.id)).added_by_id is None  # type: ignore[attr-defined]
    resolved = await SecurityIncident.get(id=incident.id)
    assert resolved.resolved_by_id is None  # type: ignore[attr-defined]
    assert (await AuditLog.get(id=log.id)).actor_id is None  # type: ignore[attr-defined]


async def test_a_blacklist_entry_is_unique_per_scope(db: str) -> None:
    guild, _, _ = await _guild_and_users()
    other = await Guild.create(id=OTHER_GUILD_ID)
    kind = BlacklistEntityType.USER
    await Blacklist.create(entity_type=kind, entity_id=ALICE, guild=guild)
    await Blacklist.create(entity_type=kind, entity_id=ALICE, guild=other)
    await Blacklist.create(entity_type=BlacklistEntityType.CHANNEL, entity_id=ALICE, guild=guild)
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await Blacklist.create(entity_type=kind, entity_id=ALICE, guild=guild)


async def test_a_bot_wide_blacklist_entry_cannot_be_stored_twice(db: str) -> None:
    # With a unique key on the nullable guild_id alone, SQL would accept both rows.
    first = await Blacklist.create(entity_type=BlacklistEntityType.USER, entity_id=ALICE)
    assert first.scope_id == BOT_WIDE_SCOPE
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await Blacklist.create(entity_type=BlacklistEntityType.USER, entity_id=ALICE)


async def test_blacklist_scope_follows_its_guild(db: str) -> None:
    guild, _, _ = await _guild_and_users()
    entry = await Blacklist.create(
        entity_type=BlacklistEntityType.ROLE, entity_id=5, guild=guild
    )
    assert (await Blacklist.get(id=entry.id)).scope_id == GUILD_ID


async def test_a_rate_limit_subject_has_one_row_per_endpoint(db: str) -> None:
    await RateLimitViolation.create(subject=f"user:{ALICE}", user_id=ALICE, endpoint="/balance")
    await RateLimitViolation.create(subject=f"user:{ALICE}", user_id=ALICE, endpoint="/work")
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await RateLimitViolation.create(subject=f"user:{ALICE}", endpoint="/balance")


async def test_api_key_hashes_and_incident_ids_are_unique(db: str) -> None:
    _, alice, _ = await _guild_and_users()
    await ApiKey.create(name="a", owner=alice, key_prefix="pk_1", key_hash="a" * 64)
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await ApiKey.create(name="b", owner=alice, key_prefix="pk_2", key_hash="a" * 64)
    await SecurityIncident.create(incident_id="I-22222", type="spam")
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await SecurityIncident.create(incident_id="I-22222", type="raid")


async def test_an_api_key_goes_with_its_owner(db: str) -> None:
    _, alice, _ = await _guild_and_users()
    key = await ApiKey.create(name="a", owner=alice, key_prefix="pk_1", key_hash="b" * 64)
    await User.filter(id=ALICE).delete()
    assert not await ApiKey.filter(id=key.id).exists()
