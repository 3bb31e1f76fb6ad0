"""Anti-raid, anti-spam, command rate limits, security incidents and API keys.

Hot paths (every join, every message, every command) decide in memory; the database is written
only when something is wrong: a raid, a spam message, a rate-limit violation.

* Raids: `RaidDetector` keeps a sliding window of recent joins per guild. When more than
  `raid_joins` members join within `raid_seconds`, `handle_join` opens one `security_incidents`
  row (severity high) and writes a `security_logs` entry; members who join while the raid goes on
  are appended to the same incident. A raid is over once `raid_seconds` pass without a join.
* Spam: `SpamDetector` flags a message with more than `max_mentions` mentions, or the same text
  `max_duplicates` times in a row within `DUPLICATE_WINDOW_SECONDS`; `record_spam` logs it.
* Rate limits: `CommandRateLimiter` allows `limit` commands per `window_seconds` per person; a
  burst beyond it is one violation, stored by `record_rate_limit_violation` (an upsert with an
  F() counter); repeated violations block the person for a while.
* API keys: `create_api_key` returns the secret once and stores only its SHA-256;
  `verify_api_key(secret, now)` is the entry point of the REST API: it checks the key and counts
  the use in one conditional UPDATE.

One process owns a guild (its shard), so in-memory windows are exact for raids and spam; the
command limiter counts per process, which bounds a person per shard process.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import string
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from random import Random
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models.ids import new_public_id
from models.security import (
    ApiKey,
    IncidentStatus,
    RateLimitViolation,
    SecurityIncident,
    Severity,
)
from pegasus.errors import (
    ConflictError,
    CooldownActive,
    NotFoundError,
    PermissionDenied,
    ValidationError,
    shown_input,
)
from pegasus.services import ids
from pegasus.services.audit import ensure_rows, record_audit, record_security_event
from pegasus.services.community import (
    GuildConfig,
    SecurityConfig,
    change_settings,
)

__all__ = [
    "API_SCOPES",
    "COMMANDS_ENDPOINT",
    "ApiKeyRateLimiter",
    "CommandRateLimiter",
    "CreatedApiKey",
    "RaidDetector",
    "RaidReport",
    "RateDecision",
    "SecurityConfig",
    "SpamDetector",
    "SpamKind",
    "SpamVerdict",
    "active_blocks",
    "add_incident_note",
    "count_mentions",
    "create_api_key",
    "enforce_api_rate_limit",
    "get_incident",
    "handle_join",
    "hash_secret",
    "list_api_keys",
    "list_incidents",
    "parse_scopes",
    "raid_detector",
    "record_incident_action",
    "record_rate_limit_violation",
    "record_spam",
    "resolve_incident",
    "revoke_api_key",
    "update_security_settings",
    "verify_api_key",
]

RAID_INCIDENT = "raid"
MAX_TRACKED_JOINS = 10_000  # per guild: bounds memory during a very large raid
OPEN_STATUSES = (IncidentStatus.OPEN, IncidentStatus.INVESTIGATING)
_ID_ATTEMPTS = 5


# ------------------------------------------------------------------------------------------------
# Settings

LIMITS = {
    "raid_joins": (2, 100),
    "raid_seconds": (2, 300),
    "max_mentions": (1, 50),
    "max_duplicates": (2, 20),
}
_UNSET: Any = object()


async def update_security_settings(
    guild_id: int,
    actor_id: int,
    *,
    enabled: bool | None = None,
    alert_role_id: int | None = _UNSET,
    anti_raid: bool | None = None,
    raid_joins: int | None = None,
    raid_seconds: int | None = None,
    anti_spam: bool | None = None,
    max_mentions: int | None = None,
    max_duplicates: int | None = None,
) -> GuildConfig:
    """Change anti-raid and anti-spam settings; None keeps a value (`alert_role_id=None` clears).

    Turning anti-raid or anti-spam on also turns the security master switch on, unless
    `enabled=False` is given in the same call.
    """
    changes: dict[str, Any] = {}
    numbers = {
        "raid_joins": raid_joins,
        "raid_seconds": raid_seconds,
        "max_mentions": max_mentions,
        "max_duplicates": max_duplicates,
    }
    for column, value in numbers.items():
        if value is None:
            continue
        low, high = LIMITS[column]
        if not low <= value <= high:
            label = column.replace("_", " ")
            raise ValidationError(f"The {label} setting must be between {low} and {high}.")
        changes[column] = value
    if anti_raid is not None:
        changes["anti_raid_enabled"] = anti_raid
    if anti_spam is not None:
        changes["anti_spam_enabled"] = anti_spam
    if alert_role_id is not _UNSET:
        changes["security_alert_role_id"] = alert_role_id
    if enabled is not None:
        changes["security_enabled"] = enabled
    elif anti_raid or anti_spam:
        changes["security_enabled"] = True
    if not changes:
        raise ValidationError("Nothing to change: give at least one option.")
    return await change_settings(guild_id, actor_id, "security.set", lambda _row: changes)


# ------------------------------------------------------------------------------------------------
# Sliding windows


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


# ------------------------------------------------------------------------------------------------
# Raids


@dataclass
class _ActiveRaid:
    started_at: float
    last_join_at: float
    pending: list[int]  # members not yet written to the incident
    incident_pk: int | None = None
    incident_id: str | None = None


@dataclass
class _GuildJoins:
    joins: deque[tuple[float, int]] = field(default_factory=deque)
    raid: _ActiveRaid | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RaidDetector:
    """Recent joins per guild, in memory; decides when joins become a raid and when it ends."""

    def __init__(self) -> None:
        self._guilds: dict[int, _GuildJoins] = {}

    def observe(
        self, guild_id: int, user_id: int, now: datetime, *, joins: int, seconds: int
    ) -> _ActiveRaid | None:
        """Count a join; the raid it belongs to, or None when the join rate is normal.

        A raid starts when more than `joins` members joined within `seconds` (all of them are
        pending for the incident). It goes on while joins keep coming at more than half that
        rate, so a busy server's ordinary joins after a raid are not counted as raiders.
        """
        moment = now.timestamp()
        state = self._guilds.setdefault(guild_id, _GuildJoins())
        cutoff = moment - seconds
        while state.joins and (
            state.joins[0][0] <= cutoff or len(state.joins) >= MAX_TRACKED_JOINS
        ):
            state.joins.popleft()
        state.joins.append((moment, user_id))
        recent = len(state.joins)
        raid = state.raid
        if raid is not None and (moment - raid.last_join_at > seconds or recent <= joins // 2):
            state.raid = raid = None
        if raid is None:
            if recent <= joins:
                return None
            members = list(dict.fromkeys(member for _at, member in state.joins))
            raid = state.raid = _ActiveRaid(started_at=moment, last_join_at=moment, pending=members)
            return raid
        raid.pending.append(user_id)
        raid.last_join_at = moment
        return raid

    def lock(self, guild_id: int) -> asyncio.Lock:
        return self._guilds.setdefault(guild_id, _GuildJoins()).lock

    def in_raid(self, guild_id: int, now: datetime, seconds: int) -> bool:
        state = self._guilds.get(guild_id)
        raid = state.raid if state else None
        return raid is not None and now.timestamp() - raid.last_join_at <= seconds

    def forget(self, guild_id: int) -> None:
        self._guilds.pop(guild_id, None)

    def clear(self) -> None:
        self._guilds.clear()


raid_detector = RaidDetector()


@dataclass(frozen=True, slots=True)
class RaidReport:
    """What a join changed: a new incident (`created`), or members added to the current one."""

    incident_pk: int
    incident_id: str
    created: bool
    added_user_ids: tuple[int, ...]
    total_users: int


async def handle_join(
    guild_id: int,
    user_id: int,
    now: datetime,
    config: SecurityConfig,
    *,
    detector: RaidDetector | None = None,
    rng: Random | None = None,
) -> RaidReport | None:
    """Count a join for anti-raid; None unless it opened or extended a raid incident.

    No query runs for a normal join. During a raid the writes of concurrent joins are batched:
    whoever holds the guild's lock writes every member pending so far.
    """
    if not config.raid_protection_on:
        return None
    detector = detector or raid_detector
    raid = detector.observe(
        guild_id, user_id, now, joins=config.raid_joins, seconds=config.raid_seconds
    )
    if raid is None:
        return None
    async with detector.lock(guild_id):
        users, raid.pending = raid.pending, []
        if not users:
            return None  # written by the join that held the lock
        incident: SecurityIncident | None = None
        created = False
        if raid.incident_pk is not None:
            incident = await _append_raid_members(raid.incident_pk, users, now)
        if incident is None:  # a new raid, or the incident was closed while the raid went on
            incident = await _open_raid_incident(guild_id, users, now, config, rng=rng)
            raid.incident_pk, raid.incident_id = incident.pk, incident.incident_id
            created = True
        return RaidReport(
            incident_pk=incident.pk,
            incident_id=incident.incident_id,
            created=created,
            added_user_ids=tuple(users),
            total_users=len(incident.affected_users),
        )


async def _open_raid_incident(
    guild_id: int,
    users: Sequence[int],
    now: datetime,
    config: SecurityConfig,
    *,
    rng: Random | None,
) -> SecurityIncident:
    await ensure_rows(guild_id)
    description = (
        f"{len(users)} members joined within {config.raid_seconds} seconds "
        f"(the limit is {config.raid_joins})."
    )
    for attempt in range(_ID_ATTEMPTS):
        try:
            async with in_transaction() as conn:
                incident = await SecurityIncident.create(
                    incident_id=new_public_id("I", rng=rng),
                    guild_id=guild_id,
                    type=RAID_INCIDENT,
                    severity=Severity.HIGH,
                    status=IncidentStatus.OPEN,
                    description=description,
                    affected_users=list(users),
                    actions=[{"type": "detected", "at": now.isoformat()}],
                    notes=[],
                    metadata={
                        "raid_joins": config.raid_joins,
                        "raid_seconds": config.raid_seconds,
                        "first_join_at": now.isoformat(),
                        "last_join_at": now.isoformat(),
                    },
                    using_db=conn,
                )
                await record_security_event(
                    guild_id=guild_id,
                    user_id=None,
                    action="security.raid_detected",
                    severity=Severity.HIGH,
                    description=description,
                    metadata={"incident_id": incident.incident_id, "users": list(users)},
                    using_db=conn,
                )
            return incident
        except IntegrityError:
            # A public id collision (about 1 in 20 million): the transaction rolled back.
            if attempt == _ID_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _append_raid_members(
    incident_pk: int, users: Sequence[int], now: datetime
) -> SecurityIncident | None:
    """Add members to an open raid incident; None when it has been closed meanwhile."""
    async with in_transaction() as conn:
        incident = (
            await SecurityIncident.filter(pk=incident_pk, status__in=OPEN_STATUSES)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if incident is None:
            return None
        known = set(incident.affected_users)
        affected = [*incident.affected_users, *(u for u in dict.fromkeys(users) if u not in known)]
        metadata = {**incident.metadata, "last_join_at": now.isoformat()}
        await (
            SecurityIncident.filter(pk=incident_pk)
            .using_db(conn)
            .update(affected_users=affected, metadata=metadata)
        )
        incident.affected_users = affected
        return incident


async def record_incident_action(
    incident_pk: int, action: Mapping[str, Any], now: datetime
) -> None:
    """Append to an incident's `actions` (an alert posted, members kicked, ...)."""
    async with in_transaction() as conn:
        incident = (
            await SecurityIncident.filter(pk=incident_pk).using_db(conn).select_for_update().get()
        )
        entry = {**action, "at": now.isoformat()}
        await (
            SecurityIncident.filter(pk=incident_pk)
            .using_db(conn)
            .update(actions=[*incident.actions, entry])
        )


# ------------------------------------------------------------------------------------------------
# Spam

DUPLICATE_WINDOW_SECONDS = 30.0
_MENTION = re.compile(r"<@[!&]?\d+>|@everyone|@here")
_SPACES = re.compile(r"\s+")


def count_mentions(content: str) -> int:
    """Mentions of users, roles, @everyone and @here in a message, repeats included."""
    return len(_MENTION.findall(content or ""))


class SpamKind(StrEnum):
    MENTIONS = "mentions"
    DUPLICATES = "duplicates"


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    kind: SpamKind
    count: int  # mentions in the message, or identical messages in a row
    limit: int

    def reason(self) -> str:
        if self.kind is SpamKind.MENTIONS:
            return f"too many mentions ({self.count}, the limit is {self.limit})"
        return f"the same message {self.count} times in a row"


@dataclass
class _Run:
    text: str
    count: int
    first_at: float
    last_at: float


class SpamDetector:
    """The last message of each member, to spot repeats; entries older than the window go."""

    def __init__(self, window_seconds: float = DUPLICATE_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._runs: dict[tuple[int, int], _Run] = {}  # least recently active first

    def check(
        self,
        guild_id: int,
        user_id: int,
        content: str,
        now: datetime,
        config: SecurityConfig,
    ) -> SpamVerdict | None:
        """A verdict when this message is spam, None otherwise (memory only)."""
        if not config.spam_protection_on:
            return None
        moment = now.timestamp()
        self._expire(moment)
        mentions = count_mentions(content)
        verdict = None
        if mentions > config.max_mentions:
            verdict = SpamVerdict(SpamKind.MENTIONS, mentions, config.max_mentions)
        repeats = self._count_repeat(guild_id, user_id, content, moment)
        if verdict is None and repeats >= config.max_duplicates:
            verdict = SpamVerdict(SpamKind.DUPLICATES, repeats, config.max_duplicates)
        return verdict

    def _count_repeat(self, guild_id: int, user_id: int, content: str, moment: float) -> int:
        text = _SPACES.sub(" ", (content or "").strip()).casefold()
        key = (guild_id, user_id)
        run = self._runs.pop(key, None)  # re-inserted below: the dict stays ordered by activity
        if not text:
            return 0  # attachments or stickers only: nothing to compare
        if run is None or run.text != text or moment - run.first_at > self.window_seconds:
            run = _Run(text=text, count=0, first_at=moment, last_at=moment)
        run.count += 1
        run.last_at = moment
        self._runs[key] = run
        return run.count

    def _expire(self, moment: float) -> None:
        cutoff = moment - self.window_seconds
        while self._runs:
            key, run = next(iter(self._runs.items()))
            if run.last_at > cutoff:
                break
            del self._runs[key]

    def __len__(self) -> int:
        return len(self._runs)


async def record_spam(
    guild_id: int,
    user_id: int,
    verdict: SpamVerdict,
    *,
    channel_id: int,
    message_id: int,
    deleted: bool,
) -> None:
    """Write the `security_logs` entry of a spam message."""
    await ensure_rows(guild_id, [user_id])
    await record_security_event(
        guild_id=guild_id,
        user_id=user_id,
        action=f"security.spam_{verdict.kind.value}",
        severity=Severity.MEDIUM,
        description=f"Message removed: {verdict.reason()}."
        if deleted
        else f"Spam not removed (missing permission): {verdict.reason()}.",
        metadata={
            "channel_id": channel_id,
            "message_id": message_id,
            "count": verdict.count,
            "limit": verdict.limit,
            "deleted": deleted,
        },
    )


# ------------------------------------------------------------------------------------------------
# Command rate limits

COMMANDS_ENDPOINT = "commands"


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: float = 0.0  # seconds until a command is accepted again
    record: bool = False  # a new violation to store (once per burst)
    blocked_until: datetime | None = None  # set when the person is (now) blocked
    strikes: int = 0

    def refusal(self) -> str:
        if self.blocked_until is not None:
            return (
                "You are sending commands too fast, again: commands are blocked for you until "
                f"<t:{int(self.blocked_until.timestamp())}:R>."
            )
        seconds = max(1, round(self.retry_after))
        return f"Slow down! You are sending commands too fast. Try again in {seconds}s."


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


def _subject(user_id: int | None, api_key_id: uuid.UUID | str | None) -> str:
    if (user_id is None) == (api_key_id is None):
        raise ValueError("a violation is about exactly one user or one API key")
    return f"user:{user_id}" if user_id is not None else f"api_key:{api_key_id}"


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
) -> RateLimitViolation:
    """Count one violation of `endpoint` by a user or an API key (upsert + F() counter).

    `blocked_until` marks the subject blocked until then; a violation without it clears an
    earlier (expired) block. Safe when several tasks or processes record at once.
    """
    subject = _subject(user_id, api_key_id)
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
            "violations": F("violations") + 1,
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
        return await rows.get()


async def active_blocks(
    now: datetime, endpoint: str = COMMANDS_ENDPOINT
) -> list[tuple[int, datetime]]:
    """(user id, blocked until) of people still blocked on `endpoint`, to restore at start-up."""
    rows = await RateLimitViolation.filter(
        endpoint=endpoint, blocked=True, blocked_until__gt=now, user_id__isnull=False
    ).values_list("user_id", "blocked_until")
    return [(int(user_id), until) for user_id, until in rows]


# ------------------------------------------------------------------------------------------------
# Incidents


async def list_incidents(
    guild_id: int, *, open_only: bool = False, limit: int = 10
) -> list[SecurityIncident]:
    """The guild's incidents, newest first."""
    query = SecurityIncident.filter(guild_id=guild_id)
    if open_only:
        query = query.filter(status__in=OPEN_STATUSES)
    return await query.order_by("-created_at", "-id").limit(limit)


async def get_incident(guild_id: int, incident_id: str) -> SecurityIncident:
    public_id = ids.INCIDENT.parse(incident_id)
    incident = await SecurityIncident.get_or_none(guild_id=guild_id, incident_id=public_id)
    if incident is None:
        raise ids.INCIDENT.not_found(incident_id)
    return incident


MAX_NOTE_LENGTH = 1000
MAX_NOTES = 50


async def add_incident_note(
    guild_id: int, incident_id: str, author_id: int, text: str, now: datetime
) -> SecurityIncident:
    """Add an investigation note; an open incident moves to `investigating`."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationError("The note can't be empty.")
    if len(cleaned) > MAX_NOTE_LENGTH:
        raise ValidationError(f"A note can be at most {MAX_NOTE_LENGTH:,} characters long.")
    target = await get_incident(guild_id, incident_id)
    await ensure_rows(guild_id, [author_id])
    async with in_transaction() as conn:
        incident = (
            await SecurityIncident.filter(pk=target.pk).using_db(conn).select_for_update().get()
        )
        if len(incident.notes) >= MAX_NOTES:
            raise ConflictError(f"An incident can hold at most {MAX_NOTES} notes.")
        note = {"by": author_id, "at": now.isoformat(), "text": cleaned}
        changes: dict[str, Any] = {"notes": [*incident.notes, note]}
        if incident.status is IncidentStatus.OPEN:
            changes["status"] = IncidentStatus.INVESTIGATING
        await SecurityIncident.filter(pk=incident.pk).using_db(conn).update(**changes)
        await record_audit(
            guild_id=guild_id,
            actor_id=author_id,
            action="incident.note",
            target_type="security_incident",
            target_id=incident.incident_id,
            before={"status": incident.status},
            after={"status": changes.get("status", incident.status), "note": cleaned},
            using_db=conn,
        )
    return await SecurityIncident.get(pk=target.pk)


async def resolve_incident(
    guild_id: int,
    incident_id: str,
    actor_id: int,
    now: datetime,
    *,
    false_positive: bool = False,
) -> SecurityIncident:
    """Close an incident as resolved (or as a false positive); only an open one can be closed."""
    target = await get_incident(guild_id, incident_id)
    await ensure_rows(guild_id, [actor_id])
    status = IncidentStatus.FALSE_POSITIVE if false_positive else IncidentStatus.RESOLVED
    async with in_transaction() as conn:
        incident = (
            await SecurityIncident.filter(pk=target.pk).using_db(conn).select_for_update().get()
        )
        if incident.status not in OPEN_STATUSES:
            raise ConflictError(
                f"Incident `{incident.incident_id}` is already closed ({_status_label(incident)})."
            )
        action = {"type": status.value, "by": actor_id, "at": now.isoformat()}
        await (
            SecurityIncident.filter(pk=incident.pk)
            .using_db(conn)
            .update(
                status=status,
                resolved_by_id=actor_id,
                resolved_at=now,
                actions=[*incident.actions, action],
            )
        )
        await record_audit(
            guild_id=guild_id,
            actor_id=actor_id,
            action="incident.resolve",
            target_type="security_incident",
            target_id=incident.incident_id,
            before={"status": incident.status},
            after={"status": status},
            using_db=conn,
        )
        await record_security_event(
            guild_id=guild_id,
            user_id=None,
            action=f"security.incident_{status.value}",
            severity=Severity.LOW,
            description=f"Incident {incident.incident_id} closed as {status.value}.",
            metadata={"incident_id": incident.incident_id, "by": actor_id},
            using_db=conn,
        )
    return await SecurityIncident.get(pk=target.pk)


def _status_label(incident: SecurityIncident) -> str:
    return str(incident.status).replace("_", " ")


# ------------------------------------------------------------------------------------------------
# API keys

API_SCOPES: dict[str, str] = {
    "guild:read": "read server settings",
    "guild:write": "change server settings",
    "members:read": "read members and their stats",
    "economy:read": "read balances, the shop and transactions",
    "economy:write": "change balances and the shop",
    "levels:read": "read XP and leaderboards",
    "levels:write": "change XP and level rewards",
    "moderation:read": "read cases and warnings",
    "moderation:write": "warn, mute, kick and ban",
    "tickets:read": "read tickets and transcripts",
    "giveaways:read": "read giveaways and winners",
}
KEY_PREFIX = "pgs_"
SHOWN_PREFIX_LENGTH = 12  # "pgs_" and 8 random characters: enough to tell keys apart
SECRET_LENGTH = 40
MAX_ACTIVE_KEYS_PER_OWNER = 25
MAX_KEY_NAME_LENGTH = 64
_SECRET_ALPHABET = string.ascii_letters + string.digits


def hash_secret(secret: str) -> str:
    """The hex SHA-256 stored for a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str) -> list[str]:
    """Scopes separated by commas or spaces; `read` means every read scope, `all` every scope."""
    names = [part for part in re.split(r"[\s,;]+", (text or "").strip().lower()) if part]
    if not names:
        raise ValidationError("Give at least one scope, e.g. `economy:read levels:read`.")
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
                f"{shown_input(name)} is not a scope. Use read, all, or: {', '.join(API_SCOPES)}."
            )
        chosen.extend(scope for scope in expanded if scope not in chosen)
    return chosen


def _new_secret(rng: Random | None) -> str:
    choose = rng.choice if rng is not None else secrets.choice
    return KEY_PREFIX + "".join(choose(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    key: ApiKey
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
        raise PermissionDenied("Only the bot's owners can create bot-wide API keys.")
    if guild_id is not None and not (is_bot_owner or is_guild_admin):
        raise PermissionDenied("You need the Administrator permission to create API keys here.")
    cleaned_name = (name or "").strip()
    if not cleaned_name or len(cleaned_name) > MAX_KEY_NAME_LENGTH:
        raise ValidationError(f"The key's name must be 1 to {MAX_KEY_NAME_LENGTH} characters.")
    unknown = [scope for scope in scopes if scope not in API_SCOPES]
    if unknown or not scopes:
        raise ValidationError(f"Unknown or missing scopes: {', '.join(unknown) or 'none given'}.")
    if not 1 <= rate_limit <= 10_000:
        raise ValidationError("The rate limit must be between 1 and 10,000 requests a minute.")
    expires_at = None if expires_in_seconds is None else now + timedelta(seconds=expires_in_seconds)
    active = (
        await ApiKey.filter(owner_id=owner_id, active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .count()
    )
    if active >= MAX_ACTIVE_KEYS_PER_OWNER:
        raise ConflictError(
            f"You have {active} active keys, the most allowed; revoke one with /apikey revoke."
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
            return CreatedApiKey(key=key, secret=secret)
        except IntegrityError:
            if attempt == _ID_ATTEMPTS - 1:  # a hash collision means a broken random source
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def list_api_keys(
    *, viewer_id: int, guild_id: int | None, is_bot_owner: bool, is_guild_admin: bool
) -> list[ApiKey]:
    """Keys the viewer may see: their own, this guild's (admins), bot-wide ones (bot owners)."""
    visible = Q(owner_id=viewer_id)
    if guild_id is not None and (is_guild_admin or is_bot_owner):
        visible |= Q(guild_id=guild_id)
    if is_bot_owner:
        visible |= Q(guild_id__isnull=True)
    return await ApiKey.filter(visible).order_by("-created_at", "key_prefix")


async def _find_key(reference: str) -> ApiKey:
    text = (reference or "").strip()
    try:
        key = await ApiKey.get_or_none(id=uuid.UUID(text))
    except ValueError:
        matches = await ApiKey.filter(key_prefix=text).limit(2)
        if len(matches) > 1:
            raise ValidationError(
                f"Several keys start with `{text}`: give the key's full id instead."
            ) from None
        key = matches[0] if matches else None
    if key is None:
        raise NotFoundError(f"There is no API key `{text}`.")
    return key


async def revoke_api_key(
    reference: str,
    *,
    actor_id: int,
    guild_id: int | None,
    is_bot_owner: bool,
    is_guild_admin: bool,
) -> ApiKey:
    """Revoke a key given by id or shown prefix (its owner, a bot owner, or its guild's admin)."""
    key = await _find_key(reference)
    allowed = (
        is_bot_owner
        or key.owner_id == actor_id  # type: ignore[attr-defined]
        or (is_guild_admin and guild_id is not None and key.guild_id == guild_id)  # type: ignore[attr-defined]
    )
    if not allowed:
        raise NotFoundError(f"There is no API key `{reference.strip()}`.")  # do not reveal it
    await ensure_rows(None, [actor_id])
    async with in_transaction() as conn:
        revoked = await ApiKey.filter(id=key.id, active=True).using_db(conn).update(active=False)
        if not revoked:
            raise ConflictError(f"The key `{key.key_prefix}` is already revoked.")
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
    return await ApiKey.get(id=key.id)


async def verify_api_key(secret: str, now: datetime) -> ApiKey:
    """The REST API's entry point: the key of `secret`, or PermissionDenied.

    The key must be active and not expired. Checking and counting the use (`usage_count`,
    `last_used_at`) is one conditional UPDATE, so concurrent requests each count once and a key
    revoked at the same moment is never used afterwards.
    """
    if not secret or not secret.startswith(KEY_PREFIX):
        raise PermissionDenied("Invalid API key.")
    digest = hash_secret(secret)
    counted = (
        await ApiKey.filter(key_hash=digest, active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .update(usage_count=F("usage_count") + 1, last_used_at=now)
    )
    if not counted:
        raise PermissionDenied("Invalid, revoked or expired API key.")
    return await ApiKey.get(key_hash=digest)


class ApiKeyRateLimiter:
    """Requests per minute per key (`api_keys.rate_limit`), in memory."""

    WINDOW_SECONDS = 60.0

    def __init__(self) -> None:
        self._windows: dict[str, SlidingWindow] = {}

    def retry_after(self, key: ApiKey, now: datetime) -> float:
        """0 when the request may go ahead (and is counted), else seconds to wait."""
        moment = now.timestamp()
        window = self._windows.setdefault(str(key.id), SlidingWindow())
        window.prune(moment, self.WINDOW_SECONDS)
        if len(window) < key.rate_limit:
            window.times.append(moment)
            return 0.0
        return window.times[0] + self.WINDOW_SECONDS - moment


api_rate_limiter = ApiKeyRateLimiter()


async def enforce_api_rate_limit(
    key: ApiKey,
    endpoint: str,
    now: datetime,
    *,
    limiter: ApiKeyRateLimiter | None = None,
    ip_hash: str | None = None,
) -> None:
    """Raise CooldownActive (and record the violation) when `key` is over its rate limit."""
    wait = (limiter or api_rate_limiter).retry_after(key, now)
    if wait <= 0:
        return
    await record_rate_limit_violation(
        endpoint=endpoint,
        now=now,
        api_key_id=key.id,
        guild_id=key.guild_id,  # type: ignore[attr-defined]
        ip_hash=ip_hash,
        metadata={"rate_limit": key.rate_limit},
    )
    raise CooldownActive(
        f"Rate limit of {key.rate_limit} requests a minute reached; retry in {wait:.0f}s.",
        retry_at=now.timestamp() + wait,
    )


def describe_scopes(scopes: Iterable[str]) -> str:
    return ", ".join(f"`{scope}`" for scope in scopes) or "none"
