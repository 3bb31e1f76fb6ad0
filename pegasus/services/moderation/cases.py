"""Moderation cases: numbering, recording, timed punishments and their end, amendments.

The cog performs the Discord side of an action (ban, kick, role change) and then records it here;
the record is one transaction holding the case, the timer that will end it (if timed) and the
security log entry. Case numbers come from an atomic `UPDATE ... SET last_case_number =
last_case_number + 1` on the guild's `moderation_settings` row; the row stays locked until the
transaction ends, so concurrent actions (in one process or several) get 1, 2, 3 ... with no gap
and no duplicate.

Which punishments are "running" is told by `mod_cases.active`: a ban, mute or timeout is active
until it is lifted, replaced by a newer one, or its timer ends it. A timer therefore only acts if
its own case is still active, which is how a tempban's timer leaves a newer permanent ban alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models.moderation import CaseAuditEntry, CaseType, ModCase, ModerationSettings
from pegasus import scheduler
from pegasus.errors import NotFoundError, ValidationError
from pegasus.i18n import _
from pegasus.services import ids
from pegasus.services.audit import Severity, ensure_rows, record_audit, record_security_event
from pegasus.services.settings import ensure_settings_row

__all__ = [
    "CASES_PER_PAGE",
    "KIND_TIMEOUT_END",
    "KIND_UNBAN",
    "KIND_UNMUTE",
    "MAX_REASON_LENGTH",
    "MAX_TIMEOUT_SECONDS",
    "Case",
    "CaseType",
    "TimedEnd",
    "active_case",
    "amend_reason",
    "clean_reason",
    "close_timed_case",
    "create_case",
    "end_timed_case",
    "get_case",
    "inspect_timed_case",
    "list_cases",
    "prepare_case",
    "record_action",
    "set_modlog_message",
]

# Scheduled action kinds handled by the moderation cog.
KIND_UNBAN = "moderation.unban"
KIND_UNMUTE = "moderation.unmute"
KIND_TIMEOUT_END = "moderation.timeout_end"

MAX_TIMEOUT_SECONDS = 28 * 86400  # Discord's limit for a native timeout
MAX_REASON_LENGTH = 1000
CASES_PER_PAGE = 10

# Punishments that run until lifted, and the case type that lifts each.
TIMED_TYPES = {
    CaseType.BAN: CaseType.UNBAN,
    CaseType.MUTE: CaseType.UNMUTE,
    CaseType.TIMEOUT: CaseType.UNTIMEOUT,
}
LIFTING_TYPES = {lift: punish for punish, lift in TIMED_TYPES.items()}
TIMER_KINDS = {
    CaseType.BAN: KIND_UNBAN,
    CaseType.MUTE: KIND_UNMUTE,
    CaseType.TIMEOUT: KIND_TIMEOUT_END,
}
SEVERITY = {
    CaseType.WARN: Severity.LOW,
    CaseType.MUTE: Severity.MEDIUM,
    CaseType.UNMUTE: Severity.LOW,
    CaseType.TIMEOUT: Severity.MEDIUM,
    CaseType.UNTIMEOUT: Severity.LOW,
    CaseType.KICK: Severity.HIGH,
    CaseType.BAN: Severity.HIGH,
    CaseType.UNBAN: Severity.MEDIUM,
    CaseType.PURGE: Severity.MEDIUM,
}


@dataclass(frozen=True, slots=True)
class Case:
    """One moderation case as stored (`mod_cases`)."""

    id: int
    guild_id: int
    case_number: int
    type: CaseType
    user_id: int | None  # None only for an action on no one in particular (a purge)
    moderator_id: int | None
    reason: str | None
    duration_seconds: int | None
    expires_at: datetime | None
    active: bool  # a ban, mute or timeout still running
    proof: tuple[str, ...]
    reason_edited_by_id: int | None
    reason_edited_at: datetime | None
    channel_id: int | None
    modlog_message_id: int | None
    metadata: Mapping[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, row: ModCase) -> Case:
        return cls(
            id=row.id,
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            case_number=row.case_number,
            type=CaseType(row.type),
            user_id=row.user_id,  # type: ignore[attr-defined]
            moderator_id=row.moderator_id,  # type: ignore[attr-defined]
            reason=row.reason,
            duration_seconds=row.duration_seconds,
            expires_at=row.expires_at,
            active=row.active,
            proof=tuple(row.proof or ()),
            reason_edited_by_id=row.reason_edited_by_id,  # type: ignore[attr-defined]
            reason_edited_at=row.reason_edited_at,
            channel_id=row.channel_id,
            modlog_message_id=row.modlog_message_id,
            metadata=dict(row.metadata or {}),
            created_at=row.created_at,
        )


def timer_key(case_id: int) -> str:
    """The scheduler dedupe key of the timer that ends case `case_id`."""
    return f"case:{case_id}"


def clean_reason(reason: str | None) -> str | None:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError(
            _("The reason can be at most {count} characters.").format(count=MAX_REASON_LENGTH)
        )
    return reason or None


async def next_case_number(guild_id: int, conn: BaseDBAsyncClient) -> int:
    """Take the guild's next case number. Call inside a transaction (`conn`).

    The UPDATE locks the counter row until the transaction ends, so the value read back is ours.
    The row itself is created beforehand by `prepare_case`.
    """
    await (
        ModerationSettings.filter(guild_id=guild_id)
        .using_db(conn)
        .update(last_case_number=F("last_case_number") + 1)
    )
    number = (
        await ModerationSettings.filter(guild_id=guild_id)
        .using_db(conn)
        .first()
        .values_list("last_case_number", flat=True)
    )
    if number is None:  # pragma: no cover - prepare_case always ran first
        raise NotFoundError(_("This server has no moderation settings yet."))
    return int(number)


async def prepare_case(guild_id: int, user_ids: Iterable[int | None] = ()) -> None:
    """The guild, user and settings rows a case refers to, created outside the transaction."""
    await ensure_rows(guild_id, user_ids)
    await ensure_settings_row(ModerationSettings, guild_id)


async def create_case(
    *,
    guild_id: int,
    case_type: CaseType,
    user_id: int | None,
    moderator_id: int | None,
    reason: str | None,
    now: datetime,
    conn: BaseDBAsyncClient,
    duration_seconds: int | None = None,
    proof: Sequence[str] = (),
    channel_id: int | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Case:
    """Write one case with the next number, plus its security log entry, inside `conn`.

    For other services (warnings) that write a case together with their own rows. Call it first
    in the transaction: taking the number serialises the guild's moderation writes. The guild and
    user rows must exist (`prepare_case`).
    """
    number = await next_case_number(guild_id, conn)
    row = await _insert_case(
        guild_id=guild_id,
        number=number,
        case_type=CaseType(case_type),
        user_id=user_id,
        moderator_id=moderator_id,
        reason=reason,
        now=now,
        duration_seconds=duration_seconds,
        proof=proof,
        channel_id=channel_id,
        metadata=metadata or {},
        conn=conn,
    )
    return Case.from_row(row)


async def _deactivate_running(
    guild_id: int, user_id: int, case_type: CaseType, conn: BaseDBAsyncClient
) -> list[int]:
    """End every running case of `case_type` for the user and cancel their timers.

    Returns the ids of the cases that were running.
    """
    running = await (
        ModCase.filter(guild_id=guild_id, user_id=user_id, type=case_type, active=True)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    if running:
        await ModCase.filter(id__in=list(running)).using_db(conn).update(active=False)
        for case_id in running:
            await scheduler.cancel(TIMER_KINDS[case_type], timer_key(case_id), using_db=conn)
    return list(running)


async def record_action(
    *,
    guild_id: int,
    case_type: CaseType,
    user_id: int | None,
    moderator_id: int | None,
    reason: str | None,
    now: datetime,
    duration_seconds: int | None = None,
    proof: Sequence[str] = (),
    channel_id: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    audit_entry_id: int | None = None,
) -> Case:
    """Record a moderation action the cog has just performed on Discord; returns its case.

    - A ban, mute or timeout replaces the user's running one of the same kind (its timer is
      cancelled) and, when timed, schedules its own end in the same transaction.
    - An unban, unmute or untimeout ends the running punishment it lifts.
    - `audit_entry_id`: the Discord audit log entry the action was read from; a second case
      from the same entry raises IntegrityError and the whole transaction is rolled back.
    """
    case_type = CaseType(case_type)
    reason = clean_reason(reason)
    _validate_duration(case_type, duration_seconds)
    if case_type is not CaseType.PURGE and user_id is None:
        raise ValidationError(_("This action needs a member."))
    await prepare_case(guild_id, [user_id, moderator_id])
    async with in_transaction() as conn:
        # The counter first: it serialises the guild's moderation writes (see module doc).
        number = await next_case_number(guild_id, conn)
        replaced: list[int] = []
        if user_id is not None and case_type in TIMED_TYPES:
            replaced = await _deactivate_running(guild_id, user_id, case_type, conn)
        elif user_id is not None and case_type in LIFTING_TYPES:
            replaced = await _deactivate_running(guild_id, user_id, LIFTING_TYPES[case_type], conn)
        meta = dict(metadata or {})
        if replaced:
            meta["ended_cases"] = replaced
        case = await _insert_case(
            guild_id=guild_id,
            number=number,
            case_type=case_type,
            user_id=user_id,
            moderator_id=moderator_id,
            reason=reason,
            now=now,
            duration_seconds=duration_seconds,
            proof=proof,
            channel_id=channel_id,
            metadata=meta,
            conn=conn,
        )
        if audit_entry_id is not None:
            await CaseAuditEntry.create(
                entry_id=audit_entry_id, guild_id=guild_id, case_id=case.id, using_db=conn
            )
        if case.expires_at is not None and case_type in TIMER_KINDS:
            await scheduler.schedule(
                TIMER_KINDS[case_type],
                case.expires_at,
                {"case_id": case.id, "user_id": user_id},
                guild_id=guild_id,
                dedupe_key=timer_key(case.id),
                using_db=conn,
            )
    return Case.from_row(case)


def _validate_duration(case_type: CaseType, duration_seconds: int | None) -> None:
    if duration_seconds is None:
        if case_type is CaseType.TIMEOUT:
            raise ValidationError(_("A timeout needs a duration (at most 28 days)."))
        return
    if case_type not in TIMED_TYPES:
        raise ValidationError(_("A {type} cannot have a duration.").format(type=case_type))
    if duration_seconds <= 0:
        raise ValidationError(_("The duration must be positive."))
    if case_type is CaseType.TIMEOUT and duration_seconds > MAX_TIMEOUT_SECONDS:
        raise ValidationError(
            _("Discord allows timeouts of at most 28 days; use /mute for longer ones.")
        )


async def _insert_case(
    *,
    guild_id: int,
    number: int,
    case_type: CaseType,
    user_id: int | None,
    moderator_id: int | None,
    reason: str | None,
    now: datetime,
    duration_seconds: int | None,
    proof: Sequence[str],
    channel_id: int | None,
    metadata: Mapping[str, Any],
    conn: BaseDBAsyncClient,
) -> ModCase:
    expires_at = now + timedelta(seconds=duration_seconds) if duration_seconds else None
    case = await ModCase.create(
        guild_id=guild_id,
        case_number=number,
        type=case_type,
        user_id=user_id,
        moderator_id=moderator_id,
        reason=reason,
        duration_seconds=duration_seconds,
        expires_at=expires_at,
        # Bans, mutes and timeouts run until lifted; everything else is over when recorded.
        active=case_type in TIMED_TYPES,
        proof=list(proof),
        channel_id=channel_id,
        metadata=dict(metadata),
        created_at=now,
        using_db=conn,
    )
    await record_security_event(
        guild_id=guild_id,
        user_id=user_id,
        action=f"moderation.{case_type}",
        severity=SEVERITY[case_type],
        description=f"Case #{number}: {case_type}" + (f" ({reason})" if reason else ""),
        metadata={
            "case_number": number,
            "moderator_id": moderator_id,
            "duration_seconds": duration_seconds,
            **dict(metadata),
        },
        using_db=conn,
    )
    return case


async def active_case(
    guild_id: int, user_id: int, case_type: CaseType, *, now: datetime | None = None
) -> Case | None:
    """The user's running punishment of `case_type` (newest first), if any.

    With `now`, a punishment whose time is up but whose timer has not run yet does not count.
    """
    query = ModCase.filter(guild_id=guild_id, user_id=user_id, type=case_type, active=True)
    if now is not None:
        query = query.filter(Q(expires_at=None) | Q(expires_at__gt=now))
    row = await query.order_by("-case_number").first()
    return Case.from_row(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class TimedEnd:
    """What a timer found when it came to end case `case`."""

    case: Case | None  # the timed case, None if it no longer exists
    still_running: bool  # False: lifted by hand or replaced; the timer must do nothing
    newer: Case | None  # a newer running punishment of the same kind, if any


async def inspect_timed_case(case_id: int) -> TimedEnd:
    """Decide what a timer for `case_id` should do, before it touches Discord."""
    case = await ModCase.get_or_none(id=case_id)
    if case is None:
        return TimedEnd(None, False, None)
    newer = None
    if case.user_id is not None:  # type: ignore[attr-defined]
        newer = (
            await ModCase.filter(
                guild_id=case.guild_id,  # type: ignore[attr-defined]
                user_id=case.user_id,  # type: ignore[attr-defined]
                type=case.type,
                active=True,
                case_number__gt=case.case_number,
            )
            .order_by("-case_number")
            .first()
        )
    return TimedEnd(
        Case.from_row(case),
        case.active and newer is None,
        Case.from_row(newer) if newer is not None else None,
    )


async def _complete_timed_case(
    case_id: int, *, now: datetime, actor_id: int | None, note: str | None = None
) -> Case | None:
    """End a running timed case and record the lifting case (unban, unmute, untimeout).

    Conditional on the case still being active, so a repeat (a retried timer, a second process)
    records nothing; returns the new case, or None when there was nothing to end.
    """
    case = await ModCase.get_or_none(id=case_id)
    if case is None or case.type not in TIMED_TYPES:
        return None
    guild_id: int = case.guild_id  # type: ignore[attr-defined]
    await prepare_case(guild_id, [actor_id])
    async with in_transaction() as conn:
        number = await next_case_number(guild_id, conn)
        ended = await ModCase.filter(id=case_id, active=True).using_db(conn).update(active=False)
        if not ended:
            # Rolls the transaction back, so the case number is not spent.
            raise _NothingToEnd()
        lifted = await _insert_case(
            guild_id=guild_id,
            number=number,
            case_type=TIMED_TYPES[case.type],
            user_id=case.user_id,  # type: ignore[attr-defined]
            moderator_id=actor_id,
            reason=note or f"{case.type.capitalize()} from case #{case.case_number} expired",
            now=now,
            duration_seconds=None,
            proof=(),
            channel_id=None,
            metadata={"expired_case": case.case_number, "automatic": True},
            conn=conn,
        )
    return Case.from_row(lifted)


class _NothingToEnd(Exception):
    pass


async def end_timed_case(
    case_id: int, *, now: datetime, actor_id: int | None, note: str | None = None
) -> Case | None:
    """`_complete_timed_case` that answers None instead of raising when nothing was running."""
    try:
        return await _complete_timed_case(case_id, now=now, actor_id=actor_id, note=note)
    except _NothingToEnd:
        return None


async def close_timed_case(case_id: int) -> bool:
    """Mark a timed case over without recording a lifting case (a native timeout that Discord
    ends by itself). False when it had already ended or been replaced."""
    return bool(await ModCase.filter(id=case_id, active=True).update(active=False))


async def get_case(guild_id: int, case_number: int) -> Case:
    case = await ModCase.get_or_none(
        guild_id=guild_id, case_number=ids.CASE_NUMBER.check(case_number)
    )
    if case is None:
        raise ids.CASE_NUMBER.not_found(case_number)
    return Case.from_row(case)


async def list_cases(
    guild_id: int, user_id: int, *, page: int = 1, per_page: int = CASES_PER_PAGE
) -> tuple[list[Case], int]:
    """One page (1-based) of the user's cases, newest first, and the total count."""
    if page < 1:
        raise ValidationError(_("Pages start at 1."))
    query = ModCase.filter(guild_id=guild_id, user_id=user_id)
    total = await query.count()
    cases = await query.order_by("-case_number").offset((page - 1) * per_page).limit(per_page)
    return [Case.from_row(case) for case in cases], total


async def amend_reason(
    guild_id: int, case_number: int, reason: str, *, editor_id: int, now: datetime
) -> tuple[Case, str | None]:
    """Replace a case's reason (who and when are kept); returns the case and the old reason."""
    new_reason = clean_reason(reason)
    if new_reason is None:
        raise ValidationError(_("Give the new reason."))
    await prepare_case(guild_id, [editor_id])
    async with in_transaction() as conn:
        case = (
            await ModCase.filter(guild_id=guild_id, case_number=ids.CASE_NUMBER.check(case_number))
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if case is None:
            raise ids.CASE_NUMBER.not_found(case_number)
        old_reason = case.reason
        await (
            ModCase.filter(id=case.id)
            .using_db(conn)
            .update(reason=new_reason, reason_edited_by_id=editor_id, reason_edited_at=now)
        )
        await record_audit(
            guild_id=guild_id,
            actor_id=editor_id,
            action="case.reason",
            target_type="case",
            target_id=case_number,
            before={"reason": old_reason},
            after={"reason": new_reason},
            using_db=conn,
        )
    case.reason, case.reason_edited_at = new_reason, now
    case.reason_edited_by_id = editor_id  # type: ignore[attr-defined]
    return Case.from_row(case), old_reason


async def set_modlog_message(case_id: int, message_id: int) -> None:
    await ModCase.filter(id=case_id).update(modlog_message_id=message_id)
