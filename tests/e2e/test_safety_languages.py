"""Safety in other languages, through the local Discord: what automod and anti-spam record and
post (the hit, the warning, the log post, the channel notice) follow the server's language; each
member's own replies follow theirs."""

from __future__ import annotations

import pytest

from models.automod import AutomodHit
from models.moderation import MemberWarning
from models.security import SecurityLog
from pegasus.i18n import remember_guild_locale
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services.language import set_server_language

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.community", "cogs.moderation", "cogs.security", "cogs.automod")
)


async def test_a_spanish_server_gets_spanish_automod_posts_and_members_keep_their_language(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await set_server_language(env.guild.id, "es", actor_id=env.owner.id)
    try:
        await env.owner.slash("logging set", channel=env.channel("logs"), events="automod")
        # The owner's client is English: his own replies stay English.
        added = await env.owner.slash(
            "automod add", name="Spoilers", kind="words", pattern="spoiler", actions="delete, warn"
        )
        assert "Automod rule added: Spoilers" in added.text, added.text

        message = await env.alice.say("general", "a spoiler: he dies")
        await env.settle()
        assert message.deleted
        hit = await AutomodHit.get(message_id=message.id)
        assert hit.reason == "una palabra filtrada (`spoiler`)"
        assert hit.actions[-1] == "borrado"
        warning = await MemberWarning.get(user_id=env.alice.id)
        assert warning.title.startswith("Regla de automod Spoilers")
        report = env.channel("logs").bot_messages[-1]
        assert report.embed is not None and report.embed["title"] == "Automod: Spoilers"
        assert "una palabra filtrada" in report.text and "Hecho" in report.text, report.text

        # Anti-spam's notice is for the channel: Spanish; its stored record stays English.
        await env.owner.slash("security set", anti_spam=True, max_duplicates=2)
        said = [await env.bob.say("general", "FREE NITRO here") for _ in range(2)]
        await env.settle()
        assert said[-1].deleted
        notice = env.channel("general").bot_messages[-1]
        assert "tu mensaje fue eliminado: el mismo mensaje 2 veces seguidas" in notice.content
        log = await SecurityLog.get(action="security.spam_duplicates")
        assert log.description == "Message removed: the same message 2 times in a row."

        # Carol's client is German: her refusal is German.
        env.carol.user.locale = "de"
        refused = await env.carol.slash("apikey create", name="x", scopes="nothing")
        assert "ist kein Bereich" in refused.text, refused.text
    finally:
        remember_guild_locale(env.guild.id, "en")
