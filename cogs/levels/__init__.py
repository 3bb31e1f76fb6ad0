"""Levels: XP from messages and voice, level-ups, reward roles, rank cards and leaderboards."""

from __future__ import annotations

from pegasus.bot import Pegasus

from .cog import Levels
from .views import LeaderboardPageButton

__all__ = ["LeaderboardPageButton", "Levels", "setup"]


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Levels(bot))
