"""XP, levels and activity on Discord: listeners, level-ups, reward roles and the commands.

The rules live in pegasus.services.levels and the buffer in pegasus.activity; this module turns
messages, voice states and interactions into plain values and shows the results.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from cogs.core import user_info
from models.levels import MultiplierTarget, RewardMode
from pegasus.activity import Activity, LevelChange, VoiceStateInfo
from pegasus.bot import Pegasus
from pegasus.errors import NotFoundError, PermissionDenied, ValidationError
from pegasus.services import blacklist
from pegasus.services import economy as economy_service
from pegasus.services import levels as service
from pegasus.services.durations import parse_duration
from pegasus.services.levels import (
    ActivityContext,
    ChannelKind,
    LeaderboardCategory,
    LevelCaches,
    LevelConfig,
    XpChange,
    XpOperation,
)
from pegasus.services.rankcard import RankCard, render_rank_card
from pegasus.ui.views import confirm

from . import render
from .views import LeaderboardPageButton, leaderboard_view

log = logging.getLogger(__name__)

AVATAR_TIMEOUT = 3.0  # seconds; a card with a placeholder beats a late card
BACKGROUND_TIMEOUT = 5.0
MAX_BACKGROUND_BYTES = 8 * 1024 * 1024
MANAGE_GUILD = discord.Permissions(manage_guild=True)

CATEGORY_CHOICES = [
    app_commands.Choice(name="XP and levels", value="xp"),
    app_commands.Choice(name="Messages", value="messages"),
    app_commands.Choice(name="Voice minutes", value="voice"),
    app_commands.Choice(name="Money (net worth)", value="money"),
]
KIND_CHOICES = [
    app_commands.Choice(name="Normal", value=ChannelKind.NORMAL.value),
    app_commands.Choice(name="Ignored (no XP, messages not counted)", value="ignored"),
    app_commands.Choice(name="No XP (messages still counted)", value="no-xp"),
    app_commands.Choice(name="Double XP", value="double-xp"),
]
MODE_CHOICES = [
    app_commands.Choice(name="Stack: keep every reward reached", value="stack"),
    app_commands.Choice(name="Replace: keep only the highest reward", value="replace"),
]
KIND_WORDS = {
    ChannelKind.NORMAL: "a normal channel again",
    ChannelKind.IGNORED: "ignored: no XP, and messages are not counted",
    ChannelKind.NO_XP: "a no-XP channel: messages are counted, no XP is given",
    ChannelKind.DOUBLE_XP: "a double-XP channel",
}
_MENTION = re.compile(r"^<(@&|#)(\d{15,20})>$")
_PREFIXED = re.compile(r"^(role|channel):(\d{15,20})$")

AnyChannel = (
    discord.TextChannel
    | discord.VoiceChannel
    | discord.StageChannel
    | discord.ForumChannel
    | discord.CategoryChannel
)


def channel_ids_of(channel: object) -> tuple[int, ...]:
    """The channel, then its parent (threads) and category: settings apply from the nearest."""
    ids = [channel.id]  # type: ignore[attr-defined]
    parent_id = getattr(channel, "parent_id", None)
    if parent_id is not None:
        ids.append(parent_id)
        parent = getattr(channel, "parent", None)
        category_id = getattr(parent, "category_id", None)
    else:
        category_id = getattr(channel, "category_id", None)
    if category_id is not None and category_id not in ids:
        ids.append(category_id)
    return tuple(ids)


def afk_channel_id(guild: discord.Guild) -> int | None:
    return guild.afk_channel.id if guild.afk_channel else None


def voice_state_info(member: discord.Member, state: discord.VoiceState) -> VoiceStateInfo | None:
    if state.channel is None:
        return None
    return VoiceStateInfo(
        member.id,
        state.channel.id,
        muted=state.self_mute or state.mute,
        deafened=state.self_deaf or state.deaf,
    )


def guild_voice_states(guild: discord.Guild) -> list[VoiceStateInfo]:
    """The humans in voice in a guild, as Discord last reported them."""
    states = []
    for channel in (*guild.voice_channels, *guild.stage_channels):
        for user_id, state in channel.voice_states.items():
            member = guild.get_member(user_id)
            if member is None or member.bot:
                continue
            info = voice_state_info(member, state)
            if info is not None:
                states.append(info)
    return states


class Levels(commands.Cog):
    """XP from messages and voice, levels, reward roles, rank cards and leaderboards."""

    xp = app_commands.Group(
        name="xp",
        description="Give, take, set or reset a member's XP.",
        guild_only=True,
        default_permissions=MANAGE_GUILD,
    )
    levels = app_commands.Group(
        name="levels",
        description="Set up XP, level-up messages, reward roles and multipliers.",
        guild_only=True,
        default_permissions=MANAGE_GUILD,
    )
    rankcard = app_commands.Group(
        name="rankcard", description="Choose how your rank card looks."
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        self.activity = Activity(
            LevelCaches(),
            on_level_changes=self.handle_level_changes,
            voice_context=self.voice_context,
            before_flush=blacklist.cache.ensure_fresh,
        )
        self._reconciles: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------------------ lifecycle

    async def cog_load(self) -> None:
        # Not `bot.activity`: that is discord.py's presence. Pegasus.close() unloads the cogs, and
        # cog_unload below flushes the buffer.
        self.bot.activity_buffer = self.activity  # type: ignore[attr-defined]
        self.bot.add_dynamic_items(LeaderboardPageButton)
        self.activity.start()
        if self.bot.is_ready():  # reloaded while connected: take stock of voice now
            for guild in self.bot.guilds:
                self._reconcile_later(guild)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(LeaderboardPageButton)
        for task in list(self._reconciles):
            task.cancel()
        await self.activity.stop()  # a clean stop loses nothing
        if getattr(self.bot, "activity_buffer", None) is self.activity:
            del self.bot.activity_buffer  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------ messages

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        guild = message.guild
        author = message.author
        if guild is None or author.bot or message.webhook_id is not None:
            return
        caches = self.activity.caches
        state = caches.peek(guild.id) or await caches.get(guild.id)
        channel_ids = channel_ids_of(message.channel)
        user = user_info(author) if self.activity.needs_user(author.id) else None
        self.activity.record_message_with(
            state,
            author.id,
            channel_ids,
            lambda: self.member_context(author, channel_ids),
            user=user,
        )

    def member_context(
        self, member: discord.Member | discord.User, channel_ids: tuple[int, ...]
    ) -> ActivityContext:
        """Roles, booster and blacklist of a member: only built when XP may be given."""
        guild = getattr(member, "guild", None)
        role_ids = frozenset(getattr(member, "_roles", ()))  # ids, without sorting Role objects
        hit = blacklist.check_cached(
            now=datetime.now(UTC),
            guild_id=guild.id if guild else None,
            user_id=member.id,
            channel_id=channel_ids[0],
            role_ids=role_ids,
        )
        return ActivityContext(
            member.id,
            channel_ids,
            role_ids,
            is_booster=getattr(member, "premium_since", None) is not None,
            blacklisted=hit is not None,
            now=time.time(),
        )

    def voice_context(self, guild_id: int, user_id: int, channel_id: int) -> ActivityContext:
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel(channel_id) if guild else None
        channel_ids = channel_ids_of(channel) if channel else (channel_id,)
        member = guild.get_member(user_id) if guild else None
        if member is None:
            return ActivityContext(user_id, channel_ids, now=time.time())
        return self.member_context(member, channel_ids)

    # ------------------------------------------------------------------------------ voice

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if member.bot:
            return
        await self.activity.record_voice(
            member.guild.id,
            member.id,
            voice_state_info(member, after),
            afk_channel_id=afk_channel_id(member.guild),
            user=user_info(member) if self.activity.needs_user(member.id) else None,
        )

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        # Start-up and every new session (READY): Discord sends who is in voice right now.
        await self.reconcile(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.reconcile(guild)

    @commands.Cog.listener()
    async def on_shard_disconnect(self, shard_id: int) -> None:
        # Until we are back, voice changes are unseen: count nothing rather than guess.
        self.activity.pause_voice(g.id for g in self.bot.guilds if g.shard_id == shard_id)

    @commands.Cog.listener()
    async def on_shard_resumed(self, shard_id: int) -> None:
        for guild in self.bot.guilds:
            if guild.shard_id == shard_id:
                await self.reconcile(guild)

    async def reconcile(self, guild: discord.Guild) -> None:
        states = guild_voice_states(guild)
        users = [user_info(m) for s in states if (m := guild.get_member(s.user_id))]
        await self.activity.reconcile_voice(
            guild.id, states, afk_channel_id=afk_channel_id(guild), users=users
        )

    def _reconcile_later(self, guild: discord.Guild) -> None:
        task = asyncio.create_task(self.reconcile(guild))
        self._reconciles.add(task)
        task.add_done_callback(self._reconciles.discard)

    # ------------------------------------------------------------------------------ level-ups

    async def handle_level_changes(self, changes: list[LevelChange]) -> None:
        """After a flush: announce level-ups and bring reward roles in line with the level."""
        for change in changes:
            try:
                await self.apply_level_change(change)
            except discord.HTTPException as error:
                log.warning(
                    "Level change of %s in guild %s not fully applied: %s",
                    change.user_id,
                    change.guild_id,
                    error,
                )

    async def apply_level_change(self, change: LevelChange) -> None:
        guild = self.bot.get_guild(change.guild_id)
        if guild is None:
            return
        config = (await self.activity.caches.get(guild.id)).config
        member = guild.get_member(change.user_id)
        if member is not None:
            await self.sync_rewards(member, config, change.new_level)
        if change.new_level > change.old_level and config.announce and config.enabled:
            await self.announce(guild, member, change, config)

    async def sync_rewards(self, member: discord.Member, config: LevelConfig, level: int) -> None:
        """Give the reward roles of `level` the member lacks, take those they should not have."""
        plan = service.reward_plan(config, level)
        if not plan.keep and not plan.remove:
            return
        me = member.guild.me
        has = {role.id for role in member.roles}
        add = [r for r in self._assignable(member.guild, plan.keep - has, me)]
        remove = [r for r in self._assignable(member.guild, plan.remove & has, me)]
        if add:
            await member.add_roles(*add, reason=f"Level {level:,} reward")
        if remove:
            await member.remove_roles(*remove, reason=f"Level {level:,}: reward no longer earned")

    @staticmethod
    def _assignable(
        guild: discord.Guild, role_ids: Iterable[int], me: discord.Member
    ) -> Iterable[discord.Role]:
        for role_id in role_ids:
            role = guild.get_role(role_id)
            if role is None:
                continue  # deleted since; the reward stays until an admin removes it
            if role.managed or role >= me.top_role:
                log.warning("Reward role %s in guild %s is above my role", role_id, guild.id)
                continue
            yield role

    async def announce(
        self,
        guild: discord.Guild,
        member: discord.Member | None,
        change: LevelChange,
        config: LevelConfig,
    ) -> None:
        channel_id = config.level_up_channel_id or change.channel_id
        channel = guild.get_channel_or_thread(channel_id) if channel_id else None
        if not isinstance(channel, discord.abc.Messageable):
            return
        template = (
            service.reward_message(config, change.old_level, change.new_level)
            or config.level_up_message
        )
        mention = member.mention if member else f"<@{change.user_id}>"
        text = service.render_level_up(
            template, user=mention, level=change.new_level, server=guild.name
        )
        try:
            await channel.send(
                text,
                allowed_mentions=discord.AllowedMentions(
                    users=[discord.Object(change.user_id)], roles=False, everyone=False
                ),
            )
        except discord.Forbidden:
            log.info("Cannot announce level-ups in channel %s of guild %s", channel_id, guild.id)

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        """Rewards come back when a member rejoins."""
        if member.bot:
            return
        level = await service.stored_level(member.guild.id, member.id)
        if level:
            config = (await self.activity.caches.get(member.guild.id)).config
            try:
                await self.sync_rewards(member, config, level)
            except discord.HTTPException as error:
                log.warning("Could not restore rewards of %s: %s", member.id, error)

    # ------------------------------------------------------------------------------ /rank

    @app_commands.command(name="rank", description="Show a rank card: level, XP, rank, activity.")
    @app_commands.describe(member="Whose rank card to show (yours if left empty)")
    @app_commands.guild_only()
    async def rank(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        target = member or interaction.user
        if target.bot:
            raise ValidationError("Bots do not earn XP, so they have no rank card.")
        await interaction.response.defer(thinking=True)
        await self.activity.flush()  # show what was just earned
        info = await service.member_rank(guild.id, target.id)
        avatar, background = await asyncio.gather(
            self._avatar_bytes(target), self._background_bytes(info.background)
        )
        card = RankCard(
            name=target.display_name,
            level=info.progress.level,
            rank=info.rank,
            xp_into_level=info.progress.into_level,
            xp_for_level=info.progress.needed,
            total_xp=info.progress.xp,
            messages=info.messages,
            voice_minutes=info.voice_minutes,
            accent=info.accent,
            background_colour=service.background_colour(info.background),
            background_image=background,
            avatar=avatar,
        )
        png = await asyncio.to_thread(render_rank_card, card)
        rank = f"rank **#{info.rank:,}**" if info.rank else "not ranked yet"
        await interaction.followup.send(
            f"**{discord.utils.escape_markdown(target.display_name)}**: level "
            f"**{info.progress.level:,}**, {info.progress.xp:,} XP, {rank}.",
            file=discord.File(io.BytesIO(png), filename="rank.png"),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _avatar_bytes(self, user: discord.abc.User) -> bytes | None:
        custom = getattr(user, "guild_avatar", None) or user.avatar
        if custom is None:
            return None  # the default avatar: the card draws its own placeholder
        try:
            async with asyncio.timeout(AVATAR_TIMEOUT):
                return await custom.replace(size=256, static_format="png").read()
        except (discord.HTTPException, TimeoutError, ValueError, aiohttp.ClientError):
            return None

    async def _background_bytes(self, background: str | None) -> bytes | None:
        """The image at a member's background URL, or None (the card falls back to a colour).

        Anyone can set a URL, so the bot only fetches https links to public addresses: never
        its own network (cloud metadata, databases, admin pages)."""
        if not background or not await service.is_safe_image_url(background):
            return None
        try:
            timeout = aiohttp.ClientTimeout(total=BACKGROUND_TIMEOUT)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(background, allow_redirects=False) as response,
            ):
                if response.status != 200:
                    return None
                data = await response.content.read(MAX_BACKGROUND_BYTES + 1)
                return data if len(data) <= MAX_BACKGROUND_BYTES else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    # ------------------------------------------------------------------------------ /rankcard

    @rankcard.command(name="set", description="Set your rank card's background and accent.")
    @app_commands.describe(
        background="A colour (#5865F2, blue) or an https:// link to an image",
        accent="The colour of the progress bar and level, e.g. #57F287 or green",
    )
    async def rankcard_set(
        self,
        interaction: discord.Interaction,
        background: app_commands.Range[str, 1, 1024] | None = None,
        accent: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        stored_background, stored_accent = await service.set_rank_card(
            interaction.user.id, background=background, accent=accent
        )
        embed = discord.Embed(
            title="Rank card updated",
            description=(
                f"Background: {stored_background or 'default'}\n"
                f"Accent: {render.colour_text(stored_accent)}\n\nSee it with `/rank`."
            ),
            colour=stored_accent if stored_accent is not None else render.SUCCESS_COLOUR,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @rankcard.command(name="reset", description="Go back to the default rank card colours.")
    async def rankcard_reset(self, interaction: discord.Interaction) -> None:
        await service.reset_rank_card(interaction.user.id)
        await interaction.response.send_message(
            "Your rank card uses the default colours again.", ephemeral=True
        )

    # ------------------------------------------------------------------------------ /leaderboard

    @app_commands.command(name="leaderboard", description="The server's top members, ten a page.")
    @app_commands.describe(
        category="What to rank by (XP if left empty)", page="Which page to open (the first)"
    )
    @app_commands.choices(category=CATEGORY_CHOICES)
    @app_commands.guild_only()
    async def leaderboard(
        self,
        interaction: discord.Interaction,
        category: app_commands.Choice[str] | None = None,
        page: app_commands.Range[int, 1, 100_000] = 1,
    ) -> None:
        chosen = LeaderboardCategory(category.value if category else "xp")
        await self.show_leaderboard(interaction, chosen, page, edit=False)

    async def show_leaderboard(
        self,
        interaction: discord.Interaction,
        category: LeaderboardCategory,
        page: int,
        *,
        edit: bool,
    ) -> None:
        guild = interaction.guild
        if guild is None:
            raise ValidationError("Leaderboards exist only in servers.")
        if category is not LeaderboardCategory.MONEY:
            await self.activity.flush()
        board = await service.leaderboard_page(guild.id, category, page)
        money = None
        if category is LeaderboardCategory.MONEY:
            currency = economy_service.currency_of(await economy_service.get_settings(guild.id))
            money = currency.format
        embed = render.leaderboard_embed(
            guild.name, board, **({"money": money} if money else {})
        )
        view = leaderboard_view(category, board.page, board.pages)
        if edit:
            await interaction.response.edit_message(embed=embed, view=view)
        else:
            await interaction.response.send_message(
                embed=embed, view=view, allowed_mentions=discord.AllowedMentions.none()
            )

    # ------------------------------------------------------------------------------ /xp

    async def _change_xp(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        operation: XpOperation,
        amount: int = 0,
    ) -> XpChange:
        guild = interaction.guild
        assert guild is not None
        if member.bot:
            raise ValidationError("Bots do not have XP.")
        async with self.activity.lock:
            if operation in (XpOperation.SET, XpOperation.RESET):
                self.activity.discard(guild.id, member.id)  # pending XP would land on top
            change = await service.adjust_xp(
                guild.id, member.id, operation, amount, now=discord.utils.utcnow()
            )
        config = (await self.activity.caches.get(guild.id)).config
        try:
            await self.sync_rewards(member, config, change.new_level)
        except discord.HTTPException as error:
            log.warning("Rewards of %s not synced after /xp: %s", member.id, error)
        return change

    @staticmethod
    def _xp_embed(member: discord.Member, change: XpChange, verb: str) -> discord.Embed:
        level = f"level **{change.new_level:,}**"
        if change.new_level != change.old_level:
            level += f" (was {change.old_level:,})"
        return discord.Embed(
            description=(
                f"{verb} {member.mention}: now **{change.new_xp:,} XP**, {level}.\n"
                f"Before: {change.old_xp:,} XP."
            ),
            colour=render.SUCCESS_COLOUR,
        )

    @xp.command(name="add", description="Give a member XP.")
    @app_commands.describe(member="Who gets the XP", amount="How much XP to give")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def xp_add(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, 1, service.MAX_ADJUST],
    ) -> None:
        change = await self._change_xp(interaction, member, XpOperation.ADD, amount)
        await interaction.response.send_message(
            embed=self._xp_embed(member, change, f"Gave {amount:,} XP to")
        )

    @xp.command(name="remove", description="Take XP from a member (rewards above follow).")
    @app_commands.describe(member="Whose XP to take", amount="How much XP to take")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def xp_remove(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, 1, service.MAX_ADJUST],
    ) -> None:
        change = await self._change_xp(interaction, member, XpOperation.REMOVE, amount)
        await interaction.response.send_message(
            embed=self._xp_embed(member, change, f"Took {change.old_xp - change.new_xp:,} XP from")
        )

    @xp.command(name="set", description="Set a member's XP to an exact amount.")
    @app_commands.describe(member="Whose XP to set", amount="The new total XP")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def xp_set(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        amount: app_commands.Range[int, 0, service.MAX_ADJUST],
    ) -> None:
        change = await self._change_xp(interaction, member, XpOperation.SET, amount)
        await interaction.response.send_message(
            embed=self._xp_embed(member, change, "Set the XP of")
        )

    @xp.command(name="reset", description="Reset a member's XP and level to zero.")
    @app_commands.describe(member="Whose XP to reset")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def xp_reset(self, interaction: discord.Interaction, member: discord.Member) -> None:
        if member.bot:
            raise ValidationError("Bots do not have XP.")
        answer = await confirm(
            interaction,
            f"Reset **all** XP of {member.mention} to 0? Their level and reward roles go too.",
            confirm_label="Reset XP",
        )
        if answer is None:
            return
        change = await self._change_xp(interaction, member, XpOperation.RESET)
        await answer.response.edit_message(
            content=None, embed=self._xp_embed(member, change, "Reset"), view=None
        )

    # ------------------------------------------------------------------------------ /levels

    def _invalidate(self, guild_id: int) -> None:
        self.activity.caches.invalidate(guild_id)

    @levels.command(name="settings", description="Show how XP and levels are set up here.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def levels_settings(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        assert guild is not None
        config = await service.load_config(guild.id)
        await interaction.response.send_message(
            embed=render.settings_embed(guild.name, config), ephemeral=True
        )

    @levels.command(name="set", description="Change XP settings; options left empty stay.")
    @app_commands.describe(
        enabled="Whether members earn XP at all",
        xp_min="Least XP a message gives",
        xp_max="Most XP a message gives",
        cooldown="How long before a member's next message gives XP, e.g. 60s or 2m",
        voice_xp="XP per minute in voice",
        rate="Server-wide XP rate in percent (100 = normal, 200 = double)",
        announce="Whether level-ups are announced",
        channel="Announce level-ups in this channel",
        announce_where_spoken="Announce in the channel where the member spoke instead",
        message="Level-up message; use {user}, {level} and {server}",
        booster_role="Extra role that counts as a server booster for XP",
        booster_multiplier="XP multiplier for boosters in percent (150 = 1.5x)",
        voice_min_members="Members needed in a voice channel before minutes count",
        voice_count_muted="Whether muted members earn voice minutes",
        voice_count_deafened="Whether deafened members earn voice minutes",
        rewards="Whether reward roles are given",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def levels_set(
        self,
        interaction: discord.Interaction,
        enabled: bool | None = None,
        xp_min: app_commands.Range[int, 0, 10_000] | None = None,
        xp_max: app_commands.Range[int, 0, 10_000] | None = None,
        cooldown: app_commands.Range[str, 1, 32] | None = None,
        voice_xp: app_commands.Range[int, 0, 10_000] | None = None,
        rate: app_commands.Range[int, 0, 1_000] | None = None,
        announce: bool | None = None,
        channel: discord.TextChannel | None = None,
        announce_where_spoken: bool | None = None,
        message: app_commands.Range[str, 1, 1_000] | None = None,
        booster_role: discord.Role | None = None,
        booster_multiplier: app_commands.Range[int, 0, 1_000] | None = None,
        voice_min_members: app_commands.Range[int, 1, 99] | None = None,
        voice_count_muted: bool | None = None,
        voice_count_deafened: bool | None = None,
        rewards: bool | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        if channel is not None and announce_where_spoken:
            raise ValidationError(
                "Choose either a channel or announce_where_spoken, not both."
            )
        changes = {
            "xp_enabled": enabled,
            "xp_min": xp_min,
            "xp_max": xp_max,
            "xp_cooldown_seconds": (
                parse_duration(cooldown, minimum=0, maximum=86_400) if cooldown else None
            ),
            "xp_per_voice_minute": voice_xp,
            "xp_rate": rate,
            "xp_announce_level_up": announce,
            "xp_level_up_channel_id": channel.id if channel else None,
            "xp_level_up_message": message,
            "xp_booster_role_id": booster_role.id if booster_role else None,
            "xp_booster_multiplier": booster_multiplier,
            "voice_min_members": voice_min_members,
            "voice_count_muted": voice_count_muted,
            "voice_count_deafened": voice_count_deafened,
        }
        changes = {name: value for name, value in changes.items() if value is not None}
        if announce_where_spoken:
            changes["xp_level_up_channel_id"] = None
        if rewards is None and not changes:
            raise ValidationError("Nothing to change: give at least one option.")
        if rewards is not None:
            await service.set_rewards_enabled(guild.id, rewards)
        config = (
            await service.update_settings(guild.id, **changes)
            if changes
            else await service.load_config(guild.id)
        )
        self._invalidate(guild.id)
        embed = render.settings_embed(guild.name, config)
        embed.title = f"Level settings updated · {guild.name}"
        await interaction.response.send_message(embed=embed, ephemeral=True)

    def _check_reward_role(self, guild: discord.Guild, role: discord.Role) -> None:
        if role.is_default() or role.managed:
            raise ValidationError(f"{role.mention} cannot be given by a bot; choose another role.")
        if role >= guild.me.top_role:
            raise PermissionDenied(
                f"{role.mention} is above my highest role, so I could not give it. Move my "
                "role above it in Server Settings → Roles, or choose a lower role."
            )

    @levels.command(name="reward-add", description="Give a role when members reach a level.")
    @app_commands.describe(
        level="The level that earns the role",
        role="The role to give",
        message="A special level-up message for this reward; {user}, {level}, {server}",
        mode="Keep this reward when higher ones come (stack) or swap it (replace)",
    )
    @app_commands.choices(mode=MODE_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def reward_add(
        self,
        interaction: discord.Interaction,
        level: app_commands.Range[int, 1, service.MAX_LEVEL],
        role: discord.Role,
        message: app_commands.Range[str, 1, 1_000] | None = None,
        mode: app_commands.Choice[str] | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        self._check_reward_role(guild, role)
        await service.add_reward(
            guild.id,
            level,
            role.id,
            message=message,
            mode=RewardMode(mode.value) if mode else None,
        )
        self._invalidate(guild.id)
        await interaction.response.send_message(
            f"Members reaching level **{level:,}** now get {role.mention}. Members already past "
            "it get it at their next level-up.",
            ephemeral=True,
        )

    @levels.command(name="reward-remove", description="Stop giving a role at a level.")
    @app_commands.describe(level="The level of the reward", role="The reward role")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def reward_remove(
        self,
        interaction: discord.Interaction,
        level: app_commands.Range[int, 1, service.MAX_LEVEL],
        role: discord.Role,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        await service.remove_reward(guild.id, level, role.id)
        self._invalidate(guild.id)
        await interaction.response.send_message(
            f"{role.mention} is no longer the reward for level **{level:,}**. Members keep it "
            "unless you remove it yourself.",
            ephemeral=True,
        )

    @levels.command(name="rewards", description="List the reward roles.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def rewards_list(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        assert guild is not None
        config = await service.load_config(guild.id)
        await interaction.response.send_message(
            embed=render.rewards_embed(guild.name, list(config.rewards), config), ephemeral=True
        )

    @levels.command(name="reward-mode", description="Stack reward roles or keep only the highest.")
    @app_commands.describe(mode="stack: keep every reward; replace: only the highest reached")
    @app_commands.choices(mode=MODE_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def reward_mode(
        self, interaction: discord.Interaction, mode: app_commands.Choice[str]
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        await service.set_reward_mode(guild.id, RewardMode(mode.value))
        self._invalidate(guild.id)
        await interaction.response.send_message(
            f"Reward mode is now **{mode.value}**: {mode.name.split(': ', 1)[1]}.",
            ephemeral=True,
        )

    def _resolve_target(
        self, guild: discord.Guild, text: str
    ) -> tuple[MultiplierTarget, int, str]:
        """A role or channel from a mention, `role:<id>`/`channel:<id>`, an id or a name."""
        text = text.strip()
        candidates: list[tuple[MultiplierTarget, int]] = []
        if match := _MENTION.match(text):
            kind = MultiplierTarget.ROLE if match[1] == "@&" else MultiplierTarget.CHANNEL
            candidates.append((kind, int(match[2])))
        elif match := _PREFIXED.match(text):
            candidates.append((MultiplierTarget(match[1]), int(match[2])))
        elif text.isdigit():
            target_id = int(text)
            candidates += [
                (MultiplierTarget.ROLE, target_id),
                (MultiplierTarget.CHANNEL, target_id),
            ]
        else:
            name = text.lstrip("@#").lower()
            candidates += [
                (MultiplierTarget.ROLE, r.id) for r in guild.roles if r.name.lower() == name
            ]
            candidates += [
                (MultiplierTarget.CHANNEL, c.id) for c in guild.channels if c.name.lower() == name
            ]
        for kind, target_id in candidates:
            if kind is MultiplierTarget.ROLE and (role := guild.get_role(target_id)):
                return kind, target_id, role.mention
            if kind is MultiplierTarget.CHANNEL and (channel := guild.get_channel(target_id)):
                return kind, target_id, channel.mention
        raise NotFoundError(
            f"`{text}` is neither a role nor a channel of this server: pick one from the list."
        )

    async def _target_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        guild = interaction.guild
        if guild is None:
            return []
        typed = current.lstrip("@#").lower()
        choices = [
            app_commands.Choice(name=f"@{role.name}", value=f"role:{role.id}")
            for role in reversed(guild.roles)
            if not role.is_default() and typed in role.name.lower()
        ]
        choices += [
            app_commands.Choice(name=f"#{channel.name}", value=f"channel:{channel.id}")
            for channel in guild.channels
            if typed in channel.name.lower()
        ]
        return choices[:25]

    @levels.command(
        name="multiplier", description="Multiply XP earned with a role or in a channel."
    )
    @app_commands.describe(
        target="A role or a channel (type to search)",
        percent="XP multiplier in percent: 150 = 1.5x, 50 = half, 100 = normal",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def multiplier(
        self,
        interaction: discord.Interaction,
        target: app_commands.Range[str, 1, 100],
        percent: app_commands.Range[int, 0, service.MAX_MULTIPLIER_PERCENT],
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        kind, target_id, mention = self._resolve_target(guild, target)
        await service.set_multiplier(guild.id, kind, target_id, percent)
        self._invalidate(guild.id)
        where = "with" if kind is MultiplierTarget.ROLE else "in"
        await interaction.response.send_message(
            f"XP earned {where} {mention} is now multiplied by **{percent:,}%**.", ephemeral=True
        )

    @multiplier.autocomplete("target")
    async def _multiplier_target(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._target_choices(interaction, current)

    @levels.command(
        name="multiplier-remove", description="Remove a role's or channel's multiplier."
    )
    @app_commands.describe(target="The role or channel (type to search)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def multiplier_remove(
        self, interaction: discord.Interaction, target: app_commands.Range[str, 1, 100]
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        kind, target_id, mention = self._resolve_target(guild, target)
        await service.remove_multiplier(guild.id, kind, target_id)
        self._invalidate(guild.id)
        await interaction.response.send_message(
            f"{mention} no longer changes XP.", ephemeral=True
        )

    @multiplier_remove.autocomplete("target")
    async def _multiplier_remove_target(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._target_choices(interaction, current)

    @levels.command(
        name="channel", description="Make a channel normal, ignored, no-XP or double-XP."
    )
    @app_commands.describe(
        channel="The channel (a category applies to the channels in it)",
        kind="How XP works there",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel_kind(
        self,
        interaction: discord.Interaction,
        channel: AnyChannel,
        kind: app_commands.Choice[str],
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        chosen = ChannelKind(kind.value)
        await service.set_channel_kind(guild.id, channel.id, chosen)
        self._invalidate(guild.id)
        await interaction.response.send_message(
            f"{channel.mention} is now {KIND_WORDS[chosen]}.", ephemeral=True
        )

    @levels.command(name="ignore-role", description="Members with this role earn no XP (toggle).")
    @app_commands.describe(role="The role to ignore, or to stop ignoring")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def ignore_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        guild = interaction.guild
        assert guild is not None
        ignored = await service.toggle_ignored_role(guild.id, role.id)
        self._invalidate(guild.id)
        text = (
            f"Members with {role.mention} no longer earn XP."
            if ignored
            else f"{role.mention} is no longer ignored: its members earn XP again."
        )
        await interaction.response.send_message(text, ephemeral=True)
