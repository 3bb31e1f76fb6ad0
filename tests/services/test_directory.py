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


async def test_members_from_a_gateway_payload_are_stored_as_member_infos_are(db: None) -> None:
    """GUILD_CREATE and member chunks are converted straight to rows: the same rows as a
    MemberInfo gives (names cut to the columns, times in UTC), and unchanged ones not rewritten."""
    from pegasus.ui.users import member_rows_from_payload

    payload = [
        {
            "user": {
                "id": "5001",
                "username": "x" * 80,
                "global_name": "G" * 70,
                "avatar": "a1",
                "discriminator": "1234",
                "bot": True,
            },
            "nick": "n" * 70,
            "joined_at": "2024-05-01T12:00:00.123000+02:00",
        },
        {"user": {"id": "5002", "username": "plain"}, "joined_at": None},
        {"nick": "a member without a user object is skipped"},
    ]
    infos = [
        MemberInfo(
            user=UserInfo(
                id=5001,
                username="x" * 80,
                global_name="G" * 70,
                discriminator="1234",
                avatar="a1",
                is_bot=True,
            ),
            nickname="n" * 70,
            joined_at=datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC),
        ),
        MemberInfo(user=UserInfo(id=5002, username="plain")),
    ]
    sync = directory.DirectorySync()
    sync.guild_available(GUILD)
    sync.member_rows_seen(GUILD, member_rows_from_payload(payload))
    await sync.drained()
    columns = (
        "user_id",
        "nickname",
        "joined_at",
        "user__username",
        "user__global_name",
        "user__discriminator",
        "user__avatar",
        "user__is_bot",
    )
    from_payload = await Member.filter(guild_id=GUILD).order_by("user_id").values_list(*columns)
    assert [row[0] for row in from_payload] == [5001, 5002]
    assert from_payload[0][1:] == (
        "n" * 64,
        infos[0].joined_at,
        "x" * 64,
        "G" * 64,
        "1234",
        "a1",
        True,
    )

    # The same members as MemberInfo, stored in the same rows, are found unchanged.
    before = sync.totals
    sync.members_seen(GUILD, infos)
    await sync.drained()
    assert (sync.totals.users_written, sync.totals.members_written) == (
        before.users_written,
        before.members_written,
    )
    assert await Member.filter(guild_id=GUILD).order_by("user_id").values_list(*columns) == (
        from_payload
    )
