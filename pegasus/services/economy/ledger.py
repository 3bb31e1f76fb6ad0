"""The ledger engine: the one way a balance changes, and the transactions around it.

Every balance change happens inside `atomic()` together with an `economy_transactions` row
carrying the same deltas, so each wallet and bank always equals the sum of its own ledger rows.
Debits are guarded conditional UPDATEs (`... WHERE wallet >= n`), never read-check-write; when a
transaction touches several balances it updates them in ascending user id order (then
cooldowns, shop items, inventories, stats, games), which keeps PostgreSQL from deadlocking, and
`atomic()` retries the rare deadlock or serialization failure that remains. An idempotency key
(for instance the interaction id and a purpose) is stored unique on the operation's ledger row,
so a request that arrives twice moves money once and the second one gets `AlreadyProcessed`.

Ledger rows store who and what (the member, the counterparty in `related_user_id`, the staff
member in `metadata["actor_id"]`, a plain description); adapters render mentions from them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.economy import (
    EconomyBalance,
    EconomyCooldown,
    EconomyTransaction,
    TransactionType,
)
from pegasus.errors import (
    ConflictError,
    CooldownActive,
    InsufficientFunds,
    NotFoundError,
    PegasusError,
    ValidationError,
)
from pegasus.i18n import _
from pegasus.services import directory
from pegasus.services.durations import format_duration

from .amounts import MAX_BALANCE, Currency
from .settings import EconomyConfig, get_settings

__all__ = [
    "DESCRIPTION_LENGTH",
    "STATS_KEY",
    "AlreadyProcessed",
    "Holdings",
    "LedgerEntry",
    "atomic",
    "claim_cooldown",
    "clamp_lifetime_stats",
    "ensure_account",
    "ensure_accounts",
    "link_halves",
    "locked_balance",
    "move",
    "recorded_stats",
    "reversal_key_of",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

DESCRIPTION_LENGTH = 200
STATS_KEY = "stats"
_RETRY_ATTEMPTS = 8


class AlreadyProcessed(ConflictError):
    """The request with this idempotency key was already carried out; nothing changed again."""

    def __init__(self) -> None:
        super().__init__(
            _("That request was already handled: nothing was charged or paid twice.")
        )


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row: the signed wallet and bank deltas of one balance change."""

    id: uuid.UUID
    guild_id: int
    user_id: int
    type: TransactionType
    amount: int  # wallet delta
    bank_amount: int  # bank delta
    description: str
    metadata: dict[str, Any]
    related_user_id: int | None  # the other member of a transfer, robbery or fine
    related_transaction_id: uuid.UUID | None  # the other half, or the original of a reversal
    created_at: datetime | None

    @classmethod
    def from_row(cls, row: EconomyTransaction) -> LedgerEntry:
        return cls(
            id=row.id,
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            user_id=row.user_id,  # type: ignore[attr-defined]
            type=TransactionType(row.type),
            amount=row.amount,
            bank_amount=row.bank_amount,
            description=row.description,
            metadata=dict(row.metadata) if isinstance(row.metadata, dict) else {},
            related_user_id=row.related_user_id,  # type: ignore[attr-defined]
            related_transaction_id=row.related_transaction_id,  # type: ignore[attr-defined]
            created_at=row.created_at,
        )

    @property
    def actor_id(self) -> int | None:
        """The staff member who made or reversed this change, if any."""
        actor = self.metadata.get("actor_id")
        return int(actor) if isinstance(actor, int) else None


@dataclass(frozen=True, slots=True)
class Holdings:
    """A member's wallet and bank as read (and locked) inside a transaction."""

    id: int
    user_id: int
    wallet: int
    bank: int


# --------------------------------------------------------------------------------------------
# Transactions with retries
# --------------------------------------------------------------------------------------------


def _is_retryable(error: BaseException) -> bool:
    """A PostgreSQL deadlock or serialization failure (possibly wrapped by Tortoise)."""
    seen: BaseException | None = error
    while seen is not None:
        code = getattr(seen, "sqlstate", None)
        if code in ("40P01", "40001"):  # deadlock_detected, serialization_failure
            return True
        name = type(seen).__name__
        if name in ("DeadlockDetectedError", "SerializationError"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _key_used(key: str | None) -> bool:
    return key is not None and await EconomyTransaction.filter(idempotency_key=key).exists()


async def atomic(
    work: Callable[[BaseDBAsyncClient], Awaitable[T]],
    *,
    idempotency_key: str | None = None,
    duplicate: Callable[[], Awaitable[bool]] | None = None,
) -> T:
    """Run `work(conn)` in one transaction; retry deadlocks and creation races.

    With an idempotency key: if a ledger row with that key exists (before, or because a twin
    request committed first), raise AlreadyProcessed instead of doing the work again.
    `duplicate` is the same check for requests that write no ledger row.
    """

    async def done_before() -> bool:
        if await _key_used(idempotency_key):
            return True
        return duplicate is not None and await duplicate()

    if await done_before():
        raise AlreadyProcessed()
    for attempt in range(_RETRY_ATTEMPTS):
        try:
            async with in_transaction() as conn:
                return await work(conn)
        except IntegrityError:
            # A twin request won the race for the idempotency key, or two requests created the
            # same row (a cooldown, an inventory stack) at once: the retry sees the committed row.
            if await done_before():
                raise AlreadyProcessed() from None
            if attempt == _RETRY_ATTEMPTS - 1:
                raise
        except PegasusError:
            # A refusal (not enough money, cooldown) of a request whose twin already went
            # through: say so, rather than the refusal the twin's effect caused.
            if (idempotency_key or duplicate) and await done_before():
                raise AlreadyProcessed() from None
            raise
        except Exception as error:
            if not _is_retryable(error) or attempt == _RETRY_ATTEMPTS - 1:
                raise
            log.debug("Retrying an economy transaction after %s", type(error).__name__)
        # Back off a little, with jitter, so the transactions that collided do not collide again.
        await asyncio.sleep(0.005 * (attempt + 1) * (1 + random.random()))
    raise AssertionError  # unreachable: the last attempt returns or raises


# --------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------


def _starting_key(guild_id: int, user_id: int) -> str:
    return f"economy:start:{guild_id}:{user_id}"


async def ensure_account(
    guild_id: int, user_id: int, settings: EconomyConfig | None = None
) -> None:
    """Open the member's account with the starting balance (a ledger row) if it has none yet."""
    if await EconomyBalance.exists(guild_id=guild_id, user_id=user_id):
        return
    settings = settings or await get_settings(guild_id)
    await directory.ensure_user(user_id)
    start = settings.starting_balance
    try:
        async with in_transaction() as conn:
            await EconomyBalance.create(
                guild_id=guild_id, user_id=user_id, wallet=start, net_worth=start, using_db=conn
            )
            if start > 0:
                await EconomyTransaction.create(
                    guild_id=guild_id,
                    user_id=user_id,
                    type=TransactionType.STARTING_BALANCE,
                    amount=start,
                    description="Starting balance",
                    idempotency_key=_starting_key(guild_id, user_id),
                    using_db=conn,
                )
    except IntegrityError:
        # Opened concurrently by another request: that one wrote the starting balance.
        if not await EconomyBalance.exists(guild_id=guild_id, user_id=user_id):
            raise


async def ensure_accounts(guild_id: int, user_ids: Sequence[int]) -> EconomyConfig:
    """Open the members' accounts if needed; returns the guild's economy settings."""
    settings = await get_settings(guild_id)
    for user_id in sorted(set(user_ids)):
        await ensure_account(guild_id, user_id, settings)
    return settings


async def locked_balance(conn: BaseDBAsyncClient, guild_id: int, user_id: int) -> Holdings:
    """Read a balance and lock its row until the transaction ends (PostgreSQL; SQLite
    transactions are serialized already)."""
    row = await (
        EconomyBalance.filter(guild_id=guild_id, user_id=user_id)
        .using_db(conn)
        .select_for_update()
        .get()
    )
    return Holdings(row.id, user_id, row.wallet, row.bank)


# --------------------------------------------------------------------------------------------
# The one primitive that changes a balance
# --------------------------------------------------------------------------------------------


def _limited_text(text: str | None, limit: int = DESCRIPTION_LENGTH) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def move(
    conn: BaseDBAsyncClient,
    *,
    guild_id: int,
    user_id: int,
    type: TransactionType,
    wallet: int = 0,
    bank: int = 0,
    currency: Currency,
    description: str = "",
    metadata: dict[str, Any] | None = None,
    related_user_id: int | None = None,
    related_transaction_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    require_wallet: int = 0,
    earned: int = 0,
    spent: int = 0,
    gambled: int = 0,
    short_message: str | None = None,
) -> LedgerEntry:
    """Apply the deltas `wallet` and `bank` to one balance and write their ledger row.

    The UPDATE is guarded: it matches only if neither side would go negative, the wallet holds at
    least `require_wallet` (a bet is staked in full even when the game pays back at once), and net
    worth stays within MAX_BALANCE. Raises InsufficientFunds (with `short_message` if given) or
    ValidationError when the guard fails; the caller's transaction then rolls back.
    """
    guards: dict[str, Any] = {"guild_id": guild_id, "user_id": user_id}
    needed_wallet = max(-wallet, require_wallet)
    if needed_wallet > 0:
        guards["wallet__gte"] = needed_wallet
    if bank < 0:
        guards["bank__gte"] = -bank
    net = wallet + bank
    if net > 0:
        guards["net_worth__lte"] = MAX_BALANCE - net
    changes: dict[str, Any] = {}
    if wallet:
        changes["wallet"] = F("wallet") + wallet
    if bank:
        changes["bank"] = F("bank") + bank
    if net:
        changes["net_worth"] = F("net_worth") + net
    stats = {name: value for name, value in (("earned", earned), ("spent", spent),
                                             ("gambled", gambled)) if value}
    for name, value in stats.items():
        changes[f"total_{name}"] = F(f"total_{name}") + value
    if changes:
        updated = await EconomyBalance.filter(**guards).using_db(conn).update(**changes)
        if updated != 1:
            await _explain_refusal(conn, guild_id, user_id, needed_wallet, bank, net, currency,
                                   short_message)
    row = await EconomyTransaction.create(
        guild_id=guild_id,
        user_id=user_id,
        type=type,
        amount=wallet,
        bank_amount=bank,
        description=_limited_text(description),
        # The lifetime statistics this row moved, so a reversal can move them back exactly.
        metadata={**(metadata or {}), **({STATS_KEY: stats} if stats else {})},
        related_user_id=related_user_id,
        related_transaction_id=related_transaction_id,
        idempotency_key=idempotency_key,
        using_db=conn,
    )
    return LedgerEntry.from_row(row)


async def _explain_refusal(
    conn: BaseDBAsyncClient,
    guild_id: int,
    user_id: int,
    needed_wallet: int,
    bank_delta: int,
    net: int,
    currency: Currency,
    short_message: str | None,
) -> None:
    row = await EconomyBalance.get_or_none(guild_id=guild_id, user_id=user_id).using_db(conn)
    if row is None:
        raise NotFoundError(_("That member has no account here yet."))
    if needed_wallet and row.wallet < needed_wallet:
        raise InsufficientFunds(
            short_message
            or _("The wallet holds only {amount} (needed {needed}).").format(
                amount=currency.format(row.wallet), needed=currency.format(needed_wallet)
            )
        )
    if bank_delta < 0 and row.bank < -bank_delta:
        raise InsufficientFunds(
            short_message
            or _("The bank holds only {amount} (needed {needed}).").format(
                amount=currency.format(row.bank), needed=currency.format(-bank_delta)
            )
        )
    if net > 0:
        raise ValidationError(
            _("That would take a balance over the limit of {limit}.").format(
                limit=currency.format(MAX_BALANCE)
            )
        )
    raise ConflictError(_("The balance changed at the same moment; please try again."))


async def link_halves(conn: BaseDBAsyncClient, first_id: uuid.UUID, second_id: uuid.UUID) -> None:
    """Link the two halves of a movement between members both ways: a reversal finds its
    partner from either side."""
    await EconomyTransaction.filter(id=first_id).using_db(conn).update(
        related_transaction_id=second_id
    )
    await EconomyTransaction.filter(id=second_id).using_db(conn).update(
        related_transaction_id=first_id
    )


# --------------------------------------------------------------------------------------------
# Lifetime statistics and reversals
# --------------------------------------------------------------------------------------------


def recorded_stats(entry: LedgerEntry) -> dict[str, int]:
    """How much a ledger row added to the member's total_earned, total_spent and total_gambled.

    Rows record it in their metadata; for rows written before they did, it is inferred from the
    row's type the way each operation counted it.
    """
    meta = entry.metadata
    stored = meta.get(STATS_KEY)
    if isinstance(stored, dict):
        return {name: int(stored.get(name) or 0) for name in ("earned", "spent", "gambled")}
    stats = {"earned": 0, "spent": 0, "gambled": 0}
    if entry.type in (TransactionType.DAILY, TransactionType.WORK, TransactionType.SHOP_SELL,
                      TransactionType.ROB):
        stats["earned"] = max(0, entry.amount)
    elif entry.type == TransactionType.SHOP_BUY:
        stats["spent"] = max(0, -entry.amount)
    elif entry.type == TransactionType.GAMBLE:
        bet, payout = int(meta.get("bet") or 0), int(meta.get("payout") or 0)
        if meta.get("held"):  # a blackjack stake
            stats["gambled"] = bet
        elif "game_id" in meta:  # a blackjack payout
            stats["earned"] = max(0, payout - bet)
        else:  # a one-shot game
            stats["gambled"], stats["earned"] = bet, max(0, payout - bet)
    return stats


async def clamp_lifetime_stats(conn: BaseDBAsyncClient, guild_id: int, user_id: int) -> None:
    """After a reversal: totals never go below zero (a reset since the original zeroed them)."""
    rows = EconomyBalance.filter(guild_id=guild_id, user_id=user_id).using_db(conn)
    for column in ("total_earned", "total_spent", "total_gambled"):
        await rows.filter(**{f"{column}__lt": 0}).update(**{column: 0})


def reversal_key_of(transaction_id: uuid.UUID) -> str:
    """The idempotency key of the row that reverses a transaction: each is reversed once."""
    return f"economy:reverse:{transaction_id.hex}"


# --------------------------------------------------------------------------------------------
# Cooldowns
# --------------------------------------------------------------------------------------------


async def claim_cooldown(
    conn: BaseDBAsyncClient,
    guild_id: int,
    user_id: int,
    command: str,
    *,
    now: datetime,
    seconds: int,
    message: str,
) -> datetime:
    """Take the member's `command` cooldown or raise CooldownActive; returns the next time.

    `message` says when the command is ready again with `{left}` (a duration such as `59m`);
    the error's `retry_at` carries the moment itself.

    A conditional UPDATE (`next_available <= now`) lets exactly one of several concurrent
    requests through; inside the caller's transaction, a failed payment releases it again.
    """
    next_time = now + timedelta(seconds=seconds)
    taken = await EconomyCooldown.filter(
        guild_id=guild_id, user_id=user_id, command=command, next_available__lte=now
    ).using_db(conn).update(last_used=now, next_available=next_time)
    if taken:
        return next_time
    existing = await EconomyCooldown.get_or_none(
        guild_id=guild_id, user_id=user_id, command=command
    ).using_db(conn)
    if existing is not None:
        ready = existing.next_available
        raise CooldownActive(
            message.format(left=format_duration(max(1, int((ready - now).total_seconds())))),
            retry_at=ready.timestamp(),
        )
    # First use: a concurrent first use makes this INSERT fail and atomic() retries the request,
    # which then finds the row.
    await EconomyCooldown.create(
        guild_id=guild_id, user_id=user_id, command=command, last_used=now,
        next_available=next_time, using_db=conn,
    )
    return next_time
