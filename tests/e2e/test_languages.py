"""Languages end to end: a member's Discord app language, `/language me` and `/language server`,
through the local Discord and the real bot.

Expected texts are read from the catalogs (`gettext_in`), so the tests check that the bot
chose the right language for each reader, not a particular wording; each also checks that the
translation is not the English text.
"""

from __future__ import annotations

import pytest

from models.guilds import DEFAULT_WELCOME_MESSAGE, Guild, User
from pegasus.i18n import gettext_in, pgettext_in
from pegasus.i18n.catalogs import COMMAND_NAME
from pegasus.localdiscord.env import DiscordEnv
from tests.e2e.test_levels import configure, flush, use_clock

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.language", "cogs.levels", "cogs.economy", "cogs.community")
)

PAY_SELF = "You can't pay yourself."
LEVEL_UP = "{user} reached level {level}!"


def translated(locale: str, english: str) -> str:
    text = gettext_in(locale, english)
    assert text != english, f"{english!r} has no {locale} translation"
    return text


async def test_a_german_app_gets_german_refusals_and_german_command_names(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    env.alice.user.locale = "de"

    refused = await env.alice.slash("pay", member=env.alice, amount="1")
    assert refused.ephemeral and refused.text == translated("de", PAY_SELF)
    english = await env.bob.slash("pay", member=env.bob, amount="1")
    assert english.ephemeral and english.text == PAY_SELF

    seen = env.server.command_names_seen_by(env.alice)
    german_pay = pgettext_in("de", COMMAND_NAME, "pay")
    assert german_pay != "pay" and german_pay in seen and "pay" not in seen
    assert "pay" in env.server.command_names_seen_by(env.bob)
    # What the German app lists is what she types: the bot receives the command's own name.
    again = await env.alice.slash(german_pay, member=env.alice, amount="1")
    assert again.text == translated("de", PAY_SELF)


async def test_a_spanish_server_levels_up_in_spanish_while_an_english_member_reads_english(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    reply = await env.owner.slash("language server", language="es")
    assert reply.ephemeral
    assert await Guild.get(id=env.guild.id).values_list("language", flat=True) == "es"

    use_clock(env)
    await configure(env, xp_min=100, xp_max=100)
    await env.alice.say("general", "hola a todos")
    await flush(env)
    spanish = translated("es", LEVEL_UP).format(user=env.alice.mention, level=1)
    assert [m.content for m in env.channel("general").bot_messages] == [spanish]

    refused = await env.alice.slash("pay", member=env.alice, amount="1")
    assert refused.ephemeral and refused.text == PAY_SELF  # her app is English


async def test_a_members_own_choice_beats_their_app_and_survives_a_restart(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    env.alice.user.locale = "de"
    reply = await env.alice.slash("language me", language="fr")
    assert reply.ephemeral and reply.text == translated(
        "fr", "Pegasus now answers you in {language}."
    ).format(language="Français")
    assert await User.get(id=env.alice.id).values_list("preferred_locale", flat=True) == "fr"

    await env.restart_bot()
    refused = await env.alice.slash("pay", member=env.alice, amount="1")
    assert refused.text == translated("fr", PAY_SELF)

    await env.alice.slash("language me", language="discord")
    refused = await env.alice.slash("pay", member=env.alice, amount="1")
    assert refused.text == translated("de", PAY_SELF)  # her app's language again
    assert await User.get(id=env.alice.id).values_list("preferred_locale", flat=True) is None


async def test_only_server_managers_set_the_servers_language(discord_env: DiscordEnv) -> None:
    env = discord_env
    refused = await env.alice.slash("language server", language="de")
    assert refused.ephemeral and "Manage Server" in refused.text
    assert await Guild.get(id=env.guild.id).values_list("language", flat=True) == "en"
    shown = await env.alice.slash("language show")
    assert "English" in shown.text


async def test_a_french_server_welcomes_in_french_unless_staff_wrote_the_welcome(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await env.owner.slash("language server", language="fr")
    reply = await env.owner.slash("welcome set", channel=env.channel("general"))
    assert reply.ephemeral
    dave = await env.guild.add_member("dave")
    await env.settle()
    expected = translated("fr", DEFAULT_WELCOME_MESSAGE).format(
        user=dave.mention, server=env.guild.name, member_count=len(env.guild.members)
    )
    assert env.channel("general").bot_messages[-1].content == expected

    await env.owner.slash("welcome set", channel=env.channel("general"), message="Salut {user} !")
    erin = await env.guild.add_member("erin")
    await env.settle()
    assert env.channel("general").bot_messages[-1].content == f"Salut {erin.mention} !"
