"""What Pegasus stores about a member, and how a member sees it or has it erased.

Every feature package that stores something naming a member declares it in its own `privacy`
module (`PrivacyDeclaration`, `register`): the tables and columns that name a member, one
sentence saying what they are, how to export them, how to erase them, and what is kept and why.
`export_member` and `erase_member` go through every declaration, so a new feature is exported
and erased as soon as it declares itself; a test fails when a column naming a member is covered
by no declaration.

An erasure runs in one transaction: either everything a member may have erased goes, or nothing
does. It is audited with what was removed (counts), never with the erased content.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.guilds import User
from models.security import AuditLog
from pegasus import notify
from pegasus.errors import CooldownActive, PegasusError, time_ref
from pegasus.i18n import N_, _, remember_user_locale
from pegasus.services.audit import ensure_rows, record_audit

__all__ = [
    "ERASE_ACTION",
    "EXPORT_ACTION",
    "EXPORT_INTERVAL",
    "Eraser",
    "ErasurePlan",
    "ErasureReport",
    "ExportLimited",
    "Exporter",
    "Kept",
    "MemberExport",
    "PrivacyDeclaration",
    "declarations",
    "erase_member",
    "erasure_plan",
    "export_member",
    "guilds_of_user",
    "register",
]

EXPORT_INTERVAL = timedelta(days=1)
EXPORT_ACTION = "privacy.export"
ERASE_ACTION = "privacy.erase"

# export(guild_id, user_id) → what the feature stores about the member, as JSON-ready values.
Exporter = Callable[[int, int], Awaitable[dict[str, Any]]]
# erase(guild_id, user_id, conn) → what was removed: a label ("ledger rows") → a count.
Eraser = Callable[[int, int, BaseDBAsyncClient], Awaitable[dict[str, int]]]


@dataclass(frozen=True, slots=True)
class Kept:
    """Something an erasure leaves in place, and why (said in the prompt and the reply)."""

    # Both in English, marked with N_ where declared; shown translated (`_`).
    what: str  # "moderation cases and warnings about you"
    why: str  # "they are the server's record of moderation"
    # The tables whose rows naming the member stay; `partly` when only some of them do.
    tables: tuple[str, ...] = ()
    partly: bool = False


@dataclass(frozen=True)
class PrivacyDeclaration:
    """What one feature stores about a member, and how it is exported and erased."""

    feature: str  # "economy", "levels", ...
    explanation: str  # one sentence, shown in the export above the feature's data
    # Each model with the columns (field or column names) that name a member.
    covers: tuple[tuple[type[Model], tuple[str, ...]], ...]
    export: Exporter
    erase: Eraser | None = None
    erased: tuple[str, ...] = ()  # what an erasure removes, in words, for the prompt
    kept: tuple[Kept, ...] = ()
    covered: Mapping[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "covered",
            {model._meta.db_table: frozenset(columns) for model, columns in self.covers},
        )


_REGISTRY: dict[str, PrivacyDeclaration] = {}


def register(declaration: PrivacyDeclaration) -> PrivacyDeclaration:
    """Declare what a feature stores about members (at import of its `privacy` module)."""
    known = _REGISTRY.setdefault(declaration.feature, declaration)
    if known is not declaration:
        problem = f"the privacy of {declaration.feature} is declared twice"  # for developers
        raise ValueError(problem)
    return declaration


def _load_feature_declarations() -> None:
    """Import every feature package's `privacy` module, so each one has registered."""
    import pegasus.services

    for info in pkgutil.iter_modules(pegasus.services.__path__, "pegasus.services."):
        if info.ispkg and importlib.util.find_spec(f"{info.name}.privacy") is not None:
            importlib.import_module(f"{info.name}.privacy")


def declarations() -> dict[str, PrivacyDeclaration]:
    """Every feature's declaration, by feature, in a stable order."""
    _load_feature_declarations()
    return {name: _REGISTRY[name] for name in sorted(_REGISTRY)}


async def _export_profile(_guild_id: int, user_id: int) -> dict[str, Any]:
    rows = await User.filter(id=user_id).values(
        "username", "global_name", "avatar", "preferred_locale", "created_at"
    )
    return dict(rows[0]) if rows else {}


async def _erase_profile(_guild_id: int, user_id: int, conn: BaseDBAsyncClient) -> dict[str, int]:
    cleared = await (
        User.filter(id=user_id, preferred_locale__isnull=False)
        .using_db(conn)
        .update(preferred_locale=None)
    )
    # Replies follow their Discord app again from now on, not after the next reload.
    remember_user_locale(user_id, None)
    return {N_("language preference"): cleared}


register(
    PrivacyDeclaration(
        feature="profile",
        explanation=N_(
            "Your Discord name, display name and avatar as Pegasus last saw them, and your "
            "language preference."
        ),
        covers=((User, ("id", "username", "global_name", "avatar", "preferred_locale")),),
        export=_export_profile,
        erase=_erase_profile,
        erased=(N_("your language preference (the same in every server)"),),
        kept=(
            Kept(
                N_("your Discord name and avatar as last seen"),
                N_(
                    "kept records are shown with them; they are refreshed whenever Pegasus "
                    "sees you"
                ),
                ("users",),
            ),
        ),
    )
)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberExport:
    """A member's data in one server, as the JSON document they receive."""

    guild_id: int
    user_id: int
    generated_at: datetime
    document: dict[str, Any]

    @property
    def filename(self) -> str:
        return f"pegasus-data-{self.guild_id}-{self.user_id}.json"

    def to_json(self) -> bytes:
        return json.dumps(self.document, indent=2, ensure_ascii=False, default=str).encode()


async def export_member(
    guild_id: int, user_id: int, *, now: datetime, requested_by_member: bool = True
) -> MemberExport:
    """Everything Pegasus stores about the member in this server, grouped by feature.

    A member may ask once per `EXPORT_INTERVAL` (CooldownActive otherwise); each export they ask
    for is audited, and that record is what the limit counts. An operator's export
    (`requested_by_member=False`) is neither limited nor counted.
    """
    if requested_by_member:
        await _check_export_allowed(guild_id, user_id, now)
    features: dict[str, Any] = {}
    for name, declaration in declarations().items():
        features[name] = {
            "explanation": _(declaration.explanation),
            "data": await declaration.export(guild_id, user_id),
            "kept_when_you_delete_your_data": [
                _("{what}: {why}").format(what=_(kept.what), why=_(kept.why))
                for kept in declaration.kept
            ],
        }
    document = {
        "about": _(
            "Everything Pegasus stores about you in this server, grouped by feature. Ids are "
            "Discord ids; times are UTC."
        ),
        "guild_id": guild_id,
        "user_id": user_id,
        "generated_at": now.isoformat(),
        "features": features,
    }
    if requested_by_member:
        await ensure_rows(guild_id, [user_id])
        await record_audit(
            guild_id=guild_id, actor_id=user_id, action=EXPORT_ACTION,
            target_type="member", target_id=user_id,
        )
    return MemberExport(guild_id, user_id, now, document)


async def _check_export_allowed(guild_id: int, user_id: int, now: datetime) -> None:
    last = (
        await AuditLog.filter(
            guild_id=guild_id, actor_id=user_id, action=EXPORT_ACTION,
            created_at__gt=now - EXPORT_INTERVAL,
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
    )
    if last:
        ready = last[0] + EXPORT_INTERVAL
        raise ExportLimited(ready)


class ExportLimited(CooldownActive):
    """A member asked for a second export within a day."""

    def __init__(self, ready: datetime) -> None:
        PegasusError.__init__(
            self,
            _("You can export your data once a day; your next export is possible {ready}."),
            ready=time_ref(ready),
        )
        self.retry_at = ready.timestamp()


# --------------------------------------------------------------------------------------------
# Erasure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErasurePlan:
    """What an erasure removes and what it keeps, in words, for the confirmation prompt."""

    erased: tuple[str, ...]
    kept: tuple[Kept, ...]


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure removed in one server (label → count) and what it kept."""

    guild_id: int
    user_id: int
    removed: tuple[tuple[str, str, int], ...]  # (feature, label, count), counts above zero
    kept: tuple[Kept, ...]

    @property
    def total(self) -> int:
        return sum(count for _feature, _label, count in self.removed)


def erasure_plan() -> ErasurePlan:
    found = declarations().values()
    return ErasurePlan(
        erased=tuple(what for d in found for what in d.erased),
        kept=tuple(kept for d in found for kept in d.kept),
    )


async def erase_member(
    guild_id: int, user_id: int, *, actor_id: int | None, now: datetime
) -> ErasureReport:
    """Erase what the member may have erased in this server, in one transaction, and audit it.

    `actor_id` is the member themselves (their `/privacy delete`) or None for an operator.
    The audit row carries the counts of what went, never the erased content.
    """
    await ensure_rows(guild_id, [user_id])
    removed: list[tuple[str, str, int]] = []
    found = declarations()
    async with in_transaction() as conn:
        for name, declaration in found.items():
            if declaration.erase is None:
                continue
            counts = await declaration.erase(guild_id, user_id, conn)
            removed.extend((name, label, n) for label, n in counts.items() if n)
        await record_audit(
            guild_id=guild_id,
            actor_id=actor_id,
            action=ERASE_ACTION,
            target_type="member",
            target_id=user_id,
            after={
                "removed": {f"{feature}: {label}": n for feature, label, n in removed},
                "at": now.isoformat(),
            },
            using_db=conn,
        )
    # Leaderboards and ranks kept in memory by the REST API no longer show the member (nor,
    # in any guild, a rank card erased with them).
    await notify.announce(notify.Topic.XP)
    return ErasureReport(
        guild_id, user_id, tuple(removed), tuple(k for d in found.values() for k in d.kept)
    )


async def guilds_of_user(user_id: int) -> list[int]:
    """Every server where a declared column names the user (for operators)."""
    guild_ids: set[int] = set()
    for declaration in declarations().values():
        for model, columns in declaration.covers:
            guild = _guild_path(model)
            if guild is None:
                continue
            for column in columns:
                match = _id_filter(model, column)
                if match is None:
                    continue
                found = await model.filter(**{match: user_id}).values_list(guild, flat=True)
                guild_ids.update(g for g in found if g is not None)
    return sorted(guild_ids)


def _guild_path(model: type[Model]) -> str | None:
    """How to reach a row's guild id: its own `guild`, or that of the row it belongs to."""
    meta = model._meta
    if "guild" in meta.fk_fields:
        return "guild_id"
    for name in sorted(meta.fk_fields):
        parent = meta.fields_map[name].related_model
        if parent is not None and "guild" in parent._meta.fk_fields:
            return f"{name}__guild_id"
    return None


def _id_filter(model: type[Model], column: str) -> str | None:
    """The filter for "this column is the user's id", or None for columns that hold more than
    an id (lists, text), which no portable query can match."""
    meta = model._meta
    name = column.removesuffix("_id")
    if name in meta.fk_fields:
        return f"{name}_id"
    field = meta.fields_map.get(column)
    if field is not None and isinstance(field, fields.BigIntField):
        return column
    return None
