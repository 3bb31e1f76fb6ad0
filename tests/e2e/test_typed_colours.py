"""Colours typed in commands read the same everywhere: /ticket-panel takes the names /rankcard
takes, and refuses what is not a colour in the same sentence."""

from __future__ import annotations

import pytest

from models.tickets import TicketPanel
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.tickets", "cogs.levels"))


async def test_a_panel_colour_can_be_a_name_as_on_a_rank_card(discord_env: DiscordEnv) -> None:
    env = discord_env
    created = await env.owner.slash(
        "ticket-panel create", title="Support", description="Ask here", color="blue"
    )
    assert created.ephemeral and "created" in (created.content or ""), created.content
    [panel] = await TicketPanel.all()
    assert panel.color == 0x3498DB

    edited = await env.owner.slash("ticket-panel edit", panel=panel.panel_id, color="#fff")
    assert "not a colour" not in (edited.content or ""), edited.content
    await panel.refresh_from_db()
    assert panel.color == 0xFFFFFF


async def test_what_is_not_a_colour_is_refused_alike(discord_env: DiscordEnv) -> None:
    env = discord_env
    panel = await env.owner.slash(
        "ticket-panel create", title="Support", description="Ask here", color="bleu"
    )
    card = await env.alice.slash("rankcard set", accent="bleu")

    sentence = "`bleu` is not a colour: use a colour like #5865F2, 5865F2, #fff or a name"
    assert panel.ephemeral and (panel.content or "").startswith(sentence), panel.content
    assert card.ephemeral and sentence in card.text, card.text
    assert await TicketPanel.all().count() == 0
