"""What staff do to members' money: give, take, and reset an account.

Each change names the staff member in the ledger row's metadata (`actor_id`) with the reason,
so the history says who did it and why.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient

from models.economy import (
    EconomyBalance,
    EconomyCooldown,
    EconomyGamblingStats,
    EconomyTransaction,
    EconomyUserItem,
    TransactionType,
)
from models.guilds import User
from pegasus.errors import ConflictError, ValidationError
from pegasus.i18n import _
from pegasus.services import directory

from .amounts import Currency, validate_amount
from .ledger import atomic, ensure_accounts, locked_balance, move

__all__ = ["AdminResult", "admin_adjust", "reset_account"]


@dataclass(frozen=True, slots=True)
class AdminResult:
    amount: int
    wallet: int
    bank: int
    currency: Currency
    transaction_id: uuid.UUID


async def admin_adjust(
    guild_id: int,
    actor_id: int,
    user_id: int,
    amount: int,
    *,
    take: bool,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> AdminResult:
    """Give (create) or take (destroy) money in a member's wallet, recorded with the staff
    member and the reason."""
    validate_amount(amount)
    await _refuse_known_bot(user_id)
    settings = await ensure_accounts(guild_id, [user_id])
    currency = settings.currency
    reason = (reason or "").strip()
    description = ("Taken by staff" if take else "Given by staff") + (
        f": {reason}" if reason else ""
    )

    async def run(conn: BaseDBAsyncClient) -> AdminResult:
        entry = await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.ADMIN,
            wallet=-amount if take else amount, currency=currency, description=description,
            metadata={"actor_id": actor_id, "reason": reason},
            related_user_id=actor_id if actor_id != user_id else None,
            idempotency_key=idempotency_key,
        )
        row = await EconomyBalance.get(guild_id=guild_id, user_id=user_id).using_db(conn)
        return AdminResult(amount, row.wallet, row.bank, currency, entry.id)

    await directory.ensure_user(actor_id)
    return await atomic(run, idempotency_key=idempotency_key)


async def _refuse_known_bot(user_id: int) -> None:
    """Bots take no part in the economy. A command sees the member; an adapter that has only an
    id relies on what the bot has recorded about that user."""
    if await User.exists(id=user_id, is_bot=True):
        raise ValidationError(_("Bots have no wallet."))


async def reset_account(
    guild_id: int, actor_id: int, user_id: int, *, idempotency_key: str | None = None
) -> AdminResult:
    """Back to a fresh account: the starting balance in the wallet, an empty bank, no items,
    streaks, cooldowns or game stats. The ledger keeps the history (one `reset` row)."""
    settings = await ensure_accounts(guild_id, [user_id])
    currency = settings.currency
    await directory.ensure_user(actor_id)

    async def run(conn: BaseDBAsyncClient) -> AdminResult:
        row = await locked_balance(conn, guild_id, user_id)
        start = settings.starting_balance
        wallet_delta, bank_delta = start - row.wallet, -row.bank
        # Compare-and-set on the values just read: a concurrent change makes this match nothing.
        updated = await EconomyBalance.filter(
            id=row.id, wallet=row.wallet, bank=row.bank
        ).using_db(conn).update(
            wallet=start, bank=0, net_worth=start, daily_streak=0, best_daily_streak=0,
            last_daily_day=None, total_earned=0, total_spent=0, total_gambled=0,
        )
        if updated != 1:
            raise ConflictError(
                _("The balance changed at the same moment; please try again.")
            )
        tx = await EconomyTransaction.create(
            guild_id=guild_id, user_id=user_id, type=TransactionType.RESET,
            amount=wallet_delta, bank_amount=bank_delta,
            description="Account reset by staff",
            metadata={"actor_id": actor_id, "wallet_before": row.wallet, "bank_before": row.bank},
            related_user_id=actor_id if actor_id != user_id else None,
            idempotency_key=idempotency_key, using_db=conn,
        )
        for model in (EconomyCooldown, EconomyUserItem, EconomyGamblingStats):
            await model.filter(guild_id=guild_id, user_id=user_id).using_db(conn).delete()
        return AdminResult(start, start, 0, currency, tx.id)

    return await atomic(run, idempotency_key=idempotency_key)
