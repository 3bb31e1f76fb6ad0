"""Embeds and lines for the economy: what people read after each command."""

from __future__ import annotations

from datetime import datetime

import discord

from models.economy import BlackjackStatus, ShopItemType, TransactionType
from pegasus.services import economy
from pegasus.services.durations import format_duration
from pegasus.services.economy import Currency

COLOUR = 0xF1C40F
WIN = 0x2ECC71
LOSS = 0xE74C3C
NEUTRAL = 0x95A5A6

GAME_TITLES = {
    "coinflip": "🪙 Coinflip", "dice": "🎲 Dice", "slots": "🎰 Slots",
    "roulette": "🎡 Roulette", "blackjack": "🃏 Blackjack",
}
TYPE_LABELS = {
    TransactionType.STARTING_BALANCE: "Starting balance", TransactionType.DAILY: "Daily",
    TransactionType.WORK: "Work", TransactionType.ROB: "Robbery", TransactionType.FINE: "Fine",
    TransactionType.GAMBLE: "Game", TransactionType.SHOP_BUY: "Purchase",
    TransactionType.SHOP_SELL: "Sale", TransactionType.TRANSFER: "Transfer",
    TransactionType.DEPOSIT: "Deposit", TransactionType.WITHDRAW: "Withdrawal",
    TransactionType.ADMIN: "Staff", TransactionType.RESET: "Reset",
    TransactionType.REVERSAL: "Reversal",
}


def when(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:R>"


def signed(currency: Currency, amount: int) -> str:
    sign = "+" if amount > 0 else "−" if amount < 0 else "±"
    return f"{sign}{currency.format(abs(amount))}"


def balance_embed(name: str, view: economy.BalanceView) -> discord.Embed:
    c = view.currency
    embed = discord.Embed(title=f"{name}'s balance", colour=COLOUR)
    embed.add_field(name="Wallet", value=c.format(view.wallet))
    embed.add_field(name="Bank", value=c.format(view.bank))
    embed.add_field(name="Net worth", value=c.format(view.net_worth))
    footer = f"Rank #{view.rank:,} in this server"
    if view.daily_streak:
        footer += f" · daily streak {view.daily_streak:,}"
    embed.set_footer(text=footer)
    return embed


def game_embed(name: str, result: economy.GameResult) -> discord.Embed:
    c = result.currency
    colour = WIN if result.won else NEUTRAL if result.push else LOSS
    embed = discord.Embed(title=GAME_TITLES[result.game.value], colour=colour)
    outcome = outcome_line(name, result.bet, result.payout, c)
    embed.description = f"{game_detail(result)}\n\n{outcome}"
    embed.set_footer(text=f"Wallet: {c.format(result.wallet)}")
    return embed


def outcome_line(name: str, bet: int, payout: int, c: Currency) -> str:
    if payout > bet:
        return f"**{name} won {c.format(payout - bet)}** (paid {c.format(payout)})."
    if payout == bet:
        return f"**Push**: {name} gets the bet of {c.format(bet)} back."
    if payout:
        return f"**{name} lost {c.format(bet - payout)}** (paid back {c.format(payout)})."
    return f"**{name} lost {c.format(bet)}**."


def game_detail(result: economy.GameResult) -> str:
    d = result.detail
    game = result.game.value
    if game == "coinflip":
        return f"You called **{d['side']}**; the coin landed on **{d['landed']}**."
    if game == "dice":
        return (f"You rolled {' + '.join(map(str, d['player']))} = **{sum(d['player'])}**; "
                f"the house rolled {' + '.join(map(str, d['house']))} = **{sum(d['house'])}**.")
    if game == "slots":
        return f"**[ {' | '.join(d['reels'])} ]**"
    if game == "roulette":
        return f"You bet on **{d['space']}**; the ball landed on **{d['number']} ({d['colour']})**."
    return ""


def blackjack_embed(name: str, view: economy.BlackjackView) -> discord.Embed:
    c = view.currency
    if view.active:
        colour, status = COLOUR, "Hit to draw a card, Stand to let the dealer play."
    elif view.status in (BlackjackStatus.PLAYER_WON, BlackjackStatus.BLACKJACK):
        colour, status = WIN, outcome_line(name, view.bet, view.payout, c)
        if view.status == BlackjackStatus.BLACKJACK:
            status = "**Blackjack!** " + status
    elif view.status == BlackjackStatus.PUSH:
        colour, status = NEUTRAL, outcome_line(name, view.bet, view.payout, c)
    else:
        colour, status = LOSS, outcome_line(name, view.bet, view.payout, c)
        if view.player_value > 21:
            status = "**Bust!** " + status
    embed = discord.Embed(title="🃏 Blackjack", colour=colour, description=status)
    embed.add_field(name=f"{name} ({view.player_value})", value=" ".join(view.player))
    dealer = " ".join(view.dealer) + (" 🂠" if view.active else "")
    shown = f"{view.dealer_value}" + ("+" if view.active else "")
    embed.add_field(name=f"Dealer ({shown})", value=dealer)
    embed.set_footer(text=f"Bet {c.format(view.bet)} · game #{view.game_id}")
    return embed


def stats_embed(name: str, stats: list[economy.GameStats], c: Currency) -> discord.Embed:
    embed = discord.Embed(title=f"{name}'s games", colour=COLOUR)
    if not stats:
        embed.description = (
            "No games played yet. Try /coinflip, /dice, /slots, /roulette or /blackjack."
        )
        return embed
    for row in stats:
        rate = row.won * 100 // row.played if row.played else 0
        embed.add_field(
            name=GAME_TITLES[row.game.value],
            value=(f"Played {row.played:,} · won {row.won:,} ({rate}%)\n"
                   f"Wagered {c.format(row.wagered)} · profit {signed(c, row.profit)}\n"
                   f"Best win {c.format(row.biggest_win)} · worst loss "
                   f"{c.format(row.biggest_loss)}\n"
                   f"Streak {row.streak:,} (best {row.best_streak:,})"),
            inline=False,
        )
    total = sum(s.profit for s in stats)
    embed.set_footer(text=f"Overall profit: {signed(c, total) if total else c.format(0)}")
    return embed


def item_line(item: economy.ShopItem, c: Currency) -> str:
    parts = [f"**{item.name}** — {c.format(item.price)}"]
    extras = [item.type.value]
    if item.stock is not None:
        extras.append("sold out" if item.stock == 0 else f"{item.stock:,} left")
    if item.max_per_user:
        extras.append(f"max {item.max_per_user:,} each")
    if item.cooldown_seconds:
        extras.append(f"once every {format_duration(item.cooldown_seconds)}")
    needs = []
    if item.requirements.get("min_level"):
        needs.append(f"level {item.requirements['min_level']:,}")
    needs += [f"<@&{r}>" for r in item.requirements.get("role_ids", [])]
    if needs:
        extras.append("needs " + ", ".join(needs))
    parts.append(f"*{' · '.join(extras)}*")
    if item.type == ShopItemType.BOOST:
        parts.append(effect_text(item.effect))
    elif item.type == ShopItemType.ROLE and item.effect.get("role_id"):
        parts.append(f"Grants <@&{item.effect['role_id']}>")
    if item.description:
        parts.append(item.description)
    if not item.enabled:
        parts.append("*(not for sale)*")
    return "\n".join(parts)


def effect_text(effect: dict[str, object]) -> str:
    seconds = int(effect.get("duration_seconds") or 0)
    length = f" for {format_duration(seconds)}" if seconds else ""
    if effect.get("kind") == "xp":
        return f"XP x{int(effect.get('multiplier', 100)) / 100:g}{length}"
    if effect.get("kind") == "rob_protection":
        return f"Protection from robbers{length}"
    return ""


def shop_embed(guild_name: str, page: economy.ShopPage) -> discord.Embed:
    embed = discord.Embed(title=f"🛒 {guild_name} shop", colour=COLOUR)
    if not page.items:
        embed.description = "The shop is empty. Staff can add items with /shop-admin add."
    else:
        embed.description = "\n\n".join(item_line(i, page.currency) for i in page.items)
    embed.set_footer(text=f"Page {page.page:,} of {page.pages:,} · /buy item to buy")
    return embed


def inventory_embed(name: str, inventory: economy.Inventory) -> discord.Embed:
    c = inventory.currency
    embed = discord.Embed(title=f"🎒 {name}'s inventory", colour=COLOUR)
    if inventory.lines:
        embed.description = "\n".join(
            f"**{line.item_name}** x{line.quantity:,} · sells for {c.format(line.sell_price)} each"
            for line in inventory.lines
        )
    else:
        embed.description = "Nothing yet. Browse the /shop."
    if inventory.effects:
        embed.add_field(
            name="Active effects",
            value="\n".join(f"**{item}**: {effect_text(effect).split(' for ')[0]}, ends "
                            f"{when(ends)}" for item, effect, ends in inventory.effects),
            inline=False,
        )
    return embed


def when_of(entry: economy.LedgerEntry) -> str:
    return when(entry.created_at) if entry.created_at is not None else "just now"


def _mention(user_id: int | None, fallback: str) -> str:
    return f"<@{user_id}>" if user_id else fallback


def describe(entry: economy.LedgerEntry) -> str:
    """What a ledger row was, with the members it involves as mentions.

    The ledger stores who (the member, `related_user_id`, the staff member's `actor_id`) and
    what; the sentence is written here. Rows written before that carry their markup in the
    description and are shown as they are.
    """
    if "<@" in entry.description:
        return entry.description
    other = _mention(entry.related_user_id, "another member")
    staff = _mention(entry.actor_id, "staff")
    gained = entry.amount > 0
    if entry.type == TransactionType.TRANSFER:
        return f"Received from {other}" if gained else f"Paid to {other}"
    if entry.type == TransactionType.ROB:
        return f"Robbed {other}" if gained else f"Robbed by {other}"
    if entry.type == TransactionType.FINE:
        return (f"Fine paid by {other} for a failed robbery" if gained
                else f"Fined for trying to rob {other}")
    if entry.type == TransactionType.ADMIN:
        reason = str(entry.metadata.get("reason") or "").strip()
        verb = "Given by" if gained else "Taken by"
        return f"{verb} {staff}" + (f": {reason}" if reason else "")
    if entry.type == TransactionType.RESET:
        return f"Account reset by {staff}"
    if entry.type == TransactionType.REVERSAL and entry.actor_id is not None:
        if "item_id" in entry.metadata:  # a refunded purchase: its reason is in the text
            return entry.description.replace("reversed by staff", f"reversed by {staff}")
        if entry.related_transaction_id is not None:
            return f"Reversal of {entry.related_transaction_id.hex[:8]} by {staff}"
    return entry.description


def transactions_embed(name: str, page: economy.LedgerPage) -> discord.Embed:
    c = page.currency
    embed = discord.Embed(title=f"📒 {name}'s transactions", colour=COLOUR)
    if not page.rows:
        embed.description = "No transactions yet."
    lines = []
    for row in page.rows:
        change = []
        if row.amount:
            change.append(f"wallet {signed(c, row.amount)}")
        if row.bank_amount:
            change.append(f"bank {signed(c, row.bank_amount)}")
        lines.append(
            f"`{row.id.hex[:8]}` {when_of(row)} **{TYPE_LABELS.get(row.type, row.type)}**"
            f" · {', '.join(change) or 'no change'}\n{describe(row)}"
        )
    if lines:
        embed.description = "\n".join(lines)
    embed.set_footer(text=f"Page {page.page:,} of {page.pages:,} · {page.total:,} transactions")
    return embed


def settings_embed(settings: economy.EconomyConfig) -> discord.Embed:
    c = settings.currency
    embed = discord.Embed(title="Economy settings", colour=COLOUR)
    embed.add_field(name="Currency", value=f"{settings.currency_symbol} {settings.currency_name}")
    embed.add_field(name="Starting balance", value=c.format(settings.starting_balance))
    embed.add_field(
        name="Daily",
        value=f"{c.format(settings.daily_amount)} + {c.format(settings.daily_streak_bonus)} per "
        f"streak day (up to {settings.daily_streak_max_days:,} days)",
    )
    embed.add_field(
        name="Work",
        value=f"{c.format(settings.work_min)} – {c.format(settings.work_max)}, every "
        f"{format_duration(settings.work_cooldown_seconds)}",
    )
    embed.add_field(
        name="Rob",
        value=(f"{'on' if settings.rob_enabled else 'off'} · {settings.rob_success_percent}% "
               f"success · up to {settings.rob_max_steal_percent}% of the wallet · fine "
               f"{settings.rob_fine_percent}% · victim needs "
               f"{c.format(settings.rob_min_victim_wallet)}"
               f" · every {format_duration(settings.rob_cooldown_seconds)}"),
        inline=False,
    )
    bets = f"{c.format(settings.min_bet)} – {c.format(settings.max_bet)}"
    embed.add_field(name="Bets", value=bets)
    embed.add_field(name="Selling back", value=f"{settings.sell_percent}% of the price")
    return embed
