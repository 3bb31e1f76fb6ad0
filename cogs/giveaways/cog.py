"""Slash commands, the persistent Enter button and the start/end timers of giveaways.

The rules live in pegasus.services.giveaways; this module turns Discord objects into plain values,
calls the service and shows the result.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from models.giveaways import GiveawayStatus
from models.scheduling import ScheduledAction
from pegasus.bot import Pegasus
from pegasus.errors import PegasusError, ValidationError
from pegasus.i18n import _, for_guild, format_number, ngettext
from pegasus.services import giveaways as service
from pegasus.services.durations import parse_duration
from pegasus.services.giveaways import GiveawayInfo
from pegasus.ui.checks import require_bot_can_post
from pegasus.ui.cogs import running_cog
from pegasus.ui.dynamic import PegasusButton
from pegasus.ui.flows import run_flow
from pegasus.ui.format import timestamp, user_mentions
from pegasus.ui.views import confirm
from pegasus.web.jobs import JobKind, job_executor

from . import render
from .throttle import CoalescingThrottle

log = logging.getLogger(__name__)

# At most one entry-count edit per giveaway message in this many seconds (Discord allows about
# five edits per five seconds per channel, and several giveaways may share a channel).
ENTRY_COUNT_EDIT_INTERVAL = 5.0
ANNOUNCEMENT_RETRY_SECONDS = 30

ID_DESCRIPTION = "The giveaway's id, shown under it (e.g. G-7K2QX)"


class EnterButton(PegasusButton, template=r"pegasus:giveaway:enter:(?P<id>[0-9]+)"):
    """The Enter button on a giveaway message; works across restarts (state is in the id)."""

    def __init__(self, giveaway_pk: int) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.success,
                label=_("Enter"),
                emoji="🎉",
                custom_id=f"pegasus:giveaway:enter:{giveaway_pk}",
            )
        )
        self.giveaway_pk = giveaway_pk

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Button,
        match: re.Match[str],
        /,
    ) -> EnterButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = running_cog(interaction.client, Giveaways)
        await cog.handle_enter(interaction, self.giveaway_pk)


def giveaway_view(giveaway: GiveawayInfo) -> discord.ui.View | None:
    """The Enter button while entries are (or will be) open; nothing once it is over."""
    if giveaway.status not in (GiveawayStatus.SCHEDULED, GiveawayStatus.ACTIVE):
        return None
    view = discord.ui.View(timeout=None)
    with for_guild(giveaway.guild_id):  # part of the giveaway message: the server's language
        view.add_item(EnterButton(giveaway.id))
    return view


def entrant_of(member: discord.Member) -> service.Entrant:
    return service.Entrant(
        user_id=member.id,
        role_ids=frozenset(role.id for role in member.roles),
        is_booster=member.premium_since is not None,
        account_created_at=member.created_at,
        joined_at=member.joined_at,
    )


def entry_reply(result: service.EntryResult) -> str:
    if not result.entered:
        return _("You left the giveaway. Click **Enter** again to rejoin.")
    extra = result.weight - 1
    if extra:
        weight = _("**{count} entries** (1 + {bonus} bonus)").format(
            count=format_number(result.weight), bonus=format_number(extra)
        )
    else:
        weight = _("**1 entry**")
    return ngettext(
        "🎉 You're in with {weight}. {count} person entered so far. "
        "Click **Enter** again to leave.",
        "🎉 You're in with {weight}. {count} people entered so far. "
        "Click **Enter** again to leave.",
        result.entry_count,
    ).format(weight=weight, count=format_number(result.entry_count))


STATUS_CHOICES = [
    app_commands.Choice(name=status.value.capitalize(), value=status.value)
    for status in GiveawayStatus
]


@app_commands.guild_only()
class Giveaways(
    commands.GroupCog,
    group_name="giveaway",
    group_description="Giveaways with requirements, bonus entries and a draw anyone can verify.",
):
    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        self._edit_locks: dict[int, asyncio.Lock] = {}
        self.entry_count_refresher: CoalescingThrottle[int] = CoalescingThrottle(
            self.refresh_message, ENTRY_COUNT_EDIT_INTERVAL
        )
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.scheduler.register(service.START_KIND, self._on_start_due)
        self.bot.scheduler.register(service.END_KIND, self._on_end_due)
        self.bot.scheduler.register(JobKind.GIVEAWAY_POST, job_executor(self._run_post_job))
        self.bot.scheduler.register(JobKind.GIVEAWAY_REFRESH, job_executor(self._run_refresh_job))
        self.bot.scheduler.register(JobKind.GIVEAWAY_END, job_executor(self._run_end_job))
        self.bot.scheduler.register(JobKind.GIVEAWAY_REROLL, job_executor(self._run_reroll_job))
        self.bot.add_dynamic_items(EnterButton)

    async def cog_unload(self) -> None:
        self.bot.scheduler.unregister(service.START_KIND)
        self.bot.scheduler.unregister(service.END_KIND)
        self.bot.scheduler.unregister(JobKind.GIVEAWAY_POST)
        self.bot.scheduler.unregister(JobKind.GIVEAWAY_REFRESH)
        self.bot.scheduler.unregister(JobKind.GIVEAWAY_END)
        self.bot.scheduler.unregister(JobKind.GIVEAWAY_REROLL)
        self.bot.remove_dynamic_items(EnterButton)
        # Show the last entry counts rather than drop them; the gateway may already be closed.
        try:
            await self.entry_count_refresher.flush()
        finally:
            await self.entry_count_refresher.close()

    # ----------------------------------------------------------------------------------------
    # Timers

    async def _on_start_due(self, action: ScheduledAction) -> None:
        giveaway_pk = int(action.payload["giveaway"])
        await service.start_giveaway(giveaway_pk)
        await self.refresh_message(giveaway_pk)  # also after a repeat: editing is idempotent

    async def _on_end_due(self, action: ScheduledAction) -> None:
        giveaway_pk = int(action.payload["giveaway"])
        giveaway = await service.giveaway_by_pk(giveaway_pk)
        if giveaway is None:
            return
        await service.end_due(
            giveaway_pk,
            now=discord.utils.utcnow(),
            present_member_ids=self.present_members(giveaway.guild_id),
        )
        # Whoever ended it, an end not yet announced is announced here; a failure raises so the
        # scheduler retries. While another claim on the announcement is unconfirmed, the timer
        # comes back when its lease runs out, in case that claim's process died.
        if not await self.finish(giveaway_pk):
            await service.follow_up_announcement(giveaway_pk, now=discord.utils.utcnow())

    # ----------------------------------------------------------------------------------------
    # Jobs queued by the REST API: the same flows as /giveaway end and /giveaway reroll

    async def _run_post_job(self, guild_id: int, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Post a giveaway created over the API; if it cannot be posted, it is removed with its
        timers (as `/giveaway start` does when Discord refuses) and the job says why."""
        giveaway = await service.get_giveaway(guild_id, str(payload["giveaway_id"]))
        if giveaway.message_id is None:
            try:
                message = await self._post_giveaway(giveaway)
            except PegasusError:
                await service.delete_unposted(giveaway.id)
                raise
            await service.attach_message(giveaway.id, message.id)
            giveaway = await service.get_giveaway(guild_id, giveaway.giveaway_id)
        return {
            "giveaway_id": giveaway.giveaway_id,
            "channel_id": str(giveaway.channel_id),
            "message_id": str(giveaway.message_id),
        }

    async def _post_giveaway(self, giveaway: GiveawayInfo) -> discord.Message:
        target = self._channel(giveaway.channel_id)
        if not isinstance(target, discord.TextChannel) or target.guild.id != giveaway.guild_id:
            raise ValidationError(_("Pick a text channel to post the giveaway in."))
        require_bot_can_post(target, embeds=True)
        try:
            return await target.send(
                embed=render.giveaway_embed(giveaway), view=giveaway_view(giveaway)
            )
        except discord.HTTPException as error:
            raise ValidationError(
                _("Discord refused the giveaway message: {reason}.").format(
                    reason=error.text or error.status
                )
            ) from error

    async def _run_refresh_job(self, guild_id: int, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A giveaway changed over the REST API (cancelled): its message shows it."""
        giveaway = await service.get_giveaway(guild_id, str(payload["giveaway_id"]))
        await self.refresh_message(giveaway.id)
        return {"giveaway_id": giveaway.giveaway_id, "status": giveaway.status.value}

    async def _run_end_job(self, guild_id: int, payload: Mapping[str, Any]) -> dict[str, Any]:
        ended = await service.end_now(
            guild_id,
            str(payload["giveaway_id"]),
            now=discord.utils.utcnow(),
            present_member_ids=self.present_members(guild_id),
            by=payload.get("actor_id"),
        )
        await self.finish(ended.id, retry_later=True)
        return {"giveaway_id": ended.giveaway_id, "winners": [str(w) for w in ended.winners]}

    async def _run_reroll_job(self, guild_id: int, payload: Mapping[str, Any]) -> dict[str, Any]:
        giveaway, record = await service.reroll(
            guild_id,
            str(payload["giveaway_id"]),
            count=int(payload["count"]),
            now=discord.utils.utcnow(),
            present_member_ids=self.present_members(guild_id),
            by=payload.get("actor_id"),
        )
        winners = list(record.winners)
        problem = await self._announce_reroll(giveaway, winners)
        if problem is not None:
            log.warning("Announcing reroll of %s failed: %s", giveaway.giveaway_id, problem)
        await self._tell_winners(giveaway, winners)
        return {
            "giveaway_id": giveaway.giveaway_id,
            "winners": [str(winner) for winner in winners],
            "announced": problem is None,
            "problem": problem,
        }

    def present_members(self, guild_id: int) -> Collection[int] | None:
        """Ids of the server's members, or None when the member list is not complete."""
        guild = self.bot.get_guild(guild_id)
        if guild is None or not guild.chunked:
            return None
        return {member.id for member in guild.members}

    # ----------------------------------------------------------------------------------------
    # Showing and announcing

    def _lock(self, giveaway_pk: int) -> asyncio.Lock:
        # One edit of a giveaway message at a time, each reading the state it shows under the
        # lock: a slow entry-count edit can never overwrite the "ended" message.
        return self._edit_locks.setdefault(giveaway_pk, asyncio.Lock())

    def _channel(self, channel_id: int) -> discord.abc.Messageable | None:
        channel = self.bot.get_channel(channel_id)
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def refresh_message(self, giveaway_pk: int) -> None:
        """Make the giveaway message show the current state (entries, status, winners)."""
        async with self._lock(giveaway_pk):
            giveaway = await service.giveaway_by_pk(giveaway_pk)
            if giveaway is None or giveaway.message_id is None:
                return
            channel = self._channel(giveaway.channel_id)
            if not isinstance(channel, discord.TextChannel | discord.Thread):
                return
            try:
                await channel.get_partial_message(giveaway.message_id).edit(
                    embed=render.giveaway_embed(giveaway), view=giveaway_view(giveaway)
                )
            except discord.NotFound:
                log.info("The message of giveaway %s was deleted", giveaway.giveaway_id)

    async def finish(self, giveaway_pk: int, *, retry_later: bool = False) -> bool:
        """Announce an ended giveaway unless someone already has; True if this call did.

        The claim is a lease (see service.claim_announcement): it is confirmed as soon as the
        announcement is posted, before the winners' DMs, which are best effort. If Discord
        refuses, the claim is released so the next attempt announces. The timer's own run
        raises, and the scheduler retries it with back-off; a command (`retry_later`) schedules
        a retry of the end timer instead, since nothing else would repeat it.
        """
        announcing = await run_flow(
            reserve=lambda: self._claim_announcement(giveaway_pk),
            act=lambda _claimed_at: self._announce_end(giveaway_pk),
            confirm=lambda _claimed_at, giveaway: self._confirm_announcement(giveaway_pk, giveaway),
            # Posting failed (or the task died): give the claim back for the next attempt.
            undo=lambda claimed_at, _error: service.release_announcement(
                giveaway_pk, claimed_at=claimed_at
            ),
            undo_on=(BaseException,),
        )
        if not announcing.reserved:
            return False
        error = announcing.error
        if error is not None:
            if not retry_later or not isinstance(error, discord.HTTPException):
                raise error
            log.warning(
                "Announcing giveaway %s failed (%s); retrying in %ss",
                giveaway_pk,
                error,
                ANNOUNCEMENT_RETRY_SECONDS,
            )
            await service.schedule_announcement_retry(
                giveaway_pk, now=discord.utils.utcnow(), due_in_seconds=ANNOUNCEMENT_RETRY_SECONDS
            )
            return False
        giveaway = announcing.confirmed
        if giveaway is not None:
            await self._tell_winners(giveaway, giveaway.winners)
        return True

    @staticmethod
    async def _claim_announcement(giveaway_pk: int) -> datetime | None:
        claimed_at = discord.utils.utcnow()
        return claimed_at if await service.claim_announcement(giveaway_pk, now=claimed_at) else None

    @staticmethod
    async def _confirm_announcement(
        giveaway_pk: int, giveaway: GiveawayInfo | None
    ) -> GiveawayInfo | None:
        await service.confirm_announcement(giveaway_pk, now=discord.utils.utcnow())
        return giveaway

    async def _announce_end(self, giveaway_pk: int) -> GiveawayInfo | None:
        """Show the result on the giveaway message and post the winners; the giveaway, or None
        if it was deleted. Raises discord.HTTPException when posting failed and may succeed
        later."""
        await self.refresh_message(giveaway_pk)
        giveaway = await service.giveaway_by_pk(giveaway_pk)
        if giveaway is None:
            return None
        try:
            if not await self._post_announcement(giveaway, giveaway.winners, reroll=False):
                log.warning(
                    "Giveaway %s ended but its channel %s is gone; nothing was announced",
                    giveaway.giveaway_id,
                    giveaway.channel_id,
                )
        except discord.Forbidden:
            # Retrying cannot help while the bot may not post there; the winners still get DMs.
            log.warning("No permission to announce giveaway %s", giveaway.giveaway_id)
        return giveaway

    async def _post_announcement(
        self, giveaway: GiveawayInfo, winners: Sequence[int], *, reroll: bool
    ) -> bool:
        """Mention the winners in the giveaway's channel; False if the channel is gone.

        Raises discord.HTTPException (discord.Forbidden included) when Discord refuses."""
        channel = self._channel(giveaway.channel_id)
        if channel is None:
            return False
        await channel.send(
            render.announcement(giveaway, winners, reroll=reroll),
            allowed_mentions=discord.AllowedMentions(users=True, roles=False, everyone=False),
        )
        return True

    async def _tell_winners(self, giveaway: GiveawayInfo, winners: Sequence[int]) -> None:
        guild = self.bot.get_guild(giveaway.guild_id)
        if guild is None:
            return
        jump_url = None
        if giveaway.message_id:
            jump_url = (
                f"https://discord.com/channels/{guild.id}/{giveaway.channel_id}/"
                f"{giveaway.message_id}"
            )
        for user_id in winners:
            member = guild.get_member(user_id)
            if member is None:
                continue
            try:
                await member.send(render.winner_dm(giveaway, guild.name, jump_url, user_id=user_id))
            except discord.HTTPException:
                # Best effort: members may have closed their DMs; the public mention stands.
                log.info("Could not DM giveaway winner %s", user_id)

    # ----------------------------------------------------------------------------------------
    # The Enter button and members leaving

    async def handle_enter(self, interaction: discord.Interaction, giveaway_pk: int) -> None:
        member = interaction.user
        if not isinstance(member, discord.Member):
            raise ValidationError(_("Giveaways work only inside a server."))
        if member.bot:
            raise ValidationError(_("Bots cannot enter giveaways."))
        result = await service.toggle_entry(
            giveaway_pk, entrant_of(member), now=discord.utils.utcnow()
        )
        await interaction.response.send_message(entry_reply(result), ephemeral=True)
        self.entry_count_refresher.touch(giveaway_pk)

    @commands.Cog.listener()
    async def on_member_data_erased(self, guild_id: int, _user_id: int) -> None:
        """The member's entries in running giveaways went with their data (/privacy delete):
        the posted messages show the new counts."""
        running = await service.list_giveaways(guild_id, GiveawayStatus.ACTIVE, limit=100)
        for giveaway in running:
            self.entry_count_refresher.touch(giveaway.id)

    @commands.Cog.listener()
    async def on_member_remove(self, member: discord.Member) -> None:
        changed = await service.withdraw_member(
            member.guild.id, member.id, now=discord.utils.utcnow()
        )
        for giveaway_pk in changed:
            self.entry_count_refresher.touch(giveaway_pk)

    # ----------------------------------------------------------------------------------------
    # Commands

    async def id_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        found = await service.suggest_giveaways(interaction.guild_id, current)
        return [
            app_commands.Choice(
                name=f"{g.giveaway_id} · {g.prize} ({render.status_name(g.status)})"[:100],
                value=g.giveaway_id,
            )
            for g in found
        ]

    @app_commands.command(name="start", description="Start a giveaway with an Enter button.")
    @app_commands.describe(
        prize="What the winners get",
        duration="How long entries stay open: 30m, 2h, 7d, 1h30m ...",
        winners="How many winners to draw (1-50)",
        channel="Where to post it (default: this channel)",
        description="More details shown on the giveaway",
        required_role="Only members with this role may enter",
        min_level="Only members at this level or higher may enter",
        min_account_age_days="Only Discord accounts at least this many days old may enter",
        min_server_age_days="Only members who joined this server at least this many days ago",
        bonus_role="Members with this role get bonus entries",
        bonus_entries="How many extra entries the bonus role gives (default 1)",
        booster_bonus="Extra entries for members who boost the server",
        starts_in="Open entries later instead of now: 10m, 1h, 1d ...",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def start(
        self,
        interaction: discord.Interaction,
        prize: app_commands.Range[str, 1, service.MAX_PRIZE_LENGTH],
        duration: str,
        winners: app_commands.Range[int, 1, service.MAX_WINNERS],
        channel: discord.TextChannel | None = None,
        description: app_commands.Range[str, 1, service.MAX_DESCRIPTION_LENGTH] | None = None,
        required_role: discord.Role | None = None,
        min_level: app_commands.Range[int, 1, service.MAX_LEVEL] | None = None,
        min_account_age_days: app_commands.Range[int, 1, service.MAX_AGE_DAYS] | None = None,
        min_server_age_days: app_commands.Range[int, 1, service.MAX_AGE_DAYS] | None = None,
        bonus_role: discord.Role | None = None,
        bonus_entries: app_commands.Range[int, 1, service.MAX_BONUS_ENTRIES] | None = None,
        booster_bonus: app_commands.Range[int, 1, service.MAX_BONUS_ENTRIES] | None = None,
        starts_in: str | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None  # guild_only
        target = channel or interaction.channel
        if not isinstance(target, discord.TextChannel):
            raise ValidationError(_("Pick a text channel to post the giveaway in."))
        require_bot_can_post(target, embeds=True)
        draft = service.GiveawayDraft(
            guild_id=guild.id,
            channel_id=target.id,
            host_id=interaction.user.id,
            prize=prize,
            winner_count=winners,
            duration_seconds=parse_duration(duration),
            description=description,
            starts_in_seconds=parse_duration(starts_in) if starts_in else 0,
            requirements=self._requirements(
                required_role, min_level, min_account_age_days, min_server_age_days
            ),
            bonus=self._bonus(bonus_role, bonus_entries, booster_bonus),
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        posting = await run_flow(
            reserve=lambda: service.create_giveaway(draft, now=discord.utils.utcnow()),
            act=lambda giveaway: target.send(
                embed=render.giveaway_embed(giveaway), view=giveaway_view(giveaway)
            ),
            confirm=self._attach_message,
            # Discord refused the post: the giveaway and its timers are removed.
            undo=lambda giveaway, _error: service.delete_unposted(giveaway.id),
            undo_on=(discord.HTTPException,),
        )
        message = posting.unwrap()
        giveaway = posting.reserved
        assert giveaway is not None
        if giveaway.status is GiveawayStatus.SCHEDULED:
            text = _(
                "Giveaway `{giveaway}` for **{prize}** is up in {channel}: {link}\n"
                "Entries open {opens} and close {closes}."
            )
        else:
            text = _(
                "Giveaway `{giveaway}` for **{prize}** is up in {channel}: {link}\n"
                "It ends {closes}."
            )
        await interaction.followup.send(
            text.format(
                giveaway=giveaway.giveaway_id,
                prize=giveaway.prize,
                channel=target.mention,
                link=message.jump_url,
                opens=timestamp(giveaway.starts_at),
                closes=timestamp(giveaway.ends_at),
            ),
            ephemeral=True,
        )

    @staticmethod
    async def _attach_message(giveaway: GiveawayInfo, message: discord.Message) -> discord.Message:
        await service.attach_message(giveaway.id, message.id)
        return message

    @staticmethod
    def _requirements(
        role: discord.Role | None,
        min_level: int | None,
        min_account_age_days: int | None,
        min_server_age_days: int | None,
    ) -> service.Requirements:
        if role is not None and role.is_default():
            raise ValidationError(_("Everyone has @everyone; pick another required role."))
        return service.Requirements(
            role_ids=(role.id,) if role is not None else (),
            min_level=min_level,
            min_account_age_days=min_account_age_days,
            min_server_age_days=min_server_age_days,
        )

    @staticmethod
    def _bonus(
        role: discord.Role | None, entries: int | None, booster: int | None
    ) -> service.BonusEntries:
        if entries is not None and role is None:
            raise ValidationError(_("Pick a `bonus_role` to go with `bonus_entries`."))
        if role is not None and role.is_default():
            raise ValidationError(_("Everyone has @everyone; pick another bonus role."))
        roles = ((role.id, entries or 1),) if role is not None else ()
        return service.BonusEntries(roles=roles, booster=booster or 0)

    @app_commands.command(name="end", description="End a giveaway now and draw its winners.")
    @app_commands.describe(id=ID_DESCRIPTION)
    @app_commands.autocomplete(id=id_autocomplete)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def end(self, interaction: discord.Interaction, id: str) -> None:
        guild_id = self._guild_id(interaction)
        giveaway = await service.get_giveaway(guild_id, id)
        if giveaway.status is not GiveawayStatus.ACTIVE:
            # Let the service say why (not started, already ended, cancelled).
            await self._end(interaction, giveaway)
            return

        async def end_now(answer: discord.Interaction) -> None:
            await self._end(answer, giveaway, edit=True)

        await confirm(
            interaction,
            ngettext(
                "End giveaway `{giveaway}` for **{prize}** now and draw {count} winner?",
                "End giveaway `{giveaway}` for **{prize}** now and draw {count} winners?",
                giveaway.winner_count,
            ).format(
                giveaway=giveaway.giveaway_id,
                prize=giveaway.prize,
                count=format_number(giveaway.winner_count),
            ),
            end_now,
            confirm_label=_("End giveaway"),
        )

    async def _end(
        self, interaction: discord.Interaction, giveaway: GiveawayInfo, *, edit: bool = False
    ) -> None:
        ended = await service.end_now(
            giveaway.guild_id,
            giveaway.giveaway_id,
            now=discord.utils.utcnow(),
            present_member_ids=self.present_members(giveaway.guild_id),
            by=interaction.user.id,
        )
        winners = user_mentions(ended.winners) or _("nobody (no valid entries)")
        await self._answer(
            interaction,
            _("Giveaway `{giveaway}` has ended. Winners: {winners}.").format(
                giveaway=ended.giveaway_id, winners=winners
            ),
            edit=edit,
        )
        await self.finish(ended.id, retry_later=True)

    @staticmethod
    async def _answer(interaction: discord.Interaction, content: str, *, edit: bool) -> None:
        if edit:
            await interaction.response.edit_message(content=content, view=None)
        else:
            await interaction.response.send_message(content, ephemeral=True)

    @app_commands.command(
        name="reroll", description="Draw new winners, never previous winners or members who left."
    )
    @app_commands.describe(id=ID_DESCRIPTION, count="How many new winners to draw (default 1)")
    @app_commands.autocomplete(id=id_autocomplete)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def reroll(
        self,
        interaction: discord.Interaction,
        id: str,
        count: app_commands.Range[int, 1, service.MAX_WINNERS] = 1,
    ) -> None:
        guild_id = self._guild_id(interaction)
        giveaway, record = await service.reroll(
            guild_id,
            id,
            count=count,
            now=discord.utils.utcnow(),
            present_member_ids=self.present_members(guild_id),
            by=interaction.user.id,
        )
        await interaction.response.send_message(
            _("Rerolled `{giveaway}`: {winners}.").format(
                giveaway=giveaway.giveaway_id, winners=user_mentions(record.winners)
            ),
            ephemeral=True,
        )
        winners = list(record.winners)
        problem = await self._announce_reroll(giveaway, winners)
        if problem is not None:
            # The draw is stored and the staff member has the names; say what did not happen.
            log.warning("Announcing reroll of %s failed: %s", giveaway.giveaway_id, problem)
            await interaction.followup.send(
                _(
                    "The new winners are drawn, but I could not announce them in "
                    "{channel} ({problem}). Please let them know."
                ).format(channel=f"<#{giveaway.channel_id}>", problem=problem),
                ephemeral=True,
            )
        # Winners hear of it by DM even where the bot cannot post (best effort).
        await self._tell_winners(giveaway, winners)

    async def _announce_reroll(self, giveaway: GiveawayInfo, winners: Sequence[int]) -> str | None:
        """Show the new winners on the giveaway message and post them; what went wrong, if
        anything, in words for staff."""
        try:
            await self.refresh_message(giveaway.id)
            if not await self._post_announcement(giveaway, winners, reroll=True):
                return _("the channel no longer exists")
        except discord.Forbidden as error:
            return _("I am not allowed to post there; Discord said: {reason}").format(
                reason=error.text or error.status
            )
        except discord.HTTPException as error:
            return _("Discord said: {reason}").format(reason=error.text or error.status)
        return None

    @app_commands.command(name="cancel", description="Cancel a giveaway without drawing winners.")
    @app_commands.describe(id=ID_DESCRIPTION)
    @app_commands.autocomplete(id=id_autocomplete)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def cancel(self, interaction: discord.Interaction, id: str) -> None:
        guild_id = self._guild_id(interaction)
        giveaway = await service.get_giveaway(guild_id, id)
        service.check_can_cancel(giveaway)

        async def cancel(answer: discord.Interaction) -> None:
            cancelled = await service.cancel_giveaway(
                guild_id, giveaway.giveaway_id, now=discord.utils.utcnow(), by=answer.user.id
            )
            await answer.response.edit_message(
                content=_("Giveaway `{giveaway}` was cancelled.").format(
                    giveaway=cancelled.giveaway_id
                ),
                view=None,
            )
            await self.refresh_message(cancelled.id)

        await confirm(
            interaction,
            _(
                "Cancel giveaway `{giveaway}` for **{prize}**? Nobody will win, and this cannot "
                "be undone."
            ).format(giveaway=giveaway.giveaway_id, prize=giveaway.prize),
            cancel,
            confirm_label=_("Cancel giveaway"),
        )

    @app_commands.command(name="list", description="List this server's giveaways, newest first.")
    @app_commands.describe(status="Only giveaways with this status")
    @app_commands.choices(status=STATUS_CHOICES)
    async def list_(
        self, interaction: discord.Interaction, status: app_commands.Choice[str] | None = None
    ) -> None:
        chosen = GiveawayStatus(status.value) if status is not None else None
        found = await service.list_giveaways(self._guild_id(interaction), chosen)
        await interaction.response.send_message(
            embed=render.list_embed(found, chosen), ephemeral=True
        )

    @app_commands.command(name="entries", description="Who entered a giveaway, with their weights.")
    @app_commands.describe(id=ID_DESCRIPTION)
    @app_commands.autocomplete(id=id_autocomplete)
    async def entries(self, interaction: discord.Interaction, id: str) -> None:
        giveaway, entries = await service.list_entries(self._guild_id(interaction), id)
        kwargs: dict[str, Any] = {"embed": render.entries_embed(giveaway, entries)}
        if entries:
            kwargs["file"] = render.entries_file(giveaway, entries)
        await interaction.response.send_message(ephemeral=True, **kwargs)

    @app_commands.command(
        name="verify", description="Recompute a giveaway's draw from its revealed seed."
    )
    @app_commands.describe(id=ID_DESCRIPTION)
    @app_commands.autocomplete(id=id_autocomplete)
    async def verify(self, interaction: discord.Interaction, id: str) -> None:
        result = await service.verify(self._guild_id(interaction), id)
        await interaction.response.send_message(
            embed=render.verification_embed(result), ephemeral=True
        )

    @staticmethod
    def _guild_id(interaction: discord.Interaction) -> int:
        if interaction.guild_id is None:
            raise ValidationError(_("Giveaways work only inside a server."))
        return interaction.guild_id
