"""`dump` writes every kind of value an answer holds as JSON values, as it did before it kept
each dataclass's fields: compared with the plain definition over the kinds answers use."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum, IntEnum, StrEnum
from typing import Any

import pytest

from pegasus.web.schema import dump


def reference(value: Any) -> Any:
    """The definition: what `dump` must give."""
    if value is None or isinstance(value, bool | int | float | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            item.name: reference(getattr(value, item.name))
            for item in dataclasses.fields(value)
            if item.init or not item.name.startswith("_")
        }
    if isinstance(value, dict):
        return {str(key): reference(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [reference(item) for item in value]
    raise TypeError


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


class Plain(Enum):
    ONE = (1, "one")


class Name(str):
    pass


@dataclass(frozen=True, slots=True)
class Entry:
    position: int
    name: str
    level: int | None


@dataclass
class Page:
    entries: list[Entry]
    colour: Colour
    when: datetime
    extra: dict[Any, Any]
    derived: int = field(init=False, default=7)  # written: public
    _hidden: int = field(init=False, default=1)  # left out: private and not given


VALUES = [
    None,
    True,
    0,
    1.5,
    "text",
    Name("subclass"),
    Colour.RED,
    Level.HIGH,
    Plain.ONE,
    date(2026, 3, 5),
    datetime(2026, 3, 5, 14, 7, tzinfo=UTC),
    uuid.UUID(int=5),
    [1, (2, 3), {4}],
    frozenset({"a"}),
    {1: "one", "two": [Colour.RED]},
    Entry(1, "ann", None),
    Page(
        [Entry(1, "ann", 3), Entry(2, "bo", None)],
        Colour.RED,
        datetime(2026, 1, 1, tzinfo=UTC),
        {5: Level.HIGH, "at": date(2026, 1, 2)},
    ),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
def test_dump_writes_each_kind_as_the_definition_does(value: Any) -> None:
    assert dump(value) == reference(value)
    assert type(dump(value)) is type(reference(value))


def test_a_class_is_not_a_value() -> None:
    with pytest.raises(TypeError):
        dump(Entry)
    with pytest.raises(TypeError):
        dump(object())
