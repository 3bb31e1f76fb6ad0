"""Community in other languages, through the local Discord: the server log and a sent role menu
follow the server's language, a member's own replies follow theirs, and a welcome the staff wrote
stays as written."""

from __future__ import annotations

import pytest

from pegasus.i18n import remember_guild_locale
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services.language import set_server_language
from tests.e2e.test_rolemenus import Cast, cast, click, create, offer, send

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.community", "cogs.role_menus"))

__all__ = ["cast"]  # the fixture, used by name


async def test_a_french_server_log_and_an_unchanged_welcome(discord_env: DiscordEnv) -> None:
    env = discord_env
    await set_server_language(env.guild.id, "fr", actor_id=env.owner.id)
    try:
        # The owner's client is English: his replies stay English in a French server.
        reply = await env.owner.slash("logging set", channel=env.channel("logs"))
        assert "The server log is on in" in reply.text, reply.text
        await env.owner.slash(
            "welcome set", channel=env.channel("general"), message="Hi {user}, welcome!"
        )
        henry = await env.guild.add_member("henry")
        await env.settle()
        joined = env.channel("logs").bot_messages[-1].embed or {}
        assert joined["title"] == "Membre arrivé", joined
        assert [field["name"] for field in joined["fields"]] == ["Compte créé", "Membres"]
        assert str(henry.id) in joined["footer"]["text"] and henry.mention in joined["description"]
        # What the staff wrote is posted as written.
        assert env.channel("general").bot_messages[-1].content == f"Hi {henry.mention}, welcome!"
    finally:
        remember_guild_locale(env.guild.id, "en")


async def test_a_spanish_menu_answers_a_german_member_in_german(
    discord_env: DiscordEnv, cast: Cast
) -> None:
    env = discord_env
    await set_server_language(env.guild.id, "es", actor_id=env.owner.id)
    try:
        menu = await create(cast.manager, max_roles=1)
        await offer(cast.manager, menu, cast.red)
        await offer(cast.manager, menu, cast.news)
        message = await send(env, cast.manager, menu)
        shown = message.embed or {}
        assert "Puedes tener como máximo 1 rol de este menú." in shown["description"], shown
        assert shown["footer"]["text"] == f"Menú de roles {menu}"

        env.alice.user.locale = "de"
        took = await click(env, env.alice, message, "Red")
        assert took.text == f"Du hast jetzt {cast.red.mention}.", took.text
        refused = await click(env, env.alice, message, "News")
        assert refused.text.startswith("Du kannst höchstens 1 Rolle aus diesem Menü haben"), (
            refused.text
        )
    finally:
        remember_guild_locale(env.guild.id, "en")
