"""API keys: who may create them, secrets shown once and stored hashed, verify, list, revoke."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from random import Random

import pytest

from models.security import ApiKey, AuditLog
from pegasus.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from pegasus.services import security

GUILD = 555_555_555_555_555_555
OTHER_GUILD = 555_555_555_555_555_556
OWNER = 900_000_000_000_000_030  # a bot owner
ADMIN = 900_000_000_000_000_031  # an admin of GUILD
ALICE = 800_000_000_000_000_051
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def make_key(
    owner_id: int = ADMIN,
    *,
    guild_id: int | None = GUILD,
    is_bot_owner: bool = False,
    is_guild_admin: bool = True,
    name: str = "dashboard",
    expires_in_seconds: int | None = None,
    rng: Random | None = None,
) -> security.CreatedApiKey:
    return await security.create_api_key(
        owner_id=owner_id,
        name=name,
        scopes=["economy:read", "levels:read"],
        guild_id=guild_id,
        now=NOW,
        is_bot_owner=is_bot_owner,
        is_guild_admin=is_guild_admin,
        expires_in_seconds=expires_in_seconds,
        rng=rng,
    )


def test_scopes_are_parsed() -> None:
    assert security.parse_scopes("economy:read, levels:read economy:read") == [
        "economy:read",
        "levels:read",
    ]
    read = security.parse_scopes("read")
    assert read and all(scope.endswith(":read") for scope in read)
    assert security.parse_scopes("all") == list(security.API_SCOPES)
    with pytest.raises(ValidationError, match="`economy:steal` is not a scope"):
        security.parse_scopes("economy:steal")
    with pytest.raises(ValidationError, match="at least one scope"):
        security.parse_scopes("  ")


async def test_the_secret_is_shown_once_and_only_its_hash_is_stored(db: str) -> None:
    created = await make_key()
    secret = created.secret
    assert secret.startswith("pgs_") and len(secret) == 44
    key = await ApiKey.get(id=created.key.id)
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.key_prefix == secret[:12]
    assert key.scopes == ["economy:read", "levels:read"]
    assert key.guild_id == GUILD  # type: ignore[attr-defined]
    assert key.owner_id == ADMIN  # type: ignore[attr-defined]
    assert (created.key.guild_id, created.key.owner_id) == (GUILD, ADMIN)
    assert created.key.scopes == ("economy:read", "levels:read")
    # The secret appears in no stored column, nor in the audit trail.
    stored = await ApiKey.filter(id=key.id).values()
    assert secret not in repr(stored)
    audit = await AuditLog.get(action="api_key.create")
    assert secret not in repr(audit.after)
    assert audit.after is not None and audit.after["prefix"] == key.key_prefix


async def test_who_may_create_keys(db: str) -> None:
    with pytest.raises(PermissionDenied, match="bot-wide"):
        await make_key(ALICE, guild_id=None, is_guild_admin=True)
    with pytest.raises(PermissionDenied, match="Administrator"):
        await make_key(ALICE, is_guild_admin=False)
    bot_wide = await make_key(OWNER, guild_id=None, is_bot_owner=True, is_guild_admin=False)
    assert bot_wide.key.guild_id is None
    elsewhere = await make_key(OWNER, guild_id=OTHER_GUILD, is_bot_owner=True, is_guild_admin=False)
    assert elsewhere.key.guild_id == OTHER_GUILD


async def test_names_and_scopes_are_checked(db: str) -> None:
    with pytest.raises(ValidationError, match="name"):
        await make_key(name=" ")
    with pytest.raises(ValidationError, match="Unknown or missing scopes: nope"):
        await security.create_api_key(
            owner_id=ADMIN,
            name="x",
            scopes=["nope"],
            guild_id=GUILD,
            now=NOW,
            is_bot_owner=False,
            is_guild_admin=True,
        )


async def test_active_keys_per_owner_are_limited(db: str) -> None:
    for index in range(security.MAX_ACTIVE_KEYS_PER_OWNER):
        await make_key(name=f"k{index}")
    with pytest.raises(ConflictError, match="revoke one"):
        await make_key(name="one too many")


async def test_verify_counts_each_use(db: str) -> None:
    created = await make_key()
    key = await security.verify_api_key(created.secret, NOW + timedelta(minutes=1))
    assert key.id == created.key.id
    assert key.usage_count == 1
    assert key.last_used_at == NOW + timedelta(minutes=1)
    await asyncio.gather(*(security.verify_api_key(created.secret, NOW) for _ in range(30)))
    assert (await ApiKey.get(id=key.id)).usage_count == 31


@pytest.mark.parametrize("secret", ["", "nope", "pgs_" + "x" * 40])
async def test_wrong_secrets_are_refused(db: str, secret: str) -> None:
    await make_key()
    with pytest.raises(PermissionDenied, match="Invalid"):
        await security.verify_api_key(secret, NOW)


async def test_expired_keys_are_refused(db: str) -> None:
    created = await make_key(expires_in_seconds=3600)
    assert created.key.expires_at == NOW + timedelta(hours=1)
    await security.verify_api_key(created.secret, NOW + timedelta(minutes=59))
    with pytest.raises(PermissionDenied, match="expired"):
        await security.verify_api_key(created.secret, NOW + timedelta(hours=1))
    assert (await ApiKey.get(id=created.key.id)).usage_count == 1


async def test_revoked_keys_are_refused(db: str) -> None:
    created = await make_key()
    revoked = await security.revoke_api_key(
        created.key.key_prefix,
        actor_id=ADMIN,
        guild_id=GUILD,
        is_bot_owner=False,
        is_guild_admin=True,
    )
    assert not revoked.active
    with pytest.raises(PermissionDenied):
        await security.verify_api_key(created.secret, NOW)
    with pytest.raises(ConflictError, match="already revoked"):
        await security.revoke_api_key(
            str(created.key.id),
            actor_id=ADMIN,
            guild_id=GUILD,
            is_bot_owner=False,
            is_guild_admin=True,
        )
    audit = await AuditLog.get(action="api_key.revoke")
    assert audit.target_id == str(created.key.id)
    assert (audit.before, audit.after) == ({"active": True}, {"active": False})


async def test_who_may_revoke(db: str) -> None:
    created = await make_key(ADMIN)
    # Someone else, without rights here, is told the key does not exist.
    with pytest.raises(NotFoundError, match="no API key"):
        await security.revoke_api_key(
            created.key.key_prefix,
            actor_id=ALICE,
            guild_id=GUILD,
            is_bot_owner=False,
            is_guild_admin=False,
        )
    # An admin of another guild neither.
    with pytest.raises(NotFoundError):
        await security.revoke_api_key(
            created.key.key_prefix,
            actor_id=ALICE,
            guild_id=OTHER_GUILD,
            is_bot_owner=False,
            is_guild_admin=True,
        )
    # Another admin of the key's guild may.
    await security.revoke_api_key(
        created.key.key_prefix,
        actor_id=ALICE,
        guild_id=GUILD,
        is_bot_owner=False,
        is_guild_admin=True,
    )
    with pytest.raises(NotFoundError):
        await security.revoke_api_key(
            "pgs_unknown", actor_id=OWNER, guild_id=None, is_bot_owner=True, is_guild_admin=False
        )


async def test_a_secret_collision_draws_again(db: str) -> None:
    first = await make_key(rng=Random(7))
    second = await make_key(rng=Random(7))  # the same first draw: its hash is taken
    assert first.secret != second.secret
    assert (await security.verify_api_key(first.secret, NOW)).id == first.key.id
    assert (await security.verify_api_key(second.secret, NOW)).id == second.key.id


async def test_an_ambiguous_prefix_asks_for_the_id(db: str) -> None:
    first = await make_key()
    second = await make_key()
    await ApiKey.filter(id=second.key.id).update(key_prefix=first.key.key_prefix)
    with pytest.raises(ValidationError, match="full id"):
        await security.revoke_api_key(
            first.key.key_prefix,
            actor_id=ADMIN,
            guild_id=GUILD,
            is_bot_owner=False,
            is_guild_admin=True,
        )
    revoked = await security.revoke_api_key(
        str(second.key.id),
        actor_id=ADMIN,
        guild_id=GUILD,
        is_bot_owner=False,
        is_guild_admin=True,
    )
    assert revoked.id == second.key.id and not revoked.active


async def test_listing_shows_what_each_person_may_see(db: str) -> None:
    mine = await make_key(ADMIN, name="mine")
    other_guild = await make_key(ALICE, guild_id=OTHER_GUILD, name="theirs")
    bot_wide = await make_key(OWNER, guild_id=None, is_bot_owner=True, name="bot")

    async def names(viewer: int, guild_id: int | None, *, owner: bool, admin: bool) -> set[str]:
        keys = await security.list_api_keys(
            viewer_id=viewer, guild_id=guild_id, is_bot_owner=owner, is_guild_admin=admin
        )
        return {key.name for key in keys}

    assert await names(ADMIN, GUILD, owner=False, admin=True) == {mine.key.name}
    assert await names(ALICE, GUILD, owner=False, admin=True) == {"mine", "theirs"}
    assert await names(ALICE, GUILD, owner=False, admin=False) == {other_guild.key.name}
    assert await names(OWNER, GUILD, owner=True, admin=False) == {"mine", bot_wide.key.name}
    assert await names(OWNER, None, owner=True, admin=False) == {"bot"}
