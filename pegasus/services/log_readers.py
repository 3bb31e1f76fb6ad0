"""Reading the audit log (who changed what) and the security log (what happened to members).

One reader for every adapter: `/audit` and `/security log` in Discord read numbered pages of
frozen entries; the REST API's keyset pagination needs the query itself (as for the other lists
it builds), so `audit_entries` and `security_events` give it the filtered query. They are left
out of `__all__`: every other caller gets entries, never rows. Entries come newest first; filters
are plain values (ids, names, moments), so both adapters filter alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from models.security import AuditLog, AuditSource, SecurityLog, Severity
from pegasus.errors import ValidationError
from pegasus.i18n import _, format_number
from pegasus.services.settings import declared

__all__ = [
    "NEWEST_FIRST",
    "AuditEntry",
    "AuditFilter",
    "LogPage",
    "SecurityEvent",
    "SecurityFilter",
    "audit_actors",
    "audit_features",
    "feature_of",
    "read_audit_after",
    "read_audit_entry",
    "read_audit_page",
    "read_security_page",
    "recorded_security_actions",
    "settings_changes_since",
    "settings_tables",
]

NEWEST_FIRST = ("-created_at", "-id")
MAX_PAGE = 100_000
E = TypeVar("E")
M = TypeVar("M", AuditLog, SecurityLog)


@dataclass(frozen=True)
class AuditEntry:
    """A change: who made it, from where, to what, with the state before and after."""

    id: uuid.UUID
    action: str
    actor_id: int | None
    source: AuditSource
    target_type: str | None
    target_id: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    ip_hash: str | None  # a keyed hash of the client's address (API only), never the address
    user_agent: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: AuditLog) -> AuditEntry:
        return cls(
            id=row.id,
            action=row.action,
            actor_id=row.actor_id,  # type: ignore[attr-defined]
            source=AuditSource(row.source),
            target_type=row.target_type,
            target_id=row.target_id,
            before=row.before,
            after=row.after,
            ip_hash=row.ip_hash,
            user_agent=row.user_agent,
            created_at=row.created_at,
        )

    @property
    def feature(self) -> str:
        """The feature the change belongs to: the feature declaring the settings it changed
        (features may share a table), else the action's first word (`automation.add`)."""
        keys = {*(self.before or {}), *(self.after or {})}
        return feature_of(self.action, self.target_type, keys)

    def concerns(self, feature: str) -> bool:
        """Whether the change is the feature's, or its action is of that family."""
        return self.feature == feature or self.action.startswith(f"{feature}.")


@dataclass(frozen=True)
class SecurityEvent:
    """Something that happened to a member or the server: a case, a raid, spam, a refused key."""

    id: uuid.UUID
    action: str
    user_id: int | None  # whom it is about; who acted is in `metadata`
    severity: Severity
    description: str
    metadata: Mapping[str, Any]
    user_agent: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: SecurityLog) -> SecurityEvent:
        return cls(
            id=row.id,
            action=row.action,
            user_id=row.user_id,  # type: ignore[attr-defined]
            severity=Severity(row.severity),
            description=row.description,
            metadata=dict(row.metadata or {}),
            user_agent=row.user_agent,
            created_at=row.created_at,
        )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor_id: int | None = None
    action: str | None = None  # one action, or a family: `automation.*`
    feature: str | None = None  # a feature's settings and the actions named after it
    target_type: str | None = None
    target_id: str | None = None
    source: AuditSource | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class SecurityFilter:
    user_id: int | None = None
    action: str | None = None  # one action, or a family: `moderation.*`
    severity: Severity | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class LogPage(Generic[E]):
    """One numbered page (from 1) of entries, newest first."""

    entries: tuple[E, ...]
    page: int
    pages: int
    total: int


def settings_tables() -> dict[str, list[str]]:
    """Each declared settings table → the features whose settings it holds."""
    tables: dict[str, list[str]] = {}
    for feature, spec in declared().items():
        tables.setdefault(spec.model._meta.db_table, []).append(feature)
    return tables


def feature_of(action: str, target_type: str | None, keys: set[str]) -> str:
    """The feature of an audited change (see `AuditEntry.feature`)."""
    specs = [spec for spec in declared().values() if spec.model._meta.db_table == target_type]
    for spec in specs:
        if keys & set(spec.by_name):
            return spec.feature
    return action.partition(".")[0]


def _common(query: QuerySet[M], action: str | None, since: datetime | None,
            until: datetime | None) -> QuerySet[M]:
    if action is not None and action.strip():
        action = action.strip()
        if action.endswith(".*"):
            query = query.filter(action__startswith=action[:-1])
        else:
            query = query.filter(action=action)
    if since is not None:
        query = query.filter(created_at__gte=since)
    if until is not None:
        query = query.filter(created_at__lt=until)
    return query


def audit_entries(guild_id: int, wanted: AuditFilter = AuditFilter()) -> QuerySet[AuditLog]:
    """The guild's audit rows that `wanted` lets through (unordered)."""
    query = _common(AuditLog.filter(guild_id=guild_id), wanted.action, wanted.since, wanted.until)
    if wanted.actor_id is not None:
        query = query.filter(actor_id=wanted.actor_id)
    if wanted.target_type:
        query = query.filter(target_type=wanted.target_type.strip())
    if wanted.target_id:
        query = query.filter(target_id=wanted.target_id.strip())
    if wanted.source is not None:
        query = query.filter(source=wanted.source)
    if wanted.feature:
        # Candidates only: a table several features share is told apart by `AuditEntry.concerns`.
        feature = wanted.feature.strip().lower()
        tables = [table for table, names in settings_tables().items() if feature in names]
        query = query.filter(_feature_clause(feature, tables))
    return query


def _feature_clause(feature: str, tables: list[str]) -> Q:
    clause = Q(action__startswith=f"{feature}.")
    if tables:
        clause |= Q(target_type__in=tables)
    return clause


def security_events(
    guild_id: int, wanted: SecurityFilter = SecurityFilter()
) -> QuerySet[SecurityLog]:
    """The guild's security rows that `wanted` lets through (unordered)."""
    query = _common(
        SecurityLog.filter(guild_id=guild_id), wanted.action, wanted.since, wanted.until
    )
    if wanted.user_id is not None:
        query = query.filter(user_id=wanted.user_id)
    if wanted.severity is not None:
        query = query.filter(severity=wanted.severity)
    return query


async def _page(query: QuerySet[M], page: int, per_page: int) -> tuple[list[M], int, int, int]:
    if not 1 <= page <= MAX_PAGE:
        raise ValidationError(
            _("Pages are numbered from 1 to {last}.").format(last=format_number(MAX_PAGE))
        )
    total = await query.count()
    pages = max(1, -(-total // per_page))
    shown = min(page, pages)
    rows = await query.order_by(*NEWEST_FIRST).offset((shown - 1) * per_page).limit(per_page)
    return rows, shown, pages, total


async def read_audit_page(
    guild_id: int, wanted: AuditFilter, *, page: int = 1, per_page: int = 5
) -> LogPage[AuditEntry]:
    """Page `page` of the audit log (the last page if there are fewer)."""
    query = audit_entries(guild_id, wanted)
    if not wanted.feature:
        rows, shown, pages, total = await _page(query, page, per_page)
        return LogPage(tuple(AuditEntry.from_row(row) for row in rows), shown, pages, total)
    # Configuration changes are few (and retention bounds them): told apart in memory.
    feature = wanted.feature.strip().lower()
    entries = [
        entry
        for entry in map(AuditEntry.from_row, await query.order_by(*NEWEST_FIRST))
        if entry.concerns(feature)
    ]
    pages = max(1, -(-len(entries) // per_page))
    shown = min(max(page, 1), pages)
    chosen = entries[(shown - 1) * per_page : shown * per_page]
    return LogPage(tuple(chosen), shown, pages, len(entries))


async def read_audit_entry(guild_id: int, entry_id: uuid.UUID) -> AuditEntry | None:
    """One change of the guild's audit log, or None if the guild has no such entry."""
    row = await AuditLog.get_or_none(guild_id=guild_id, id=entry_id)
    return None if row is None else AuditEntry.from_row(row)


AuditCursor = tuple[datetime, uuid.UUID]  # (created_at, id) of the last entry a page showed


async def read_audit_after(
    guild_id: int, wanted: AuditFilter, *, after: AuditCursor | None = None, limit: int = 25
) -> tuple[list[AuditEntry], AuditCursor | None]:
    """Up to `limit` entries after `after` (newest first), and the cursor of the next page (None
    on the last). Keyset, never OFFSET: a page stays right while entries are added."""
    query = audit_entries(guild_id, wanted)
    feature = (wanted.feature or "").strip().lower()
    chosen: list[AuditEntry] = []
    while True:
        batch = query if after is None else query.filter(_before_cursor(after))
        rows = await batch.order_by(*NEWEST_FIRST).limit(limit + 1)
        for row in rows:
            entry = AuditEntry.from_row(row)
            after = (entry.created_at, entry.id)
            if not feature or entry.concerns(feature):
                chosen.append(entry)
            if len(chosen) > limit:
                last = chosen[limit - 1]
                return chosen[:limit], (last.created_at, last.id)
        if len(rows) <= limit:
            return chosen, None


def _before_cursor(cursor: AuditCursor) -> Q:
    moment, entry_id = cursor
    return Q(created_at__lt=moment) | Q(created_at=moment, id__lt=entry_id)


async def read_security_page(
    guild_id: int, wanted: SecurityFilter, *, page: int = 1, per_page: int = 8
) -> LogPage[SecurityEvent]:
    """Page `page` of the security log (the last page if there are fewer)."""
    rows, shown, pages, total = await _page(security_events(guild_id, wanted), page, per_page)
    return LogPage(tuple(SecurityEvent.from_row(row) for row in rows), shown, pages, total)


async def audit_features(guild_id: int, *, limit: int = 25) -> list[str]:
    """The features the guild's audit log names, for suggestions: declared settings first."""
    actions = await AuditLog.filter(guild_id=guild_id).distinct().values_list("action", flat=True)
    named = {str(action).partition(".")[0] for action in actions}
    features = sorted(set(declared())) + sorted(named - set(declared()))
    return features[:limit]


async def audit_actors(guild_id: int, *, limit: int = 50) -> list[int]:
    """The people whose changes the guild's audit log holds, for choosing whose to show."""
    ids = (
        await AuditLog.filter(guild_id=guild_id, actor_id__isnull=False)
        .distinct()
        .values_list("actor_id", flat=True)
    )
    return sorted(int(actor_id) for actor_id in ids)[:limit]


async def recorded_security_actions(guild_id: int) -> list[str]:
    """The actions the guild's security log holds, sorted."""
    actions = await SecurityLog.filter(guild_id=guild_id).distinct().values_list(
        "action", flat=True
    )
    return sorted({str(action) for action in actions})


async def settings_changes_since(guild_id: int, since: datetime) -> list[AuditEntry]:
    """Changes of declared settings at or after `since`, oldest first (for the server log)."""
    rows = await (
        AuditLog.filter(
            guild_id=guild_id, created_at__gte=since, target_type__in=list(settings_tables())
        )
        .order_by("created_at", "id")
        .limit(50)
    )
    return [AuditEntry.from_row(row) for row in rows]
