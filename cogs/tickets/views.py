"""Persistent ticket buttons and the modals they open.

Every button keeps its state in its custom id (`pegasus:ticket:<action>:<id>`), so a panel sent a
month ago, or a Close button in a ticket opened before a restart, still works. The callbacks only
find the cog and hand over; the cog holds the flows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from pegasus.i18n import N_, _
from pegasus.services import tickets as service
from pegasus.ui.cogs import running_cog
from pegasus.ui.dynamic import PegasusButton
from pegasus.ui.modals import PegasusModal

if TYPE_CHECKING:
    from .cog import Tickets

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
STYLES = {
    service.ButtonStyle.PRIMARY: discord.ButtonStyle.primary,
    service.ButtonStyle.SECONDARY: discord.ButtonStyle.secondary,
    service.ButtonStyle.SUCCESS: discord.ButtonStyle.success,
    service.ButtonStyle.DANGER: discord.ButtonStyle.danger,
}


def tickets_cog(interaction: discord.Interaction) -> Tickets:
    from .cog import Tickets

    return running_cog(interaction.client, Tickets)


class OpenTicketButton(
    PegasusButton,
    template=r"pegasus:ticket:open:(?P<panel>[A-Z]{1,4}-[0-9A-Z]+):(?P<index>[0-4])",
):
    """A panel button: asks for the reason, then opens a ticket of that button's type."""

    def __init__(
        self,
        panel_id: str,
        index: int,
        *,
        label: str = "Open a ticket",
        style: discord.ButtonStyle = discord.ButtonStyle.primary,
        emoji: str | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                style=style,
                label=label,
                emoji=emoji,
                custom_id=f"pegasus:ticket:open:{panel_id}:{index}",
            )
        )
        self.panel_id = panel_id
        self.index = index
        # The text of the button clicked; an older copy of the panel may hold stale positions.
        self.clicked_label: str | None = None

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> OpenTicketButton:
        button = cls(match["panel"], int(match["index"]))
        button.clicked_label = item.label
        return button

    async def callback(self, interaction: discord.Interaction) -> None:
        await tickets_cog(interaction).ask_reason(
            interaction, self.panel_id, self.index, self.clicked_label
        )


class TicketButton(PegasusButton, template=r"pegasus:ticket:base:(?P<id>.+)"):
    """Shared shape of the buttons that act on one ticket, identified by its UUID."""

    action = ""
    label = ""  # marked with N_ in subclasses, translated when the button is made
    style = discord.ButtonStyle.secondary
    emoji: str | None = None

    def __init__(self, ticket_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                style=self.style,
                label=_(self.label) if self.label else self.label,
                emoji=self.emoji,
                custom_id=f"pegasus:ticket:{self.action}:{ticket_id}",
            )
        )
        self.ticket_id = ticket_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> Any:
        return cls(match["id"])


class ClaimButton(TicketButton, template=rf"pegasus:ticket:claim:(?P<id>{UUID_PATTERN})"):
    action = "claim"
    label = N_("Claim")
    style = discord.ButtonStyle.success
    emoji = "🙋"

    async def callback(self, interaction: discord.Interaction) -> None:
        await tickets_cog(interaction).claim_from_button(interaction, self.ticket_id)


class CloseButton(TicketButton, template=rf"pegasus:ticket:close:(?P<id>{UUID_PATTERN})"):
    action = "close"
    label = N_("Close")
    style = discord.ButtonStyle.danger
    emoji = "🔒"

    async def callback(self, interaction: discord.Interaction) -> None:
        await tickets_cog(interaction).close_from_button(interaction, self.ticket_id)


class RateButton(
    PegasusButton, template=rf"pegasus:ticket:rate:(?P<id>{UUID_PATTERN}):(?P<stars>[1-5])"
):
    """One of the five rating buttons DM'd to the opener when their ticket closes."""

    def __init__(self, ticket_id: str, stars: int) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label=f"{stars} ★",
                custom_id=f"pegasus:ticket:rate:{ticket_id}:{stars}",
            )
        )
        self.ticket_id = ticket_id
        self.stars = stars

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> RateButton:
        return cls(match["id"], int(match["stars"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await tickets_cog(interaction).rate_from_button(interaction, self.ticket_id, self.stars)


DYNAMIC_ITEMS = (OpenTicketButton, ClaimButton, CloseButton, RateButton)


def panel_view(panel_id: str, buttons: list[service.PanelButton]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for index, button in enumerate(buttons):
        view.add_item(
            OpenTicketButton(
                panel_id, index, label=button.label, style=STYLES[button.style], emoji=button.emoji
            )
        )
    return view


def ticket_controls(ticket_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ClaimButton(ticket_id))
    view.add_item(CloseButton(ticket_id))
    return view


def rating_view(ticket_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for stars in range(1, 6):
        view.add_item(RateButton(ticket_id, stars))
    return view


class ReasonModal(PegasusModal):
    def __init__(self, cog: Tickets, panel_id: str, index: int, label: str) -> None:
        super().__init__(title=_("Open a ticket: {type}").format(type=label)[:45], timeout=900)
        # Made here, not on the class, so each member reads it in their language.
        self.reason: discord.ui.TextInput[ReasonModal] = discord.ui.TextInput(
            label=_("What do you need help with?"),
            style=discord.TextStyle.paragraph,
            placeholder=_("Describe your problem so staff can help quickly."),
            required=False,
            max_length=service.MAX_REASON,
            custom_id="reason",
        )
        self.add_item(self.reason)
        self.cog = cog
        self.panel_id = panel_id
        self.index = index
        self.label = label

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.cog.open_from_modal(
            interaction, self.panel_id, self.index, self.reason.value or None, label=self.label
        )


class CommentModal(PegasusModal):
    def __init__(self, cog: Tickets, ticket_id: str, stars: int) -> None:
        super().__init__(
            title=_("You rated {stars} of 5 stars").format(stars=stars)[:45], timeout=900
        )
        self.comment: discord.ui.TextInput[CommentModal] = discord.ui.TextInput(
            label=_("Anything to add? (optional)"),
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=service.MAX_COMMENT,
            custom_id="comment",
        )
        self.add_item(self.comment)
        self.cog = cog
        self.ticket_id = ticket_id
        self.stars = stars

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.cog.comment_from_modal(interaction, self.ticket_id, self.comment.value)
