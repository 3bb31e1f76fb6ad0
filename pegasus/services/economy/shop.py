"""The shop and inventories: items a guild sells, buying, selling back, using, and timed effects.

Buying is one transaction: the guarded debit of the wallet, the purchase cooldown, the guarded
decrement of the stock (`... WHERE stock >= n`, so the last item goes to exactly one buyer) and the
guarded increment of the member's stack (`... WHERE quantity <= max_per_user - n`). Using a boost
turns one item of the stack into its own active row with `expires_at`, and schedules its expiry
("economy.item_expire") in the same transaction. Readers of effects (the levels pipeline, /rob)
also compare `expires_at` with the time, so an effect never outlives its expiry even if the
scheduler is late. Using an item locks the member's balance row first, as a robbery does, so a
rob protection and a robbery of the same member never interleave.

`refund_purchase` undoes a purchase whole (a `reversal` ledger row linked to it, the stack, the
stock, the purchase cooldown) in one transaction: the cog calls it when Discord refuses to give a
bought role, and staff reversals of purchases go through it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from models.economy import (
    EconomyBalance,
    EconomyCooldown,
    EconomyShopItem,
    EconomyTransaction,
    EconomyUserItem,
    ShopItemType,
    TransactionType,
)
from pegasus import scheduler
from pegasus.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from pegasus.i18n import N_, _, format_number
from pegasus.services import directory
from pegasus.services.audit import ensure_rows, record_change
from pegasus.services.durations import format_duration
from pegasus.services.ids import searchable

from .amounts import MAX_BALANCE, Currency, validate_amount
from .ledger import (
    AlreadyProcessed,
    LedgerEntry,
    atomic,
    claim_cooldown,
    clamp_lifetime_stats,
    ensure_accounts,
    locked_balance,
    move,
    recorded_stats,
    reversal_key_of,
)
from .settings import get_settings

__all__ = [
    "EFFECT_PARTS",
    "ITEMS_PER_PAGE",
    "ITEM_EXPIRE_KIND",
    "MAX_BOOST_SECONDS",
    "MAX_QUANTITY",
    "MAX_XP_MULTIPLIER",
    "REQUIREMENT_PARTS",
    "ActiveEffect",
    "ExpiredItem",
    "Inventory",
    "InventoryLine",
    "MissingRoles",
    "RefundResult",
    "ShopItem",
    "ShopItemType",
    "ShopPage",
    "TradeResult",
    "UseResult",
    "active_effects",
    "active_xp_boosts",
    "active_xp_multiplier",
    "add_item",
    "build_effect",
    "buy",
    "edit_item",
    "expire_item",
    "find_item",
    "get_item",
    "held_item_names",
    "inventory",
    "item_names",
    "list_shop",
    "member_level",
    "refund_purchase",
    "remove_item",
    "sell",
    "sell_price",
    "use_item",
]

ITEM_EXPIRE_KIND = "economy.item_expire"
STACK = "stack"
ITEMS_PER_PAGE = 6
MAX_QUANTITY = 1000
MAX_BOOST_SECONDS = 30 * 86400
MAX_XP_MULTIPLIER = 1000  # percent


class MissingRoles(PermissionDenied):
    """An item is only for members with roles the buyer lacks (`role_ids`, for adapters that
    name them)."""

    def __init__(self, item_name: str, role_ids: list[int]) -> None:
        super().__init__(
            _("**{item}** is only for members with the roles it requires (see /shop).").format(
                item=item_name
            )
        )
        self.role_ids = tuple(role_ids)


@dataclass(frozen=True, slots=True)
class ShopItem:
    """Something a guild sells. `stock` None = unlimited; requirements: {role_ids, min_level}."""

    id: int
    guild_id: int
    name: str
    description: str
    price: int
    type: ShopItemType
    # role: {"role_id": int}; boost: {"kind": "xp" | "rob_protection", "multiplier": percent,
    # "duration_seconds": n}; custom: {"message": str}.
    effect: dict[str, Any]
    stock: int | None
    requirements: dict[str, Any]
    cooldown_seconds: int
    max_per_user: int | None
    enabled: bool

    @classmethod
    def from_row(cls, row: EconomyShopItem) -> ShopItem:
        return cls(
            id=row.id, guild_id=row.guild_id,  # type: ignore[attr-defined]
            name=row.name, description=row.description, price=row.price,
            type=ShopItemType(row.type), effect=dict(row.effect or {}), stock=row.stock,
            requirements=dict(row.requirements or {}), cooldown_seconds=row.cooldown_seconds,
            max_per_user=row.max_per_user, enabled=row.enabled,
        )


# --------------------------------------------------------------------------------------------
# Administration of the shop
# --------------------------------------------------------------------------------------------


def build_effect(
    item_type: ShopItemType,
    *,
    role_id: int | None = None,
    boost_kind: str | None = None,
    multiplier: int | None = None,
    duration_seconds: int | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The effect JSON of an item of `item_type`, validated."""
    if item_type == ShopItemType.ROLE:
        if role_id is None:
            raise ValidationError(_("A role item needs the role it grants."))
        return {"role_id": role_id}
    if item_type == ShopItemType.BOOST:
        if boost_kind not in ("xp", "rob_protection"):
            raise ValidationError(_("A boost is either an `xp` boost or `rob_protection`."))
        if duration_seconds is None or not 60 <= duration_seconds <= MAX_BOOST_SECONDS:
            raise ValidationError(
                _("A boost lasts between 1m and {longest}.").format(
                    longest=format_duration(MAX_BOOST_SECONDS)
                )
            )
        if boost_kind == "rob_protection":
            return {"kind": "rob_protection", "duration_seconds": duration_seconds}
        if multiplier is None or not 101 <= multiplier <= MAX_XP_MULTIPLIER:
            raise ValidationError(
                _(
                    "An XP boost multiplies XP by a percentage between 101 and {highest} "
                    "(150 = 1.5x)."
                ).format(highest=MAX_XP_MULTIPLIER)
            )
        return {"kind": "xp", "multiplier": multiplier, "duration_seconds": duration_seconds}
    if item_type == ShopItemType.CUSTOM:
        return {"message": (message or "").strip()[:500]} if message else {}
    return {}


def _check_name(name: str) -> str:
    # NUL characters dropped: PostgreSQL refuses them in text.
    cleaned = " ".join(searchable(name or "").split())
    if not 1 <= len(cleaned) <= 64:
        raise ValidationError(_("An item name is 1 to 64 characters."))
    return cleaned


_COUNT_REFUSALS = {
    "stock": N_("The stock must be a whole number from {minimum} to {maximum}."),
    "limit per member": N_(
        "The limit per member must be a whole number from {minimum} to {maximum}."
    ),
}
# The limit per member is a 32-bit column; the stock is 64-bit, like balances.
_COUNT_RANGES = {"stock": (0, MAX_BALANCE), "limit per member": (1, 1_000_000_000)}


def _check_optional_count(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    minimum, maximum = _COUNT_RANGES[what]
    if not minimum <= value <= maximum:
        raise ValidationError(
            _(_COUNT_REFUSALS[what]).format(
                minimum=format_number(minimum), maximum=format_number(maximum)
            )
        )
    return value


async def add_item(
    guild_id: int,
    *,
    name: str,
    price: int,
    item_type: ShopItemType = ShopItemType.ITEM,
    description: str = "",
    effect: dict[str, Any] | None = None,
    stock: int | None = None,
    max_per_user: int | None = None,
    cooldown_seconds: int = 0,
    required_role_ids: Iterable[int] = (),
    min_level: int | None = None,
    actor_id: int | None = None,
) -> ShopItem:
    name = _check_name(name)
    validate_amount(price, what="price")
    _check_optional_count(stock, "stock")
    _check_optional_count(max_per_user, "limit per member")
    if not 0 <= cooldown_seconds <= 365 * 86400:
        raise ValidationError(_("The purchase cooldown can be at most a year."))
    if item_type == ShopItemType.ROLE:
        max_per_user = 1  # a role is held or not
    requirements = _requirements(required_role_ids, min_level)
    await get_settings(guild_id)  # makes sure the guild row exists
    if await EconomyShopItem.filter(guild_id=guild_id, name__iexact=name).exists():
        raise ConflictError(
            _("The shop already has an item called **{item}**.").format(item=name)
        )
    try:
        created = await EconomyShopItem.create(
            guild_id=guild_id, name=name, price=price, type=item_type,
            description=searchable(description or "").strip()[:500], effect=effect or {},
            stock=stock,
            max_per_user=max_per_user, cooldown_seconds=cooldown_seconds,
            requirements=requirements,
        )
    except IntegrityError:
        raise ConflictError(
            _("The shop already has an item called **{item}**.").format(item=name)
        ) from None
    item = ShopItem.from_row(created)
    await _audit(guild_id, actor_id, "shop.item.add", item.id, None, item)
    return item


async def _audit(
    guild_id: int,
    actor_id: int | None,
    action: str,
    item_id: int,
    before: ShopItem | None,
    after: ShopItem | None,
) -> None:
    await ensure_rows(None, [actor_id])
    await record_change(guild_id, actor_id, action, "economy_shop_items", item_id, before, after)


def _requirements(role_ids: Iterable[int], min_level: int | None) -> dict[str, Any]:
    requirements: dict[str, Any] = {}
    roles = sorted(set(role_ids))
    if roles:
        requirements["role_ids"] = roles
    if min_level is not None:
        if not 0 <= min_level <= 10_000:
            raise ValidationError(
                _("The required level must be between 0 and {highest}.").format(
                    highest=format_number(10_000)
                )
            )
        if min_level:
            requirements["min_level"] = min_level
    return requirements


async def find_item(guild_id: int, name: str) -> ShopItem:
    one_line = " ".join(searchable(name).split())
    item = await EconomyShopItem.get_or_none(guild_id=guild_id, name__iexact=one_line)
    if item is None:
        raise NotFoundError(
            _("There is no item called **{item}** in the shop.").format(item=one_line[:64])
        )
    return ShopItem.from_row(item)


async def get_item(guild_id: int, item_id: int) -> ShopItem:
    """An item of the guild's shop by its id (adapters that keep ids rather than names)."""
    item = await EconomyShopItem.get_or_none(id=item_id, guild_id=guild_id)
    if item is None:
        raise NotFoundError(_("There is no item with id {id} in the shop.").format(id=item_id))
    return ShopItem.from_row(item)


# Parts of an item's effect and requirements that staff may change one at a time.
EFFECT_PARTS = ("role_id", "boost_kind", "multiplier", "duration_seconds", "message")
REQUIREMENT_PARTS = ("required_role_ids", "min_level")


def _edited_effect(item: ShopItem, parts: dict[str, Any]) -> dict[str, Any]:
    """The item's effect with some parts changed, validated as a whole for the item's type."""
    current = item.effect or {}
    merged: dict[str, Any] = {
        "role_id": current.get("role_id"),
        "boost_kind": current.get("kind"),
        "multiplier": current.get("multiplier"),
        "duration_seconds": current.get("duration_seconds"),
        "message": current.get("message"),
    } | parts
    wrong = {
        ShopItemType.ROLE: {"boost_kind", "multiplier", "duration_seconds", "message"},
        ShopItemType.BOOST: {"role_id", "message"},
        ShopItemType.CUSTOM: {"role_id", "boost_kind", "multiplier", "duration_seconds"},
        ShopItemType.ITEM: set(EFFECT_PARTS),
    }[item.type] & set(parts)
    if wrong:
        raise ValidationError(
            # Translators: {kind} is the item type (role, boost, custom, item); {parts} lists
            # options of the command, e.g. "multiplier, duration".
            _("**{item}** is a {kind} item: it has no {parts}.").format(
                item=item.name,
                kind=item.type.value,
                parts=", ".join(
                    sorted(p.replace("_seconds", "").replace("_", " ") for p in wrong)
                ),
            )
        )
    return build_effect(item.type, **merged)


def _edited_requirements(item: ShopItem, parts: dict[str, Any]) -> dict[str, Any]:
    current = item.requirements or {}
    role_ids = parts.get("required_role_ids", current.get("role_ids") or [])
    min_level = parts.get("min_level", current.get("min_level"))
    return _requirements(role_ids, min_level)


async def edit_item(guild_id: int, item_name: str, /, **changes: Any) -> ShopItem:
    """Change some fields of an item; None leaves a field as it is. `stock=-1` and
    `max_per_user=-1` mean unlimited. Parts of the effect (EFFECT_PARTS) and requirements
    (REQUIREMENT_PARTS: `required_role_ids=[]` and `min_level=0` remove them) can be changed
    one at a time; the result is validated for the item's type. `actor_id` is who changes it."""
    actor_id = changes.pop("actor_id", None)
    item = await find_item(guild_id, item_name)
    updates: dict[str, Any] = {}
    effect_parts = {k: changes.pop(k) for k in EFFECT_PARTS if changes.get(k) is not None}
    if effect_parts:
        updates["effect"] = _edited_effect(item, effect_parts)
    requirement_parts = {
        k: changes.pop(k) for k in REQUIREMENT_PARTS if changes.get(k) is not None
    }
    if requirement_parts:
        updates["requirements"] = _edited_requirements(item, requirement_parts)
    for key, value in changes.items():
        if value is None:
            continue
        if key == "name":
            updates["name"] = _check_name(value)
        elif key == "price":
            updates["price"] = validate_amount(value, what="price")
        elif key == "description":
            updates["description"] = searchable(str(value)).strip()[:500]
        elif key in ("stock", "max_per_user"):
            updates[key] = None if value == -1 else _check_optional_count(
                value, "stock" if key == "stock" else "limit per member"
            )
        elif key == "cooldown_seconds":
            if not 0 <= value <= 365 * 86400:
                raise ValidationError(_("The purchase cooldown can be at most a year."))
            updates[key] = value
        elif key == "enabled":
            updates[key] = bool(value)
        elif key in ("effect", "requirements"):
            updates[key] = value
        else:
            raise ValidationError(_("`{key}` is not something an item has.").format(key=key))
    if not updates:
        raise ValidationError(_("Give at least one thing to change."))
    if "name" in updates and updates["name"].lower() != item.name.lower() and (
        await EconomyShopItem.filter(guild_id=guild_id, name__iexact=updates["name"]).exists()
    ):
        raise ConflictError(
            _("The shop already has an item called **{item}**.").format(item=updates["name"])
        )
    await EconomyShopItem.filter(id=item.id).update(**updates)
    edited = ShopItem.from_row(await EconomyShopItem.get(id=item.id))
    await _audit(guild_id, actor_id, "shop.item.edit", item.id, item, edited)
    return edited


async def remove_item(guild_id: int, name: str, *, actor_id: int | None = None) -> str:
    """Delete an item; members' copies of it go with it (the cog asks for confirmation)."""
    item = await find_item(guild_id, name)
    await EconomyShopItem.filter(id=item.id).delete()
    await _audit(guild_id, actor_id, "shop.item.remove", item.id, item, None)
    return item.name


@dataclass(frozen=True, slots=True)
class ShopPage:
    items: list[ShopItem]
    page: int
    pages: int
    currency: Currency


async def list_shop(
    guild_id: int, page: int = 1, *, include_disabled: bool = False,
    per_page: int = ITEMS_PER_PAGE,
) -> ShopPage:
    settings = await get_settings(guild_id)
    query = EconomyShopItem.filter(guild_id=guild_id)
    if not include_disabled:
        query = query.filter(enabled=True)
    total = await query.count()
    pages = max(1, -(-total // per_page))
    if page < 1:
        raise ValidationError(_("Pages start at 1."))
    page = min(page, pages)
    items = await query.order_by("price", "name").offset((page - 1) * per_page).limit(per_page)
    return ShopPage([ShopItem.from_row(i) for i in items], page, pages, settings.currency)


async def item_names(
    guild_id: int, typed: str, *, limit: int = 25, include_disabled: bool = False
) -> list[str]:
    """Names for autocomplete (staff also see the items that are not for sale)."""
    query = EconomyShopItem.filter(guild_id=guild_id)
    if not include_disabled:
        query = query.filter(enabled=True)
    if typed.strip():
        query = query.filter(name__icontains=searchable(typed).strip())
    return await query.order_by("name").limit(limit).values_list("name", flat=True)


async def held_item_names(guild_id: int, user_id: int, typed: str, *, limit: int = 25) -> list[str]:
    """Names of the items a member holds, for autocomplete of /sell and /use (items no longer
    for sale included: they can still be sold back or used)."""
    query = EconomyUserItem.filter(
        guild_id=guild_id, user_id=user_id, slot=STACK, quantity__gt=0
    )
    if typed.strip():
        query = query.filter(item__name__icontains=searchable(typed).strip())
    return await query.order_by("item__name").limit(limit).values_list("item__name", flat=True)


# --------------------------------------------------------------------------------------------
# Buying and selling
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TradeResult:
    item_name: str
    item_type: ShopItemType
    quantity: int
    total: int
    held: int  # how many the member holds afterwards
    role_id: int | None  # a role to grant (buy) or remove (sell)
    currency: Currency
    transaction_id: uuid.UUID | None = None  # the ledger row of the trade


def _check_quantity(quantity: int) -> int:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationError(
            _("The quantity must be between 1 and {highest}.").format(
                highest=format_number(MAX_QUANTITY)
            )
        )
    return quantity


async def member_level(guild_id: int, user_id: int) -> int:
    from models.levels import UserXP  # read only: the levels feature owns this table

    level = await UserXP.filter(guild_id=guild_id, user_id=user_id).values_list(
        "level", flat=True
    )
    return level[0] if level else 0


async def _check_requirements(
    item: ShopItem, guild_id: int, user_id: int, member_role_ids: Iterable[int]
) -> None:
    needed_roles = set(item.requirements.get("role_ids") or [])
    missing = needed_roles - set(member_role_ids)
    if missing:
        raise MissingRoles(item.name, sorted(missing))
    min_level = int(item.requirements.get("min_level") or 0)
    if min_level and await member_level(guild_id, user_id) < min_level:
        raise PermissionDenied(
            _("**{item}** needs level {level} or more.").format(
                item=item.name, level=format_number(min_level)
            )
        )


async def buy(
    guild_id: int,
    user_id: int,
    item_name: str,
    quantity: int = 1,
    *,
    member_role_ids: Iterable[int] = (),
    now: datetime,
    idempotency_key: str | None = None,
) -> TradeResult:
    _check_quantity(quantity)
    settings = await ensure_accounts(guild_id, [user_id])
    currency = settings.currency
    item = await find_item(guild_id, item_name)
    if not item.enabled:
        raise ConflictError(_("**{item}** is not for sale right now.").format(item=item.name))
    if item.type == ShopItemType.ROLE and quantity != 1:
        raise ValidationError(_("A role can be bought only once."))
    await _check_requirements(item, guild_id, user_id, member_role_ids)
    total = item.price * quantity
    if total > MAX_BALANCE:
        raise ValidationError(_("That is more than anyone can pay at once."))

    async def run(conn: BaseDBAsyncClient) -> TradeResult:
        paid = await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.SHOP_BUY,
            wallet=-total, currency=currency,
            description=f"Bought {quantity:,} x {item.name}",
            metadata={"item_id": item.id, "item": item.name, "quantity": quantity,
                      "price": item.price},
            idempotency_key=idempotency_key, spent=total,
            short_message=_(
                "**{count} x {item}** costs {amount}, more than you have in your wallet."
            ).format(count=format_number(quantity), item=item.name, amount=currency.format(total)),
        )
        if item.cooldown_seconds:
            await claim_cooldown(
                conn, guild_id, user_id, f"shop:{item.id}", now=now,
                seconds=item.cooldown_seconds,
                message=_("You can buy **{item}** again in {{left}}.").format(item=item.name),
            )
        await _take_stock(conn, item, quantity)
        held = await _add_to_stack(conn, guild_id, user_id, item, quantity)
        return TradeResult(item.name, item.type, quantity, total, held,
                           item.effect.get("role_id") if item.type == ShopItemType.ROLE else None,
                           currency, paid.id)

    return await atomic(run, idempotency_key=idempotency_key)


@dataclass(frozen=True, slots=True)
class RefundResult:
    item_name: str
    quantity: int
    amount: int  # back in the wallet
    wallet: int
    transaction_id: uuid.UUID  # the reversal row
    currency: Currency


async def refund_purchase(
    guild_id: int, purchase_id: uuid.UUID, *, reason: str, actor_id: int | None = None
) -> RefundResult:
    """Undo a purchase whole, in one transaction: a `reversal` ledger row linked to it pays the
    price back (and takes it off total_spent), the items leave the member's stack, limited stock
    is restored and the item's purchase cooldown is released.

    Used when a bought role could not be given, and by staff reversals. Each purchase is undone
    at most once (the reversal's idempotency key is derived from it); ConflictError when it
    already was, or when the member no longer holds what was bought (sold or used since).
    """
    row = await EconomyTransaction.get_or_none(id=purchase_id, guild_id=guild_id)
    if row is None or row.type != TransactionType.SHOP_BUY:
        raise NotFoundError(_("There is no such purchase in this server."))
    purchase = LedgerEntry.from_row(row)
    user_id = purchase.user_id
    item_id = int(purchase.metadata.get("item_id") or 0)
    quantity = int(purchase.metadata.get("quantity") or 0)
    name = str(purchase.metadata.get("item") or "item")
    # The item may have been removed from the shop since: its holdings went with it, so only
    # the money is left to give back.
    item = await EconomyShopItem.get_or_none(id=item_id, guild_id=guild_id)
    settings = await get_settings(guild_id)
    currency = settings.currency
    key = reversal_key_of(purchase.id)
    if actor_id is not None:
        await directory.ensure_user(actor_id)
    stats = recorded_stats(purchase)

    async def run(conn: BaseDBAsyncClient) -> RefundResult:
        # Same order as buy(): balance, cooldown, stock, stack (no deadlock with a purchase).
        refund = await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.REVERSAL,
            wallet=-purchase.amount, bank=-purchase.bank_amount, currency=currency,
            description=f"Refund of {quantity:,} x {name}: {reason}",
            metadata={"original_type": str(purchase.type), "reason": reason,
                      "item_id": item_id, "quantity": quantity,
                      **({"actor_id": actor_id} if actor_id is not None else {})},
            related_user_id=actor_id if actor_id not in (None, user_id) else None,
            related_transaction_id=purchase.id, idempotency_key=key,
            earned=-stats["earned"], spent=-stats["spent"], gambled=-stats["gambled"],
        )
        await clamp_lifetime_stats(conn, guild_id, user_id)
        if item is not None:
            await EconomyCooldown.filter(
                guild_id=guild_id, user_id=user_id, command=f"shop:{item.id}"
            ).using_db(conn).delete()
            await EconomyShopItem.filter(id=item.id, stock__isnull=False).using_db(conn).update(
                stock=F("stock") + quantity
            )
            await _take_from_stack(conn, guild_id, user_id, item, quantity, refunding=True)
        wallet = (await EconomyBalance.filter(guild_id=guild_id, user_id=user_id).using_db(
            conn).values_list("wallet", flat=True))[0]
        return RefundResult(name, quantity, -purchase.amount, wallet, refund.id, currency)

    try:
        return await atomic(run, idempotency_key=key)
    except AlreadyProcessed:
        raise ConflictError(
            _("Purchase `{id}` was already refunded or reversed.").format(
                id=purchase.id.hex[:8]
            )
        ) from None


async def _take_stock(conn: BaseDBAsyncClient, item: ShopItem, quantity: int) -> None:
    # Unlimited items match the first branch; limited ones only while enough are left.
    taken = await EconomyShopItem.filter(id=item.id, enabled=True).filter(
        Q(stock__isnull=True) | Q(stock__gte=quantity)
    ).using_db(conn).update(stock=F("stock") - quantity)
    if not taken:
        left = await EconomyShopItem.filter(id=item.id).using_db(conn).values_list(
            "stock", flat=True
        )
        if not left:
            raise NotFoundError(
                _("**{item}** was just removed from the shop.").format(item=item.name)
            )
        raise ConflictError(
            _("**{item}** is sold out.").format(item=item.name) if not left[0]
            else _("Only {count} x **{item}** left in stock.").format(
                count=format_number(left[0]), item=item.name
            )
        )


async def _add_to_stack(
    conn: BaseDBAsyncClient, guild_id: int, user_id: int, item: ShopItem, quantity: int
) -> int:
    """Add to the member's stack, refusing to pass `max_per_user`; returns the new quantity."""
    limit = item.max_per_user
    rows = EconomyUserItem.filter(guild_id=guild_id, user_id=user_id, item_id=item.id, slot=STACK)
    guarded = rows.filter(quantity__lte=limit - quantity) if limit is not None else rows
    if limit is not None and quantity > limit:
        raise ConflictError(_("You can hold at most {count} x **{item}**.").format(
            count=format_number(limit), item=item.name
        ))
    if not await guarded.using_db(conn).update(quantity=F("quantity") + quantity):
        if await rows.using_db(conn).exists():
            raise ConflictError(_("You can hold at most {count} x **{item}**.").format(
                count=format_number(limit or 0), item=item.name
            ))
        # The first of this item: a concurrent first purchase makes this INSERT fail and the
        # request is retried (atomic), then finding the stack.
        await EconomyUserItem.create(
            guild_id=guild_id, user_id=user_id, item_id=item.id, slot=STACK, quantity=quantity,
            using_db=conn,
        )
    return (await rows.using_db(conn).values_list("quantity", flat=True))[0]


async def _take_from_stack(
    conn: BaseDBAsyncClient, guild_id: int, user_id: int, item: ShopItem, quantity: int,
    *, refunding: bool = False,
) -> int:
    rows = EconomyUserItem.filter(guild_id=guild_id, user_id=user_id, item_id=item.id, slot=STACK)
    if not await rows.filter(quantity__gte=quantity).using_db(conn).update(
        quantity=F("quantity") - quantity
    ):
        held = await rows.using_db(conn).values_list("quantity", flat=True)
        have = held[0] if held else 0
        if refunding:
            raise ConflictError(
                _(
                    "The member no longer holds the {count} x **{item}** bought (they have "
                    "{held}): the purchase can't be undone."
                ).format(
                    count=format_number(quantity), item=item.name, held=format_number(have)
                )
            )
        raise ConflictError(
            _("You have only {count} x **{item}**.").format(
                count=format_number(have), item=item.name
            ) if have
            else _("You don't have any **{item}**.").format(item=item.name)
        )
    return (await rows.using_db(conn).values_list("quantity", flat=True))[0]


def sell_price(price: int, percent: int) -> int:
    """What selling one item of `price` back pays at the guild's sell-back `percent`."""
    return price * percent // 100


async def sell(
    guild_id: int,
    user_id: int,
    item_name: str,
    quantity: int = 1,
    *,
    idempotency_key: str | None = None,
) -> TradeResult:
    """Sell items back for the guild's sell-back share of their price; limited stock refills."""
    _check_quantity(quantity)
    settings = await ensure_accounts(guild_id, [user_id])
    currency = settings.currency
    item = await find_item(guild_id, item_name)
    total = sell_price(item.price, settings.sell_percent) * quantity

    async def run(conn: BaseDBAsyncClient) -> TradeResult:
        await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.SHOP_SELL,
            wallet=total, currency=currency, description=f"Sold {quantity:,} x {item.name}",
            metadata={"item_id": item.id, "item": item.name, "quantity": quantity},
            idempotency_key=idempotency_key, earned=total,
        )
        await EconomyShopItem.filter(id=item.id, stock__isnull=False).using_db(conn).update(
            stock=F("stock") + quantity
        )
        held = await _take_from_stack(conn, guild_id, user_id, item, quantity)
        return TradeResult(item.name, item.type, quantity, total, held,
                           item.effect.get("role_id") if item.type == ShopItemType.ROLE else None,
                           currency)

    return await atomic(run, idempotency_key=idempotency_key)


# --------------------------------------------------------------------------------------------
# Using items and their effects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UseResult:
    item_name: str
    item_type: ShopItemType
    effect: dict[str, Any]
    expires_at: datetime | None
    left: int
    user_item_id: int


def _use_slot(idempotency_key: str | None) -> str:
    """The slot of one use: derived from the request, so the same request uses only one item."""
    if idempotency_key is None:
        return f"use:{uuid.uuid4().hex}"
    return "use:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


async def use_item(
    guild_id: int,
    user_id: int,
    item_name: str,
    *,
    now: datetime,
    idempotency_key: str | None = None,
) -> UseResult:
    """Use one item: a boost starts its timed effect, a custom item shows its message."""
    await ensure_accounts(guild_id, [user_id])
    item = await find_item(guild_id, item_name)
    if item.type == ShopItemType.ROLE:
        raise ValidationError(
            _("**{item}** gave you its role when you bought it.").format(item=item.name)
        )
    if item.type == ShopItemType.ITEM:
        raise ValidationError(
            _("**{item}** can't be used: it's yours to keep or sell.").format(item=item.name)
        )
    slot = _use_slot(idempotency_key)
    effect = dict(item.effect)
    seconds = int(effect.get("duration_seconds") or 0) if item.type == ShopItemType.BOOST else 0
    expires_at = now + timedelta(seconds=seconds) if seconds else None

    async def run(conn: BaseDBAsyncClient) -> UseResult:
        # The member's balance row first, as a robbery locks it: a robbery in progress finishes
        # before a protection starts, and one that comes later sees the protection.
        await locked_balance(conn, guild_id, user_id)
        left = await _take_from_stack(conn, guild_id, user_id, item, 1)
        used = await EconomyUserItem.create(
            guild_id=guild_id, user_id=user_id, item_id=item.id, slot=slot, quantity=1,
            metadata={**effect, "item": item.name}, expires_at=expires_at,
            active=expires_at is not None, using_db=conn,
        )
        if expires_at is not None:
            await scheduler.schedule(
                ITEM_EXPIRE_KIND, expires_at, {"user_item_id": used.id}, guild_id=guild_id,
                dedupe_key=f"economy:item:{used.id}", using_db=conn,
            )
        return UseResult(item.name, item.type, effect, expires_at, left, used.id)

    async def already_used() -> bool:
        return await EconomyUserItem.exists(
            guild_id=guild_id, user_id=user_id, item_id=item.id, slot=slot
        )

    return await atomic(run, duplicate=already_used)


@dataclass(frozen=True, slots=True)
class ExpiredItem:
    guild_id: int
    user_id: int
    item_name: str
    kind: str | None


async def expire_item(user_item_id: int) -> ExpiredItem | None:
    """End an active effect (the scheduler's handler). None if it had already ended or gone."""
    ended = await EconomyUserItem.filter(id=user_item_id, active=True).update(active=False)
    if not ended:
        return None
    row = await EconomyUserItem.get(id=user_item_id)
    return ExpiredItem(row.guild_id, row.user_id,  # type: ignore[attr-defined]
                       str(row.metadata.get("item", "")), row.metadata.get("kind"))


@dataclass(frozen=True, slots=True)
class ActiveEffect:
    """A used boost that is still running."""

    item_name: str
    effect: dict[str, Any]
    expires_at: datetime


async def active_effects(guild_id: int, user_id: int, now: datetime) -> list[ActiveEffect]:
    """The member's running effects, the first to end first."""
    rows = await EconomyUserItem.filter(
        guild_id=guild_id, user_id=user_id, active=True, expires_at__gt=now
    ).order_by("expires_at")
    return [
        ActiveEffect(str(row.metadata.get("item", "")), dict(row.metadata), row.expires_at)
        for row in rows
        if row.expires_at is not None
    ]


def _xp_percent(metadata: Any) -> int:
    if isinstance(metadata, dict) and metadata.get("kind") == "xp":
        return int(metadata.get("multiplier") or 100)
    return 100


async def active_xp_multiplier(guild_id: int, user_id: int, now: datetime) -> int:
    """The member's XP boost in percent (100 = none). Boosts do not stack: the best one counts."""
    rows = await EconomyUserItem.filter(
        guild_id=guild_id, user_id=user_id, active=True, expires_at__gt=now
    ).values_list("metadata", flat=True)
    return max([100, *(_xp_percent(m) for m in rows)])


async def active_xp_boosts(guild_id: int, now: datetime) -> dict[int, int]:
    """Every member of the guild with an XP boost right now → its percent (for batch flushes)."""
    rows = await EconomyUserItem.filter(
        guild_id=guild_id, active=True, expires_at__gt=now
    ).values_list("user_id", "metadata")
    boosts: dict[int, int] = {}
    for user_id, metadata in rows:
        percent = _xp_percent(metadata)
        if percent > 100:
            boosts[user_id] = max(percent, boosts.get(user_id, 100))
    return boosts


# --------------------------------------------------------------------------------------------
# Inventory
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InventoryLine:
    item_name: str
    item_type: ShopItemType
    quantity: int
    sell_price: int


@dataclass(frozen=True, slots=True)
class Inventory:
    lines: list[InventoryLine]
    effects: list[tuple[str, dict[str, Any], datetime]]  # (item name, effect, expires_at)
    currency: Currency


async def inventory(guild_id: int, user_id: int, *, now: datetime) -> Inventory:
    settings = await ensure_accounts(guild_id, [user_id])
    stacks = await EconomyUserItem.filter(
        guild_id=guild_id, user_id=user_id, slot=STACK, quantity__gt=0
    ).prefetch_related("item")
    lines = sorted(
        (InventoryLine(s.item.name, s.item.type, s.quantity,
                       sell_price(s.item.price, settings.sell_percent)) for s in stacks),
        key=lambda line: line.item_name.lower(),
    )
    effects = [
        (effect.item_name, effect.effect, effect.expires_at)
        for effect in await active_effects(guild_id, user_id, now)
    ]
    return Inventory(lines, effects, settings.currency)

