"""Rules of the code base that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from models import MODEL_MODULES
from pegasus.bot import EXTENSIONS

ROOT = Path(__file__).resolve().parent.parent


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", python_files("pegasus/services"), ids=lambda p: p.name)
def test_services_never_import_discord(path: Path) -> None:
    offending = {m for m in imported_modules(path) if m == "discord" or m.startswith("discord.")}
    assert not offending, f"{path.relative_to(ROOT)} imports {offending}: services take plain ids"


@pytest.mark.parametrize("path", python_files("models"), ids=lambda p: p.name)
def test_models_never_import_discord_or_cogs(path: Path) -> None:
    offending = {
        m for m in imported_modules(path) if m.split(".")[0] in ("discord", "cogs", "pegasus")
    }
    assert not offending, f"{path.relative_to(ROOT)} imports {offending}"


@pytest.mark.parametrize("name", EXTENSIONS)
def test_every_extension_has_a_setup_function(name: str) -> None:
    module = importlib.import_module(name)
    assert callable(getattr(module, "setup", None)), f"{name} has no setup(bot)"


def model_classes() -> list[type]:
    from tortoise.models import Model

    classes = []
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Model)
                and value.__module__ == module_name
                and not value._meta.abstract
            ):
                classes.append(value)
    return classes


def feature_source() -> str:
    files = [*python_files("pegasus"), *python_files("cogs")]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


@pytest.mark.parametrize("model", model_classes(), ids=lambda m: m._meta.db_table)
def test_every_table_is_used_by_a_feature(model: type) -> None:
    """A table that no service or cog reads or writes is a defect (SCHEMA.md)."""
    assert model.__name__ in feature_source(), (
        f"{model.__name__} ({model._meta.db_table}) is not used by any service or cog"
    )
