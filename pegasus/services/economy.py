"""The economy: wallets, banks and the ledger, and the ways money moves between them.

Every balance change happens inside `atomic()` together with an `economy_transactions` row carrying
the same deltas, so each wallet and bank always equals the sum of its own ledger rows. Debits are
guarded conditional UPDATEs (`... WHERE wallet >= n`), never read-check-write; when a transaction
touches several balances it updates them in ascending user id order (then cooldowns, shop items,
inventories, stats, games), which keeps PostgreSQL from deadlocking, and `atomic()` retries the
rare deadlock or serialization failure that remains. An idempotency key (for instance the
interaction id and a purpose) is stored unique on the operation's ledger row, so a request that
arrives twice moves money once and the second one gets `AlreadyProcessed`.

Functions take plain ids, `now` (an aware UTC datetime) and, where chance matters, `rng`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.economy import (
    EconomyBalance,
    EconomyCooldown,
    EconomyGamblingStats,
    EconomySettings,
    EconomyTransaction,
    EconomyUserItem,
    TransactionType,
)
from pegasus.errors import (
    ConflictError,
    CooldownActive,
    InsufficientFunds,
    NotFoundError,
    PegasusError,
    PermissionDenied,
    ValidationError,
    shown_input,
)
from pegasus.services import directory
from pegasus.services.durations import format_duration

log = logging.getLogger(__name__)

T = TypeVar("T")

# The most any wallet + bank may hold: far below 2**63 - 1 so sums and net worth never overflow.
MAX_BALANCE = 10**18
ALL: Literal["all"] = "all"
Amount = int | Literal["all"]

TRANSACTIONS_PER_PAGE = 10
DESCRIPTION_LENGTH = 200
_RETRY_ATTEMPTS = 8
_SUFFIXES = {"k": 10**3, "m": 10**6, "b": 10**9}
# Digits, or digits in groups of three split by one kind of separator (`1,000,000`, `1 000`),
# then a fraction and a suffix (`2.5k`). `1,0,0` and `0,001` fit neither form: refused.
_AMOUNT = re.compile(
    r"(?P<whole>\d+|[1-9]\d{0,2}(?P<sep>[,_ ])\d{3}(?:(?P=sep)\d{3})*)"
    r"(?:\.(?P<fraction>\d+))? ?(?P<suffix>[kmb])?"
)
_SEPARATED_DIGITS = re.compile(r"[\d,_ ]*\d[,_ ][\d,_ .]*[kmb]?")
# Finer than the next smaller unit (`0.0001b`) reads as a slip as easily as an amount.
_SUFFIX_DECIMALS = 3
_SUFFIX_DIGITS = ("no", "one", "two", "three")[_SUFFIX_DECIMALS]


class AlreadyProcessed(ConflictError):
    """The request with this idempotency key was already carried out; nothing changed again."""

    def __init__(self) -> None:
        super().__init__("That request was already handled: nothing was charged or paid twice.")


# --------------------------------------------------------------------------------------------
# Currency and amounts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Currency:
    name: str
    symbol: str

    def format(self, amount: int) -> str:
        """`1250` → `🪙 1,250`: thousands separators, the guild's symbol."""
        return f"{self.symbol} {amount:,}"


def currency_of(settings: EconomySettings) -> Currency:
    return Currency(settings.currency_name, settings.currency_symbol)


def parse_amount(text: str | int, *, allow_all: bool = True) -> Amount:
    """What a person typed as an amount: `250`, `1,000`, `2.5k`, `3m`, or `all`.

    Raises ValidationError (nothing is changed) for zero, negative, fractional or absurd amounts,
    and for input a person could read two ways: separators not between groups of three (`1,0,0`),
    a point without a suffix (`1.000`), a suffix with more than three decimals (`0.0001b`).
    """
    if isinstance(text, int):
        return validate_amount(text)
    cleaned = text.strip().lower()
    if allow_all and cleaned in ("all", "max"):
        return ALL
    if cleaned.startswith("-"):
        raise ValidationError("The amount must be positive.")
    match = _AMOUNT.fullmatch(cleaned)
    if not match:
        raise _not_an_amount(text, cleaned, allow_all=allow_all)
    whole = match["whole"].replace(match["sep"], "") if match["sep"] else match["whole"]
    fraction, suffix = match["fraction"], match["suffix"]
    if len(whole.lstrip("0")) > len(str(MAX_BALANCE)):
        # Refused before int(), which raises ValueError past 4,300 digits.
        return validate_amount(MAX_BALANCE + 1)
    if fraction is None:
        return validate_amount(int(whole) * _SUFFIXES.get(suffix or "", 1))
    if suffix is None:
        # `1.000` is one coin to some readers and a thousand to others.
        raise ValidationError("Amounts are whole numbers of coins.")
    scale = _SUFFIXES[suffix]
    digits = fraction.rstrip("0")
    if len(digits) >= len(str(scale)):  # finer than one coin; also keeps int() short
        raise ValidationError("Amounts are whole numbers of coins.")
    value, rest = divmod(int(whole + digits) * scale, 10 ** len(digits))
    if rest:
        raise ValidationError("Amounts are whole numbers of coins.")
    if len(digits) > _SUFFIX_DECIMALS:
        raise ValidationError(
            f"{shown_input(text)} has more than {_SUFFIX_DIGITS} digits after the point: "
            f"write it as {_short_amount(value)}."
        )
    return validate_amount(value)


def _not_an_amount(text: str, cleaned: str, *, allow_all: bool) -> ValidationError:
    if _SEPARATED_DIGITS.fullmatch(cleaned):
        return ValidationError(
            f"{shown_input(text)} is not an amount: separators go between groups of three "
            "digits, as in `1,000,000`."
        )
    forms = "a whole number such as `250`, `1,000` or `2.5k`"
    if allow_all:
        forms += ", or `all`"
    return ValidationError(f"{shown_input(text)} is not an amount: use {forms}.")


def _short_amount(value: int) -> str:
    """`value` in the largest unit that needs at most three decimals: 100000 → `100k`."""
    for suffix, scale in sorted(_SUFFIXES.items(), key=lambda item: -item[1]):
        whole, rest = divmod(value, scale)
        if whole and rest % (scale // 10**_SUFFIX_DECIMALS) == 0:
            decimals = f".{rest * 10**_SUFFIX_DECIMALS // scale:03d}".rstrip("0") if rest else ""
            return f"`{whole:,}{decimals}{suffix}`"
    return f"`{value:,}`"


def validate_amount(value: int, *, what: str = "The amount") -> int:
    """Positive and within the limit every balance respects."""
    if value <= 0:
        raise ValidationError(f"{what} must be more than zero.")
    if value > MAX_BALANCE:
        raise ValidationError(f"{what} can be at most {MAX_BALANCE:,}.")
    return value


def _limited_text(text: str | None, limit: int = DESCRIPTION_LENGTH) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utc_day(now: datetime) -> int:
    """Days since 1970-01-01 in UTC: the unit of /daily."""
    return int(now.astimezone(UTC).timestamp() // 86400)


def start_of_day(day: int) -> datetime:
    return datetime.fromtimestamp(day * 86400, UTC)


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
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# Accounts and settings
# --------------------------------------------------------------------------------------------


async def get_settings(guild_id: int) -> EconomySettings:
    """The guild's economy settings, created with defaults on first use."""
    settings = await EconomySettings.get_or_none(guild_id=guild_id)
    if settings is None:
        await directory.ensure_guild(guild_id)
        await EconomySettings.bulk_create(
            [EconomySettings(guild_id=guild_id)], ignore_conflicts=True
        )
        settings = await EconomySettings.get(guild_id=guild_id)
    return settings


def _starting_key(guild_id: int, user_id: int) -> str:
    return f"economy:start:{guild_id}:{user_id}"


async def ensure_account(
    guild_id: int, user_id: int, settings: EconomySettings | None = None
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


async def ensure_accounts(guild_id: int, user_ids: Sequence[int]) -> EconomySettings:
    settings = await get_settings(guild_id)
    for user_id in sorted(set(user_ids)):
        await ensure_account(guild_id, user_id, settings)
    return settings


@dataclass(frozen=True, slots=True)
class BalanceView:
    user_id: int
    wallet: int
    bank: int
    net_worth: int
    rank: int
    daily_streak: int
    currency: Currency


async def get_balance(guild_id: int, user_id: int) -> BalanceView:
    settings = await ensure_accounts(guild_id, [user_id])
    row = await EconomyBalance.get(guild_id=guild_id, user_id=user_id)
    above = await EconomyBalance.filter(guild_id=guild_id, net_worth__gt=row.net_worth).count()
    return BalanceView(
        user_id=user_id,
        wallet=row.wallet,
        bank=row.bank,
        net_worth=row.net_worth,
        rank=above + 1,
        daily_streak=row.daily_streak,
        currency=currency_of(settings),
    )


# --------------------------------------------------------------------------------------------
# The one primitive that changes a balance
# --------------------------------------------------------------------------------------------


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
) -> EconomyTransaction:
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
    return await EconomyTransaction.create(
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


STATS_KEY = "stats"


def recorded_stats(row: EconomyTransaction) -> dict[str, int]:
    """How much a ledger row added to the member's total_earned, total_spent and total_gambled.

    Rows record it in their metadata; for rows written before they did, it is inferred from the
    row's type the way each operation counted it.
    """
    stored = row.metadata.get(STATS_KEY) if isinstance(row.metadata, dict) else None
    if isinstance(stored, dict):
        return {name: int(stored.get(name) or 0) for name in ("earned", "spent", "gambled")}
    stats = {"earned": 0, "spent": 0, "gambled": 0}
    meta = row.metadata if isinstance(row.metadata, dict) else {}
    if row.type in (TransactionType.DAILY, TransactionType.WORK, TransactionType.SHOP_SELL,
                    TransactionType.ROB):
        stats["earned"] = max(0, row.amount)
    elif row.type == TransactionType.SHOP_BUY:
        stats["spent"] = max(0, -row.amount)
    elif row.type == TransactionType.GAMBLE:
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
        raise NotFoundError(f"<@{user_id}> has no account here yet.")
    if needed_wallet and row.wallet < needed_wallet:
        raise InsufficientFunds(
            short_message
            or f"<@{user_id}> has only {currency.format(row.wallet)} in their wallet "
            f"(needed {currency.format(needed_wallet)})."
        )
    if bank_delta < 0 and row.bank < -bank_delta:
        raise InsufficientFunds(
            short_message
            or f"<@{user_id}> has only {currency.format(row.bank)} in the bank "
            f"(needed {currency.format(-bank_delta)})."
        )
    if net > 0:
        raise ValidationError(
            f"That would take <@{user_id}> over the limit of {currency.format(MAX_BALANCE)}."
        )
    raise ConflictError("The balance changed at the same moment; please try again.")


async def _locked_balance(
    conn: BaseDBAsyncClient, guild_id: int, user_id: int
) -> EconomyBalance:
    """Read a balance and lock its row until the transaction ends (PostgreSQL; SQLite
    transactions are serialized already)."""
    return (
        await EconomyBalance.filter(guild_id=guild_id, user_id=user_id)
        .using_db(conn)
        .select_for_update()
        .get()
    )


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
    currency = currency_of(settings)
    source = "wallet" if to_bank else "bank"

    async def work(conn: BaseDBAsyncClient) -> BankResult:
        row = await _locked_balance(conn, guild_id, user_id)
        available = row.wallet if to_bank else row.bank
        value = available if amount == ALL else amount
        if value <= 0:
            raise ValidationError(f"Your {source} is empty: there is nothing to move.")
        if value > available:
            raise InsufficientFunds(
                f"You have only {currency.format(available)} in your {source}."
            )
        delta = value if to_bank else -value
        tx = await move(
            conn, guild_id=guild_id, user_id=user_id,
            type=TransactionType.DEPOSIT if to_bank else TransactionType.WITHDRAW,
            wallet=-delta, bank=delta, currency=currency,
            description="Deposit to the bank" if to_bank else "Withdrawal from the bank",
            idempotency_key=key,
        )
        return BankResult(value, row.wallet - delta, row.bank + delta, currency, tx.id)

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
    """Give `amount` (or the whole wallet) from the sender's wallet to the recipient's wallet."""
    if sender_id == recipient_id:
        raise ValidationError("You can't pay yourself.")
    if recipient_is_bot:
        raise ValidationError("Bots have no wallet: pay a person instead.")
    settings = await ensure_accounts(guild_id, [sender_id, recipient_id])
    currency = currency_of(settings)

    async def work(conn: BaseDBAsyncClient) -> PayResult:
        value = amount
        if value == ALL:
            value = (await _locked_balance(conn, guild_id, sender_id)).wallet
            if value <= 0:
                raise InsufficientFunds("Your wallet is empty.")
        legs: dict[int, EconomyTransaction] = {}
        # Lower user id first, so two opposite payments lock the same rows in the same order.
        for user_id in sorted((sender_id, recipient_id)):
            sending = user_id == sender_id
            legs[user_id] = await move(
                conn, guild_id=guild_id, user_id=user_id, type=TransactionType.TRANSFER,
                wallet=-value if sending else value, currency=currency,
                description=f"Paid to <@{recipient_id}>" if sending
                else f"Received from <@{sender_id}>",
                related_user_id=recipient_id if sending else sender_id,
                idempotency_key=idempotency_key if sending else None,
                short_message=None if not sending
                else f"You don't have {currency.format(value)} in your wallet.",
            )
        sent, received = legs[sender_id], legs[recipient_id]
        await _link_halves(conn, sent, received)
        wallet = (
            await EconomyBalance.filter(guild_id=guild_id, user_id=sender_id)
            .using_db(conn).values_list("wallet", flat=True)
        )[0]
        return PayResult(value, wallet, currency, sent.id)

    return await atomic(work, idempotency_key=idempotency_key)


async def _link_halves(
    conn: BaseDBAsyncClient, first: EconomyTransaction, second: EconomyTransaction
) -> None:
    """Link the two halves of a movement between members both ways: a reversal finds its
    partner from either side."""
    await EconomyTransaction.filter(id=first.id).using_db(conn).update(
        related_transaction_id=second.id
    )
    await EconomyTransaction.filter(id=second.id).using_db(conn).update(
        related_transaction_id=first.id
    )


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
            message.format(when=f"<t:{int(ready.timestamp())}:R>",
                           left=format_duration(max(1, int((ready - now).total_seconds())))),
            retry_at=ready.timestamp(),
        )
    # First use: a concurrent first use makes this INSERT fail and atomic() retries the request,
    # which then finds the row.
    await EconomyCooldown.create(
        guild_id=guild_id, user_id=user_id, command=command, last_used=now,
        next_available=next_time, using_db=conn,
    )
    return next_time


# --------------------------------------------------------------------------------------------
# Earning: daily, work, rob
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyResult:
    amount: int
    bonus: int
    streak: int
    next_at: datetime
    currency: Currency


def daily_payout(settings: EconomySettings, streak: int) -> tuple[int, int]:
    """(base, bonus) for a claim that makes the streak `streak` days long."""
    bonus_days = min(max(streak - 1, 0), settings.daily_streak_max_days)
    return settings.daily_amount, bonus_days * settings.daily_streak_bonus


async def claim_daily(
    guild_id: int, user_id: int, *, now: datetime, idempotency_key: str | None = None
) -> DailyResult:
    """Once per UTC day. Claiming on the day after the last claim extends the streak; missing a
    day starts it again at 1."""
    settings = await ensure_accounts(guild_id, [user_id])
    currency = currency_of(settings)
    today = utc_day(now)
    tomorrow = start_of_day(today + 1)

    async def work(conn: BaseDBAsyncClient) -> DailyResult:
        base = EconomyBalance.filter(guild_id=guild_id, user_id=user_id).using_db(conn)
        # Exactly one of these conditional UPDATEs can match, and only once per day.
        continued = await base.filter(last_daily_day=today - 1).update(
            last_daily_day=today, daily_streak=F("daily_streak") + 1
        )
        if not continued:
            restarted = await base.filter(last_daily_day__lt=today - 1).update(
                last_daily_day=today, daily_streak=1
            ) or await base.filter(last_daily_day__isnull=True).update(
                last_daily_day=today, daily_streak=1
            )
            if not restarted:
                raise CooldownActive(
                    f"You already claimed today's daily. The next one is ready "
                    f"<t:{int(tomorrow.timestamp())}:R>.",
                    retry_at=tomorrow.timestamp(),
                )
        streak = (await base.values_list("daily_streak", flat=True))[0]
        await base.filter(best_daily_streak__lt=streak).update(best_daily_streak=streak)
        amount, bonus = daily_payout(settings, streak)
        total = amount + bonus
        await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.DAILY, wallet=total,
            currency=currency, description=f"Daily reward (day {streak:,} of the streak)",
            metadata={"day": today, "streak": streak, "bonus": bonus},
            idempotency_key=idempotency_key,
            earned=total,
        )
        return DailyResult(total, bonus, streak, tomorrow, currency)

    return await atomic(work, idempotency_key=idempotency_key)


@dataclass(frozen=True, slots=True)
class WorkResult:
    amount: int
    job: str
    next_at: datetime
    currency: Currency


JOBS = (
    "delivered pizzas", "walked the neighbour's dogs", "fixed a leaky sink",
    "wrote some code", "tutored a student", "painted a fence", "sold lemonade",
    "streamed for a few hours", "washed cars", "moderated a busy server",
)


async def work(
    guild_id: int,
    user_id: int,
    *,
    now: datetime,
    rng: random.Random,
    idempotency_key: str | None = None,
) -> WorkResult:
    """Pay a random amount in the guild's range; then the work cooldown starts."""
    settings = await ensure_accounts(guild_id, [user_id])
    currency = currency_of(settings)
    # Drawn once, before the transaction, so a retried transaction pays the same amount.
    amount = rng.randint(settings.work_min, settings.work_max)
    job = rng.choice(JOBS)

    async def run(conn: BaseDBAsyncClient) -> WorkResult:
        await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.WORK, wallet=amount,
            currency=currency, description=f"Work: {job}", metadata={"job": job},
            idempotency_key=idempotency_key, earned=amount,
        )
        next_at = await claim_cooldown(
            conn, guild_id, user_id, "work", now=now, seconds=settings.work_cooldown_seconds,
            message="You're tired. You can work again {when}.",
        )
        return WorkResult(amount, job, next_at, currency)

    return await atomic(run, idempotency_key=idempotency_key)


@dataclass(frozen=True, slots=True)
class RobResult:
    success: bool
    amount: int  # stolen on success, fine paid to the victim on failure
    next_at: datetime
    currency: Currency


async def has_rob_protection(guild_id: int, user_id: int, now: datetime) -> bool:
    return await _has_active_effect(guild_id, user_id, "rob_protection", now)


async def _has_active_effect(
    guild_id: int, user_id: int, kind: str, now: datetime,
    conn: BaseDBAsyncClient | None = None,
) -> bool:
    # JSON filtering works only on PostgreSQL, so filter the (few) active rows in Python.
    query = EconomyUserItem.filter(
        guild_id=guild_id, user_id=user_id, active=True, expires_at__gt=now
    )
    if conn is not None:
        query = query.using_db(conn)
    rows = await query.values_list("metadata", flat=True)
    return any(isinstance(m, dict) and m.get("kind") == kind for m in rows)


async def rob(
    guild_id: int,
    robber_id: int,
    victim_id: int,
    *,
    victim_is_bot: bool = False,
    now: datetime,
    rng: random.Random,
    idempotency_key: str | None = None,
) -> RobResult:
    """Try to steal part of the victim's wallet. Failing costs the robber a fine paid to the
    victim. Not yourself, not bots, not members holding rob protection."""
    if robber_id == victim_id:
        raise ValidationError("You can't rob yourself.")
    if victim_is_bot:
        raise ValidationError("Bots have nothing to steal.")
    settings = await ensure_accounts(guild_id, [robber_id, victim_id])
    if not settings.rob_enabled:
        raise PermissionDenied("Robbing is turned off in this server.")
    currency = currency_of(settings)
    # Chance is drawn once, before the transaction, so a retry cannot re-roll it.
    success = rng.randrange(100) < settings.rob_success_percent
    share = rng.randint(max(1, settings.rob_max_steal_percent // 3),
                        max(1, settings.rob_max_steal_percent))

    async def run(conn: BaseDBAsyncClient) -> RobResult:
        first, second = sorted((robber_id, victim_id))
        rows = {first: await _locked_balance(conn, guild_id, first),
                second: await _locked_balance(conn, guild_id, second)}
        # Checked here, with the victim's balance locked: activating a protection locks the
        # same row (shop.use_item), so a protection committed before this point is seen, and
        # one activated later waits until this robbery is over.
        if await _has_active_effect(guild_id, victim_id, "rob_protection", now, conn):
            raise ConflictError(f"<@{victim_id}> is protected from robbers right now.")
        victim_wallet = rows[victim_id].wallet
        if victim_wallet < settings.rob_min_victim_wallet:
            raise ValidationError(
                f"<@{victim_id}> has less than {currency.format(settings.rob_min_victim_wallet)} "
                "in their wallet: not worth the risk."
            )
        if success:
            amount = max(1, victim_wallet * share // 100)
            payer, payee = victim_id, robber_id
        else:
            amount = rows[robber_id].wallet * settings.rob_fine_percent // 100
            payer, payee = robber_id, victim_id
        halves: list[EconomyTransaction] = []
        for user_id in (first, second):
            paying = user_id == payer
            if amount:
                halves.append(await move(
                    conn, guild_id=guild_id, user_id=user_id,
                    type=TransactionType.ROB if success else TransactionType.FINE,
                    wallet=-amount if paying else amount, currency=currency,
                    description=_rob_description(success, paying, robber_id, victim_id),
                    related_user_id=payee if paying else payer,
                    idempotency_key=idempotency_key if user_id == robber_id else None,
                    earned=amount if user_id == payee and success else 0,
                ))
        if len(halves) == 2:
            # Linked both ways, as a transfer's halves: a reversal undoes both sides at once.
            await _link_halves(conn, halves[0], halves[1])
        next_at = await claim_cooldown(
            conn, guild_id, robber_id, "rob", now=now, seconds=settings.rob_cooldown_seconds,
            message="Lie low for a while: you can rob again {when}.",
        )
        return RobResult(success, amount, next_at, currency)

    return await atomic(run, idempotency_key=idempotency_key)


def _rob_description(success: bool, paying: bool, robber_id: int, victim_id: int) -> str:
    if success:
        return f"Robbed by <@{robber_id}>" if paying else f"Robbed <@{victim_id}>"
    return f"Fined for trying to rob <@{victim_id}>" if paying else (
        f"Fine paid by <@{robber_id}> for a failed robbery"
    )


# --------------------------------------------------------------------------------------------
# Administration
# --------------------------------------------------------------------------------------------


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
    settings = await ensure_accounts(guild_id, [user_id])
    currency = currency_of(settings)
    verb = "Taken by" if take else "Given by"
    description = f"{verb} <@{actor_id}>" + (f": {reason.strip()}" if reason else "")

    async def run(conn: BaseDBAsyncClient) -> AdminResult:
        tx = await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.ADMIN,
            wallet=-amount if take else amount, currency=currency, description=description,
            metadata={"actor_id": actor_id, "reason": reason or ""},
            related_user_id=actor_id if actor_id != user_id else None,
            idempotency_key=idempotency_key,
        )
        row = await EconomyBalance.get(guild_id=guild_id, user_id=user_id).using_db(conn)
        return AdminResult(amount, row.wallet, row.bank, currency, tx.id)

    await directory.ensure_user(actor_id)
    return await atomic(run, idempotency_key=idempotency_key)


async def reset_account(
    guild_id: int, actor_id: int, user_id: int, *, idempotency_key: str | None = None
) -> AdminResult:
    """Back to a fresh account: the starting balance in the wallet, an empty bank, no items,
    streaks, cooldowns or game stats. The ledger keeps the history (one `reset` row)."""
    settings = await ensure_accounts(guild_id, [user_id])
    currency = currency_of(settings)
    await directory.ensure_user(actor_id)

    async def run(conn: BaseDBAsyncClient) -> AdminResult:
        row = await _locked_balance(conn, guild_id, user_id)
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
            raise ConflictError("The balance changed at the same moment; please try again.")
        tx = await EconomyTransaction.create(
            guild_id=guild_id, user_id=user_id, type=TransactionType.RESET,
            amount=wallet_delta, bank_amount=bank_delta,
            description=f"Account reset by <@{actor_id}>",
            metadata={"actor_id": actor_id, "wallet_before": row.wallet, "bank_before": row.bank},
            related_user_id=actor_id if actor_id != user_id else None,
            idempotency_key=idempotency_key, using_db=conn,
        )
        for model in (EconomyCooldown, EconomyUserItem, EconomyGamblingStats):
            await model.filter(guild_id=guild_id, user_id=user_id).using_db(conn).delete()
        return AdminResult(start, start, 0, currency, tx.id)

    return await atomic(run, idempotency_key=idempotency_key)


async def find_transaction(guild_id: int, reference: str) -> EconomyTransaction:
    """A ledger row by its id or by the first 8+ characters shown in /transactions."""
    cleaned = reference.strip().lower().replace("-", "")
    if not re.fullmatch(r"[0-9a-f]{8,32}", cleaned):
        raise ValidationError(
            "Give the transaction id shown by /transactions (at least its first 8 characters)."
        )
    if len(cleaned) == 32:
        row = await EconomyTransaction.get_or_none(id=uuid.UUID(cleaned), guild_id=guild_id)
        if row is None:
            raise NotFoundError(f"No transaction `{reference.strip()}` in this server.")
        return row
    # A prefix of the hex form: UUIDs are stored as text on SQLite and uuid on PostgreSQL, so
    # compare on a range of ids instead of a string prefix.
    low = uuid.UUID(cleaned.ljust(32, "0"))
    high = uuid.UUID(cleaned.ljust(32, "f"))
    rows = await EconomyTransaction.filter(guild_id=guild_id).filter(
        id__gte=low, id__lte=high
    ).limit(2)
    rows = [r for r in rows if r.id.hex.startswith(cleaned)]
    if not rows:
        raise NotFoundError(f"No transaction `{reference.strip()}` in this server.")
    if len(rows) > 1:
        raise ValidationError("Several transactions start like that: give more characters.")
    return rows[0]


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
    zero. A purchase is undone whole by shop.refund_purchase (items back to the shop). Per-game
    statistics are a record of games played and are left as they are. Fails without changing
    anything when the member no longer holds the money (or the items) to give back.
    """
    original = await find_transaction(guild_id, reference)
    if original.type in (TransactionType.REVERSAL, TransactionType.RESET):
        raise ValidationError(f"A `{original.type}` transaction can't be reversed.")
    if original.type == TransactionType.SHOP_BUY:
        # A purchase is undone whole: the money back and the items back to the shop.
        from pegasus.services import shop  # shop builds on this module

        refund = await shop.refund_purchase(
            guild_id, original.id, reason=f"reversed by <@{actor_id}>", actor_id=actor_id
        )
        return ReversalResult((original.id,), (refund.transaction_id,), refund.currency)
    originals = [original]
    partner = await _partner_of(original)
    if partner is not None:
        originals.append(partner)
    settings = await get_settings(guild_id)
    currency = currency_of(settings)
    await directory.ensure_user(actor_id)
    reversal_key = reversal_key_of(original.id)

    async def run(conn: BaseDBAsyncClient) -> ReversalResult:
        made: list[EconomyTransaction] = []
        for row in sorted(originals, key=lambda r: r.user_id):  # type: ignore[attr-defined]
            user_id: int = row.user_id  # type: ignore[attr-defined]
            # The lifetime totals move back too: a reversed payout was never earned.
            stats = recorded_stats(row)
            made.append(await move(
                conn, guild_id=guild_id, user_id=user_id,
                type=TransactionType.REVERSAL, wallet=-row.amount, bank=-row.bank_amount,
                currency=currency,
                description=f"Reversal of {row.id.hex[:8]} by <@{actor_id}>",
                metadata={"actor_id": actor_id, "original_type": str(row.type)},
                related_user_id=actor_id,
                related_transaction_id=row.id,
                idempotency_key=reversal_key_of(row.id),
                earned=-stats["earned"], spent=-stats["spent"], gambled=-stats["gambled"],
            ))
            await clamp_lifetime_stats(conn, guild_id, user_id)
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
            f"Transaction `{original.id.hex[:8]}` was already reversed."
        ) from None


def reversal_key_of(transaction_id: uuid.UUID) -> str:
    """The idempotency key of the row that reverses a transaction: each is reversed once."""
    return f"economy:reverse:{transaction_id.hex}"


async def _partner_of(row: EconomyTransaction) -> EconomyTransaction | None:
    related_id = row.related_transaction_id  # type: ignore[attr-defined]
    if related_id is not None:
        partner = await EconomyTransaction.get_or_none(id=related_id)
        if partner is not None and partner.related_transaction_id == row.id:  # type: ignore[attr-defined]
            return partner
    return None


# --------------------------------------------------------------------------------------------
# Reading the ledger
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerPage:
    rows: list[EconomyTransaction]
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
        raise ValidationError("Pages start at 1.")
    page = min(page, pages)
    rows = await query.order_by("-created_at", "-id").offset((page - 1) * per_page).limit(per_page)
    return LedgerPage(rows, page, pages, total, currency_of(settings))


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------

# name → (kind, minimum, maximum); "money" is a whole amount, "percent" 0..100.
SETTING_RULES: dict[str, tuple[str, int, int]] = {
    "starting_balance": ("money", 0, MAX_BALANCE),
    "daily_amount": ("money", 0, MAX_BALANCE),
    "daily_streak_bonus": ("money", 0, MAX_BALANCE),
    "daily_streak_max_days": ("count", 0, 365),
    "work_min": ("money", 0, MAX_BALANCE),
    "work_max": ("money", 0, MAX_BALANCE),
    "work_cooldown_seconds": ("seconds", 0, 7 * 86400),
    "rob_success_percent": ("percent", 0, 100),
    "rob_cooldown_seconds": ("seconds", 0, 7 * 86400),
    "rob_min_victim_wallet": ("money", 0, MAX_BALANCE),
    "rob_max_steal_percent": ("percent", 1, 100),
    "rob_fine_percent": ("percent", 0, 100),
    "min_bet": ("money", 1, MAX_BALANCE),
    "max_bet": ("money", 1, MAX_BALANCE),
    "sell_percent": ("percent", 0, 100),
}
SETTING_LABELS = {
    "currency_name": "currency name", "currency_symbol": "currency symbol",
    "starting_balance": "starting balance", "daily_amount": "daily amount",
    "daily_streak_bonus": "daily streak bonus", "daily_streak_max_days": "streak bonus cap",
    "work_min": "minimum work pay", "work_max": "maximum work pay",
    "work_cooldown_seconds": "work cooldown", "rob_enabled": "robbing",
    "rob_success_percent": "rob success chance", "rob_cooldown_seconds": "rob cooldown",
    "rob_min_victim_wallet": "minimum victim wallet", "rob_max_steal_percent": "most stolen",
    "rob_fine_percent": "fine on failure", "min_bet": "minimum bet", "max_bet": "maximum bet",
    "sell_percent": "sell-back price",
}


async def update_settings(guild_id: int, **changes: Any) -> EconomySettings:
    """Validate and store some settings; nothing is stored if any value is refused."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        raise ValidationError("Give at least one setting to change.")
    settings = await get_settings(guild_id)
    for name, value in changes.items():
        _check_setting(name, value)
    merged = {name: getattr(settings, name) for name in SETTING_LABELS} | changes
    if merged["work_min"] > merged["work_max"]:
        raise ValidationError("The minimum work pay can't be above the maximum work pay.")
    if merged["min_bet"] > merged["max_bet"]:
        raise ValidationError("The minimum bet can't be above the maximum bet.")
    await EconomySettings.filter(id=settings.id).update(**changes)
    return await EconomySettings.get(id=settings.id)


def _check_setting(name: str, value: Any) -> None:
    if name in ("currency_name", "currency_symbol"):
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > 32:
            raise ValidationError(f"The {SETTING_LABELS[name]} must be 1 to 32 characters.")
        return
    if name == "rob_enabled":
        if not isinstance(value, bool):
            raise ValidationError("Robbing is either on or off.")
        return
    if name not in SETTING_RULES:
        raise ValidationError(f"`{name}` is not an economy setting.")
    kind, low, high = SETTING_RULES[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        shown = format_duration(high) if kind == "seconds" else f"{high:,}"
        unit = "%" if kind == "percent" else ""
        raise ValidationError(
            f"The {SETTING_LABELS[name]} must be between {low:,}{unit} and {shown}{unit}."
        )


async def total_money(guild_id: int) -> tuple[int, int]:
    """(sum of wallets and banks, sum of the ledger) for a guild: equal unless something is
    badly wrong. Used by tests and the admin settings view."""
    balances = await EconomyBalance.filter(guild_id=guild_id).values_list(
        "wallet", "bank"
    )
    ledger = await EconomyTransaction.filter(guild_id=guild_id).values_list(
        "amount", "bank_amount"
    )
    return sum(w + b for w, b in balances), sum(a + b for a, b in ledger)
