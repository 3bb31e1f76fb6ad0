"""Moderation: cases, warnings, automations, timed punishments, the mute role, the blacklist."""

from __future__ import annotations

from cogs.moderation.actions import ModerationActions
from cogs.moderation.automations import Automations
from cogs.moderation.blacklist import BlacklistCog
from cogs.moderation.cases import Cases
from cogs.moderation.outside import OutsideActions
from cogs.moderation.support import Enforcer
from cogs.moderation.timers import Timers
from cogs.moderation.warnings import Warnings
from pegasus.bot import Pegasus


async def setup(bot: Pegasus) -> None:
    enforcer = Enforcer(bot)
    automations = Automations(bot, enforcer)
    await bot.add_cog(BlacklistCog(bot))
    await bot.add_cog(ModerationActions(bot, enforcer))
    await bot.add_cog(Cases(bot, enforcer))
    await bot.add_cog(Warnings(bot, enforcer))
    await bot.add_cog(automations)
    await bot.add_cog(Timers(bot, enforcer, automations))
    await bot.add_cog(OutsideActions(bot, enforcer))
