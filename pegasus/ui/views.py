"""Views shared by every feature: errors that reach the member, and a confirmation prompt."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from pegasus.i18n import N_, _
from pegasus.tree import (
    error_message,
    passes_interaction_checks,
    report_interaction_error,
    send_ephemeral,
)

__all__ = ["ConfirmAction", "ConfirmView", "PegasusView", "answer_on_button", "confirm"]

log = logging.getLogger(__name__)

# What a confirmed prompt does, given the click to answer (usually with `edit_message`).
ConfirmAction = Callable[[discord.Interaction], Awaitable[object]]


class PegasusView(discord.ui.View):
    """A View that runs the tree's checks (blacklist, rate limit) before its buttons, reports
    callback errors like slash commands do, and can be owner-only."""

    def __init__(self, *, owner_id: int | None = None, timeout: float | None = 180) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if self.owner_id is not None and interaction.user.id != self.owner_id:
            await send_ephemeral(interaction, _("These buttons belong to someone else."))
            return False
        return await passes_interaction_checks(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_interaction_error(interaction, error)


class ConfirmView(PegasusView):
    """Confirm / Cancel for destructive actions; `value` is True, False or None (timed out).

    `confirm_label` is in the current language (`_("Delete")`), or English marked with N_.
    """

    def __init__(
        self, *, owner_id: int, confirm_label: str = N_("Confirm"), timeout: float = 60
    ) -> None:
        super().__init__(owner_id=owner_id, timeout=timeout)
        self.value: bool | None = None
        self.interaction: discord.Interaction | None = None
        self.confirm.label = _(confirm_label)
        self.cancel.label = _("Cancel")

    @discord.ui.button(label=N_("Confirm"), style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._decide(interaction, True)

    @discord.ui.button(label=N_("Cancel"), style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._decide(interaction, False)

    async def _decide(self, interaction: discord.Interaction, value: bool) -> None:
        self.value = value
        self.interaction = interaction
        for child in self.children:
            if isinstance(child, discord.ui.Button):
                child.disabled = True
        self.stop()


async def answer_on_button(button: discord.Interaction, error: Exception) -> None:
    """Answer a clicked button with `error`: in place of the prompt it belongs to, or
    privately after it when the button was already answered."""
    message = error_message(button, error)
    try:
        if not button.response.is_done():
            await button.response.edit_message(content=message, embed=None, view=None)
        elif button.response.type is discord.InteractionResponseType.deferred_message_update:
            # Deferred, so the prompt still shows its question: the refusal takes its place.
            await button.edit_original_response(content=message, embed=None, view=None)
        else:
            await button.followup.send(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("Could not deliver an error message for interaction %s", button.id)


def _cleared(extra: dict[str, Any]) -> dict[str, Any]:
    """What removes the prompt's embed, if it had one, when the prompt is answered."""
    return {"embed": None} if extra else {}


async def confirm(
    interaction: discord.Interaction,
    prompt: str,
    action: ConfirmAction,
    *,
    confirm_label: str = N_("Confirm"),
    timeout: float = 60,
    embed: discord.Embed | None = None,
) -> bool:
    """Ask the invoker to confirm, then run `action` with the click; True when it ran through.

    `action` answers the click (`response.edit_message(..., view=None)` replaces the prompt).
    A refusal it raises, or any other error, answers that same click: the member reads it where
    they clicked, never "This interaction failed" with a stray message under the command. On
    cancel or timeout the prompt is edited to say nothing was changed. A long prompt (a
    translation can be longer than the English) goes in `embed`, under the question `prompt`.
    """
    view = ConfirmView(owner_id=interaction.user.id, confirm_label=confirm_label, timeout=timeout)
    extra = {"embed": embed} if embed is not None else {}
    if interaction.response.is_done():
        await interaction.followup.send(prompt, view=view, ephemeral=True, **extra)
    else:
        await interaction.response.send_message(prompt, view=view, ephemeral=True, **extra)
    await view.wait()
    if view.value and view.interaction is not None:
        try:
            await action(view.interaction)
        except Exception as error:
            await answer_on_button(view.interaction, error)
            return False
        return True
    if view.interaction is not None:
        await view.interaction.response.edit_message(
            content=_("Cancelled: nothing was changed."), view=None, **_cleared(extra)
        )
    else:
        await interaction.edit_original_response(
            content=_("Timed out: nothing was changed."), view=None, **_cleared(extra)
        )
    return False
