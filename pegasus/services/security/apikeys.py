"""API keys for the REST API: created with a secret shown once, stored hashed, verified,
listed, revoked, and held to a rate per minute.

`create_api_key` returns the secret once and stores only its SHA-256; `verify_api_key(secret,
now)` is the entry point of the REST API. Given a `KeyUsage` (the running API's), it only reads
the key and counts the use in memory, written behind in batches (`KeyUsage.flush`), so a request
costs no write; without one it counts the use in one conditional UPDATE. `ApiKeyRateLimiter` is
in memory, owned by the running API.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import string
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Literal

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models.security import ApiKey
from pegasus import notify
from pegasus.errors import (
    ConflictError,
    CooldownActive,
    NotFoundError,
    PermissionDenied,
    ValidationError,
    shown_input,
)
from pegasus.i18n import N_, _, format_number
from pegasus.services.audit import ensure_rows, record_audit
from pegasus.services.durations import format_duration
from pegasus.services.security.ratelimits import SlidingWindow, record_rate_limit_violation

__all__ = [
    "API_SCOPES",
    "MAX_ACTIVE_KEYS_PER_OWNER",
    "MAX_KEY_LIFETIME",
    "MIN_KEY_LIFETIME",
    "ApiKeyCache",
    "ApiKeyRateLimiter",
    "ApiKeyRecord",
    "CreatedApiKey",
    "InvalidApiKey",
    "KeyUsage",
    "create_api_key",
    "enforce_api_rate_limit",
    "hash_secret",
    "list_api_keys",
    "parse_scopes",
    "revoke_api_key",
    "verify_api_key",
]

_ID_ATTEMPTS = 5

API_SCOPES: dict[str, str] = {
    "guild:read": N_("read server settings"),
    "guild:write": N_("change server settings"),
    "members:read": N_("read members and their stats"),
    "economy:read": N_("read balances, the shop and transactions"),
    "economy:write": N_("change balances and the shop"),
    "levels:read": N_("read XP and leaderboards"),
    "levels:write": N_("change XP and level rewards"),
    "moderation:read": N_("read cases and warnings"),
    "moderation:write": N_("warn, mute, kick and ban"),
    "tickets:read": N_("read tickets and transcripts"),
    "tickets:write": N_("change ticket settings and panels"),
    "giveaways:read": N_("read giveaways and winners"),
    "giveaways:write": N_("create, end and reroll giveaways"),
    "community:read": N_("read welcome, goodbye, logging and autorole settings"),
    "community:write": N_("change welcome, goodbye, logging and autorole settings"),
    "security:read": N_("read security settings, incidents and logs"),
    "security:write": N_("change security settings and handle incidents"),
}
KEY_PREFIX = "pgs_"
SHOWN_PREFIX_LENGTH = 12  # "pgs_" and 8 random characters: enough to tell keys apart
SECRET_LENGTH = 40
MAX_ACTIVE_KEYS_PER_OWNER = 25
MIN_KEY_LIFETIME = 3600  # seconds: a key that expires sooner is a mistake more often than not
MAX_KEY_LIFETIME = 2 * 365 * 86400
MAX_KEY_NAME_LENGTH = 64
_SECRET_ALPHABET = string.ascii_letters + string.digits


def hash_secret(secret: str) -> str:
    """The hex SHA-256 stored for a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str) -> list[str]:
    """Scopes separated by commas or spaces; `read` means every read scope, `all` every scope."""
    names = [part for part in re.split(r"[\s,;]+", (text or "").strip().lower()) if part]
    if not names:
        raise ValidationError(_("Give at least one scope, e.g. `economy:read levels:read`."))
    chosen: list[str] = []
    for name in names:
        if name == "all":
            expanded = list(API_SCOPES)
        elif name == "read":
            expanded = [scope for scope in API_SCOPES if scope.endswith(":read")]
        elif name in API_SCOPES:
            expanded = [name]
        else:
            raise ValidationError(
                _("{text} is not a scope. Use read, all, or: {scopes}.").format(
                    text=shown_input(name), scopes=", ".join(API_SCOPES)
                )
            )
        chosen.extend(scope for scope in expanded if scope not in chosen)
    return chosen


def _new_secret(rng: Random | None) -> str:
    choose = rng.choice if rng is not None else secrets.choice
    return KEY_PREFIX + "".join(choose(_SECRET_ALPHABET) for _position in range(SECRET_LENGTH))


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored (`api_keys`): never its secret, only the prefix people see."""

    id: uuid.UUID
    name: str
    owner_id: int
    guild_id: int | None  # None: bot-wide
    key_prefix: str
    scopes: tuple[str, ...]
    rate_limit: int  # requests per minute
    expires_at: datetime | None
    last_used_at: datetime | None
    usage_count: int
    active: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: ApiKey) -> ApiKeyRecord:
        return cls(
            id=row.id,
            name=row.name,
            owner_id=row.owner_id,  # type: ignore[attr-defined]
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            key_prefix=row.key_prefix,
            scopes=tuple(row.scopes or ()),
            rate_limit=row.rate_limit,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            usage_count=row.usage_count,
            active=row.active,
            created_at=row.created_at,
        )


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    key: ApiKeyRecord
    secret: str  # shown once; only its hash is stored


async def create_api_key(
    *,
    owner_id: int,
    name: str,
    scopes: Sequence[str],
    guild_id: int | None,
    now: datetime,
    is_bot_owner: bool,
    is_guild_admin: bool,
    expires_in_seconds: int | None = None,
    rate_limit: int = 60,
    rng: Random | None = None,
) -> CreatedApiKey:
    """Create a key. Bot owners may create bot-wide keys (`guild_id` None) and keys of any
    guild; a guild's admins may create keys of their guild only.

    `rng` is for reproducible tests only: without it the secret comes from `secrets`.
    """
    if guild_id is None and not is_bot_owner:
        raise PermissionDenied(_("Only the bot's owners can create bot-wide API keys."))
    if guild_id is not None and not (is_bot_owner or is_guild_admin):
        raise PermissionDenied(_("You need the Administrator permission to create API keys here."))
    cleaned_name = (name or "").strip()
    if not cleaned_name or len(cleaned_name) > MAX_KEY_NAME_LENGTH:
        raise ValidationError(
            _("The key's name must be 1 to {limit} characters.").format(limit=MAX_KEY_NAME_LENGTH)
        )
    unknown = [scope for scope in scopes if scope not in API_SCOPES]
    if unknown or not scopes:
        raise ValidationError(
            _("Unknown or missing scopes: {scopes}.").format(
                scopes=", ".join(unknown) or _("none given")
            )
        )
    if not 1 <= rate_limit <= 10_000:
        raise ValidationError(
            _("The rate limit must be between 1 and {limit} requests a minute.").format(
                limit=format_number(10_000)
            )
        )
    expires_at = None if expires_in_seconds is None else now + timedelta(seconds=expires_in_seconds)
    active = (
        await ApiKey.filter(owner_id=owner_id, active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .count()
    )
    if active >= MAX_ACTIVE_KEYS_PER_OWNER:
        raise ConflictError(
            _(
                "You have {count} active keys, the most allowed; revoke one with /apikey revoke."
            ).format(count=active)
        )
    await ensure_rows(guild_id, [owner_id])
    for attempt in range(_ID_ATTEMPTS):
        secret = _new_secret(rng)
        try:
            async with in_transaction() as conn:
                key = await ApiKey.create(
                    name=cleaned_name,
                    owner_id=owner_id,
                    guild_id=guild_id,
                    key_prefix=secret[:SHOWN_PREFIX_LENGTH],
                    key_hash=hash_secret(secret),
                    scopes=list(scopes),
                    rate_limit=rate_limit,
                    expires_at=expires_at,
                    active=True,
                    using_db=conn,
                )
                await record_audit(
                    guild_id=guild_id,
                    actor_id=owner_id,
                    action="api_key.create",
                    target_type="api_key",
                    target_id=str(key.id),
                    before=None,
                    after={
                        "name": cleaned_name,
                        "prefix": key.key_prefix,
                        "scopes": list(scopes),
                        "expires_at": expires_at,
                        "rate_limit": rate_limit,
                    },
                    using_db=conn,
                )
            return CreatedApiKey(key=ApiKeyRecord.from_row(key), secret=secret)
        except IntegrityError:
            if attempt == _ID_ATTEMPTS - 1:  # a hash collision means a broken random source
                raise
    raise AssertionError  # pragma: no cover - unreachable: the last attempt returns or raises


async def list_api_keys(
    *, viewer_id: int, guild_id: int | None, is_bot_owner: bool, is_guild_admin: bool
) -> list[ApiKeyRecord]:
    """Keys the viewer may see: their own, this guild's (admins), bot-wide ones (bot owners)."""
    visible = Q(owner_id=viewer_id)
    if guild_id is not None and (is_guild_admin or is_bot_owner):
        visible |= Q(guild_id=guild_id)
    if is_bot_owner:
        visible |= Q(guild_id__isnull=True)
    rows = await ApiKey.filter(visible).order_by("-created_at", "key_prefix")
    return [ApiKeyRecord.from_row(row) for row in rows]


async def _find_key(reference: str) -> ApiKey:
    text = (reference or "").strip()
    try:
        key = await ApiKey.get_or_none(id=uuid.UUID(text))
    except ValueError:
        matches = await ApiKey.filter(key_prefix=text).limit(2)
        if len(matches) > 1:
            raise ValidationError(
                _("Several keys start with `{prefix}`: give the key's full id instead.").format(
                    prefix=text
                )
            ) from None
        key = matches[0] if matches else None
    if key is None:
        raise NotFoundError(_("There is no API key `{key}`.").format(key=text))
    return key


async def revoke_api_key(
    reference: str,
    *,
    actor_id: int,
    guild_id: int | None,
    is_bot_owner: bool,
    is_guild_admin: bool,
) -> ApiKeyRecord:
    """Revoke a key given by id or shown prefix (its owner, a bot owner, or its guild's admin)."""
    key = await _find_key(reference)
    allowed = (
        is_bot_owner
        or key.owner_id == actor_id  # type: ignore[attr-defined]
        or (is_guild_admin and guild_id is not None and key.guild_id == guild_id)  # type: ignore[attr-defined]
    )
    if not allowed:
        # Not "not yours": that would reveal it.
        raise NotFoundError(_("There is no API key `{key}`.").format(key=reference.strip()))
    await ensure_rows(None, [actor_id])
    async with in_transaction() as conn:
        revoked = await ApiKey.filter(id=key.id, active=True).using_db(conn).update(active=False)
        if not revoked:
            raise ConflictError(_("The key `{key}` is already revoked.").format(key=key.key_prefix))
        await record_audit(
            guild_id=key.guild_id,  # type: ignore[attr-defined]
            actor_id=actor_id,
            action="api_key.revoke",
            target_type="api_key",
            target_id=str(key.id),
            before={"active": True},
            after={"active": False},
            using_db=conn,
        )
    # Every process serving the API drops its copy of the key: refused from the next request.
    await notify.announce(notify.Topic.API_KEYS, key.guild_id)  # type: ignore[attr-defined]
    return ApiKeyRecord.from_row(await ApiKey.get(id=key.id))


_UNKNOWN_KEY = N_(
    "Invalid API key: check that it was copied whole, or create one with /apikey create."
)


class InvalidApiKey(PermissionDenied):
    """A secret that opens nothing: unknown, revoked or expired. `key` is the key it belongs to,
    when there is one (for the security log)."""

    def __init__(
        self,
        message: str,
        reason: Literal["unknown", "revoked", "expired"],
        key: ApiKeyRecord | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.key = key


class KeyUsage:
    """Uses of keys counted in memory and written behind, a few statements per flush."""

    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, tuple[int, datetime]] = {}

    def count(self, key_id: uuid.UUID, now: datetime) -> None:
        uses, last = self._pending.get(key_id, (0, now))
        self._pending[key_id] = (uses + 1, max(last, now))

    def __len__(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write the counted uses (one UPDATE per key, one transaction); returns how many keys.

        What cannot be written stays counted for the next flush.
        """
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            async with in_transaction() as conn:
                for key_id in sorted(pending):  # a fixed order: no deadlock with another flush
                    uses, last = pending[key_id]
                    await (
                        ApiKey.filter(id=key_id)
                        .using_db(conn)
                        .update(usage_count=F("usage_count") + uses, last_used_at=last)
                    )
        except BaseException:
            for key_id, (uses, last) in pending.items():
                newer, newest = self._pending.get(key_id, (0, last))
                self._pending[key_id] = (uses + newer, max(last, newest))
            raise
        return len(pending)


async def verify_api_key(
    secret: str, now: datetime, *, usage: KeyUsage | None = None
) -> ApiKeyRecord:
    """The REST API's entry point: the key of `secret`, or InvalidApiKey (a PermissionDenied).

    The key must be active and not expired. Without `usage`, checking and counting the use
    (`usage_count`, `last_used_at`) is one conditional UPDATE, so concurrent requests each count
    once and a key revoked at the same moment is never used afterwards. With `usage`, the key is
    only read and the use counted in memory, to be written behind by `usage.flush()`.
    """
    if not secret or not secret.startswith(KEY_PREFIX):
        raise InvalidApiKey(_(_UNKNOWN_KEY), "unknown")
    digest = hash_secret(secret)
    if usage is not None:
        row = await ApiKey.get_or_none(key_hash=digest)
        if row is None:
            raise InvalidApiKey(_(_UNKNOWN_KEY), "unknown")
        record = ApiKeyRecord.from_row(row)
        _refuse_unusable(record, now)
        usage.count(record.id, now)
        return record
    counted = (
        await ApiKey.filter(key_hash=digest, active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .update(usage_count=F("usage_count") + 1, last_used_at=now)
    )
    if not counted:
        row = await ApiKey.get_or_none(key_hash=digest)
        if row is None:
            raise InvalidApiKey(_(_UNKNOWN_KEY), "unknown")
        _refuse_unusable(ApiKeyRecord.from_row(row), now)
        raise InvalidApiKey(_("Invalid, revoked or expired API key."), "revoked")  # a race
    return ApiKeyRecord.from_row(await ApiKey.get(key_hash=digest))


KEY_CACHE_SECONDS = 10.0  # a kept key not refreshed for this long is read again
MAX_CACHED_KEYS = 10_000
_REFRESH_CHUNK = 500  # hashes a statement


class ApiKeyCache:
    """The keys of a process serving the API, by hash, so that a request reads no key.

    Kept keys are read again together, in one statement, by `refresh` (the API's write-behind
    round, every second), and dropped at once on the change notice of a revocation (`forget`,
    subscribed to `pegasus.notify`): a key revoked in any process is refused within a second,
    even where no notice arrives (SQLite with `python -m pegasus apikey revoke` in another
    process). A key that was not refreshed for `max_age` seconds is read on its next request.
    Expiry is checked on every request from the kept record. Only usable keys are kept; a
    refused one is read each time it is tried.
    """

    def __init__(
        self, *, max_age: float = KEY_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age = max_age
        self.clock = clock
        self._keys: dict[str, tuple[float, ApiKeyRecord]] = {}
        self._generation = 0  # raised by a notice: a read begun before it is not kept

    def __len__(self) -> int:
        return len(self._keys)

    async def verify(self, secret: str, now: datetime, *, usage: KeyUsage) -> ApiKeyRecord:
        """`verify_api_key` with the use counted in `usage`, without a read of a kept key."""
        if not secret or not secret.startswith(KEY_PREFIX):
            raise InvalidApiKey(_(_UNKNOWN_KEY), "unknown")
        digest = hash_secret(secret)
        moment = self.clock()
        kept = self._keys.get(digest)
        if kept is not None and moment - kept[0] < self.max_age:
            record = kept[1]
        else:
            generation = self._generation
            row = await ApiKey.get_or_none(key_hash=digest)
            if row is None:
                self._keys.pop(digest, None)
                raise InvalidApiKey(_(_UNKNOWN_KEY), "unknown")
            record = ApiKeyRecord.from_row(row)
            if generation == self._generation:
                self._keep(digest, record, moment)
        _refuse_unusable(record, now)
        usage.count(record.id, now)
        return record

    async def refresh(self) -> int:
        """Read every kept key again (a few statements for all); returns how many are kept."""
        generation, moment = self._generation, self.clock()
        digests = list(self._keys)
        fresh: dict[str, ApiKeyRecord] = {}
        for start in range(0, len(digests), _REFRESH_CHUNK):
            rows = await ApiKey.filter(key_hash__in=digests[start : start + _REFRESH_CHUNK])
            fresh.update((row.key_hash, ApiKeyRecord.from_row(row)) for row in rows)
        if generation != self._generation:
            return len(self._keys)  # a notice came meanwhile: what was read may be older
        for digest in digests:
            record = fresh.get(digest)
            if record is None or not record.active:
                self._keys.pop(digest, None)
            elif digest in self._keys:
                self._keys[digest] = (moment, record)
        return len(self._keys)

    def _keep(self, digest: str, record: ApiKeyRecord, moment: float) -> None:
        self._keys.pop(digest, None)
        if not record.active:
            return
        if len(self._keys) >= MAX_CACHED_KEYS:
            del self._keys[next(iter(self._keys))]  # the longest kept
        self._keys[digest] = (moment, record)

    async def forget(self, change: notify.Change) -> None:
        """Drop the keys a change may have made stale: all on a key's change (revocations are
        rare) or when notices were missed, a guild's when its data is deleted."""
        if change.topic in (notify.Topic.API_KEYS, notify.Topic.EVERYTHING):
            self._generation += 1
            self._keys.clear()
        elif change.topic is notify.Topic.SETTINGS and change.guild_id is not None:
            self._generation += 1
            for digest in [
                d for d, (_kept, k) in self._keys.items() if k.guild_id == change.guild_id
            ]:
                del self._keys[digest]


def _refuse_unusable(key: ApiKeyRecord, now: datetime) -> None:
    if not key.active:
        raise InvalidApiKey(
            _("The API key {key} was revoked; create a new one.").format(key=key.key_prefix),
            "revoked",
            key,
        )
    if key.expires_at is not None and key.expires_at <= now:
        raise InvalidApiKey(
            _("The API key {key} expired; create a new one.").format(key=key.key_prefix),
            "expired",
            key,
        )


class ApiKeyRateLimiter:
    """Requests per minute per key (`api_keys.rate_limit`), in memory."""

    WINDOW_SECONDS = 60.0

    def __init__(self) -> None:
        self._windows: dict[str, SlidingWindow] = {}

    def retry_after(self, key: ApiKeyRecord, now: datetime) -> float:
        """0 when the request may go ahead (and is counted), else seconds to wait."""
        moment = now.timestamp()
        window = self._windows.setdefault(str(key.id), SlidingWindow())
        window.prune(moment, self.WINDOW_SECONDS)
        if len(window) < key.rate_limit:
            window.times.append(moment)
            return 0.0
        return window.times[0] + self.WINDOW_SECONDS - moment


async def enforce_api_rate_limit(
    key: ApiKeyRecord,
    endpoint: str,
    now: datetime,
    *,
    limiter: ApiKeyRateLimiter,
    ip_hash: str | None = None,
) -> None:
    """Raise CooldownActive (and record the violation) when `key` is over its rate limit.

    `limiter` is the running API's, which it keeps for as long as it serves requests.
    """
    wait = limiter.retry_after(key, now)
    if wait <= 0:
        return
    await record_rate_limit_violation(
        endpoint=endpoint,
        now=now,
        api_key_id=key.id,
        guild_id=key.guild_id,
        ip_hash=ip_hash,
        metadata={"rate_limit": key.rate_limit},
    )
    raise CooldownActive(
        _("Rate limit of {limit} requests a minute reached; retry in {duration}.").format(
            limit=key.rate_limit, duration=format_duration(max(1, math.ceil(wait)))
        ),
        retry_at=now.timestamp() + wait,
    )
