"""The server log's listeners (bulk deletions, nicknames, voice, channels, roles, settings) and
the log readers (`/audit`; `/security log` is the security cog's command, rendered here)."""

from __future__ import annotations

from pegasus.bot import Pegasus

from .events import ServerLogEvents
from .readers import LogReaders


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(ServerLogEvents(bot))
    await bot.add_cog(LogReaders(bot))
