"""Settings declared once: what each feature's per-guild settings are, their bounds and help.

A feature declares its settings as a `FeatureSettings` (the model that stores them, and one
`Setting` per column: kind, bounds, default, label, help). From that one declaration come the
slash-command option help and ranges (`help_for`, `bounds`), the validation of every change
(`FeatureSettings.validate`), the audit record of every change with before and after
(`apply_changes`), and, for the REST API and the dashboard, the schema (`FeatureSettings.schema`).

Columns of a settings table that are state rather than settings (counters, message ids) are named
in `internal`, so a test can check that every column is one or the other.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.security import AuditSource
from pegasus import notify
from pegasus.errors import ConflictError, ValidationError
from pegasus.i18n import N_, _, format_number
from pegasus.services import directory
from pegasus.services.audit import ActorContext, ensure_rows, record_audit
from pegasus.services.durations import format_duration

__all__ = [
    "ComputedChanges",
    "FeatureSettings",
    "Kind",
    "Setting",
    "StaleSettings",
    "apply_changes",
    "declared",
    "ensure_settings_row",
    "read_settings",
    "register",
    "settings_version",
]


class Kind(StrEnum):
    """What a setting holds; it decides how a value is checked and shown."""

    INT = "int"  # a whole number (coins, counts, XP)
    PERCENT = "percent"  # a whole number of percent
    SECONDS = "seconds"  # a duration, stored in seconds
    BOOL = "bool"
    TEXT = "text"
    CHANNEL = "channel"  # a channel id, or None
    ROLE = "role"  # a role id, or None
    COLOUR = "colour"  # 0xRRGGBB, or None
    IDS = "ids"  # a list of channel or role ids
    NAMES = "names"  # a list of names, each one of `choices`


_ID_KINDS = (Kind.CHANNEL, Kind.ROLE)
CANT_BE_EMPTY = N_("The {label} can't be empty.")
_NUMBER_KINDS = (Kind.INT, Kind.PERCENT, Kind.SECONDS)


@dataclass(frozen=True, slots=True)
class Setting:
    """One per-guild setting: its column, what it holds, its bounds and the words about it."""

    name: str  # the column, and the option's name in commands and the API
    kind: Kind
    # Both English, marked with N_ where declared; refusals show the label translated.
    label: str  # how refusals and summaries name it: "daily amount"
    help: str  # the option's description in Discord (at most 100 characters)
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None  # TEXT
    nullable: bool = False  # None is a value ("not set", "cleared")
    choices: tuple[str, ...] | None = None  # TEXT and NAMES: the values accepted

    def check(self, value: Any) -> Any:
        """The value as stored, or a ValidationError naming the setting and what it accepts."""
        if value is None:
            if self.nullable:
                return None
            raise ValidationError(_(CANT_BE_EMPTY).format(label=_(self.label)))
        if self.kind is Kind.BOOL:
            if not isinstance(value, bool):
                raise ValidationError(
                    _("The {label} is either on or off.").format(label=_(self.label))
                )
            return value
        if self.kind is Kind.TEXT:
            return self._check_text(value)
        if self.kind is Kind.IDS:
            if not isinstance(value, list | tuple) or not all(_is_id(item) for item in value):
                raise ValidationError(
                    _("The {label} must be a list of ids.").format(label=_(self.label))
                )
            return [int(item) for item in value]
        if self.kind is Kind.NAMES:
            if not isinstance(value, list | tuple) or not all(map(self._is_choice, value)):
                raise ValidationError(
                    _("The {label} must be a list of {accepted}.").format(
                        label=_(self.label), accepted=self._accepted()
                    )
                )
            return [str(item) for item in value]
        if self.kind in _ID_KINDS:
            if not _is_id(value):
                if self.kind is Kind.CHANNEL:
                    message = _("The {label} must be a channel id.")
                else:
                    message = _("The {label} must be a role id.")
                raise ValidationError(message.format(label=_(self.label)))
            return int(value)
        if self.kind is Kind.COLOUR:
            if not _is_int(value) or not 0 <= value <= 0xFFFFFF:
                raise ValidationError(
                    _("The {label} must be a colour from #000000 to #FFFFFF.").format(
                        label=_(self.label)
                    )
                )
            return value
        return self._check_number(value)

    def _check_text(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(_(CANT_BE_EMPTY).format(label=_(self.label)))
        text = value.strip()
        if self.max_length is not None and len(text) > self.max_length:
            raise ValidationError(
                _("The {label} can be at most {count} characters.").format(
                    label=_(self.label), count=format_number(self.max_length)
                )
            )
        if not self._is_choice(text):
            raise ValidationError(
                _("The {label} must be {accepted}.").format(
                    label=_(self.label), accepted=self._accepted()
                )
            )
        return str(text)

    def _is_choice(self, value: Any) -> bool:
        return isinstance(value, str) and (self.choices is None or value in self.choices)

    def _accepted(self) -> str:
        if self.choices is None:
            return _("names")
        *first, last = self.choices
        if not first:
            return last
        # Translators: the end of a list of choices: "daily, weekly or monthly".
        return _("{first} or {last}").format(first=", ".join(first), last=last)

    def _check_number(self, value: Any) -> int:
        low = self.minimum if self.minimum is not None else -(2**63)
        high = self.maximum if self.maximum is not None else 2**63 - 1
        if not _is_int(value) or not low <= value <= high:
            raise ValidationError(
                _("The {label} must be between {low} and {high}.").format(
                    label=_(self.label), low=self.show(low), high=self.show(high)
                )
            )
        return value

    def show(self, value: Any) -> str:
        """A value as people read it, in plain text (channels and roles as ids: Discord's
        mentions are the adapters' to render, see `pegasus.ui.settings`)."""
        if value is None:
            return _("not set")
        if self.kind is Kind.BOOL:
            return _("on") if value else _("off")
        if self.kind is Kind.SECONDS:
            return format_duration(value or 0)
        if self.kind is Kind.PERCENT:
            return f"{format_number(value)}%"
        if self.kind is Kind.INT:
            return format_number(value)
        if self.kind is Kind.COLOUR:
            return f"#{value:06X}"
        if self.kind is Kind.NAMES:
            return ", ".join(value) or _("none")
        return str(value)

    def schema(self) -> dict[str, Any]:
        """A JSON-schema-like description, for the API and the dashboard's forms."""
        described: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind.value,
            "label": self.label,
            "help": self.help,
            "nullable": self.nullable,
        }
        for key in ("minimum", "maximum", "max_length"):
            if getattr(self, key) is not None:
                described[key] = getattr(self, key)
        if self.choices is not None:
            described["choices"] = list(self.choices)
        return described


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value: Any) -> bool:
    return _is_int(value) and 0 < value < 2**63


@dataclass(frozen=True)
class FeatureSettings:
    """A feature's settings: the model that stores them, one `Setting` per settings column."""

    feature: str  # "economy", "levels", ...
    model: type[Model]
    settings: tuple[Setting, ...]
    # Columns that are state, not settings (ids, counters, timestamps, the guild link).
    internal: frozenset[str] = frozenset()
    # Rules between settings, on the merged values: (check, refusal) pairs.
    rules: tuple[tuple[Callable[[Mapping[str, Any]], bool], str], ...] = ()
    by_name: dict[str, Setting] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {s.name: s for s in self.settings})

    def __getitem__(self, name: str) -> Setting:
        return self.by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def help_for(self, *names: str) -> dict[str, str]:
        """Option name → help text, for `app_commands.describe(**...)`."""
        return {name: self.by_name[name].help for name in names}

    def bounds(self, name: str) -> tuple[int, int]:
        """(minimum, maximum) of a number setting, for `app_commands.Range`."""
        setting = self.by_name[name]
        assert setting.minimum is not None and setting.maximum is not None, name
        return setting.minimum, setting.maximum

    def validate(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The changes as stored; a ValidationError for the first value a setting refuses.

        An unknown name is a programming error (commands and the API only offer declared
        settings), so it raises KeyError rather than a message for people.
        """
        unknown = set(changes) - set(self.by_name)
        if unknown:
            problem = f"not {self.feature} settings: {sorted(unknown)}"  # for developers
            raise KeyError(problem)
        return {name: self.by_name[name].check(value) for name, value in changes.items()}

    def check_rules(self, merged: Mapping[str, Any]) -> None:
        for holds, refusal in self.rules:
            if not holds(merged):
                raise ValidationError(_(refusal))  # English marked with N_ where declared

    def schema(self) -> list[dict[str, Any]]:
        return [setting.schema() for setting in self.settings]


_REGISTRY: dict[str, FeatureSettings] = {}


def register(spec: FeatureSettings) -> FeatureSettings:
    """Declare a feature's settings (at import of the feature's package)."""
    known = _REGISTRY.setdefault(spec.feature, spec)
    if known is not spec:
        problem = f"settings of {spec.feature} are declared twice"  # for developers
        raise ValueError(problem)
    return spec


def declared() -> dict[str, FeatureSettings]:
    """Every feature's settings declaration, by feature."""
    return dict(_REGISTRY)


async def ensure_settings_row(
    model: type[Model], guild_id: int, *, using_db: BaseDBAsyncClient | None = None
) -> None:
    """Create the guild's row of `model` with the defaults if it is missing.

    Insert-or-ignore: safe when several tasks or processes meet a new guild at once.
    """
    await directory.ensure_guild(guild_id, using_db=using_db)
    await model.bulk_create([model(guild_id=guild_id)], ignore_conflicts=True, using_db=using_db)


class StaleSettings(ConflictError):
    """The settings changed since the version the caller last read."""


def settings_version(values: Mapping[str, Any]) -> str:
    """A short fingerprint of settings values: equal values, equal version (an HTTP ETag)."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


async def read_settings(spec: FeatureSettings, guild_id: int) -> dict[str, Any]:
    """Every setting's value for the guild (the defaults when nothing is stored yet)."""
    row = await spec.model.get_or_none(guild_id=guild_id)
    if row is None:
        row = spec.model(guild_id=guild_id)  # the defaults, without storing anything
    return {name: getattr(row, name) for name in spec.by_name}


Changes = Mapping[str, Any]
# Changes computed from the current values, read on the locked row: for read-modify-write
# settings such as a list of ids, so that two changes at once never lose one of them.
ComputedChanges = Callable[[Mapping[str, Any]], Changes]


async def apply_changes(
    spec: FeatureSettings,
    guild_id: int,
    actor_id: int | None,
    changes: Changes | ComputedChanges,
    *,
    source: AuditSource = AuditSource.DISCORD,
    action: str | None = None,
    context: ActorContext | None = None,
    expected_version: str | None = None,
) -> dict[str, Any]:
    """Validate `changes`, store them in one transaction and audit what changed.

    The row is locked while the rules between settings are checked on the merged values, so two
    changes at once never combine into a state neither was checked for. `changes` may be a
    function of the current values (called on the locked row; it may refuse with a
    PegasusError). Returns every setting's value as stored afterwards. Nothing is stored if any
    value or rule is refused.

    `context` (Discord or the API, the client's address hash and user agent) goes on the audit
    row. With `expected_version` (a `settings_version` the caller read), the change is refused
    with StaleSettings when the settings have changed since: two people editing at once never
    overwrite each other unknowingly.
    """
    wanted = None if callable(changes) else _checked(spec, changes)
    await directory.ensure_guild(guild_id)
    await ensure_rows(None, [actor_id])
    async with in_transaction() as conn:
        await ensure_settings_row(spec.model, guild_id, using_db=conn)
        row = await spec.model.filter(guild_id=guild_id).using_db(conn).select_for_update().get()
        current = {name: getattr(row, name) for name in spec.by_name}
        if expected_version is not None and settings_version(current) != expected_version:
            raise StaleSettings(
                _(
                    "The {feature} settings were changed by someone else since you read "
                    "them; read them again and retry."
                ).format(feature=spec.feature)
            )
        if wanted is None:
            assert callable(changes)
            wanted = _checked(spec, changes(copy.deepcopy(current)))
        spec.check_rules(current | wanted)
        changed = {name: value for name, value in wanted.items() if current[name] != value}
        if changed:
            await spec.model.filter(pk=row.pk).using_db(conn).update(**changed)
            await record_audit(
                guild_id=guild_id,
                actor_id=actor_id,
                action=action or f"{spec.feature}.settings",
                target_type=spec.model._meta.db_table,
                target_id=guild_id,
                before={name: current[name] for name in changed},
                after=changed,
                source=source,
                context=context,
                using_db=conn,
            )
        stored = current | changed
    if changed:
        # After the commit, so that every process that drops its copy reloads the new values.
        await notify.announce(notify.Topic.SETTINGS, guild_id, spec.feature)
    return stored


def _checked(spec: FeatureSettings, changes: Changes) -> dict[str, Any]:
    if not changes:
        raise ValidationError(_("Give at least one setting to change."))
    return spec.validate(changes)
