"""XP, levels and activity on Discord: listeners, level-ups, reward roles and the commands.

The rules and the buffer live in pegasus.services.levels; this module turns messages, voice
states and interactions into plain values and shows the results.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image

from pegasus.bot import MessagePhase, Pegasus
from pegasus.errors import ValidationError
from pegasus.i18n import _, for_guild, format_number
from pegasus.services import economy as economy_service
from pegasus.services import levels as service
from pegasus.services.levels import (
    Activity,
    ActivityContext,
    BackgroundCache,
    GuildVoice,
    ImageFetcher,
    LeaderboardCategory,
    LevelCaches,
    LevelChange,
    LevelConfig,
    RankCard,
    VoiceStateInfo,
    render_rank_card,
)
from pegasus.ui.roles import vet_grants
from pegasus.ui.users import user_info

from . import render
from .views import LeaderboardPageButton, leaderboard_view

log = logging.getLogger(__name__)

AVATAR_TIMEOUT = 3.0  # seconds; a card with a placeholder beats a late card
BACKGROUND_TIMEOUT = 5.0
MAX_BACKGROUND_BYTES = 8 * 1024 * 1024
DEFER_AFTER = 1.0  # seconds a leaderboard may take before its answer is deferred
MAX_PAGE = 999_999  # the page buttons' custom ids hold six digits
# Guilds becoming available within this time share one read of their voice sessions.
RECONCILE_GATHER_SECONDS = 0.05

CATEGORY_CHOICES = [
    app_commands.Choice(name="XP and levels", value="xp"),
    app_commands.Choice(name="Messages", value="messages"),
    app_commands.Choice(name="Voice minutes", value="voice"),
    app_commands.Choice(name="Money (net worth)", value="money"),
]
def channel_ids_of(channel: discord.abc.Snowflake) -> tuple[int, ...]:
    """The channel, then its parent (threads) and category: settings apply from the nearest."""
    ids = [channel.id]
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


def guild_voice(guild: discord.Guild) -> GuildVoice:
    """Who is in voice in a guild now, with their names for rows not yet stored."""
    states = guild_voice_states(guild)
    users = tuple(user_info(m) for s in states if (m := guild.get_member(s.user_id)))
    return GuildVoice(guild.id, tuple(states), afk_channel_id(guild), users)


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

    rankcard = app_commands.Group(
        name="rankcard", description="Choose how your rank card looks."
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        self.activity = Activity(
            LevelCaches(),
            on_level_changes=self.handle_level_changes,
            voice_context=self.voice_context,
            before_flush=bot.blacklist.ensure_fresh,
        )
        self._reconciles: set[asyncio.Task[None]] = set()
        self._to_reconcile: set[int] = set()
        self._next_reconcile: asyncio.Future[None] | None = None
        self.background_fetcher = ImageFetcher(
            timeout=BACKGROUND_TIMEOUT, max_bytes=MAX_BACKGROUND_BYTES
        )
        self.backgrounds = BackgroundCache()
        self.defer_after = DEFER_AFTER

    # ------------------------------------------------------------------------------ lifecycle

    async def cog_load(self) -> None:
        # Pegasus.close() unloads the cogs, and cog_unload below flushes the buffer.
        self.bot.activity_buffer = self.activity
        self.bot.add_dynamic_items(LeaderboardPageButton)
        self.bot.add_message_hook(self.on_message, MessagePhase.LEVELS)
        self.activity.start()
        if self.bot.is_ready():  # reloaded while connected: take stock of voice now
            self._reconcile_soon(self.bot.guilds)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(LeaderboardPageButton)
        self.bot.remove_message_hook(self.on_message)
        for task in list(self._reconciles):
            task.cancel()
        await self.activity.stop()  # a clean stop loses nothing
        if self.bot.activity_buffer is self.activity:
            self.bot.activity_buffer = None

    # ------------------------------------------------------------------------------ messages

    async def on_message(self, message: discord.Message) -> None:
        """A message hook (see Pegasus.add_message_hook): memory only."""
        guild = message.guild
        author = message.author
        if (
            guild is None
            or author.bot
            or message.webhook_id is not None
            or message.is_system()  # "X boosted the server", joins...: not something said
        ):
            return
        activity = self.activity
        state = activity.peek_state(guild.id) or await activity.guild_state(guild.id)
        channel_ids = channel_ids_of(message.channel)
        user = user_info(author) if activity.needs_user(author.id) else None
        if state is None:  # the database is unreachable: counted when the settings load
            activity.defer_message(guild.id, self.member_context(author, channel_ids), user=user)
            return
        activity.record_message_with(
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
        hit = self.bot.blacklist.match(
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
        await self._reconcile_soon([guild])

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._reconcile_soon([guild])

    @commands.Cog.listener()
    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        # Members already sitting in a channel that just became (or stopped being) the AFK
        # channel send no voice update: take stock now.
        if afk_channel_id(before) != afk_channel_id(after):
            await self.reconcile(after)

    @commands.Cog.listener()
    async def on_shard_disconnect(self, shard_id: int) -> None:
        # Until we are back, voice changes are unseen: count nothing rather than guess.
        self.activity.pause_voice(g.id for g in self.bot.guilds if g.shard_id == shard_id)

    @commands.Cog.listener()
    async def on_shard_resumed(self, shard_id: int) -> None:
        await self._reconcile_soon(g for g in self.bot.guilds if g.shard_id == shard_id)

    async def reconcile(self, guild: discord.Guild) -> None:
        await self.activity.reconcile_voice_of_guilds([guild_voice(guild)])

    def _reconcile_soon(self, guilds: Iterable[discord.Guild]) -> asyncio.Future[None]:
        """Reconcile these guilds soon, together with every guild that becomes available
        meanwhile: at start-up a thousand guilds cost a few reads of the stored sessions, not
        one read each. Await the result to know they are done."""
        self._to_reconcile.update(guild.id for guild in guilds)
        if self._next_reconcile is None:
            done = self._next_reconcile = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._reconcile_gathered(done))
            self._reconciles.add(task)
            task.add_done_callback(self._reconciles.discard)
        return asyncio.shield(self._next_reconcile)

    async def _reconcile_gathered(self, done: asyncio.Future[None]) -> None:
        try:
            await asyncio.sleep(RECONCILE_GATHER_SECONDS)
            # Guilds arriving from here on start the next batch.
            guild_ids, self._to_reconcile = self._to_reconcile, set()
            self._next_reconcile = None
            guilds = [g for i in guild_ids if (g := self.bot.get_guild(i)) is not None]
            await self.activity.reconcile_voice_of_guilds([guild_voice(g) for g in guilds])
        except Exception:
            # Voice in these guilds is taken stock of again at their next session.
            log.exception("Voice reconciliation failed")
        finally:
            if self._next_reconcile is done:  # cancelled while gathering
                self._next_reconcile = None
            if not done.done():
                done.set_result(None)

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
        shown_level = format_number(level)
        # The reasons and a refused grant's alert are read by the server's staff.
        with for_guild(member.guild.id):
            due = list(self._assignable(member.guild, plan.keep - has, me))
            add = await vet_grants(
                member, due, purpose=_("level {level} reward").format(level=shown_level)
            )
            remove = [r for r in self._assignable(member.guild, plan.remove & has, me)]
            if add:
                await member.add_roles(
                    *add, reason=_("Level {level} reward").format(level=shown_level)
                )
            if remove:
                await member.remove_roles(
                    *remove,
                    reason=_("Level {level}: reward no longer earned").format(level=shown_level),
                )

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
        # A post to the whole server: in the server's language (a template the staff wrote stays
        # as written; Pegasus's default is translated).
        with for_guild(guild.id):
            text = service.render_level_up(
                service.announced_template(template),
                user=mention,
                level=change.new_level,
                server=guild.name,
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
            raise ValidationError(_("Bots do not earn XP, so they have no rank card."))
        await interaction.response.defer(thinking=True)
        # What was just earned and not flushed yet is added from memory: no flush, no wait.
        unwritten = self.activity.unwritten(guild.id, target.id)
        info = await service.member_rank(guild.id, target.id, unwritten)
        avatar, (background, refusal) = await asyncio.gather(
            self._avatar_bytes(target), self._prepared_background(info.background)
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
            prepared_background=background,
            avatar=avatar,
        )
        png = await asyncio.to_thread(render_rank_card, card)
        if info.rank:
            summary = _("**{name}**: level **{level}**, {xp} XP, rank **#{rank}**.")
        else:
            summary = _("**{name}**: level **{level}**, {xp} XP, not ranked yet.")
        await interaction.followup.send(
            summary.format(
                name=discord.utils.escape_markdown(target.display_name),
                level=format_number(info.progress.level),
                xp=format_number(info.progress.xp),
                rank=format_number(info.rank or 0),
            ),
            file=discord.File(io.BytesIO(png), filename="rank.png"),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        if refusal is not None and target.id == interaction.user.id:
            await interaction.followup.send(
                _(
                    "Your background image could not be used, so your card shows a plain one. "
                    "{reason}"
                ).format(reason=refusal),
                ephemeral=True,
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

    async def _prepared_background(
        self, background: str | None
    ) -> tuple[Image.Image | None, ValidationError | None]:
        """The member's background image fitted to the card, or None and why (the card then falls
        back to a colour). Kept prepared in `self.backgrounds`, so a card shown again costs no
        download and no decoding."""
        if not background or not background.startswith("https://"):
            return None, None
        try:
            return await self.backgrounds.get(background, self.background_fetcher.fetch), None
        except ValidationError as refusal:
            return None, refusal

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
        chosen = service.parse_background(background) if background is not None else None
        if chosen is not None and chosen.startswith("https://"):
            # Checked now, so a link that cannot be a background is refused with the reason, and
            # the first /rank finds it prepared.
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self.backgrounds.get(chosen, self.background_fetcher.fetch, fresh=True)
        stored_background, stored_accent = await service.set_rank_card(
            interaction.user.id, background=background, accent=accent
        )
        embed = discord.Embed(
            title=_("Rank card updated"),
            description=_(
                "Background: {background}\nAccent: {accent}\n\nSee it with `/rank`."
            ).format(
                # Translators: the rank card's background or accent when none is chosen.
                background=stored_background or _("default"),
                accent=render.colour_text(stored_accent),
            ),
            colour=stored_accent if stored_accent is not None else render.SUCCESS_COLOUR,
        )
        if interaction.response.is_done():
            await interaction.followup.send(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True)

    @rankcard.command(name="reset", description="Go back to the default rank card colours.")
    async def rankcard_reset(self, interaction: discord.Interaction) -> None:
        await service.reset_rank_card(interaction.user.id)
        await interaction.response.send_message(
            _("Your rank card uses the default colours again."), ephemeral=True
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
        page: app_commands.Range[int, 1, MAX_PAGE] = 1,
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
            raise ValidationError(_("Leaderboards exist only in servers."))
        # The stored values, flushed every second: the board waits for no flush. A board the
        # database has not given within `defer_after` (a busy database, or the boards that
        # still count their rows) is shown through a deferred answer, within Discord's window.
        reading = asyncio.ensure_future(self._leaderboard(guild, category, page))
        done, _pending = await asyncio.wait({reading}, timeout=self.defer_after)
        if not done:
            await interaction.response.defer(thinking=not edit)
        embed, view = await reading
        if edit and interaction.response.is_done():
            await interaction.edit_original_response(embed=embed, view=view)
        elif edit:
            await interaction.response.edit_message(embed=embed, view=view)
        elif interaction.response.is_done():
            await interaction.followup.send(
                embed=embed, view=view, allowed_mentions=discord.AllowedMentions.none()
            )
        else:
            await interaction.response.send_message(
                embed=embed, view=view, allowed_mentions=discord.AllowedMentions.none()
            )

    async def _leaderboard(
        self, guild: discord.Guild, category: LeaderboardCategory, page: int
    ) -> tuple[discord.Embed, discord.ui.View]:
        board = await service.leaderboard_page(guild.id, category, page)
        money = None
        if category is LeaderboardCategory.MONEY:
            currency = economy_service.currency_of(await economy_service.get_settings(guild.id))
            money = currency.format
        embed = render.leaderboard_embed(
            guild.name, board, **({"money": money} if money else {})
        )
        return embed, leaderboard_view(category, board.page, board.pages)
