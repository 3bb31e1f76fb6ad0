"""Members' accounts: balances, the bank, payments between members, the ledger as members and
staff read it, and reversals of ledger rows."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient

from models.economy import EconomyBalance, EconomyTransaction, TransactionType
from pegasus.errors import (
    ConflictError,
    InsufficientFunds,
    NotFoundError,
    ValidationError,
    user_ref,
)
from pegasus.i18n import _
from pegasus.services import directory

from .amounts import ALL, Amount, Currency
from .ledger import (
    AlreadyProcessed,
    LedgerEntry,
    atomic,
    clamp_lifetime_stats,
    ensure_accounts,
    link_halves,
    locked_balance,
    move,
    recorded_stats,
    reversal_key_of,
)
from .settings import get_settings
from .shop import refund_purchase

__all__ = [
    "TRANSACTIONS_PER_PAGE",
    "AccountSummary",
    "BalanceView",
    "BankResult",
    "LedgerPage",
    "PayResult",
    "ReversalResult",
    "deposit",
    "find_balance",
    "find_transaction",
    "get_balance",
    "list_transactions",
    "pay",
    "reverse_transaction",
    "total_money",
    "withdraw",
]

TRANSACTIONS_PER_PAGE = 10


@dataclass(frozen=True, slots=True)
class BalanceView:
    user_id: int
    wallet: int
    bank: int
    net_worth: int
    rank: int
    daily_streak: int
    currency: Currency


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One member's account as a list of balances shows it."""

    user_id: int
    wallet: int
    bank: int
    net_worth: int
    daily_streak: int

    @classmethod
    def from_row(cls, row: EconomyBalance) -> AccountSummary:
        return cls(
            user_id=row.user_id,  # type: ignore[attr-defined]
            wallet=row.wallet,
            bank=row.bank,
            net_worth=row.net_worth,
            daily_streak=row.daily_streak,
        )


async def get_balance(guild_id: int, user_id: int) -> BalanceView:
    """The member's balance, opening their account (with the starting balance) if needed."""
    settings = await ensure_accounts(guild_id, [user_id])
    row = await EconomyBalance.get(guild_id=guild_id, user_id=user_id)
    return await _view(row, settings.currency)


async def find_balance(guild_id: int, user_id: int) -> BalanceView:
    """The member's balance if they have an account; reading it never opens one."""
    row = await EconomyBalance.get_or_none(guild_id=guild_id, user_id=user_id)
    if row is None:
        raise NotFoundError(
            _("{member} has no economy account in this server yet."), member=user_ref(user_id)
        )
    settings = await get_settings(guild_id)
    return await _view(row, settings.currency)


async def _view(row: EconomyBalance, currency: Currency) -> BalanceView:
    user_id: int = row.user_id  # type: ignore[attr-defined]
    guild_id: int = row.guild_id  # type: ignore[attr-defined]
    above = await EconomyBalance.filter(guild_id=guild_id, net_worth__gt=row.net_worth).count()
    return BalanceView(
        user_id=user_id,
        wallet=row.wallet,
        bank=row.bank,
        net_worth=row.net_worth,
        rank=above + 1,
        daily_streak=row.daily_streak,
        currency=currency,
    )


async def total_money(guild_id: int) -> tuple[int, int]:
    """(sum of wallets and banks, sum of the ledger) for a guild: equal unless something is
    badly wrong. Used by tests and the admin settings view."""
    balances = await EconomyBalance.filter(guild_id=guild_id).values_list("wallet", "bank")
    ledger = await EconomyTransaction.filter(guild_id=guild_id).values_list(
        "amount", "bank_amount"
    )
    return sum(w + b for w, b in balances), sum(a + b for a, b in ledger)


# --------------------------------------------------------------------------------------------
# Bank
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BankResult:
    amount: int
    wallet: int
    bank: int
    currency: Currency
    transaction_id: uuid.UUID


async def deposit(
    guild_id: int, user_id: int, amount: Amount, *, idempotency_key: str | None = None
) -> BankResult:
    """Move `amount` (or all) from the wallet to the bank."""
    return await _bank_move(guild_id, user_id, amount, to_bank=True, key=idempotency_key)


async def withdraw(
    guild_id: int, user_id: int, amount: Amount, *, idempotency_key: str | None = None
) -> BankResult:
    """Move `amount` (or all) from the bank to the wallet."""
    return await _bank_move(guild_id, user_id, amount, to_bank=False, key=idempotency_key)


async def _bank_move(
    guild_id: int, user_id: int, amount: Amount, *, to_bank: bool, key: str | None
) -> BankResult:
    settings = await ensure_accounts(guild_id, [user_id])
    currency = settings.currency

    async def work(conn: BaseDBAsyncClient) -> BankResult:
        row = await locked_balance(conn, guild_id, user_id)
        available = row.wallet if to_bank else row.bank
        value = available if amount == ALL else amount
        if value <= 0:
            raise ValidationError(
                _("Your wallet is empty: there is nothing to move.") if to_bank
                else _("Your bank is empty: there is nothing to move.")
            )
        if value > available:
            raise InsufficientFunds(
                (
                    _("You have only {amount} in your wallet.") if to_bank
                    else _("You have only {amount} in your bank.")
                ).format(amount=currency.format(available))
            )
        delta = value if to_bank else -value
        entry = await move(
            conn, guild_id=guild_id, user_id=user_id,
            type=TransactionType.DEPOSIT if to_bank else TransactionType.WITHDRAW,
            wallet=-delta, bank=delta, currency=currency,
            description="Deposit to the bank" if to_bank else "Withdrawal from the bank",
            idempotency_key=key,
        )
        return BankResult(value, row.wallet - delta, row.bank + delta, currency, entry.id)

    return await atomic(work, idempotency_key=key)


# --------------------------------------------------------------------------------------------
# Transfers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayResult:
    amount: int
    sender_wallet: int
    currency: Currency
    transaction_id: uuid.UUID


async def pay(
    guild_id: int,
    sender_id: int,
    recipient_id: int,
    amount: Amount,
    *,
    recipient_is_bot: bool = False,
    idempotency_key: str | None = None,
) -> PayResult:
    """Give `amount` (or the whole wallet) from the sender's wallet to the recipient's wallet.

    Each half of the ledger names the other member in `related_user_id`."""
    if sender_id == recipient_id:
        raise ValidationError(_("You can't pay yourself."))
    if recipient_is_bot:
        raise ValidationError(_("Bots have no wallet: pay a person instead."))
    settings = await ensure_accounts(guild_id, [sender_id, recipient_id])
    currency = settings.currency

    async def work(conn: BaseDBAsyncClient) -> PayResult:
        value = amount
        if value == ALL:
            value = (await locked_balance(conn, guild_id, sender_id)).wallet
            if value <= 0:
                raise InsufficientFunds(_("Your wallet is empty."))
        legs: dict[int, LedgerEntry] = {}
        # Lower user id first, so two opposite payments lock the same rows in the same order.
        for user_id in sorted((sender_id, recipient_id)):
            sending = user_id == sender_id
            legs[user_id] = await move(
                conn, guild_id=guild_id, user_id=user_id, type=TransactionType.TRANSFER,
                wallet=-value if sending else value, currency=currency,
                description="Paid to another member" if sending
                else "Received from another member",
                related_user_id=recipient_id if sending else sender_id,
                idempotency_key=idempotency_key if sending else None,
                short_message=None if not sending
                else _("You don't have {amount} in your wallet.").format(
                    amount=currency.format(value)
                ),
            )
        sent, received = legs[sender_id], legs[recipient_id]
        await link_halves(conn, sent.id, received.id)
        wallet = (
            await EconomyBalance.filter(guild_id=guild_id, user_id=sender_id)
            .using_db(conn).values_list("wallet", flat=True)
        )[0]
        return PayResult(value, wallet, currency, sent.id)

    return await atomic(work, idempotency_key=idempotency_key)


# --------------------------------------------------------------------------------------------
# Reading the ledger
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerPage:
    rows: list[LedgerEntry]
    page: int
    pages: int
    total: int
    currency: Currency


async def list_transactions(
    guild_id: int, user_id: int, page: int = 1, *, per_page: int = TRANSACTIONS_PER_PAGE
) -> LedgerPage:
    """A member's ledger rows, newest first."""
    settings = await get_settings(guild_id)
    query = EconomyTransaction.filter(guild_id=guild_id, user_id=user_id)
    total = await query.count()
    pages = max(1, -(-total // per_page))
    if page < 1:
        raise ValidationError(_("Pages start at 1."))
    page = min(page, pages)
    rows = await query.order_by("-created_at", "-id").offset((page - 1) * per_page).limit(per_page)
    return LedgerPage([LedgerEntry.from_row(r) for r in rows], page, pages, total,
                      settings.currency)


async def find_transaction(guild_id: int, reference: str) -> LedgerEntry:
    """A ledger row by its id or by the first 8+ characters shown in /transactions."""
    cleaned = reference.strip().lower().replace("-", "")
    if not re.fullmatch(r"[0-9a-f]{8,32}", cleaned):
        raise ValidationError(
            _("Give the transaction id shown by /transactions (at least its first 8 characters).")
        )
    if len(cleaned) == 32:
        row = await EconomyTransaction.get_or_none(id=uuid.UUID(cleaned), guild_id=guild_id)
        if row is None:
            raise NotFoundError(
                _("No transaction `{reference}` in this server.").format(
                    reference=reference.strip()
                )
            )
        return LedgerEntry.from_row(row)
    # A prefix of the hex form: UUIDs are stored as text on SQLite and uuid on PostgreSQL, so
    # compare on a range of ids instead of a string prefix.
    low = uuid.UUID(cleaned.ljust(32, "0"))
    high = uuid.UUID(cleaned.ljust(32, "f"))
    rows = await EconomyTransaction.filter(guild_id=guild_id).filter(
        id__gte=low, id__lte=high
    ).limit(2)
    rows = [r for r in rows if r.id.hex.startswith(cleaned)]
    if not rows:
        raise NotFoundError(
            _("No transaction `{reference}` in this server.").format(reference=reference.strip())
        )
    if len(rows) > 1:
        raise ValidationError(_("Several transactions start like that: give more characters."))
    return LedgerEntry.from_row(rows[0])


# --------------------------------------------------------------------------------------------
# Reversals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReversalResult:
    original_ids: tuple[uuid.UUID, ...]
    reversal_ids: tuple[uuid.UUID, ...]
    currency: Currency


async def reverse_transaction(
    guild_id: int, actor_id: int, reference: str, *, idempotency_key: str | None = None
) -> ReversalResult:
    """Undo a ledger row (both halves of a transfer, robbery or fine) with `reversal` rows.

    Each original can be reversed once (the reversal's key is derived from it). The members'
    lifetime totals (earned, spent, gambled) move back by what the original added, never below
    zero. A purchase is undone whole by refund_purchase (items back to the shop). Per-game
    statistics are a record of games played and are left as they are. Fails without changing
    anything when the member no longer holds the money (or the items) to give back.
    """
    original = await find_transaction(guild_id, reference)
    if original.type in (TransactionType.REVERSAL, TransactionType.RESET):
        raise ValidationError(
            _("A `{kind}` transaction can't be reversed.").format(kind=original.type)
        )
    if original.type == TransactionType.SHOP_BUY:
        # A purchase is undone whole: the money back and the items back to the shop.
        refund = await refund_purchase(
            guild_id, original.id, reason="reversed by staff", actor_id=actor_id
        )
        return ReversalResult((original.id,), (refund.transaction_id,), refund.currency)
    originals = [original]
    partner = await _partner_of(original)
    if partner is not None:
        originals.append(partner)
    settings = await get_settings(guild_id)
    currency = settings.currency
    await directory.ensure_user(actor_id)
    reversal_key = reversal_key_of(original.id)

    async def run(conn: BaseDBAsyncClient) -> ReversalResult:
        made: list[LedgerEntry] = []
        for row in sorted(originals, key=lambda r: r.user_id):
            # The lifetime totals move back too: a reversed payout was never earned.
            stats = recorded_stats(row)
            made.append(await move(
                conn, guild_id=guild_id, user_id=row.user_id,
                type=TransactionType.REVERSAL, wallet=-row.amount, bank=-row.bank_amount,
                currency=currency,
                description=f"Reversal of {row.id.hex[:8]} by staff",
                metadata={"actor_id": actor_id, "original_type": str(row.type)},
                related_user_id=actor_id,
                related_transaction_id=row.id,
                idempotency_key=reversal_key_of(row.id),
                earned=-stats["earned"], spent=-stats["spent"], gambled=-stats["gambled"],
            ))
            await clamp_lifetime_stats(conn, guild_id, row.user_id)
        if idempotency_key:
            # Record the caller's key too, so a re-delivered command is recognised as such.
            await EconomyTransaction.filter(id=made[0].id).using_db(conn).update(
                metadata={**made[0].metadata, "request": idempotency_key}
            )
        return ReversalResult(
            tuple(r.id for r in originals), tuple(r.id for r in made), currency
        )

    try:
        return await atomic(run, idempotency_key=reversal_key)
    except AlreadyProcessed:
        raise ConflictError(
            _("Transaction `{id}` was already reversed.").format(id=original.id.hex[:8])
        ) from None


async def _partner_of(entry: LedgerEntry) -> LedgerEntry | None:
    if entry.related_transaction_id is not None:
        partner = await EconomyTransaction.get_or_none(id=entry.related_transaction_id)
        if partner is not None and partner.related_transaction_id == entry.id:  # type: ignore[attr-defined]
            return LedgerEntry.from_row(partner)
    return None


# What staff did to an account, or undid: the ledger rows a member page points out.
FLAGGED_TYPES = (TransactionType.ADMIN, TransactionType.RESET, TransactionType.REVERSAL)


async def flagged_transactions(
    guild_id: int, user_id: int, *, limit: int = 50
) -> list[LedgerEntry]:
    """The member's ledger rows made or undone by staff (adjustments, resets, reversals),
    newest first."""
    rows = await (
        EconomyTransaction.filter(guild_id=guild_id, user_id=user_id, type__in=FLAGGED_TYPES)
        .order_by("-created_at", "-id")
        .limit(limit)
    )
    return [LedgerEntry.from_row(row) for row in rows]
