"""The package as an operator installs it: `pip install .`, then run it outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a checkout holds besides the project's sources (virtualenv, caches, local databases,
# build output): leaving it out keeps the copy small and the checkout untouched by the build.
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "data",
    "backups",
    "*.sqlite3*",
    ".env",
)
PRODUCT_PACKAGES = ("pegasus", "pegasus.localdiscord", "cogs", "models")


def install_copy(tmp_path: Path) -> Path:
    """`pip install --no-deps --target <dir> .` from a copy of the working tree.

    The build runs in the copy, so parallel test runs never share the checkout's build folder;
    dependencies come from this test's virtualenv.
    """
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    target = tmp_path / "installed"
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-build-isolation", "--disable-pip-version-check", "--target", str(target), ".",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shutil.rmtree(source)  # nothing may come from the sources once installed
    return target


def run_installed(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "DATABASE_URL", "SANDBOX_DATABASE_URL", "DISCORD_TOKEN")
    }
    env.update({"PYTHONPATH": str(target), "PYTHONUNBUFFERED": "1"})
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_sandbox_runs_from_an_installed_copy_outside_the_checkout(tmp_path: Path) -> None:
    target = install_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    where = run_installed(
        target,
        elsewhere,
        "-c",
        "import importlib, sys; "
        f"print('\\n'.join(importlib.import_module(n).__file__ for n in {PRODUCT_PACKAGES!r})); "
        "print(any(m == 'tests' or m.startswith('tests.') for m in sys.modules))",
    )
    assert where.returncode == 0, where.stderr
    *files, tests_imported = where.stdout.split()
    assert all(Path(file).is_relative_to(target) for file in files), files
    assert tests_imported == "False"

    played = run_installed(target, elsewhere, "-m", "pegasus", "sandbox")
    text = played.stdout + played.stderr
    assert played.returncode == 0, text
    assert "Traceback" not in text and "ERROR " not in text, text
    # The migrations came with the package: the scene's commands wrote to a fresh database,
    # made in the current directory.
    assert (elsewhere / "data" / "sandbox.sqlite3").stat().st_size > 0
    for command in ("/help", "/ping", "/daily", "/balance", "/warn"):
        assert f": {command}" in text, text
    assert "Pong!" in text
    assert "(no answer" not in text and "Discord would not send" not in text, text
    assert "That was Pegasus against a local Discord." in text, text
