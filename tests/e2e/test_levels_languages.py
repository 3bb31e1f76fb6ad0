"""Levels in other languages, through the local Discord: level-ups follow the server's language,
replies follow the member's."""

from __future__ import annotations

import pytest

from pegasus.i18n import remember_guild_locale
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services.language import set_server_language
from pegasus.services.levels import total_xp_for_level
from tests.e2e.test_levels import configure, flush, use_clock

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))


async def test_a_spanish_server_gets_spanish_level_ups_and_members_keep_their_language(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    clock = use_clock(env)
    await set_server_language(env.guild.id, "es", actor_id=env.owner.id)
    try:
        await configure(env, xp_min=100, xp_max=100)  # the owner's replies: English
        await env.alice.say("general", "hola")
        await flush(env)
        # Pegasus's default level-up message, in the server's language.
        assert [m.content for m in env.channel("general").bot_messages] == [
            f"¡{env.alice.mention} ha alcanzado el nivel 1!"
        ]

        # A message the staff wrote stays as written.
        await configure(env, message="GG {user}: {level}")
        await env.owner.slash("xp set", member=env.bob, amount=total_xp_for_level(5) - 50)
        clock.advance(61)
        await env.bob.say("general", "hola")
        await flush(env)
        assert env.channel("general").bot_messages[-1].content == f"GG {env.bob.mention}: 5"

        # Alice's client is English: her own answers stay English in a Spanish server.
        rank = await env.alice.slash("rank")
        assert "level **1**" in rank.text and "rank **#" in rank.text

        # Carol's client is German: her answers and refusals are German.
        env.carol.user.locale = "de"
        insecure = await env.carol.slash("rankcard set", background="http://example.com/bg.png")
        assert insecure.ephemeral
        assert insecure.text.startswith("Bildlinks müssen sicher sein"), insecure.text
        board = await env.carol.slash("leaderboard")
        assert "XP-Bestenliste" in board.text and "Mitglieder mit Rang" in board.text, board.text
    finally:
        remember_guild_locale(env.guild.id, "en")
