"""Members' economy commands, the blackjack buttons and the economy's timers.

Every rule lives in pegasus.services.economy: this module reads the interaction,
calls one service function with the interaction id as the idempotency key (a re-delivered
interaction moves money once) and shows the result.
"""

from __future__ import annotations

import logging
import random
import re

import discord
from discord import app_commands
from discord.ext import commands

from models.economy import ShopItemType
from models.scheduling import ScheduledAction
from pegasus.bot import Pegasus
from pegasus.errors import ConflictError, PegasusError, PermissionDenied, ValidationError
from pegasus.i18n import DEFAULT_LOCALE, _, for_guild, format_number, ngettext, use_locale
from pegasus.services import economy
from pegasus.ui.dynamic import PegasusButton
from pegasus.ui.flows import run_flow
from pegasus.ui.pager import NEXT, page_button, pager
from pegasus.ui.roles import vet_grants

from . import render

log = logging.getLogger(__name__)

AMOUNT_HELP = "A number such as 250, 1,000 or 2.5k, or all"
BET_HELP = "How much to bet: a number such as 100 or 2.5k, or all"


def request_key(interaction: discord.Interaction) -> str:
    """The idempotency key of a request: Discord gives each interaction a unique id."""
    return f"interaction:{interaction.id}"


def guild_id_of(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise ValidationError(_("The economy works only in a server."))
    return interaction.guild_id


def name_of(user: discord.abc.User) -> str:
    return discord.utils.escape_markdown(user.display_name)


def refuse_bots(user: discord.abc.User, why: str | None = None) -> None:
    """Bots take no part in the economy: looking one up must not open an account for it (it
    would then appear on the money leaderboard). `why`: the refusal, already translated."""
    if user.bot:
        raise ValidationError(why or _("Bots have no wallet."))


def view_kwargs(view: discord.ui.View | None) -> dict[str, discord.ui.View]:
    """`view=` only when there is one (discord.py refuses `view=None` on a first response)."""
    return {"view": view} if view is not None else {}


def rng() -> random.Random:
    return random.SystemRandom()


async def item_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    if interaction.guild_id is None:
        return []
    names = await economy.item_names(interaction.guild_id, current)
    return [app_commands.Choice(name=n, value=n) for n in names]


async def held_item_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """What the member can sell or use: the items they hold."""
    if interaction.guild_id is None:
        return []
    names = await economy.held_item_names(interaction.guild_id, interaction.user.id, current)
    return [app_commands.Choice(name=n, value=n) for n in names]


async def any_item_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Staff see items that are not for sale too (to edit them back on sale, or remove them)."""
    if interaction.guild_id is None:
        return []
    names = await economy.item_names(interaction.guild_id, current, include_disabled=True)
    return [app_commands.Choice(name=n, value=n) for n in names]


def check_role_manageable(guild: discord.Guild, role_id: int) -> discord.Role:
    """The role a role item grants, if the bot can give it; a clear refusal otherwise."""
    role = guild.get_role(role_id)
    if role is None:
        raise ConflictError(
            _("The role this item grants no longer exists: tell the server staff.")
        )
    me = guild.me
    if not me.guild_permissions.manage_roles:
        raise PermissionDenied(
            _("I need the Manage Roles permission to hand out this item's role.")
        )
    if role >= me.top_role or role.managed or role.is_default():
        raise PermissionDenied(
            _("I can't give {role}: it is above my highest role or managed by Discord.").format(
                role=role.mention
            )
        )
    return role


def role_refusal(error: discord.HTTPException) -> str:
    """Why Discord would not give a role, in words a member understands."""
    if isinstance(error, discord.NotFound):
        return _("the role no longer exists")
    if isinstance(error, discord.Forbidden):
        return _("Discord refused, as the role is above mine or I lack Manage Roles")
    return _("Discord did not accept the change")


# --------------------------------------------------------------------------------------------
# Blackjack buttons: persistent, the game id is in the custom id and the state in the database
# --------------------------------------------------------------------------------------------


class BlackjackButton(PegasusButton, template=r"pegasus:economy:bj-base:(?P<id>[0-9]+)"):
    action = "base"

    def __init__(self, game_id: int) -> None:
        super().__init__(self.make_button(game_id))
        self.game_id = game_id

    @classmethod
    def make_button(cls, game_id: int) -> discord.ui.Button:
        raise NotImplementedError

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> BlackjackButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.action == "hit":
            view = await economy.blackjack_hit(self.game_id, interaction.user.id)
        else:
            view = await economy.blackjack_stand(self.game_id, interaction.user.id)
        await interaction.response.edit_message(
            embed=render.blackjack_embed(name_of(interaction.user), view),
            view=blackjack_view(view),
        )


class HitButton(BlackjackButton, template=r"pegasus:economy:bj-hit:(?P<id>[0-9]+)"):
    action = "hit"

    @classmethod
    def make_button(cls, game_id: int) -> discord.ui.Button:
        return discord.ui.Button(label=_("Hit"), style=discord.ButtonStyle.primary,
                                 custom_id=f"pegasus:economy:bj-hit:{game_id}")


class StandButton(BlackjackButton, template=r"pegasus:economy:bj-stand:(?P<id>[0-9]+)"):
    action = "stand"

    @classmethod
    def make_button(cls, game_id: int) -> discord.ui.Button:
        return discord.ui.Button(label=_("Stand"), style=discord.ButtonStyle.secondary,
                                 custom_id=f"pegasus:economy:bj-stand:{game_id}")


# --------------------------------------------------------------------------------------------
# Page buttons of /shop and /transactions: the page (and whose ledger) is in the custom id, so
# they keep working after a restart
# --------------------------------------------------------------------------------------------


class ShopPageButton(PegasusButton, template=r"pegasus:economy:shop-page:(?P<page>[0-9]{1,7})"):
    def __init__(self, page: int, label: str = NEXT, disabled: bool = False) -> None:
        super().__init__(page_button(f"pegasus:economy:shop-page:{page}", label, disabled))
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> ShopPageButton:
        return cls(int(match["page"]), item.label or NEXT)

    async def callback(self, interaction: discord.Interaction) -> None:
        listing = await economy.list_shop(guild_id_of(interaction), max(1, self.page))
        await interaction.response.edit_message(
            embed=render.shop_embed(guild_name_of(interaction), listing),
            view=shop_pager(listing),
        )


def shop_pager(listing: economy.ShopPage) -> discord.ui.View | None:
    return pager(ShopPageButton, listing.page, listing.pages)


class LedgerPageButton(
    PegasusButton, template=r"pegasus:economy:tx-page:(?P<user>[0-9]{1,20}):(?P<page>[0-9]{1,7})"
):
    def __init__(self, user_id: int, page: int, label: str = NEXT, disabled: bool = False) -> None:
        super().__init__(
            page_button(f"pegasus:economy:tx-page:{user_id}:{page}", label, disabled)
        )
        self.user_id = user_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> LedgerPageButton:
        return cls(int(match["user"]), int(match["page"]), item.label or NEXT)

    async def callback(self, interaction: discord.Interaction) -> None:
        # Checked again on every click: a custom id is only as private as the client sending it.
        check_ledger_access(interaction, self.user_id)
        listing = await economy.list_transactions(
            guild_id_of(interaction), self.user_id, max(1, self.page)
        )
        guild = interaction.guild
        member = guild.get_member(self.user_id) if guild is not None else None
        name = (
            name_of(member) if member is not None
            else _("Member {id}").format(id=self.user_id)
        )
        await interaction.response.edit_message(
            embed=render.transactions_embed(name, listing),
            view=ledger_pager(self.user_id, listing),
        )


def ledger_pager(user_id: int, listing: economy.LedgerPage) -> discord.ui.View | None:
    return pager(
        lambda page, label, disabled: LedgerPageButton(user_id, page, label, disabled),
        listing.page, listing.pages,
    )


def check_ledger_access(interaction: discord.Interaction, user_id: int) -> None:
    viewer = interaction.user
    if user_id != viewer.id and not (
        isinstance(viewer, discord.Member) and viewer.guild_permissions.manage_guild
    ):
        raise PermissionDenied(_("Only staff with Manage Server can see others' transactions."))


def guild_name_of(interaction: discord.Interaction) -> str:
    return interaction.guild.name if interaction.guild else _("Server")


DYNAMIC_ITEMS = (HitButton, StandButton, ShopPageButton, LedgerPageButton)


def blackjack_view(view: economy.BlackjackView) -> discord.ui.View | None:
    if not view.active:
        return None
    buttons = discord.ui.View(timeout=None)
    buttons.add_item(HitButton(view.game_id))
    buttons.add_item(StandButton(view.game_id))
    return buttons


# --------------------------------------------------------------------------------------------
# The cog
# --------------------------------------------------------------------------------------------


@app_commands.guild_only()
class Economy(commands.Cog):
    """Wallets, the bank, earning, games, the shop and inventories."""

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.scheduler.register(economy.ITEM_EXPIRE_KIND, self._on_item_expired)
        self.bot.scheduler.register(economy.BLACKJACK_TIMEOUT_KIND, self._on_blackjack_timeout)
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.scheduler.unregister(economy.ITEM_EXPIRE_KIND)
        self.bot.scheduler.unregister(economy.BLACKJACK_TIMEOUT_KIND)
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    async def _on_item_expired(self, action: ScheduledAction) -> None:
        expired = await economy.expire_item(int(action.payload["user_item_id"]))
        if expired is not None:
            log.info("Effect of %s ended for %s in %s", expired.item_name, expired.user_id,
                     expired.guild_id)

    async def _on_blackjack_timeout(self, action: ScheduledAction) -> None:
        ended = await economy.expire_blackjack(int(action.payload["game_id"]))
        if ended is None or ended.channel_id is None or ended.message_id is None:
            return
        channel = self.bot.get_channel(ended.channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        guild = getattr(channel, "guild", None)
        member = guild.get_member(ended.user_id) if guild is not None else None
        # A timer's post: in the server's language.
        with for_guild(guild.id if guild is not None else None):
            name = name_of(member) if member is not None else _("The player")
            embed = render.blackjack_embed(name, ended)
            embed.description = _("⏰ Time ran out, so the hand stood. {outcome}").format(
                outcome=embed.description
            )
        try:
            await channel.get_partial_message(ended.message_id).edit(  # type: ignore[attr-defined]
                embed=embed, view=None
            )
        except discord.HTTPException:
            # The settlement is done either way; the message may have been deleted.
            log.info("Could not update the message of blackjack game %s", ended.game_id)

    # ---------------------------------------------------------------------------- balances

    @app_commands.command(name="balance", description="Show a wallet, bank and net worth.")
    @app_commands.describe(member="Whose balance to show (default: yours)")
    async def balance(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        target = member or interaction.user
        refuse_bots(target)
        view = await economy.get_balance(guild_id_of(interaction), target.id)
        await interaction.response.send_message(embed=render.balance_embed(name_of(target), view))

    @app_commands.command(name="deposit", description="Move money from your wallet to the bank.")
    @app_commands.describe(amount=AMOUNT_HELP)
    async def deposit(self, interaction: discord.Interaction, amount: str) -> None:
        result = await economy.deposit(
            guild_id_of(interaction), interaction.user.id, economy.parse_amount(amount),
            idempotency_key=request_key(interaction),
        )
        c = result.currency
        await interaction.response.send_message(
            _("🏦 Deposited {amount}. Wallet: {wallet} · bank: {bank}.").format(
                amount=c.format(result.amount), wallet=c.format(result.wallet),
                bank=c.format(result.bank),
            )
        )

    @app_commands.command(name="withdraw", description="Move money from the bank to your wallet.")
    @app_commands.describe(amount=AMOUNT_HELP)
    async def withdraw(self, interaction: discord.Interaction, amount: str) -> None:
        result = await economy.withdraw(
            guild_id_of(interaction), interaction.user.id, economy.parse_amount(amount),
            idempotency_key=request_key(interaction),
        )
        c = result.currency
        await interaction.response.send_message(
            _("🏦 Withdrew {amount}. Wallet: {wallet} · bank: {bank}.").format(
                amount=c.format(result.amount), wallet=c.format(result.wallet),
                bank=c.format(result.bank),
            )
        )

    @app_commands.command(name="pay", description="Give money from your wallet to a member.")
    @app_commands.describe(member="Who receives the money", amount=AMOUNT_HELP)
    async def pay(
        self, interaction: discord.Interaction, member: discord.Member, amount: str
    ) -> None:
        result = await economy.pay(
            guild_id_of(interaction), interaction.user.id, member.id,
            economy.parse_amount(amount), recipient_is_bot=member.bot,
            idempotency_key=request_key(interaction),
        )
        c = result.currency
        await interaction.response.send_message(
            _("💸 {payer} paid {member} {amount}. Wallet left: {wallet}.").format(
                payer=interaction.user.mention, member=member.mention,
                amount=c.format(result.amount), wallet=c.format(result.sender_wallet),
            ),
            allowed_mentions=discord.AllowedMentions(users=[member]),
        )

    # ---------------------------------------------------------------------------- earning

    @app_commands.command(name="daily", description="Claim your daily reward; streaks pay more.")
    async def daily(self, interaction: discord.Interaction) -> None:
        result = await economy.claim_daily(
            guild_id_of(interaction), interaction.user.id, now=discord.utils.utcnow(),
            idempotency_key=request_key(interaction),
        )
        c = result.currency
        streak = ngettext(
            "🔥 Streak: **{count}** day", "🔥 Streak: **{count}** days", result.streak
        ).format(count=format_number(result.streak))
        if result.bonus:
            streak += _(" (bonus {amount})").format(amount=c.format(result.bonus))
        await interaction.response.send_message(
            _("📅 You claimed {amount}. {streak}. Next daily {when}.").format(
                amount=c.format(result.amount), streak=streak, when=render.when(result.next_at)
            )
        )

    @app_commands.command(name="work", description="Work for a random wage; then rest a while.")
    async def work(self, interaction: discord.Interaction) -> None:
        result = await economy.work(
            guild_id_of(interaction), interaction.user.id, now=discord.utils.utcnow(), rng=rng(),
            idempotency_key=request_key(interaction),
        )
        await interaction.response.send_message(
            # Translators: {job} is what the member did, e.g. "delivered pizzas"; {when} is a
            # relative time such as "in 1 hour".
            _("💼 You {job} and earned {amount}. You can work again {when}.").format(
                job=_(result.job), amount=result.currency.format(result.amount),
                when=render.when(result.next_at),
            )
        )

    @app_commands.command(name="rob", description="Try to steal from a member's wallet (risky).")
    @app_commands.describe(member="Whom to rob")
    async def rob(self, interaction: discord.Interaction, member: discord.Member) -> None:
        result = await economy.rob(
            guild_id_of(interaction), interaction.user.id, member.id, victim_is_bot=member.bot,
            now=discord.utils.utcnow(), rng=rng(), idempotency_key=request_key(interaction),
        )
        c = result.currency
        if result.success:
            text = _("🦹 {robber} robbed {member} of {amount}!").format(
                robber=interaction.user.mention, member=member.mention,
                amount=c.format(result.amount),
            )
        else:
            text = _(
                "🚓 {robber} was caught trying to rob {member} and paid them a fine of {amount}."
            ).format(
                robber=interaction.user.mention, member=member.mention,
                amount=c.format(result.amount),
            )
        await interaction.response.send_message(
            _("{outcome} Next attempt {when}.").format(
                outcome=text, when=render.when(result.next_at)
            ),
            allowed_mentions=discord.AllowedMentions(users=[member]),
        )

    # ---------------------------------------------------------------------------- games

    async def _send_game(
        self, interaction: discord.Interaction, result: economy.GameResult
    ) -> None:
        await interaction.response.send_message(
            embed=render.game_embed(name_of(interaction.user), result)
        )

    @app_commands.command(name="coinflip", description="Call heads or tails; a win pays double.")
    @app_commands.describe(bet=BET_HELP, side="The side you call")
    @app_commands.choices(side=[app_commands.Choice(name="Heads", value="heads"),
                                app_commands.Choice(name="Tails", value="tails")])
    async def coinflip(self, interaction: discord.Interaction, bet: str, side: str) -> None:
        result = await economy.coinflip(
            guild_id_of(interaction), interaction.user.id, economy.parse_amount(bet), side,
            rng=rng(), idempotency_key=request_key(interaction),
        )
        await self._send_game(interaction, result)

    @app_commands.command(name="dice", description="Roll two dice against the house.")
    @app_commands.describe(bet=BET_HELP)
    async def dice(self, interaction: discord.Interaction, bet: str) -> None:
        result = await economy.dice(
            guild_id_of(interaction), interaction.user.id, economy.parse_amount(bet), rng=rng(),
            idempotency_key=request_key(interaction),
        )
        await self._send_game(interaction, result)

    @app_commands.command(name="slots", description="Spin three reels: pairs and triples pay.")
    @app_commands.describe(bet=BET_HELP)
    async def slots(self, interaction: discord.Interaction, bet: str) -> None:
        result = await economy.slots(
            guild_id_of(interaction), interaction.user.id, economy.parse_amount(bet), rng=rng(),
            idempotency_key=request_key(interaction),
        )
        await self._send_game(interaction, result)

    @app_commands.command(name="roulette", description="Bet on a number, a colour or a range.")
    @app_commands.describe(
        bet=BET_HELP,
        space="0-36 (pays 36x), red, black, odd, even, low, high (2x) or 1st, 2nd, 3rd (3x)",
    )
    async def roulette(self, interaction: discord.Interaction, bet: str, space: str) -> None:
        result = await economy.roulette(
            guild_id_of(interaction), interaction.user.id, economy.parse_amount(bet), space,
            rng=rng(), idempotency_key=request_key(interaction),
        )
        await self._send_game(interaction, result)

    @app_commands.command(name="blackjack", description="Play a hand of blackjack with buttons.")
    @app_commands.describe(bet=BET_HELP)
    async def blackjack(self, interaction: discord.Interaction, bet: str) -> None:
        view = await economy.start_blackjack(
            guild_id_of(interaction), interaction.user.id, economy.parse_amount(bet), rng=rng(),
            now=discord.utils.utcnow(), idempotency_key=request_key(interaction),
        )
        buttons = blackjack_view(view)
        embed = render.blackjack_embed(name_of(interaction.user), view)
        if buttons is None:
            await interaction.response.send_message(embed=embed)
            return
        sent = await interaction.response.send_message(embed=embed, view=buttons)
        message = sent.resource if isinstance(sent.resource, discord.Message) else None
        if message is None:
            message = await interaction.original_response()
        await economy.attach_blackjack_message(view.game_id, message.channel.id, message.id)

    @app_commands.command(name="gamblestats", description="Show games played, won and profit.")
    @app_commands.describe(member="Whose stats to show (default: yours)")
    async def gamblestats(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        target = member or interaction.user
        refuse_bots(target, _("Bots don't gamble: they have no games to show."))
        stats, currency = await economy.gambling_stats(guild_id_of(interaction), target.id)
        await interaction.response.send_message(
            embed=render.stats_embed(name_of(target), stats, currency)
        )

    # ---------------------------------------------------------------------------- shop

    @app_commands.command(name="shop", description="Browse what this server sells.")
    @app_commands.describe(page="Which page of the shop (default: the first)")
    async def shop_list(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 1000] = 1
    ) -> None:
        listing = await economy.list_shop(guild_id_of(interaction), page)
        await interaction.response.send_message(
            embed=render.shop_embed(guild_name_of(interaction), listing),
            **view_kwargs(shop_pager(listing)),
        )

    @app_commands.command(name="buy", description="Buy an item from the shop.")
    @app_commands.describe(item="The item's name", quantity="How many (default 1)")
    @app_commands.autocomplete(item=item_autocomplete)
    async def buy(
        self, interaction: discord.Interaction, item: str,
        quantity: app_commands.Range[int, 1, economy.MAX_QUANTITY] = 1,
    ) -> None:
        guild_id = guild_id_of(interaction)
        member = interaction.user
        assert isinstance(member, discord.Member)
        wanted = await economy.find_item(guild_id, item)
        role = None
        if wanted.type == ShopItemType.ROLE and interaction.guild is not None:
            # Check before taking the money that the role can actually be given.
            role = check_role_manageable(interaction.guild, int(wanted.effect["role_id"]))
            if not await vet_grants(member, [role], purpose=f"shop item {wanted.name}"):
                raise PermissionDenied(
                    _(
                        "**{item}** can't be bought now: I may no longer give {role}. The server "
                        "staff have been told; nothing was charged."
                    ).format(item=wanted.name, role=role.mention)
                )
        result = await economy.buy(
            guild_id, member.id, item, quantity, member_role_ids=[r.id for r in member.roles],
            now=discord.utils.utcnow(), idempotency_key=request_key(interaction),
        )
        if role is not None:
            # Giving the role is a call to Discord that may be slow or refused: acknowledge first.
            await interaction.response.defer(thinking=True)
            text = await self._grant_bought_role(guild_id, member, role, result)
            await interaction.followup.send(text, allowed_mentions=discord.AllowedMentions.none())
            return
        c = result.currency
        text = _("🛍️ You bought **{count} x {item}** for {amount}. You now have {held}.").format(
            count=format_number(result.quantity), item=result.item_name,
            amount=c.format(result.total), held=format_number(result.held),
        )
        if result.item_type in (ShopItemType.BOOST, ShopItemType.CUSTOM):
            # Translators: keep `/use item:` as it is (the command a member types).
            text += _(" Use it with `/use item:{item}`.").format(item=result.item_name)
        await interaction.response.send_message(
            text, allowed_mentions=discord.AllowedMentions.none()
        )

    async def _grant_bought_role(
        self, guild_id: int, member: discord.Member, role: discord.Role,
        result: economy.TradeResult,
    ) -> str:
        """Give the bought role; if Discord refuses, refund the purchase. Says which happened.

        The paid purchase is the reservation, giving the role the act, the refund the undo."""
        c = result.currency

        async def bought() -> economy.TradeResult:
            return result  # paid already, in the purchase's transaction

        async def give(_bought: economy.TradeResult) -> None:
            await member.add_roles(role, reason=f"Bought {result.item_name} in the shop")

        async def refund(_bought: economy.TradeResult, error: BaseException) -> str:
            why = role_refusal(error) if isinstance(error, discord.HTTPException) else str(error)
            with use_locale(DEFAULT_LOCALE):  # the log and the ledger stay in English
                recorded = (
                    role_refusal(error) if isinstance(error, discord.HTTPException) else str(error)
                )
            log.warning("Could not give role %s bought by %s: %s", role.id, member.id, recorded)
            assert result.transaction_id is not None
            try:
                refunded = await economy.refund_purchase(
                    guild_id, result.transaction_id,
                    reason=f"the role could not be given ({recorded})",
                )
            except PegasusError as refusal:
                # Money was taken and the role not given: staff must act, so say it loudly.
                log.error("Refund of purchase %s failed: %s", result.transaction_id, refusal)
                return _(
                    "⚠️ I could not give you {role} ({why}) and could not refund **{item}** "
                    "automatically: {refusal} Ask the staff to reverse purchase `{id}` with "
                    "/economy reverse."
                ).format(
                    role=role.mention, why=why, item=result.item_name, refusal=refusal,
                    id=result.transaction_id.hex[:8],
                )
            return _(
                "↩️ I could not give you {role}: {why}. Your purchase of **{item}** was refunded: "
                "{amount} is back in your wallet (now {wallet}). Tell the staff so they can fix "
                "the role."
            ).format(
                role=role.mention, why=why, item=result.item_name,
                amount=c.format(refunded.amount), wallet=c.format(refunded.wallet),
            )

        granting = await run_flow(
            reserve=bought, act=give, undo=refund, undo_on=(discord.HTTPException,)
        )
        if granting.undone is not None:
            return granting.undone
        return _("🛍️ You bought **{item}** for {amount}. You now have the {role} role.").format(
            item=result.item_name, amount=c.format(result.total), role=role.mention
        )

    @app_commands.command(name="sell", description="Sell items back to the shop.")
    @app_commands.describe(item="The item's name", quantity="How many (default 1)")
    @app_commands.autocomplete(item=held_item_autocomplete)
    async def sell(
        self, interaction: discord.Interaction, item: str,
        quantity: app_commands.Range[int, 1, economy.MAX_QUANTITY] = 1,
    ) -> None:
        result = await economy.sell(
            guild_id_of(interaction), interaction.user.id, item, quantity,
            idempotency_key=request_key(interaction),
        )
        c = result.currency
        text = _("💰 You sold **{count} x {item}** for {amount}. You have {held} left.").format(
            count=format_number(result.quantity), item=result.item_name,
            amount=c.format(result.total), held=format_number(result.held),
        )
        member = interaction.user
        if result.role_id and isinstance(member, discord.Member) and interaction.guild:
            role = interaction.guild.get_role(result.role_id)
            if role is not None and role in member.roles:
                try:
                    await member.remove_roles(role, reason=f"Sold {result.item_name}")
                    text += _(" The {role} role was removed.").format(role=role.mention)
                except discord.HTTPException:
                    log.warning("Could not remove sold role %s from %s", role.id, member.id)
        await interaction.response.send_message(
            text, allowed_mentions=discord.AllowedMentions.none()
        )

    @app_commands.command(name="use", description="Use an item: start a boost or redeem it.")
    @app_commands.describe(item="The item's name")
    @app_commands.autocomplete(item=held_item_autocomplete)
    async def use(self, interaction: discord.Interaction, item: str) -> None:
        result = await economy.use_item(
            guild_id_of(interaction), interaction.user.id, item, now=discord.utils.utcnow(),
            idempotency_key=request_key(interaction),
        )
        if result.expires_at is not None:
            text = _("✨ **{item}** is active: {effect}, ending {when}.").format(
                item=result.item_name, effect=render.effect_text(result.effect),
                when=render.when(result.expires_at),
            )
        else:
            message = result.effect.get("message") or _(
                "Show this message to the staff to redeem it."
            )
            text = _("✨ You used **{item}**. {message}").format(
                item=result.item_name, message=message
            )
        await interaction.response.send_message(
            _("{text} You have {count} left.").format(
                text=text, count=format_number(result.left)
            ),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="inventory", description="Show the items and active effects held.")
    @app_commands.describe(member="Whose inventory (default: yours)")
    async def inventory(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        target = member or interaction.user
        refuse_bots(target, _("Bots have no inventory."))
        held = await economy.inventory(guild_id_of(interaction), target.id,
                                    now=discord.utils.utcnow())
        await interaction.response.send_message(
            embed=render.inventory_embed(name_of(target), held)
        )

    # ---------------------------------------------------------------------------- ledger

    @app_commands.command(name="transactions", description="List money movements, newest first.")
    @app_commands.describe(
        member="Whose transactions (others' need Manage Server)", page="Which page (default 1)"
    )
    async def transactions(
        self, interaction: discord.Interaction, member: discord.Member | None = None,
        page: app_commands.Range[int, 1, 100_000] = 1,
    ) -> None:
        target = member or interaction.user
        check_ledger_access(interaction, target.id)
        listing = await economy.list_transactions(guild_id_of(interaction), target.id, page)
        await interaction.response.send_message(
            embed=render.transactions_embed(name_of(target), listing), ephemeral=True,
            **view_kwargs(ledger_pager(target.id, listing)),
        )
