"""The economy: balances, the ledger, the shop, inventories, cooldowns, game stats and settings.

Money is conserved by construction: a balance changes only in a transaction that also writes an
`economy_transactions` row with the same deltas, so every wallet and bank equals the sum of its own
ledger rows (the starting balance is a ledger row too). All amounts are BIGINT in whole coins.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.guilds import Guild, User

# Defaults a guild has until an administrator changes them.
DEFAULT_CURRENCY_NAME = "coins"
DEFAULT_CURRENCY_SYMBOL = "🪙"


class TransactionType(StrEnum):
    STARTING_BALANCE = "starting_balance"
    DAILY = "daily"
    WORK = "work"
    ROB = "rob"
    FINE = "fine"
    GAMBLE = "gamble"
    SHOP_BUY = "shop_buy"
    SHOP_SELL = "shop_sell"
    TRANSFER = "transfer"
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    ADMIN = "admin"
    RESET = "reset"
    REVERSAL = "reversal"


class ShopItemType(StrEnum):
    ROLE = "role"  # grants a Discord role when bought
    ITEM = "item"  # an inventory item with no effect of its own (collectibles, trade goods)
    BOOST = "boost"  # used to start a timed effect: XP boost or rob protection
    CUSTOM = "custom"  # used to show the item's message; staff act on it by hand


class Game(StrEnum):
    COINFLIP = "coinflip"
    DICE = "dice"
    SLOTS = "slots"
    BLACKJACK = "blackjack"
    ROULETTE = "roulette"


class BlackjackStatus(StrEnum):
    ACTIVE = "active"
    PLAYER_WON = "player_won"
    DEALER_WON = "dealer_won"
    PUSH = "push"
    BLACKJACK = "blackjack"  # the player's natural 21, paid 3:2


class EconomySettings(Model):
    """One row per guild: currency, earning, robbing and betting rules (amounts in coins)."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.OneToOneRelation[Guild] = fields.OneToOneField(
        "models.Guild", related_name="economy_settings", on_delete=fields.CASCADE
    )
    currency_name = fields.CharField(max_length=32, default=DEFAULT_CURRENCY_NAME)
    currency_symbol = fields.CharField(max_length=32, default=DEFAULT_CURRENCY_SYMBOL)
    starting_balance = fields.BigIntField(default=100)
    daily_amount = fields.BigIntField(default=250)
    # Each consecutive day adds `daily_streak_bonus`, up to `daily_streak_max_days` days of bonus.
    daily_streak_bonus = fields.BigIntField(default=25)
    daily_streak_max_days = fields.IntField(default=30)
    work_min = fields.BigIntField(default=50)
    work_max = fields.BigIntField(default=200)
    work_cooldown_seconds = fields.IntField(default=3600)
    rob_enabled = fields.BooleanField(default=True)
    rob_success_percent = fields.IntField(default=40)
    rob_cooldown_seconds = fields.IntField(default=7200)
    rob_min_victim_wallet = fields.BigIntField(default=500)
    rob_max_steal_percent = fields.IntField(default=30)  # at most this share of the victim's wallet
    rob_fine_percent = fields.IntField(default=10)  # share of the robber's wallet paid on failure
    min_bet = fields.BigIntField(default=10)
    max_bet = fields.BigIntField(default=100_000)
    sell_percent = fields.IntField(default=50)  # what selling an item back pays, % of its price
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "economy_settings"

    def __str__(self) -> str:
        return f"Economy settings of guild {self.guild_id}"  # type: ignore[attr-defined]


class EconomyBalance(Model):
    """A member's wallet and bank in one guild. `net_worth` = wallet + bank, set in every UPDATE."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="economy_balances", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="economy_balances", on_delete=fields.CASCADE, db_index=True
    )
    wallet = fields.BigIntField(default=0)
    bank = fields.BigIntField(default=0)
    net_worth = fields.BigIntField(default=0)
    total_earned = fields.BigIntField(default=0)
    total_spent = fields.BigIntField(default=0)
    total_gambled = fields.BigIntField(default=0)
    daily_streak = fields.IntField(default=0)
    best_daily_streak = fields.IntField(default=0)
    # The UTC day (days since 1970-01-01) of the last /daily; a conditional UPDATE on it makes
    # "one daily per member per day" hold under any concurrency.
    last_daily_day = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "economy_balances"
        unique_together = (("guild", "user"),)
        # The money leaderboard sorts by net worth within a guild (column names).
        indexes = (("guild_id", "net_worth"),)

    def __str__(self) -> str:
        return f"Balance of {self.user_id} in {self.guild_id}"  # type: ignore[attr-defined]


class EconomyTransaction(Model):
    """One ledger row: the signed wallet and bank deltas of one balance change."""

    id = fields.UUIDField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="economy_transactions", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="economy_transactions", on_delete=fields.CASCADE,
        db_index=True,
    )
    type = fields.CharEnumField(TransactionType, max_length=24)
    amount = fields.BigIntField(default=0)  # wallet delta
    bank_amount = fields.BigIntField(default=0)  # bank delta
    description = fields.CharField(max_length=200, default="")
    metadata: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    related_user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="economy_related_transactions", null=True,
        on_delete=fields.SET_NULL, db_index=True,
    )
    # A transfer's other half, or the original of a reversal.
    related_transaction: fields.ForeignKeyNullableRelation[EconomyTransaction] = (
        fields.ForeignKeyField(
            "models.EconomyTransaction", related_name="related", null=True,
            on_delete=fields.SET_NULL, db_index=True,
        )
    )
    # Unique: a retried interaction (same key) cannot write a second row, so it pays once.
    idempotency_key = fields.CharField(max_length=128, null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "economy_transactions"
        # /transactions lists a member's rows newest first.
        indexes = (("guild_id", "user_id", "created_at"),)

    def __str__(self) -> str:
        return f"{self.type} {self.amount:+}/{self.bank_amount:+} for {self.user_id}"  # type: ignore[attr-defined]


class EconomyShopItem(Model):
    """Something a guild sells. `stock` None = unlimited; requirements: {role_ids, min_level}."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="economy_shop_items", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=64)
    description = fields.CharField(max_length=500, default="")
    price = fields.BigIntField()
    type = fields.CharEnumField(ShopItemType, max_length=16, default=ShopItemType.ITEM)
    # role: {"role_id": int}; boost: {"kind": "xp", "multiplier": percent, "duration_seconds": n}
    # or {"kind": "rob_protection", "duration_seconds": n}; custom: {"message": str}.
    effect: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    stock = fields.BigIntField(null=True)
    requirements: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    cooldown_seconds = fields.IntField(default=0)  # between two purchases by the same member
    max_per_user = fields.IntField(null=True)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "economy_shop_items"
        unique_together = (("guild", "name"),)

    def __str__(self) -> str:
        return self.name


class EconomyUserItem(Model):
    """Items a member holds. Unused items stack on the row with `slot` "stack"; each use of a
    boost is its own row (`slot` "use:<id>") with `active` and `expires_at`."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="economy_user_items", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="economy_items", on_delete=fields.CASCADE, db_index=True
    )
    item: fields.ForeignKeyRelation[EconomyShopItem] = fields.ForeignKeyField(
        "models.EconomyShopItem", related_name="holdings", on_delete=fields.CASCADE,
        db_index=True,
    )
    slot = fields.CharField(max_length=48, default="stack")
    quantity = fields.BigIntField(default=0)
    # For an active boost: a copy of the item's effect, so readers need no join.
    metadata: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    purchased_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    active = fields.BooleanField(default=False)

    class Meta:
        table = "economy_user_items"
        unique_together = (("guild", "user", "item", "slot"),)
        # The levels pipeline reads a guild's active boosts.
        indexes = (("guild_id", "active", "expires_at"),)

    def __str__(self) -> str:
        return f"{self.quantity} x item {self.item_id} of {self.user_id}"  # type: ignore[attr-defined]


class EconomyCooldown(Model):
    """When a member may next use a command (work, rob, shop purchases of an item)."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="economy_cooldowns", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="economy_cooldowns", on_delete=fields.CASCADE, db_index=True
    )
    command = fields.CharField(max_length=64)
    last_used = fields.DatetimeField()
    next_available = fields.DatetimeField()

    class Meta:
        table = "economy_cooldowns"
        unique_together = (("guild", "user", "command"),)

    def __str__(self) -> str:
        return f"{self.command} cooldown of {self.user_id}"  # type: ignore[attr-defined]


class EconomyGamblingStats(Model):
    """Per member and game: how much was wagered and won. Profit = total_won - total_wagered."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="economy_gambling_stats", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="economy_gambling_stats", on_delete=fields.CASCADE,
        db_index=True,
    )
    game = fields.CharEnumField(Game, max_length=16)
    games_played = fields.BigIntField(default=0)
    games_won = fields.BigIntField(default=0)
    total_wagered = fields.BigIntField(default=0)
    total_won = fields.BigIntField(default=0)  # everything paid back, stake included
    biggest_win = fields.BigIntField(default=0)  # largest profit of one game
    biggest_loss = fields.BigIntField(default=0)  # largest loss of one game
    current_streak = fields.IntField(default=0)  # consecutive wins
    best_streak = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "economy_gambling_stats"
        unique_together = (("guild", "user", "game"),)

    def __str__(self) -> str:
        return f"{self.game} stats of {self.user_id}"  # type: ignore[attr-defined]


class EconomyBlackjackGame(Model):
    """A blackjack hand in play. The bet is debited when it starts; `status` leaves `active` once,
    by a conditional UPDATE, and the payout's ledger row has a key per game, so it settles once."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="economy_blackjack_games", on_delete=fields.CASCADE,
        db_index=True,
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="economy_blackjack_games", on_delete=fields.CASCADE,
        db_index=True,
    )
    bet = fields.BigIntField()
    deck: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    player_hand: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    dealer_hand: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    status = fields.CharEnumField(BlackjackStatus, max_length=16, default=BlackjackStatus.ACTIVE)
    payout = fields.BigIntField(default=0)
    # The message showing the hand, so the timeout can show how an abandoned hand ended.
    channel_id = fields.BigIntField(null=True)
    message_id = fields.BigIntField(null=True)
    # Bumped by every move; a move applies only to the version it read (no lost double clicks).
    version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "economy_blackjack_games"
        indexes = (("status", "updated_at"),)

    def __str__(self) -> str:
        return f"Blackjack #{self.id} ({self.status})"
