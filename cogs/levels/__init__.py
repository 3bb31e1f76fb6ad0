"""Levels: XP from messages and voice, level-ups, reward roles, rank cards and leaderboards."""

from __future__ import annotations

from pegasus.bot import Pegasus

from .admin import LevelsAdmin
from .cog import Levels
from .views import LeaderboardPageButton

__all__ = ["LeaderboardPageButton", "Levels", "LevelsAdmin", "setup"]


async def setup(bot: Pegasus) -> None:
    levels = Levels(bot)
    await bot.add_cog(levels)
    await bot.add_cog(LevelsAdmin(bot, levels))
