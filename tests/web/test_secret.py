"""The secret that keys the client-address hashes: WEB_SECRET, or on SQLite one generated once
beside the database."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pegasus.config import Settings
from pegasus.errors import ConfigError
from pegasus.web.app import resolve_secret


def test_sqlite_generates_the_secret_once_beside_the_database(tmp_path: Path) -> None:
    settings = Settings(discord_token="x", database_url=f"sqlite://{tmp_path}/data/p.sqlite3")
    first = resolve_secret(settings)
    kept = tmp_path / "data" / "web_secret"
    assert kept.read_text().encode() == first and len(first) == 64
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600  # readable by its owner only
    assert resolve_secret(settings) == first  # the same hashes after a restart


def test_a_given_secret_wins_and_postgres_needs_one(tmp_path: Path) -> None:
    given = Settings(
        discord_token="x", database_url=f"sqlite://{tmp_path}/p.sqlite3", web_secret="s" * 40
    )
    assert resolve_secret(given) == b"s" * 40
    assert not (tmp_path / "web_secret").exists()
    postgres = Settings(discord_token="x", database_url="postgres://u@db.example/pegasus")
    with pytest.raises(ConfigError, match=r"^WEB_SECRET is not set"):
        resolve_secret(postgres)
