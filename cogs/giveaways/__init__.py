"""Giveaways: `/giveaway ...` commands, the persistent Enter button and the start/end timers."""

from __future__ import annotations

from pegasus.bot import Pegasus

from .cog import EnterButton, Giveaways

__all__ = ["EnterButton", "Giveaways", "setup"]


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Giveaways(bot))
