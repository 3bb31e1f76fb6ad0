"""What tickets look like in Discord: embeds and short messages, built from service values."""

from __future__ import annotations

import discord

from pegasus.services import tickets as service
from pegasus.services.durations import format_duration
from pegasus.services.tickets import PanelInfo, TicketInfo
from pegasus.ui.format import BLURPLE, GREEN, RED, plural, timestamp


def number(ticket: TicketInfo) -> str:
    return f"#{ticket.number:04d}"


def stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


def panel_embed(panel: PanelInfo) -> discord.Embed:
    embed = discord.Embed(
        title=panel.title, description=panel.description, colour=panel.color or BLURPLE
    )
    if panel.image_url:
        embed.set_image(url=panel.image_url)
    embed.set_footer(text=panel.footer or "Click a button below to open a private ticket.")
    return embed


def panel_summary(panel: PanelInfo) -> str:
    buttons = service.panel_buttons(panel)
    labels = ", ".join(f"**{b.label}**" for b in buttons) or "no buttons yet"
    where = f" · sent in <#{panel.channel_id}>" if panel.channel_id else " · not sent yet"
    state = "" if panel.is_active else " · ⏸️ paused"
    roles = " ".join(f"<@&{r}>" for r in panel.support_role_ids) or "no support role"
    return (
        f"`{panel.panel_id}` **{panel.title}**{where}{state}\n"
        f"Buttons: {labels} · Staff: {roles} · Max {panel.max_tickets_per_user} open per member"
    )


def welcome_embed(ticket: TicketInfo, opened: service.OpenedTicket) -> discord.Embed:
    embed = discord.Embed(
        title=f"Ticket {number(ticket)} · {opened.label}",
        description=opened.welcome_message.replace("{user}", f"<@{ticket.user_id}>"),
        colour=BLURPLE,
    )
    embed.add_field(name="Opened by", value=f"<@{ticket.user_id}>", inline=True)
    embed.add_field(name="Opened", value=timestamp(ticket.created_at), inline=True)
    embed.add_field(name="Reason", value=ticket.reason or "No reason given.", inline=False)
    embed.set_footer(text="Claim or close with the buttons, or use /ticket in this channel.")
    return embed


def closed_embed(ticket: TicketInfo, *, message_count: int) -> discord.Embed:
    """The summary posted with the transcript in the log channel and sent to the opener."""
    embed = discord.Embed(title=f"Ticket {number(ticket)} closed", colour=RED)
    embed.add_field(name="Opened by", value=f"<@{ticket.user_id}>", inline=True)
    closer = f"<@{ticket.closed_by_id}>" if ticket.closed_by_id else "Closed automatically"
    embed.add_field(name="Closed by", value=closer, inline=True)
    claimer = f"<@{ticket.claimed_by_id}>" if ticket.claimed_by_id else "Nobody"
    embed.add_field(name="Claimed by", value=claimer, inline=True)
    embed.add_field(name="Opened", value=timestamp(ticket.created_at), inline=True)
    if ticket.closed_at is not None:
        embed.add_field(name="Closed", value=timestamp(ticket.closed_at), inline=True)
    embed.add_field(name="Messages", value=f"{message_count:,}", inline=True)
    embed.add_field(name="Reason", value=ticket.reason or "No reason given.", inline=False)
    if ticket.close_reason:
        embed.add_field(name="Close reason", value=ticket.close_reason, inline=False)
    return embed


def rating_prompt(guild_name: str, ticket: TicketInfo) -> str:
    return (
        f"Your ticket {number(ticket)} in **{guild_name}** was closed. The transcript is "
        "attached. How did we do? Pick a rating from 1 to 5 stars; you can add a comment next."
    )


def stats_embed(stats: service.TicketStats, *, who: str | None) -> discord.Embed:
    title = f"Ticket statistics · {who}" if who else "Ticket statistics"
    embed = discord.Embed(title=title, colour=GREEN)
    handled = "Tickets handled" if who else "Tickets closed"
    embed.add_field(name=handled, value=f"{stats.handled:,}", inline=True)
    if who is None:
        embed.add_field(name="Opened (all time)", value=f"{stats.opened:,}", inline=True)
        embed.add_field(name="Open now", value=f"{stats.open_now:,}", inline=True)
    average = (
        f"{stats.average_rating:.2f} / 5 ({plural(stats.rated, 'rating')})"
        if stats.average_rating is not None
        else "No ratings yet"
    )
    embed.add_field(name="Average rating", value=average, inline=True)
    median = stats.median_first_response_seconds
    embed.add_field(
        name="Median first response",
        value=format_duration(round(median)) if median is not None else "No responses yet",
        inline=True,
    )
    return embed
