"""A test-only extension whose commands and button fail on purpose, to test the error bridge."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from pegasus.errors import ValidationError
from pegasus.ui.dynamic import PegasusButton


class ExplodingButton(PegasusButton, template=r"pegasus:test:explode:(?P<kind>\w+)"):
    def __init__(self, kind: str) -> None:
        super().__init__(discord.ui.Button(label=kind, custom_id=f"pegasus:test:explode:{kind}"))
        self.kind = kind

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> ExplodingButton:
        return cls(match["kind"])

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.kind == "refuse":
            raise ValidationError("That button says no.")
        if self.kind == "bug":
            raise RuntimeError("button bug")
        await interaction.response.send_message("clicked", ephemeral=True)


class Errors(commands.Cog):
    @app_commands.command(name="refuse", description="Always refuses with a clear message.")
    async def refuse(self, interaction: discord.Interaction) -> None:
        raise ValidationError("No, and here is why.")

    @app_commands.command(name="explode", description="Always fails with a bug.")
    async def explode(self, interaction: discord.Interaction) -> None:
        raise RuntimeError("kaboom")

    @app_commands.command(name="buttons", description="Posts buttons that fail.")
    async def buttons(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        for kind in ("ok", "refuse", "bug"):
            view.add_item(ExplodingButton(kind))
        await interaction.response.send_message("Buttons:", view=view)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(ExplodingButton)
    await bot.add_cog(Errors())
