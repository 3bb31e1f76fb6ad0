"""The audit trail: configuration changes go to `audit_logs`, moderation events to `security_logs`.

Both tables point at `guilds` and `users`, and a guild or a person may act before anything else has
stored a row for them, so `ensure_rows` creates the missing ones first through
`pegasus.services.directory`: `INSERT ... ON CONFLICT DO NOTHING`, safe when several tasks or
processes meet the same new id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.security import AuditLog, AuditSource, SecurityLog, Severity
from pegasus.services import directory

__all__ = [
    "AuditSource",
    "Severity",
    "ensure_rows",
    "record_audit",
    "record_security_event",
]


async def ensure_rows(
    guild_id: int | None,
    user_ids: Iterable[int | None] = (),
    *,
    using_db: BaseDBAsyncClient | None = None,
) -> None:
    """Make sure the guild (with its settings row) and the `users` rows exist.

    The rows are created the way `pegasus.services.directory` creates them everywhere else. Call
    it before the transaction that refers to them: inserting them inside a long transaction would
    hold locks that concurrent writers wait on. Ids are inserted in ascending order, so two
    writers meeting the same new users never wait on each other in opposite orders.
    """
    if guild_id is not None:
        await directory.ensure_guild(guild_id, using_db=using_db)
    for user_id in sorted({user_id for user_id in user_ids if user_id is not None}):
        await directory.ensure_user(user_id, using_db=using_db)


async def record_audit(
    *,
    guild_id: int | None,
    actor_id: int | None,
    action: str,
    target_type: str | None = None,
    target_id: int | str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    source: AuditSource = AuditSource.DISCORD,
    using_db: BaseDBAsyncClient | None = None,
) -> None:
    """Record a configuration change (e.g. `automation.add`, `blacklist.remove`, `modlog.set`).

    `before` is None for something created, `after` None for something deleted. The guild and
    actor rows must exist (`ensure_rows`).
    """
    await AuditLog.create(
        guild_id=guild_id,
        actor_id=actor_id,
        source=source,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=_jsonable(before),
        after=_jsonable(after),
        using_db=using_db,
    )


async def record_security_event(
    *,
    guild_id: int | None,
    user_id: int | None,
    action: str,
    severity: Severity,
    description: str = "",
    metadata: Mapping[str, Any] | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> None:
    """Record a moderation or security event (`moderation.ban`, `moderation.warn`, ...).

    `user_id` is the person the event is about; the actor goes in `metadata`.
    """
    await SecurityLog.create(
        guild_id=guild_id,
        user_id=user_id,
        action=action,
        severity=severity,
        description=description,
        metadata=_jsonable(metadata) or {},
        using_db=using_db,
    )


def _jsonable(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-safe copy: datetimes become ISO strings and enums their values."""
    if value is None:
        return None
    return {str(key): _json_value(item) for key, item in value.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)  # StrEnum members become plain strings
    return value
