"""The race: 500 concurrent mixed economy operations, then the books must still balance.

Run on both dialects (`PEGASUS_TEST_DB=postgres` for PostgreSQL). Operations that are refused
(not enough money, cooldowns, sold out, already claimed) are fine; anything that is not a
PegasusError, a negative balance, a lost or created coin, an oversold item or a second daily fails.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from models.economy import (
    EconomyBalance,
    EconomyBlackjackGame,
    EconomyShopItem,
    EconomyTransaction,
    EconomyUserItem,
    ShopItemType,
    TransactionType,
)
from pegasus import sqlitehandoff
from pegasus.errors import ConflictError, PegasusError
from pegasus.services import economy
from pegasus.services.economy import ALL
from tests.conftest import test_dialect
from tests.services.test_economy import GUILD, NOW, STAFF, assert_books_balance, wallet_of

MEMBERS = [100_000_000_000_000_101 + n for n in range(6)]
ALICE, BOB = MEMBERS[0], MEMBERS[1]
OPERATIONS = 500
STOCK = 5
# Never sold back, so it sells out for good: an oversold last item cannot hide behind a refill.
LAST_STOCK = 3


def _operation(i: int, rng: random.Random) -> Callable[[], Awaitable[object]]:
    """The i-th operation of the race; `rng` decides which and with what."""
    a, b = rng.sample(MEMBERS, 2)
    own = random.Random(i)
    kind = rng.choice(
        ["pay_ab", "pay_ba", "pay", "daily", "buy", "coinflip", "slots", "deposit", "withdraw",
         "take", "work", "rob", "blackjack", "twice", "sell"]
    )
    amount = rng.randint(1, 400)
    if kind == "pay_ab":
        return lambda: economy.pay(GUILD, ALICE, BOB, amount)
    if kind == "pay_ba":
        return lambda: economy.pay(GUILD, BOB, ALICE, amount)
    if kind == "pay":
        return lambda: economy.pay(GUILD, a, b, amount if i % 7 else ALL)
    if kind == "daily":
        return lambda: economy.claim_daily(GUILD, a, now=NOW)
    if kind == "buy":
        return lambda: economy.buy(GUILD, a, "Golden Egg" if i % 2 else "Crown", now=NOW)
    if kind == "sell":
        return lambda: economy.sell(GUILD, a, "Golden Egg")
    if kind == "coinflip":
        return lambda: economy.coinflip(GUILD, a, min(amount, 100) + 10, "heads", rng=own)
    if kind == "slots":
        return lambda: economy.slots(GUILD, a, min(amount, 100) + 10, rng=own)
    if kind == "deposit":
        return lambda: economy.deposit(GUILD, a, amount if i % 5 else ALL)
    if kind == "withdraw":
        return lambda: economy.withdraw(GUILD, a, amount if i % 5 else ALL)
    if kind == "take":
        return lambda: economy.admin_adjust(GUILD, STAFF, a, amount, take=True, reason="race")
    if kind == "work":
        return lambda: economy.work(GUILD, a, now=NOW, rng=own)
    if kind == "rob":
        return lambda: economy.rob(GUILD, a, b, now=NOW, rng=own)
    if kind == "blackjack":
        async def blackjack() -> object:
            view = await economy.start_blackjack(GUILD, a, 20, rng=own, now=NOW)
            if view.active:
                return await economy.blackjack_stand(view.game_id, a)
            return view
        return blackjack
    # The same interaction delivered twice: at most one of the two may pay. (The other is refused
    # as a duplicate, or for lack of money when it ran first while the wallet was empty.)
    key = f"race:{i}"

    async def twice() -> object:
        results = await asyncio.gather(
            economy.pay(GUILD, a, b, 5, idempotency_key=key),
            economy.pay(GUILD, a, b, 5, idempotency_key=key),
            return_exceptions=True,
        )
        assert sum(isinstance(r, economy.PayResult) for r in results) <= 1, results
        assert all(isinstance(r, economy.PayResult | PegasusError) for r in results), results
        assert await EconomyTransaction.filter(idempotency_key=key).count() <= 1
        return results
    return twice


async def test_500_concurrent_operations_keep_the_books(db: str) -> None:
    for user_id in MEMBERS:
        await economy.admin_adjust(GUILD, STAFF, user_id, 2_000, take=False)
    await economy.add_item(GUILD, name="Golden Egg", price=150, stock=STOCK)
    await economy.add_item(GUILD, name="Crown", price=100, stock=LAST_STOCK)
    rng = random.Random(20260302)
    operations = [_operation(i, rng) for i in range(OPERATIONS)]

    async def run(operation: Callable[[], Awaitable[object]]) -> object:
        try:
            return await operation()
        except PegasusError as refusal:
            return refusal

    results = await asyncio.gather(*(run(op) for op in operations))
    unexpected = [r for r in results if isinstance(r, BaseException)
                  and not isinstance(r, PegasusError)]
    assert not unexpected
    succeeded = sum(not isinstance(r, PegasusError) for r in results)
    assert succeeded > OPERATIONS // 4, Counter(type(r).__name__ for r in results)

    await assert_books_balance()
    item = await EconomyShopItem.get(guild_id=GUILD, name="Golden Egg")
    held = sum(await EconomyUserItem.filter(item_id=item.id).values_list("quantity", flat=True))
    assert item.stock is not None and item.stock >= 0
    assert item.stock + held == STOCK
    crown = await EconomyShopItem.get(guild_id=GUILD, name="Crown")
    crowns = sum(await EconomyUserItem.filter(item_id=crown.id).values_list("quantity", flat=True))
    purchases = await EconomyTransaction.filter(type=TransactionType.SHOP_BUY).values_list(
        "metadata", flat=True
    )
    bought = sum(m.get("item") == "Crown" for m in purchases)
    # More buyers than crowns: every crown is sold, each to one paying buyer, and no more.
    assert (crown.stock, crowns, bought) == (0, LAST_STOCK, LAST_STOCK)
    keyed = Counter(
        await EconomyTransaction.filter(idempotency_key__startswith="race:").values_list(
            "idempotency_key", flat=True
        )
    )
    assert keyed and max(keyed.values()) == 1
    dailies = Counter(
        await EconomyTransaction.filter(type=TransactionType.DAILY).values_list(
            "user_id", flat=True
        )
    )
    assert dailies and max(dailies.values()) == 1
    assert not await EconomyBlackjackGame.filter(status="active").exists()
    for row in await EconomyBalance.filter(guild_id=GUILD):
        assert row.net_worth == row.wallet + row.bank >= 0


# -------------------------------------------------------------------------------- rob protection


class SignallingRng(random.Random):
    """Draws a successful robbery taking the largest share, and says when the robbery drew."""

    def __init__(self) -> None:
        super().__init__(0)
        self.drawn = asyncio.Event()

    def randrange(self, *args, **kwargs) -> int:  # type: ignore[override]
        self.drawn.set()
        return 0

    def randint(self, a: int, b: int) -> int:
        return b


async def _postgres_backend_waits_on_a_lock() -> None:
    """Until some session of this database waits for a row lock (the robbery, on the victim)."""
    client = connections.get("default")
    query = ("SELECT count(*) AS n FROM pg_stat_activity "
             "WHERE datname = current_database() AND wait_event_type = 'Lock'")
    for _ in range(2000):
        if (await client.execute_query_dict(query))[0]["n"]:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the robbery never waited for the victim's balance")


async def test_rob_protection_activated_during_a_robbery_blocks_it(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The protection is committed after the robbery started but before it could lock the
    victim: the robbery must see it, whatever it read before its own transaction."""
    # On SQLite, statements answered through the event loop, as a slow one's is: a quick one is
    # answered without a turn of the loop, which leaves the protection no moment to come in.
    monkeypatch.setattr(sqlitehandoff, "WAIT_LIMIT", 0.0)
    await economy.admin_adjust(GUILD, STAFF, BOB, 1_000, take=False)
    await economy.add_item(GUILD, name="Guard Dog", price=200, item_type=ShopItemType.BOOST,
                        effect=economy.build_effect(ShopItemType.BOOST, boost_kind="rob_protection",
                                                 duration_seconds=86400))
    await economy.buy(GUILD, BOB, "Guard Dog", now=NOW)
    await economy.get_balance(GUILD, ALICE)
    rng = SignallingRng()
    locked, go = asyncio.Event(), asyncio.Event()
    postgres = test_dialect() == "postgres"

    async def protect() -> None:
        if not postgres:
            # SQLite runs one transaction at a time: start right after the robbery's draw, so
            # this whole transaction falls between the robbery's start and its transaction.
            await rng.drawn.wait()
        async with in_transaction() as conn:
            await EconomyBalance.filter(guild_id=GUILD, user_id=BOB).using_db(
                conn
            ).select_for_update().get()
            locked.set()
            await go.wait()
            await economy.use_item(GUILD, BOB, "Guard Dog", now=NOW)

    protector = asyncio.create_task(protect())
    if postgres:
        await locked.wait()  # the victim's row is locked before the robbery starts
    robbery = asyncio.create_task(
        economy.rob(GUILD, ALICE, BOB, now=NOW, rng=rng, idempotency_key="rob-race")
    )
    if postgres:
        await _postgres_backend_waits_on_a_lock()
    go.set()
    await protector
    with pytest.raises(ConflictError, match="protected"):
        await robbery
    assert await wallet_of(BOB) == (900, 0)  # 100 + 1,000 - 200 for the dog: nothing stolen
    assert not await EconomyTransaction.filter(type=TransactionType.ROB).exists()
    assert not await EconomyTransaction.filter(type=TransactionType.FINE).exists()
    await assert_books_balance()
