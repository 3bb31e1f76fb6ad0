"""The economy feature: wallets, the bank, earning, games, the shop, and the staff commands."""

from __future__ import annotations

from pegasus.bot import Pegasus

from .admin import EconomyAdmin, ShopAdmin
from .cog import Economy


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Economy(bot))
    await bot.add_cog(EconomyAdmin(bot))
    await bot.add_cog(ShopAdmin(bot))
