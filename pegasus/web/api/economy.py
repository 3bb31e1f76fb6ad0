"""The economy over HTTP: balances, a member's ledger, staff give/take/reverse, the shop's items.

Every handler calls the service function the `/economy` and `/shop-admin` commands call, so a
request is refused with the command's own sentence and changes nothing when refused. Money
moves only through those functions: each wallet and bank stays equal to its ledger.

A role item's role is checked for the key's owner by the rule `/shop-admin` applies (one the
bot can give and they could give themselves, `pegasus.web.roles`) and recorded as set up by them.

A POST that moves money or creates an item takes `Idempotency-Key`; the web layer replays the
first answer to a retry. Give and take also write the key into the ledger row (per API key), so
even a retry that outlives the stored answer pays nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from models.economy import EconomyBalance, EconomyShopItem, EconomyTransaction
from pegasus.errors import ValidationError
from pegasus.services import economy
from pegasus.services.economy import (
    AccountSummary,
    AdminResult,
    BalanceView,
    LedgerEntry,
    ReversalResult,
    ShopItem,
    ShopItemType,
)
from pegasus.web.pagination import keyset_page
from pegasus.web.roles import remember_role_setup, require_can_delegate
from pegasus.web.routes import Call, Page, Param, Reply, Routes

__all__ = ["routes"]

routes = Routes("economy", "Balances, members' transactions, giving and taking, and the shop.")

READ = "economy:read"
WRITE = "economy:write"
ID_MAX = 2**63 - 1
TEXT_LIMIT = 500  # an item's description and a custom item's message, as the command allows
REASON_LIMIT = 200  # what a ledger row's description keeps
ROLE_HELP = (
    "Role items: the role it grants, one the bot can give and the key's owner could give "
    "themselves (as /shop-admin checks it)."
)

USER_ID = Param(
    "user_id", int, "The member's Discord id.", location="path", required=True, minimum=1,
    maximum=ID_MAX,
)
ITEM_ID = Param(
    "item_id", int, "The item's id, from the shop's list.", location="path", required=True,
    minimum=1, maximum=ID_MAX,
)
TRANSACTION_ID = Param(
    "transaction_id", str, "The transaction's id, or at least its first 8 characters.",
    location="path", required=True,
)


def _described(text: str) -> dict[str, str]:
    return {"description": text}


# --------------------------------------------------------------------------------------------
# Balances and the ledger
# --------------------------------------------------------------------------------------------


@routes.get(
    "/guilds/{guild_id}/economy/balances",
    scope=READ,
    summary="List members' balances, richest first",
    response=AccountSummary,
    paginated=True,
)
async def list_balances(call: Call) -> Page[AccountSummary]:
    """Every account of the server by net worth (wallet and bank), highest first."""
    return await keyset_page(
        call,
        EconomyBalance.filter(guild_id=call.guild_id),
        order=("-net_worth", "-id"),
        item=AccountSummary.from_row,
    )


@routes.get(
    "/guilds/{guild_id}/economy/balances/{user_id}",
    scope=READ,
    summary="Read one member's balance",
    params=[USER_ID],
    response=BalanceView,
)
async def get_member_balance(call: Call) -> BalanceView:
    """Wallet, bank, net worth and rank. Reading never opens an account: a member who has
    none yet is not found."""
    return await economy.find_balance(call.guild_id, call.param("user_id"))


@routes.get(
    "/guilds/{guild_id}/economy/balances/{user_id}/transactions",
    scope=READ,
    summary="List one member's transactions, newest first",
    params=[USER_ID],
    response=LedgerEntry,
    paginated=True,
)
async def list_member_transactions(call: Call) -> Page[LedgerEntry]:
    """The member's ledger rows: each has the wallet and bank deltas of one change, so their
    sums are the member's wallet and bank. A member without an account is not found."""
    await economy.find_balance(call.guild_id, call.param("user_id"))
    return await keyset_page(
        call,
        EconomyTransaction.filter(guild_id=call.guild_id, user_id=call.param("user_id")),
        order=("-created_at", "-id"),
        item=LedgerEntry.from_row,
    )


@routes.get(
    "/guilds/{guild_id}/economy/transactions/{transaction_id}",
    scope=READ,
    summary="Read one transaction",
    params=[TRANSACTION_ID],
    response=LedgerEntry,
)
async def get_ledger_transaction(call: Call) -> LedgerEntry:
    """By its id, or by the first 8 or more characters shown by /transactions."""
    return await economy.find_transaction(call.guild_id, call.param("transaction_id"))


@dataclass(frozen=True)
class Adjustment:
    """Money given to or taken from a member's wallet by staff."""

    amount: int = field(metadata=_described("How much, a whole number above zero."))
    reason: str | None = field(
        default=None, metadata=_described(f"Why, kept in the ledger (up to {REASON_LIMIT}).")
    )


def _ledger_key(call: Call) -> str | None:
    """The ledger's idempotency key of this request: its Idempotency-Key, per API key."""
    sent = call.request.headers.get("Idempotency-Key")
    if sent is None:
        return None
    digest = hashlib.sha256(f"{call.key.id}\n{sent}".encode()).hexdigest()
    return f"api:{digest}"


async def _adjust(call: Call, *, take: bool) -> AdminResult:
    body: Adjustment = call.body
    if body.reason is not None and len(body.reason.strip()) > REASON_LIMIT:
        raise ValidationError(f"The reason can be at most {REASON_LIMIT} characters.")
    return await economy.admin_adjust(
        call.guild_id, call.actor_id, call.param("user_id"), body.amount, take=take,
        reason=body.reason, idempotency_key=_ledger_key(call),
    )


@routes.post(
    "/guilds/{guild_id}/economy/balances/{user_id}/give",
    scope=WRITE,
    summary="Give money to a member",
    params=[USER_ID],
    body=Adjustment,
    response=AdminResult,
    status=201,
    idempotent=True,
)
async def give_money(call: Call) -> AdminResult:
    """Adds to the member's wallet (opening their account if needed), as /economy give does;
    the ledger row names the key's owner and the reason."""
    return await _adjust(call, take=False)


@routes.post(
    "/guilds/{guild_id}/economy/balances/{user_id}/take",
    scope=WRITE,
    summary="Take money from a member",
    params=[USER_ID],
    body=Adjustment,
    response=AdminResult,
    status=201,
    idempotent=True,
)
async def take_money(call: Call) -> AdminResult:
    """Removes from the member's wallet, as /economy take does: never more than it holds."""
    return await _adjust(call, take=True)


@routes.post(
    "/guilds/{guild_id}/economy/transactions/{transaction_id}/reverse",
    scope=WRITE,
    summary="Reverse a transaction",
    params=[TRANSACTION_ID],
    response=ReversalResult,
    status=201,
    idempotent=True,
)
async def reverse_ledger_transaction(call: Call) -> ReversalResult:
    """Undoes a ledger row as /economy reverse does: both halves of a transfer, robbery or
    fine; a purchase whole (items back to the shop). Each transaction is reversed once;
    refused without any change when the member no longer holds what is to be given back."""
    return await economy.reverse_transaction(
        call.guild_id, call.actor_id, call.param("transaction_id"),
        idempotency_key=_ledger_key(call),
    )


# --------------------------------------------------------------------------------------------
# The shop
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewItem:
    """An item to add to the shop; the parts of `effect` that apply depend on its type."""

    name: str = field(metadata=_described("Unique in the server, 1 to 64 characters."))
    price: int = field(metadata=_described("What it costs, a whole number above zero."))
    type: ShopItemType = ShopItemType.ITEM
    description: str = field(default="", metadata=_described("Shown in the shop, up to 500."))
    role_id: int | None = field(default=None, metadata=_described(ROLE_HELP))
    stock: int | None = field(default=None, metadata=_described("How many can be sold in all."))
    max_per_user: int | None = field(
        default=None, metadata=_described("How many one member may hold.")
    )
    boost_kind: str | None = field(default=None, metadata=_described("xp or rob_protection."))
    multiplier: int | None = field(
        default=None, metadata=_described("XP boosts: percent, 101 to 1000 (150 = 1.5x).")
    )
    duration_seconds: int | None = field(
        default=None, metadata=_described("Boosts: how long one lasts, 60 s to 30 days.")
    )
    message: str | None = field(
        default=None, metadata=_described("Custom items: what the member reads on use.")
    )
    cooldown_seconds: int = field(
        default=0, metadata=_described("Time between two purchases by one member.")
    )
    required_role_ids: list[int] = field(
        default_factory=list, metadata=_described("Only members with these roles may buy it.")
    )
    min_level: int | None = field(
        default=None, metadata=_described("Only members at this level or above may buy it.")
    )


@dataclass(frozen=True)
class ItemChange:
    """Some fields of an item; a field left out (or null) stays as it is."""

    name: str | None = None
    price: int | None = None
    description: str | None = None
    stock: int | None = field(default=None, metadata=_described("-1: unlimited."))
    max_per_user: int | None = field(default=None, metadata=_described("-1: unlimited."))
    enabled: bool | None = field(default=None, metadata=_described("Whether it is for sale."))
    cooldown_seconds: int | None = None
    role_id: int | None = field(default=None, metadata=_described(ROLE_HELP))
    boost_kind: str | None = None
    multiplier: int | None = None
    duration_seconds: int | None = None
    message: str | None = None
    required_role_ids: list[int] | None = field(
        default=None, metadata=_described("Replaces the roles required; [] removes them.")
    )
    min_level: int | None = field(default=None, metadata=_described("0: any level."))


def _check_texts(description: str | None, message: str | None) -> None:
    if description is not None and len(description.strip()) > TEXT_LIMIT:
        raise ValidationError(f"A description can be at most {TEXT_LIMIT} characters.")
    if message is not None and len(message.strip()) > TEXT_LIMIT:
        raise ValidationError(f"A message can be at most {TEXT_LIMIT} characters.")


def _check_role_ids(role_ids: list[int] | None) -> None:
    for role_id in role_ids or ():
        if not 1 <= role_id <= ID_MAX:
            raise ValidationError("A required role is given by its Discord id, a positive number.")


@routes.get(
    "/guilds/{guild_id}/economy/shop/items",
    scope=READ,
    summary="List the shop's items, cheapest first",
    params=[Param("enabled", bool, "Only items for sale (true) or only those not (false).")],
    response=ShopItem,
    paginated=True,
)
async def list_shop_items(call: Call) -> Page[ShopItem]:
    """Every item, for sale or not, by price."""
    query = EconomyShopItem.filter(guild_id=call.guild_id)
    enabled: bool | None = call.param("enabled")
    if enabled is not None:
        query = query.filter(enabled=enabled)
    return await keyset_page(call, query, order=("price", "id"), item=ShopItem.from_row)


@routes.get(
    "/guilds/{guild_id}/economy/shop/items/{item_id}",
    scope=READ,
    summary="Read one item of the shop",
    params=[ITEM_ID],
    response=ShopItem,
)
async def get_shop_item(call: Call) -> ShopItem:
    return await economy.get_item(call.guild_id, call.param("item_id"))


@routes.post(
    "/guilds/{guild_id}/economy/shop/items",
    scope=WRITE,
    summary="Add an item to the shop",
    body=NewItem,
    response=ShopItem,
    status=201,
    idempotent=True,
)
async def create_shop_item(call: Call) -> ShopItem:
    """Checked as /shop-admin add checks it (a role item's role too, for the key's owner);
    audited with the new item."""
    body: NewItem = call.body
    _check_texts(body.description, body.message)
    _check_role_ids(body.required_role_ids)
    # As /shop-admin add: the role is checked before anything else about the item.
    delegated = body.role_id if body.type == ShopItemType.ROLE else None
    role = await require_can_delegate(call, delegated) if delegated is not None else None
    effect = economy.build_effect(
        body.type, role_id=body.role_id, boost_kind=body.boost_kind, multiplier=body.multiplier,
        duration_seconds=body.duration_seconds, message=body.message,
    )
    item = await economy.add_item(
        call.guild_id, actor_id=call.actor_id, name=body.name, price=body.price,
        item_type=body.type, description=body.description, effect=effect, stock=body.stock,
        max_per_user=body.max_per_user, cooldown_seconds=body.cooldown_seconds,
        required_role_ids=body.required_role_ids, min_level=body.min_level,
    )
    if role is not None:
        await remember_role_setup(call, role)
    return item


@routes.patch(
    "/guilds/{guild_id}/economy/shop/items/{item_id}",
    scope=WRITE,
    summary="Change an item of the shop",
    params=[ITEM_ID],
    body=ItemChange,
    response=ShopItem,
)
async def edit_shop_item(call: Call) -> ShopItem:
    """Checked as /shop-admin edit checks it (a new role too, for the key's owner); audited
    with before and after."""
    body: ItemChange = call.body
    item = await economy.get_item(call.guild_id, call.param("item_id"))
    _check_texts(body.description, body.message)
    _check_role_ids(body.required_role_ids)
    role = await require_can_delegate(call, body.role_id) if body.role_id is not None else None
    changes: dict[str, Any] = {
        name: getattr(body, name) for name in ItemChange.__dataclass_fields__
    }
    edited = await economy.edit_item(call.guild_id, item.name, actor_id=call.actor_id, **changes)
    if role is not None:
        await remember_role_setup(call, role)
    return edited


@routes.delete(
    "/guilds/{guild_id}/economy/shop/items/{item_id}",
    scope=WRITE,
    summary="Remove an item from the shop",
    params=[ITEM_ID],
    status=204,
)
async def delete_shop_item(call: Call) -> Reply:
    """Members who hold it lose it and nothing is refunded, as with /shop-admin remove; to stop
    selling it but let people keep it, PATCH `enabled` to false instead. Audited."""
    item = await economy.get_item(call.guild_id, call.param("item_id"))
    await economy.remove_item(call.guild_id, item.name, actor_id=call.actor_id)
    return Reply(None, status=204)
