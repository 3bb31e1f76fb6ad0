"""The economy end to end, through the local Discord: members run the commands and click the
buttons; the tests read what the bot answered and what the database holds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.economy import (
    BlackjackStatus,
    EconomyBalance,
    EconomyBlackjackGame,
    EconomyShopItem,
    EconomyTransaction,
    EconomyUserItem,
    TransactionType,
)
from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditLog
from pegasus.localdiscord import CommandUnavailable
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import economy

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.economy"))


async def wallet(env: DiscordEnv, member: Any) -> tuple[int, int]:
    row = await EconomyBalance.get(guild_id=env.guild.id, user_id=member.id)
    return row.wallet, row.bank


async def books_balance(env: DiscordEnv) -> None:
    """Each wallet and bank equals its ledger, nothing negative, net worth in step."""
    for row in await EconomyBalance.filter(guild_id=env.guild.id):
        rows = await EconomyTransaction.filter(
            guild_id=env.guild.id, user_id=row.user_id  # type: ignore[attr-defined]
        ).values_list("amount", "bank_amount")
        assert (row.wallet, row.bank) == (sum(a for a, _ in rows), sum(b for _, b in rows))
        assert row.wallet >= 0 and row.bank >= 0 and row.net_worth == row.wallet + row.bank


async def give(env: DiscordEnv, member: Any, amount: int) -> None:
    reply = await env.owner.slash("economy give", member=member, amount=str(amount))
    assert reply.ephemeral and "Gave" in (reply.content or ""), reply.content


# -------------------------------------------------------------------------------- balances


async def test_balance_opens_an_account(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("balance")
    assert not reply.ephemeral
    assert "alice" in reply.text.lower() and "🪙 100" in reply.text
    assert await wallet(env, env.alice) == (100, 0)
    assert await EconomyTransaction.filter(user_id=env.alice.id).count() == 1
    other = await env.alice.slash("balance", member=env.bob)
    assert "bob" in other.text.lower()
    refused = await env.alice.slash("balance", member=env.bot_member)
    assert refused.ephemeral and "Bots have no wallet" in (refused.content or "")


async def test_deposit_and_withdraw(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("deposit", amount="60")
    assert "Deposited 🪙 60" in (reply.content or "") and "bank: 🪙 60" in (reply.content or "")
    reply = await env.alice.slash("withdraw", amount="all")
    assert "Withdrew 🪙 60" in (reply.content or "")
    refused = await env.alice.slash("deposit", amount="1,000")
    assert refused.ephemeral and "only 🪙 100 in your wallet" in (refused.content or "")
    refused = await env.alice.slash("deposit", amount="-5")
    assert refused.ephemeral and "positive" in (refused.content or "")
    refused = await env.alice.slash("withdraw", amount="lots")
    assert refused.ephemeral and "not an amount" in (refused.content or "")
    assert await wallet(env, env.alice) == (100, 0)
    await books_balance(env)


async def test_pay(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("pay", member=env.bob, amount="2.5k")
    assert reply.ephemeral and "don't have 🪙 2,500" in (reply.content or "")
    reply = await env.alice.slash("pay", member=env.bob, amount="40")
    assert not reply.ephemeral and "paid" in (reply.content or "") and "🪙 40" in reply.content
    assert env.bob.mention in (reply.content or "")
    assert await wallet(env, env.alice) == (60, 0)
    assert await wallet(env, env.bob) == (140, 0)
    for target, why in ((env.alice, "yourself"), (env.bot_member, "Bots")):
        refused = await env.alice.slash("pay", member=target, amount="1")
        assert refused.ephemeral and why in (refused.content or "")
    await books_balance(env)


async def test_the_same_interaction_delivered_twice_moves_money_once(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    delivered: list[dict[str, Any]] = []
    events = env.server.events
    original = events.interaction_create

    def record(body: dict[str, Any], guild_id: int | None) -> None:
        delivered.append(body)
        original(body, guild_id)

    events.interaction_create = record  # type: ignore[method-assign]
    try:
        reply = await env.alice.slash("pay", member=env.bob, amount="30")
    finally:
        events.interaction_create = original  # type: ignore[method-assign]
    assert "paid" in (reply.content or "")
    # Discord (or a gateway replay) hands the bot the very same interaction again.
    original(delivered[-1], env.guild.id)
    await env.settle()
    assert await wallet(env, env.alice) == (70, 0)
    assert await wallet(env, env.bob) == (130, 0)
    transfers = await EconomyTransaction.filter(type=TransactionType.TRANSFER).count()
    assert transfers == 2  # one payment: its two halves
    await books_balance(env)


# -------------------------------------------------------------------------------- earning


async def test_daily_once_a_day(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("daily")
    assert "claimed 🪙 250" in (reply.content or "") and "Streak: **1** day" in reply.content
    assert "<t:" in (reply.content or "")
    again = await env.alice.slash("daily")
    assert again.ephemeral and "already claimed today" in (again.content or "")
    assert await wallet(env, env.alice) == (350, 0)


async def test_work_then_rest(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("economy set", work_min=10, work_max=10, work_cooldown="30m")
    reply = await env.alice.slash("work")
    assert "earned 🪙 10" in (reply.content or "") and "work again <t:" in reply.content
    again = await env.alice.slash("work")
    assert again.ephemeral and "tired" in (again.content or "")
    assert await wallet(env, env.alice) == (110, 0)


async def test_rob_success_and_failure(discord_env: DiscordEnv) -> None:
    env = discord_env
    await give(env, env.bob, 900)  # bob: 1,000
    await env.owner.slash("economy set", rob_success_percent=100, rob_max_steal_percent=30)
    reply = await env.alice.slash("rob", member=env.bob)
    assert "robbed" in (reply.content or "")
    stolen = (await wallet(env, env.alice))[0] - 100
    assert 100 <= stolen <= 300 and await wallet(env, env.bob) == (1000 - stolen, 0)
    again = await env.alice.slash("rob", member=env.bob)
    assert again.ephemeral and "rob again" in (again.content or "")
    await env.owner.slash("economy set", rob_success_percent=0, rob_fine_percent=50)
    caught = await env.carol.slash("rob", member=env.bob)
    assert "caught" in (caught.content or "") and "🪙 50" in (caught.content or "")
    assert await wallet(env, env.carol) == (50, 0)
    for target, why in ((env.mod, "yourself"), (env.bot_member, "Bots")):
        refused = await env.mod.slash("rob", member=target)
        assert refused.ephemeral and why in (refused.content or "")
    poor = await env.mod.slash("rob", member=env.carol)
    assert poor.ephemeral and "not worth the risk" in (poor.content or "")
    await books_balance(env)


# -------------------------------------------------------------------------------- games


async def _ledger_game(env: DiscordEnv, member: Any) -> EconomyTransaction:
    return await EconomyTransaction.filter(
        user_id=member.id, type=TransactionType.GAMBLE
    ).order_by("-created_at").first()  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("command", "options"),
    [("coinflip", {"side": "heads"}), ("dice", {}), ("slots", {}), ("roulette", {"space": "red"})],
)
async def test_one_shot_games(discord_env: DiscordEnv, command: str, options: dict) -> None:
    env = discord_env
    reply = await env.alice.slash(command, bet="50", **options)
    assert not reply.ephemeral and reply.embed is not None
    row = await _ledger_game(env, env.alice)
    bet, payout = row.metadata["bet"], row.metadata["payout"]
    assert bet == 50 and row.amount == payout - bet
    assert await wallet(env, env.alice) == (100 + payout - bet, 0)
    word = "won" if payout > bet else "Push" if payout == bet else "lost"
    assert word in reply.text
    await books_balance(env)


async def test_bets_are_checked(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("economy set", min_bet=20, max_bet=80)
    low = await env.alice.slash("slots", bet="10")
    assert low.ephemeral and "between 🪙 20 and 🪙 80" in (low.content or "")
    poor = await env.alice.slash("dice", bet="all")  # 100 is above the maximum bet
    assert poor.ephemeral and "between" in (poor.content or "")
    bad = await env.alice.slash("roulette", bet="20", space="purple")
    assert bad.ephemeral and "not a roulette space" in (bad.content or "")
    assert await wallet(env, env.alice) == (100, 0)


async def _active_blackjack(env: DiscordEnv, member: Any) -> tuple[Any, EconomyBlackjackGame]:
    """Start hands until one is still in play (a natural settles at once)."""
    for _ in range(20):
        reply = await member.slash("blackjack", bet="10")
        game = await EconomyBlackjackGame.filter(user_id=member.id).order_by("-id").first()
        assert game is not None
        if game.status == BlackjackStatus.ACTIVE:
            assert {b["label"] for b in reply.buttons} == {"Hit", "Stand"}
            return reply, game
        assert not reply.buttons
    raise AssertionError("twenty naturals in a row")


async def test_blackjack_with_buttons(discord_env: DiscordEnv) -> None:
    env = discord_env
    await give(env, env.alice, 1000)
    reply, game = await _active_blackjack(env, env.alice)
    assert "Hit to draw a card" in reply.text
    intruder = await env.bob.click(reply, label="Stand")
    assert intruder.ephemeral and "isn't your game" in (intruder.content or "")
    # A double click: both clicks reach the bot; the hand settles once.
    first, second = await asyncio.gather(
        env.alice.click(reply, label="Stand"), env.alice.click(reply, label="Stand")
    )
    await game.refresh_from_db()
    assert game.status != BlackjackStatus.ACTIVE
    done, refused = (first, second) if first.kind == "update" else (second, first)
    assert done.kind == "update" and not done.buttons and "Dealer" in done.text
    assert refused.ephemeral and "already" in (refused.content or ""), refused.content
    settled = await EconomyTransaction.filter(
        idempotency_key=f"economy:blackjack:{game.id}:settle"
    ).count()
    assert settled == (1 if game.payout else 0)
    await books_balance(env)


async def test_blackjack_buttons_survive_a_restart(discord_env: DiscordEnv) -> None:
    env = discord_env
    await give(env, env.alice, 1000)
    reply, game = await _active_blackjack(env, env.alice)
    await env.restart_bot()
    while True:
        moved = await env.alice.click(reply, label="Hit")
        await game.refresh_from_db()
        if game.status != BlackjackStatus.ACTIVE:
            break
        assert len(game.player_hand) <= 11
    assert not moved.buttons
    await books_balance(env)


async def test_an_abandoned_blackjack_hand_settles_on_its_timer(discord_env: DiscordEnv) -> None:
    env = discord_env
    await give(env, env.alice, 1000)
    reply, game = await _active_blackjack(env, env.alice)
    await ScheduledAction.filter(kind=economy.BLACKJACK_TIMEOUT_KIND).update(
        due_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await env.bot.scheduler.run_due() == 1
    await game.refresh_from_db()
    assert game.status != BlackjackStatus.ACTIVE
    assert game.message_id == reply.message.id
    shown = env.channel("general").bot_messages[-1]
    assert shown.id == game.message_id and "Time ran out" in shown.text and not shown.buttons
    await books_balance(env)


async def test_gamblestats(discord_env: DiscordEnv) -> None:
    env = discord_env
    empty = await env.alice.slash("gamblestats")
    assert "No games played yet" in empty.text
    await env.alice.slash("coinflip", bet="10", side="tails")
    await env.alice.slash("dice", bet="10")
    stats = await env.bob.slash("gamblestats", member=env.alice)
    assert "Coinflip" in stats.text and "Dice" in stats.text and "Played 1" in stats.text


# -------------------------------------------------------------------------------- shop


async def test_shop_admin_add_edit_remove_and_listing(discord_env: DiscordEnv) -> None:
    env = discord_env
    added = await env.owner.slash("shop-admin add", name="Cookie", price=25,
                                  description="Freshly baked", stock=3)
    assert added.ephemeral and "Cookie" in (added.content or "") and "3 left" in added.content
    duplicate = await env.owner.slash("shop-admin add", name="cookie", price=5)
    assert duplicate.ephemeral and "already has" in (duplicate.content or "")
    listing = await env.alice.slash("shop")
    assert "Cookie" in listing.text and "🪙 25" in listing.text and "Freshly baked" in listing.text
    choices = await env.alice.autocomplete("buy", "item", "coo")
    assert [c["value"] for c in choices] == ["Cookie"]
    edited = await env.owner.slash("shop-admin edit", item="Cookie", price=30, stock=-1)
    assert "🪙 30" in (edited.content or "") and "left" not in (edited.content or "")
    with pytest.raises(CommandUnavailable):
        await env.alice.slash("shop-admin add", name="Free money", price=1)
    prompt = await env.owner.slash("shop-admin remove", item="Cookie")
    assert prompt.ephemeral and {b["label"] for b in prompt.buttons} == {"Remove", "Cancel"}
    done = await env.owner.click(prompt, label="Remove")
    assert "Removed **Cookie**" in (done.content or "")
    assert not await EconomyShopItem.exists()


async def test_buy_sell_and_inventory(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("shop-admin add", name="Trophy", price=40, stock=2)
    bought = await env.alice.slash("buy", item="trophy", quantity=2)
    assert "bought **2 x Trophy** for 🪙 80" in (bought.content or "")
    sold_out = await env.bob.slash("buy", item="Trophy")
    assert sold_out.ephemeral and "sold out" in (sold_out.content or "")
    inventory = await env.alice.slash("inventory")
    assert "Trophy** x2" in inventory.text
    sold = await env.alice.slash("sell", item="Trophy")
    assert "sold **1 x Trophy** for 🪙 20" in (sold.content or "")
    assert await wallet(env, env.alice) == (40, 0)
    assert (await economy.find_item(env.guild.id, "Trophy")).stock == 1
    other = await env.bob.slash("inventory", member=env.alice)
    assert "Trophy** x1" in other.text
    missing = await env.bob.slash("sell", item="Trophy")
    assert missing.ephemeral and "don't have any" in (missing.content or "")
    await books_balance(env)


async def test_role_items_grant_and_remove_the_role(discord_env: DiscordEnv) -> None:
    env = discord_env
    vip = await env.guild.create_role("VIP")
    await env.settle()
    added = await env.owner.slash("shop-admin add", name="VIP pass", price=50, type="role",
                                  role=vip)
    assert added.ephemeral and "Grants" in (added.content or ""), added.content
    bought = await env.alice.slash("buy", item="VIP pass")
    assert "VIP" in (bought.content or "") and env.alice.has_role("VIP"), bought.content
    sold = await env.alice.slash("sell", item="VIP pass")
    assert "removed" in (sold.content or "")
    await env.settle()
    assert not env.alice.has_role("VIP")
    above = await env.owner.slash("shop-admin add", name="Bot pass", price=5, type="role",
                                  role=env.guild.role("Pegasus"))
    assert above.ephemeral and "can't give" in (above.content or "")


async def test_requirements_are_enforced(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("shop-admin add", name="Mod snack", price=5,
                          required_role=env.guild.role("Moderator"))
    refused = await env.alice.slash("buy", item="Mod snack")
    assert refused.ephemeral and "only for members with" in (refused.content or "")
    allowed = await env.mod.slash("buy", item="Mod snack")
    assert "bought" in (allowed.content or "")


async def test_use_a_boost_and_its_expiry(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("shop-admin add", name="Double XP", price=60, type="boost",
                          boost_kind="xp", multiplier=200, duration="1h")
    await env.alice.slash("buy", item="Double XP")
    used = await env.alice.slash("use", item="Double XP")
    assert "is active: XP x2" in (used.content or "") and "<t:" in (used.content or "")
    assert await economy.active_xp_multiplier(env.guild.id, env.alice.id, datetime.now(UTC)) == 200
    inventory = await env.alice.slash("inventory")
    assert "Active effects" in inventory.text and "Double XP" in inventory.text
    nothing = await env.alice.slash("use", item="Double XP")
    assert nothing.ephemeral and "don't have any" in (nothing.content or "")
    await ScheduledAction.filter(kind=economy.ITEM_EXPIRE_KIND).update(
        due_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await env.bot.scheduler.run_due() == 1
    row = await EconomyUserItem.get(guild_id=env.guild.id, user_id=env.alice.id, active=False,
                                    slot__startswith="use:")
    assert row.metadata["kind"] == "xp"
    action = await ScheduledAction.get(kind=economy.ITEM_EXPIRE_KIND)
    assert action.status == ActionStatus.DONE


async def test_use_custom_items_and_refuse_plain_ones(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("shop-admin add", name="Shoutout", price=30, type="custom",
                          message="A moderator will shout you out tonight.")
    await env.owner.slash("shop-admin add", name="Pebble", price=1)
    await env.alice.slash("buy", item="Shoutout")
    await env.alice.slash("buy", item="Pebble")
    used = await env.alice.slash("use", item="shoutout")
    assert "A moderator will shout you out tonight." in (used.content or "")
    assert "0 left" in (used.content or "")
    plain = await env.alice.slash("use", item="Pebble")
    assert plain.ephemeral and "can't be used" in (plain.content or "")


# -------------------------------------------------------------------------------- ledger and staff


async def test_transactions_are_private_and_paged(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.alice.slash("pay", member=env.bob, amount="5")
    mine = await env.alice.slash("transactions")
    assert mine.ephemeral and "Transfer" in mine.text and "Starting balance" in mine.text
    refused = await env.alice.slash("transactions", member=env.bob)
    assert refused.ephemeral and "Manage Server" in (refused.content or "")
    staff = await env.owner.slash("transactions", member=env.bob, page=1)
    assert "Transfer" in staff.text and "Page 1 of 1" in staff.text


async def test_staff_give_take_and_settings(discord_env: DiscordEnv) -> None:
    env = discord_env
    await give(env, env.alice, 500)
    taken = await env.owner.slash("economy take", member=env.alice, amount="200",
                                  reason="Refund of a bug")
    assert "Took 🪙 200" in (taken.content or "")
    too_much = await env.owner.slash("economy take", member=env.alice, amount="1k")
    assert too_much.ephemeral and "only 🪙 400" in (too_much.content or "")
    zero = await env.owner.slash("economy give", member=env.alice, amount="0")
    assert zero.ephemeral and "more than zero" in (zero.content or "")
    assert await wallet(env, env.alice) == (400, 0)
    with pytest.raises(CommandUnavailable):
        await env.alice.slash("economy give", member=env.alice, amount="1000000")
    changed = await env.owner.slash("economy set", currency_name="gems", currency_symbol="💎",
                                    daily_amount=1000)
    assert changed.ephemeral and "currency name" in (changed.content or "")
    shown = await env.owner.slash("economy settings")
    assert "💎 gems" in shown.text and "💎 1,000" in shown.text
    bad = await env.owner.slash("economy set", work_min=500, work_max=100)
    assert bad.ephemeral and "minimum work pay" in (bad.content or "")
    balance = await env.alice.slash("balance")
    assert "💎 400" in balance.text
    await books_balance(env)


async def test_staff_reset_and_reverse(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.alice.slash("pay", member=env.bob, amount="40")
    payment = await EconomyTransaction.get(user_id=env.alice.id, type=TransactionType.TRANSFER)
    prompt = await env.owner.slash("economy reverse", transaction=payment.id.hex[:8])
    assert "Reverse" in (prompt.content or "")
    done = await env.owner.click(prompt, label="Reverse")
    assert "Reversed 2 ledger rows" in (done.content or "")
    assert await wallet(env, env.alice) == (100, 0) and await wallet(env, env.bob) == (100, 0)
    twice = await env.owner.slash("economy reverse", transaction=payment.id.hex)
    twice_done = await env.owner.click(twice, label="Reverse")
    assert "already reversed" in (twice_done.content or "")
    await env.alice.slash("deposit", amount="50")
    prompt = await env.owner.slash("economy reset", member=env.alice)
    cancelled = await env.owner.click(prompt, label="Cancel")
    assert "nothing was changed" in (cancelled.content or "")
    assert await wallet(env, env.alice) == (50, 50)
    prompt = await env.owner.slash("economy reset", member=env.alice)
    done = await env.owner.click(prompt, label="Reset")
    assert "Reset" in (done.content or "")
    assert await wallet(env, env.alice) == (100, 0)
    await books_balance(env)


async def test_money_leaderboard_index_and_net_worth(discord_env: DiscordEnv) -> None:
    env = discord_env
    await give(env, env.bob, 1000)
    await env.bob.slash("deposit", amount="600")
    top = await economy.get_balance(env.guild.id, env.bob.id)
    assert top.rank == 1 and top.net_worth == 1100


# -------------------------------------------------------------------------------- refunds


async def _role_item(env: DiscordEnv) -> Any:
    vip = await env.guild.create_role("VIP")
    await env.settle()
    added = await env.owner.slash("shop-admin add", name="VIP pass", price=50, type="role",
                                  role=vip, stock=3)
    assert "Grants" in (added.content or ""), added.content
    return vip


async def _assert_refunded(env: DiscordEnv, member: Any, reply: Any, why: str) -> None:
    text = reply.content or ""
    assert "refunded" in text and "🪙 50" in text and why in text, text
    assert not member.has_role("VIP")
    assert await wallet(env, member) == (100, 0)
    purchase = await EconomyTransaction.get(user_id=member.id, type=TransactionType.SHOP_BUY)
    refund = await EconomyTransaction.get(user_id=member.id, type=TransactionType.REVERSAL)
    assert refund.related_transaction_id == purchase.id  # type: ignore[attr-defined]
    assert refund.amount == -purchase.amount == 50
    assert (await economy.find_item(env.guild.id, "VIP pass")).stock == 3
    assert not await EconomyUserItem.filter(user_id=member.id, quantity__gt=0).exists()
    row = await EconomyBalance.get(guild_id=env.guild.id, user_id=member.id)
    assert row.total_spent == 0
    await books_balance(env)


async def test_a_role_moved_above_the_bot_is_refunded(discord_env: DiscordEnv) -> None:
    env = discord_env
    vip = await _role_item(env)
    # Staff move the role above the bot's; the bot has not heard of it yet when alice buys.
    vip.position = env.guild.role("Pegasus").position + 1
    bought = await env.alice.slash("buy", item="VIP pass")
    await _assert_refunded(env, env.alice, bought, "above mine")
    assert env.server.requests_to("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
    # Once the bot knows, it refuses before taking any money.
    env.server.events.role_update(vip)
    await env.settle()
    refused = await env.alice.slash("buy", item="VIP pass")
    assert refused.ephemeral and "can't give" in (refused.content or ""), refused.content
    assert await wallet(env, env.alice) == (100, 0)


async def test_a_deleted_role_is_refunded(discord_env: DiscordEnv) -> None:
    env = discord_env
    vip = await _role_item(env)
    # The role is deleted; the gateway event is still on its way when bob buys.
    vip.deleted = True
    env.guild.roles_by_id.pop(vip.id)
    bought = await env.bob.slash("buy", item="VIP pass")
    await _assert_refunded(env, env.bob, bought, "no longer exists")
    env.server.events.role_delete(vip)
    await env.settle()
    refused = await env.bob.slash("buy", item="VIP pass")
    assert refused.ephemeral and "no longer exists" in (refused.content or "")
    assert await wallet(env, env.bob) == (100, 0)


# -------------------------------------------------------------------------------- page buttons


def _buttons(reply: Any) -> dict[str, dict]:
    return {b["label"]: b for b in reply.buttons}


async def test_shop_page_buttons_survive_a_restart(discord_env: DiscordEnv) -> None:
    env = discord_env
    for n in range(economy.ITEMS_PER_PAGE + 2):  # two pages
        await economy.add_item(env.guild.id, name=f"Gem {n}", price=1_000 + n)
    first = await env.alice.slash("shop")
    assert "Page 1 of 2" in first.text and "Gem 0" in first.text and "🪙 1,000" in first.text
    buttons = _buttons(first)
    assert set(buttons) == {"◀ Previous", "Next ▶"}
    assert buttons["◀ Previous"].get("disabled") and not buttons["Next ▶"].get("disabled")
    assert all(b["custom_id"].startswith("pegasus:economy:") for b in buttons.values())
    await env.restart_bot()
    second = await env.bob.click(first, label="Next ▶")
    assert second.kind == "update" and "Page 2 of 2" in second.text, second.text
    assert "Gem 7" in second.text and "Gem 0" not in second.text
    assert _buttons(second)["Next ▶"].get("disabled")
    back = await env.bob.click(second, label="◀ Previous")
    assert "Page 1 of 2" in back.text
    # The page option still works, and opens on the buttons of that page.
    direct = await env.alice.slash("shop", page=2)
    assert "Page 2 of 2" in direct.text and _buttons(direct)["◀ Previous"].get("disabled") is False
    # After items left, a stale button shows the last page there is.
    await EconomyShopItem.filter(guild_id=env.guild.id, name__in=["Gem 6", "Gem 7"]).delete()
    stale = await env.bob.click(direct, label="◀ Previous")
    assert "Page 1 of 1" in stale.text and not stale.buttons


async def test_transaction_page_buttons_survive_a_restart(discord_env: DiscordEnv) -> None:
    env = discord_env
    now = datetime.now(UTC)
    for day in range(economy.TRANSACTIONS_PER_PAGE + 2):  # 13 rows with the starting balance
        await economy.claim_daily(env.guild.id, env.alice.id, now=now + timedelta(days=day))
    first = await env.alice.slash("transactions")
    assert first.ephemeral and "Page 1 of 2" in first.text and "13 transactions" in first.text
    assert _buttons(first)["◀ Previous"].get("disabled")
    await env.restart_bot()
    second = await env.alice.click(first, label="Next ▶")
    assert second.kind == "update" and "Page 2 of 2" in second.text, second.text
    assert "Starting balance" in second.text
    back = await env.alice.click(second, label="◀ Previous")
    assert "Page 1 of 2" in back.text and "Starting balance" not in back.text
    # Staff page through someone else's ledger the same way.
    staff = await env.owner.slash("transactions", member=env.alice, page=2)
    assert "Page 2 of 2" in staff.text
    staff_back = await env.owner.click(staff, label="◀ Previous")
    assert "Page 1 of 2" in staff_back.text and "alice" in staff_back.text.lower()
    # One page: no buttons.
    lonely = await env.bob.slash("transactions")
    assert "Page 1 of 1" in lonely.text and not lonely.buttons


# -------------------------------------------------------------------------------- how numbers read


async def test_large_numbers_read_with_thousands_separators(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.alice.slash("balance")
    # A long streak: the 1,000th day in a row.
    today = economy.utc_day(datetime.now(UTC))
    await EconomyBalance.filter(guild_id=env.guild.id, user_id=env.alice.id).update(
        last_daily_day=today - 1, daily_streak=999
    )
    await env.owner.slash("economy set", daily_streak_max_days=0)
    daily = await env.alice.slash("daily")
    assert "Streak: **1,000** days" in (daily.content or ""), daily.content
    # A ledger of more than 10,000 rows: over a thousand pages.
    await EconomyTransaction.bulk_create(
        [EconomyTransaction(guild_id=env.guild.id, user_id=env.alice.id,
                            type=TransactionType.ADMIN, description="filler")
         for _ in range(10_000)],
        batch_size=1_000,
    )
    ledger = await env.alice.slash("transactions")
    assert "Page 1 of 1,001" in ledger.text and "10,002 transactions" in ledger.text, ledger.text
    last = await env.alice.slash("transactions", page=1_001)
    assert "day 1,000 of the streak" in last.text and "Page 1,001 of 1,001" in last.text
    # Game profit is shown as money.
    await env.owner.slash("economy give", member=env.alice, amount="5000")
    await env.alice.slash("dice", bet="1,500")
    stats = await env.alice.slash("gamblestats")
    assert "Overall profit: " in stats.text
    footer = stats.text.split("Overall profit: ", 1)[1]
    assert footer.lstrip("+−").startswith("🪙"), footer


# -------------------------------------------------------------------------------- bots and lookups


async def test_bots_are_refused_and_get_no_account(discord_env: DiscordEnv) -> None:
    env = discord_env
    bot = env.bot_member
    for command, why in (("gamblestats", "Bots don't gamble"), ("inventory", "no inventory"),
                         ("balance", "no wallet")):
        refused = await env.alice.slash(command, member=bot)
        assert refused.ephemeral and why in (refused.content or ""), refused.content
    reset = await env.owner.slash("economy reset", member=bot)
    assert reset.ephemeral and not reset.buttons and "no wallet" in (reset.content or "")
    # Looking at a bot opened no account, so it can't show up on the money leaderboard.
    assert not await EconomyBalance.filter(user_id=bot.id).exists()
    assert not await EconomyTransaction.filter(user_id=bot.id).exists()


async def test_item_autocomplete_offers_what_each_command_can_take(discord_env: DiscordEnv) -> None:
    env = discord_env
    for name in ("Cookie", "Candle", "Cake"):
        await economy.add_item(env.guild.id, name=name, price=10)
    await env.alice.slash("buy", item="Cookie")
    await env.alice.slash("buy", item="Candle")
    await env.owner.slash("shop-admin edit", item="Cookie", enabled=False)

    async def offered(member: Any, command: str, typed: str = "") -> list[str]:
        return [c["value"] for c in await member.autocomplete(command, "item", typed)]

    # Buying: only what is for sale.
    assert await offered(env.alice, "buy", "c") == ["Cake", "Candle"]
    # Selling and using: what the member holds, even when it is no longer for sale.
    assert await offered(env.alice, "sell") == ["Candle", "Cookie"]
    assert await offered(env.alice, "use", "coo") == ["Cookie"]
    assert await offered(env.bob, "sell") == []
    # Staff find items that are not for sale, to put them back on sale.
    assert await offered(env.owner, "shop-admin edit", "coo") == ["Cookie"]
    assert await offered(env.owner, "shop-admin remove") == ["Cake", "Candle", "Cookie"]
    back = await env.owner.slash("shop-admin edit", item="Cookie", enabled=True)
    assert "not for sale" not in (back.content or "")
    sold = await env.alice.slash("sell", item="Cookie")
    assert "sold **1 x Cookie**" in (sold.content or "")


async def test_staff_edit_an_items_effect_role_and_requirements(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("shop-admin add", name="Potion", price=10, type="boost",
                          boost_kind="xp", multiplier=150, duration="1h")
    edited = await env.owner.slash("shop-admin edit", item="Potion", multiplier=300,
                                   duration="2h", min_level=5)
    assert edited.ephemeral and "XP x3 for 2h" in (edited.content or ""), edited.content
    assert "needs level 5" in (edited.content or "")
    refused = await env.alice.slash("buy", item="Potion")
    assert refused.ephemeral and "needs level 5" in (refused.content or "")
    wrong = await env.owner.slash("shop-admin edit", item="Potion", message="hello")
    assert wrong.ephemeral and "boost item: it has no message" in (wrong.content or "")
    opened = await env.owner.slash("shop-admin edit", item="Potion", min_level=0)
    assert "needs" not in (opened.content or "")
    await env.alice.slash("buy", item="Potion")
    used = await env.alice.slash("use", item="Potion")
    assert "XP x3" in (used.content or "")

    gold = await env.guild.create_role("Gold")
    silver = await env.guild.create_role("Silver")
    await env.settle()
    await env.owner.slash("shop-admin add", name="Rank", price=10, type="role", role=silver)
    moved = await env.owner.slash("shop-admin edit", item="Rank", role=gold,
                                  required_role=env.guild.role("Moderator"))
    assert f"<@&{gold.id}>" in (moved.content or "") and "needs" in (moved.content or "")
    above = await env.owner.slash("shop-admin edit", item="Rank", role=env.guild.role("Pegasus"))
    assert above.ephemeral and "can't give" in (above.content or "")
    bought = await env.mod.slash("buy", item="Rank")
    assert "bought" in (bought.content or "")
    await env.settle()
    assert env.mod.has_role("Gold") and not env.mod.has_role("Silver")
    public = await env.owner.slash("shop-admin edit", item="Rank", open_to_all=True)
    assert "needs" not in (public.content or "")
    assert (await economy.find_item(env.guild.id, "Rank")).requirements == {}


async def test_rob_protection_and_robbing_turned_off(discord_env: DiscordEnv) -> None:
    env = discord_env
    await give(env, env.bob, 1000)
    await env.owner.slash("economy set", rob_success_percent=100)
    await env.owner.slash("shop-admin add", name="Guard Dog", price=100, type="boost",
                          boost_kind="rob_protection", duration="1d")
    await env.bob.slash("buy", item="Guard Dog")
    used = await env.bob.slash("use", item="Guard Dog")
    assert "Protection from robbers" in (used.content or ""), used.content
    refused = await env.alice.slash("rob", member=env.bob)
    assert refused.ephemeral and "protected from robbers" in (refused.content or "")
    assert await wallet(env, env.bob) == (1000, 0)
    # The refusal started no cooldown: carol, unprotected, can be robbed at once.
    await give(env, env.carol, 1000)
    robbed = await env.alice.slash("rob", member=env.carol)
    assert "robbed" in (robbed.content or "")
    await env.owner.slash("economy set", rob_enabled=False)
    off = await env.mod.slash("rob", member=env.carol)
    assert off.ephemeral and "turned off" in (off.content or "")
    await books_balance(env)


# -------------------------------------------------------------------------------- audit, ledger


async def test_a_settings_command_is_audited_with_before_and_after(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    changed = await env.owner.slash("economy set", currency_symbol="💎", work_cooldown="2h",
                                    max_bet=5000)
    assert changed.ephemeral and "currency symbol, work cooldown, maximum bet" in (
        changed.content or ""
    )
    [entry] = await AuditLog.filter(guild_id=env.guild.id, action="economy.settings")
    assert entry.actor_id == env.owner.id  # type: ignore[attr-defined]
    assert entry.before == {"currency_symbol": "🪙", "work_cooldown_seconds": 3600,
                            "max_bet": 100_000}
    assert entry.after == {"currency_symbol": "💎", "work_cooldown_seconds": 7200,
                           "max_bet": 5000}
    refused = await env.owner.slash("economy set", min_bet=6000)
    assert refused.ephemeral and "minimum bet" in (refused.content or "")
    assert await AuditLog.filter(action="economy.settings").count() == 1


async def test_the_ledger_names_members_by_id_and_the_bot_shows_mentions(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.alice.slash("pay", member=env.bob, amount="40")
    await env.owner.slash("economy give", member=env.bob, amount="5", reason="quiz")
    rows = await EconomyTransaction.filter(guild_id=env.guild.id)
    assert rows and not [r.description for r in rows if "<@" in r.description]
    mine = await env.alice.slash("transactions")
    assert f"Paid to <@{env.bob.id}>" in mine.text
    theirs = await env.bob.slash("transactions")
    assert f"Received from <@{env.alice.id}>" in theirs.text
    assert f"Given by <@{env.owner.id}>: quiz" in theirs.text
