"""Tickets in other languages, through the local Discord: the panel, the ticket's posts, the log
post and the transcript follow the server's language; each member's own answers follow theirs."""

from __future__ import annotations

import pytest

from pegasus.i18n import remember_guild_locale
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services.language import set_server_language
from tests.e2e.test_tickets import close_with, make_panel, panel_message

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.tickets"))


async def test_a_spanish_server_gets_spanish_ticket_posts_and_members_keep_their_language(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await set_server_language(env.guild.id, "es", actor_id=env.owner.id)
    try:
        await make_panel(env)  # the owner's client is English: his replies stay English
        panel = panel_message(env)
        assert "Haz clic en un botón de abajo para abrir un ticket privado." in panel.text

        # Carol's client is German: her form and her answer are German.
        env.carol.user.locale = "de"
        form = await env.carol.click(panel, label="Help")
        assert form.kind == "modal" and form.modal.title == "Ticket öffnen: Help"  # type: ignore[union-attr]
        done = await env.carol.submit_modal(form, {"reason": "Mi pedido no llegó"})
        await env.settle()
        channel = env.guild.channel("ticket-0001")
        assert done.text.startswith("Dein Ticket #0001 ist offen"), done.text

        # The ticket's first post is for the opener and the staff: the server's Spanish.
        welcome = channel.bot_messages[0]
        assert "Gracias por escribirnos" in welcome.text and "Abierto por" in welcome.text
        assert {b["label"] for b in welcome.buttons} == {"Reclamar", "Cerrar"}

        # The moderator's own prompt is English; the log post and the transcript are Spanish.
        await close_with(env, env.mod, channel, reason="Reembolsado")
        log_post = env.channel("logs").bot_messages[-1]
        assert "Ticket #0001 cerrado" in log_post.text, log_post.text
        page = log_post.attachments[0].data.decode()
        assert '<html lang="es">' in page and "Abierto por" in page
        # The DM to Carol: she chose no language, so the server's.
        dm = env.server.dms(env.carol)[-1]
        assert dm.text.startswith("Tu ticket #0001 en"), dm.text
    finally:
        remember_guild_locale(env.guild.id, "en")
