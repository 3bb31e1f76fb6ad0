"""The one place where errors from commands and buttons become messages people read."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from pegasus.errors import PegasusError

log = logging.getLogger(__name__)

InteractionCheck = Callable[[discord.Interaction], Awaitable[None]]

PERMISSION_NAMES = {
    "manage_guild": "Manage Server",
    "ban_members": "Ban Members",
    "kick_members": "Kick Members",
    "moderate_members": "Timeout Members",
    "manage_roles": "Manage Roles",
    "manage_channels": "Manage Channels",
    "manage_messages": "Manage Messages",
    "administrator": "Administrator",
}


def _permission_list(names: list[str]) -> str:
    return ", ".join(PERMISSION_NAMES.get(n, n.replace("_", " ").title()) for n in names)


def describe_error(error: Exception) -> str | None:
    """The message for an expected error, or None when the error is a bug to log."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        original = error.__cause__ if isinstance(error, app_commands.TransformerError) else None
        error = original or getattr(error, "original", error)
    if isinstance(error, PegasusError):
        return str(error)
    if isinstance(error, app_commands.MissingPermissions):
        return f"You need the {_permission_list(error.missing_permissions)} permission to do that."
    if isinstance(error, app_commands.BotMissingPermissions):
        return (
            f"I need the {_permission_list(error.missing_permissions)} permission to do that. "
            "Ask a server admin to grant it."
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only in a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f}s."
    if isinstance(error, app_commands.TransformerError):
        return f"`{error.value}` is not a valid {error.type.name.lower()}."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    if isinstance(error, discord.Forbidden):
        return (
            "Discord refused: I am missing a permission or my role is too low for that. "
            "Check my role's position and permissions."
        )
    return None


async def send_ephemeral(interaction: discord.Interaction, content: str) -> None:
    """Reply privately whether or not the interaction was already answered."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=True)
        else:
            await interaction.response.send_message(content, ephemeral=True)
    except discord.HTTPException:
        log.warning("Could not deliver an error message for interaction %s", interaction.id)


async def report_interaction_error(interaction: discord.Interaction, error: Exception) -> None:
    """Show an expected error as is; log an unexpected one with a reference the user sees."""
    message = describe_error(error)
    if message is None:
        reference = uuid.uuid4().hex[:8].upper()
        log.error(
            "Unexpected error (ref %s) in %s by %s in guild %s",
            reference,
            _interaction_name(interaction),
            interaction.user.id,
            interaction.guild_id,
            exc_info=error,
        )
        message = (
            f"Something went wrong on my side. Reference `{reference}`: give it to the "
            "server staff or the bot owner."
        )
    await send_ephemeral(interaction, message)


def _interaction_name(interaction: discord.Interaction) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data = interaction.data or {}
    return f"component {data.get('custom_id', '?')}"


class PegasusTree(app_commands.CommandTree):
    """A CommandTree whose errors always reach the user, and whose checks apply everywhere."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Checks that refuse by raising PegasusError: blacklist, maintenance, ... They run for
        # slash commands here and for persistent buttons in pegasus.ui.dynamic.
        self.interaction_checks: list[InteractionCheck] = []

    async def run_interaction_checks(self, interaction: discord.Interaction) -> bool:
        try:
            for check in self.interaction_checks:
                await check(interaction)
        except PegasusError as refusal:
            await send_ephemeral(interaction, str(refusal))
            return False
        return True

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await self.run_interaction_checks(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report_interaction_error(interaction, error)
