"""What the economy stores about a member, and how an erasure keeps every balance exact.

A member's balance equals the sum of their own ledger rows, so the two go together: the balance
row and the member's ledger rows are deleted in the same transaction. The other side of a
payment, a robbery or a staff adjustment is another member's ledger row: it keeps its amount
(their balance still equals their ledger) but no longer names the erased member.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.economy import (
    EconomyBalance,
    EconomyBlackjackGame,
    EconomyCooldown,
    EconomyGamblingStats,
    EconomyTransaction,
    EconomyUserItem,
)
from pegasus.i18n import N_
from pegasus.services.privacy import PrivacyDeclaration, register


async def export_economy(guild_id: int, user_id: int) -> dict[str, Any]:
    mine = {"guild_id": guild_id, "user_id": user_id}
    balance = await EconomyBalance.filter(**mine).values(
        "wallet", "bank", "net_worth", "total_earned", "total_spent", "total_gambled",
        "daily_streak", "best_daily_streak", "last_daily_day", "created_at",
    )
    return {
        "balance": balance[0] if balance else None,
        "ledger": await EconomyTransaction.filter(**mine).order_by("created_at").values(
            "id", "type", "amount", "bank_amount", "description", "metadata",
            "related_user_id", "created_at",
        ),
        "inventory": await EconomyUserItem.filter(**mine).values(
            "item__name", "slot", "quantity", "metadata", "purchased_at", "expires_at", "active"
        ),
        "cooldowns": await EconomyCooldown.filter(**mine).values(
            "command", "last_used", "next_available"
        ),
        "gambling_stats": await EconomyGamblingStats.filter(**mine).values(
            "game", "games_played", "games_won", "total_wagered", "total_won", "biggest_win",
            "biggest_loss", "current_streak", "best_streak",
        ),
        "blackjack_hands": await EconomyBlackjackGame.filter(**mine).values(
            "bet", "player_hand", "dealer_hand", "status", "payout", "created_at"
        ),
    }


async def erase_economy(guild_id: int, user_id: int, conn: BaseDBAsyncClient) -> dict[str, int]:
    mine = {"guild_id": guild_id, "user_id": user_id}
    own_ids = await (
        EconomyTransaction.filter(**mine).using_db(conn).values_list("id", flat=True)
    )
    # Other rows pointing at the member's rows (a transfer's other half, a reversal's original)
    # keep their amounts; the link would lead nowhere.
    await (
        EconomyTransaction.filter(guild_id=guild_id, related_transaction_id__in=own_ids)
        .exclude(user_id=user_id)
        .using_db(conn)
        .update(related_transaction_id=None)
    )
    counterparts = await _forget_counterpart(guild_id, user_id, conn)
    return {
        "ledger rows": await EconomyTransaction.filter(**mine).using_db(conn).delete(),
        "balances": await EconomyBalance.filter(**mine).using_db(conn).delete(),
        "inventory rows": await EconomyUserItem.filter(**mine).using_db(conn).delete(),
        "cooldowns": await EconomyCooldown.filter(**mine).using_db(conn).delete(),
        "gambling statistics": await (
            EconomyGamblingStats.filter(**mine).using_db(conn).delete()
        ),
        "blackjack hands": await EconomyBlackjackGame.filter(**mine).using_db(conn).delete(),
        "other members' ledger rows no longer naming them": counterparts,
    }


async def _forget_counterpart(guild_id: int, user_id: int, conn: BaseDBAsyncClient) -> int:
    """Other members' ledger rows that name the member (as the other party, or as the staff
    member in `metadata`) keep their amounts and lose the name."""
    rows = await (
        EconomyTransaction.filter(guild_id=guild_id, related_user_id=user_id)
        .exclude(user_id=user_id)
        .using_db(conn)
        .values("id", "metadata")
    )
    for row in rows:
        metadata = row["metadata"] if isinstance(row["metadata"], dict) else {}
        kept = {key: value for key, value in metadata.items() if value != user_id}
        await (
            EconomyTransaction.filter(id=row["id"])
            .using_db(conn)
            .update(related_user_id=None, metadata=kept)
        )
    return len(rows)


DECLARATION = register(
    PrivacyDeclaration(
        feature="economy",
        explanation=N_(
            "Your wallet and bank, every change to them (the ledger), your items, when you may "
            "next work or rob, your gambling statistics and blackjack hands."
        ),
        covers=(
            (EconomyBalance, ("user",)),
            (EconomyTransaction, ("user", "related_user")),
            (EconomyUserItem, ("user",)),
            (EconomyCooldown, ("user",)),
            (EconomyGamblingStats, ("user",)),
            (EconomyBlackjackGame, ("user",)),
        ),
        export=export_economy,
        erase=erase_economy,
        erased=(
            N_(
                "your wallet, bank and ledger (other members' rows keep their amounts but no "
                "longer name you)"
            ),
            N_("your inventory, cooldowns, gambling statistics and blackjack hands"),
        ),
    )
)
