"""`python -m pegasus apikey create|list|revoke`, run as an operator runs it."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from pegasus.db import close_db, init_db
from tests.test_cli import ROOT

GUILD_ID = 123456789012345678
OWNER_ID = 222222222222222222


def pegasus(
    *args: str, url: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pegasus", *args],
        cwd=ROOT,
        env={**os.environ, "OWNER_IDS": "", "DATABASE_URL": url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def stored_keys(url: str) -> list[dict]:
    from models.security import ApiKey

    await init_db(url)
    try:
        return await ApiKey.all().order_by("created_at").values()
    finally:
        await close_db()


async def test_an_operator_creates_lists_and_revokes_keys(db_url: str) -> None:
    created = pegasus(
        "apikey", "create", "--name", "dashboard", "--scopes", "levels:read economy:write",
        "--guild", str(GUILD_ID), "--expires", "30d", "--owner", str(OWNER_ID), url=db_url,
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"pgs_[A-Za-z0-9]{40}", secret), created.stdout
    assert f"guild {GUILD_ID}" in created.stdout
    assert "levels:read economy:write" in created.stdout

    (key,) = await stored_keys(db_url)
    assert key["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(key)  # only the hash is kept
    assert key["guild_id"] == GUILD_ID and key["owner_id"] == OWNER_ID
    assert key["scopes"] == ["levels:read", "economy:write"]
    expires = key["expires_at"]
    assert expires is not None
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)

    bot_wide = pegasus(
        "apikey", "create", "--name", "ops", "--scopes", "read", url=db_url,
        env={"OWNER_IDS": str(OWNER_ID)},
    )
    assert bot_wide.returncode == 0, bot_wide.stderr
    assert "bot-wide" in bot_wide.stdout

    listed = pegasus("apikey", "list", "--guild", str(GUILD_ID), url=db_url)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("active") == 2, listed.stdout
    assert key["key_prefix"] in listed.stdout and "'dashboard'" in listed.stdout
    assert secret not in listed.stdout

    revoked = pegasus("apikey", "revoke", key["key_prefix"], "--owner", str(OWNER_ID), url=db_url)
    assert revoked.returncode == 0, revoked.stderr
    assert f"Revoked API key {key['key_prefix']}" in revoked.stdout
    (after, _ops) = await stored_keys(db_url)
    assert after["active"] is False
    listed = pegasus("apikey", "list", "--guild", str(GUILD_ID), url=db_url)
    assert "revoked" in listed.stdout


async def test_a_bad_scope_or_duration_is_refused_and_nothing_is_created(db_url: str) -> None:
    for bad in (["--scopes", "levels:fly"], ["--scopes", "read", "--expires", "soon"]):
        result = pegasus(
            "apikey", "create", "--name", "x", *bad, "--owner", str(OWNER_ID), url=db_url
        )
        assert result.returncode == 2
        assert result.stderr.startswith("Error: "), result.stderr
        assert "Traceback" not in result.stderr
    assert await stored_keys(db_url) == []
