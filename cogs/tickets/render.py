"""What tickets look like in Discord: embeds and short messages, built from service values."""

from __future__ import annotations

import discord

from pegasus.i18n import _, format_number, ngettext
from pegasus.services import tickets as service
from pegasus.services.durations import format_duration
from pegasus.services.tickets import PanelInfo, TicketInfo
from pegasus.ui.format import BLURPLE, GREEN, RED, timestamp


def number(ticket: TicketInfo) -> str:
    return f"#{ticket.number:04d}"


def stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


def panel_embed(panel: PanelInfo) -> discord.Embed:
    """The posted panel: a post to the whole server (render it in the server's language)."""
    embed = discord.Embed(
        title=panel.title, description=panel.description, colour=panel.color or BLURPLE
    )
    if panel.image_url:
        embed.set_image(url=panel.image_url)
    embed.set_footer(text=panel.footer or _("Click a button below to open a private ticket."))
    return embed


def panel_summary(panel: PanelInfo) -> str:
    buttons = service.panel_buttons(panel)
    labels = ", ".join(f"**{b.label}**" for b in buttons) or _("no buttons yet")
    if panel.channel_id:
        where = " · " + _("sent in {channel}").format(channel=f"<#{panel.channel_id}>")
    else:
        where = " · " + _("not sent yet")
    state = "" if panel.is_active else " · ⏸️ " + _("paused")
    roles = " ".join(f"<@&{r}>" for r in panel.support_role_ids) or _("no support role")
    details = _("Buttons: {buttons} · Staff: {roles} · Max {count} open per member").format(
        buttons=labels, roles=roles, count=format_number(panel.max_tickets_per_user)
    )
    return f"`{panel.panel_id}` **{panel.title}**{where}{state}\n{details}"


def welcome_embed(ticket: TicketInfo, opened: service.OpenedTicket) -> discord.Embed:
    """The first message in a new ticket: a post to the server (in the server's language).
    A button's own welcome message stays as staff wrote it."""
    welcome = opened.welcome_message
    if welcome == service.DEFAULT_WELCOME:
        welcome = _(service.DEFAULT_WELCOME)
    embed = discord.Embed(
        title=_("Ticket {ticket} · {type}").format(ticket=number(ticket), type=opened.label),
        description=welcome.replace("{user}", f"<@{ticket.user_id}>"),
        colour=BLURPLE,
    )
    embed.add_field(name=_("Opened by"), value=f"<@{ticket.user_id}>", inline=True)
    embed.add_field(name=_("Opened"), value=timestamp(ticket.created_at), inline=True)
    embed.add_field(name=_("Reason"), value=ticket.reason or _("No reason given."), inline=False)
    embed.set_footer(text=_("Claim or close with the buttons, or use /ticket in this channel."))
    return embed


def closed_embed(ticket: TicketInfo, *, message_count: int) -> discord.Embed:
    """The summary posted with the transcript in the log channel and sent to the opener."""
    embed = discord.Embed(
        title=_("Ticket {ticket} closed").format(ticket=number(ticket)), colour=RED
    )
    embed.add_field(name=_("Opened by"), value=f"<@{ticket.user_id}>", inline=True)
    closer = f"<@{ticket.closed_by_id}>" if ticket.closed_by_id else _("Closed automatically")
    embed.add_field(name=_("Closed by"), value=closer, inline=True)
    # Translators: nobody claimed the ticket.
    claimer = f"<@{ticket.claimed_by_id}>" if ticket.claimed_by_id else _("Nobody")
    embed.add_field(name=_("Claimed by"), value=claimer, inline=True)
    embed.add_field(name=_("Opened"), value=timestamp(ticket.created_at), inline=True)
    if ticket.closed_at is not None:
        embed.add_field(name=_("Closed"), value=timestamp(ticket.closed_at), inline=True)
    embed.add_field(name=_("Messages"), value=format_number(message_count), inline=True)
    embed.add_field(name=_("Reason"), value=ticket.reason or _("No reason given."), inline=False)
    if ticket.close_reason:
        embed.add_field(name=_("Close reason"), value=ticket.close_reason, inline=False)
    return embed


def rating_prompt(guild_name: str, ticket: TicketInfo) -> str:
    return _(
        "Your ticket {ticket} in **{server}** was closed. The transcript is attached. How did "
        "we do? Pick a rating from 1 to 5 stars; you can add a comment next."
    ).format(ticket=number(ticket), server=guild_name)


def stats_embed(stats: service.TicketStats, *, who: str | None) -> discord.Embed:
    title = _("Ticket statistics · {member}").format(member=who) if who else _("Ticket statistics")
    embed = discord.Embed(title=title, colour=GREEN)
    handled = _("Tickets handled") if who else _("Tickets closed")
    embed.add_field(name=handled, value=format_number(stats.handled), inline=True)
    if who is None:
        embed.add_field(name=_("Opened (all time)"), value=format_number(stats.opened), inline=True)
        embed.add_field(name=_("Open now"), value=format_number(stats.open_now), inline=True)
    if stats.average_rating is not None:
        ratings = ngettext("{count} rating", "{count} ratings", stats.rated).format(
            count=format_number(stats.rated)
        )
        average = _("{average} / 5 ({ratings})").format(
            average=format_number(stats.average_rating, decimals=2), ratings=ratings
        )
    else:
        average = _("No ratings yet")
    embed.add_field(name=_("Average rating"), value=average, inline=True)
    median = stats.median_first_response_seconds
    embed.add_field(
        name=_("Median first response"),
        value=format_duration(round(median)) if median is not None else _("No responses yet"),
        inline=True,
    )
    return embed
