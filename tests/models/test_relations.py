"""Every foreign key of every model behaves in the database as its model declares.

Deleting the referenced row with a plain DELETE (so the database, not Tortoise, decides) must
remove the referencing row for CASCADE, empty the column for SET NULL, and be refused for
RESTRICT. Covers models added later without writing anything for them.
"""

from __future__ import annotations

import importlib

import pytest
from tortoise import fields
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.fields.relational import ForeignKeyFieldInstance
from tortoise.transactions import in_transaction

from tests.models.instances import (
    InstanceBuilder,
    initialised_model,
    project_model_names,
    relation_fields,
)


def _relations() -> list[tuple[str, str]]:
    """(model, field) for every forward FK and one-to-one field, from the class definitions."""
    pairs = []
    for name in project_model_names():
        module_name, class_name = name.rsplit(".", 1)
        model = getattr(importlib.import_module(module_name), class_name)
        for field_name, field in model._meta.fields_map.items():
            if isinstance(field, ForeignKeyFieldInstance):
                pairs.append((name, field_name))
    return pairs


RELATIONS = _relations()


def test_some_relations_were_found() -> None:
    assert len(RELATIONS) > 20


@pytest.mark.parametrize(("name", "field_name"), RELATIONS, ids=[f"{m}.{f}" for m, f in RELATIONS])
async def test_deleting_the_referenced_row(db: str, name: str, field_name: str) -> None:
    model = initialised_model(name)
    field = relation_fields(model)[field_name]
    builder = InstanceBuilder()
    target = await builder.create(field.related_model)
    row = await builder.create(model, **{field_name: target})
    assert getattr(row, field.source_field) == target.pk

    delete_target = field.related_model.filter(pk=target.pk).delete()
    if field.on_delete in (fields.RESTRICT, fields.NO_ACTION):
        with pytest.raises((IntegrityError, OperationalError)):
            async with in_transaction():
                await delete_target
        assert await model.filter(pk=row.pk).exists()
        return
    await delete_target

    if field.on_delete == fields.CASCADE:
        assert not await model.filter(pk=row.pk).exists()
    elif field.on_delete == fields.SET_NULL:
        kept = await model.get(pk=row.pk)
        assert getattr(kept, field.source_field) is None
    else:  # SET_DEFAULT
        kept = await model.get(pk=row.pk)
        assert getattr(kept, field.source_field) == field.default
