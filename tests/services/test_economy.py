"""Wallets, banks and the ledger: every rule of pegasus.services.economy, on a real database."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from models.economy import (
    EconomyBalance,
    EconomyCooldown,
    EconomySettings,
    EconomyTransaction,
    TransactionType,
)
from pegasus.errors import (
    ConflictError,
    CooldownActive,
    InsufficientFunds,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from pegasus.services import economy
from pegasus.services.economy import ALL, MAX_BALANCE, AlreadyProcessed

GUILD = 900_000_000_000_000_001
ALICE = 100_000_000_000_000_001
BOB = 100_000_000_000_000_002
CAROL = 100_000_000_000_000_003
STAFF = 100_000_000_000_000_009
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class FixedRng(random.Random):
    """A Random whose draws are chosen by the test: randrange/randint return `values` in turn."""

    def __init__(self, *values: int) -> None:
        super().__init__(0)
        self.values = list(values)

    def randrange(self, *args, **kwargs) -> int:  # type: ignore[override]
        return self.values.pop(0)

    def randint(self, a: int, b: int) -> int:
        value = self.values.pop(0)
        assert a <= value <= b, f"{value} is outside [{a}, {b}]"
        return value


async def assert_books_balance(guild_id: int = GUILD) -> None:
    """The invariants: each wallet and bank equals the sum of its ledger rows, nothing is
    negative, and net_worth = wallet + bank."""
    ledger: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = await EconomyTransaction.filter(guild_id=guild_id).values_list(
        "user_id", "amount", "bank_amount"
    )
    for user_id, amount, bank_amount in rows:
        ledger[user_id][0] += amount
        ledger[user_id][1] += bank_amount
    balances = await EconomyBalance.filter(guild_id=guild_id)
    assert balances, "no balances at all"
    for row in balances:
        user_id = row.user_id  # type: ignore[attr-defined]
        assert row.wallet >= 0 and row.bank >= 0, f"negative balance for {user_id}"
        assert row.net_worth == row.wallet + row.bank, f"net worth out of step for {user_id}"
        assert [row.wallet, row.bank] == ledger[user_id], f"ledger disagrees for {user_id}"
    total, ledger_total = await economy.total_money(guild_id)
    assert total == ledger_total


async def wallet_of(user_id: int, guild_id: int = GUILD) -> tuple[int, int]:
    row = await EconomyBalance.get(guild_id=guild_id, user_id=user_id)
    return row.wallet, row.bank


async def set_settings(**changes) -> None:
    await economy.update_settings(GUILD, **changes)


# -------------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("text", "expected"),
    [("250", 250), ("1,000", 1000), (" 2.5k ", 2500), ("3M", 3_000_000), ("1_000", 1000),
     ("all", ALL), ("MAX", ALL), ("1b", 10**9), ("0.001k", 1)],
)
def test_parse_amount_accepts_what_people_type(text: str, expected: object) -> None:
    assert economy.parse_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("0", "more than zero"), ("-5", "positive"), ("abc", "not an amount"),
     ("1.5", "whole numbers"), ("10000000000000000000", "at most"), ("", "not an amount"),
     ("0.0001k", "whole numbers")],
)
def test_parse_amount_refuses_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        economy.parse_amount(text)


def test_all_is_refused_where_it_makes_no_sense() -> None:
    with pytest.raises(ValidationError, match="not an amount"):
        economy.parse_amount("all", allow_all=False)


def test_currency_formats_with_thousands_separators() -> None:
    assert economy.Currency("gems", "💎").format(1234567) == "💎 1,234,567"


# -------------------------------------------------------------------------------- accounts


async def test_an_account_opens_with_the_starting_balance_as_a_ledger_row(db: str) -> None:
    view = await economy.get_balance(GUILD, ALICE)
    assert (view.wallet, view.bank, view.net_worth, view.rank) == (100, 0, 100, 1)
    rows = await EconomyTransaction.filter(guild_id=GUILD, user_id=ALICE)
    assert [(r.type, r.amount) for r in rows] == [(TransactionType.STARTING_BALANCE, 100)]
    await assert_books_balance()


async def test_opening_an_account_concurrently_pays_the_starting_balance_once(db: str) -> None:
    await asyncio.gather(*(economy.get_balance(GUILD, BOB) for _ in range(20)))
    assert await EconomyTransaction.filter(guild_id=GUILD, user_id=BOB).count() == 1
    assert await wallet_of(BOB) == (100, 0)


async def test_starting_balance_follows_the_settings(db: str) -> None:
    await set_settings(starting_balance=0)
    view = await economy.get_balance(GUILD, ALICE)
    assert view.wallet == 0
    assert await EconomyTransaction.filter(guild_id=GUILD).count() == 0


async def test_rank_counts_richer_members(db: str) -> None:
    await economy.admin_adjust(GUILD, STAFF, BOB, 500, take=False)
    await economy.get_balance(GUILD, CAROL)
    assert (await economy.get_balance(GUILD, BOB)).rank == 1
    assert (await economy.get_balance(GUILD, ALICE)).rank == 2


# -------------------------------------------------------------------------------- bank


async def test_deposit_and_withdraw_move_money_and_keep_net_worth(db: str) -> None:
    result = await economy.deposit(GUILD, ALICE, 60)
    assert (result.amount, result.wallet, result.bank) == (60, 40, 60)
    result = await economy.withdraw(GUILD, ALICE, 10)
    assert (result.wallet, result.bank) == (50, 50)
    assert await wallet_of(ALICE) == (50, 50)
    await assert_books_balance()


async def test_deposit_all_and_withdraw_all(db: str) -> None:
    assert (await economy.deposit(GUILD, ALICE, ALL)).amount == 100
    assert await wallet_of(ALICE) == (0, 100)
    assert (await economy.withdraw(GUILD, ALICE, ALL)).amount == 100
    assert await wallet_of(ALICE) == (100, 0)
    await assert_books_balance()


async def test_deposit_more_than_the_wallet_changes_nothing(db: str) -> None:
    with pytest.raises(InsufficientFunds, match="only 🪙 100 in your wallet"):
        await economy.deposit(GUILD, ALICE, 101)
    with pytest.raises(InsufficientFunds, match="in your bank"):
        await economy.withdraw(GUILD, ALICE, 1)
    assert await wallet_of(ALICE) == (100, 0)
    assert await EconomyTransaction.filter(guild_id=GUILD).count() == 1


async def test_deposit_all_of_an_empty_wallet_is_refused(db: str) -> None:
    await economy.deposit(GUILD, ALICE, ALL)
    with pytest.raises(ValidationError, match="empty"):
        await economy.deposit(GUILD, ALICE, ALL)


# -------------------------------------------------------------------------------- pay


async def test_pay_moves_money_and_links_both_halves(db: str) -> None:
    result = await economy.pay(GUILD, ALICE, BOB, 30)
    assert (result.amount, result.sender_wallet) == (30, 70)
    assert await wallet_of(ALICE) == (70, 0)
    assert await wallet_of(BOB) == (130, 0)
    sent = await EconomyTransaction.get(id=result.transaction_id)
    received = await EconomyTransaction.get(id=sent.related_transaction_id)  # type: ignore[attr-defined]
    assert (sent.amount, received.amount) == (-30, 30)
    assert received.related_transaction_id == sent.id  # type: ignore[attr-defined]
    assert sent.related_user_id == BOB and received.related_user_id == ALICE  # type: ignore[attr-defined]
    await assert_books_balance()


async def test_pay_all_empties_the_wallet(db: str) -> None:
    await economy.pay(GUILD, ALICE, BOB, ALL)
    assert await wallet_of(ALICE) == (0, 0)
    with pytest.raises(InsufficientFunds, match="empty"):
        await economy.pay(GUILD, ALICE, BOB, ALL)


async def test_pay_refuses_self_bots_and_overdrafts_without_changing_anything(db: str) -> None:
    with pytest.raises(ValidationError, match="yourself"):
        await economy.pay(GUILD, ALICE, ALICE, 10)
    with pytest.raises(ValidationError, match="Bots"):
        await economy.pay(GUILD, ALICE, BOB, 10, recipient_is_bot=True)
    with pytest.raises(InsufficientFunds, match="don't have 🪙 101"):
        await economy.pay(GUILD, ALICE, BOB, 101)
    assert await wallet_of(ALICE) == (100, 0)
    assert await wallet_of(BOB) == (100, 0)
    await assert_books_balance()


async def test_the_same_request_pays_once(db: str) -> None:
    await economy.pay(GUILD, ALICE, BOB, 10, idempotency_key="interaction:1")
    with pytest.raises(AlreadyProcessed):
        await economy.pay(GUILD, ALICE, BOB, 10, idempotency_key="interaction:1")
    assert await wallet_of(BOB) == (110, 0)


async def test_the_same_request_racing_itself_pays_once(db: str) -> None:
    results = await asyncio.gather(
        *(economy.pay(GUILD, ALICE, BOB, 10, idempotency_key="interaction:2") for _ in range(10)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, AlreadyProcessed) for r in results if isinstance(r, Exception))
    assert await wallet_of(BOB) == (110, 0)
    await assert_books_balance()


async def test_credit_beyond_the_limit_is_refused(db: str) -> None:
    await economy.admin_adjust(GUILD, STAFF, BOB, MAX_BALANCE - 100, take=False)
    with pytest.raises(ValidationError, match="over the limit"):
        await economy.pay(GUILD, ALICE, BOB, 1)
    assert await wallet_of(ALICE) == (100, 0)
    await assert_books_balance()


# -------------------------------------------------------------------------------- daily


async def test_daily_once_per_day_with_streaks(db: str) -> None:
    first = await economy.claim_daily(GUILD, ALICE, now=NOW)
    assert (first.amount, first.bonus, first.streak) == (250, 0, 1)
    assert first.next_at == datetime(2026, 3, 3, tzinfo=UTC)
    with pytest.raises(CooldownActive, match="already claimed") as refused:
        await economy.claim_daily(GUILD, ALICE, now=NOW + timedelta(hours=11))
    # Plain words from the service; the moment itself travels as retry_at.
    assert "The next one is ready in 1h." in str(refused.value)
    assert refused.value.retry_at == first.next_at.timestamp()
    second = await economy.claim_daily(GUILD, ALICE, now=NOW + timedelta(hours=13))
    assert (second.amount, second.bonus, second.streak) == (275, 25, 2)
    third = await economy.claim_daily(GUILD, ALICE, now=NOW + timedelta(days=2))
    assert third.streak == 3 and third.bonus == 50
    # Missing a day starts the streak again; the best streak is remembered.
    again = await economy.claim_daily(GUILD, ALICE, now=NOW + timedelta(days=4))
    assert (again.streak, again.amount) == (1, 250)
    row = await EconomyBalance.get(guild_id=GUILD, user_id=ALICE)
    assert (row.daily_streak, row.best_daily_streak) == (1, 3)
    assert row.wallet == 100 + 250 + 275 + 300 + 250
    assert row.total_earned == 250 + 275 + 300 + 250
    await assert_books_balance()


async def test_daily_streak_bonus_is_capped(db: str) -> None:
    await set_settings(daily_streak_max_days=2, daily_streak_bonus=10, daily_amount=100)
    amounts = [
        (await economy.claim_daily(GUILD, ALICE, now=NOW + timedelta(days=d))).amount
        for d in range(5)
    ]
    assert amounts == [100, 110, 120, 120, 120]


async def test_daily_spam_pays_once(db: str) -> None:
    results = await asyncio.gather(
        *(economy.claim_daily(GUILD, ALICE, now=NOW) for _ in range(25)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, CooldownActive) for r in results if isinstance(r, Exception))
    assert await EconomyTransaction.filter(type=TransactionType.DAILY).count() == 1
    await assert_books_balance()


# -------------------------------------------------------------------------------- work


async def test_work_pays_within_the_range_then_cools_down(db: str) -> None:
    await set_settings(work_min=10, work_max=20, work_cooldown_seconds=3600)
    result = await economy.work(GUILD, ALICE, now=NOW, rng=FixedRng(17))
    assert result.amount == 17 and result.next_at == NOW + timedelta(hours=1)
    with pytest.raises(CooldownActive, match="work again in 1m") as refused:
        await economy.work(GUILD, ALICE, now=NOW + timedelta(minutes=59), rng=FixedRng(10))
    assert refused.value.retry_at == (NOW + timedelta(hours=1)).timestamp()
    later = await economy.work(GUILD, ALICE, now=NOW + timedelta(hours=1), rng=FixedRng(20))
    assert later.amount == 20
    assert await wallet_of(ALICE) == (137, 0)
    await assert_books_balance()


async def test_work_spam_pays_once(db: str) -> None:
    results = await asyncio.gather(
        *(economy.work(GUILD, ALICE, now=NOW, rng=random.Random(i)) for i in range(15)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert await EconomyTransaction.filter(type=TransactionType.WORK).count() == 1
    assert await EconomyCooldown.filter(command="work").count() == 1
    await assert_books_balance()


# -------------------------------------------------------------------------------- rob


async def _rich_victim(amount: int = 1000) -> None:
    await economy.admin_adjust(GUILD, STAFF, BOB, amount, take=False)


async def test_successful_rob_takes_a_share_of_the_victims_wallet(db: str) -> None:
    await _rich_victim()  # bob: 1,100
    # randrange → 0 (< 40 % success), randint → 20 % share
    result = await economy.rob(GUILD, ALICE, BOB, now=NOW, rng=FixedRng(0, 20))
    assert result.success and result.amount == 220
    assert await wallet_of(ALICE) == (320, 0)
    assert await wallet_of(BOB) == (880, 0)
    await assert_books_balance()


async def test_failed_rob_fines_the_robber_in_favour_of_the_victim(db: str) -> None:
    await _rich_victim()
    result = await economy.rob(GUILD, ALICE, BOB, now=NOW, rng=FixedRng(99, 20))
    assert not result.success and result.amount == 10  # 10 % of alice's 100
    assert await wallet_of(ALICE) == (90, 0)
    assert await wallet_of(BOB) == (1110, 0)
    fine = await EconomyTransaction.get(guild_id=GUILD, user_id=ALICE, type=TransactionType.FINE)
    assert fine.amount == -10
    await assert_books_balance()


async def test_rob_has_a_cooldown(db: str) -> None:
    await _rich_victim()
    await economy.rob(GUILD, ALICE, BOB, now=NOW, rng=FixedRng(99, 20))
    with pytest.raises(CooldownActive, match="rob again"):
        await economy.rob(GUILD, ALICE, BOB, now=NOW + timedelta(minutes=5), rng=FixedRng(0, 20))
    await economy.rob(GUILD, ALICE, BOB, now=NOW + timedelta(hours=2), rng=FixedRng(0, 20))


async def test_rob_refusals(db: str) -> None:
    with pytest.raises(ValidationError, match="yourself"):
        await economy.rob(GUILD, ALICE, ALICE, now=NOW, rng=FixedRng(0, 20))
    with pytest.raises(ValidationError, match="Bots"):
        await economy.rob(GUILD, ALICE, BOB, victim_is_bot=True, now=NOW, rng=FixedRng(0, 20))
    with pytest.raises(ValidationError, match="not worth the risk"):
        await economy.rob(GUILD, ALICE, BOB, now=NOW, rng=FixedRng(0, 20))
    # A refused robbery does not start the cooldown.
    assert not await EconomyCooldown.filter(command="rob").exists()
    await set_settings(rob_enabled=False)
    with pytest.raises(PermissionDenied, match="turned off"):
        await economy.rob(GUILD, ALICE, BOB, now=NOW, rng=FixedRng(0, 20))
    await assert_books_balance()


async def test_reversing_a_robbery_undoes_both_halves(db: str) -> None:
    await _rich_victim()  # bob: 1,100
    robbed = await economy.rob(GUILD, ALICE, BOB, now=NOW, rng=FixedRng(0, 20))
    assert robbed.success and robbed.amount == 220
    gain = await EconomyTransaction.get(guild_id=GUILD, user_id=ALICE, type=TransactionType.ROB)
    loss = await EconomyTransaction.get(guild_id=GUILD, user_id=BOB, type=TransactionType.ROB)
    assert gain.related_transaction_id == loss.id  # type: ignore[attr-defined]
    assert loss.related_transaction_id == gain.id  # type: ignore[attr-defined]
    # Reversed from either half, both members are back where they were, once.
    result = await economy.reverse_transaction(GUILD, STAFF, loss.id.hex)
    assert set(result.original_ids) == {gain.id, loss.id} and len(result.reversal_ids) == 2
    assert await wallet_of(ALICE) == (100, 0) and await wallet_of(BOB) == (1100, 0)
    with pytest.raises(ConflictError, match="already reversed"):
        await economy.reverse_transaction(GUILD, STAFF, gain.id.hex)
    await assert_books_balance()


async def test_reversing_a_fine_undoes_both_halves(db: str) -> None:
    await _rich_victim()
    await economy.rob(GUILD, ALICE, BOB, now=NOW, rng=FixedRng(99, 20))  # caught: fine of 10
    fine = await EconomyTransaction.get(guild_id=GUILD, user_id=ALICE, type=TransactionType.FINE)
    result = await economy.reverse_transaction(GUILD, STAFF, fine.id.hex[:8])
    assert len(result.reversal_ids) == 2
    assert await wallet_of(ALICE) == (100, 0) and await wallet_of(BOB) == (1100, 0)
    await assert_books_balance()


# -------------------------------------------------------------------------------- admin


async def test_admin_give_and_take_are_recorded_with_the_reason(db: str) -> None:
    given = await economy.admin_adjust(GUILD, STAFF, ALICE, 400, take=False, reason="event prize")
    assert given.wallet == 500
    taken = await economy.admin_adjust(GUILD, STAFF, ALICE, 150, take=True)
    assert taken.wallet == 350
    row = await EconomyTransaction.get(id=given.transaction_id)
    assert row.type == TransactionType.ADMIN and "event prize" in row.description
    assert row.metadata["actor_id"] == STAFF
    with pytest.raises(InsufficientFunds):
        await economy.admin_adjust(GUILD, STAFF, ALICE, 351, take=True)
    for bad in (0, -5, MAX_BALANCE + 1):
        with pytest.raises(ValidationError):
            await economy.admin_adjust(GUILD, STAFF, ALICE, bad, take=False)
    assert await wallet_of(ALICE) == (350, 0)
    await assert_books_balance()


async def test_reset_returns_to_a_fresh_account(db: str) -> None:
    await economy.deposit(GUILD, ALICE, 50)
    await economy.claim_daily(GUILD, ALICE, now=NOW)
    await economy.work(GUILD, ALICE, now=NOW, rng=FixedRng(100))
    result = await economy.reset_account(GUILD, STAFF, ALICE)
    assert (result.wallet, result.bank) == (100, 0)
    row = await EconomyBalance.get(guild_id=GUILD, user_id=ALICE)
    assert (row.wallet, row.bank, row.net_worth, row.daily_streak) == (100, 0, 100, 0)
    assert not await EconomyCooldown.filter(user_id=ALICE).exists()
    # The day's daily stays claimable again only because the reset cleared it; the ledger keeps
    # the history.
    assert await EconomyTransaction.filter(user_id=ALICE, type=TransactionType.RESET).count() == 1
    await assert_books_balance()


async def test_reverse_a_transfer_undoes_both_halves_once(db: str) -> None:
    paid = await economy.pay(GUILD, ALICE, BOB, 40)
    result = await economy.reverse_transaction(GUILD, STAFF, paid.transaction_id.hex[:8])
    assert len(result.reversal_ids) == 2
    assert await wallet_of(ALICE) == (100, 0)
    assert await wallet_of(BOB) == (100, 0)
    with pytest.raises(ConflictError, match="already reversed"):
        await economy.reverse_transaction(GUILD, STAFF, str(paid.transaction_id))
    # From the other half too.
    other = await EconomyTransaction.get(id=paid.transaction_id)
    with pytest.raises(ConflictError, match="already reversed"):
        await economy.reverse_transaction(
            GUILD, STAFF, other.related_transaction_id.hex  # type: ignore[attr-defined]
        )
    reversal = await EconomyTransaction.get(id=result.reversal_ids[0])
    with pytest.raises(ValidationError, match="can't be reversed"):
        await economy.reverse_transaction(GUILD, STAFF, reversal.id.hex)
    await assert_books_balance()


async def test_reverse_fails_cleanly_when_the_money_is_gone(db: str) -> None:
    paid = await economy.pay(GUILD, ALICE, BOB, 40)
    await economy.pay(GUILD, BOB, CAROL, 140)
    with pytest.raises(InsufficientFunds):
        await economy.reverse_transaction(GUILD, STAFF, paid.transaction_id.hex)
    assert await wallet_of(BOB) == (0, 0)
    assert await EconomyTransaction.filter(type=TransactionType.REVERSAL).count() == 0
    await assert_books_balance()


async def test_reverse_lookup_errors(db: str) -> None:
    await economy.get_balance(GUILD, ALICE)
    with pytest.raises(ValidationError, match="at least its first 8"):
        await economy.reverse_transaction(GUILD, STAFF, "abc")
    with pytest.raises(NotFoundError):
        await economy.reverse_transaction(GUILD, STAFF, "00000000")


async def test_transactions_are_listed_newest_first_in_pages(db: str) -> None:
    for day in range(12):
        await economy.claim_daily(GUILD, ALICE, now=NOW + timedelta(days=day))
    first = await economy.list_transactions(GUILD, ALICE, 1)
    assert (first.total, first.pages, len(first.rows)) == (13, 2, 10)
    second = await economy.list_transactions(GUILD, ALICE, 2)
    assert len(second.rows) == 3
    assert second.rows[-1].type == TransactionType.STARTING_BALANCE
    assert (await economy.list_transactions(GUILD, ALICE, 99)).page == 2
    with pytest.raises(ValidationError):
        await economy.list_transactions(GUILD, ALICE, 0)


# -------------------------------------------------------------------------------- settings


async def test_settings_are_validated_and_stored(db: str) -> None:
    settings = await economy.update_settings(
        GUILD, currency_name="gems", currency_symbol="💎", min_bet=5, max_bet=500
    )
    assert (settings.currency_name, settings.min_bet, settings.max_bet) == ("gems", 5, 500)
    for bad in ({"work_min": 500, "work_max": 100}, {"min_bet": 1000},
                {"rob_success_percent": 101}, {"currency_name": "  "},
                {"daily_amount": -1}, {"work_cooldown_seconds": 10**9}, {"nonsense": 1}):
        with pytest.raises(ValidationError):
            await economy.update_settings(GUILD, **bad)
    with pytest.raises(ValidationError, match="at least one"):
        await economy.update_settings(GUILD)
    stored = await EconomySettings.get(guild_id=GUILD)
    assert (stored.currency_symbol, stored.work_min, stored.min_bet) == ("💎", 50, 5)
    with pytest.raises(InsufficientFunds, match="💎 100"):
        await economy.deposit(GUILD, ALICE, 1000)


async def test_reversals_move_the_lifetime_totals_back(db: str) -> None:
    async def totals(user_id: int) -> tuple[int, int, int]:
        row = await EconomyBalance.get(guild_id=GUILD, user_id=user_id)
        return row.total_earned, row.total_spent, row.total_gambled

    worked = await economy.work(GUILD, ALICE, now=NOW, rng=FixedRng(120))
    assert await totals(ALICE) == (120, 0, 0)
    await economy.reverse_transaction(
        GUILD, STAFF,
        (await EconomyTransaction.get(user_id=ALICE, type=TransactionType.WORK)).id.hex,
    )
    assert worked.amount == 120 and await totals(ALICE) == (0, 0, 0)
    # A won game: the stake counted as gambled, the profit as earned; both go back.
    class Heads(random.Random):
        def choice(self, seq):  # type: ignore[no-untyped-def, override]
            return "heads"

    await economy.coinflip(GUILD, ALICE, 50, "heads", rng=Heads())
    assert await totals(ALICE) == (50, 0, 50)
    game = await EconomyTransaction.get(user_id=ALICE, type=TransactionType.GAMBLE)
    await economy.reverse_transaction(GUILD, STAFF, game.id.hex)
    assert await totals(ALICE) == (0, 0, 0)
    # Totals a reset already zeroed do not go below zero.
    await economy.work(GUILD, ALICE, now=NOW + timedelta(days=1), rng=FixedRng(80))
    await economy.reset_account(GUILD, STAFF, ALICE)
    await economy.admin_adjust(GUILD, STAFF, ALICE, 80, take=False)
    later = await EconomyTransaction.filter(user_id=ALICE, type=TransactionType.WORK).order_by(
        "-created_at").first()
    assert later is not None
    await economy.reverse_transaction(GUILD, STAFF, later.id.hex)
    assert await totals(ALICE) == (0, 0, 0)
    await assert_books_balance()


async def test_rows_without_recorded_totals_are_reversed_by_their_type(db: str) -> None:
    """Ledger rows written before rows recorded their totals: inferred from the type."""
    await economy.work(GUILD, ALICE, now=NOW, rng=FixedRng(70))
    row = await EconomyTransaction.get(user_id=ALICE, type=TransactionType.WORK)
    assert row.metadata["stats"] == {"earned": 70}
    await EconomyTransaction.filter(id=row.id).update(metadata={"job": "x"})
    await economy.reverse_transaction(GUILD, STAFF, row.id.hex)
    assert (await EconomyBalance.get(guild_id=GUILD, user_id=ALICE)).total_earned == 0
    await assert_books_balance()


# -------------------------------------------------------------------------------- plain results


MARKUP = ("<@", "<#", "<t:")


async def test_the_ledger_stores_who_and_what_never_discord_markup(db: str) -> None:
    """An HTTP client reads the same ledger: members are ids, not mentions."""
    await _rich_victim()
    paid = await economy.pay(GUILD, ALICE, BOB, 30)
    await economy.rob(GUILD, ALICE, BOB, now=NOW, rng=FixedRng(0, 20))
    await economy.rob(GUILD, CAROL, BOB, now=NOW, rng=FixedRng(99, 20))
    await economy.admin_adjust(GUILD, STAFF, CAROL, 50, take=True, reason="spam")
    await economy.reverse_transaction(GUILD, STAFF, paid.transaction_id.hex)
    await economy.reset_account(GUILD, STAFF, CAROL)
    rows = await EconomyTransaction.filter(guild_id=GUILD)
    assert {row.type for row in rows} >= {
        TransactionType.TRANSFER, TransactionType.ROB, TransactionType.FINE,
        TransactionType.ADMIN, TransactionType.REVERSAL, TransactionType.RESET,
    }
    for row in rows:
        assert not any(mark in row.description for mark in MARKUP), row.description
    sent = await EconomyTransaction.get(id=paid.transaction_id)
    assert sent.related_user_id == BOB and sent.description == "Paid to another member"  # type: ignore[attr-defined]
    taken = await EconomyTransaction.get(type=TransactionType.ADMIN, user_id=CAROL)
    assert taken.metadata["actor_id"] == STAFF and taken.description == "Taken by staff: spam"
    reset = await EconomyTransaction.get(type=TransactionType.RESET)
    assert reset.metadata["actor_id"] == STAFF


async def test_public_functions_return_plain_values_not_database_rows(db: str) -> None:
    from tortoise.models import Model

    item = await economy.add_item(GUILD, name="Cookie", price=20)
    paid = await economy.pay(GUILD, ALICE, BOB, 5)
    results = [
        item,
        await economy.find_item(GUILD, "cookie"),
        await economy.edit_item(GUILD, "Cookie", price=25),
        *(await economy.list_shop(GUILD)).items,
        await economy.get_settings(GUILD),
        await economy.update_settings(GUILD, actor_id=STAFF, work_max=300),
        await economy.find_transaction(GUILD, paid.transaction_id.hex[:8]),
        *(await economy.list_transactions(GUILD, ALICE)).rows,
    ]
    assert not [r for r in results if isinstance(r, Model)]
    entry = await economy.find_transaction(GUILD, paid.transaction_id.hex)
    assert (entry.user_id, entry.related_user_id, entry.amount) == (ALICE, BOB, -5)
    assert item.price == 20 and (await economy.find_item(GUILD, "cookie")).price == 25


def test_every_public_function_is_annotated_with_a_plain_result() -> None:
    import inspect
    import typing

    from tortoise.models import Model

    for name in economy.__all__:
        value = getattr(economy, name)
        if not inspect.isfunction(value):
            continue
        hints = typing.get_type_hints(value)
        assert "return" in hints, f"{name} has no return annotation"
        shown = repr(hints["return"])
        models = [m.__name__ for m in Model.__subclasses__()]
        assert not any(f"models.{m}" in shown or f".{m}'" in shown for m in models), (
            f"{name} returns a database row: {shown}"
        )
