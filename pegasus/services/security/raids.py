"""Anti-raid: a sliding window of recent joins per guild, and the incident a raid opens.

`RaidDetector` keeps the window in memory (the security cog owns one). When more than
`raid_joins` members join within `raid_seconds`, `handle_join` opens one `security_incidents` row
(severity high) and writes a `security_logs` entry; members who join while the raid goes on are
appended to the same incident. A raid is over once `raid_seconds` pass without a join. No query
runs for a normal join. One process owns a guild (its shard), so the window is exact.

The raid's recent joins and last join are kept on the incident (`metadata`), so a restart in the
middle of a raid resumes it (`resume_raids`): joins after the restart go to the same incident.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.ids import new_public_id
from models.security import IncidentStatus, SecurityIncident, Severity
from pegasus.services.audit import ensure_rows, record_security_event
from pegasus.services.community import SecurityConfig
from pegasus.services.security.incidents import OPEN_STATUSES

__all__ = ["RAID_INCIDENT", "RaidDetector", "RaidReport", "handle_join", "resume_raids"]

RAID_INCIDENT = "raid"
MAX_TRACKED_JOINS = 10_000  # per guild: bounds memory during a very large raid
# Recent joins kept on the incident for a restart: more than the largest join limit (100).
STORED_JOINS = 200
RESUME_LOOKBACK = timedelta(days=1)
_ID_ATTEMPTS = 5


@dataclass
class _ActiveRaid:
    started_at: float
    last_join_at: float
    pending: list[int]  # members not yet written to the incident
    window_start: float = 0.0  # the first join counted in the raid
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
            raid = state.raid = _ActiveRaid(
                started_at=moment,
                last_join_at=moment,
                pending=members,
                window_start=cutoff,  # the detected window: `seconds` before the raid began
            )
            return raid
        raid.pending.append(user_id)
        raid.last_join_at = moment
        return raid

    def recent_joins(self, guild_id: int) -> list[tuple[float, int]]:
        """The joins in the current window, oldest first (at most `STORED_JOINS`)."""
        state = self._guilds.get(guild_id)
        return list(state.joins)[-STORED_JOINS:] if state else []

    def resume(
        self,
        guild_id: int,
        *,
        incident_pk: int,
        incident_id: str,
        joins: Sequence[tuple[float, int]],
        started_at: float,
        window_start: float,
        last_join_at: float,
    ) -> None:
        """Take up a raid that was going on before a restart, with its recent joins."""
        state = self._guilds.setdefault(guild_id, _GuildJoins())
        state.joins = deque(sorted((float(at), int(user)) for at, user in joins))
        state.raid = _ActiveRaid(
            started_at=started_at,
            last_join_at=last_join_at,
            pending=[],
            window_start=window_start,
            incident_pk=incident_pk,
            incident_id=incident_id,
        )

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



@dataclass(frozen=True, slots=True)
class RaidReport:
    """What a join changed: a new incident (`created`), or members added to the current one."""

    incident_pk: int
    incident_id: str
    created: bool
    added_user_ids: tuple[int, ...]
    total_users: int
    window_start: datetime  # members who joined before it are not part of the raid


async def handle_join(
    guild_id: int,
    user_id: int,
    now: datetime,
    config: SecurityConfig,
    *,
    detector: RaidDetector,
    rng: Random | None = None,
) -> RaidReport | None:
    """Count a join for anti-raid; None unless it opened or extended a raid incident.

    No query runs for a normal join. During a raid the writes of concurrent joins are batched:
    whoever holds the guild's lock writes every member pending so far.
    """
    if not config.raid_protection_on:
        return None
    raid = detector.observe(
        guild_id, user_id, now, joins=config.raid_joins, seconds=config.raid_seconds
    )
    if raid is None:
        return None
    async with detector.lock(guild_id):
        users, raid.pending = raid.pending, []
        if not users:
            return None  # written by the join that held the lock
        window = _Window(
            recent=detector.recent_joins(guild_id),
            started_at=raid.started_at,
            start=raid.window_start,
        )
        incident: SecurityIncident | None = None
        created = False
        if raid.incident_pk is None:
            # A raid that went on before a restart the detector did not know of yet.
            raid.incident_pk = await _resumable_incident(guild_id, now, config.raid_seconds)
        if raid.incident_pk is not None:
            incident = await _append_raid_members(raid.incident_pk, users, now, window)
        if incident is None:  # a new raid, or the incident was closed while the raid went on
            incident = await _open_raid_incident(guild_id, users, now, config, window, rng=rng)
            created = True
        raid.incident_pk, raid.incident_id = incident.pk, incident.incident_id
        window_start = datetime.fromtimestamp(
            float(incident.metadata.get("window_start", raid.window_start)), UTC
        )
        return RaidReport(
            incident_pk=incident.pk,
            incident_id=incident.incident_id,
            created=created,
            added_user_ids=tuple(users),
            total_users=len(incident.affected_users),
            window_start=window_start,
        )


@dataclass(frozen=True, slots=True)
class _Window:
    recent: list[tuple[float, int]]
    started_at: float
    start: float

    def stored(self) -> list[list[float | int]]:
        return [[at, user] for at, user in self.recent]


async def _resumable_incident(guild_id: int, now: datetime, seconds: int) -> int | None:
    """An open raid incident of the guild whose last join is within the window: the raid it
    records is still going on."""
    rows = await SecurityIncident.filter(
        guild_id=guild_id, type=RAID_INCIDENT, status__in=OPEN_STATUSES
    ).order_by("-id").limit(5)
    for row in rows:
        last = (row.metadata or {}).get("last_join_at")
        if last is not None and (now - datetime.fromisoformat(last)).total_seconds() <= seconds:
            return row.pk
    return None


async def resume_raids(
    detector: RaidDetector, now: datetime, owns_guild: Callable[[int], bool]
) -> int:
    """Take up the raids that were going on when the bot stopped (open raid incidents whose
    last join is within their window); returns how many."""
    rows = await SecurityIncident.filter(
        type=RAID_INCIDENT, status__in=OPEN_STATUSES, updated_at__gte=now - RESUME_LOOKBACK
    )
    resumed = 0
    for row in rows:
        guild_id = row.guild_id  # type: ignore[attr-defined]
        meta = row.metadata or {}
        if guild_id is None or not owns_guild(guild_id) or "last_join_at" not in meta:
            continue
        last = datetime.fromisoformat(meta["last_join_at"])
        if (now - last).total_seconds() > int(meta.get("raid_seconds", 0)):
            continue
        detector.resume(
            guild_id,
            incident_pk=row.pk,
            incident_id=row.incident_id,
            joins=[(at, user) for at, user in meta.get("recent_joins", [])],
            started_at=float(meta.get("started_at", last.timestamp())),
            window_start=float(meta.get("window_start", last.timestamp())),
            last_join_at=last.timestamp(),
        )
        resumed += 1
    return resumed


async def _open_raid_incident(
    guild_id: int,
    users: Sequence[int],
    now: datetime,
    config: SecurityConfig,
    window: _Window,
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
                        "started_at": window.started_at,
                        "window_start": window.start,
                        "recent_joins": window.stored(),
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
    raise AssertionError  # pragma: no cover - unreachable: the last attempt returns or raises


async def _append_raid_members(
    incident_pk: int, users: Sequence[int], now: datetime, window: _Window
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
        metadata = {
            **incident.metadata,
            "last_join_at": now.isoformat(),
            "recent_joins": window.stored(),
        }
        await (
            SecurityIncident.filter(pk=incident_pk)
            .using_db(conn)
            .update(affected_users=affected, metadata=metadata)
        )
        incident.affected_users = affected
        incident.metadata = metadata
        return incident
