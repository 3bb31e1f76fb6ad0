"""Texts people read go through the catalogs: an English sentence handed to Discord (a reply,
an embed, a button, a modal) or raised as a refusal must be a `_(...)` call, and what `_` is
given must be a literal the catalogs can hold (not an f-string or a concatenation)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pegasus.i18n.catalogs import DOMAINS, SOURCE_ROOT, domain_files

TRANSLATORS = {"_", "ngettext", "pgettext", "N_"}
# Calls whose text arguments Discord shows to people.
SHOWN_ARGUMENTS: dict[str, tuple[int | None, tuple[str, ...]]] = {
    "send_message": (0, ("content",)),
    "send": (0, ("content",)),
    "reply": (0, ("content",)),
    "edit_message": (None, ("content",)),
    "edit_original_response": (None, ("content",)),
    "Embed": (None, ("title", "description")),
    "add_field": (None, ("name", "value")),
    "set_footer": (None, ("text",)),
    "set_author": (None, ("name",)),
    "Button": (None, ("label",)),
    "button": (None, ("label",)),
    "TextInput": (None, ("label", "placeholder")),
    "SelectOption": (None, ("label", "description")),
    "Select": (None, ("placeholder",)),
    "select": (None, ("placeholder",)),
}


def refusal_names() -> frozenset[str]:
    """The exceptions whose message reaches people: PegasusError and everything derived from
    it in the project (a RuntimeError or ValueError is a bug report for the logs instead)."""
    import importlib

    from pegasus.errors import PegasusError

    for domain in DOMAINS:
        for path in python_files(domain):
            module = ".".join(path.relative_to(SOURCE_ROOT).with_suffix("").parts)
            importlib.import_module(module)
    found: set[str] = set()
    pending = [PegasusError]
    while pending:
        cls = pending.pop()
        found.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return frozenset(found)


def python_files(domain: str) -> list[Path]:
    return [path for path in domain_files(domain) if path.suffix == ".py"]


def is_english(node: ast.AST) -> bool:
    """A literal (or f-string) with words in it: something a person would read as English."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(ch.isalpha() for ch in node.value)
    if isinstance(node, ast.JoinedStr):
        return any(is_english(part) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.BinOp):
        return is_english(node.left) or is_english(node.right)
    return False


def called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def untranslated(
    path: Path, root: Path = SOURCE_ROOT, refusals: frozenset[str] = frozenset()
) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    relative = path.relative_to(root).as_posix()
    for node in ast.walk(tree):
        shown: list[ast.AST] = []
        refusal = isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
        if refusal and called_name(node.exc) in refusals:
            shown.extend(node.exc.args[:1])
        if isinstance(node, ast.Call) and called_name(node) in SHOWN_ARGUMENTS:
            position, keywords = SHOWN_ARGUMENTS[called_name(node)]
            if position is not None and len(node.args) > position:
                shown.append(node.args[position])
            shown.extend(k.value for k in node.keywords if k.arg in keywords)
        found.extend(
            f"{relative}:{text.lineno}: {ast.unparse(text)[:80]}"
            for text in shown
            if is_english(text)
        )
    return found


def unextractable(path: Path, root: Path = SOURCE_ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative = path.relative_to(root).as_posix()
    return [
        f"{relative}:{node.lineno}: {ast.unparse(node)[:80]}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in TRANSLATORS
        and node.args
        and isinstance(node.args[0], ast.JoinedStr | ast.BinOp | ast.Call)
    ]


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_texts_shown_to_people_go_through_the_catalogs(domain: str) -> None:
    refusals = refusal_names()
    found = [
        line for path in python_files(domain) for line in untranslated(path, refusals=refusals)
    ]
    assert not found, "\n".join(found)


def rebinds_gettext(path: Path, root: Path = SOURCE_ROOT) -> list[str]:
    """Places that assign to `_` in a module that translates with it (`_, x = pair`, `for _ in`):
    inside that function `_` is then no longer gettext, and `_("...")` fails."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports_gettext = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "pegasus.i18n"
        and any(alias.name == "_" and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )
    if not imports_gettext:
        return []
    relative = path.relative_to(root).as_posix()
    found = [
        f"{relative}:{node.lineno}: `_` assigned"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)
    ]
    found.extend(
        f"{relative}:{node.lineno}: `_` as a parameter"
        for node in ast.walk(tree)
        if isinstance(node, ast.arg) and node.arg == "_"
    )
    return found


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_gettext_is_never_shadowed(domain: str) -> None:
    found = [line for path in python_files(domain) for line in rebinds_gettext(path)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_translated_texts_are_literals(domain: str) -> None:
    found = [line for path in python_files(domain) for line in unextractable(path)]
    assert not found, "\n".join(found)


def test_the_scan_finds_an_english_reply(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "async def f(i, amount):\n"
        "    await i.response.send_message(f'You paid {amount}.')\n"
        "    await i.response.send_message(_('You paid {amount}.').format(amount=amount))\n"
        "    raise ValidationError('No.')\n"
        "    x = _(f'{amount} coins')\n"
        "    raise RuntimeError('a bug, for the logs')\n",
        encoding="utf-8",
    )
    found = untranslated(source, tmp_path, refusals=frozenset({"ValidationError"}))
    assert sorted(line.split(":")[1] for line in found) == ["2", "4"]
    assert [line.split(":")[1] for line in unextractable(source, tmp_path)] == ["5"]


def test_the_scan_finds_gettext_shadowed(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "from pegasus.i18n import _\ndef f(pair):\n    _, x = pair\n    return _('Hello')\n",
        encoding="utf-8",
    )
    assert [line.split(":")[1] for line in rebinds_gettext(source, tmp_path)] == ["3"]
