"""Posting to a server's channels from listeners and timers: the server log and its alerts.

Each event goes to its category's channel (`GuildConfig.logs`): the category's own channel, or the
log channel when it has none. Security alerts go to the log channel, or to the automod category's
channel when there is no log channel.

A server's misconfiguration (a deleted channel, a missing permission) must not stop the listener
or timer that posts, so a refused post is a warning in the bot's log, never an exception.
"""

from __future__ import annotations

import logging

import discord
from discord.utils import utcnow

from pegasus.services import community
from pegasus.services.community import GuildConfig, LogEvent

__all__ = ["post_alert", "post_log", "post_to_channel", "sendable_text_channel"]

log = logging.getLogger(__name__)


def sendable_text_channel(
    guild: discord.Guild, channel_id: int | None
) -> discord.TextChannel | None:
    channel = guild.get_channel(channel_id) if channel_id else None
    return channel if isinstance(channel, discord.TextChannel) else None


async def post_to_channel(
    channel: discord.abc.Messageable,
    *,
    content: str | None = None,
    embed: discord.Embed | None = None,
    allowed_mentions: discord.AllowedMentions | None = None,
) -> discord.Message | None:
    """Post, or log a warning when Discord refuses."""
    try:
        return await channel.send(
            content=content,
            embed=embed,
            allowed_mentions=allowed_mentions or discord.AllowedMentions.none(),
        )
    except discord.HTTPException as error:
        log.warning("Could not post in channel %s: %s", getattr(channel, "id", "?"), error)
        return None


async def post_log(
    guild: discord.Guild, config: GuildConfig, event: LogEvent, embed: discord.Embed
) -> None:
    """Post `embed` in the channel of `event`'s category, if `event` is logged."""
    channel = sendable_text_channel(guild, config.logs(event))
    if channel is not None:
        embed.timestamp = embed.timestamp or utcnow()
        await post_to_channel(channel, embed=embed)


async def post_alert(guild: discord.Guild, embed: discord.Embed) -> discord.Message | None:
    """Post a security alert in the log channel (else the automod category's channel),
    whichever events the log reports.

    Alerts are rare, so the channel is read from the database: always the current one."""
    config = await community.load_config(guild.id)
    channel = sendable_text_channel(guild, config.alerts_channel_id)
    if channel is None:
        log.warning("Alert in guild %s with no log channel to post it: %s", guild.id, embed.title)
        return None
    embed.timestamp = embed.timestamp or utcnow()
    return await post_to_channel(channel, embed=embed)
