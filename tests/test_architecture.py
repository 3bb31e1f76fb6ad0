"""Rules of the code base that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

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


# --------------------------------------------------------------------------- layering

PRODUCT_FOLDERS = ("pegasus", "cogs", "models")
SETTINGS_TABLES = (
    "economy_settings",
    "xp_settings",
    "guild_settings",
    "moderation_settings",
    "ticket_settings",
    "raid_settings",
    "verification_settings",
)
# Discord's markup for a user or role mention, a channel and a timestamp.
MARKUP = ("<@", "<#", "<t:")


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def absolute_imports(path: Path) -> list[tuple[ast.AST, str, list[str]]]:
    """(node, module, imported names) of every import, relative ones made absolute."""
    package = module_of(path) if path.name == "__init__.py" else module_of(path).rpartition(".")[0]
    found: list[tuple[ast.AST, str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            found.append((node, module, [alias.name for alias in node.names]))
    return found


def imported_targets(path: Path) -> list[tuple[ast.AST, str]]:
    """Every module or module attribute an import names: `from a import b` gives `a.b`."""
    targets = []
    for node, module, names in absolute_imports(path):
        targets.append((node, module))
        targets.extend((node, f"{module}.{name}") for name in names if name != "*")
    return targets


def is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def product_files() -> list[Path]:
    return [*(p for folder in PRODUCT_FOLDERS for p in python_files(folder)), ROOT / "bot.py"]


def test_the_product_never_imports_the_tests() -> None:
    """The bot, its sandbox and the local Discord run from an installed copy, without tests/."""
    loaders = {"import_module", "__import__", "load_extension", "find_spec"}
    offenders = []
    for path in product_files():
        for node, module in imported_targets(path):
            if is_under(module, "tests"):
                offenders.append(f"{where(path, node)} imports {module}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) in loaders
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and is_under(node.args[0].value, "tests")
            ):
                offenders.append(f"{where(path, node)} loads {node.args[0].value}")
    assert not offenders, "\n".join(offenders)


def cog_feature(module: str) -> str | None:
    """`cogs.levels.admin` → `levels`; None outside cogs/."""
    parts = module.split(".")
    return parts[1] if parts[0] == "cogs" and len(parts) > 1 else None


def test_no_cog_imports_another_features_cog() -> None:
    """Shared Discord helpers live in pegasus/ui; a cog is imported only by its own feature."""
    offenders = []
    for path in [*python_files("cogs"), *python_files("pegasus"), ROOT / "bot.py"]:
        own = cog_feature(module_of(path))
        for node, target in imported_targets(path):
            other = cog_feature(target)
            if other is not None and other != own:
                offenders.append(f"{where(path, node)} imports {target}")
    assert not offenders, "\n".join(sorted(set(offenders)))


DISCORD_TRACE = """
import importlib, json, pkgutil, sys, traceback

root = sys.argv[1]
first = {}


class Watch:
    def find_spec(self, name, path=None, target=None):
        if (name == "discord" or name.startswith("discord.")) and not first:
            stack = traceback.extract_stack()[:-1]
            first["chain"] = [
                f"{f.filename[len(root) + 1:]}:{f.lineno}" for f in stack
                if f.filename.startswith(root)
            ]
        return None


sys.meta_path.insert(0, Watch())
import pegasus.services

if first:
    first["module"] = "pegasus.services"
for info in pkgutil.walk_packages(pegasus.services.__path__, "pegasus.services."):
    if first:
        break
    importlib.import_module(info.name)
    if first:
        first["module"] = info.name
print(json.dumps(first))
"""


def test_services_do_not_load_discord_through_other_modules() -> None:
    """Not even indirectly (through pegasus.ui or a cog): services run in the API process too."""
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", DISCORD_TRACE, str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert not loaded, (
        f"importing {loaded['module']} loads discord: " + " → ".join(loaded["chain"])
    )


# --------------------------------------------------------------------------- ORM and cogs


def model_resolver(path: Path) -> Callable[[ast.expr], object]:
    """Resolve a name or dotted name of `path` to the object it means, if it comes from models."""
    names: dict[str, object] = {}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_under(alias.name, "models"):
                    # `import models.x` binds `models`; `import models.x as y` binds y.
                    bound = alias.name if alias.asname else alias.name.split(".")[0]
                    names[alias.asname or bound] = importlib.import_module(bound)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if not is_under(node.module, "models"):
                continue
            owner = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(owner, alias.name, None)
                if value is None:  # a module of the package
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = value

    def resolve(expr: ast.expr) -> object:
        if isinstance(expr, ast.Name):
            return names.get(expr.id)
        if isinstance(expr, ast.Attribute):
            owner = resolve(expr.value)
            return None if owner is None else getattr(owner, expr.attr, None)
        return None

    return resolve


def model_query_methods() -> frozenset[str]:
    """The class-level entry points of Tortoise's query API."""
    from tortoise.models import Model

    candidates = (
        "all", "filter", "exclude", "get", "get_or_none", "first", "last", "create",
        "get_or_create", "update_or_create", "bulk_create", "bulk_update", "exists", "annotate",
        "select_for_update", "select_related", "prefetch_related", "raw", "in_bulk",
        "fetch_for_list", "only", "values", "values_list", "count", "latest", "earliest",
        "using_db", "group_by", "order_by", "distinct", "limit", "offset",
    )
    return frozenset(name for name in candidates if hasattr(Model, name))


def test_cogs_run_no_orm_query() -> None:
    """Cogs call services; queries and transactions live in pegasus/services."""
    from tortoise.models import Model

    methods = model_query_methods()
    offenders = []
    for path in python_files("cogs"):
        for node, module in imported_targets(path):
            if is_under(module, "tortoise"):
                offenders.append(f"{where(path, node)} imports {module}")
        resolve = model_resolver(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Attribute) and node.attr in methods):
                continue
            owner = resolve(node.value)
            if isinstance(owner, type) and issubclass(owner, Model):
                offenders.append(f"{where(path, node)} {owner.__name__}.{node.attr}(...)")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name) and node.id in ("in_transaction", "atomic"):
                offenders.append(f"{where(path, node)} uses {node.id}")
    assert not offenders, "\n".join(sorted(set(offenders)))


# --------------------------------------------------------------------------- services' results


def service_modules() -> list[ModuleType]:
    """Every module and package under pegasus.services, imported."""
    import pkgutil

    import pegasus.services

    modules = [pegasus.services]
    for info in pkgutil.walk_packages(pegasus.services.__path__, "pegasus.services."):
        modules.append(importlib.import_module(info.name))
    return modules


def exported(module: ModuleType) -> dict[str, object]:
    """What a package or a top-level service module offers the rest of the bot."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
        ]
    return {name: getattr(module, name) for name in names}


def public_surface() -> dict[str, object]:
    """`module.name` → object, for what each feature package and top-level service exports.

    A package's modules are its own business: only the package's `__all__` counts for them.
    """
    surface: dict[str, object] = {}
    for module in service_modules():
        parent = module.__name__.rpartition(".")[0]
        if module.__name__ == "pegasus.services" or parent != "pegasus.services":
            continue
        for name, value in exported(module).items():
            surface[f"{module.__name__}.{name}"] = value
    return surface


def hint_namespace() -> dict[str, object]:
    """Names an annotation may use only under TYPE_CHECKING: every model, Tortoise's handles."""
    from tortoise.backends.base.client import BaseDBAsyncClient
    from tortoise.queryset import QuerySet, QuerySetSingle

    namespace: dict[str, object] = {
        "BaseDBAsyncClient": BaseDBAsyncClient,
        "QuerySet": QuerySet,
        "QuerySetSingle": QuerySetSingle,
    }
    for model in model_classes():
        namespace[model.__name__] = model
    return namespace


def is_orm_type(value: object) -> bool:
    from tortoise.models import Model

    if not isinstance(value, type):
        return False
    return issubclass(value, Model) or value.__module__.split(".")[0] == "tortoise"


def orm_types_in(hint: object, seen: set[int]) -> list[str]:
    """ORM types a value of type `hint` can be or hold: walks generics and dataclass fields.

    `type[Model]` is a class, not a row, so what it names is not counted.
    """
    import dataclasses
    import typing

    if id(hint) in seen:
        return []
    seen.add(id(hint))
    origin = typing.get_origin(hint)
    if origin is type:
        return []
    if origin is typing.Annotated:
        return orm_types_in(typing.get_args(hint)[0], seen)
    if origin is not None:
        found = [origin.__name__] if is_orm_type(origin) else []
        for arg in typing.get_args(hint):
            found.extend(orm_types_in(arg, seen))
        return found
    if is_orm_type(hint):
        return [hint.__name__]  # type: ignore[attr-defined]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        found = []
        for name, field_hint in resolved_hints(hint).items():
            found.extend(f"{hint.__name__}.{name}: {t}" for t in orm_types_in(field_hint, seen))
        return found
    return []


def resolved_hints(owner: object) -> dict[str, object]:
    import sys
    import typing

    module = sys.modules.get(getattr(owner, "__module__", ""), None)
    namespace = {**hint_namespace(), **(vars(module) if module else {})}
    return typing.get_type_hints(owner, globalns=namespace, include_extras=True)


def public_callables(surface: dict[str, object]) -> dict[str, Callable[..., object]]:
    """Exported functions, and the public methods of exported classes defined in services."""
    import inspect

    found: dict[str, Callable[..., object]] = {}
    for qualified, value in surface.items():
        if inspect.isfunction(value):
            found[qualified] = value
        elif isinstance(value, type) and value.__module__.startswith("pegasus.services"):
            for name, member in vars(value).items():
                if name.startswith("_"):
                    continue
                if isinstance(member, staticmethod | classmethod):
                    member = member.__func__
                elif isinstance(member, property):
                    member = member.fget
                if inspect.isfunction(member):
                    found[f"{qualified}.{name}"] = member
    return found


def test_public_service_functions_return_no_orm_objects() -> None:
    """Cogs, the API and the dashboard get frozen dataclasses, builtins or None, never a row."""
    offenders = []
    for qualified, function in sorted(public_callables(public_surface()).items()):
        if "return" not in function.__annotations__:
            offenders.append(f"{qualified}: no return annotation")
            continue
        try:
            hint = resolved_hints(function)["return"]
        except Exception as error:
            offenders.append(f"{qualified}: return annotation unresolvable ({error})")
            continue
        for orm in orm_types_in(hint, set()):
            offenders.append(f"{qualified} returns {orm}")
    assert not offenders, "\n".join(offenders)


# --------------------------------------------------------------------------- settings


def settings_models() -> dict[str, type]:
    return {model._meta.db_table: model for model in model_classes()}


def columns_of(model: type) -> dict[str, str]:
    """Column → the model field it belongs to (a relation's column is `<field>_id`)."""
    meta = model._meta  # type: ignore[attr-defined]
    columns = {column: name for name, column in meta.fields_db_projection.items()}
    for name in (*meta.fk_fields, *meta.o2o_fields):
        columns.setdefault(f"{name}_id", name)
    return columns


def test_every_settings_table_is_listed() -> None:
    """A new settings table joins SETTINGS_TABLES, so the declaration test below covers it."""
    unlisted = sorted(
        table
        for table in settings_models()
        if table.endswith("settings") and table not in SETTINGS_TABLES
    )
    assert not unlisted, f"settings tables missing from SETTINGS_TABLES: {unlisted}"


def test_every_settings_column_is_declared_or_internal() -> None:
    """Commands, validation, audit and the API all come from the declaration: none is missed."""
    from pegasus.services.settings import declared

    service_modules()  # each feature declares its settings when its package is imported
    models = settings_models()
    offenders = []
    for table in SETTINGS_TABLES:
        model = models[table]
        specs = [spec for spec in declared().values() if spec.model is model]
        covered = {name for spec in specs for name in (*spec.by_name, *spec.internal)}
        for column, field_name in sorted(columns_of(model).items()):
            if column not in covered and field_name not in covered:
                offenders.append(f"{table}.{column}")
    assert not offenders, "declared by no FeatureSettings, nor internal: " + ", ".join(offenders)


def test_every_declared_setting_is_a_column_of_its_table() -> None:
    from pegasus.services.settings import declared

    service_modules()
    offenders = []
    for feature, spec in sorted(declared().items()):
        fields = set(columns_of(spec.model).values())
        offenders.extend(
            f"{feature}: {name} is not a column of {spec.model._meta.db_table}"
            for name in spec.by_name
            if name not in fields
        )
    assert not offenders, "\n".join(offenders)


# --------------------------------------------------------------------------- markup


def docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def regex_patterns(tree: ast.AST) -> set[int]:
    """Patterns given to `re` (or `re2`) functions: reading Discord's markup is not producing
    it."""
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("re", "re2")
            and node.args
        ):
            found.update(id(n) for n in ast.walk(node.args[0]))
    return found


def test_services_write_no_discord_markup() -> None:
    """Mentions and timestamps are the adapters' to render: an API client gets ids and times."""
    offenders = set()
    for path in python_files("pegasus/services"):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source)
        skipped = docstrings(tree) | regex_patterns(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skipped
                and any(mark in node.value for mark in MARKUP)
            ):
                offenders.add(f"{where(path, node)}: {lines[node.lineno - 1].strip()}")
    assert not offenders, "\n".join(sorted(offenders))


# --------------------------------------------------------------------------- packages


def feature_packages() -> list[ModuleType]:
    return [
        module
        for module in service_modules()
        if module.__name__.count(".") == 2 and hasattr(module, "__path__")
    ]


def test_feature_packages_declare_what_they_export() -> None:
    offenders = []
    for package in feature_packages():
        names = getattr(package, "__all__", None)
        if names is None:
            offenders.append(f"{package.__name__} has no __all__")
            continue
        offenders.extend(
            f"{package.__name__}.__all__ names {name}, which it does not have"
            for name in names
            if not hasattr(package, name)
        )
    assert not offenders, "\n".join(offenders)


def test_no_module_imports_another_modules_private_name() -> None:
    """A private name is its module's own: what others need is exported without an underscore.

    `_` alone is gettext's translation function (pegasus.i18n), public by a convention every
    translation tool knows, not a private name."""
    project = ("pegasus", "cogs", "models")
    offenders = []
    for path in product_files():
        for node, module, names in absolute_imports(path):
            if not isinstance(node, ast.ImportFrom) or module.split(".")[0] not in project:
                continue
            offenders.extend(
                f"{where(path, node)} imports {module}.{name}"
                for name in names
                if name.startswith("_") and not name.startswith("__") and name != "_"
            )
    assert not offenders, "\n".join(offenders)
