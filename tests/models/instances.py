"""Build a valid row of any model from its field descriptions, creating FK targets as needed.

Used by the generic model tests, so a model added to any module of MODEL_MODULES is covered
without writing anything for it. Values are distinct per call (unique columns never collide) and
respect field limits: max_length, integer ranges, validators, enum members, JSON shape.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise import Tortoise, fields
from tortoise.fields.relational import (
    BackwardFKRelation,
    ForeignKeyFieldInstance,
    ManyToManyFieldInstance,
)
from tortoise.models import Model
from tortoise.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator

from models import MODEL_MODULES

ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
MAX_DEPTH = 6  # nullable relations deeper than this are left empty (self references end here)


def project_model_names() -> list[str]:
    """"Module.Class" of every model defined in MODEL_MODULES, in a stable order."""
    names = []
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Model) and cls.__module__ == module_name and not cls._meta.abstract:
                names.append(f"{module_name}.{cls.__name__}")
    return sorted(names)


def initialised_model(qualified_name: str) -> type[Model]:
    """The model class as registered in the initialised Tortoise app."""
    class_name = qualified_name.rsplit(".", 1)[1]
    apps = Tortoise.apps
    assert apps is not None, "Tortoise is not initialised: use the `db` fixture"
    model = apps["models"][class_name]
    return model


def relation_fields(model: type[Model]) -> dict[str, ForeignKeyFieldInstance]:
    """Forward FK and one-to-one fields (both are ForeignKeyFieldInstance)."""
    return {
        name: field
        for name, field in model._meta.fields_map.items()
        if isinstance(field, ForeignKeyFieldInstance)
    }


def data_fields(model: type[Model]) -> dict[str, fields.Field]:
    """Columns we may set directly: not relations, not their `_id` sources, not automatic."""
    sources = {field.source_field for field in relation_fields(model).values()}
    chosen = {}
    for name, field in model._meta.fields_map.items():
        if name in sources or isinstance(
            field, ForeignKeyFieldInstance | BackwardFKRelation | ManyToManyFieldInstance
        ):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        if field.pk and field.generated:
            continue
        if field.pk and isinstance(field, fields.UUIDField):
            continue  # filled by its default
        chosen[name] = field
    return chosen


class InstanceBuilder:
    """Creates rows with distinct, valid values (one builder per test)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def value_for(self, field: fields.Field) -> Any:
        """A valid, distinct value for a data field."""
        n = next(self._counter)
        enum_type = getattr(field, "enum_type", None)
        if enum_type is not None:
            members = list(enum_type)
            return members[n % len(members)]
        if isinstance(field, fields.BooleanField):
            default = field.default
            return not default if isinstance(default, bool) else True
        if isinstance(field, fields.IntField | fields.BigIntField | fields.SmallIntField):
            return self._integer(field, n)
        if isinstance(field, fields.CharField):
            return self._text(field, n)
        if isinstance(field, fields.TextField):
            return f"text {n}: ünïcödé ✓ 'quoted' \"double\""
        if isinstance(field, fields.DatetimeField):
            return datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(seconds=n)
        if isinstance(field, fields.DateField):
            return date(2024, 1, 1) + timedelta(days=n)
        if isinstance(field, fields.TimeField):
            return time(12, n % 60, 0)
        if isinstance(field, fields.TimeDeltaField):
            return timedelta(seconds=n)
        if isinstance(field, fields.FloatField):
            return 1.5 + n
        if isinstance(field, fields.DecimalField):
            return Decimal(n) / 4
        if isinstance(field, fields.JSONField):
            default = field.default() if callable(field.default) else field.default
            if isinstance(default, list):
                return [n, "two", {"three": 3}]
            return {"n": n, "list": [1, "x"], "nested": {"ok": True}}
        if isinstance(field, fields.UUIDField):
            return uuid.uuid4()
        if isinstance(field, fields.BinaryField):
            return bytes([n % 256, 0, 255])
        raise TypeError(f"No value rule for {type(field).__name__} ({field.model_field_name})")

    def _integer(self, field: fields.Field, n: int) -> int:
        low, high = _integer_bounds(field)
        if isinstance(field, fields.BigIntField) and high >= 2**62:
            candidate = 2**62 + n  # beyond 32 bits, like a Discord snowflake
        else:
            candidate = 7 + n
        if low <= candidate <= high:
            return candidate
        return low + n % (high - low + 1)

    def _text(self, field: fields.Field, n: int) -> str:
        length = _max_length(field)
        body = "".join(ALPHABET[(n // len(ALPHABET) ** i) % len(ALPHABET)] for i in range(4))
        text = f"v{n}-{body}-ünï"
        return text[:length] if len(text) > length else text

    async def create(self, model: type[Model], depth: int = 0, **overrides: Any) -> Model:
        """Create and save a row of `model` with every column filled."""
        values = self.values(model, **overrides)
        for name, field in relation_fields(model).items():
            if name in values or f"{name}_id" in values:
                continue
            target = field.related_model
            if field.null and (depth >= MAX_DEPTH or target is model):
                values[name] = None
                continue
            values[name] = await self.create(target, depth + 1)
        return await model.create(**values)

    def values(self, model: type[Model], **overrides: Any) -> dict[str, Any]:
        values = {name: self.value_for(field) for name, field in data_fields(model).items()}
        values.update(overrides)
        return values


def _integer_bounds(field: fields.Field) -> tuple[int, int]:
    constraints = field.constraints
    low = int(constraints.get("ge", -(2**63)))
    high = int(constraints.get("le", 2**63 - 1))
    for validator in field.validators:
        if isinstance(validator, MinValueValidator):
            low = max(low, int(validator.min_value))
        elif isinstance(validator, MaxValueValidator):
            high = min(high, int(validator.max_value))
    return low, high


def _max_length(field: fields.Field) -> int:
    length = getattr(field, "max_length", None) or 255
    for validator in field.validators:
        if isinstance(validator, MaxLengthValidator):
            length = min(length, validator.max_length)
    return int(length)


def comparable(value: Any) -> Any:
    """Values as a database returns them: enums by value, aware datetimes in UTC."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value
