"""Each feature's settings over HTTP, derived from its declaration (`pegasus.services.settings`).

For every declared feature: `GET /guilds/{guild_id}/settings/<feature>` (the values, their
declarations, and the version as `ETag`) and `PATCH` of the same path (some settings; validated
by the declaration with the same sentence as the slash command, stored with `apply_changes`,
audited with before and after). With `If-Match: <ETag>` the change is made only if nobody
changed the settings since (412 otherwise). Also `GET /settings`: every declaration, for forms.

Scopes: `<feature>:read` and `<feature>:write` (the part of the feature's name before a dot,
e.g. `levels` for `levels.rules`), or `guild:read`/`guild:write` for a feature without scopes
of its own.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pegasus.services
from pegasus.errors import ValidationError, shown_input
from pegasus.services.role_delegations import RoleFacts
from pegasus.services.security.apikeys import API_SCOPES
from pegasus.services.settings import (
    FeatureSettings,
    Kind,
    Setting,
    apply_changes,
    declared,
    read_settings,
    settings_version,
)
from pegasus.web.roles import (
    RoleCheck,
    remember_role_setup,
    require_can_be_autorole_over_api,
    require_can_delegate,
    require_known_role,
)
from pegasus.web.routes import Call, Reply, Route, Routes
from pegasus.web.schema import Schema

__all__ = ["ROLES_GIVEN", "ROLE_CHECKS", "routes", "scope_of"]

routes = Routes("settings", "Each feature's settings, as declared once for commands and API.")

# Settings naming roles the bot gives or pings on someone's behalf, and the check each role newly
# set gets for the key's owner (pegasus.web.roles): the rule of the slash command that sets it.
# A role that passes is recorded as set up by the key's owner, so the bot checks it again, against
# them as they are then, when it gives or pings it.
ROLE_CHECKS: dict[str, dict[str, RoleCheck]] = {
    "moderation": {"mute_role_id": require_can_delegate},
    "community": {"autorole_role_ids": require_can_be_autorole_over_api},
    "security": {"security_alert_role_id": require_known_role},
    "security.verification": {
        "verified_role_id": require_can_delegate,
        "unverified_role_id": require_can_delegate,
    },
}
ROLES_GIVEN: dict[str, frozenset[str]] = {
    feature: frozenset(checks) for feature, checks in ROLE_CHECKS.items()
}


def _load_every_feature() -> None:
    """Import each feature package, so that every settings declaration is registered."""
    for info in pkgutil.iter_modules(pegasus.services.__path__):
        if info.ispkg:
            importlib.import_module(f"pegasus.services.{info.name}")


def scope_of(feature: str, access: str) -> str:
    scope = f"{feature.split('.')[0]}:{access}"
    return scope if scope in API_SCOPES else f"guild:{access}"


def value_schema(setting: Setting) -> dict[str, Any]:
    """The JSON Schema of one setting's value, from its declaration."""
    schema: dict[str, Any]
    if setting.kind is Kind.BOOL:
        schema = {"type": "boolean"}
    elif setting.kind is Kind.TEXT:
        schema = {"type": "string", "minLength": 1}
        if setting.max_length is not None:
            schema["maxLength"] = setting.max_length
        if setting.choices is not None:
            schema["enum"] = list(setting.choices)
    elif setting.kind in (Kind.CHANNEL, Kind.ROLE):
        schema = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    elif setting.kind is Kind.COLOUR:
        schema = {"type": "integer", "minimum": 0, "maximum": 0xFFFFFF}
    elif setting.kind is Kind.IDS:
        schema = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
    elif setting.kind is Kind.NAMES:
        item: dict[str, Any] = {"type": "string"}
        if setting.choices is not None:
            item["enum"] = list(setting.choices)
        schema = {"type": "array", "items": item}
    else:
        schema = {"type": "integer"}
        if setting.minimum is not None:
            schema["minimum"] = setting.minimum
        if setting.maximum is not None:
            schema["maximum"] = setting.maximum
    if setting.nullable:
        schema["type"] = [schema["type"], "null"]
    schema["description"] = f"{setting.label}: {setting.help}"
    return schema


def _component(feature: str) -> str:
    return "".join(part.capitalize() for part in feature.replace("_", ".").split(".")) + "Settings"


def values_schema(spec: FeatureSettings, *, partial: bool) -> dict[str, Any]:
    properties = {setting.name: value_schema(setting) for setting in spec.settings}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if partial:
        schema["minProperties"] = 1
    else:
        schema["required"] = list(properties)
    return schema


@dataclass(frozen=True)
class SettingDeclaration:
    """One setting as declared: what it holds, its bounds and the words about it."""

    name: str
    kind: str
    label: str
    help: str
    nullable: bool
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    choices: list[str] | None = None


@dataclass(frozen=True)
class FeatureDeclaration:
    feature: str
    read_scope: str
    write_scope: str
    settings: list[SettingDeclaration] = field(default_factory=list)


def _declaration(spec: FeatureSettings) -> FeatureDeclaration:
    return FeatureDeclaration(
        feature=spec.feature,
        read_scope=scope_of(spec.feature, "read"),
        write_scope=scope_of(spec.feature, "write"),
        settings=[
            SettingDeclaration(
                name=s.name,
                kind=s.kind.value,
                label=s.label,
                help=s.help,
                nullable=s.nullable,
                minimum=s.minimum,
                maximum=s.maximum,
                max_length=s.max_length,
                choices=list(s.choices) if s.choices is not None else None,
            )
            for s in spec.settings
        ],
    )


def _document_schema(spec: FeatureSettings) -> Schema:
    return Schema(
        {
            "type": "object",
            "properties": {
                "feature": {"const": spec.feature},
                "version": {"type": "string", "description": "The ETag of these values."},
                "values": values_schema(spec, partial=False),
            },
            "required": ["feature", "version", "values"],
        },
        f"{_component(spec.feature)}Document",
    )


def _answer(spec: FeatureSettings, values: Mapping[str, Any]) -> Reply:
    version = settings_version(values)
    return Reply(
        {"feature": spec.feature, "version": version, "values": dict(values)},
        headers={"ETag": f'"{version}"'},
    )


def _expected_version(if_match: str | None) -> str | None:
    """The version named by If-Match (`*` or none: any)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.split(",")[0].strip()
    tag = tag.removeprefix("W/")
    return tag.strip('"')


def _changes(spec: FeatureSettings, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object of settings and their new values.")
    unknown = [name for name in body if name not in spec]
    if unknown:
        raise ValidationError(
            f"{shown_input(unknown[0])} is not a {spec.feature} setting; the settings are "
            f"{', '.join(spec.by_name)}."
        )
    for name, value in body.items():
        _check_documented_length(spec[name], value)
    return {name: _integral(value) for name, value in body.items()}


async def _vet_new_roles(
    call: Call, spec: FeatureSettings, changes: Mapping[str, Any]
) -> list[RoleFacts]:
    """Check each role a change newly names in a setting of ROLE_CHECKS (a role already set is
    not checked again: editing the rest of a list needs no say over every role in it)."""
    checks = ROLE_CHECKS.get(spec.feature, {})
    if not any(name in checks for name in changes):
        return []
    current = await read_settings(spec, call.guild_id)
    vetted: list[RoleFacts] = []
    for name, value in changes.items():
        if name not in checks:
            continue
        spec[name].check(value)  # a malformed value gets the declaration's sentence first
        for role_id in _new_ids(value, current[name]):
            vetted.append(await checks[name](call, role_id))
    return vetted


def _new_ids(value: Any, current: Any) -> list[int]:
    wanted = value if isinstance(value, list) else [value]
    held = current if isinstance(current, list) else [current]
    return [role_id for role_id in wanted if role_id is not None and role_id not in held]


def _check_documented_length(setting: Setting, value: Any) -> None:
    """Text longer than the documented maxLength is refused even if trimming would shorten it
    (the command trims first): the API keeps to its document. The refusal is the declaration's
    own, asked with a text that is too long whichever way it is counted."""
    limit = setting.max_length
    text = value if setting.kind is Kind.TEXT and isinstance(value, str) else ""
    if limit is not None and len(text) > limit:
        setting.check("x" * (limit + 1))


def _integral(value: Any) -> Any:
    """JSON does not tell 5 from 5.0 and JSON Schema counts both as integers: a whole float is
    read as the whole number it is (the declaration then checks it like any other)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def _declare(spec: FeatureSettings, documents: Schema) -> None:
    path = f"/guilds/{{guild_id}}/settings/{spec.feature}"
    name = spec.feature.replace(".", "_")

    async def read(call: Call) -> Reply:
        return _answer(spec, await read_settings(spec, call.guild_id))

    async def change(call: Call) -> Reply:
        changes = _changes(spec, call.body)
        vetted = await _vet_new_roles(call, spec, changes)
        values = await apply_changes(
            spec,
            call.guild_id,
            call.actor_id,
            changes,
            action=f"{spec.feature}.settings",
            context=call.context,
            expected_version=_expected_version(call.if_match),
        )
        for role in vetted:
            await remember_role_setup(call, role)
        return _answer(spec, values)

    routes.add(
        Route(
            method="GET",
            path=path,
            handler=read,
            summary=f"Read the {spec.feature} settings",
            description="The values (defaults until changed) and their version, also sent "
            "as `ETag`.",
            scope=scope_of(spec.feature, "read"),
            tag=routes.tag,
            response=documents,
            name=f"get_{name}_settings",
        )
    )
    routes.add(
        Route(
            method="PATCH",
            path=path,
            handler=change,
            summary=f"Change the {spec.feature} settings",
            description="Give only the settings to change. Each value is checked as the slash "
            "command checks it; nothing is stored if one is refused. Send the `ETag` you read "
            "as `If-Match` to be refused (412) if someone changed them since. Audited with "
            "before and after.",
            scope=scope_of(spec.feature, "write"),
            tag=routes.tag,
            body=Schema(values_schema(spec, partial=True), f"{_component(spec.feature)}Change"),
            response=documents,
            name=f"change_{name}_settings",
            audit_fallback=False,  # apply_changes audits every change with before and after
        )
    )


@routes.get(
    "/settings",
    scope=None,
    summary="List every feature's settings declarations",
    response=list[FeatureDeclaration],
)
async def list_declarations(call: Call) -> list[FeatureDeclaration]:
    """Names, kinds, bounds and help of every setting, and the scopes to read and change
    them: what a form needs."""
    return [_declaration(spec) for _feature, spec in sorted(declared().items())]


_load_every_feature()
for _feature, _spec in sorted(declared().items()):
    _declare(_spec, _document_schema(_spec))
