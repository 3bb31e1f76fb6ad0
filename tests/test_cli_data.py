"""`python -m pegasus data export-user|delete-user`, run as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pegasus.db import close_db, init_db
from tests.test_cli import ROOT

FIRST_GUILD = 111111111111111111
SECOND_GUILD = 111111111111111112
ALICE = 222222222222222221
BOB = 222222222222222222


def pegasus(*args: str, url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pegasus", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def seed(url: str) -> None:
    """alice pays bob in the first server and has an account in the second."""
    from pegasus.services import economy
    from pegasus.services.directory import ensure_member

    await init_db(url)
    try:
        for guild_id in (FIRST_GUILD, SECOND_GUILD):
            await ensure_member(guild_id, ALICE)
            await economy.get_balance(guild_id, ALICE)
        await economy.pay(FIRST_GUILD, ALICE, BOB, 30)
    finally:
        await close_db()


async def state(url: str) -> dict[str, object]:
    from models.economy import EconomyBalance, EconomyTransaction
    from pegasus.services import economy

    await init_db(url)
    try:
        totals = [await economy.total_money(g) for g in (FIRST_GUILD, SECOND_GUILD)]
        return {
            "alice_accounts": sorted(
                await EconomyBalance.filter(user_id=ALICE).values_list("guild_id", flat=True)
            ),
            "naming_alice": await EconomyTransaction.filter(related_user_id=ALICE).count(),
            "bob_received": await EconomyTransaction.filter(
                user_id=BOB, amount=30
            ).values_list("related_user_id", flat=True),
            "books": all(money == ledger for money, ledger in totals),
        }
    finally:
        await close_db()


async def test_export_user_writes_every_server_to_one_file(db_url: str, tmp_path: Path) -> None:
    await seed(db_url)
    target = tmp_path / "alice.json"

    result = pegasus("data", "export-user", str(ALICE), "--output", str(target), url=db_url)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"Exported the data of user {ALICE} from 2 servers to {target}."
    )
    document = json.loads(target.read_text(encoding="utf-8"))
    assert set(document["guilds"]) == {str(FIRST_GUILD), str(SECOND_GUILD)}
    first = document["guilds"][str(FIRST_GUILD)]["features"]["economy"]["data"]
    assert first["balance"]["wallet"] == 70
    assert [row["amount"] for row in first["ledger"]] == [100, -30]


async def test_delete_user_asks_then_erases_and_keeps_the_books(db_url: str) -> None:
    await seed(db_url)

    refused = pegasus("data", "delete-user", str(ALICE), url=db_url, stdin="no\n")
    assert refused.returncode == 1
    assert "It keeps:" in refused.stdout and "moderation cases" in refused.stdout
    assert refused.stdout.strip().endswith("Not confirmed: nothing was deleted.")
    assert (await state(db_url))["alice_accounts"] == [FIRST_GUILD, SECOND_GUILD]

    done = pegasus("data", "delete-user", str(ALICE), url=db_url, stdin=f"{ALICE}\n")

    assert done.returncode == 0, done.stderr
    # Two ledger rows, a balance and a membership in the first server, one each in the second,
    # and bob's half of the payment, which no longer names her.
    assert done.stdout.strip().endswith(
        f"Deleted the data of user {ALICE} in 2 servers: 8 rows removed or no longer naming "
        "them; moderation, ticket, security and audit records kept."
    )
    after = await state(db_url)
    assert after == {
        "alice_accounts": [], "naming_alice": 0, "bob_received": [None], "books": True,
    }


async def test_delete_user_of_one_server_with_yes(db_url: str) -> None:
    await seed(db_url)

    done = pegasus(
        "data", "delete-user", str(ALICE), "--guild", str(SECOND_GUILD), "--yes", url=db_url
    )

    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 1
    assert "in 1 server:" in done.stdout
    assert (await state(db_url))["alice_accounts"] == [FIRST_GUILD]
