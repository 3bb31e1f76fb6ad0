"""The economy over HTTP: balances, ledgers, give/take/reverse and the shop, refused with the
commands' sentences, audited as the key's owner from the API, and never losing or doubling money."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from models.economy import EconomyBalance, EconomyShopItem, EconomyTransaction
from models.guilds import User
from models.security import AuditLog, AuditSource, IdempotentRequest
from pegasus.errors import PegasusError
from pegasus.services import economy
from pegasus.services.economy import ShopItemType
from pegasus.web.roles import UNREADABLE
from tests.web.conftest import GUILD, OWNER, Api

BASE = f"/api/v1/guilds/{GUILD}/economy"
ALICE = 751_111_111_111_111_111
BOB = 752_222_222_222_222_222
CAROL = 753_333_333_333_333_333
A_BOT = 754_444_444_444_444_444


def refusal(error: PegasusError | BaseException) -> str:
    assert isinstance(error, PegasusError), error
    return error.plain()


def sentence_of(call: Any) -> str:
    """The sentence a service refuses with, as the API shows it."""
    try:
        call()
    except PegasusError as error:
        return error.plain()
    raise AssertionError("accepted")


async def ledger_matches_balances() -> None:
    """Each wallet and bank equals the sum of its own ledger rows."""
    for row in await EconomyBalance.filter(guild_id=GUILD):
        rows = await EconomyTransaction.filter(guild_id=GUILD, user_id=row.user_id).values_list(
            "amount", "bank_amount"
        )
        assert (row.wallet, row.bank) == (sum(a for a, _ in rows), sum(b for _, b in rows))
    held, recorded = await economy.total_money(GUILD)
    assert held == recorded


async def starting_balance() -> int:
    return (await economy.get_settings(GUILD)).starting_balance


# --------------------------------------------------------------------------------- balances


async def test_balances_are_listed_richest_first_page_by_page(api: Api) -> None:
    key = await api.key(["economy:read", "economy:write"])
    for user_id, amount in ((ALICE, 300), (BOB, 100), (CAROL, 200)):
        status, body, _ = await api.call(
            "POST", f"{BASE}/balances/{user_id}/give", key=key, json={"amount": amount}
        )
        assert status == 201, body
    status, first, _ = await api.call("GET", f"{BASE}/balances?limit=2", key=key)
    assert status == 200, first
    assert [entry["user_id"] for entry in first["items"]] == [ALICE, CAROL]
    assert first["items"][0]["wallet"] == await starting_balance() + 300
    assert first["next_cursor"]
    status, second, _ = await api.call(
        "GET", f"{BASE}/balances?limit=2&cursor={first['next_cursor']}", key=key
    )
    assert status == 200
    assert [entry["user_id"] for entry in second["items"]] == [BOB]
    assert second["next_cursor"] is None


async def test_one_members_balance_and_a_member_without_an_account(api: Api) -> None:
    key = await api.key(["economy:read", "economy:write"])
    await api.call("POST", f"{BASE}/balances/{ALICE}/give", key=key, json={"amount": 50})
    status, body, _ = await api.call("GET", f"{BASE}/balances/{ALICE}", key=key)
    assert status == 200, body
    assert body["user_id"] == ALICE and body["rank"] == 1
    assert body["wallet"] == await starting_balance() + 50 and body["bank"] == 0
    assert set(body["currency"]) == {"name", "symbol"}
    status, body, _ = await api.call("GET", f"{BASE}/balances/{BOB}", key=key)
    assert status == 404
    assert body["detail"] == f"user {BOB} has no economy account in this server yet."
    assert not await EconomyBalance.exists(guild_id=GUILD, user_id=BOB)  # reading opened none


async def test_a_members_transactions_newest_first_page_by_page(api: Api) -> None:
    key = await api.key(["economy:read", "economy:write"])
    for amount in (10, 20, 30):
        await api.call("POST", f"{BASE}/balances/{ALICE}/give", key=key, json={"amount": amount})
    await api.call("POST", f"{BASE}/balances/{BOB}/give", key=key, json={"amount": 5})
    seen: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page, _ = await api.call(
            "GET", f"{BASE}/balances/{ALICE}/transactions?limit=2{cursor}", key=key
        )
        assert status == 200, page
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    given = [row["amount"] for row in seen if row["type"] == "admin"]
    assert given == [30, 20, 10]
    assert {row["user_id"] for row in seen} == {ALICE}
    assert all(row["metadata"]["actor_id"] == OWNER for row in seen if row["type"] == "admin")
    _, balance, _ = await api.call("GET", f"{BASE}/balances/{ALICE}", key=key)
    assert sum(row["amount"] for row in seen) == balance["wallet"]
    status, one, _ = await api.call(
        "GET", f"{BASE}/transactions/{seen[0]['id'][:8]}", key=key
    )
    assert status == 200 and one == seen[0]
    status, body, _ = await api.call("GET", f"{BASE}/balances/{CAROL}/transactions", key=key)
    assert status == 404
    assert body["detail"] == f"user {CAROL} has no economy account in this server yet."


# ------------------------------------------------------------------------------ give / take


async def test_give_and_take_move_money_and_are_audited_from_the_api(api: Api) -> None:
    key = await api.key(["economy:write"])
    start = await starting_balance()
    status, given, _ = await api.call(
        "POST", f"{BASE}/balances/{ALICE}/give", key=key,
        json={"amount": 500, "reason": "event prize"}, headers={"User-Agent": "dash/1"},
    )
    assert status == 201, given
    assert (given["amount"], given["wallet"], given["bank"]) == (500, start + 500, 0)
    row = await EconomyTransaction.get(id=given["transaction_id"])
    assert row.description == "Given by staff: event prize"
    assert row.metadata["actor_id"] == OWNER
    status, taken, _ = await api.call(
        "POST", f"{BASE}/balances/{ALICE}/take", key=key, json={"amount": 200}
    )
    assert status == 201, taken
    assert taken["wallet"] == start + 300
    audits = await AuditLog.filter(guild_id=GUILD, action__startswith="api.").order_by(
        "created_at"
    )
    assert [a.action for a in audits] == ["api.give_money", "api.take_money"]
    for audit in audits:
        assert audit.source is AuditSource.API
        assert audit.actor_id == OWNER  # type: ignore[attr-defined]
    assert audits[0].after is not None
    assert audits[0].after["body"] == {"amount": 500, "reason": "event prize"}
    assert audits[0].user_agent == "dash/1"
    await ledger_matches_balances()


async def test_give_and_take_are_refused_like_the_command_and_change_nothing(api: Api) -> None:
    key = await api.key(["economy:write"])
    await api.call("POST", f"{BASE}/balances/{ALICE}/give", key=key, json={"amount": 100})
    await User.create(id=A_BOT, username="helper bot", is_bot=True)
    wallet = (await EconomyBalance.get(guild_id=GUILD, user_id=ALICE)).wallet
    rows_before = await EconomyTransaction.filter(guild_id=GUILD).count()
    audits_before = await AuditLog.filter(guild_id=GUILD).count()
    currency = (await economy.get_settings(GUILD)).currency
    cases = [
        ("give", ALICE, {"amount": 0}, 422,
         sentence_of(lambda: economy.parse_amount("0", allow_all=False))),
        ("take", ALICE, {"amount": -5}, 422,
         sentence_of(lambda: economy.validate_amount(-5))),
        ("give", ALICE, {"amount": economy.MAX_BALANCE + 1}, 422,
         sentence_of(lambda: economy.validate_amount(economy.MAX_BALANCE + 1))),
        ("take", ALICE, {"amount": wallet + 1}, 409,
         f"The wallet holds only {currency.format(wallet)} "
         f"(needed {currency.format(wallet + 1)})."),
        ("give", A_BOT, {"amount": 10}, 422, "Bots have no wallet."),
        ("give", ALICE, {"amount": 10, "reason": "x" * 201}, 422,
         "The reason can be at most 200 characters."),
        ("give", ALICE, {"amount": "ten"}, 422, "`amount` must be a whole number."),
    ]
    for verb, user_id, sent, expected_status, sentence in cases:
        status, body, _ = await api.call(
            "POST", f"{BASE}/balances/{user_id}/{verb}", key=key, json=sent
        )
        assert (status, body["detail"]) == (expected_status, sentence), (verb, sent)
    assert (await EconomyBalance.get(guild_id=GUILD, user_id=ALICE)).wallet == wallet
    assert not await EconomyBalance.exists(guild_id=GUILD, user_id=A_BOT)
    assert await EconomyTransaction.filter(guild_id=GUILD).count() == rows_before
    assert await AuditLog.filter(guild_id=GUILD).count() == audits_before


async def test_a_retried_give_with_the_same_idempotency_key_pays_once(api: Api) -> None:
    key = await api.key(["economy:write"])
    url = f"{BASE}/balances/{ALICE}/give"
    headers = {"Idempotency-Key": "prize-2024-alice"}
    first = await api.call("POST", url, key=key, json={"amount": 700}, headers=headers)
    again = await api.call("POST", url, key=key, json={"amount": 700}, headers=headers)
    assert first[0] == again[0] == 201
    assert again[1] == first[1] and again[2]["Idempotent-Replayed"] == "true"
    assert await EconomyTransaction.filter(guild_id=GUILD, type="admin").count() == 1
    # Even once the stored answer is gone (kept a day, or its process died), the ledger row
    # carries the key: the retry is recognised and pays nothing.
    await IdempotentRequest.all().delete()
    status, body, _ = await api.call("POST", url, key=key, json={"amount": 700}, headers=headers)
    assert status == 409
    assert body["detail"] == refusal(economy.AlreadyProcessed())
    assert await EconomyTransaction.filter(guild_id=GUILD, type="admin").count() == 1
    # Another key is another request.
    status, _, _ = await api.call(
        "POST", url, key=key, json={"amount": 700}, headers={"Idempotency-Key": "prize-2"}
    )
    assert status == 201
    wallet = (await EconomyBalance.get(guild_id=GUILD, user_id=ALICE)).wallet
    assert wallet == await starting_balance() + 1400
    await ledger_matches_balances()


async def test_concurrent_gives_and_takes_keep_every_balance_equal_to_its_ledger(
    api: Api,
) -> None:
    key = await api.key(["economy:write"], rate_limit=10_000)
    for user_id in (ALICE, BOB):
        await api.call("POST", f"{BASE}/balances/{user_id}/give", key=key, json={"amount": 100})

    async def one(index: int) -> int:
        user_id = (ALICE, BOB)[index % 2]
        verb = "take" if index % 3 == 0 else "give"
        status, _, _ = await api.call(
            "POST", f"{BASE}/balances/{user_id}/{verb}", key=key, json={"amount": 40},
            headers={"Idempotency-Key": f"race-{index}"},
        )
        return status

    statuses = await asyncio.gather(*(one(i) for i in range(30)))
    assert set(statuses) <= {201, 409}
    await ledger_matches_balances()
    for user_id in (ALICE, BOB):
        assert (await EconomyBalance.get(guild_id=GUILD, user_id=user_id)).wallet >= 0


# ------------------------------------------------------------------------------- reversals


async def test_a_transaction_is_reversed_once(api: Api) -> None:
    key = await api.key(["economy:write", "economy:read"])
    _, given, _ = await api.call(
        "POST", f"{BASE}/balances/{ALICE}/give", key=key, json={"amount": 250}
    )
    short = given["transaction_id"].replace("-", "")[:8]
    status, body, _ = await api.call("POST", f"{BASE}/transactions/{short}/reverse", key=key)
    assert status == 201, body
    assert body["original_ids"] == [given["transaction_id"]]
    assert (await EconomyBalance.get(guild_id=GUILD, user_id=ALICE)).wallet == (
        await starting_balance()
    )
    status, body, _ = await api.call("POST", f"{BASE}/transactions/{short}/reverse", key=key)
    assert status == 409
    assert body["detail"] == f"Transaction `{short}` was already reversed."
    status, body, _ = await api.call("POST", f"{BASE}/transactions/zz/reverse", key=key)
    assert status == 422
    assert body["detail"] == (
        "Give the transaction id shown by /transactions (at least its first 8 characters)."
    )
    assert await EconomyTransaction.filter(guild_id=GUILD, type="reversal").count() == 1
    audits = await AuditLog.filter(action="api.reverse_ledger_transaction")
    assert len(audits) == 1 and audits[0].source is AuditSource.API
    await ledger_matches_balances()


async def test_a_reversal_is_refused_when_the_money_is_gone(api: Api) -> None:
    key = await api.key(["economy:write"])
    _, given, _ = await api.call(
        "POST", f"{BASE}/balances/{ALICE}/give", key=key, json={"amount": 250}
    )
    wallet = given["wallet"]
    await api.call("POST", f"{BASE}/balances/{ALICE}/take", key=key, json={"amount": wallet})
    currency = (await economy.get_settings(GUILD)).currency
    status, body, _ = await api.call(
        "POST", f"{BASE}/transactions/{given['transaction_id']}/reverse", key=key
    )
    assert status == 409
    assert body["detail"] == (
        f"The wallet holds only {currency.format(0)} (needed {currency.format(250)})."
    )
    assert not await EconomyTransaction.filter(guild_id=GUILD, type="reversal").exists()
    await ledger_matches_balances()


# ------------------------------------------------------------------------------------ shop


async def test_shop_items_are_created_read_listed_edited_and_removed(api: Api) -> None:
    key = await api.key(["economy:read", "economy:write"])
    made = []
    for name, price in (("Cake", 300), ("Tea", 100), ("Boat", 5000)):
        status, item, _ = await api.call(
            "POST", f"{BASE}/shop/items", key=key,
            json={"name": name, "price": price, "description": f"A {name.lower()}"},
        )
        assert status == 201, item
        made.append(item)
    status, boost, _ = await api.call(
        "POST", f"{BASE}/shop/items", key=key,
        json={"name": "Double XP", "price": 900, "type": "boost", "boost_kind": "xp",
              "multiplier": 200, "duration_seconds": 3600, "stock": 5, "min_level": 3},
    )
    assert status == 201, boost
    assert boost["effect"] == {"kind": "xp", "multiplier": 200, "duration_seconds": 3600}
    assert (boost["stock"], boost["requirements"]) == (5, {"min_level": 3})

    status, page, _ = await api.call("GET", f"{BASE}/shop/items?limit=3", key=key)
    assert status == 200
    assert [i["name"] for i in page["items"]] == ["Tea", "Cake", "Double XP"]
    _, rest, _ = await api.call(
        "GET", f"{BASE}/shop/items?limit=3&cursor={page['next_cursor']}", key=key
    )
    assert [i["name"] for i in rest["items"]] == ["Boat"] and rest["next_cursor"] is None

    cake = made[0]
    status, edited, _ = await api.call(
        "PATCH", f"{BASE}/shop/items/{cake['id']}", key=key,
        json={"price": 350, "enabled": False, "stock": 10},
    )
    assert status == 200, edited
    assert (edited["price"], edited["enabled"], edited["stock"]) == (350, False, 10)
    _, read, _ = await api.call("GET", f"{BASE}/shop/items/{cake['id']}", key=key)
    assert read == edited
    _, for_sale, _ = await api.call("GET", f"{BASE}/shop/items?enabled=true", key=key)
    assert "Cake" not in [i["name"] for i in for_sale["items"]]

    status, _, _ = await api.call("DELETE", f"{BASE}/shop/items/{cake['id']}", key=key)
    assert status == 204
    assert not await EconomyShopItem.exists(id=cake["id"])
    status, body, _ = await api.call("GET", f"{BASE}/shop/items/{cake['id']}", key=key)
    assert status == 404 and body["detail"] == f"There is no item with id {cake['id']} in the shop."

    audits = await AuditLog.filter(guild_id=GUILD, target_id=str(cake["id"])).order_by(
        "created_at"
    )
    assert [a.action for a in audits] == ["shop.item.add", "shop.item.edit", "shop.item.remove"]
    assert all(a.source is AuditSource.API and a.actor_id == OWNER for a in audits)  # type: ignore[attr-defined]
    assert audits[1].before is not None and audits[1].after is not None
    assert (audits[1].before["price"], audits[1].after["price"]) == (300, 350)


async def test_shop_refusals_are_the_commands_and_change_nothing(api: Api) -> None:
    key = await api.key(["economy:read", "economy:write"])
    _, cake, _ = await api.call(
        "POST", f"{BASE}/shop/items", key=key, json={"name": "Cake", "price": 300}
    )
    audits_before = await AuditLog.filter(guild_id=GUILD).count()
    creations = [
        ({"name": "cake", "price": 10}, 409, "The shop already has an item called **cake**."),
        ({"name": "Pie", "price": 0}, 422, "The price must be more than zero."),
        ({"name": " ", "price": 10}, 422, "An item name is 1 to 64 characters."),
        ({"name": "Nap", "price": 10, "type": "boost", "boost_kind": "xp"}, 422,
         sentence_of(lambda: economy.build_effect(ShopItemType.BOOST, boost_kind="xp"))),
        ({"name": "Nap", "price": 10, "type": "boost", "boost_kind": "sleep",
          "duration_seconds": 600}, 422, "A boost is either an `xp` boost or `rob_protection`."),
        ({"name": "Pie", "price": 10, "description": "x" * 501}, 422,
         "A description can be at most 500 characters."),
        ({"name": "Pie", "price": 10, "cooldown_seconds": 366 * 86400}, 422,
         "The purchase cooldown can be at most a year."),
        # Without Discord to ask (no bot, no token), a role can't be checked: refused.
        ({"name": "VIP", "price": 10, "type": "role", "role_id": 123456789012345678}, 409,
         UNREADABLE),
    ]
    for sent, expected_status, sentence in creations:
        status, body, _ = await api.call("POST", f"{BASE}/shop/items", key=key, json=sent)
        assert (status, body["detail"]) == (expected_status, sentence), sent
    edits = [
        ({}, 422, "Give at least one thing to change."),
        ({"multiplier": 150}, 422, "**Cake** is a item item: it has no multiplier."),
        ({"role_id": 123456789012345678}, 409, UNREADABLE),
    ]
    for sent, expected_status, sentence in edits:
        status, body, _ = await api.call(
            "PATCH", f"{BASE}/shop/items/{cake['id']}", key=key, json=sent
        )
        assert (status, body["detail"]) == (expected_status, sentence), sent
    status, body, _ = await api.call(
        "PATCH", f"{BASE}/shop/items/999999", key=key, json={"price": 5}
    )
    assert status == 404
    assert await EconomyShopItem.filter(guild_id=GUILD).count() == 1
    assert (await EconomyShopItem.get(id=cake["id"])).price == 300
    assert await AuditLog.filter(guild_id=GUILD).count() == audits_before


async def test_a_retried_item_creation_creates_one_item(api: Api) -> None:
    key = await api.key(["economy:write"])
    sent = {"name": "Cake", "price": 300}
    headers = {"Idempotency-Key": "add-cake"}
    first = await api.call("POST", f"{BASE}/shop/items", key=key, json=sent, headers=headers)
    again = await api.call("POST", f"{BASE}/shop/items", key=key, json=sent, headers=headers)
    assert first[0] == again[0] == 201 and first[1] == again[1]
    assert await EconomyShopItem.filter(guild_id=GUILD).count() == 1
    assert await AuditLog.filter(action="shop.item.add").count() == 1


@pytest.mark.parametrize("scope", ["economy:read", "guild:write"])
async def test_writes_need_the_economy_write_scope(api: Api, scope: str) -> None:
    key = await api.key([scope])
    status, body, _ = await api.call(
        "POST", f"{BASE}/balances/{ALICE}/give", key=key, json={"amount": 5}
    )
    assert status == 403 and "economy:write" in body["detail"]
    assert not await EconomyTransaction.exists(guild_id=GUILD, type="admin")
