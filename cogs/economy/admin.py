"""Staff commands (Manage Server): /economy give|take|reset|reverse|settings|set and
/shop-admin add|edit|remove."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from models.economy import ShopItemType
from pegasus.bot import Pegasus
from pegasus.i18n import _, ngettext
from pegasus.services import economy
from pegasus.services.durations import parse_duration
from pegasus.ui.roles import remember_role_setup, require_can_delegate
from pegasus.ui.views import confirm

from . import render
from .cog import any_item_autocomplete, check_role_manageable, guild_id_of, refuse_bots, request_key

SETTINGS = economy.SETTINGS
DISCORD_INT_MAX = 2**53 - 1  # the largest integer a Discord option can carry
# Duration settings are typed as text ("1h30m"): option name → setting.
_DURATIONS = {"work_cooldown": "work_cooldown_seconds", "rob_cooldown": "rob_cooldown_seconds"}
TYPE_CHOICES = [
    app_commands.Choice(name="Role: grants a role", value="role"),
    app_commands.Choice(name="Item: kept or sold", value="item"),
    app_commands.Choice(name="Boost: XP boost or rob protection, used with /use", value="boost"),
    app_commands.Choice(name="Custom: used with /use, staff act on it", value="custom"),
]
BOOST_CHOICES = [
    app_commands.Choice(name="XP boost", value="xp"),
    app_commands.Choice(name="Rob protection", value="rob_protection"),
]


def _range(name: str) -> Any:
    """The option type of a number setting, bounded as its declaration says."""
    low, high = SETTINGS.bounds(name)
    return app_commands.Range[int, low, min(high, DISCORD_INT_MAX)]


def _seconds(text: str | None, *, allow_zero: bool = True) -> int | None:
    if text is None:
        return None
    if allow_zero and text.strip().lower() in ("none", "off"):
        return 0
    # A zero as the settings show it ("0s", German "0 Sek.") is read back too.
    return parse_duration(text, minimum=0 if allow_zero else 1)


def _no_mentions() -> discord.AllowedMentions:
    return discord.AllowedMentions.none()


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class EconomyAdmin(
    commands.GroupCog, group_name="economy", group_description="Manage the server's economy."
):
    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="give", description="Add money to a member's wallet.")
    @app_commands.describe(member="Who receives it", amount="How much (e.g. 500 or 2.5k)",
                           reason="Why (kept in the ledger)")
    async def give(self, interaction: discord.Interaction, member: discord.Member, amount: str,
                   reason: str | None = None) -> None:
        await self._adjust(interaction, member, amount, reason, take=False)

    @app_commands.command(name="take", description="Remove money from a member's wallet.")
    @app_commands.describe(member="Whose wallet", amount="How much (e.g. 500 or 2.5k)",
                           reason="Why (kept in the ledger)")
    async def take(self, interaction: discord.Interaction, member: discord.Member, amount: str,
                   reason: str | None = None) -> None:
        await self._adjust(interaction, member, amount, reason, take=True)

    async def _adjust(self, interaction: discord.Interaction, member: discord.Member, text: str,
                      reason: str | None, *, take: bool) -> None:
        refuse_bots(member)
        amount = economy.parse_amount(text, allow_all=False)
        assert isinstance(amount, int)
        result = await economy.admin_adjust(
            guild_id_of(interaction), interaction.user.id, member.id, amount, take=take,
            reason=reason, idempotency_key=request_key(interaction),
        )
        c = result.currency
        text = (
            _("Took {amount} from {member}. Their wallet: {wallet}. Transaction `{id}`.") if take
            else _("Gave {amount} to {member}. Their wallet: {wallet}. Transaction `{id}`.")
        )
        await interaction.response.send_message(
            text.format(
                amount=c.format(result.amount), member=member.mention,
                wallet=c.format(result.wallet), id=result.transaction_id.hex[:8],
            ),
            ephemeral=True, allowed_mentions=_no_mentions(),
        )

    @app_commands.command(name="reset", description="Reset a member to a fresh account.")
    @app_commands.describe(member="Whose account to reset")
    async def reset(self, interaction: discord.Interaction, member: discord.Member) -> None:
        guild_id = guild_id_of(interaction)
        refuse_bots(member)

        async def reset(answer: discord.Interaction) -> None:
            result = await economy.reset_account(
                guild_id, interaction.user.id, member.id,
                idempotency_key=request_key(interaction),
            )
            await answer.response.edit_message(
                content=_("Reset {member}: wallet {wallet}, bank {bank}.").format(
                    member=member.mention, wallet=result.currency.format(result.wallet),
                    bank=result.currency.format(0),
                ),
                view=None,
            )

        await confirm(
            interaction,
            _(
                "Reset {member}'s economy account? Their wallet goes back to the starting "
                "balance, the bank is emptied, and their items, streaks, cooldowns and game stats "
                "are deleted. The ledger keeps the history."
            ).format(member=member.mention),
            reset,
            confirm_label=_("Reset"),
        )

    @app_commands.command(name="reverse", description="Undo a transaction from the ledger.")
    @app_commands.describe(transaction="The id shown by /transactions (at least 8 characters)")
    async def reverse(self, interaction: discord.Interaction, transaction: str) -> None:
        guild_id = guild_id_of(interaction)
        original = await economy.find_transaction(guild_id, transaction)
        settings = await economy.get_settings(guild_id)
        c = economy.currency_of(settings)

        async def reverse(answer: discord.Interaction) -> None:
            result = await economy.reverse_transaction(
                guild_id, interaction.user.id, original.id.hex,
                idempotency_key=request_key(interaction),
            )
            await answer.response.edit_message(
                content=ngettext(
                    "Reversed {count} ledger row: {ids}.",
                    "Reversed {count} ledger rows: {ids}.",
                    len(result.original_ids),
                ).format(
                    count=len(result.original_ids),
                    ids=", ".join(f"`{i.hex[:8]}`" for i in result.original_ids),
                ),
                view=None,
            )

        await confirm(
            interaction,
            _(
                "Reverse `{id}` ({kind}: {description}; wallet {wallet}, bank {bank})? A "
                "transfer, robbery or fine is reversed on both sides."
            ).format(
                id=original.id.hex[:8],
                kind=render.label_of(render.TYPE_LABELS, original.type),
                description=render.describe(original),
                wallet=render.signed(c, original.amount),
                bank=render.signed(c, original.bank_amount),
            ),
            reverse,
            confirm_label=_("Reverse"),
        )

    @app_commands.command(name="settings", description="Show the economy settings.")
    async def settings(self, interaction: discord.Interaction) -> None:
        settings = await economy.get_settings(guild_id_of(interaction))
        await interaction.response.send_message(
            embed=render.settings_embed(settings), ephemeral=True
        )

    @app_commands.command(name="set", description="Change economy settings (only those given).")
    @app_commands.describe(
        **SETTINGS.help_for(*(n for n in SETTINGS.by_name if n not in _DURATIONS.values())),
        **{option: SETTINGS[name].help for option, name in _DURATIONS.items()},
    )
    async def set_(
        self,
        interaction: discord.Interaction,
        currency_name: str | None = None,
        currency_symbol: str | None = None,
        starting_balance: _range("starting_balance") | None = None,
        daily_amount: _range("daily_amount") | None = None,
        daily_streak_bonus: _range("daily_streak_bonus") | None = None,
        daily_streak_max_days: _range("daily_streak_max_days") | None = None,
        work_min: _range("work_min") | None = None,
        work_max: _range("work_max") | None = None,
        work_cooldown: str | None = None,
        rob_enabled: bool | None = None,
        rob_success_percent: _range("rob_success_percent") | None = None,
        rob_cooldown: str | None = None,
        rob_min_victim_wallet: _range("rob_min_victim_wallet") | None = None,
        rob_max_steal_percent: _range("rob_max_steal_percent") | None = None,
        rob_fine_percent: _range("rob_fine_percent") | None = None,
        min_bet: _range("min_bet") | None = None,
        max_bet: _range("max_bet") | None = None,
        sell_percent: _range("sell_percent") | None = None,
    ) -> None:
        changes = {
            "currency_name": currency_name, "currency_symbol": currency_symbol,
            "starting_balance": starting_balance, "daily_amount": daily_amount,
            "daily_streak_bonus": daily_streak_bonus,
            "daily_streak_max_days": daily_streak_max_days, "work_min": work_min,
            "work_max": work_max, "work_cooldown_seconds": _seconds(work_cooldown),
            "rob_enabled": rob_enabled, "rob_success_percent": rob_success_percent,
            "rob_cooldown_seconds": _seconds(rob_cooldown),
            "rob_min_victim_wallet": rob_min_victim_wallet,
            "rob_max_steal_percent": rob_max_steal_percent, "rob_fine_percent": rob_fine_percent,
            "min_bet": min_bet, "max_bet": max_bet, "sell_percent": sell_percent,
        }
        changed = {k: v for k, v in changes.items() if v is not None}
        settings = await economy.update_settings(
            guild_id_of(interaction), actor_id=interaction.user.id, **changed
        )
        names = ", ".join(_(SETTINGS[k].label) for k in changed)
        await interaction.response.send_message(
            _("Updated: {settings}.").format(settings=names),
            embed=render.settings_embed(settings), ephemeral=True
        )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class ShopAdmin(
    commands.GroupCog, group_name="shop-admin", group_description="Manage the server's shop."
):
    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="add", description="Add an item to the shop.")
    @app_commands.describe(
        name="The item's name (unique in this server)",
        price="What it costs",
        type="What kind of item it is",
        description="What it is, shown in the shop",
        role="Role items: the role it grants",
        stock="How many can be sold in all (default: unlimited)",
        max_per_user="How many one member may hold (default: unlimited)",
        boost_kind="Boost items: what the boost does",
        multiplier="XP boosts: XP multiplier in percent (150 = 1.5x)",
        duration="Boost items: how long it lasts, e.g. 1h or 1d",
        message="Custom items: what the member reads when using it",
        cooldown="Time between two purchases by one member, e.g. 1d",
        required_role="Only members with this role may buy it",
        min_level="Only members at this level or above may buy it",
    )
    @app_commands.choices(type=TYPE_CHOICES, boost_kind=BOOST_CHOICES)
    async def add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 64],
        price: app_commands.Range[int, 1, 2**53 - 1],
        type: str = "item",
        description: app_commands.Range[str, 0, 500] = "",
        role: discord.Role | None = None,
        stock: app_commands.Range[int, 0, 2**53 - 1] | None = None,
        max_per_user: app_commands.Range[int, 1, 1_000_000] | None = None,
        boost_kind: str | None = None,
        multiplier: app_commands.Range[int, 101, economy.MAX_XP_MULTIPLIER] | None = None,
        duration: str | None = None,
        message: app_commands.Range[str, 1, 500] | None = None,
        cooldown: str | None = None,
        required_role: discord.Role | None = None,
        min_level: app_commands.Range[int, 0, 10_000] | None = None,
    ) -> None:
        guild_id = guild_id_of(interaction)
        item_type = ShopItemType(type)
        delegated = role if item_type == ShopItemType.ROLE else None
        if delegated is not None:
            _require_can_sell(interaction, delegated)
        effect = economy.build_effect(
            item_type, role_id=role.id if role else None, boost_kind=boost_kind,
            multiplier=multiplier,
            duration_seconds=parse_duration(duration) if duration else None, message=message,
        )
        item = await economy.add_item(
            guild_id, actor_id=interaction.user.id, name=name, price=price, item_type=item_type,
            description=description,
            effect=effect, stock=stock, max_per_user=max_per_user,
            cooldown_seconds=_seconds(cooldown) or 0,
            required_role_ids=[required_role.id] if required_role else [], min_level=min_level,
        )
        if delegated is not None:
            await remember_role_setup(delegated, _member(interaction))
        settings = await economy.get_settings(guild_id)
        await interaction.response.send_message(
            _("Added to the shop:\n{item}").format(
                item=render.item_line(item, economy.currency_of(settings))
            ),
            ephemeral=True, allowed_mentions=_no_mentions(),
        )

    @app_commands.command(name="edit", description="Change an item of the shop.")
    @app_commands.describe(
        item="The item to change",
        name="A new name",
        price="A new price",
        description="A new description",
        stock="Stock left (-1 = unlimited)",
        max_per_user="Most one member may hold (-1 = unlimited)",
        enabled="Whether it is for sale",
        cooldown="Time between two purchases, e.g. 1d (0 = none)",
        role="Role items: the role it grants from now on",
        boost_kind="Boost items: what the boost does",
        multiplier="XP boosts: XP multiplier in percent (150 = 1.5x)",
        duration="Boost items: how long it lasts, e.g. 1h or 1d",
        message="Custom items: what the member reads when using it",
        required_role="Only members with this role may buy it (replaces the one required)",
        min_level="Only members at this level or above may buy it (0 = any level)",
        open_to_all="True: remove the role requirement",
    )
    @app_commands.choices(boost_kind=BOOST_CHOICES)
    @app_commands.autocomplete(item=any_item_autocomplete)
    async def edit(
        self,
        interaction: discord.Interaction,
        item: str,
        name: app_commands.Range[str, 1, 64] | None = None,
        price: app_commands.Range[int, 1, 2**53 - 1] | None = None,
        description: app_commands.Range[str, 0, 500] | None = None,
        stock: app_commands.Range[int, -1, 2**53 - 1] | None = None,
        max_per_user: app_commands.Range[int, -1, 1_000_000] | None = None,
        enabled: bool | None = None,
        cooldown: str | None = None,
        role: discord.Role | None = None,
        boost_kind: str | None = None,
        multiplier: app_commands.Range[int, 101, economy.MAX_XP_MULTIPLIER] | None = None,
        duration: str | None = None,
        message: app_commands.Range[str, 1, 500] | None = None,
        required_role: discord.Role | None = None,
        min_level: app_commands.Range[int, 0, 10_000] | None = None,
        open_to_all: bool | None = None,
    ) -> None:
        guild_id = guild_id_of(interaction)
        if role is not None:
            _require_can_sell(interaction, role)
        required_role_ids = (
            [required_role.id] if required_role is not None else [] if open_to_all else None
        )
        edited = await economy.edit_item(
            guild_id, item, actor_id=interaction.user.id, name=name, price=price,
            description=description, stock=stock,
            max_per_user=max_per_user, enabled=enabled, cooldown_seconds=_seconds(cooldown),
            role_id=role.id if role is not None else None, boost_kind=boost_kind,
            multiplier=multiplier,
            duration_seconds=parse_duration(duration) if duration else None, message=message,
            required_role_ids=required_role_ids, min_level=min_level,
        )
        if role is not None:
            await remember_role_setup(role, _member(interaction))
        settings = await economy.get_settings(guild_id)
        await interaction.response.send_message(
            _("Updated:\n{item}").format(
                item=render.item_line(edited, economy.currency_of(settings))
            ),
            ephemeral=True, allowed_mentions=_no_mentions(),
        )

    @app_commands.command(name="remove", description="Remove an item from the shop.")
    @app_commands.describe(item="The item to remove")
    @app_commands.autocomplete(item=any_item_autocomplete)
    async def remove(self, interaction: discord.Interaction, item: str) -> None:
        guild_id = guild_id_of(interaction)
        found = await economy.find_item(guild_id, item)

        async def remove(answer: discord.Interaction) -> None:
            removed = await economy.remove_item(
                guild_id, found.name, actor_id=interaction.user.id
            )
            await answer.response.edit_message(
                content=_("Removed **{item}** from the shop.").format(item=removed), view=None
            )

        await confirm(
            interaction,
            _(
                "Remove **{item}** from the shop? Members who hold it lose it; nothing is "
                "refunded. To stop selling it but let people keep it, use `/shop-admin edit "
                "enabled:False` instead."
            ).format(item=found.name),
            remove,
            confirm_label=_("Remove"),
        )


def _member(interaction: discord.Interaction) -> discord.Member:
    member = interaction.user
    assert isinstance(member, discord.Member)
    return member


def _require_can_sell(interaction: discord.Interaction, role: discord.Role) -> None:
    """A role item's role: one the bot can give and the invoker could give themselves."""
    assert interaction.guild is not None
    check_role_manageable(interaction.guild, role.id)
    require_can_delegate(role, _member(interaction))
