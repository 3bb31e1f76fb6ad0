"""A row of one guild in every table that holds guild data, built from the models themselves,
so a table added later is covered without writing anything for it."""

from __future__ import annotations

from tortoise.models import Model

from models.guilds import Guild
from pegasus.services import directory
from pegasus.services.retention import guild_data_tables
from tests.models.instances import InstanceBuilder


def guild_models() -> dict[type[Model], str]:
    """Every model holding guild data → the filter on a guild id that finds its rows."""
    from tortoise import Tortoise

    by_table = guild_data_tables()
    models = [m for app in Tortoise.apps.values() for m in app.values()]
    return {m: by_table[m._meta.db_table] for m in models if m._meta.db_table in by_table}


async def fill_guild(builder: InstanceBuilder, guild_id: int) -> dict[type[Model], Model]:
    """Create the guild and one row of it in every guild table; returns the row per model."""
    await directory.ensure_guild(guild_id)  # the guild and its guild_settings row
    paths = guild_models()
    rows: dict[type[Model], Model] = {}
    # Parents first: a row reached through another (a ticket's message) hangs off its parent.
    for model, path in sorted(paths.items(), key=lambda item: item[1].count("__")):
        first = path.split("__")[0]
        if path == "guild_id" and "guild" not in model._meta.fk_fields:
            overrides = {"guild_id": guild_id}
        elif "__" not in path:
            overrides = {first.removesuffix("_id"): await Guild.get(id=guild_id)}
        else:
            parent = model._meta.fields_map[first].related_model  # type: ignore[attr-defined]
            overrides = {first: rows[parent]}
        if model._meta.db_table == "guild_settings":
            rows[model] = await model.get(guild_id=guild_id)
            continue
        rows[model] = await _create_once(builder, model, guild_id, overrides)
    return rows


async def _create_once(
    builder: InstanceBuilder, model: type[Model], guild_id: int, overrides: dict[str, object]
) -> Model:
    if model._meta.o2o_fields and "guild" in model._meta.o2o_fields:
        existing = await model.filter(guild_id=guild_id).first()
        if existing is not None:
            return existing
    return await builder.create(model, **overrides)


async def rows_per_table(guild_id: int | None = None) -> dict[str, int]:
    """Rows of every guild table (of one guild, or of all)."""
    counts = {}
    for model, path in guild_models().items():
        query = model.all() if guild_id is None else model.filter(**{path: guild_id})
        counts[model._meta.db_table] = await query.count()
    return counts
