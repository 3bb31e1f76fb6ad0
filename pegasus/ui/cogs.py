"""Finding a feature's running cog from a button, view or modal callback.

Persistent buttons outlive the cog that made them: the extension can be unloaded (or not loaded
by this process) while its buttons are still on screen. So a callback asks for the cog and, when
it is not running, the member is told so in one sentence instead of meeting an exception.
"""

from __future__ import annotations

from typing import TypeVar

import discord
from discord.ext import commands

from pegasus.errors import ConflictError
from pegasus.i18n import _

__all__ = ["running_cog"]

CogT = TypeVar("CogT", bound=commands.Cog)


def running_cog(
    client: discord.Client, cog_type: type[CogT], *, feature: str | None = None
) -> CogT:
    """The running instance of `cog_type`, or a refusal naming `feature` (the cog's name)."""
    is_bot = isinstance(client, commands.bot.BotBase)  # Bot and AutoShardedBot
    cog = client.get_cog(cog_type.__cog_name__) if is_bot else None
    if not isinstance(cog, cog_type):
        name = feature or cog_type.__cog_name__
        raise ConflictError(
            _("{feature} are switched off right now; try again later.").format(feature=_(name))
        )
    return cog
