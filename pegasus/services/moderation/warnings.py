"""Warnings: issue, list, edit (every edit kept), remove (kept, made inactive), expire, history.

A warning is written in one transaction with its case, its expiry timer (when it decays) and the
evaluation of the guild's automations, whose firings are scheduled as durable actions in that same
transaction. Taking the case number first serialises the guild's warnings, so two warnings issued
at the same moment cannot both believe they were the one that crossed a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models.ids import new_public_id
from models.moderation import CaseType, MemberWarning, WarningEdit, WarningEditKind
from pegasus import scheduler
from pegasus.errors import ConflictError, ValidationError, shown_input
from pegasus.i18n import _, format_number
from pegasus.services import ids
from pegasus.services.audit import Severity, record_audit, record_security_event
from pegasus.services.moderation.automations import Firing, evaluate_after_warning
from pegasus.services.moderation.cases import Case, create_case, prepare_case

__all__ = [
    "KIND_WARNING_EXPIRE",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "IssuedWarning",
    "PurgedWarnings",
    "WarningChange",
    "WarningEditKind",
    "WarningRecord",
    "clean_proof",
    "edit_warning",
    "expire_warning",
    "get_warning",
    "issue_warning",
    "list_warnings",
    "purge_warnings",
    "remove_warning",
    "warning_history",
    "warning_public_id",
]

KIND_WARNING_EXPIRE = "moderation.warning_expire"
MAX_TITLE_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 2000
MAX_PROOF_ITEMS = 10
MIN_LEVEL, MAX_LEVEL = 1, 5
EDITABLE = ("title", "description", "level")
_ID_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class WarningRecord:
    """A warning as stored (`warnings`), with its public id (`W-7K2QX`)."""

    id: int
    warn_id: str
    guild_id: int
    user_id: int
    moderator_id: int | None
    case_id: int | None
    title: str
    description: str | None
    level: int
    proof: tuple[str, ...]
    active: bool  # False once removed or expired
    expires_at: datetime | None
    removed_at: datetime | None
    removed_by_id: int | None
    removed_reason: str | None
    edited_at: datetime | None
    edited_by_id: int | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: MemberWarning) -> WarningRecord:
        return cls(
            id=row.id,
            warn_id=row.warn_id,
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            user_id=row.user_id,  # type: ignore[attr-defined]
            moderator_id=row.moderator_id,  # type: ignore[attr-defined]
            case_id=row.case_id,  # type: ignore[attr-defined]
            title=row.title,
            description=row.description,
            level=row.level,
            proof=tuple(row.proof or ()),
            active=row.active,
            expires_at=row.expires_at,
            removed_at=row.removed_at,
            removed_by_id=row.removed_by_id,  # type: ignore[attr-defined]
            removed_reason=row.removed_reason,
            edited_at=row.edited_at,
            edited_by_id=row.edited_by_id,  # type: ignore[attr-defined]
            created_at=row.created_at,
        )

    def counts_at(self, now: datetime) -> bool:
        """Whether the warning counts now: active and not past its expiry."""
        return self.active and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class WarningChange:
    """One change to a warning (edit, removal, expiry) with the values before and after."""

    id: int
    warning_id: int
    editor_id: int | None  # None: the expiry timer
    kind: WarningEditKind
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    reason: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: WarningEdit) -> WarningChange:
        return cls(
            id=row.id,
            warning_id=row.warning_id,  # type: ignore[attr-defined]
            editor_id=row.editor_id,  # type: ignore[attr-defined]
            kind=WarningEditKind(row.kind),
            before=dict(row.before or {}),
            after=dict(row.after or {}),
            reason=row.reason,
            created_at=row.created_at,
        )


@dataclass(frozen=True, slots=True)
class IssuedWarning:
    """A new warning, its case, and the automations it set off (already scheduled to run)."""

    warning: WarningRecord
    case: Case
    fired: tuple[Firing, ...] = ()


def _clean_title(title: str | None) -> str:
    title = (title or "").strip()
    if not title:
        raise ValidationError(_("A warning needs a title."))
    if len(title) > MAX_TITLE_LENGTH:
        raise ValidationError(
            _("The title can be at most {count} characters.").format(count=MAX_TITLE_LENGTH)
        )
    return title


def _clean_description(description: str | None) -> str | None:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationError(
            _("The description can be at most {count} characters.").format(
                count=format_number(MAX_DESCRIPTION_LENGTH)
            )
        )
    return description or None


def _clean_level(level: int) -> int:
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ValidationError(
            _("The level must be between {low} and {high}.").format(low=MIN_LEVEL, high=MAX_LEVEL)
        )
    return level


def clean_proof(proof: Sequence[str]) -> list[str]:
    """The links given as proof, trimmed; a refusal for anything that is not a link."""
    cleaned = [item.strip() for item in proof if item and item.strip()]
    if len(cleaned) > MAX_PROOF_ITEMS:
        raise ValidationError(
            _("At most {count} pieces of proof per warning.").format(count=MAX_PROOF_ITEMS)
        )
    for item in cleaned:
        # http:// too: a file's link comes from Discord as given (the local Discord serves
        # plain http); what a moderator types is https only (pegasus.services.links).
        if not item.startswith(("https://", "http://")):
            raise ValidationError(
                _("Proof must be a link (http:// or https://), not {input}.").format(
                    input=shown_input(item, limit=50)
                )
            )
    return cleaned


def expiry_key(warning_id: int) -> str:
    return f"warning:{warning_id}"


async def issue_warning(
    *,
    guild_id: int,
    user_id: int,
    moderator_id: int,
    title: str,
    now: datetime,
    description: str | None = None,
    level: int = 1,
    proof: Sequence[str] = (),
    expires_in_seconds: int | None = None,
    rng: Random | None = None,
) -> IssuedWarning:
    """Warn a member: the warning, its case, its expiry timer and any automation firings."""
    title = _clean_title(title)
    description = _clean_description(description)
    level = _clean_level(level)
    proof_list = clean_proof(proof)
    if expires_in_seconds is not None and expires_in_seconds <= 0:
        raise ValidationError(_("A warning's expiry must be in the future."))
    await prepare_case(guild_id, [user_id, moderator_id])
    for attempt in range(_ID_ATTEMPTS):
        try:
            return await _issue(
                guild_id=guild_id,
                user_id=user_id,
                moderator_id=moderator_id,
                title=title,
                description=description,
                level=level,
                proof=proof_list,
                expires_in_seconds=expires_in_seconds,
                now=now,
                warn_id=new_public_id("W", rng=rng),
            )
        except IntegrityError:
            # A public id collision (about 1 in 20 million): draw again, the transaction rolled
            # back so no case number was spent.
            if attempt == _ID_ATTEMPTS - 1:
                raise
    raise AssertionError  # pragma: no cover - unreachable: the last attempt returns or raises


async def _issue(
    *,
    guild_id: int,
    user_id: int,
    moderator_id: int,
    title: str,
    description: str | None,
    level: int,
    proof: list[str],
    expires_in_seconds: int | None,
    now: datetime,
    warn_id: str,
) -> IssuedWarning:
    expires_at = now + timedelta(seconds=expires_in_seconds) if expires_in_seconds else None
    async with in_transaction() as conn:
        case = await create_case(
            guild_id=guild_id,
            case_type=CaseType.WARN,
            user_id=user_id,
            moderator_id=moderator_id,
            reason=title,
            now=now,
            conn=conn,
            proof=proof,
            metadata={"warn_id": warn_id, "level": level},
        )
        warning = await MemberWarning.create(
            warn_id=warn_id,
            guild_id=guild_id,
            user_id=user_id,
            moderator_id=moderator_id,
            case_id=case.id,
            title=title,
            description=description,
            level=level,
            proof=proof,
            expires_at=expires_at,
            created_at=now,
            using_db=conn,
        )
        if expires_at is not None:
            await scheduler.schedule(
                KIND_WARNING_EXPIRE,
                expires_at,
                {"warning_id": warning.id},
                guild_id=guild_id,
                dedupe_key=expiry_key(warning.id),
                using_db=conn,
            )
        fired = await evaluate_after_warning(
            guild_id=guild_id,
            user_id=user_id,
            warning_id=warning.id,
            level=level,
            now=now,
            conn=conn,
        )
    return IssuedWarning(WarningRecord.from_row(warning), case, tuple(fired))


async def _get_row(guild_id: int, warn_id: str) -> MemberWarning:
    warning = await MemberWarning.get_or_none(guild_id=guild_id, warn_id=ids.WARNING.parse(warn_id))
    if warning is None:
        raise ids.WARNING.not_found(warn_id)
    return warning


async def get_warning(guild_id: int, warn_id: str) -> WarningRecord:
    return WarningRecord.from_row(await _get_row(guild_id, warn_id))


async def warning_public_id(warning_pk: int | None) -> str | None:
    """The public id (`W-7K2QX`) of the warning stored as `warning_pk`; None if it is gone."""
    if warning_pk is None:
        return None
    return await MemberWarning.filter(id=warning_pk).first().values_list("warn_id", flat=True)


async def list_warnings(
    guild_id: int, user_id: int, *, now: datetime, include_inactive: bool = True
) -> list[WarningRecord]:
    """The member's warnings, newest first. Inactive ones (removed, expired) only when asked."""
    query = MemberWarning.filter(guild_id=guild_id, user_id=user_id)
    if not include_inactive:
        query = query.filter(counting_filter(now))
    return [WarningRecord.from_row(row) for row in await query.order_by("-created_at", "-id")]


def counting_filter(now: datetime) -> Q:
    """Warnings that count now: active and not past their expiry (even if its timer is late)."""
    return Q(active=True) & (Q(expires_at=None) | Q(expires_at__gt=now))


def _state(warning: MemberWarning) -> dict[str, Any]:
    return {"title": warning.title, "description": warning.description, "level": warning.level}


async def edit_warning(
    guild_id: int,
    warn_id: str,
    *,
    editor_id: int,
    now: datetime,
    title: str | None = None,
    description: str | None = None,
    level: int | None = None,
) -> tuple[WarningRecord, WarningChange]:
    """Change a warning's title, description or level; the edit is kept with before and after."""
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _clean_title(title)
    if description is not None:
        changes["description"] = _clean_description(description)
    if level is not None:
        changes["level"] = _clean_level(level)
    if not changes:
        raise ValidationError(_("Say what to change: a title, a description or a level."))
    await prepare_case(guild_id, [editor_id])
    async with in_transaction() as conn:
        warning = await _locked_warning(guild_id, warn_id, conn)
        if warning.removed_at is not None:
            raise ConflictError(
                _("Warning {warning} was removed; it can no longer be edited.").format(
                    warning=f"`{warning.warn_id}`"
                )
            )
        before = _state(warning)
        after = {**before, **changes}
        if after == before:
            raise ValidationError(_("Those are already the warning's values; nothing changed."))
        await (
            MemberWarning.filter(id=warning.id)
            .using_db(conn)
            .update(**changes, edited_at=now, edited_by_id=editor_id)
        )
        edit = await WarningEdit.create(
            warning_id=warning.id,
            editor_id=editor_id,
            kind=WarningEditKind.EDIT,
            before={k: v for k, v in before.items() if k in changes},
            after={k: v for k, v in after.items() if k in changes},
            created_at=now,
            using_db=conn,
        )
    for key, value in changes.items():
        setattr(warning, key, value)
    warning.edited_at = now
    warning.edited_by_id = editor_id  # type: ignore[attr-defined]
    return WarningRecord.from_row(warning), WarningChange.from_row(edit)


async def _locked_warning(guild_id: int, warn_id: str, conn: Any) -> MemberWarning:
    warning = (
        await MemberWarning.filter(guild_id=guild_id, warn_id=ids.WARNING.parse(warn_id))
        .using_db(conn)
        .select_for_update()
        .first()
    )
    if warning is None:
        raise ids.WARNING.not_found(warn_id)
    return warning


async def remove_warning(
    guild_id: int, warn_id: str, *, remover_id: int, now: datetime, reason: str | None = None
) -> WarningRecord:
    """Make a warning inactive for good (kept, with who removed it and why)."""
    reason = (reason or "").strip() or None
    await prepare_case(guild_id, [remover_id])
    async with in_transaction() as conn:
        warning = await _locked_warning(guild_id, warn_id, conn)
        if warning.removed_at is not None:
            raise ConflictError(
                _("Warning {warning} was already removed.").format(warning=f"`{warning.warn_id}`")
            )
        await (
            MemberWarning.filter(id=warning.id)
            .using_db(conn)
            .update(active=False, removed_at=now, removed_by_id=remover_id, removed_reason=reason)
        )
        await WarningEdit.create(
            warning_id=warning.id,
            editor_id=remover_id,
            kind=WarningEditKind.REMOVE,
            before={"active": warning.active},
            after={"active": False},
            reason=reason,
            created_at=now,
            using_db=conn,
        )
        await scheduler.cancel(KIND_WARNING_EXPIRE, expiry_key(warning.id), using_db=conn)
    warning.active, warning.removed_at, warning.removed_reason = False, now, reason
    warning.removed_by_id = remover_id  # type: ignore[attr-defined]
    return WarningRecord.from_row(warning)


@dataclass(frozen=True, slots=True)
class PurgedWarnings:
    """The warnings a purge made inactive (public ids, oldest first), and why."""

    user_id: int
    warn_ids: tuple[str, ...]
    reason: str


async def purge_warnings(
    guild_id: int,
    user_id: int,
    warn_ids: Sequence[str],
    *,
    remover_id: int,
    now: datetime,
    reason: str,
) -> PurgedWarnings:
    """Make the member's warnings `warn_ids` inactive for good, those still active: each keeps
    who removed it and why in its history, and the purge is audited as `warning.purge`.

    The caller names the warnings it checked the moderator may remove; one issued since is left
    alone. Warnings of other members, and removed or expired ones, are never touched.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the warnings are cleared."))
    wanted = [ids.WARNING.parse(warn_id) for warn_id in warn_ids]
    await prepare_case(guild_id, [remover_id, user_id])
    async with in_transaction() as conn:
        rows = (
            await MemberWarning.filter(
                guild_id=guild_id, user_id=user_id, warn_id__in=wanted, active=True
            )
            .using_db(conn)
            .select_for_update()
            .order_by("id")
        )
        if not rows:
            raise ConflictError(_("That member has no active warnings to clear."))
        await (
            MemberWarning.filter(id__in=[row.id for row in rows], active=True)
            .using_db(conn)
            .update(active=False, removed_at=now, removed_by_id=remover_id, removed_reason=reason)
        )
        for row in rows:
            await WarningEdit.create(
                warning_id=row.id,
                editor_id=remover_id,
                kind=WarningEditKind.REMOVE,
                before={"active": True},
                after={"active": False},
                reason=reason,
                created_at=now,
                using_db=conn,
            )
            await scheduler.cancel(KIND_WARNING_EXPIRE, expiry_key(row.id), using_db=conn)
        purged = tuple(row.warn_id for row in rows)
        await record_audit(
            guild_id=guild_id,
            actor_id=remover_id,
            action="warning.purge",
            target_type="member",
            target_id=user_id,
            before={"active_warnings": list(purged)},
            after={"active_warnings": [], "reason": reason},
            using_db=conn,
        )
        await record_security_event(
            guild_id=guild_id,
            user_id=user_id,
            action="moderation.warnings_purged",
            severity=Severity.LOW,
            description=f"{len(purged)} warnings cleared: {reason}",
            metadata={"moderator_id": remover_id, "warn_ids": list(purged)},
            using_db=conn,
        )
    return PurgedWarnings(user_id, purged, reason)


async def expire_warning(warning_id: int, *, now: datetime) -> bool:
    """Deactivate a warning whose time is up (the expiry timer); False if already inactive."""
    async with in_transaction() as conn:
        expired = (
            await MemberWarning.filter(id=warning_id, active=True)
            .using_db(conn)
            .update(active=False)
        )
        if expired:
            await WarningEdit.create(
                warning_id=warning_id,
                editor_id=None,
                kind=WarningEditKind.EXPIRE,
                before={"active": True},
                after={"active": False},
                created_at=now,
                using_db=conn,
            )
    return bool(expired)


async def warning_history(guild_id: int, warn_id: str) -> tuple[WarningRecord, list[WarningChange]]:
    """A warning and every change made to it, oldest first."""
    warning = await get_warning(guild_id, warn_id)
    edits = await WarningEdit.filter(warning_id=warning.id).order_by("created_at", "id")
    return warning, [WarningChange.from_row(edit) for edit in edits]
