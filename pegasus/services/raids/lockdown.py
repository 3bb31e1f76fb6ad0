"""Lockdowns and raised slowmodes, remembered so that undoing them restores exactly what was.

A lock denies Send Messages and Add Reactions to @everyone in a channel. Before the bot edits the
channel, the @everyone overwrite as it was (its allow and deny bits, or that there was none) is
stored in `channel_locks`; a second lock of a locked channel keeps the first row (insert or
ignore), so an unlock always restores the state from before the first lock. The row is deleted
only once Discord has taken the restored overwrite. Slowmodes a raid raised work the same way
(`channel_slowmodes`).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.raids import ChannelLock, ChannelSlowmode
from models.security import Severity
from pegasus.services import directory
from pegasus.services.audit import ensure_rows, record_audit, record_security_event

__all__ = [
    "LOCK_BITS",
    "THREAD_LOCK_BITS",
    "Overwrite",
    "RememberedLock",
    "RememberedSlowmode",
    "forget_lock",
    "forget_slowmode",
    "locked_overwrite",
    "record_lock_change",
    "remember_lock",
    "remember_slowmode",
    "remembered_lock",
    "remembered_locks",
    "remembered_slowmodes",
]

SEND_MESSAGES = 1 << 11
ADD_REACTIONS = 1 << 6
LOCK_BITS = SEND_MESSAGES | ADD_REACTIONS
# In a thread, sending needs Send Messages in Threads, not Send Messages: a lock that left these
# open would let a raid go on in the channel's threads, or in new ones.
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
THREAD_LOCK_BITS = CREATE_PUBLIC_THREADS | CREATE_PRIVATE_THREADS | SEND_MESSAGES_IN_THREADS


@dataclass(frozen=True, slots=True)
class Overwrite:
    """A permission overwrite's bits."""

    allow: int
    deny: int


@dataclass(frozen=True, slots=True)
class RememberedLock:
    channel_id: int
    previous: Overwrite | None  # None: the channel had no @everyone overwrite
    reason: str | None
    incident_pk: int | None


@dataclass(frozen=True, slots=True)
class RememberedSlowmode:
    channel_id: int
    previous_seconds: int
    raised_to: int


def locked_overwrite(previous: Overwrite | None, bot_permissions: int = -1) -> Overwrite:
    """The @everyone overwrite of a locked channel: the previous one, with the lock's bits
    denied (and no longer allowed); every other bit as it was.

    The threads' bits are denied as far as the bot holds them in the server
    (`bot_permissions`): Discord refuses an overwrite denying a permission its author lacks,
    and a lock of sending alone is better than none.
    """
    bits = LOCK_BITS | (THREAD_LOCK_BITS & bot_permissions)
    allow, deny = (previous.allow, previous.deny) if previous else (0, 0)
    return Overwrite(allow=allow & ~bits, deny=deny | bits)


def _lock(row: ChannelLock) -> RememberedLock:
    previous = Overwrite(row.allow, row.deny) if row.existed else None
    return RememberedLock(row.channel_id, previous, row.reason, row.incident_id)  # type: ignore[attr-defined]


async def remember_lock(
    guild_id: int,
    channel_id: int,
    previous: Overwrite | None,
    *,
    reason: str | None,
    incident_pk: int | None = None,
) -> RememberedLock:
    """Remember the channel's overwrite from before a lock; a channel already locked keeps
    the overwrite remembered at its first lock (which is returned)."""
    await directory.ensure_guild(guild_id)
    await ChannelLock.bulk_create(
        [
            ChannelLock(
                guild_id=guild_id,
                channel_id=channel_id,
                existed=previous is not None,
                allow=previous.allow if previous else 0,
                deny=previous.deny if previous else 0,
                reason=reason,
                incident_id=incident_pk,
            )
        ],
        ignore_conflicts=True,
    )
    return _lock(await ChannelLock.get(guild_id=guild_id, channel_id=channel_id))


async def remembered_lock(guild_id: int, channel_id: int) -> RememberedLock | None:
    row = await ChannelLock.get_or_none(guild_id=guild_id, channel_id=channel_id)
    return _lock(row) if row else None


async def remembered_locks(guild_id: int) -> list[RememberedLock]:
    rows = await ChannelLock.filter(guild_id=guild_id).order_by("id")
    return [_lock(row) for row in rows]


async def forget_lock(guild_id: int, channel_id: int) -> bool:
    """Forget a lock once its overwrite is restored; False if it was already forgotten."""
    return bool(await ChannelLock.filter(guild_id=guild_id, channel_id=channel_id).delete())


async def remember_slowmode(
    guild_id: int,
    channel_id: int,
    previous_seconds: int,
    raised_to: int,
    *,
    incident_pk: int | None = None,
) -> RememberedSlowmode:
    """Remember a channel's slowmode before a raid raises it; a second raise keeps the first."""
    await directory.ensure_guild(guild_id)
    await ChannelSlowmode.bulk_create(
        [
            ChannelSlowmode(
                guild_id=guild_id,
                channel_id=channel_id,
                previous_seconds=previous_seconds,
                raised_to=raised_to,
                incident_id=incident_pk,
            )
        ],
        ignore_conflicts=True,
    )
    row = await ChannelSlowmode.get(guild_id=guild_id, channel_id=channel_id)
    return RememberedSlowmode(row.channel_id, row.previous_seconds, row.raised_to)


async def remembered_slowmodes(guild_id: int) -> list[RememberedSlowmode]:
    rows = await ChannelSlowmode.filter(guild_id=guild_id).order_by("id")
    return [RememberedSlowmode(r.channel_id, r.previous_seconds, r.raised_to) for r in rows]


async def forget_slowmode(guild_id: int, channel_id: int) -> bool:
    return bool(await ChannelSlowmode.filter(guild_id=guild_id, channel_id=channel_id).delete())


async def record_lock_change(
    guild_id: int,
    actor_id: int | None,
    action: str,
    channel_ids: list[int],
    *,
    reason: str | None,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    """Record a lock, unlock or slowmode change in the audit and security logs."""
    await ensure_rows(guild_id, [actor_id])
    await record_audit(
        guild_id=guild_id,
        actor_id=actor_id,
        action=action,
        target_type="channel" if len(channel_ids) == 1 else "guild",
        target_id=channel_ids[0] if len(channel_ids) == 1 else guild_id,
        before=before,
        after={"channels": channel_ids, "reason": reason, **(after or {})},
    )
    await record_security_event(
        guild_id=guild_id,
        user_id=None,
        action=f"security.{action.replace('.', '_')}",
        severity=Severity.MEDIUM,
        description=f"{action} of {len(channel_ids)} channel(s)"
        + (f": {reason}" if reason else ""),
        metadata={"channels": channel_ids, "by": actor_id, "reason": reason},
    )
