"""The core's texts in the member's language, through the local Discord and the real bot: the
command tree's refusals (a permission named as Discord names it, the command as the member's app
lists it) and the shared confirmation prompt.

Expected texts are read from the catalogs, so the tests check the choice of language, not a
wording; each also checks that the translation is not the English text.
"""

from __future__ import annotations

import pytest

from pegasus.i18n import pgettext_in, translations
from pegasus.i18n.catalogs import COMMAND_NAME
from pegasus.localdiscord.env import DiscordEnv
from tests.e2e.test_languages import translated

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.economy", "cogs.privacy"))


async def test_a_french_member_is_refused_a_staff_command_in_french(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    env.alice.user.locale = "fr"
    await env.guild.set_command_permissions("economy", {env.guild.default_role: True})

    reply = await env.alice.slash("economy give", member=env.alice, amount="1000000")

    template = translations("fr").ngettext(
        "You need the {permissions} permission to use {command}.",
        "You need the {permissions} permissions to use {command}.",
        1,
    )
    command = " ".join(pgettext_in("fr", COMMAND_NAME, word) for word in ("economy", "give"))
    expected = template.format(
        permissions=translated("fr", "Manage Server"), command=f"/{command}"
    )
    assert reply.ephemeral and reply.content == expected
    english = await env.bob.slash("economy give", member=env.bob, amount="1000000")
    assert english.content == "You need the Manage Server permission to use /economy give."


async def test_a_german_member_cancels_a_confirmation_in_german(discord_env: DiscordEnv) -> None:
    env = discord_env
    env.alice.user.locale = "de"

    prompt = await env.alice.slash("privacy delete")
    assert translated("de", "Delete your data now?") in prompt.text
    cancelled = await env.alice.click(prompt, label=translated("de", "Cancel"))

    shown = cancelled.content or cancelled.text
    assert shown == translated("de", "Cancelled: nothing was changed.")


async def test_help_explains_a_command_by_the_name_a_german_app_shows(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    env.alice.user.locale = "de"
    privacy = pgettext_in("de", COMMAND_NAME, "privacy")
    assert privacy != "privacy"

    reply = await env.alice.slash("help", command=privacy)

    assert reply.ephemeral and reply.embed is not None
    assert reply.embed["title"] == f"/{privacy}"
    [field] = reply.embed["fields"]
    assert field["name"] == translated("de", "Subcommands")
    delete = pgettext_in("de", COMMAND_NAME, "delete")
    assert f"`/{privacy} {delete}`" in field["value"]
    english = await env.bob.slash("help", command="privacy")
    assert english.embed is not None and english.embed["title"] == "/privacy"
