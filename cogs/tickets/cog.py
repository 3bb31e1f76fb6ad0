"""Support tickets in Discord: `/ticket-panel ...`, `/ticket ...`, the persistent buttons, the
message recorder and the auto-close timer.

The rules live in pegasus.services.tickets; this module turns Discord objects into plain values,
decides who is staff (support roles, Manage Channels) and makes the channel match the ticket's
state (who can see it, who can write).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import discord
from discord import app_commands
from discord.ext import commands

from models.scheduling import ScheduledAction
from models.tickets import TicketStatus
from pegasus.bot import Pegasus
from pegasus.errors import (
    ConflictError,
    NotFoundError,
    PegasusError,
    PermissionDenied,
    ValidationError,
    channel_ref,
)
from pegasus.i18n import (
    N_,
    _,
    for_direct_message,
    for_guild,
    format_number,
    ngettext,
)
from pegasus.services import tickets as service
from pegasus.services.attachments import EvidenceOwner
from pegasus.services.tickets import SETTINGS, Actor, AutoCloseVerdict, TicketInfo
from pegasus.ui.checks import require_bot_can_post
from pegasus.ui.converters import Colour
from pegasus.ui.evidence import attachment_source
from pegasus.ui.flows import run_flow
from pegasus.ui.format import BLURPLE, clip
from pegasus.ui.roles import pingable_roles, remember_role_setup, require_can_delegate
from pegasus.ui.views import confirm
from pegasus.web.jobs import JobKind, job_executor

from . import render
from .views import (
    DYNAMIC_ITEMS,
    CommentModal,
    ReasonModal,
    panel_view,
    rating_view,
    ticket_controls,
)

log = logging.getLogger(__name__)

AUTO_CLOSE_HOURS = SETTINGS.bounds("auto_close_hours")
PANEL_DESCRIPTION = "The panel's id, e.g. TP-7K2QX (see /ticket-panel list)"
STYLE_CHOICES = [
    app_commands.Choice(name=style.value.capitalize(), value=style.value)
    for style in service.ButtonStyle
]

# What each kind of participant may do in a ticket channel. `send_messages` is decided by the
# ticket's state (locked, frozen) when the overwrites are built.
MEMBER_ACCESS = {
    "view_channel": True,
    "read_message_history": True,
    "attach_files": True,
    "embed_links": True,
}
BOT_ACCESS = {**MEMBER_ACCESS, "send_messages": True, "manage_messages": True}


def now() -> datetime:
    return discord.utils.utcnow()


class Tickets(commands.Cog):
    """Support tickets: panels with buttons, private channels, transcripts and ratings."""

    panel_group = app_commands.Group(
        name="ticket-panel",
        description="Set up ticket panels: the messages with buttons that open tickets.",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )
    ticket_group = app_commands.Group(
        name="ticket",
        description="Work in a support ticket: claim, close, lock, add members...",
        guild_only=True,
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot
        # Channel id → ticket id of every ticket that is not closed. The message listeners look
        # here first, so messages in other channels cost one dict lookup and no query.
        self.open_channels: dict[int, UUID] = {}

    async def cog_load(self) -> None:
        self.open_channels = await service.open_ticket_channels()
        self.bot.scheduler.register(service.AUTOCLOSE_KIND, self._on_autoclose_due)
        self.bot.scheduler.register(
            JobKind.TICKET_PANEL_SEND, job_executor(self._run_panel_send_job)
        )
        self.bot.scheduler.register(
            JobKind.TICKET_PANEL_REFRESH, job_executor(self._run_panel_refresh_job)
        )
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.bot.add_message_hook(self.on_message)

    async def cog_unload(self) -> None:
        self.bot.remove_message_hook(self.on_message)
        self.bot.scheduler.unregister(service.AUTOCLOSE_KIND)
        self.bot.scheduler.unregister(JobKind.TICKET_PANEL_SEND)
        self.bot.scheduler.unregister(JobKind.TICKET_PANEL_REFRESH)
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    # ----------------------------------------------------------------------------------------
    # Who is acting

    @staticmethod
    def actor(member: discord.abc.User, ticket: TicketInfo | None) -> Actor:
        """Staff: a support role of the ticket, or Manage Channels. Admin: Administrator or
        Manage Server (they may unclaim for others, and write in frozen tickets)."""
        if not isinstance(member, discord.Member):
            return Actor(member.id)
        perms = member.guild_permissions
        support = set(ticket.support_role_ids) if ticket is not None else set()
        return Actor(
            member.id,
            is_staff=perms.manage_channels or any(role.id in support for role in member.roles),
            is_admin=perms.administrator or perms.manage_guild,
        )

    @staticmethod
    def _guild(interaction: discord.Interaction) -> discord.Guild:
        if interaction.guild is None:
            raise ValidationError(_("This works only inside a server."))
        return interaction.guild

    async def _ticket_here(self, interaction: discord.Interaction) -> TicketInfo:
        guild = self._guild(interaction)
        return await service.ticket_in_channel(guild.id, interaction.channel_id or 0)

    # ----------------------------------------------------------------------------------------
    # Channel permissions

    def overwrites(
        self, guild: discord.Guild, ticket: TicketInfo
    ) -> dict[discord.Role | discord.Member | discord.Object, discord.PermissionOverwrite]:
        """@everyone cannot see the channel; the opener, added members, support roles and the
        bot can. Locked: only staff write. Frozen: only admins (who bypass overwrites) write."""
        members_write = ticket.status not in (TicketStatus.LOCKED, TicketStatus.FROZEN)
        staff_write = ticket.status is not TicketStatus.FROZEN
        result: dict[discord.Role | discord.Member | discord.Object, discord.PermissionOverwrite]
        result = {guild.default_role: discord.PermissionOverwrite(view_channel=False)}
        for role_id in ticket.support_role_ids:
            role = guild.get_role(role_id)
            if role is not None:
                result[role] = discord.PermissionOverwrite(
                    **MEMBER_ACCESS, send_messages=staff_write
                )
        for user_id in (ticket.user_id, *ticket.participant_ids):
            target = guild.get_member(user_id) or discord.Object(user_id, type=discord.Member)
            result[target] = discord.PermissionOverwrite(
                **MEMBER_ACCESS, send_messages=members_write
            )
        result[guild.me] = discord.PermissionOverwrite(**BOT_ACCESS)
        return result

    async def _apply_state(
        self,
        channel: discord.abc.GuildChannel,
        ticket: TicketInfo,
        revert: Callable[[], Awaitable[Any]],
    ) -> None:
        """Make the channel's overwrites match the ticket; if Discord refuses, undo the change in
        the database too, so the two never disagree, and let the refusal reach the member."""
        try:
            await channel.edit(overwrites=self.overwrites(channel.guild, ticket))
        except discord.HTTPException:
            await revert()
            raise

    def _text_channel(self, guild: discord.Guild, ticket: TicketInfo) -> discord.TextChannel | None:
        channel = guild.get_channel(ticket.channel_id) if ticket.channel_id else None
        return channel if isinstance(channel, discord.TextChannel) else None

    # ----------------------------------------------------------------------------------------
    # Opening: panel button → modal → channel

    async def ask_reason(
        self, interaction: discord.Interaction, panel_id: str, index: int, label: str | None
    ) -> None:
        guild = self._guild(interaction)
        # Refuse before the form when the member is at the limit (checked again on submit).
        button = await service.check_can_open(
            guild.id, panel_id, index, interaction.user.id, label=label
        )
        await interaction.response.send_modal(ReasonModal(self, panel_id, index, button.label))

    async def open_from_modal(
        self,
        interaction: discord.Interaction,
        panel_id: str,
        index: int,
        reason: str | None,
        *,
        label: str | None = None,
    ) -> None:
        guild = self._guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        opening = await run_flow(
            reserve=lambda: service.open_ticket(
                guild.id,
                panel_id,
                index,
                interaction.user.id,
                reason=reason,
                user_name=interaction.user.name,
                now=now(),
                label=label,
            ),
            act=lambda opened: self._create_channel(guild, opened),
            confirm=self._attach_channel,
            # Discord refused the channel: the ticket is forgotten (its number stays unused).
            undo=lambda opened, _error: service.abandon_ticket(opened.ticket.id),
            undo_on=(discord.HTTPException,),
        )
        ticket, channel = opening.unwrap()
        opened = opening.reserved
        assert opened is not None
        self.open_channels[channel.id] = ticket.id
        # Only roles anyone may mention, or whose configurer could mention them, are pinged.
        pinged = await pingable_roles(guild, opened.support_role_ids)
        pings = " ".join(
            [f"<@{ticket.user_id}>", *(f"<@&{role}>" for role in opened.support_role_ids)]
        )
        with for_guild(guild.id):  # the ticket's first post: for the opener and the staff
            await channel.send(
                pings,
                embed=render.welcome_embed(ticket, opened),
                view=ticket_controls(str(ticket.id)),
                allowed_mentions=discord.AllowedMentions(
                    users=[discord.Object(ticket.user_id)], roles=pinged
                ),
            )
        await interaction.followup.send(
            _("Your ticket {ticket} is open: {channel}").format(
                ticket=render.number(ticket), channel=channel.mention
            ),
            ephemeral=True,
        )

    @staticmethod
    async def _attach_channel(
        opened: service.OpenedTicket, channel: discord.TextChannel
    ) -> tuple[TicketInfo, discord.TextChannel]:
        return await service.attach_channel(opened.ticket.id, channel.id, now=now()), channel

    async def _create_channel(
        self, guild: discord.Guild, opened: service.OpenedTicket
    ) -> discord.TextChannel:
        category = guild.get_channel(opened.category_id) if opened.category_id else None
        ticket = render.number(opened.ticket)
        with for_guild(guild.id):
            topic = _("Ticket {ticket} opened by {member}").format(
                ticket=ticket, member=f"<@{opened.ticket.user_id}>"
            )
            reason = _("Ticket {ticket} opened").format(ticket=ticket)
        return await guild.create_text_channel(
            opened.channel_name,
            category=category if isinstance(category, discord.CategoryChannel) else None,
            overwrites=self.overwrites(guild, opened.ticket),
            topic=topic,
            reason=reason,
        )

    # ----------------------------------------------------------------------------------------
    # Claim and close buttons

    async def claim_from_button(self, interaction: discord.Interaction, ticket_id: str) -> None:
        ticket = await service.get_ticket(ticket_id)
        await self._claim(interaction, ticket)

    async def close_from_button(self, interaction: discord.Interaction, ticket_id: str) -> None:
        ticket = await service.get_ticket(ticket_id)
        await self._close_with_confirmation(interaction, ticket, reason=None)

    async def _claim(self, interaction: discord.Interaction, ticket: TicketInfo) -> None:
        actor = self.actor(interaction.user, ticket)
        await service.claim(ticket.id, actor, now=now())
        await interaction.response.send_message(
            _("🙋 {member} claimed this ticket and will help you.").format(
                member=interaction.user.mention
            ),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _close_with_confirmation(
        self, interaction: discord.Interaction, ticket: TicketInfo, *, reason: str | None
    ) -> None:
        actor = self.actor(interaction.user, ticket)
        # The service's close rule, asked before the prompt so nobody confirms for nothing.
        service.require_can_close(ticket, actor)

        async def close(answer: discord.Interaction) -> None:
            await answer.response.edit_message(content=_("Closing the ticket…"), view=None)
            await self.close_ticket(self._guild(interaction), ticket.id, actor, reason=reason)

        await confirm(
            interaction,
            _(
                "Close ticket {ticket}? The transcript is saved and sent to the opener, then this "
                "channel is deleted."
            ).format(ticket=render.number(ticket)),
            close,
            confirm_label=_("Close ticket"),
        )

    async def close_ticket(
        self,
        guild: discord.Guild,
        ticket_id: UUID,
        actor: Actor | None,
        *,
        reason: str | None,
        channel_gone: bool = False,
    ) -> bool:
        """Close: mark closed, write the transcript to the log channel, DM it to the opener,
        and only then delete the channel. If the transcript cannot be written, the ticket is
        open again, the channel stays, and staff are told why. True when it was closed.

        `channel_gone`: the channel was deleted by hand; there is nothing left to keep open, so
        the ticket stays closed even if posting the transcript fails (its messages are stored).
        """
        closing = await run_flow(
            reserve=lambda: self._mark_closed(ticket_id, actor, reason),
            act=lambda ticket: self._write_transcript(guild, ticket),
            undo=lambda ticket, error: self._transcript_failed(guild, ticket, error, channel_gone),
        )
        if not closing.ok:
            return channel_gone
        ticket, transcript = closing.reserved, closing.confirmed
        assert ticket is not None and transcript is not None
        channel = None if channel_gone else self._text_channel(guild, ticket)
        await self._dm_opener(guild, ticket, transcript)
        if channel is not None:
            with for_guild(guild.id):
                try:
                    await channel.delete(
                        reason=_("Ticket {ticket} closed").format(ticket=render.number(ticket))
                    )
                except discord.HTTPException:
                    log.warning("Could not delete the channel of ticket %s", ticket.id)
                    await channel.send(
                        _(
                            "⚠️ This ticket is closed and its transcript saved, but I could not "
                            "delete this channel: please delete it by hand."
                        )
                    )
        return True

    async def _mark_closed(
        self, ticket_id: UUID, actor: Actor | None, reason: str | None
    ) -> TicketInfo:
        ticket = await service.close(ticket_id, actor, reason=reason, now=now())
        if ticket.channel_id is not None:
            self.open_channels.pop(ticket.channel_id, None)
        return ticket

    async def _write_transcript(
        self, guild: discord.Guild, ticket: TicketInfo
    ) -> service.TranscriptFile:
        transcript = await self._transcript(guild, ticket)
        await self._post_to_log(guild, ticket, transcript)
        return transcript

    async def _transcript_failed(
        self, guild: discord.Guild, ticket: TicketInfo, error: BaseException, channel_gone: bool
    ) -> None:
        """The undo of a close: open again, unless the channel is gone (nothing to keep open;
        the stored messages are the record)."""
        if channel_gone:
            log.warning("Transcript of ticket %s not posted", ticket.id, exc_info=error)
            return
        await self._keep_open_after_failure(ticket, self._text_channel(guild, ticket), error)

    async def _transcript(self, guild: discord.Guild, ticket: TicketInfo) -> service.TranscriptFile:
        return await service.build_transcript(
            ticket, guild_name=guild.name, name_of=self._namer(guild), now=now()
        )

    @staticmethod
    def _namer(guild: discord.Guild) -> Callable[[int], str]:
        def name_of(user_id: int) -> str:
            member = guild.get_member(user_id)
            if member is None:
                return _("User {id}").format(id=user_id)
            return f"{member.display_name} ({member.name})"

        return name_of

    async def _log_channel(self, guild_id: int) -> tuple[int | None, discord.TextChannel | None]:
        """The transcript channel's id as configured, and the channel if it still exists."""
        settings = await service.get_settings(guild_id)
        guild = self.bot.get_guild(guild_id)
        if settings.log_channel_id is None or guild is None:
            return settings.log_channel_id, None
        channel = guild.get_channel(settings.log_channel_id)
        return settings.log_channel_id, channel if isinstance(
            channel, discord.TextChannel
        ) else None

    async def _post_to_log(
        self, guild: discord.Guild, ticket: TicketInfo, transcript: service.TranscriptFile
    ) -> None:
        configured, channel = await self._log_channel(guild.id)
        if configured is None:
            return  # no log channel: the stored messages and the opener's copy are the record
        if channel is None:
            raise NotFoundError(
                _("the transcript channel {channel} no longer exists"),
                channel=channel_ref(configured),
            )
        with for_guild(guild.id):
            embed = render.closed_embed(ticket, message_count=transcript.message_count)
        await channel.send(
            embed=embed,
            file=as_file(transcript),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _keep_open_after_failure(
        self, ticket: TicketInfo, channel: discord.TextChannel | None, error: BaseException
    ) -> None:
        expected = isinstance(error, discord.HTTPException | PegasusError)
        # Discord refusing is an operator's problem (told below); anything else is a bug.
        log.log(
            logging.WARNING if expected else logging.ERROR,
            "Transcript of ticket %s could not be written",
            ticket.id,
            exc_info=error,
        )
        reopened = await service.undo_close(ticket.id, now=now())
        if reopened.channel_id is not None:
            self.open_channels[reopened.channel_id] = reopened.id
        if channel is not None:
            with for_guild(ticket.guild_id):
                warning = _(
                    "⚠️ Staff: the transcript could not be written ({why}), so this ticket stays "
                    "open and nothing was deleted. Fix the transcript channel with "
                    "`/ticket-panel settings` and close the ticket again."
                ).format(why=_failure_reason(error))
            await channel.send(warning)

    async def _dm_opener(
        self, guild: discord.Guild, ticket: TicketInfo, transcript: service.TranscriptFile
    ) -> None:
        try:
            user = guild.get_member(ticket.user_id) or await self.bot.fetch_user(ticket.user_id)
            # A DM to the opener: their own language choice, else the server's.
            with for_direct_message(ticket.user_id, guild.id):
                prompt = render.rating_prompt(guild.name, ticket)
                embed = render.closed_embed(ticket, message_count=transcript.message_count)
            await user.send(
                prompt,
                embed=embed,
                file=as_file(transcript),
                view=rating_view(str(ticket.id)),
            )
        except discord.HTTPException:
            # Best effort: members may close their DMs; the log channel has the transcript.
            log.info("Could not DM the transcript of ticket %s to its opener", ticket.id)

    # ----------------------------------------------------------------------------------------
    # Ratings

    async def rate_from_button(
        self, interaction: discord.Interaction, ticket_id: str, stars: int
    ) -> None:
        ticket = await service.rate(ticket_id, interaction.user.id, stars, now=now())
        await interaction.response.send_modal(CommentModal(self, str(ticket.id), stars))
        with for_guild(ticket.guild_id):
            line = _("⭐ Ticket {ticket} was rated {stars} by {member}.").format(
                ticket=render.number(ticket),
                stars=render.stars(stars),
                member=f"<@{ticket.user_id}>",
            )
        await self._log(ticket, line)

    async def comment_from_modal(
        self, interaction: discord.Interaction, ticket_id: str, comment: str | None
    ) -> None:
        ticket = await service.comment_rating(ticket_id, interaction.user.id, comment, now=now())
        rating = ticket.rating or 0
        thanks = (
            _("Thank you! You rated ticket {ticket} {stars} and left a comment.")
            if ticket.rating_comment
            else _("Thank you! You rated ticket {ticket} {stars}.")
        )
        await interaction.response.send_message(
            thanks.format(ticket=render.number(ticket), stars=render.stars(rating)),
            ephemeral=True,
        )
        if ticket.rating_comment:
            with for_guild(ticket.guild_id):
                line = _(
                    "💬 {member} commented on their {stars} rating of ticket {ticket}:"
                ).format(
                    member=f"<@{ticket.user_id}>",
                    stars=render.stars(rating),
                    ticket=render.number(ticket),
                )
            await self._log(ticket, f"{line}\n> {ticket.rating_comment}")

    async def _log(self, ticket: TicketInfo, text: str) -> None:
        """A line in the guild's transcript channel, if it has one (best effort)."""
        _configured, channel = await self._log_channel(ticket.guild_id)
        if channel is None:
            return
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            log.info("Could not post to the transcript channel of guild %s", ticket.guild_id)

    # ----------------------------------------------------------------------------------------
    # Auto-close and channels deleted by hand

    async def _on_autoclose_due(self, action: ScheduledAction) -> None:
        ticket_id = action.payload["ticket_id"]
        check = await service.check_autoclose(ticket_id, now=now())
        if check.verdict is not AutoCloseVerdict.CLOSE:
            return
        ticket = await service.get_ticket(ticket_id)
        guild = self.bot.get_guild(ticket.guild_id)
        if guild is None:
            # The server is unavailable right now: fail so the scheduler retries later.
            # Not shown to anyone (the scheduler logs it and retries): not translated.
            unavailable = RuntimeError(
                f"guild {ticket.guild_id} of ticket {ticket_id} is unavailable"
            )
            raise unavailable
        hours = check.hours or 0
        with for_guild(guild.id):  # stored as the close reason, read by the server's staff
            reason = ngettext(
                "No messages for {count} hour.", "No messages for {count} hours.", hours
            ).format(count=format_number(hours))
        try:
            await self.close_ticket(guild, ticket.id, None, reason=reason)
        except ConflictError:
            return  # closed by someone in the meantime: nothing left to do

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        ticket_id = self.open_channels.pop(channel.id, None)
        if ticket_id is None:
            return
        # Deleted by hand: still close the ticket and keep its transcript.
        with for_guild(channel.guild.id):
            reason = _("The channel was deleted.")
        try:
            await self.close_ticket(
                channel.guild, ticket_id, None, reason=reason, channel_gone=True
            )
        except ConflictError:
            return  # it was being closed already

    # ----------------------------------------------------------------------------------------
    # Recording messages

    async def on_message(self, message: discord.Message) -> None:
        """A message hook (see Pegasus.add_message_hook)."""
        ticket_id = self.open_channels.get(message.channel.id)
        if ticket_id is not None:
            await service.record_message(ticket_id, message_record(message))
            if message.attachments and message.guild is not None:
                await self._keep_attachments(message.guild, message)

    async def _keep_attachments(self, guild: discord.Guild, message: discord.Message) -> None:
        """Copy the message's files into the attachment store, since Discord's links expire; a
        file that could not be kept is said in the ticket, so nobody counts on it."""
        with for_guild(guild.id):  # the notes are said in the ticket and kept for its transcript
            kept = await self.bot.attachment_keeper.keep(
                guild.id,
                [attachment_source(attachment) for attachment in message.attachments],
                [EvidenceOwner(ticket_message_id=message.id)],
            )
        notes = [file.note for file in kept if file.note]
        if not notes:
            return
        try:
            await message.channel.send(
                "\n".join(f"⚠️ {discord.utils.escape_markdown(note)}" for note in notes),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException:
            # The note is on the record too: the transcript shows it beside the file's name.
            log.info("Could not tell ticket channel %s a file was not kept", message.channel.id)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        ticket_id = self.open_channels.get(payload.channel_id)
        if ticket_id is None or "content" not in payload.data:
            return
        before = payload.cached_message.content if payload.cached_message else None
        await service.record_edit(
            ticket_id,
            message_record(payload.message),
            previous_content=before,
            edited_at=payload.message.edited_at or now(),
        )

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        ticket_id = self.open_channels.get(payload.channel_id)
        if ticket_id is not None:
            cached = [payload.cached_message] if payload.cached_message else []
            await service.record_deletions(
                ticket_id,
                [payload.message_id],
                deleted_at=now(),
                known=[message_record(m) for m in cached],
            )

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        ticket_id = self.open_channels.get(payload.channel_id)
        if ticket_id is not None:
            await service.record_deletions(
                ticket_id,
                list(payload.message_ids),
                deleted_at=now(),
                known=[message_record(m) for m in payload.cached_messages],
            )

    # ----------------------------------------------------------------------------------------
    # /ticket-panel

    async def panel_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        typed = current.strip().lower()
        return [
            app_commands.Choice(name=f"{p.panel_id} · {p.title}"[:100], value=p.panel_id)
            for p in await service.list_panels(interaction.guild_id)
            if typed in p.panel_id.lower() or typed in p.title.lower()
        ][:25]

    @panel_group.command(name="create", description="Create a ticket panel (add buttons next).")
    @app_commands.describe(
        title="The panel's title",
        description="The text above the buttons",
        support_role="The staff role that sees and handles these tickets",
        category="The category new ticket channels go in",
        max_per_user="How many open tickets one member may have from this panel (default 1)",
        color="The embed colour: #5865F2, 5865F2 or a name such as blue",
    )
    async def panel_create(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 256],
        description: app_commands.Range[str, 1, 4000],
        support_role: discord.Role | None = None,
        category: discord.CategoryChannel | None = None,
        max_per_user: app_commands.Range[int, 1, service.MAX_TICKETS_PER_USER] = 1,
        color: Colour | None = None,
    ) -> None:
        guild = self._guild(interaction)
        self._require_can_delegate(interaction, support_role)
        panel = await service.create_panel(
            guild.id,
            actor_id=interaction.user.id,
            title=title,
            description=description,
            support_role_ids=[support_role.id] if support_role else [],
            category_id=category.id if category else None,
            max_tickets_per_user=max_per_user,
            color=color,
        )
        await self._remember_support_role(interaction, support_role)
        await interaction.response.send_message(
            _(
                "Panel `{panel}` created. Add up to {count} buttons with "
                "`/ticket-panel button panel:{panel}`, then post it with "
                "`/ticket-panel send panel:{panel}`."
            ).format(panel=panel.panel_id, count=format_number(service.MAX_BUTTONS)),
            ephemeral=True,
        )

    @panel_group.command(name="button", description="Add a button (a ticket type) to a panel.")
    @app_commands.describe(
        panel=PANEL_DESCRIPTION,
        label="The button's text, e.g. Billing",
        style="The button's colour",
        emoji="An emoji shown on the button",
        category="The category for this type's channels (default: the panel's)",
        support_role="The staff role for this type (default: the panel's)",
        welcome_message="The first message in the ticket; {user} mentions the opener",
        name_format="The channel name; {number} and {user} are filled in (default ticket-{number})",
    )
    @app_commands.choices(style=STYLE_CHOICES)
    @app_commands.autocomplete(panel=panel_autocomplete)
    async def panel_button(
        self,
        interaction: discord.Interaction,
        panel: str,
        label: app_commands.Range[str, 1, 80],
        style: str = service.ButtonStyle.PRIMARY.value,
        emoji: str | None = None,
        category: discord.CategoryChannel | None = None,
        support_role: discord.Role | None = None,
        welcome_message: app_commands.Range[str, 1, 2000] | None = None,
        name_format: app_commands.Range[str, 1, 90] = service.DEFAULT_NAME_FORMAT,
    ) -> None:
        guild = self._guild(interaction)
        self._require_can_delegate(interaction, support_role)
        updated = await service.add_button(
            guild.id,
            panel,
            actor_id=interaction.user.id,
            label=label,
            style=service.ButtonStyle(style),
            emoji=emoji,
            category_id=category.id if category else None,
            support_role_ids=[support_role.id] if support_role else [],
            name_format=name_format,
            welcome_message=welcome_message,
        )
        await self._remember_support_role(interaction, support_role)
        refreshed = await self._refresh_panel_message(guild, updated)
        added = _("Button **{label}** added to `{panel}` ({count}/{maximum}).").format(
            label=label,
            panel=updated.panel_id,
            count=format_number(len(updated.buttons)),
            maximum=format_number(service.MAX_BUTTONS),
        )
        if refreshed:
            added += " " + _("The posted panel was updated.")
        await interaction.response.send_message(added, ephemeral=True)

    @panel_group.command(name="send", description="Post a panel so members can open tickets.")
    @app_commands.describe(panel=PANEL_DESCRIPTION, channel="Where to post it (default: here)")
    @app_commands.autocomplete(panel=panel_autocomplete)
    async def panel_send(
        self,
        interaction: discord.Interaction,
        panel: str,
        channel: discord.TextChannel | None = None,
    ) -> None:
        guild = self._guild(interaction)
        found = await service.get_panel(guild.id, panel)
        buttons = service.panel_buttons(found)
        if not buttons:
            raise ValidationError(
                _(
                    "Panel `{panel}` has no buttons yet: add one with `/ticket-panel button`."
                ).format(panel=found.panel_id)
            )
        target = channel or interaction.channel
        if not isinstance(target, discord.TextChannel):
            raise ValidationError(_("Pick a text channel to post the panel in."))
        message = await self._post_panel(guild, found, target)
        await interaction.response.send_message(
            _("Panel `{panel}` posted in {channel}: {link}").format(
                panel=found.panel_id, channel=target.mention, link=message.jump_url
            ),
            ephemeral=True,
        )

    async def _post_panel(
        self, guild: discord.Guild, panel: Any, target: discord.TextChannel
    ) -> discord.Message:
        """Post `panel` in `target` and remember where, so edits refresh it."""
        require_bot_can_post(target, embeds=True)
        with for_guild(guild.id):  # the panel is for everyone
            embed = render.panel_embed(panel)
        message = await target.send(
            embed=embed,
            view=panel_view(panel.panel_id, service.panel_buttons(panel)),
        )
        await service.record_panel_message(guild.id, panel.panel_id, target.id, message.id)
        return message

    async def _run_panel_send_job(
        self, guild_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The queued `/ticket-panel send` of the REST API."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            raise NotFoundError(_("I am not in that server."))
        found = await service.get_panel(guild_id, str(payload["panel_id"]))
        if not service.panel_buttons(found):
            raise ValidationError(
                _("Panel `{panel}` has no buttons yet: add one first.").format(panel=found.panel_id)
            )
        target = guild.get_channel(int(payload["channel_id"]))
        if not isinstance(target, discord.TextChannel):
            raise ValidationError(_("Pick a text channel of this server to post the panel in."))
        message = await self._post_panel(guild, found, target)
        return {
            "panel_id": found.panel_id,
            "channel_id": str(target.id),
            "message_id": str(message.id),
        }

    async def _run_panel_refresh_job(
        self, guild_id: int, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A panel changed or deleted over the REST API: its posted copy follows, as it does
        after /ticket-panel edit, button and delete."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            raise NotFoundError(_("I am not in that server."))
        if payload.get("deleted"):
            removed = await self._delete_posted_panel(
                guild, int(payload["channel_id"]), int(payload["message_id"])
            )
            return {"panel_id": payload["panel_id"], "removed": removed}
        try:
            panel = await service.get_panel(guild_id, str(payload["panel_id"]))
        except NotFoundError:
            # Deleted since this refresh was queued (changes in quick succession): the
            # deletion's own job removes the posted copy, so nothing is left to refresh.
            return {"panel_id": payload["panel_id"], "refreshed": False}
        refreshed = await self._refresh_panel_message(guild, panel)
        return {"panel_id": panel.panel_id, "refreshed": refreshed}

    @staticmethod
    async def _delete_posted_panel(guild: discord.Guild, channel_id: int, message_id: int) -> bool:
        channel = guild.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            return False
        try:
            await channel.get_partial_message(message_id).delete()
        except discord.HTTPException:
            log.info("The posted panel in %s was already gone", channel_id)
            return False
        return True

    @panel_group.command(name="edit", description="Change a panel; the posted panel follows.")
    @app_commands.describe(
        panel=PANEL_DESCRIPTION,
        title="A new title",
        description="A new text above the buttons",
        color="A new embed colour: #5865F2, 5865F2 or a name such as blue",
        support_role="The staff role for buttons without their own",
        category="The category for buttons without their own",
        max_per_user="How many open tickets one member may have from this panel",
        active="Whether members can open tickets from it now",
        remove_button="The position (1-5) of a button to remove",
    )
    @app_commands.autocomplete(panel=panel_autocomplete)
    async def panel_edit(
        self,
        interaction: discord.Interaction,
        panel: str,
        title: app_commands.Range[str, 1, 256] | None = None,
        description: app_commands.Range[str, 1, 4000] | None = None,
        color: Colour | None = None,
        support_role: discord.Role | None = None,
        category: discord.CategoryChannel | None = None,
        max_per_user: app_commands.Range[int, 1, service.MAX_TICKETS_PER_USER] | None = None,
        active: bool | None = None,
        remove_button: app_commands.Range[int, 1, service.MAX_BUTTONS] | None = None,
    ) -> None:
        guild = self._guild(interaction)
        self._require_can_delegate(interaction, support_role)
        updated = await service.edit_panel(
            guild.id,
            panel,
            actor_id=interaction.user.id,
            title=title,
            description=description,
            color=color,
            support_role_ids=[support_role.id] if support_role else None,
            category_id=category.id if category else None,
            max_tickets_per_user=max_per_user,
            is_active=active,
            remove_button=remove_button,
        )
        await self._remember_support_role(interaction, support_role)
        refreshed = await self._refresh_panel_message(guild, updated)
        done = _("Panel `{panel}` updated.").format(panel=updated.panel_id)
        if refreshed:
            done += " " + _("The posted panel shows the change.")
        await interaction.response.send_message(done, ephemeral=True)

    @staticmethod
    def _require_can_delegate(
        interaction: discord.Interaction, support_role: discord.Role | None
    ) -> None:
        """A support role sees and handles tickets: only one the invoker could give."""
        if support_role is not None:
            assert isinstance(interaction.user, discord.Member)
            require_can_delegate(support_role, interaction.user)

    @staticmethod
    async def _remember_support_role(
        interaction: discord.Interaction, support_role: discord.Role | None
    ) -> None:
        if support_role is not None:
            assert isinstance(interaction.user, discord.Member)
            await remember_role_setup(support_role, interaction.user)

    async def _refresh_panel_message(self, guild: discord.Guild, panel: Any) -> bool:
        if panel.channel_id is None or panel.message_id is None:
            return False
        channel = guild.get_channel(panel.channel_id)
        if not isinstance(channel, discord.TextChannel):
            return False
        with for_guild(guild.id):  # the panel is for everyone
            embed = render.panel_embed(panel)
        try:
            await channel.get_partial_message(panel.message_id).edit(
                embed=embed,
                view=panel_view(panel.panel_id, service.panel_buttons(panel)),
            )
        except discord.HTTPException:
            log.info("Could not refresh the posted panel %s", panel.panel_id)
            return False
        return True

    @panel_group.command(name="list", description="List this server's ticket panels.")
    async def panel_list(self, interaction: discord.Interaction) -> None:
        guild = self._guild(interaction)
        panels = await service.list_panels(guild.id)
        if not panels:
            await interaction.response.send_message(
                _("No ticket panels yet: create one with `/ticket-panel create`."), ephemeral=True
            )
            return
        embed = discord.Embed(
            title=_("Ticket panels"),
            description=clip("\n\n".join(render.panel_summary(p) for p in panels), 4000),
            colour=BLURPLE,
        )
        settings = await service.get_settings(guild.id)
        log_channel = f"<#{settings.log_channel_id}>" if settings.log_channel_id else _("not set")
        auto_close = (
            _("after {hours} h without messages").format(
                hours=format_number(settings.auto_close_hours)
            )
            if settings.auto_close_hours
            # Translators: auto-close is turned off.
            else _("off")
        )
        embed.set_footer(text=_("Change these with /ticket-panel settings"))
        embed.add_field(name=_("Transcripts"), value=log_channel, inline=True)
        embed.add_field(name=_("Auto-close"), value=auto_close, inline=True)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @panel_group.command(name="delete", description="Delete a panel and its posted message.")
    @app_commands.describe(panel=PANEL_DESCRIPTION)
    @app_commands.autocomplete(panel=panel_autocomplete)
    async def panel_delete(self, interaction: discord.Interaction, panel: str) -> None:
        guild = self._guild(interaction)
        found = await service.get_panel(guild.id, panel)

        async def delete(answer: discord.Interaction) -> None:
            deleted = await service.delete_panel(
                guild.id, found.panel_id, actor_id=interaction.user.id
            )
            if deleted.channel_id and deleted.message_id:
                await self._delete_posted_panel(guild, deleted.channel_id, deleted.message_id)
            await answer.response.edit_message(
                content=_("Panel `{panel}` deleted.").format(panel=deleted.panel_id), view=None
            )

        await confirm(
            interaction,
            _(
                "Delete panel `{panel}` (**{title}**)? Its buttons stop working; existing "
                "tickets stay."
            ).format(panel=found.panel_id, title=found.title),
            delete,
            confirm_label=_("Delete panel"),
        )

    @panel_group.command(
        name="settings", description="Where transcripts go, and auto-close for quiet tickets."
    )
    @app_commands.describe(
        log_channel=SETTINGS["log_channel_id"].help,
        **SETTINGS.help_for("auto_close_hours"),
        clear_log_channel="Stop posting transcripts to a channel",
    )
    async def panel_settings(
        self,
        interaction: discord.Interaction,
        log_channel: discord.TextChannel | None = None,
        auto_close_hours: app_commands.Range[int, AUTO_CLOSE_HOURS[0], AUTO_CLOSE_HOURS[1]]
        | None = None,
        clear_log_channel: bool = False,
    ) -> None:
        guild = self._guild(interaction)
        if log_channel is not None:
            # Translators: what the bot posts, as in "I can't post transcripts in #logs".
            require_bot_can_post(log_channel, what=_("transcripts"), files=True)
        settings = await service.configure(
            guild.id,
            actor_id=interaction.user.id,
            log_channel_id=log_channel.id if log_channel else None,
            clear_log_channel=clear_log_channel,
            auto_close_hours=auto_close_hours,
        )
        where = f"<#{settings.log_channel_id}>" if settings.log_channel_id else _("not posted")
        hours = settings.auto_close_hours
        quiet = (
            ngettext(
                "closed after {count} hour without messages",
                "closed after {count} hours without messages",
                hours,
            ).format(count=format_number(hours))
            if hours
            else _("never closed automatically")
        )
        await interaction.response.send_message(
            _("Transcripts: {where}. Quiet tickets: {quiet}.").format(where=where, quiet=quiet),
            ephemeral=True,
        )

    # ----------------------------------------------------------------------------------------
    # /ticket: inside a ticket

    @ticket_group.command(name="claim", description="Take this ticket: you will handle it.")
    async def ticket_claim(self, interaction: discord.Interaction) -> None:
        await self._claim(interaction, await self._ticket_here(interaction))

    @ticket_group.command(name="unclaim", description="Give this ticket back to the team.")
    async def ticket_unclaim(self, interaction: discord.Interaction) -> None:
        ticket = await self._ticket_here(interaction)
        await service.unclaim(ticket.id, self.actor(interaction.user, ticket), now=now())
        await interaction.response.send_message(
            _("{member} unclaimed this ticket: any staff member can take it.").format(
                member=interaction.user.mention
            ),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @ticket_group.command(name="close", description="Close this ticket (asks to confirm).")
    @app_commands.describe(reason="Why it is closed; shown in the transcript")
    async def ticket_close(
        self,
        interaction: discord.Interaction,
        reason: app_commands.Range[str, 1, service.MAX_REASON] | None = None,
    ) -> None:
        ticket = await self._ticket_here(interaction)
        await self._close_with_confirmation(interaction, ticket, reason=reason)

    async def _state_change(
        self,
        interaction: discord.Interaction,
        change: Callable[..., Awaitable[TicketInfo]],
        undo: Callable[..., Awaitable[TicketInfo]],
        announcement: str,
    ) -> None:
        ticket = await self._ticket_here(interaction)
        actor = self.actor(interaction.user, ticket)
        changed = await change(ticket.id, actor, now=now())
        channel = self._text_channel(self._guild(interaction), changed)
        if channel is not None:
            # Undo as an admin: the undo is ours, not a decision of the person acting.
            system = Actor(actor.user_id, is_staff=True, is_admin=True)
            await self._apply_state(channel, changed, lambda: undo(ticket.id, system, now=now()))
        await interaction.response.send_message(
            _(announcement).format(user=interaction.user.mention),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @ticket_group.command(name="lock", description="Only staff can write in this ticket.")
    async def ticket_lock(self, interaction: discord.Interaction) -> None:
        await self._state_change(
            interaction,
            service.lock,
            service.unlock,
            N_("🔒 {user} locked this ticket: only staff can write now."),
        )

    @ticket_group.command(name="unlock", description="Let everyone in this ticket write again.")
    async def ticket_unlock(self, interaction: discord.Interaction) -> None:
        await self._state_change(
            interaction,
            service.unlock,
            service.lock,
            N_("🔓 {user} unlocked this ticket: everyone in it can write again."),
        )

    @ticket_group.command(name="freeze", description="Nobody but admins can write in this ticket.")
    async def ticket_freeze(self, interaction: discord.Interaction) -> None:
        await self._state_change(
            interaction,
            service.freeze,
            service.unfreeze,
            N_("🧊 {user} froze this ticket: only admins can write now."),
        )

    @ticket_group.command(name="unfreeze", description="Let this ticket's members write again.")
    async def ticket_unfreeze(self, interaction: discord.Interaction) -> None:
        await self._state_change(
            interaction,
            service.unfreeze,
            service.freeze,
            N_("💧 {user} unfroze this ticket."),
        )

    @ticket_group.command(name="add", description="Let a member see and write in this ticket.")
    @app_commands.describe(member="The member to add")
    async def ticket_add(self, interaction: discord.Interaction, member: discord.Member) -> None:
        if member.bot:
            raise ValidationError(_("Bots cannot be added to tickets."))
        ticket = await self._ticket_here(interaction)
        actor = self.actor(interaction.user, ticket)
        changed = await service.add_participant(ticket.id, actor, member.id, now=now())
        channel = self._text_channel(self._guild(interaction), changed)
        if channel is not None:
            await self._apply_state(
                channel,
                changed,
                lambda: service.remove_participant(ticket.id, actor, member.id, now=now()),
            )
        await interaction.response.send_message(
            _("➕ {member} was added to this ticket by {staff}.").format(
                member=member.mention, staff=interaction.user.mention
            ),
            allowed_mentions=discord.AllowedMentions(users=[member]),
        )

    @ticket_group.command(name="remove", description="Take a member out of this ticket.")
    @app_commands.describe(member="The member to remove")
    async def ticket_remove(self, interaction: discord.Interaction, member: discord.Member) -> None:
        ticket = await self._ticket_here(interaction)
        actor = self.actor(interaction.user, ticket)
        changed = await service.remove_participant(ticket.id, actor, member.id, now=now())
        channel = self._text_channel(self._guild(interaction), changed)
        if channel is not None:
            await self._apply_state(
                channel,
                changed,
                lambda: service.add_participant(ticket.id, actor, member.id, now=now()),
            )
        await interaction.response.send_message(
            _("➖ {member} was removed from this ticket by {staff}.").format(
                member=member.mention, staff=interaction.user.mention
            ),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @ticket_group.command(name="rename", description="Rename this ticket's channel.")
    @app_commands.describe(name="The new channel name, e.g. billing-refund")
    async def ticket_rename(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]
    ) -> None:
        ticket = await self._ticket_here(interaction)
        _ticket, cleaned = await service.rename(
            ticket.id, self.actor(interaction.user, ticket), name
        )
        channel = self._text_channel(self._guild(interaction), ticket)
        if channel is None:
            raise NotFoundError(_("This ticket's channel is gone."))
        with for_guild(channel.guild.id):  # the audit log is read by the server's staff
            audit_reason = _("Renamed by {member}").format(member=interaction.user)
        await channel.edit(name=cleaned, reason=audit_reason)
        await interaction.response.send_message(
            _("✏️ {member} renamed this ticket to **{name}**.").format(
                member=interaction.user.mention, name=cleaned
            ),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @ticket_group.command(name="reopen", description="Reopen a closed ticket in a new channel.")
    @app_commands.describe(number="The ticket's number, e.g. 12 for ticket-0012")
    async def ticket_reopen(
        self, interaction: discord.Interaction, number: app_commands.Range[int, 1]
    ) -> None:
        guild = self._guild(interaction)
        ticket = await service.ticket_by_number(guild.id, number)
        actor = self.actor(interaction.user, ticket)
        await interaction.response.defer(ephemeral=True, thinking=True)
        reopening = await run_flow(
            reserve=lambda: service.reopen(ticket.id, actor, now=now()),
            act=lambda reopened: self._reopened_channel(guild, reopened, interaction.user),
            confirm=self._attach_reopened,
            # Discord refused the channel: the ticket is closed again, as it was.
            undo=lambda _reopened, _error: service.undo_reopen(ticket.id, ticket, now=now()),
            undo_on=(discord.HTTPException,),
        )
        reopened, channel = reopening.unwrap()
        self.open_channels[channel.id] = reopened.id
        with for_guild(guild.id):  # a post in the ticket, for the opener and the staff
            await channel.send(
                _("{member} ticket {ticket} was reopened by {staff}.").format(
                    member=f"<@{reopened.user_id}>",
                    ticket=render.number(reopened),
                    staff=interaction.user.mention,
                ),
                view=ticket_controls(str(reopened.id)),
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(reopened.user_id)]),
            )
        await interaction.followup.send(
            _("Ticket {ticket} is open again: {channel}").format(
                ticket=render.number(reopened), channel=channel.mention
            ),
            ephemeral=True,
        )

    async def _reopened_channel(
        self, guild: discord.Guild, reopened: TicketInfo, by: discord.abc.User
    ) -> discord.TextChannel:
        """The reopened ticket's channel: the old one if it is still there, else a new one."""
        channel = self._text_channel(guild, reopened)
        if channel is not None:
            await channel.edit(overwrites=self.overwrites(guild, reopened))
            return channel
        opener = guild.get_member(reopened.user_id)
        name = await service.reopened_channel_name(
            reopened, opener.name if opener else str(reopened.user_id)
        )
        with for_guild(guild.id):
            topic = _("Ticket {ticket} (reopened)").format(ticket=render.number(reopened))
            reason = _("Ticket {ticket} reopened by {member}").format(
                ticket=render.number(reopened), member=by
            )
        return await guild.create_text_channel(
            name, overwrites=self.overwrites(guild, reopened), topic=topic, reason=reason
        )

    @staticmethod
    async def _attach_reopened(
        reopened: TicketInfo, channel: discord.TextChannel
    ) -> tuple[TicketInfo, discord.TextChannel]:
        if reopened.channel_id == channel.id:
            return reopened, channel
        return await service.attach_channel(reopened.id, channel.id, now=now()), channel

    @ticket_group.command(name="transcript", description="Get a ticket's transcript as a file.")
    @app_commands.describe(number="A ticket's number (default: the ticket you are in)")
    async def ticket_transcript(
        self, interaction: discord.Interaction, number: app_commands.Range[int, 1] | None = None
    ) -> None:
        guild = self._guild(interaction)
        ticket = (
            await service.ticket_by_number(guild.id, number)
            if number is not None
            else await self._ticket_here(interaction)
        )
        if not service.can_read_transcript(ticket, self.actor(interaction.user, ticket)):
            raise PermissionDenied(
                _("Only the member who opened this ticket or its staff can read it.")
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        transcript = await self._transcript(guild, ticket)
        count = transcript.message_count
        await interaction.followup.send(
            ngettext(
                "Transcript of ticket {ticket} ({count} message).",
                "Transcript of ticket {ticket} ({count} messages).",
                count,
            ).format(ticket=render.number(ticket), count=format_number(count)),
            file=as_file(transcript),
            ephemeral=True,
        )

    @ticket_group.command(
        name="stats", description="Tickets handled, average rating, median first response."
    )
    @app_commands.describe(member="A staff member (default: the whole server)")
    async def ticket_stats(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        guild = self._guild(interaction)
        await self._require_staff_anywhere(interaction, guild)
        stats = await service.stats(guild.id, staff_id=member.id if member else None)
        await interaction.response.send_message(
            embed=render.stats_embed(stats, who=member.display_name if member else None),
            ephemeral=True,
        )

    async def _require_staff_anywhere(
        self, interaction: discord.Interaction, guild: discord.Guild
    ) -> None:
        member = interaction.user
        if not isinstance(member, discord.Member):
            raise ValidationError(_("This works only inside a server."))
        perms = member.guild_permissions
        if perms.manage_channels or perms.manage_guild or perms.administrator:
            return
        support = await service.support_role_ids(guild.id)
        if not any(role.id in support for role in member.roles):
            raise PermissionDenied(_("Only ticket staff can see ticket statistics."))


def message_record(message: discord.Message) -> service.MessageRecord:
    author = message.author
    return service.MessageRecord(
        message_id=message.id,
        author_id=author.id,
        author_name=author.display_name,
        author_is_bot=author.bot,
        content=message.content,
        created_at=message.created_at,
        attachments=[{"name": a.filename, "url": a.url} for a in message.attachments],
        embeds=[
            {"title": e.title or "", "description": e.description or ""}
            for e in message.embeds
            if e.title or e.description
        ],
    )


def _failure_reason(error: BaseException) -> str:
    if isinstance(error, discord.Forbidden):
        return _("I may not post in the transcript channel")
    if isinstance(error, PegasusError):
        return str(error)
    return _("Discord or the database refused")


def as_file(transcript: service.TranscriptFile) -> discord.File:
    return discord.File(io.BytesIO(transcript.html.encode("utf-8")), filename=transcript.filename)
