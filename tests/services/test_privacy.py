"""Members' data through the privacy service: the finer rules of an erasure and the export limit."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from models.economy import EconomyTransaction
from models.giveaways import Giveaway, GiveawayEntry
from models.guilds import Member
from models.security import AuditLog
from pegasus.services import economy, giveaways, privacy
from pegasus.services.directory import ensure_member
from pegasus.services.giveaways import Entrant, GiveawayDraft

GUILD = 1_000_000_000_000_000_001
OTHER_GUILD = 1_000_000_000_000_000_002
ALICE = 2_000_000_000_000_000_001
BOB = 2_000_000_000_000_000_002
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_a_staff_members_name_leaves_the_rows_of_those_they_paid(db: str) -> None:
    await ensure_member(GUILD, ALICE)
    await economy.admin_adjust(GUILD, ALICE, BOB, 50, take=False, reason="event prize")
    await economy.pay(GUILD, ALICE, BOB, 20)
    before = await economy.get_balance(GUILD, BOB)

    report = await privacy.erase_member(GUILD, ALICE, actor_id=ALICE, now=NOW)

    rows = await EconomyTransaction.filter(guild_id=GUILD, user_id=BOB).order_by("created_at")
    assert [row.amount for row in rows] == [100, 50, 20]
    assert all(row.related_user_id is None for row in rows)  # type: ignore[attr-defined]
    assert all(row.related_transaction_id is None for row in rows)  # type: ignore[attr-defined]
    assert all(ALICE not in row.metadata.values() for row in rows)
    assert rows[1].metadata["reason"] == "event prize"
    after = await economy.get_balance(GUILD, BOB)
    assert (after.wallet, after.bank) == (before.wallet, before.bank) == (170, 0)
    money, ledger = await economy.total_money(GUILD)
    assert money == ledger == 170
    assert ("economy", "other members' ledger rows no longer naming them", 2) in report.removed


async def test_only_the_servers_own_rows_go(db: str) -> None:
    for guild_id in (GUILD, OTHER_GUILD):
        await economy.get_balance(guild_id, ALICE)

    await privacy.erase_member(GUILD, ALICE, actor_id=None, now=NOW)

    assert (await economy.total_money(GUILD)) == (0, 0)
    assert (await economy.total_money(OTHER_GUILD)) == (100, 100)
    [audit] = await AuditLog.filter(action=privacy.ERASE_ACTION).values("actor_id", "after")
    assert audit["actor_id"] is None  # an operator's erasure names no actor
    assert audit["after"]["removed"] == {"economy: ledger rows": 1, "economy: balances": 1}


async def giveaway(prize: str) -> tuple[int, str]:
    draft = GiveawayDraft(
        guild_id=GUILD, channel_id=5, host_id=BOB, prize=prize, winner_count=1,
        duration_seconds=3600,
    )
    info = await giveaways.create_giveaway(draft, now=NOW, rng=random.Random(1))
    for user_id in (ALICE, BOB):
        await ensure_member(GUILD, user_id)
        await giveaways.toggle_entry(info.id, Entrant(user_id), now=NOW)
    return info.id, info.giveaway_id


async def test_entries_in_ended_giveaways_stay_for_the_draw_to_be_checked(db: str) -> None:
    running, _ = await giveaway("Nitro")
    ended, ended_public_id = await giveaway("Sticker")
    await giveaways.end_giveaway(ended, now=NOW + timedelta(hours=2))

    report = await privacy.erase_member(GUILD, ALICE, actor_id=ALICE, now=NOW)

    assert ("giveaways", "entries in running giveaways", 1) in report.removed
    assert await GiveawayEntry.filter(giveaway_id=running, user_id=ALICE).count() == 0
    assert (await Giveaway.get(id=running)).entry_count == 1
    assert await GiveawayEntry.filter(giveaway_id=ended, user_id=ALICE).count() == 1
    assert (await giveaways.verify(GUILD, ended_public_id)).ok


async def test_one_export_a_day_for_each_member(db: str) -> None:
    # The limit counts the audit rows of exports, stamped by the database's clock.
    now = datetime.now(UTC)
    await privacy.export_member(GUILD, ALICE, now=now)

    with pytest.raises(privacy.ExportLimited) as refused:
        await privacy.export_member(GUILD, ALICE, now=now + timedelta(hours=23))
    assert "once a day" in str(refused.value)
    assert refused.value.retry_at == pytest.approx((now + timedelta(days=1)).timestamp(), abs=5)
    await privacy.export_member(GUILD, BOB, now=now + timedelta(hours=1))
    await privacy.export_member(OTHER_GUILD, ALICE, now=now + timedelta(hours=1))
    await privacy.export_member(GUILD, ALICE, now=now + timedelta(days=1, seconds=10))
    # An operator's export is neither limited nor counted.
    await privacy.export_member(GUILD, ALICE, now=now, requested_by_member=False)
    assert await AuditLog.filter(action=privacy.EXPORT_ACTION).count() == 4


async def test_an_operator_finds_every_server_that_names_the_user(db: str) -> None:
    await giveaway("Nitro")  # an entry names its giveaway, not the server
    await economy.get_balance(OTHER_GUILD, ALICE)
    await Member.filter(user_id=ALICE).delete()

    assert await privacy.guilds_of_user(ALICE) == [GUILD, OTHER_GUILD]
    assert await privacy.guilds_of_user(3_000_000_000_000_000_003) == []
