"""Moderation in other languages, through the local Discord: the modlog and the punished member's
DM follow the server's language (or the member's own choice), the moderator's answers follow
theirs."""

from __future__ import annotations

import pytest

from pegasus.i18n import remember_guild_locale, remember_user_locale
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services.language import set_server_language

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))


async def test_a_spanish_server_gets_a_spanish_modlog_and_dm_while_the_moderator_reads_english(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    logs = env.channel("logs")
    await env.owner.slash("modlog", channel=logs)
    await set_server_language(env.guild.id, "es", actor_id=env.owner.id)
    try:
        reply = await env.mod.slash("kick", member=env.bob, reason="spam")
        await env.settle()
        # The moderator's client is English: the answer to their command stays English.
        assert f"{env.bob.mention} was kicked." in reply.text
        # The modlog is the server's: Spanish.
        [post] = logs.bot_messages
        assert post.embeds[0]["title"] == "Caso #1 · Expulsión"
        # Bob set no language of his own: his DM is in the server's language.
        [dm] = env.server.dms(env.bob)
        assert "Te expulsaron de" in dm.text and "spam" in dm.text

        # Alice chose French for herself: her DM is French, the modlog stays Spanish.
        remember_user_locale(env.alice.id, "fr")
        await env.mod.slash("timeout", member=env.alice, duration="5m", reason="calme")
        await env.settle()
        [dm] = env.server.dms(env.alice)
        assert "Vous avez été exclu temporairement" in dm.text, dm.text
        assert logs.bot_messages[-1].embeds[0]["title"] == "Caso #2 · Aislamiento"
    finally:
        remember_guild_locale(env.guild.id, "en")
        remember_user_locale(env.alice.id, None)


async def test_a_german_moderator_gets_german_refusals_and_answers(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    env.mod.user.locale = "de"
    refused = await env.mod.slash("unmute", member=env.alice)
    assert refused.ephemeral
    assert refused.text.startswith(f"{env.alice.mention} ist nicht stummgeschaltet."), refused.text
    answer = await env.mod.slash("warn", member=env.alice, title="Spam", level=2)
    assert f"{env.alice.mention} wurde verwarnt: **Spam**" in answer.text, answer.text
    listed = await env.mod.slash("warnings", member=env.alice)
    assert "Verwarnungen von" in listed.text and "Stufe 2" in listed.text, listed.text
