"""The blacklist: scopes, owners-only bot-wide entries, the in-memory check and its refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cogs.moderation.blacklist import blacklist_refusal
from models.security import AuditLog, Blacklist, BlacklistEntityType
from pegasus.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from pegasus.services import moderation
from pegasus.services.moderation import BlacklistCache, BlacklistEntry

Kind = BlacklistEntityType
GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
MOD = 900_000_000_000_000_001
OWNER = 900_000_000_000_000_009
ALICE = 800_000_000_000_000_001
CHANNEL = 600_000_000_000_000_001
ROLE = 500_000_000_000_000_001
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def cache() -> BlacklistCache:
    """The copy a running bot would hold: the changes below are handed it."""
    return BlacklistCache()


async def add(
    cache: BlacklistCache, kind: Kind, entity_id: int, guild_id: int | None = GUILD, **kwargs
) -> BlacklistEntry:
    kwargs.setdefault("actor_id", MOD)
    kwargs.setdefault("reason", "abuse")
    kwargs.setdefault("now", NOW)
    return await moderation.add_entry(kind, entity_id, guild_id=guild_id, cache=cache, **kwargs)


async def test_guild_entries_block_in_that_guild_only(db: str, cache: BlacklistCache) -> None:
    await add(cache, Kind.USER, ALICE)

    hit = await cache.check(now=NOW, guild_id=GUILD, user_id=ALICE)
    assert hit is not None and hit.entity_type == Kind.USER and not hit.bot_wide
    assert blacklist_refusal(hit) == (
        "You are blacklisted from using this bot in this server: abuse."
    )
    assert await cache.check(now=NOW, guild_id=OTHER_GUILD, user_id=ALICE) is None
    assert cache.match(now=NOW, guild_id=GUILD, user_id=ALICE) == hit


async def test_roles_and_channels(db: str, cache: BlacklistCache) -> None:
    await add(cache, Kind.ROLE, ROLE)
    await add(cache, Kind.CHANNEL, CHANNEL)

    by_role = await cache.check(now=NOW, guild_id=GUILD, user_id=ALICE, role_ids=[1, ROLE])
    by_channel = await cache.check(now=NOW, guild_id=GUILD, user_id=ALICE, channel_id=CHANNEL)
    assert by_role is not None and by_role.entity_type == Kind.ROLE
    assert by_channel is not None and "disabled in this channel" in blacklist_refusal(by_channel)
    assert await cache.check(now=NOW, guild_id=GUILD, user_id=ALICE, channel_id=1) is None


async def test_bot_wide_entries_need_an_owner(db: str, cache: BlacklistCache) -> None:
    with pytest.raises(PermissionDenied, match="owners"):
        await add(cache, Kind.USER, ALICE, None)
    with pytest.raises(ValidationError, match="bot-wide"):
        await add(cache, Kind.GUILD, OTHER_GUILD)  # a guild blacklisting a guild makes no sense
    with pytest.raises(ValidationError, match="users and servers only"):
        await add(cache, Kind.ROLE, ROLE, None, actor_id=OWNER, actor_is_owner=True)

    await add(cache, Kind.USER, ALICE, None, actor_id=OWNER, actor_is_owner=True)
    await add(cache, Kind.GUILD, OTHER_GUILD, None, actor_id=OWNER, actor_is_owner=True)

    everywhere = await cache.check(now=NOW, guild_id=GUILD, user_id=ALICE)
    assert everywhere is not None and everywhere.bot_wide
    assert "from using this bot:" in blacklist_refusal(everywhere)
    guild_hit = await cache.is_guild_blacklisted(OTHER_GUILD, now=NOW)
    assert guild_hit is not None and guild_hit.entity_type == Kind.GUILD
    assert await cache.is_guild_blacklisted(GUILD, now=NOW) is None
    # A blacklisted guild blocks everyone in it.
    assert await cache.check(now=NOW, guild_id=OTHER_GUILD, user_id=MOD) is not None


async def test_entries_expire(db: str, cache: BlacklistCache) -> None:
    entry = await add(cache, Kind.USER, ALICE, duration_seconds=3600)

    assert entry.expires_at == NOW + timedelta(hours=1)
    assert await cache.check(now=NOW, guild_id=GUILD, user_id=ALICE) is not None
    later = NOW + timedelta(hours=1, seconds=1)
    assert await cache.check(now=later, guild_id=GUILD, user_id=ALICE) is None
    assert await moderation.list_entries(GUILD, now=later) == []
    # An expired entry may be added again (the row is reused).
    again = await add(cache, Kind.USER, ALICE, now=later, reason="again")
    assert again.id == entry.id and again.expires_at is None and again.reason == "again"


async def test_duplicates_conflict_and_removal_is_kept(db: str, cache: BlacklistCache) -> None:
    await add(cache, Kind.USER, ALICE)
    with pytest.raises(ConflictError, match="already blacklisted"):
        await add(cache, Kind.USER, ALICE)

    removed = await moderation.remove_entry(
        Kind.USER, ALICE, guild_id=GUILD, actor_id=MOD, now=NOW, cache=cache
    )

    assert not removed.active
    assert await Blacklist.filter(entity_id=ALICE).count() == 1  # kept, inactive
    assert await cache.check(now=NOW, guild_id=GUILD, user_id=ALICE) is None
    with pytest.raises(NotFoundError):
        await moderation.remove_entry(Kind.USER, ALICE, guild_id=GUILD, actor_id=MOD, now=NOW)
    audits = await AuditLog.all().order_by("created_at")
    assert [a.action for a in audits] == ["blacklist.add", "blacklist.remove"]
    assert audits[1].before["active"] is True and audits[1].after["active"] is False


async def test_reason_is_required(db: str, cache: BlacklistCache) -> None:
    with pytest.raises(ValidationError, match="reason"):
        await add(cache, Kind.USER, ALICE, reason="  ")


async def test_list_entries(db: str, cache: BlacklistCache) -> None:
    await add(cache, Kind.USER, ALICE)
    await add(cache, Kind.CHANNEL, CHANNEL)
    await add(cache, Kind.USER, MOD, None, actor_id=OWNER, actor_is_owner=True)

    local = await moderation.list_entries(GUILD, now=NOW)
    both = await moderation.list_entries(GUILD, now=NOW, include_bot_wide=True)
    assert {(e.entity_type, e.entity_id) for e in local} == {
        (Kind.USER, ALICE),
        (Kind.CHANNEL, CHANNEL),
    }
    assert len(both) == 3


async def test_cache_sees_other_writers_after_its_ttl(db: str) -> None:
    ticks = [0.0]
    cache = BlacklistCache(ttl_seconds=30, clock=lambda: ticks[0])
    await cache.ensure_fresh()
    # Another process adds an entry: written straight to the table.
    await Blacklist.create(
        entity_type=Kind.USER, entity_id=ALICE, guild_id=None, reason="elsewhere", scope_id=0
    )

    ticks[0] = 29.0
    await cache.ensure_fresh()
    assert cache.match(now=NOW, guild_id=GUILD, user_id=ALICE) is None  # still the old copy
    ticks[0] = 31.0
    await cache.ensure_fresh()
    assert cache.match(now=NOW, guild_id=GUILD, user_id=ALICE) is not None


async def test_check_cached_before_any_load_lets_everyone_through(
    db: str, cache: BlacklistCache
) -> None:
    await Blacklist.create(
        entity_type=Kind.USER, entity_id=ALICE, guild_id=None, reason="x", scope_id=0
    )
    assert not cache.loaded
    assert cache.match(now=NOW, guild_id=GUILD, user_id=ALICE) is None
    assert await cache.check(now=NOW, guild_id=GUILD, user_id=ALICE) is not None
