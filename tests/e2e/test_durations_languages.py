"""Durations in other languages, through the local Discord and the real bot: a German moderator
types a duration in German units and reads it back in German units; the member's DM follows the
server's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pegasus.errors import shown_input
from pegasus.i18n import _, remember_guild_locale, use_locale
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services.durations import VARYING, accepted_forms
from pegasus.services.language import set_server_language

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))


async def test_a_german_moderator_times_out_in_german_units(discord_env: DiscordEnv) -> None:
    env = discord_env
    env.mod.user.locale = "de"
    await set_server_language(env.guild.id, "de", actor_id=env.owner.id)
    try:
        reply = await env.mod.slash("timeout", member=env.alice, duration="90 Minuten")
        await env.settle()
        assert "1h 30 Min." in reply.text, reply.text
        until = env.alice.timed_out_until
        assert until is not None
        assert timedelta(minutes=89) < until - datetime.now(UTC) <= timedelta(minutes=90)
        [dm] = env.server.dms(env.alice)
        assert "1h 30 Min." in dm.text, dm.text

        # Months vary in length: refused by name, in German, rather than misread.
        refused = await env.mod.slash("timeout", member=env.bob, duration="1 Monat")
        with use_locale("de"):
            german = _(VARYING).format(text=shown_input("1 Monat"), forms=accepted_forms())
        assert "Monate und Jahre" in german and "30 Sek., 10 Min." in german
        assert refused.ephemeral and refused.text == german, refused.text
        assert env.bob.timed_out_until is None
    finally:
        remember_guild_locale(env.guild.id, "en")


async def test_an_english_moderator_keeps_the_english_letters(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.mod.slash("timeout", member=env.alice, duration="1h30m")
    assert "was timed out for 1h 30m" in reply.text, reply.text
    # German units are the German reader's: an English reader is shown the forms they can use.
    refused = await env.mod.slash("timeout", member=env.bob, duration="2 Std.")
    assert refused.ephemeral and "is not a duration. Use 30s, 10m, 2h, 2d, 1w" in refused.text
