"""Every table and column that names a member is declared by a feature's privacy module."""

from __future__ import annotations

import importlib
import re

from tortoise.models import Model

from models import MODEL_MODULES
from pegasus.services.privacy import declarations

# Columns that hold a member's id without being a foreign key to `users` or `members`.
USER_LIKE = re.compile(
    r"^(user_id|user_ids|users)$|_user_ids?$|_users$|_by_id$"
    r"|^(author|owner|actor|moderator|editor|host)_id$|^participant_ids$|^winners$"
)


def models() -> list[type[Model]]:
    found = []
    for name in MODEL_MODULES:
        module = importlib.import_module(name)
        found.extend(
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Model)
            and value.__module__ == name
            and not value._meta.abstract
        )
    return found


def member_columns(model: type[Model]) -> set[str]:
    """Field names of `model` that name a member: relations to users or members, and columns
    whose name says they hold a user's id."""
    meta = model._meta
    relations = meta.fk_fields | meta.o2o_fields
    found = {
        name
        for name in relations
        if meta.fields_map[name].model_name in ("models.User", "models.Member")
    }
    found.update(
        name
        for name in meta.fields_map
        if name not in relations
        and name.removesuffix("_id") not in relations
        and USER_LIKE.search(name)
    )
    return found


def covered() -> dict[str, set[str]]:
    cover: dict[str, set[str]] = {}
    for declaration in declarations().values():
        for table, columns in declaration.covered.items():
            cover.setdefault(table, set()).update(columns)
    return cover


def test_every_member_column_is_covered_by_a_declaration() -> None:
    cover = covered()
    missing = sorted(
        f"{model._meta.db_table}.{column}"
        for model in models()
        for column in member_columns(model)
        if column not in cover.get(model._meta.db_table, set())
        and f"{column}_id" not in cover.get(model._meta.db_table, set())
    )
    assert not missing, (
        "columns naming a member that no privacy declaration covers (declare them in the "
        "feature's privacy module: how they are exported, erased or kept and why): "
        + ", ".join(missing)
    )


def test_the_detector_finds_the_kinds_of_member_columns() -> None:
    from models.economy import EconomyTransaction
    from models.security import RateLimitViolation, SecurityIncident
    from models.tickets import Ticket

    assert {"user", "related_user"} <= member_columns(EconomyTransaction)
    assert "user_id" in member_columns(RateLimitViolation)
    assert "affected_users" in member_columns(SecurityIncident)
    assert {"user", "claimed_by", "participant_ids"} <= member_columns(Ticket)


def test_declarations_name_real_columns_and_say_what_they_keep() -> None:
    tables = {model._meta.db_table: model for model in models()}
    wrong = []
    for feature, declaration in declarations().items():
        assert declaration.explanation.endswith("."), feature
        for model, columns in declaration.covers:
            fields = set(model._meta.fields_map) | {f"{n}_id" for n in model._meta.fk_fields}
            wrong.extend(f"{feature}: {model.__name__}.{c}" for c in columns if c not in fields)
        for kept in declaration.kept:
            wrong.extend(f"{feature} keeps unknown {t}" for t in kept.tables if t not in tables)
        if declaration.erase is None:
            assert declaration.kept, f"{feature} erases nothing and says nothing about why"
    assert not wrong, wrong
