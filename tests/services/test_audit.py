"""The rows an audit entry refers to are created the way the directory creates them."""

from __future__ import annotations

import asyncio

from models.guilds import Guild, GuildSettings, User
from models.security import AuditLog
from pegasus.services.audit import ensure_rows, record_audit

GUILD = 1_000_000_000_000_000_001
ALICE = 2_000_000_000_000_000_001
BOB = 2_000_000_000_000_000_002


async def test_ensure_rows_creates_the_guild_its_settings_and_the_users(db: str) -> None:
    await ensure_rows(GUILD, [BOB, None, ALICE, BOB])

    assert await Guild.filter(id=GUILD).count() == 1
    assert await GuildSettings.filter(guild_id=GUILD).count() == 1
    assert sorted(await User.all().values_list("id", flat=True)) == [ALICE, BOB]


async def test_ensure_rows_without_a_guild_creates_only_users(db: str) -> None:
    await ensure_rows(None, [ALICE])

    assert await Guild.all().count() == 0
    assert await User.filter(id=ALICE).count() == 1


async def test_ensure_rows_never_overwrites_or_duplicates(db: str) -> None:
    await User.create(id=ALICE, username="alice")
    await ensure_rows(GUILD, [ALICE])
    await asyncio.gather(*(ensure_rows(GUILD, [ALICE, BOB]) for _ in range(5)))

    assert (await User.get(id=ALICE)).username == "alice"
    assert await User.all().count() == 2
    assert await Guild.all().count() == 1
    assert await GuildSettings.all().count() == 1


async def test_an_audit_entry_can_follow_ensure_rows(db: str) -> None:
    await ensure_rows(GUILD, [ALICE])
    await record_audit(
        guild_id=GUILD, actor_id=ALICE, action="modlog.set", after={"channel_id": 5}
    )

    stored = await AuditLog.get(action="modlog.set")
    assert (stored.guild_id, stored.actor_id, stored.after) == (GUILD, ALICE, {"channel_id": 5})
