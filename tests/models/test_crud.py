"""Every model of every module in MODEL_MODULES can be created, read, updated and deleted.

Written over the models' own field descriptions, so models added later are covered too; run on
both dialects (PEGASUS_TEST_DB=sqlite|postgres). The database comes from the real migrations, so a
model whose columns the migrations do not create fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from tortoise import Tortoise, fields
from tortoise.models import Model

from models import MODEL_MODULES
from tests.models.instances import (
    InstanceBuilder,
    comparable,
    data_fields,
    initialised_model,
    project_model_names,
    relation_fields,
)

MODEL_NAMES = project_model_names()


def _row_values(instance: Model) -> dict[str, Any]:
    model = type(instance)
    names = list(data_fields(model)) + [f.source_field for f in relation_fields(model).values()]
    names.append(model._meta.pk_attr)
    return {name: comparable(getattr(instance, name)) for name in names}


def _updatable_field(model: type[Model]) -> tuple[str, fields.Field]:
    """A plain column to change: not the key, not a relation, preferably not unique (a table
    that only links rows, such as an audit entry to its case, has only its unique column)."""
    columns = [(name, field) for name, field in data_fields(model).items() if not field.pk]
    candidates = [(name, field) for name, field in columns if not field.unique] or columns
    assert candidates, f"{model.__name__} has no column that can be updated"
    # Prefer an integer or text column: they show a lost write most plainly.
    candidates.sort(key=lambda item: not isinstance(item[1], fields.IntField | fields.CharField))
    return candidates[0]


def test_every_model_module_defines_models() -> None:
    defined = {name.rsplit(".", 1)[0] for name in MODEL_NAMES}
    placeholders = [module for module in MODEL_MODULES if module not in defined]
    assert not placeholders, f"modules without models: {placeholders}"


async def test_the_parametrised_models_are_exactly_the_registered_ones(db: str) -> None:
    apps = Tortoise.apps
    assert apps is not None
    registered = {
        f"{model.__module__}.{model.__name__}"
        for model in apps["models"].values()
        if model.__module__ in MODEL_MODULES
    }
    assert registered == set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
async def test_create_read_update_delete(db: str, name: str) -> None:
    model = initialised_model(name)
    builder = InstanceBuilder()

    created = await builder.create(model)
    pk = created.pk
    assert pk is not None

    # Read: every column comes back as it was written (types survive the round trip).
    loaded = await model.get(pk=pk)
    assert _row_values(loaded) == _row_values(created)
    assert await model.filter(pk=pk).count() == 1

    # Update through the instance, then through a query: both reach the row.
    column, field = _updatable_field(model)
    first, second = builder.value_for(field), builder.value_for(field)
    setattr(loaded, column, first)
    await loaded.save(update_fields=[column])
    assert comparable(getattr(await model.get(pk=pk), column)) == comparable(first)
    await model.filter(pk=pk).update(**{column: second})
    assert comparable(getattr(await model.get(pk=pk), column)) == comparable(second)

    # Delete
    await loaded.delete()
    assert not await model.filter(pk=pk).exists()


@pytest.mark.parametrize("name", MODEL_NAMES)
async def test_many_rows_with_distinct_values_coexist(db: str, name: str) -> None:
    """Unique constraints hold for distinct values, and listing returns every row."""
    model = initialised_model(name)
    builder = InstanceBuilder()
    created = [await builder.create(model) for _ in range(3)]
    pks = {row.pk for row in created}
    assert len(pks) == 3
    assert await model.filter(pk__in=list(pks)).count() == 3
