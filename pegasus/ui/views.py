"""Views shared by every feature: errors that reach the member, and a confirmation prompt."""

from __future__ import annotations

from typing import Any

import discord

from pegasus.tree import report_interaction_error, send_ephemeral


class PegasusView(discord.ui.View):
    """A View that reports callback errors like slash commands do, and can be owner-only."""

    def __init__(self, *, owner_id: int | None = None, timeout: float | None = 180) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if self.owner_id is not None and interaction.user.id != self.owner_id:
            await send_ephemeral(interaction, "These buttons belong to someone else.")
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_interaction_error(interaction, error)


class ConfirmView(PegasusView):
    """Confirm / Cancel for destructive actions; `value` is True, False or None (timed out)."""

    def __init__(
        self, *, owner_id: int, confirm_label: str = "Confirm", timeout: float = 60
    ) -> None:
        super().__init__(owner_id=owner_id, timeout=timeout)
        self.value: bool | None = None
        self.interaction: discord.Interaction | None = None
        self.confirm.label = confirm_label

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._decide(interaction, True)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._decide(interaction, False)

    async def _decide(self, interaction: discord.Interaction, value: bool) -> None:
        self.value = value
        self.interaction = interaction
        for child in self.children:
            if isinstance(child, discord.ui.Button):
                child.disabled = True
        self.stop()


async def confirm(
    interaction: discord.Interaction,
    prompt: str,
    *,
    confirm_label: str = "Confirm",
    timeout: float = 60,
) -> discord.Interaction | None:
    """Ask the invoker to confirm; returns the button interaction to answer, or None if not.

    The caller answers the returned interaction (e.g. `response.edit_message`). On cancel or
    timeout the prompt is edited to say nothing was changed.
    """
    view = ConfirmView(owner_id=interaction.user.id, confirm_label=confirm_label, timeout=timeout)
    if interaction.response.is_done():
        await interaction.followup.send(prompt, view=view, ephemeral=True)
    else:
        await interaction.response.send_message(prompt, view=view, ephemeral=True)
    await view.wait()
    if view.value:
        return view.interaction
    if view.interaction is not None:
        await view.interaction.response.edit_message(
            content="Cancelled: nothing was changed.", view=None
        )
    else:
        await interaction.edit_original_response(
            content="Timed out: nothing was changed.", view=None
        )
    return None
