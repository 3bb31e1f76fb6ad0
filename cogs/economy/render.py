"""Embeds and lines for the economy: what people read after each command."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import discord

from models.economy import BlackjackStatus, ShopItemType, TransactionType
from pegasus.i18n import N_, _, format_number, ngettext
from pegasus.services import economy
from pegasus.services.durations import format_duration
from pegasus.services.economy import Currency

COLOUR = 0xF1C40F
WIN = 0x2ECC71
LOSS = 0xE74C3C
NEUTRAL = 0x95A5A6

# Shown with `_(...)`.
GAME_TITLES = {
    "coinflip": N_("🪙 Coinflip"), "dice": N_("🎲 Dice"), "slots": N_("🎰 Slots"),
    "roulette": N_("🎡 Roulette"), "blackjack": N_("🃏 Blackjack"),
}
# Translators: kinds of ledger rows in /transactions.
TYPE_LABELS = {
    TransactionType.STARTING_BALANCE: N_("Starting balance"), TransactionType.DAILY: N_("Daily"),
    TransactionType.WORK: N_("Work"), TransactionType.ROB: N_("Robbery"),
    TransactionType.FINE: N_("Fine"), TransactionType.GAMBLE: N_("Game"),
    TransactionType.SHOP_BUY: N_("Purchase"), TransactionType.SHOP_SELL: N_("Sale"),
    TransactionType.TRANSFER: N_("Transfer"), TransactionType.DEPOSIT: N_("Deposit"),
    TransactionType.WITHDRAW: N_("Withdrawal"), TransactionType.ADMIN: N_("Staff"),
    TransactionType.RESET: N_("Reset"), TransactionType.REVERSAL: N_("Reversal"),
}
# Translators: the type of a shop item.
ITEM_TYPES = {
    ShopItemType.ROLE: N_("role"), ShopItemType.ITEM: N_("item"),
    ShopItemType.BOOST: N_("boost"), ShopItemType.CUSTOM: N_("custom"),
}
# Descriptions the ledger stores in English, shown in the reader's language.
STORED_DESCRIPTIONS = {
    "Starting balance": N_("Starting balance"),
    "Deposit to the bank": N_("Deposit to the bank"),
    "Withdrawal from the bank": N_("Withdrawal from the bank"),
}
# Translators: the colour of a roulette number.
COLOURS = {"green": N_("green"), "red": N_("red"), "black": N_("black")}
# Translators: the sides of a coin (what a member calls at /coinflip).
COIN_SIDES = {"heads": N_("heads"), "tails": N_("tails")}


def label_of(labels: Mapping[Any, str], key: Any) -> str:
    """The translated label of `key` (a stored value), or the value itself when it has none."""
    label = labels.get(key)
    return _(label) if label is not None else str(key)


def when(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:R>"


def signed(currency: Currency, amount: int) -> str:
    sign = "+" if amount > 0 else "−" if amount < 0 else "±"
    return f"{sign}{currency.format(abs(amount))}"


def balance_embed(name: str, view: economy.BalanceView) -> discord.Embed:
    c = view.currency
    embed = discord.Embed(title=_("{name}'s balance").format(name=name), colour=COLOUR)
    embed.add_field(name=_("Wallet"), value=c.format(view.wallet))
    embed.add_field(name=_("Bank"), value=c.format(view.bank))
    embed.add_field(name=_("Net worth"), value=c.format(view.net_worth))
    footer = _("Rank #{rank} in this server").format(rank=format_number(view.rank))
    if view.daily_streak:
        footer += _(" · daily streak {streak}").format(streak=format_number(view.daily_streak))
    embed.set_footer(text=footer)
    return embed


def game_embed(name: str, result: economy.GameResult) -> discord.Embed:
    c = result.currency
    colour = WIN if result.won else NEUTRAL if result.push else LOSS
    embed = discord.Embed(title=_(GAME_TITLES[result.game.value]), colour=colour)
    outcome = outcome_line(name, result.bet, result.payout, c)
    embed.description = f"{game_detail(result)}\n\n{outcome}"
    embed.set_footer(text=_("Wallet: {amount}").format(amount=c.format(result.wallet)))
    return embed


def outcome_line(name: str, bet: int, payout: int, c: Currency) -> str:
    if payout > bet:
        return _("**{name} won {amount}** (paid {paid}).").format(
            name=name, amount=c.format(payout - bet), paid=c.format(payout)
        )
    if payout == bet:
        return _("**Push**: {name} gets the bet of {amount} back.").format(
            name=name, amount=c.format(bet)
        )
    if payout:
        return _("**{name} lost {amount}** (paid back {paid}).").format(
            name=name, amount=c.format(bet - payout), paid=c.format(payout)
        )
    return _("**{name} lost {amount}**.").format(name=name, amount=c.format(bet))


def game_detail(result: economy.GameResult) -> str:
    d = result.detail
    game = result.game.value
    if game == "coinflip":
        return _("You called **{side}**; the coin landed on **{landed}**.").format(
            side=label_of(COIN_SIDES, d["side"]),
            landed=label_of(COIN_SIDES, d["landed"]),
        )
    if game == "dice":
        return _(
            "You rolled {dice} = **{total}**; the house rolled {house_dice} = **{house_total}**."
        ).format(
            dice=" + ".join(map(str, d["player"])), total=sum(d["player"]),
            house_dice=" + ".join(map(str, d["house"])), house_total=sum(d["house"]),
        )
    if game == "slots":
        return f"**[ {' | '.join(d['reels'])} ]**"
    if game == "roulette":
        return _("You bet on **{space}**; the ball landed on **{number} ({colour})**.").format(
            space=d["space"], number=d["number"],
            colour=label_of(COLOURS, d["colour"]),
        )
    return ""


def blackjack_embed(name: str, view: economy.BlackjackView) -> discord.Embed:
    c = view.currency
    if view.active:
        colour, status = COLOUR, _("Hit to draw a card, Stand to let the dealer play.")
    elif view.status in (BlackjackStatus.PLAYER_WON, BlackjackStatus.BLACKJACK):
        colour, status = WIN, outcome_line(name, view.bet, view.payout, c)
        if view.status == BlackjackStatus.BLACKJACK:
            status = _("**Blackjack!** {outcome}").format(outcome=status)
    elif view.status == BlackjackStatus.PUSH:
        colour, status = NEUTRAL, outcome_line(name, view.bet, view.payout, c)
    else:
        colour, status = LOSS, outcome_line(name, view.bet, view.payout, c)
        if view.player_value > 21:
            status = _("**Bust!** {outcome}").format(outcome=status)
    embed = discord.Embed(title=_("🃏 Blackjack"), colour=colour, description=status)
    embed.add_field(name=f"{name} ({view.player_value})", value=" ".join(view.player))
    dealer = " ".join(view.dealer) + (" 🂠" if view.active else "")
    shown = f"{view.dealer_value}" + ("+" if view.active else "")
    embed.add_field(name=_("Dealer ({value})").format(value=shown), value=dealer)
    embed.set_footer(
        text=_("Bet {amount} · game #{game}").format(amount=c.format(view.bet), game=view.game_id)
    )
    return embed


def stats_embed(name: str, stats: list[economy.GameStats], c: Currency) -> discord.Embed:
    embed = discord.Embed(title=_("{name}'s games").format(name=name), colour=COLOUR)
    if not stats:
        embed.description = _(
            "No games played yet. Try /coinflip, /dice, /slots, /roulette or /blackjack."
        )
        return embed
    for row in stats:
        rate = row.won * 100 // row.played if row.played else 0
        embed.add_field(
            name=_(GAME_TITLES[row.game.value]),
            value=_(
                "Played {played} · won {won} ({rate}%)\n"
                "Wagered {wagered} · profit {profit}\n"
                "Best win {best} · worst loss {worst}\n"
                "Streak {streak} (best {best_streak})"
            ).format(
                played=format_number(row.played), won=format_number(row.won), rate=rate,
                wagered=c.format(row.wagered), profit=signed(c, row.profit),
                best=c.format(row.biggest_win), worst=c.format(row.biggest_loss),
                streak=format_number(row.streak), best_streak=format_number(row.best_streak),
            ),
            inline=False,
        )
    total = sum(s.profit for s in stats)
    embed.set_footer(
        text=_("Overall profit: {amount}").format(
            amount=signed(c, total) if total else c.format(0)
        )
    )
    return embed


def item_line(item: economy.ShopItem, c: Currency) -> str:
    parts = [f"**{item.name}** — {c.format(item.price)}"]
    extras = [label_of(ITEM_TYPES, item.type)]
    if item.stock is not None:
        extras.append(
            _("sold out") if item.stock == 0
            else _("{count} left").format(count=format_number(item.stock))
        )
    if item.max_per_user:
        extras.append(_("max {count} each").format(count=format_number(item.max_per_user)))
    if item.cooldown_seconds:
        extras.append(
            _("once every {duration}").format(duration=format_duration(item.cooldown_seconds))
        )
    needs = []
    if item.requirements.get("min_level"):
        needs.append(
            _("level {level}").format(level=format_number(item.requirements["min_level"]))
        )
    needs += [f"<@&{r}>" for r in item.requirements.get("role_ids", [])]
    if needs:
        extras.append(_("needs {requirements}").format(requirements=", ".join(needs)))
    parts.append(f"*{' · '.join(extras)}*")
    if item.type == ShopItemType.BOOST:
        parts.append(effect_text(item.effect))
    elif item.type == ShopItemType.ROLE and item.effect.get("role_id"):
        parts.append(_("Grants {role}").format(role=f"<@&{item.effect['role_id']}>"))
    if item.description:
        parts.append(item.description)
    if not item.enabled:
        parts.append(_("*(not for sale)*"))
    return "\n".join(parts)


def effect_text(effect: dict[str, object], *, with_length: bool = True) -> str:
    seconds = int(effect.get("duration_seconds") or 0) if with_length else 0
    duration = format_duration(seconds)
    if effect.get("kind") == "xp":
        factor = format_number(int(effect.get("multiplier", 100)) / 100)
        if seconds:
            return _("XP x{factor} for {duration}").format(factor=factor, duration=duration)
        return _("XP x{factor}").format(factor=factor)
    if effect.get("kind") == "rob_protection":
        if seconds:
            return _("Protection from robbers for {duration}").format(duration=duration)
        return _("Protection from robbers")
    return ""


def shop_embed(guild_name: str, page: economy.ShopPage) -> discord.Embed:
    embed = discord.Embed(title=_("🛒 {server} shop").format(server=guild_name), colour=COLOUR)
    if not page.items:
        embed.description = _("The shop is empty. Staff can add items with /shop-admin add.")
    else:
        embed.description = "\n\n".join(item_line(i, page.currency) for i in page.items)
    embed.set_footer(
        text=_("Page {page} of {pages} · /buy item to buy").format(
            page=format_number(page.page), pages=format_number(page.pages)
        )
    )
    return embed


def inventory_embed(name: str, inventory: economy.Inventory) -> discord.Embed:
    c = inventory.currency
    embed = discord.Embed(title=_("🎒 {name}'s inventory").format(name=name), colour=COLOUR)
    if inventory.lines:
        embed.description = "\n".join(
            _("**{item}** x{count} · sells for {price} each").format(
                item=line.item_name, count=format_number(line.quantity),
                price=c.format(line.sell_price),
            )
            for line in inventory.lines
        )
    else:
        embed.description = _("Nothing yet. Browse the /shop.")
    if inventory.effects:
        embed.add_field(
            name=_("Active effects"),
            value="\n".join(
                _("**{item}**: {effect}, ends {ends}").format(
                    item=item, effect=effect_text(effect, with_length=False), ends=when(ends)
                )
                for item, effect, ends in inventory.effects
            ),
            inline=False,
        )
    return embed


def when_of(entry: economy.LedgerEntry) -> str:
    return when(entry.created_at) if entry.created_at is not None else _("just now")


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
    # Translators: stands for a member in a ledger row when their account is gone.
    other = _mention(entry.related_user_id, _("another member"))
    # Translators: stands for the staff member in a ledger row when unknown.
    staff = _mention(entry.actor_id, _("staff"))
    gained = entry.amount > 0
    if entry.type == TransactionType.TRANSFER:
        return (_("Received from {member}") if gained else _("Paid to {member}")).format(
            member=other
        )
    if entry.type == TransactionType.ROB:
        return (_("Robbed {member}") if gained else _("Robbed by {member}")).format(member=other)
    if entry.type == TransactionType.FINE:
        return (_("Fine paid by {member} for a failed robbery") if gained
                else _("Fined for trying to rob {member}")).format(member=other)
    if entry.type == TransactionType.ADMIN:
        reason = str(entry.metadata.get("reason") or "").strip()
        if reason:
            return (
                _("Given by {staff}: {reason}") if gained else _("Taken by {staff}: {reason}")
            ).format(staff=staff, reason=reason)
        return (_("Given by {staff}") if gained else _("Taken by {staff}")).format(staff=staff)
    if entry.type == TransactionType.RESET:
        return _("Account reset by {staff}").format(staff=staff)
    if entry.type == TransactionType.REVERSAL and entry.actor_id is not None:
        if "item_id" in entry.metadata:  # a refunded purchase: its reason is in the text
            return entry.description.replace("reversed by staff", f"reversed by {staff}")
        if entry.related_transaction_id is not None:
            return _("Reversal of {id} by {staff}").format(
                id=entry.related_transaction_id.hex[:8], staff=staff
            )
    return _stored_description(entry)


def _stored_description(entry: economy.LedgerEntry) -> str:
    """The row's stored (English) description, in the reader's language where it is known."""
    text = entry.description
    if text in STORED_DESCRIPTIONS:
        return _(STORED_DESCRIPTIONS[text])
    streak = entry.metadata.get("streak")
    if entry.type == TransactionType.DAILY and isinstance(streak, int):
        return _("Daily reward (day {day} of the streak)").format(day=format_number(streak))
    job = entry.metadata.get("job")
    if entry.type == TransactionType.WORK and isinstance(job, str):
        return _("Work: {job}").format(job=_(job))
    return text


def transactions_embed(name: str, page: economy.LedgerPage) -> discord.Embed:
    c = page.currency
    embed = discord.Embed(title=_("📒 {name}'s transactions").format(name=name), colour=COLOUR)
    if not page.rows:
        embed.description = _("No transactions yet.")
    lines = []
    for row in page.rows:
        change = []
        if row.amount:
            change.append(_("wallet {amount}").format(amount=signed(c, row.amount)))
        if row.bank_amount:
            change.append(_("bank {amount}").format(amount=signed(c, row.bank_amount)))
        label = label_of(TYPE_LABELS, row.type)
        lines.append(
            f"`{row.id.hex[:8]}` {when_of(row)} **{label}**"
            f" · {', '.join(change) or _('no change')}\n{describe(row)}"
        )
    if lines:
        embed.description = "\n".join(lines)
    embed.set_footer(
        text=_("Page {page} of {pages}").format(
            page=format_number(page.page), pages=format_number(page.pages)
        )
        + " · "
        + ngettext("{count} transaction", "{count} transactions", page.total).format(
            count=format_number(page.total)
        )
    )
    return embed


def settings_embed(settings: economy.EconomyConfig) -> discord.Embed:
    c = settings.currency
    embed = discord.Embed(title=_("Economy settings"), colour=COLOUR)
    embed.add_field(
        name=_("Currency"), value=f"{settings.currency_symbol} {settings.currency_name}"
    )
    embed.add_field(name=_("Starting balance"), value=c.format(settings.starting_balance))
    embed.add_field(
        name=_("Daily"),
        value=ngettext(
            "{amount} + {bonus} per streak day (up to {count} day)",
            "{amount} + {bonus} per streak day (up to {count} days)",
            settings.daily_streak_max_days,
        ).format(
            amount=c.format(settings.daily_amount), bonus=c.format(settings.daily_streak_bonus),
            count=format_number(settings.daily_streak_max_days),
        ),
    )
    embed.add_field(
        name=_("Work"),
        value=_("{minimum} – {maximum}, every {duration}").format(
            minimum=c.format(settings.work_min), maximum=c.format(settings.work_max),
            duration=format_duration(settings.work_cooldown_seconds),
        ),
    )
    embed.add_field(
        name=_("Rob"),
        value=(
            _(
                "{state} · {success}% success · up to {steal}% of the wallet · fine {fine}% · "
                "victim needs {minimum} · every {duration}"
            ).format(
                state=_("on") if settings.rob_enabled else _("off"),
                success=settings.rob_success_percent, steal=settings.rob_max_steal_percent,
                fine=settings.rob_fine_percent, minimum=c.format(settings.rob_min_victim_wallet),
                duration=format_duration(settings.rob_cooldown_seconds),
            )
        ),
        inline=False,
    )
    bets = f"{c.format(settings.min_bet)} – {c.format(settings.max_bet)}"
    embed.add_field(name=_("Bets"), value=bets)
    embed.add_field(
        name=_("Selling back"),
        value=_("{percent}% of the price").format(percent=settings.sell_percent),
    )
    return embed
