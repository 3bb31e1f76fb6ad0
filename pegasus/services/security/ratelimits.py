"""Rate limits: commands per person, decided in memory, and violations stored when they happen.

`CommandRateLimiter` (the security cog owns one) allows `limit` commands per `window_seconds` per
person; a burst beyond it is one violation, stored by `record_rate_limit_violation` (an upsert
with an F() counter); repeated violations block the person for a while. It counts per process,
which bounds a person per shard process.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.security import RateLimitViolation
from pegasus.services.audit import ensure_rows

__all__ = [
    "COMMANDS_ENDPOINT",
    "CommandRateLimiter",
    "RateDecision",
    "SlidingWindow",
    "Violation",
    "active_blocks",
    "record_rate_limit_violation",
    "violation_subject",
]


class SlidingWindow:
    """Timestamps of recent events of one subject, oldest first."""

    __slots__ = ("times",)

    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def prune(self, now: float, window: float) -> None:
        cutoff = now - window
        while self.times and self.times[0] <= cutoff:
            self.times.popleft()

    def __len__(self) -> int:
        return len(self.times)


COMMANDS_ENDPOINT = "commands"


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: float = 0.0  # seconds until a command is accepted again
    record: bool = False  # a new violation to store (once per burst)
    blocked_until: datetime | None = None  # set when the person is (now) blocked
    strikes: int = 0


@dataclass
class _Caller:
    window: SlidingWindow = field(default_factory=SlidingWindow)
    strikes: SlidingWindow = field(default_factory=SlidingWindow)
    last_strike_at: float | None = None
    blocked_until: float | None = None
    last_seen: float = 0.0


class CommandRateLimiter:
    """At most `limit` commands per `window_seconds` per person, in memory.

    A refused burst is one strike (further refusals within the window are not new ones);
    `strikes_to_block` strikes within `strike_window_seconds` block the person for
    `block_seconds`.
    """

    def __init__(
        self,
        limit: int = 8,
        window_seconds: float = 10.0,
        *,
        strikes_to_block: int = 3,
        strike_window_seconds: float = 600.0,
        block_seconds: float = 300.0,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.strikes_to_block = strikes_to_block
        self.strike_window_seconds = strike_window_seconds
        self.block_seconds = block_seconds
        self._callers: dict[int, _Caller] = {}  # least recently seen first

    def hit(self, user_id: int, now: datetime) -> RateDecision:
        moment = now.timestamp()
        self._expire(moment)
        caller = self._callers.pop(user_id, None) or _Caller()
        caller.last_seen = moment
        self._callers[user_id] = caller
        if caller.blocked_until is not None:
            if moment < caller.blocked_until:
                return RateDecision(
                    allowed=False,
                    retry_after=caller.blocked_until - moment,
                    blocked_until=_at(now, caller.blocked_until - moment),
                )
            caller.blocked_until = None
        caller.window.prune(moment, self.window_seconds)
        if len(caller.window) < self.limit:
            caller.window.times.append(moment)
            return RateDecision(allowed=True)
        retry_after = caller.window.times[0] + self.window_seconds - moment
        if (
            caller.last_strike_at is not None
            and moment - caller.last_strike_at < self.window_seconds
        ):
            return RateDecision(allowed=False, retry_after=retry_after)  # same burst
        caller.last_strike_at = moment
        caller.strikes.prune(moment, self.strike_window_seconds)
        caller.strikes.times.append(moment)
        strikes = len(caller.strikes)
        if strikes >= self.strikes_to_block:
            caller.blocked_until = moment + self.block_seconds
            caller.strikes.times.clear()
            return RateDecision(
                allowed=False,
                retry_after=self.block_seconds,
                record=True,
                blocked_until=_at(now, self.block_seconds),
                strikes=strikes,
            )
        return RateDecision(allowed=False, retry_after=retry_after, record=True, strikes=strikes)

    def block(self, user_id: int, until: datetime) -> None:
        """Restore a block stored in the database (at start-up)."""
        caller = self._callers.pop(user_id, None) or _Caller()
        caller.blocked_until = until.timestamp()
        self._callers[user_id] = caller

    def _expire(self, moment: float) -> None:
        horizon = max(self.window_seconds, self.strike_window_seconds)
        while self._callers:
            user_id, caller = next(iter(self._callers.items()))
            if moment - caller.last_seen <= horizon or (
                caller.blocked_until is not None and caller.blocked_until > moment
            ):
                break
            del self._callers[user_id]

    def __len__(self) -> int:
        return len(self._callers)


def _at(now: datetime, seconds_later: float) -> datetime:
    return now + timedelta(seconds=seconds_later)


@dataclass(frozen=True, slots=True)
class Violation:
    """The violations of one endpoint by one user or API key (`rate_limit_violations`)."""

    id: int
    subject: str  # "user:<id>", "api_key:<id>" or "ip:<hash prefix>"
    user_id: int | None
    api_key_id: uuid.UUID | None
    guild_id: int | None
    endpoint: str
    violations: int
    blocked: bool
    blocked_until: datetime | None
    ip_hash: str | None
    metadata: Mapping[str, Any]

    @classmethod
    def from_row(cls, row: RateLimitViolation) -> Violation:
        return cls(
            id=row.id,
            subject=row.subject,
            user_id=row.user_id,
            api_key_id=row.api_key_id,  # type: ignore[attr-defined]
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            endpoint=row.endpoint,
            violations=row.violations,
            blocked=row.blocked,
            blocked_until=row.blocked_until,
            ip_hash=row.ip_hash,
            metadata=dict(row.metadata or {}),
        )


IP_SUBJECT_HASH_LENGTH = 32  # of the client address's hash, in the 64-character subject


def violation_subject(
    user_id: int | None, api_key_id: uuid.UUID | str | None, ip_hash: str | None = None
) -> str:
    """The subject of a violation: one user, one API key, or else one client address."""
    if user_id is not None and api_key_id is not None:
        problem = "a violation is about one user or one API key, not both"  # for developers
        raise ValueError(problem)
    if user_id is not None:
        return f"user:{user_id}"
    if api_key_id is not None:
        return f"api_key:{api_key_id}"
    if ip_hash:
        return f"ip:{ip_hash[:IP_SUBJECT_HASH_LENGTH]}"
    problem = "a violation is about a user, an API key or a client address"  # for developers
    raise ValueError(problem)


async def record_rate_limit_violation(
    *,
    endpoint: str,
    now: datetime,
    user_id: int | None = None,
    api_key_id: uuid.UUID | str | None = None,
    guild_id: int | None = None,
    blocked_until: datetime | None = None,
    ip_hash: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    count: int = 1,
) -> Violation:
    """Count `count` violations of `endpoint` by a user, an API key or (with neither) the client
    address of `ip_hash` (upsert + F() counter).

    `blocked_until` marks the subject blocked until then; a violation without it clears an
    earlier (expired) block. Safe when several tasks or processes record at once.
    """
    subject = violation_subject(user_id, api_key_id, ip_hash)
    if guild_id is not None:
        await ensure_rows(guild_id)
    details = {**(metadata or {}), "last_violation_at": now.isoformat()}
    async with in_transaction() as conn:
        await RateLimitViolation.bulk_create(
            [
                RateLimitViolation(
                    subject=subject,
                    user_id=user_id,
                    api_key_id=api_key_id,
                    guild_id=guild_id,
                    endpoint=endpoint,
                    violations=0,
                )
            ],
            ignore_conflicts=True,
            using_db=conn,
        )
        changes: dict[str, Any] = {
            "violations": F("violations") + count,
            "blocked": blocked_until is not None,
            "metadata": details,
            "updated_at": now,
        }
        if blocked_until is not None:
            changes["blocked_until"] = blocked_until
        if guild_id is not None:
            changes["guild_id"] = guild_id
        if ip_hash is not None:
            changes["ip_hash"] = ip_hash
        rows = RateLimitViolation.filter(subject=subject, endpoint=endpoint).using_db(conn)
        await rows.update(**changes)
        return Violation.from_row(await rows.get())


async def active_blocks(
    now: datetime, endpoint: str = COMMANDS_ENDPOINT
) -> list[tuple[int, datetime]]:
    """(user id, blocked until) of people still blocked on `endpoint`, to restore at start-up."""
    rows = await RateLimitViolation.filter(
        endpoint=endpoint, blocked=True, blocked_until__gt=now, user_id__isnull=False
    ).values_list("user_id", "blocked_until")
    return [(int(user_id), until) for user_id, until in rows]
