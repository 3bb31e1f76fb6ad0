"""The blacklist: users, roles and channels blocked in one guild, users and guilds blocked bot-wide.

Checks run on hot paths (every command, every message that could earn XP), so they read an
in-memory copy of the active entries, a `BlacklistCache` that the running bot owns:

* `cache.check(...)` refreshes the copy when it is older than its time-to-live (one query per
  TTL, 30 seconds by default), then answers from memory;
* `cache.match(...)` never touches the database (for code that must not await); before the first
  load it answers "not blacklisted".

Changes made through `add_entry` and `remove_entry` refresh the copy handed to them at once;
changes made by another process are seen within the TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models.security import BOT_WIDE_SCOPE, Blacklist, BlacklistEntityType
from pegasus import notify
from pegasus.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from pegasus.i18n import N_, _
from pegasus.outage import DatabaseUnavailable, health, within
from pegasus.services.audit import ensure_rows, record_audit
from pegasus.services.ids import check_snowflake

__all__ = [
    "BOT_WIDE_KINDS",
    "GUILD_KINDS",
    "BlacklistCache",
    "BlacklistEntityType",
    "BlacklistEntry",
    "BlacklistHit",
    "add_entry",
    "list_entries",
    "remove_entry",
]

DEFAULT_TTL_SECONDS = 30.0
# The check before every command waits at most this long for a stale copy to reload, so that a
# slow database never makes a command miss Discord's 3 seconds.
CHECK_DATABASE_WAIT = 1.5
MAX_REASON_LENGTH = 500
# Kinds a guild's moderators manage; the others are bot-wide only, for the bot's owners.
GUILD_KINDS = (BlacklistEntityType.USER, BlacklistEntityType.ROLE, BlacklistEntityType.CHANNEL)
BOT_WIDE_KINDS = (BlacklistEntityType.USER, BlacklistEntityType.GUILD)


@dataclass(frozen=True, slots=True)
class BlacklistHit:
    """An active entry that matched."""

    entity_type: BlacklistEntityType
    entity_id: int
    guild_id: int | None  # None: bot-wide
    reason: str | None
    expires_at: datetime | None

    def is_live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    @property
    def bot_wide(self) -> bool:
        return self.guild_id is None


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    """A blacklist entry as stored (`blacklist`), live or not."""

    id: int
    entity_type: BlacklistEntityType
    entity_id: int
    guild_id: int | None  # None: bot-wide
    reason: str | None
    added_by_id: int | None
    active: bool
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Blacklist) -> BlacklistEntry:
        return cls(
            id=row.id,
            entity_type=BlacklistEntityType(row.entity_type),
            entity_id=row.entity_id,
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            reason=row.reason,
            added_by_id=row.added_by_id,  # type: ignore[attr-defined]
            active=row.active,
            expires_at=row.expires_at,
            created_at=row.created_at,
        )


_Key = tuple[BlacklistEntityType, int, int]  # (kind, entity id, scope id: guild id or 0)


class BlacklistCache:
    """The active entries, in memory, reloaded when older than `ttl_seconds`.

    One per running bot (`Pegasus.blacklist`): its command check and its hot paths share it.
    """

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: dict[_Key, BlacklistHit] = {}
        self._loaded_at: float | None = None
        self._reload: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded_at is not None

    def invalidate(self) -> None:
        """Mark the copy stale: `ensure_fresh` reloads it; `match` keeps using it."""
        self._loaded_at = None

    def reset(self) -> None:
        """Forget everything, as at start-up (a bot started on another database, a test)."""
        self._entries = {}
        self._loaded_at = None

    async def refresh(self) -> None:
        rows = await Blacklist.filter(active=True).values(
            "entity_type", "entity_id", "guild_id", "reason", "expires_at"
        )
        entries: dict[_Key, BlacklistHit] = {}
        for row in rows:
            kind = BlacklistEntityType(row["entity_type"])
            guild_id = row["guild_id"]
            scope = guild_id if guild_id is not None else BOT_WIDE_SCOPE
            entries[(kind, row["entity_id"], scope)] = BlacklistHit(
                kind, row["entity_id"], guild_id, row["reason"], row["expires_at"]
            )
        self._entries = entries
        self._loaded_at = self._clock()

    async def ensure_fresh(self) -> None:
        if self._is_fresh():
            return
        # One reload however many checks are waiting; a task left over from another event loop
        # (a previous test, a restarted bot) is ignored.
        reload = self._reload
        if reload is None or reload.done() or reload.get_loop() is not asyncio.get_running_loop():
            reload = self._reload = asyncio.ensure_future(self.refresh())
        await asyncio.shield(reload)

    def _is_fresh(self) -> bool:
        return self._loaded_at is not None and self._clock() - self._loaded_at < self.ttl_seconds

    def lookup(
        self, kind: BlacklistEntityType, entity_id: int, guild_id: int | None, now: datetime
    ) -> BlacklistHit | None:
        """The live entry for `entity_id` in `guild_id`, or bot-wide; None when there is none."""
        scopes = (BOT_WIDE_SCOPE,) if guild_id is None else (BOT_WIDE_SCOPE, guild_id)
        for scope in scopes:
            hit = self._entries.get((kind, entity_id, scope))
            if hit is not None and hit.is_live(now):
                return hit
        return None

    def match(
        self,
        *,
        now: datetime,
        guild_id: int | None = None,
        user_id: int | None = None,
        channel_id: int | None = None,
        role_ids: Iterable[int] = (),
    ) -> BlacklistHit | None:
        """The first live entry that blocks this guild, user, channel or one of these roles."""
        if guild_id is not None:
            hit = self.lookup(BlacklistEntityType.GUILD, guild_id, None, now)
            if hit is not None:
                return hit
        if user_id is not None:
            hit = self.lookup(BlacklistEntityType.USER, user_id, guild_id, now)
            if hit is not None:
                return hit
        if guild_id is None:
            return None  # roles and channels are only ever blacklisted within a guild
        if channel_id is not None:
            hit = self.lookup(BlacklistEntityType.CHANNEL, channel_id, guild_id, now)
            if hit is not None:
                return hit
        for role_id in role_ids:
            hit = self.lookup(BlacklistEntityType.ROLE, role_id, guild_id, now)
            if hit is not None:
                return hit
        return None

    async def check(
        self,
        *,
        now: datetime,
        guild_id: int | None = None,
        user_id: int | None = None,
        channel_id: int | None = None,
        role_ids: Iterable[int] = (),
    ) -> BlacklistHit | None:
        """The entry blocking this guild, user, channel or role, if any (refreshed by TTL)."""
        await self.ensure_fresh()
        return self.match(
            now=now, guild_id=guild_id, user_id=user_id, channel_id=channel_id, role_ids=role_ids
        )

    async def check_fail_open(
        self,
        *,
        now: datetime,
        guild_id: int | None = None,
        user_id: int | None = None,
        channel_id: int | None = None,
        role_ids: Iterable[int] = (),
        wait: float = CHECK_DATABASE_WAIT,
    ) -> BlacklistHit | None:
        """`check` for the check before every command and button: when the copy is stale and
        the database is down or does not answer within `wait` seconds, it answers from the copy
        loaded last. It FAILS OPEN by choice: entries already known keep refusing, and nobody is
        locked out of the whole bot because the database cannot be read right now (the command
        itself then says that the database is not reachable, if it needs it)."""
        if not health.down:  # during a known outage, no wait at all
            try:
                await within(self.ensure_fresh(), wait)
            except DatabaseUnavailable:
                pass
        return self.match(
            now=now, guild_id=guild_id, user_id=user_id, channel_id=channel_id, role_ids=role_ids
        )

    async def blacklisted_guilds(
        self, guild_ids: Iterable[int], *, now: datetime
    ) -> dict[int, BlacklistHit]:
        """The bot-wide entries of these guilds, from one fresh read however many guilds
        (start-up: a thousand guilds are one query, not a thousand)."""
        await self.refresh()
        kind = BlacklistEntityType.GUILD
        hits = ((guild_id, self.lookup(kind, guild_id, None, now)) for guild_id in guild_ids)
        return {guild_id: hit for guild_id, hit in hits if hit is not None}

    async def is_guild_blacklisted(self, guild_id: int, *, now: datetime) -> BlacklistHit | None:
        """The bot-wide entry for this guild, read from the database (start-up and guild join)."""
        await self.refresh()
        return self.lookup(BlacklistEntityType.GUILD, guild_id, None, now)


def _validate_scope(kind: BlacklistEntityType, guild_id: int | None, actor_is_owner: bool) -> None:
    if guild_id is None:
        if not actor_is_owner:
            raise PermissionDenied(_("Only the bot's owners manage bot-wide blacklist entries."))
        if kind not in BOT_WIDE_KINDS:
            raise ValidationError(_("Bot-wide entries are for users and servers only."))
    elif kind not in GUILD_KINDS:
        raise ValidationError(
            _("A server blacklists users, roles and channels; servers are blacklisted bot-wide.")
        )


def _check_entity_id(kind: BlacklistEntityType, entity_id: int) -> None:
    """Refuse a number no Discord id can be, before it reaches a 64-bit column."""
    check_snowflake(entity_id, what=ID_NAMES[kind])


# Refusals and names per kind of entry (a sentence each, as languages agree words with nouns).
ID_NAMES = {
    BlacklistEntityType.USER: N_("a user id"),
    BlacklistEntityType.ROLE: N_("a role id"),
    BlacklistEntityType.CHANNEL: N_("a channel id"),
    BlacklistEntityType.GUILD: N_("a server id"),
}
ALREADY_BLACKLISTED = {
    BlacklistEntityType.USER: N_("That user is already blacklisted."),
    BlacklistEntityType.ROLE: N_("That role is already blacklisted."),
    BlacklistEntityType.CHANNEL: N_("That channel is already blacklisted."),
    BlacklistEntityType.GUILD: N_("That guild is already blacklisted."),
}
NOT_BLACKLISTED = {
    BlacklistEntityType.USER: N_("That user is not blacklisted here."),
    BlacklistEntityType.ROLE: N_("That role is not blacklisted here."),
    BlacklistEntityType.CHANNEL: N_("That channel is not blacklisted here."),
    BlacklistEntityType.GUILD: N_("That guild is not blacklisted here."),
}


def _entry_state(entry: Blacklist) -> dict[str, object]:
    return {
        "entity_type": str(entry.entity_type),
        "entity_id": entry.entity_id,
        "guild_id": entry.guild_id,  # type: ignore[attr-defined]
        "reason": entry.reason,
        "active": entry.active,
        "expires_at": entry.expires_at,
    }


async def add_entry(
    kind: BlacklistEntityType,
    entity_id: int,
    *,
    guild_id: int | None,
    actor_id: int,
    reason: str,
    now: datetime,
    duration_seconds: int | None = None,
    actor_is_owner: bool = False,
    cache: BlacklistCache | None = None,
) -> BlacklistEntry:
    """Blacklist `entity_id` in `guild_id` (None = bot-wide) and record it in the audit log.

    An old inactive or expired entry for the same target is reused; a live one is a conflict.
    `cache`, when given, sees the change at once.
    """
    kind = BlacklistEntityType(kind)
    _check_entity_id(kind, entity_id)
    _validate_scope(kind, guild_id, actor_is_owner)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give a reason for the blacklist entry."))
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError(
            _("The reason can be at most {count} characters.").format(count=MAX_REASON_LENGTH)
        )
    expires_at = now + timedelta(seconds=duration_seconds) if duration_seconds else None
    scope = guild_id if guild_id is not None else BOT_WIDE_SCOPE
    await ensure_rows(guild_id, [actor_id])
    try:
        async with in_transaction() as conn:
            existing = (
                await Blacklist.filter(entity_type=kind, entity_id=entity_id, scope_id=scope)
                .using_db(conn)
                .select_for_update()
                .first()
            )
            before = None
            if existing is None:
                entry = await Blacklist.create(
                    entity_type=kind,
                    entity_id=entity_id,
                    guild_id=guild_id,
                    scope_id=scope,
                    reason=reason,
                    added_by_id=actor_id,
                    expires_at=expires_at,
                    metadata={"added_at": now.isoformat()},
                    using_db=conn,
                )
            else:
                if existing.active and (existing.expires_at is None or existing.expires_at > now):
                    raise ConflictError(_(ALREADY_BLACKLISTED[kind]))
                before = _entry_state(existing)
                await (
                    Blacklist.filter(id=existing.id)
                    .using_db(conn)
                    .update(
                        active=True,
                        reason=reason,
                        added_by_id=actor_id,
                        expires_at=expires_at,
                        updated_at=now,
                    )
                )
                entry = await Blacklist.get(id=existing.id).using_db(conn)
            await record_audit(
                guild_id=guild_id,
                actor_id=actor_id,
                action="blacklist.add",
                target_type=str(kind),
                target_id=entity_id,
                before=before,
                after=_entry_state(entry),
                using_db=conn,
            )
    except IntegrityError:
        # Someone added the same entry at the same moment; theirs stands.
        raise ConflictError(_(ALREADY_BLACKLISTED[kind])) from None
    finally:
        if cache is not None:
            cache.invalidate()
    await _announce_change(guild_id, cache)
    return BlacklistEntry.from_row(entry)


async def remove_entry(
    kind: BlacklistEntityType,
    entity_id: int,
    *,
    guild_id: int | None,
    actor_id: int,
    now: datetime,
    actor_is_owner: bool = False,
    cache: BlacklistCache | None = None,
) -> BlacklistEntry:
    """Lift a live entry (kept, made inactive) and record it in the audit log; `cache`, when
    given, sees the change at once."""
    kind = BlacklistEntityType(kind)
    _check_entity_id(kind, entity_id)
    _validate_scope(kind, guild_id, actor_is_owner)
    scope = guild_id if guild_id is not None else BOT_WIDE_SCOPE
    await ensure_rows(guild_id, [actor_id])
    try:
        async with in_transaction() as conn:
            entry = (
                await Blacklist.filter(
                    entity_type=kind, entity_id=entity_id, scope_id=scope, active=True
                )
                .using_db(conn)
                .select_for_update()
                .first()
            )
            if entry is None:
                raise NotFoundError(_(NOT_BLACKLISTED[kind]))
            before = _entry_state(entry)
            updated = (
                await Blacklist.filter(id=entry.id, active=True)
                .using_db(conn)
                .update(active=False, updated_at=now)
            )
            if not updated:
                raise NotFoundError(_(NOT_BLACKLISTED[kind]))
            entry.active = False
            await record_audit(
                guild_id=guild_id,
                actor_id=actor_id,
                action="blacklist.remove",
                target_type=str(kind),
                target_id=entity_id,
                before=before,
                after=_entry_state(entry),
                using_db=conn,
            )
    finally:
        if cache is not None:
            cache.invalidate()
    await _announce_change(guild_id, cache)
    return BlacklistEntry.from_row(entry)


async def _announce_change(guild_id: int | None, cache: BlacklistCache | None) -> None:
    """Tell every process the blacklist changed, and reload this process's copy now."""
    await notify.announce(notify.Topic.BLACKLIST, guild_id, "moderation")
    if cache is not None:
        await cache.ensure_fresh()


async def list_entries(
    guild_id: int | None, *, now: datetime, include_bot_wide: bool = False
) -> list[BlacklistEntry]:
    """Live entries of a guild (and bot-wide ones when asked), newest first."""
    scopes = Q(guild_id=guild_id) if guild_id is not None else Q(guild_id=None)
    if include_bot_wide and guild_id is not None:
        scopes |= Q(guild_id=None)
    live = Q(expires_at=None) | Q(expires_at__gt=now)
    rows = await Blacklist.filter(scopes, live, active=True).order_by("-created_at", "-id")
    return [BlacklistEntry.from_row(row) for row in rows]
