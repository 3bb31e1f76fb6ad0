"""Guilds, users and members are upserted in batches and never duplicated."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from models.guilds import Guild, GuildSettings, Member, User
from pegasus.services import directory
from pegasus.services.directory import MemberInfo, UserInfo

GUILD = 1_000_000_000_000_000_001


def members(count: int, *, nick: str | None = None) -> list[MemberInfo]:
    return [
        MemberInfo(
            user=UserInfo(id=10_000 + i, username=f"user{i}", global_name=f"User {i}"),
            nickname=nick,
            joined_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        for i in range(count)
    ]


async def test_snapshot_of_a_large_guild_is_written_in_batches(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        await directory.upsert_members(GUILD, members(1_200))
    statements = [
        r.getMessage()
        for r in caplog.records
        if r.name == "tortoise.db_client" and "INSERT" in r.getMessage().upper()
    ]

    assert await Member.filter(guild_id=GUILD).count() == 1_200
    assert await User.all().count() == 1_200
    # guild + settings, then users and memberships in batches of 1,000: 2 + 2 + 2 statements.
    assert len(statements) == 6


async def test_upsert_updates_in_place(db: None) -> None:
    await directory.upsert_members(GUILD, members(3))
    renamed = [
        MemberInfo(user=UserInfo(id=m.user.id, username="renamed"), nickname="nick")
        for m in members(3)
    ]
    await directory.upsert_members(GUILD, renamed)
    assert await Member.filter(guild_id=GUILD).count() == 3
    assert set(await Member.filter(guild_id=GUILD).values_list("nickname", flat=True)) == {"nick"}
    assert set(await User.all().values_list("username", flat=True)) == {"renamed"}


async def test_ensure_member_is_idempotent_and_creates_settings(db: None) -> None:
    for _ in range(3):
        await directory.ensure_member(GUILD, 42)
    assert await Guild.filter(id=GUILD).count() == 1
    assert await GuildSettings.filter(guild_id=GUILD).count() == 1
    assert await Member.filter(guild_id=GUILD, user_id=42).count() == 1


async def test_leaving_a_guild_keeps_its_data(db: None) -> None:
    await directory.upsert_members(GUILD, members(2))
    await directory.mark_guild_left(GUILD, now=datetime(2026, 1, 1, tzinfo=UTC))
    guild = await Guild.get(id=GUILD)
    assert guild.left_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert await Member.filter(guild_id=GUILD).count() == 2
    await directory.mark_guild_joined(GUILD)
    assert (await Guild.get(id=GUILD)).left_at is None


async def test_settings_created_by_the_sync_hold_the_same_defaults_as_the_models(db: None) -> None:
    """The sync writes settings rows of many guilds in multi-row statements, not as models."""
    sync = directory.DirectorySync()
    guild_ids = [GUILD + n for n in range(1, 251)]  # more than one statement's rows
    for guild_id in guild_ids:
        sync.guild_available(guild_id, members(2))
    await sync.drained()
    await GuildSettings.create(guild_id=(await Guild.create(id=GUILD)).id)

    skip = {"id", "guild_id", "created_at", "updated_at"}
    rows = await GuildSettings.all().order_by("guild_id").values()
    by_model, *by_sync = ({k: v for k, v in row.items() if k not in skip} for row in rows)
    assert len(by_sync) == len(guild_ids)
    assert all(row == by_model for row in by_sync)
    # A guild seen again keeps its settings as they are.
    await GuildSettings.filter(guild_id=guild_ids[0]).update(xp_rate=250)
    sync.guild_available(guild_ids[0], members(2))
    await sync.drained()
    assert (await GuildSettings.get(guild_id=guild_ids[0])).xp_rate == 250
