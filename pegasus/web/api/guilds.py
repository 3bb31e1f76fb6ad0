"""A server at a glance (`GET /guilds/{guild_id}`)."""

from __future__ import annotations

from pegasus.services.overview import GuildOverview, guild_overview
from pegasus.web.routes import Call, Routes

__all__ = ["routes"]

routes = Routes("guilds", "A server at a glance.")


@routes.get(
    "/guilds/{guild_id}",
    scope="guild:read",
    summary="Read a server's overview",
    response=GuildOverview,
)
async def read_overview(call: Call) -> GuildOverview:
    """Members, activity, open tickets, running giveaways and the newest cases. `member_count`
    is Discord's count, known when the bot itself serves the API (null otherwise)."""
    bot = call.web.bot
    guild = bot.get_guild(call.guild_id) if bot is not None else None
    count = guild.member_count if guild is not None else None
    return await guild_overview(call.guild_id, now=call.now, member_count=count)
