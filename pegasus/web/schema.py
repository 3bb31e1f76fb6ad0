"""JSON in and out of the API, and the JSON Schema of each type, from the same Python types.

A route declares its request body and response as Python types (usually the services' frozen
dataclasses): `schema_of` describes them for the OpenAPI document, `dump` turns results into JSON
values and `load` builds request bodies, refusing what does not fit with a sentence a person can
act on. `Schema` stands for a hand-made JSON Schema where no Python type says it (the settings
of a feature, derived from its declaration).

Types understood: int, float, str, bool, None, datetime, date, UUID, StrEnum/Enum, Literal,
`X | None`, list[X], tuple[X, ...], dict[str, X], Any, dataclasses (as named components), and
`Schema`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import _

__all__ = ["Schema", "dump", "encode", "load", "schema_of"]

Components = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Schema:
    """A JSON Schema given by hand, named in the document's components when `name` is set."""

    schema: Mapping[str, Any]
    name: str | None = None


def schema_of(tp: Any, components: Components) -> dict[str, Any]:
    """The JSON Schema of `tp`; dataclasses and named schemas go into `components`."""
    if isinstance(tp, Schema):
        if tp.name is None:
            return dict(tp.schema)
        components.setdefault(tp.name, dict(tp.schema))
        return {"$ref": f"#/components/schemas/{tp.name}"}
    if tp is Any or tp is object:
        return {}
    if tp is None or tp is type(None):
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp is datetime:
        return {"type": "string", "format": "date-time"}
    if tp is date:
        return {"type": "string", "format": "date"}
    if tp is uuid.UUID:
        return {"type": "string", "format": "uuid"}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return {"type": "string", "enum": [member.value for member in tp]}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass_schema(tp, components)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        options = [schema_of(arg, components) for arg in args if arg is not type(None)]
        nullable = type(None) in args
        if len(options) == 1 and not nullable:
            return options[0]
        if len(options) == 1 and set(options[0]) == {"type"}:
            return {"type": [options[0]["type"], "null"]}
        return {"anyOf": options + ([{"type": "null"}] if nullable else [])}
    if origin in (list, tuple, set, frozenset):
        item = args[0] if args else Any
        return {"type": "array", "items": schema_of(item, components)}
    if origin in (dict, Mapping) or tp is dict:
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": schema_of(value, components)}
    raise TypeError(f"no JSON schema for {tp!r}")


def _dataclass_schema(tp: type, components: Components) -> dict[str, Any]:
    name = tp.__name__
    if name not in components:
        components[name] = {}  # reserve the name first: a dataclass may refer to itself
        hints = typing.get_type_hints(tp)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for item in dataclasses.fields(tp):
            if not item.init:
                continue
            described = schema_of(hints[item.name], components)
            help_text = item.metadata.get("description")
            if help_text:
                described = {**described, "description": help_text}
            properties[item.name] = described
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                required.append(item.name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if tp.__doc__ and not tp.__doc__.startswith(f"{name}("):
            schema["description"] = " ".join(tp.__doc__.split())
        components[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


_PLAIN = frozenset({bool, int, float, str, type(None)})
# Each dataclass's fields as written, found once: `dataclasses.fields` per value would be most
# of the cost of writing a page of entries.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(tp: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(tp)
    if names is None:
        names = tuple(
            item.name
            for item in dataclasses.fields(tp)
            if item.init or not item.name.startswith("_")
        )
        _FIELD_NAMES[tp] = names
    return names


def dump(value: Any) -> Any:
    """`value` as JSON values: dataclasses as objects, datetimes as ISO 8601, enums by value."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, Enum):
        return value.value
    if hasattr(kind, "__dataclass_fields__"):
        return {name: dump(getattr(value, name)) for name in _field_names(kind)}
    if isinstance(value, bool | int | float | str):
        return value  # a subclass of a plain type
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): dump(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [dump(item) for item in value]
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def encode(value: Any) -> bytes:
    """`value` as the JSON text the API sends (`dump`, compact)."""
    return json.dumps(dump(value), separators=(",", ":")).encode()


def load(tp: Any, value: Any, where: str = "the body") -> Any:
    """`value` (parsed JSON) as `tp`; a ValidationError naming the field that does not fit."""
    if isinstance(tp, Schema) or tp is Any or tp is object:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _load_dataclass(tp, value, where)
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        if len(options) == 1:
            return load(options[0], value, where)
        for option in options:
            try:
                return load(option, value, where)
            except ValidationError:
                continue
        raise ValidationError(
            _("{where} has an unexpected value.").format(where=where.capitalize())
        )
    if origin is Literal:
        if value not in args:
            accepted = ", ".join(str(arg) for arg in args)
            raise ValidationError(
                _("{where} must be one of {accepted}.").format(
                    where=where.capitalize(), accepted=accepted
                )
            )
        return value
    if origin in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            raise ValidationError(_("{where} must be a list.").format(where=where.capitalize()))
        item = args[0] if args else Any
        items = [load(item, entry, f"each item of {where}") for entry in value]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, dict):
            raise ValidationError(_("{where} must be an object.").format(where=where.capitalize()))
        return value
    return _load_scalar(tp, value, where)


def _load_dataclass(tp: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise ValidationError(_("{where} must be a JSON object.").format(where=where.capitalize()))
    hints = typing.get_type_hints(tp)
    fields = {item.name: item for item in dataclasses.fields(tp) if item.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ValidationError(
            _("{text} is not a field of {where}; the fields are {fields}.").format(
                text=shown_input(unknown[0]), where=where, fields=", ".join(fields)
            )
        )
    arguments = {}
    for name, item in fields.items():
        if name not in value:
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                raise ValidationError(
                    _("{where} needs `{field}`.").format(where=where.capitalize(), field=name)
                )
            continue
        arguments[name] = load(hints[name], value[name], f"`{name}`")
    return tp(**arguments)


_SCALAR_WORDS = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text",
    datetime: "a date and time (ISO 8601, with a time zone)",
    uuid.UUID: "an id",
}


def _load_scalar(tp: Any, value: Any, where: str) -> Any:
    if tp is None or tp is type(None):
        if value is not None:
            raise ValidationError(_("{where} must be null.").format(where=where.capitalize()))
        return None
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            accepted = ", ".join(str(member.value) for member in tp)
            raise ValidationError(
                _("{where} must be one of {accepted}.").format(
                    where=where.capitalize(), accepted=accepted
                )
            ) from None
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)  # JSON Schema counts 5.0 as an integer
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    if tp is datetime and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    if tp is uuid.UUID and isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    word = _SCALAR_WORDS.get(tp, getattr(tp, "__name__", str(tp)))
    raise ValidationError(_("{where} must be {kind}.").format(where=where.capitalize(), kind=word))
