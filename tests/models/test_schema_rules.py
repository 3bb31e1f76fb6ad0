"""The rules of SCHEMA.md ("Rules for every table"), checked over every model's declaration.

These need no database: they read the field descriptions, so a model added later is held to the
same rules. A failure names the model and field to fix.
"""

from __future__ import annotations

import importlib
import re

import pytest
from tortoise import fields
from tortoise.fields.relational import ForeignKeyFieldInstance
from tortoise.models import Model

from tests.models.instances import project_model_names

DISCORD_ID_COLUMN = re.compile(
    r"(^|_)(guild|user|channel|role|message|owner|actor|category|thread|webhook|emoji)_id$"
)


def _models() -> list[type[Model]]:
    found = []
    for name in project_model_names():
        module_name, class_name = name.rsplit(".", 1)
        found.append(getattr(importlib.import_module(module_name), class_name))
    return found


# Timestamps that are facts from Discord rather than when our row was written.
TIMESTAMPS_FROM_DISCORD = {("TicketMessage", "created_at"), ("AutomodHit", "created_at")}

# Every foreign key has an index (SCHEMA.md): no exceptions.
KNOWN_UNINDEXED_FOREIGN_KEYS: dict[str, list[str]] = {}

MODELS = _models()
IDS = [model.__name__ for model in MODELS]


def _relations(model: type[Model]) -> dict[str, ForeignKeyFieldInstance]:
    return {
        name: field
        for name, field in model._meta.fields_map.items()
        if isinstance(field, ForeignKeyFieldInstance)
    }


def _column(model: type[Model], name: str) -> str:
    field = model._meta.fields_map[name]
    if isinstance(field, ForeignKeyFieldInstance):
        return f"{name}_id"
    return field.source_field or name


def _leading_indexed_columns(model: type[Model]) -> set[str]:
    """Columns that start some index or unique constraint (usable for lookups by them)."""
    leading = set()
    for together in model._meta.unique_together:
        leading.add(_column(model, together[0]))
    for index in model._meta.indexes:
        names = list(index) if isinstance(index, tuple | list) else list(index.fields)
        if names:
            first = names[0]
            leading.add(_column(model, first) if first in model._meta.fields_map else first)
    return leading


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_table_name_is_explicit_snake_case(model: type[Model]) -> None:
    table = model._meta.db_table
    assert "table" in vars(model.Meta), f"{model.__name__}: set Meta.table"
    assert re.fullmatch(r"[a-z][a-z0-9_]*", table), f"{model.__name__}: table {table!r}"


def test_table_names_are_unique() -> None:
    tables = [model._meta.db_table for model in MODELS]
    assert len(tables) == len(set(tables))


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_set_null_relations_are_nullable(model: type[Model]) -> None:
    # NOT NULL with SET NULL makes deleting the referenced row fail (the original bot's bug).
    wrong = [
        name
        for name, field in _relations(model).items()
        if field.on_delete == fields.SET_NULL and not field.null
    ]
    assert not wrong, f"{model.__name__}: SET NULL on non-nullable {wrong}"


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_guild_scoped_rows_cascade_from_their_guild(model: type[Model]) -> None:
    wrong = [
        name
        for name, field in _relations(model).items()
        if field.model_name == "models.Guild" and field.on_delete != fields.CASCADE
    ]
    assert not wrong, f"{model.__name__}: references to guilds must CASCADE: {wrong}"


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_every_foreign_key_is_indexed(model: type[Model]) -> None:
    leading = _leading_indexed_columns(model)
    unindexed = [
        name
        for name, field in _relations(model).items()
        if not (field.index or field.unique or f"{name}_id" in leading)
    ]
    known = KNOWN_UNINDEXED_FOREIGN_KEYS.get(model.__name__, [])
    assert sorted(unindexed) == sorted(known), (
        f"{model.__name__}: index these foreign keys (db_index=True, or lead an index "
        f"or unique_together with them): {unindexed}; known and not yet fixed: {known}"
    )


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_discord_ids_are_bigint_and_id_lists_are_json(model: type[Model]) -> None:
    relation_sources = {f"{name}_id" for name in _relations(model)}
    wrong = []
    for name, field in model._meta.fields_map.items():
        if name in relation_sources or isinstance(field, ForeignKeyFieldInstance):
            continue
        if DISCORD_ID_COLUMN.search(name) and not isinstance(field, fields.BigIntField):
            wrong.append(f"{name} ({type(field).__name__}, expected BigIntField)")
        if name.endswith("_ids") and not isinstance(field, fields.JSONField):
            wrong.append(f"{name} ({type(field).__name__}, expected JSONField)")
    assert not wrong, f"{model.__name__}: {wrong}"


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_no_decimal_columns(model: type[Model]) -> None:
    # DecimalField is VARCHAR on SQLite with float arithmetic: money is BigIntField.
    decimals = [
        name for name, field in model._meta.fields_map.items()
        if isinstance(field, fields.DecimalField)
    ]
    assert not decimals, f"{model.__name__}: use BigIntField instead of DecimalField: {decimals}"


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_timestamps_are_automatic(model: type[Model]) -> None:
    fields_map = model._meta.fields_map
    if "created_at" in fields_map and (model.__name__, "created_at") not in TIMESTAMPS_FROM_DISCORD:
        assert getattr(fields_map["created_at"], "auto_now_add", False), (
            f"{model.__name__}.created_at must be auto_now_add"
        )
    if "updated_at" in fields_map:
        assert getattr(fields_map["updated_at"], "auto_now", False), (
            f"{model.__name__}.updated_at must be auto_now"
        )
