"""Support tickets: `/ticket-panel ...`, `/ticket ...`, the persistent panel, Claim, Close and
rating buttons, the ticket message recorder and the auto-close timer."""

from __future__ import annotations

from pegasus.bot import Pegasus

from .cog import Tickets

__all__ = ["Tickets", "setup"]


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Tickets(bot))
