"""The shop: items, stock, limits, requirements, buying, selling, using and expiring effects."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from models.economy import (
    EconomyBalance,
    EconomyShopItem,
    EconomyTransaction,
    EconomyUserItem,
    ShopItemType,
    TransactionType,
)
from models.levels import UserXP
from models.scheduling import ScheduledAction
from pegasus.errors import (
    ConflictError,
    CooldownActive,
    InsufficientFunds,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from pegasus.services import economy
from pegasus.services.economy import AlreadyProcessed
from tests.services.test_economy import (
    ALICE,
    BOB,
    CAROL,
    GUILD,
    NOW,
    STAFF,
    assert_books_balance,
    wallet_of,
)

VIP_ROLE = 700_000_000_000_000_001
REGULAR_ROLE = 700_000_000_000_000_002


async def _fund(user_id: int, amount: int = 10_000) -> None:
    await economy.admin_adjust(GUILD, STAFF, user_id, amount, take=False)


async def _xp_boost(**overrides) -> EconomyShopItem:
    fields = {
        "name": "Double XP", "price": 500, "item_type": ShopItemType.BOOST,
        "effect": economy.build_effect(ShopItemType.BOOST, boost_kind="xp", multiplier=200,
                                    duration_seconds=3600),
    } | overrides
    return await economy.add_item(GUILD, **fields)


async def _held(user_id: int, name: str) -> int:
    item = await economy.find_item(GUILD, name)
    row = await EconomyUserItem.get_or_none(
        guild_id=GUILD, user_id=user_id, item_id=item.id, slot="stack"
    )
    return row.quantity if row else 0


# -------------------------------------------------------------------------------- effects


def test_effects_are_validated_by_type() -> None:
    assert economy.build_effect(ShopItemType.ROLE, role_id=5) == {"role_id": 5}
    assert economy.build_effect(
        ShopItemType.BOOST, boost_kind="xp", multiplier=150, duration_seconds=600
    ) == {"kind": "xp", "multiplier": 150, "duration_seconds": 600}
    assert economy.build_effect(
        ShopItemType.BOOST, boost_kind="rob_protection", duration_seconds=600
    ) == {"kind": "rob_protection", "duration_seconds": 600}
    assert economy.build_effect(ShopItemType.CUSTOM, message=" Hi ") == {"message": "Hi"}
    assert economy.build_effect(ShopItemType.ITEM) == {}
    for kwargs in (
        {"item_type": ShopItemType.ROLE},
        {"item_type": ShopItemType.BOOST, "boost_kind": "luck", "duration_seconds": 600},
        {"item_type": ShopItemType.BOOST, "boost_kind": "xp", "multiplier": 150},
        {"item_type": ShopItemType.BOOST, "boost_kind": "xp", "multiplier": 90,
         "duration_seconds": 600},
        {"item_type": ShopItemType.BOOST, "boost_kind": "rob_protection", "duration_seconds": 5},
    ):
        item_type = kwargs.pop("item_type")
        with pytest.raises(ValidationError):
            economy.build_effect(item_type, **kwargs)


# -------------------------------------------------------------------------------- administration


async def test_add_edit_list_and_remove_items(db: str) -> None:
    await economy.add_item(GUILD, name="Cookie", price=20, description="Tasty")
    await economy.add_item(GUILD, name="Trophy", price=1000, stock=3)
    with pytest.raises(ConflictError, match="already has"):
        await economy.add_item(GUILD, name="cookie", price=5)
    for bad in ({"name": "", "price": 5}, {"name": "X", "price": 0},
                {"name": "Y", "price": 5, "stock": -1}, {"name": "Z", "price": 5, "min_level": -2}):
        with pytest.raises(ValidationError):
            await economy.add_item(GUILD, **bad)
    page = await economy.list_shop(GUILD)
    assert [i.name for i in page.items] == ["Cookie", "Trophy"] and page.pages == 1
    edited = await economy.edit_item(GUILD, "cookie", price=25, stock=10, name="Big Cookie")
    assert (edited.name, edited.price, edited.stock) == ("Big Cookie", 25, 10)
    assert (await economy.edit_item(GUILD, "big cookie", stock=-1)).stock is None
    with pytest.raises(ConflictError):
        await economy.edit_item(GUILD, "Big Cookie", name="trophy")
    with pytest.raises(ValidationError, match="at least one"):
        await economy.edit_item(GUILD, "Big Cookie")
    await economy.edit_item(GUILD, "Trophy", enabled=False)
    assert [i.name for i in (await economy.list_shop(GUILD)).items] == ["Big Cookie"]
    assert len((await economy.list_shop(GUILD, include_disabled=True)).items) == 2
    assert await economy.item_names(GUILD, "cook") == ["Big Cookie"]
    assert await economy.remove_item(GUILD, "big cookie") == "Big Cookie"
    with pytest.raises(NotFoundError):
        await economy.find_item(GUILD, "Big Cookie")


async def test_counts_past_what_the_columns_hold_are_refused_and_change_nothing(db: str) -> None:
    """The limit per member is a 32-bit column: past it, PostgreSQL failed the insert with an
    overflow instead of a refusal saying what is allowed."""
    with pytest.raises(ValidationError, match="from 1 to 1,000,000,000"):
        await economy.add_item(GUILD, name="Badge", price=10, max_per_user=306_695_796_799)
    assert not await EconomyShopItem.filter(guild_id=GUILD).exists()
    with pytest.raises(ValidationError, match="stock must be a whole number from 0 to"):
        await economy.add_item(GUILD, name="Badge", price=10, stock=10**19)
    await economy.add_item(GUILD, name="Badge", price=10, max_per_user=1_000_000_000, stock=5)
    with pytest.raises(ValidationError, match="from 1 to 1,000,000,000"):
        await economy.edit_item(GUILD, "Badge", max_per_user=2**31)
    item = await EconomyShopItem.get(guild_id=GUILD, name="Badge")
    assert (item.max_per_user, item.stock) == (1_000_000_000, 5)


async def test_a_nul_character_in_a_name_or_description_is_dropped(db: str) -> None:
    """PostgreSQL refuses NUL in text: the write failed instead of storing the rest."""
    await economy.add_item(GUILD, name="Ba\x00dge", price=10, description="Shiny\x00!")
    item = await EconomyShopItem.get(guild_id=GUILD, name="Badge")
    assert item.description == "Shiny!"
    await economy.edit_item(GUILD, "Badge", name="Gold\x00 Badge", description="\x00")
    item = await EconomyShopItem.get(id=item.id)
    assert (item.name, item.description) == ("Gold Badge", "")


async def test_editing_effects_and_requirements(db: str) -> None:
    boost = economy.build_effect(ShopItemType.BOOST, boost_kind="xp", multiplier=150,
                              duration_seconds=3600)
    await economy.add_item(GUILD, name="Potion", price=50, item_type=ShopItemType.BOOST,
                        effect=boost)
    edited = await economy.edit_item(GUILD, "potion", multiplier=300)
    assert edited.effect == {"kind": "xp", "multiplier": 300, "duration_seconds": 3600}
    edited = await economy.edit_item(GUILD, "potion", duration_seconds=7200)
    assert edited.effect == {"kind": "xp", "multiplier": 300, "duration_seconds": 7200}
    edited = await economy.edit_item(GUILD, "potion", boost_kind="rob_protection")
    assert edited.effect == {"kind": "rob_protection", "duration_seconds": 7200}
    for bad in ({"duration_seconds": 5}, {"multiplier": 50, "boost_kind": "xp"},
                {"role_id": 42}, {"message": "hi"}):
        with pytest.raises(ValidationError):
            await economy.edit_item(GUILD, "potion", **bad)
    await economy.add_item(GUILD, name="Badge", price=5, item_type=ShopItemType.ROLE,
                        effect=economy.build_effect(ShopItemType.ROLE, role_id=7))
    assert (await economy.edit_item(GUILD, "badge", role_id=8)).effect == {"role_id": 8}
    await economy.add_item(GUILD, name="Shoutout", price=5, item_type=ShopItemType.CUSTOM)
    assert (await economy.edit_item(GUILD, "shoutout", message=" Ping a mod ")).effect == {
        "message": "Ping a mod"
    }
    await economy.add_item(GUILD, name="Pebble", price=1)
    with pytest.raises(ValidationError, match="item item: it has no duration"):
        await economy.edit_item(GUILD, "pebble", duration_seconds=3600)
    # Requirements: set, changed part by part, removed.
    edited = await economy.edit_item(GUILD, "pebble", required_role_ids=[5], min_level=3)
    assert edited.requirements == {"role_ids": [5], "min_level": 3}
    edited = await economy.edit_item(GUILD, "pebble", min_level=0)
    assert edited.requirements == {"role_ids": [5]}
    assert (await economy.edit_item(GUILD, "pebble", required_role_ids=[])).requirements == {}
    # Nothing was stored by the refused edits.
    potion = await economy.find_item(GUILD, "Potion")
    assert potion.effect == {"kind": "rob_protection", "duration_seconds": 7200}


async def test_shop_pages(db: str) -> None:
    for n in range(8):
        await economy.add_item(GUILD, name=f"Item {n}", price=10 + n)
    first, second = await economy.list_shop(GUILD, 1), await economy.list_shop(GUILD, 2)
    assert (first.pages, len(first.items), len(second.items)) == (2, 6, 2)
    assert second.items[-1].name == "Item 7"


# -------------------------------------------------------------------------------- buying


async def test_buying_debits_the_wallet_and_fills_the_inventory(db: str) -> None:
    await economy.add_item(GUILD, name="Cookie", price=20)
    result = await economy.buy(GUILD, ALICE, "cookie", 3, now=NOW)
    assert (result.item_name, result.quantity, result.total, result.held) == ("Cookie", 3, 60, 3)
    await economy.buy(GUILD, ALICE, "Cookie", 1, now=NOW)
    assert await _held(ALICE, "Cookie") == 4
    assert await wallet_of(ALICE) == (20, 0)
    with pytest.raises(InsufficientFunds, match="costs 🪙 40"):
        await economy.buy(GUILD, ALICE, "Cookie", 2, now=NOW)
    inventory = await economy.inventory(GUILD, ALICE, now=NOW)
    assert [(line.item_name, line.quantity, line.sell_price) for line in inventory.lines] == [
        ("Cookie", 4, 10)
    ]
    await assert_books_balance()


async def test_stock_runs_out_and_is_refilled_by_selling(db: str) -> None:
    await economy.add_item(GUILD, name="Trophy", price=10, stock=2)
    await economy.buy(GUILD, ALICE, "Trophy", 2, now=NOW)
    with pytest.raises(ConflictError, match="sold out"):
        await economy.buy(GUILD, BOB, "Trophy", now=NOW)
    assert await wallet_of(BOB) == (100, 0)
    sold = await economy.sell(GUILD, ALICE, "Trophy", 1)
    assert (sold.total, sold.held) == (5, 1)
    assert (await economy.find_item(GUILD, "Trophy")).stock == 1
    with pytest.raises(ConflictError, match="Only 1"):
        await economy.buy(GUILD, BOB, "Trophy", 2, now=NOW)
    await assert_books_balance()


async def test_the_last_item_goes_to_exactly_one_buyer(db: str) -> None:
    buyers = [ALICE + n for n in range(12)]
    for user_id in buyers:
        await _fund(user_id)
    await economy.add_item(GUILD, name="Golden Egg", price=100, stock=1)
    results = await asyncio.gather(
        *(economy.buy(GUILD, user_id, "Golden Egg", now=NOW) for user_id in buyers),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, economy.TradeResult)]
    assert len(winners) == 1
    assert all(
        isinstance(r, ConflictError) for r in results if not isinstance(r, economy.TradeResult)
    )
    assert (await economy.find_item(GUILD, "Golden Egg")).stock == 0
    assert await EconomyUserItem.filter(quantity__gt=0).count() == 1
    assert sorted([(await wallet_of(u))[0] for u in buyers]) == [10_000] + [10_100] * 11
    await assert_books_balance()


async def test_per_member_limit_holds_under_concurrency(db: str) -> None:
    await _fund(ALICE)
    await economy.add_item(GUILD, name="Badge", price=10, max_per_user=3)
    results = await asyncio.gather(
        *(economy.buy(GUILD, ALICE, "Badge", now=NOW) for _ in range(8)), return_exceptions=True
    )
    assert sum(isinstance(r, economy.TradeResult) for r in results) == 3
    assert await _held(ALICE, "Badge") == 3
    with pytest.raises(ConflictError, match="at most 3"):
        await economy.buy(GUILD, ALICE, "Badge", 4, now=NOW)
    await assert_books_balance()


async def test_requirements_roles_and_level(db: str) -> None:
    await _fund(ALICE)
    await economy.add_item(GUILD, name="VIP Lounge", price=10, required_role_ids=[REGULAR_ROLE],
                        min_level=5)
    with pytest.raises(economy.MissingRoles, match="only for members with") as refused:
        await economy.buy(GUILD, ALICE, "VIP Lounge", now=NOW)
    assert refused.value.role_ids == (REGULAR_ROLE,)
    with pytest.raises(PermissionDenied, match="level 5"):
        await economy.buy(GUILD, ALICE, "VIP Lounge", member_role_ids=[REGULAR_ROLE], now=NOW)
    await UserXP.create(guild_id=GUILD, user_id=ALICE, xp=5000, level=5)
    await economy.buy(GUILD, ALICE, "VIP Lounge", member_role_ids=[REGULAR_ROLE], now=NOW)
    await assert_books_balance()


async def test_purchase_cooldown(db: str) -> None:
    await _fund(ALICE)
    await economy.add_item(GUILD, name="Lottery Ticket", price=10, cooldown_seconds=3600)
    await economy.buy(GUILD, ALICE, "Lottery Ticket", now=NOW)
    with pytest.raises(CooldownActive, match="again in 30m"):
        await economy.buy(GUILD, ALICE, "Lottery Ticket", now=NOW + timedelta(minutes=30))
    await economy.buy(GUILD, ALICE, "Lottery Ticket", now=NOW + timedelta(hours=1))
    assert await _held(ALICE, "Lottery Ticket") == 2


async def test_role_items_are_bought_once_and_name_their_role(db: str) -> None:
    await _fund(ALICE)
    await economy.add_item(GUILD, name="VIP", price=300, item_type=ShopItemType.ROLE,
                        effect=economy.build_effect(ShopItemType.ROLE, role_id=VIP_ROLE))
    bought = await economy.buy(GUILD, ALICE, "VIP", now=NOW)
    assert bought.role_id == VIP_ROLE
    with pytest.raises(ValidationError, match="only once"):
        await economy.buy(GUILD, ALICE, "VIP", 2, now=NOW)
    with pytest.raises(ConflictError, match="at most 1"):
        await economy.buy(GUILD, ALICE, "VIP", now=NOW)
    with pytest.raises(ValidationError, match="gave you its role"):
        await economy.use_item(GUILD, ALICE, "VIP", now=NOW)
    sold = await economy.sell(GUILD, ALICE, "VIP")
    assert sold.role_id == VIP_ROLE and sold.total == 150


async def test_disabled_and_unknown_items_cannot_be_bought(db: str) -> None:
    await economy.add_item(GUILD, name="Relic", price=10)
    await economy.edit_item(GUILD, "Relic", enabled=False)
    with pytest.raises(ConflictError, match="not for sale"):
        await economy.buy(GUILD, ALICE, "Relic", now=NOW)
    with pytest.raises(NotFoundError):
        await economy.buy(GUILD, ALICE, "Nothing", now=NOW)
    with pytest.raises(ValidationError, match="quantity"):
        await economy.buy(GUILD, ALICE, "Relic", 0, now=NOW)


async def test_a_purchase_delivered_twice_is_charged_once(db: str) -> None:
    await economy.add_item(GUILD, name="Cookie", price=20)
    await economy.buy(GUILD, ALICE, "Cookie", now=NOW, idempotency_key="i:1")
    with pytest.raises(AlreadyProcessed):
        await economy.buy(GUILD, ALICE, "Cookie", now=NOW, idempotency_key="i:1")
    assert await _held(ALICE, "Cookie") == 1 and await wallet_of(ALICE) == (80, 0)


async def test_selling_what_you_do_not_have_changes_nothing(db: str) -> None:
    await economy.add_item(GUILD, name="Cookie", price=20)
    with pytest.raises(ConflictError, match="don't have any"):
        await economy.sell(GUILD, ALICE, "Cookie")
    await economy.buy(GUILD, ALICE, "Cookie", now=NOW)
    with pytest.raises(ConflictError, match="only 1"):
        await economy.sell(GUILD, ALICE, "Cookie", 2)
    assert await wallet_of(ALICE) == (80, 0)
    await assert_books_balance()


# -------------------------------------------------------------------------------- using


async def test_using_an_xp_boost_activates_it_and_schedules_its_expiry(db: str) -> None:
    await _fund(ALICE)
    await _xp_boost()
    await economy.buy(GUILD, ALICE, "Double XP", 2, now=NOW)
    used = await economy.use_item(GUILD, ALICE, "double xp", now=NOW)
    assert used.expires_at == NOW + timedelta(hours=1) and used.left == 1
    row = await EconomyUserItem.get(id=used.user_item_id)
    assert row.active and row.metadata["kind"] == "xp" and row.metadata["multiplier"] == 200
    timer = await ScheduledAction.get(kind=economy.ITEM_EXPIRE_KIND)
    assert timer.payload == {"user_item_id": used.user_item_id} and timer.due_at == used.expires_at
    assert await economy.active_xp_multiplier(GUILD, ALICE, NOW) == 200
    assert await economy.active_xp_boosts(GUILD, NOW) == {ALICE: 200}
    # The effect ends at expires_at even before the scheduler runs, and for good after it runs.
    assert await economy.active_xp_multiplier(GUILD, ALICE, NOW + timedelta(hours=1)) == 100
    expired = await economy.expire_item(used.user_item_id)
    assert expired is not None and expired.kind == "xp" and expired.item_name == "Double XP"
    assert await economy.expire_item(used.user_item_id) is None
    assert await economy.active_xp_boosts(GUILD, NOW) == {}


async def test_the_best_xp_boost_counts(db: str) -> None:
    await _fund(ALICE)
    await _xp_boost()
    await _xp_boost(name="Triple XP", effect=economy.build_effect(
        ShopItemType.BOOST, boost_kind="xp", multiplier=300, duration_seconds=600))
    await economy.buy(GUILD, ALICE, "Double XP", now=NOW)
    await economy.buy(GUILD, ALICE, "Triple XP", now=NOW)
    await economy.use_item(GUILD, ALICE, "Double XP", now=NOW)
    await economy.use_item(GUILD, ALICE, "Triple XP", now=NOW)
    assert await economy.active_xp_multiplier(GUILD, ALICE, NOW) == 300
    assert await economy.active_xp_multiplier(GUILD, ALICE, NOW + timedelta(minutes=11)) == 200
    inventory = await economy.inventory(GUILD, ALICE, now=NOW)
    assert [name for name, _effect, _at in inventory.effects] == ["Triple XP", "Double XP"]
    assert inventory.lines == []


async def test_rob_protection_blocks_robbers(db: str) -> None:
    await _fund(BOB)
    await economy.add_item(GUILD, name="Guard Dog", price=200, item_type=ShopItemType.BOOST,
                        effect=economy.build_effect(ShopItemType.BOOST, boost_kind="rob_protection",
                                                 duration_seconds=86400))
    await economy.buy(GUILD, BOB, "Guard Dog", now=NOW)
    await economy.use_item(GUILD, BOB, "Guard Dog", now=NOW)
    assert await economy.has_rob_protection(GUILD, BOB, NOW)
    import random

    with pytest.raises(ConflictError, match="protected"):
        await economy.rob(GUILD, ALICE, BOB, now=NOW, rng=random.Random(1))
    later = NOW + timedelta(days=1, seconds=1)
    assert not await economy.has_rob_protection(GUILD, BOB, later)
    await economy.rob(GUILD, ALICE, BOB, now=later, rng=random.Random(1))
    await assert_books_balance()


async def test_using_custom_items_and_what_cannot_be_used(db: str) -> None:
    await _fund(CAROL)
    await economy.add_item(GUILD, name="Shoutout", price=50, item_type=ShopItemType.CUSTOM,
                        effect={"message": "Staff will shout you out."})
    await economy.add_item(GUILD, name="Pebble", price=1)
    await economy.buy(GUILD, CAROL, "Shoutout", now=NOW)
    await economy.buy(GUILD, CAROL, "Pebble", now=NOW)
    used = await economy.use_item(GUILD, CAROL, "Shoutout", now=NOW)
    assert used.effect["message"] == "Staff will shout you out." and used.expires_at is None
    with pytest.raises(ConflictError, match="don't have any"):
        await economy.use_item(GUILD, CAROL, "Shoutout", now=NOW)
    with pytest.raises(ValidationError, match="can't be used"):
        await economy.use_item(GUILD, CAROL, "Pebble", now=NOW)


async def test_a_use_delivered_twice_uses_one_item(db: str) -> None:
    await _fund(ALICE)
    await _xp_boost()
    await economy.buy(GUILD, ALICE, "Double XP", 3, now=NOW)
    results = await asyncio.gather(
        *(economy.use_item(GUILD, ALICE, "Double XP", now=NOW, idempotency_key="i:7")
          for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, economy.UseResult) for r in results) == 1
    refused = [r for r in results if not isinstance(r, economy.UseResult)]
    assert all(isinstance(r, AlreadyProcessed) for r in refused)
    assert await _held(ALICE, "Double XP") == 2
    assert await ScheduledAction.filter(kind=economy.ITEM_EXPIRE_KIND).count() == 1


async def test_removing_an_item_removes_it_from_inventories(db: str) -> None:
    await economy.add_item(GUILD, name="Cookie", price=20)
    await economy.buy(GUILD, ALICE, "Cookie", now=NOW)
    await economy.remove_item(GUILD, "Cookie")
    assert (await economy.inventory(GUILD, ALICE, now=NOW)).lines == []
    # The purchase stays in the ledger; the money is not refunded by removing the item.
    assert await economy.list_transactions(GUILD, ALICE)
    assert (await wallet_of(ALICE))[0] == 80
    assert await EconomyTransaction.filter(type=TransactionType.SHOP_BUY).count() == 1


# -------------------------------------------------------------------------------- refunds


async def _balance_row(user_id: int) -> EconomyBalance:
    return await EconomyBalance.get(guild_id=GUILD, user_id=user_id)


async def test_a_refund_undoes_a_purchase_whole_and_once(db: str) -> None:
    await _fund(ALICE, 1_000)  # 1,100
    await economy.add_item(GUILD, name="VIP", price=300, item_type=ShopItemType.ROLE, stock=2,
                        cooldown_seconds=86400,
                        effect=economy.build_effect(ShopItemType.ROLE, role_id=VIP_ROLE))
    bought = await economy.buy(GUILD, ALICE, "VIP", now=NOW)
    assert bought.transaction_id is not None
    assert (await _balance_row(ALICE)).total_spent == 300
    refund = await economy.refund_purchase(GUILD, bought.transaction_id, reason="role refused")
    assert (refund.amount, refund.wallet, refund.quantity) == (300, 1_100, 1)
    row = await EconomyTransaction.get(id=refund.transaction_id)
    assert row.type == TransactionType.REVERSAL and row.amount == 300
    assert row.related_transaction_id == bought.transaction_id  # type: ignore[attr-defined]
    assert "role refused" in row.description
    balance = await _balance_row(ALICE)
    assert (balance.wallet, balance.total_spent, balance.total_earned) == (1_100, 0, 0)
    assert await _held(ALICE, "VIP") == 0
    assert (await economy.find_item(GUILD, "VIP")).stock == 2
    with pytest.raises(ConflictError, match="already refunded"):
        await economy.refund_purchase(GUILD, bought.transaction_id, reason="again")
    with pytest.raises(ConflictError, match="already"):
        await economy.reverse_transaction(GUILD, STAFF, bought.transaction_id.hex)
    # The purchase cooldown went with the purchase: buying again works at once.
    again = await economy.buy(GUILD, ALICE, "VIP", now=NOW + timedelta(minutes=1))
    assert again.held == 1 and await wallet_of(ALICE) == (800, 0)
    await assert_books_balance()


async def test_a_refund_needs_the_items_still_held(db: str) -> None:
    await _fund(ALICE)
    await economy.add_item(GUILD, name="Cookie", price=20, stock=5)
    bought = await economy.buy(GUILD, ALICE, "Cookie", 2, now=NOW)
    await economy.sell(GUILD, ALICE, "Cookie")
    before = await wallet_of(ALICE)
    with pytest.raises(ConflictError, match="no longer holds"):
        await economy.refund_purchase(GUILD, bought.transaction_id, reason="test")
    assert await wallet_of(ALICE) == before and await _held(ALICE, "Cookie") == 1
    assert (await economy.find_item(GUILD, "Cookie")).stock == 4
    assert not await EconomyTransaction.filter(type=TransactionType.REVERSAL).exists()
    with pytest.raises(NotFoundError):
        await economy.refund_purchase(GUILD, uuid.uuid4(), reason="test")
    await assert_books_balance()


async def test_a_refund_of_an_item_removed_since_gives_the_money_back(db: str) -> None:
    await economy.add_item(GUILD, name="Cookie", price=20)
    bought = await economy.buy(GUILD, ALICE, "Cookie", now=NOW)
    await economy.remove_item(GUILD, "Cookie")
    refund = await economy.refund_purchase(GUILD, bought.transaction_id, reason="test")
    assert refund.wallet == 100
    await assert_books_balance()


async def test_staff_reversing_a_purchase_takes_the_items_back(db: str) -> None:
    await _fund(ALICE)
    await economy.add_item(GUILD, name="Cookie", price=20, stock=5)
    bought = await economy.buy(GUILD, ALICE, "Cookie", 3, now=NOW)
    result = await economy.reverse_transaction(GUILD, STAFF, bought.transaction_id.hex[:8])
    assert result.original_ids == (bought.transaction_id,)
    assert await _held(ALICE, "Cookie") == 0
    assert (await economy.find_item(GUILD, "Cookie")).stock == 5
    assert (await _balance_row(ALICE)).total_spent == 0
    reversal = await EconomyTransaction.get(id=result.reversal_ids[0])
    assert reversal.metadata["actor_id"] == STAFF and reversal.amount == 60
    await assert_books_balance()
