"""What only the bot's own process can check, for the REST API and the dashboard alike: the
server as the bot's cache has it (members and their roles, channels, the bot's permissions in
them) and the bot's owners. Served beside the bot, a handler checks against the cache as the
slash command does; the web process alone has no cache and refuses with a sentence that says
where it can be done instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from pegasus.errors import PermissionDenied, ValidationError
from pegasus.i18n import N_, _
from pegasus.services.ids import check_snowflake
from pegasus.ui.checks import require_bot_can_post

if TYPE_CHECKING:
    from pegasus.services.moderation import BlacklistCache
    from pegasus.web.app import WebState
    from pegasus.web.roles import Asking

__all__ = ["blacklist_cache", "bot_owner_ids", "cached_guild", "check_notify_channel"]


def cached_guild(asking: Asking, needs: str, elsewhere: str) -> discord.Guild:
    """The server as the bot's cache has it; refused where the web process runs alone.

    `needs` completes "This needs <needs>", `elsewhere` says where it can be done instead
    ("use /blacklist add in Discord, or ...").
    """
    bot = asking.web.bot
    guild = bot.get_guild(asking.guild_id) if bot is not None else None
    if guild is None:
        raise PermissionDenied(
            _("This needs {needs}, which only the bot's own process can see: {elsewhere}.").format(
                needs=needs, elsewhere=elsewhere
            )
        )
    return guild


def check_notify_channel(asking: Asking, channel_id: int | None, elsewhere: str) -> None:
    """As `/automation add`: a rule's reports go to a text channel where the bot can post."""
    if channel_id is None:
        return
    check_snowflake(channel_id, what=N_("a channel id"))
    guild = cached_guild(asking, _("the server's channels and the bot's permissions"), elsewhere)
    channel = guild.get_channel(channel_id)
    if not isinstance(channel, discord.TextChannel):
        raise ValidationError(_("There is no text channel with that id in this server."))
    require_bot_can_post(channel, what=N_("the rule's reports"), embeds=True)


def bot_owner_ids(web: WebState) -> frozenset[int]:
    bot = web.bot
    return frozenset(bot.settings.owner_ids) if bot is not None else frozenset()


def blacklist_cache(web: WebState) -> BlacklistCache | None:
    """The bot's blacklist cache, told of a change at once (other processes hear it later)."""
    bot = web.bot
    return bot.blacklist if bot is not None else None
