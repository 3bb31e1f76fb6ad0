"""A test-only extension with the staff command shapes the features do not use yet: context
menus and a command for administrators only (empty default permissions)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands


@app_commands.context_menu(name="Flag member")
@app_commands.default_permissions(moderate_members=True)
async def flag_member(interaction: discord.Interaction, member: discord.Member) -> None:
    await interaction.response.send_message(f"Flagged {member.name}.", ephemeral=True)


@app_commands.context_menu(name="Keep for staff")
@app_commands.default_permissions(manage_messages=True)
async def keep_for_staff(interaction: discord.Interaction, message: discord.Message) -> None:
    await interaction.response.send_message(f"Kept message {message.id}.", ephemeral=True)


@app_commands.command(name="staff-drill", description="Administrators only.")
@app_commands.default_permissions()
async def staff_drill(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("Drill started.", ephemeral=True)


COMMANDS = (flag_member, keep_for_staff, staff_drill)


async def setup(bot: commands.Bot) -> None:
    for command in COMMANDS:
        bot.tree.add_command(command)


async def teardown(bot: commands.Bot) -> None:
    for command in COMMANDS:
        bot.tree.remove_command(command.name, type=command.type)
