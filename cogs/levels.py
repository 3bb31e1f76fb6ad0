"""Placeholder until the levels feature lands: the extension loads and registers nothing."""

from discord.ext import commands


async def setup(bot: commands.Bot) -> None:
    return None
