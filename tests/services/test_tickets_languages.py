"""Tickets in other languages: a refusal is in the member's language, the transcript (written for
the whole server) in the server's, whoever asks for it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pegasus.errors import ConflictError, PermissionDenied
from pegasus.i18n import remember_guild_locale, use_locale
from pegasus.services import tickets as svc
from pegasus.services.tickets import Actor

GUILD = 1_000
ALICE, STAFF = 11, 21
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def spanish_server() -> Iterator[None]:
    remember_guild_locale(GUILD, "es")
    try:
        yield
    finally:
        remember_guild_locale(GUILD, None)


async def open_ticket(panel_id: str, channel_id: int) -> svc.TicketInfo:
    opened = await svc.open_ticket(
        GUILD, panel_id, 0, ALICE, reason="help", user_name="alice", now=T0
    )
    return await svc.attach_channel(opened.ticket.id, channel_id, now=T0)


async def make_panel(*, max_per_user: int = 1) -> str:
    panel = await svc.create_panel(
        GUILD, title="Support", description="Open a ticket", max_tickets_per_user=max_per_user
    )
    await svc.add_button(GUILD, panel.panel_id, label="Help")
    return panel.panel_id


async def test_refusals_are_in_the_members_language(db: str) -> None:
    panel_id = await make_panel(max_per_user=2)
    ticket = await open_ticket(panel_id, 9001)
    await open_ticket(panel_id, 9002)
    with use_locale("de"):
        with pytest.raises(PermissionDenied, match="Nur das Team des Tickets kann Tickets"):
            await svc.claim(ticket.id, Actor(ALICE), now=T0)
        # Counted in German's plural, the channels still mentioned.
        with pytest.raises(
            ConflictError, match=r"Du hast schon 2 offene Tickets .* in <#9001>, <#9002> weiter"
        ):
            await svc.open_ticket(GUILD, panel_id, 0, ALICE, reason=None, user_name="a", now=T0)
    with pytest.raises(PermissionDenied, match="Only the ticket's staff can claim tickets"):
        await svc.claim(ticket.id, Actor(ALICE), now=T0)


async def test_the_transcript_is_in_the_servers_language(db: str, spanish_server: None) -> None:
    panel_id = await make_panel()
    ticket = await open_ticket(panel_id, 9001)
    closed = await svc.close(ticket.id, None, reason=None, now=T0 + timedelta(hours=1))
    # Asked for by a German member: still the server's Spanish.
    with use_locale("de"):
        transcript = await svc.build_transcript(
            closed, guild_name="Pegasus", name_of=lambda _id: "Alice", now=T0
        )
    page = transcript.html
    assert '<html lang="es">' in page
    for spanish in ("Abierto por", "Cerrado por", "automático", "Mensajes (0)"):
        assert spanish in page, spanish
    assert "Opened by" not in page and "Geöffnet" not in page
    # Its dates as Spanish writes them (not the German reader's "01.03.2026"), in UTC.
    assert "1 mar 2026, 12:00:00 UTC" in page and "01.03.2026" not in page
