"""Earning money: /daily with its streak, /work, and /rob with its fine.

Chance is drawn from `rng` before the transaction, so a retried transaction pays the same.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from models.economy import EconomyBalance, EconomyUserItem, TransactionType
from pegasus.errors import ConflictError, CooldownActive, PermissionDenied, ValidationError
from pegasus.i18n import N_, _
from pegasus.services.durations import format_duration

from .amounts import Currency
from .ledger import (
    LedgerEntry,
    atomic,
    claim_cooldown,
    ensure_accounts,
    link_halves,
    locked_balance,
    move,
)
from .settings import EconomyConfig

__all__ = [
    "JOBS",
    "DailyResult",
    "RobResult",
    "WorkResult",
    "claim_daily",
    "daily_payout",
    "has_rob_protection",
    "rob",
    "start_of_day",
    "utc_day",
    "work",
]


def utc_day(now: datetime) -> int:
    """Days since 1970-01-01 in UTC: the unit of /daily."""
    return int(now.astimezone(UTC).timestamp() // 86400)


def start_of_day(day: int) -> datetime:
    return datetime.fromtimestamp(day * 86400, UTC)


# --------------------------------------------------------------------------------------------
# Daily
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyResult:
    amount: int
    bonus: int
    streak: int
    next_at: datetime
    currency: Currency


def daily_payout(settings: EconomyConfig, streak: int) -> tuple[int, int]:
    """(base, bonus) for a claim that makes the streak `streak` days long."""
    bonus_days = min(max(streak - 1, 0), settings.daily_streak_max_days)
    return settings.daily_amount, bonus_days * settings.daily_streak_bonus


async def claim_daily(
    guild_id: int, user_id: int, *, now: datetime, idempotency_key: str | None = None
) -> DailyResult:
    """Once per UTC day. Claiming on the day after the last claim extends the streak; missing a
    day starts it again at 1."""
    settings = await ensure_accounts(guild_id, [user_id])
    currency = settings.currency
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
                left = format_duration(max(1, int((tomorrow - now).total_seconds())))
                raise CooldownActive(
                    _("You already claimed today's daily. The next one is ready in {left}.").format(
                        left=left
                    ),
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


# --------------------------------------------------------------------------------------------
# Work
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkResult:
    amount: int
    job: str
    next_at: datetime
    currency: Currency


# Stored in English in the ledger; shown with `_(job)`.
# Translators: what a member did at /work, shown as "You {job} and earned ...".
JOBS = (
    N_("delivered pizzas"), N_("walked the neighbour's dogs"), N_("fixed a leaky sink"),
    N_("wrote some code"), N_("tutored a student"), N_("painted a fence"), N_("sold lemonade"),
    N_("streamed for a few hours"), N_("washed cars"), N_("moderated a busy server"),
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
    currency = settings.currency
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
            message=_("You're tired. You can work again in {left}."),
        )
        return WorkResult(amount, job, next_at, currency)

    return await atomic(run, idempotency_key=idempotency_key)


# --------------------------------------------------------------------------------------------
# Rob
# --------------------------------------------------------------------------------------------


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


# The plain description of each half of a robbery (success?, paying?); the other member is the
# row's related_user_id.
_ROB_DESCRIPTIONS = {
    (True, False): "Robbed another member",
    (True, True): "Robbed by another member",
    (False, True): "Fined for a failed robbery",
    (False, False): "Fine paid by a robber who was caught",
}


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
        raise ValidationError(_("You can't rob yourself."))
    if victim_is_bot:
        raise ValidationError(_("Bots have nothing to steal."))
    settings = await ensure_accounts(guild_id, [robber_id, victim_id])
    if not settings.rob_enabled:
        raise PermissionDenied(_("Robbing is turned off in this server."))
    currency = settings.currency
    # Chance is drawn once, before the transaction, so a retry cannot re-roll it.
    success = rng.randrange(100) < settings.rob_success_percent
    share = rng.randint(max(1, settings.rob_max_steal_percent // 3),
                        max(1, settings.rob_max_steal_percent))

    async def run(conn: BaseDBAsyncClient) -> RobResult:
        first, second = sorted((robber_id, victim_id))
        rows = {first: await locked_balance(conn, guild_id, first),
                second: await locked_balance(conn, guild_id, second)}
        # Checked here, with the victim's balance locked: activating a protection locks the
        # same row (use_item), so a protection committed before this point is seen, and one
        # activated later waits until this robbery is over.
        if await _has_active_effect(guild_id, victim_id, "rob_protection", now, conn):
            raise ConflictError(_("That member is protected from robbers right now."))
        victim_wallet = rows[victim_id].wallet
        if victim_wallet < settings.rob_min_victim_wallet:
            raise ValidationError(
                _("That member has less than {amount} in their wallet: not worth the risk.").format(
                    amount=currency.format(settings.rob_min_victim_wallet)
                )
            )
        if success:
            amount = max(1, victim_wallet * share // 100)
            payer, payee = victim_id, robber_id
        else:
            amount = rows[robber_id].wallet * settings.rob_fine_percent // 100
            payer, payee = robber_id, victim_id
        halves: list[LedgerEntry] = []
        for user_id in (first, second):
            paying = user_id == payer
            if amount:
                halves.append(await move(
                    conn, guild_id=guild_id, user_id=user_id,
                    type=TransactionType.ROB if success else TransactionType.FINE,
                    wallet=-amount if paying else amount, currency=currency,
                    description=_ROB_DESCRIPTIONS[success, paying],
                    related_user_id=payee if paying else payer,
                    idempotency_key=idempotency_key if user_id == robber_id else None,
                    earned=amount if user_id == payee and success else 0,
                ))
        if len(halves) == 2:
            # Linked both ways, as a transfer's halves: a reversal undoes both sides at once.
            await link_halves(conn, halves[0].id, halves[1].id)
        next_at = await claim_cooldown(
            conn, guild_id, robber_id, "rob", now=now, seconds=settings.rob_cooldown_seconds,
            message=_("Lie low for a while: you can rob again in {left}."),
        )
        return RobResult(success, amount, next_at, currency)

    return await atomic(run, idempotency_key=idempotency_key)
