"""/language: the language Pegasus speaks to a member, and to a whole server."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands, tasks

from pegasus.bot import Pegasus
from pegasus.errors import PermissionDenied
from pegasus.i18n import (
    DEFAULT_LOCALE,
    LANGUAGES,
    _,
    guild_locale,
    language_name,
    supported_locale,
    use_locale,
    user_choice,
)
from pegasus.services import language as service

log = logging.getLogger(__name__)

FOLLOW_DISCORD = "discord"
LANGUAGE_CHOICES = [app_commands.Choice(name=name, value=code) for code, name in LANGUAGES.items()]
MEMBER_CHOICES = [
    *LANGUAGE_CHOICES,
    app_commands.Choice(name="Discord", value=FOLLOW_DISCORD),
]


RELOAD_SECONDS = 60.0


class Language(commands.Cog):
    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.reload.start()

    async def cog_unload(self) -> None:
        self.reload.cancel()

    @tasks.loop(seconds=RELOAD_SECONDS)
    async def reload(self) -> None:
        """Choices made in another process (the standalone dashboard) reach this one within a
        minute; on PostgreSQL a server's language reaches it at once, by the change notice."""
        try:
            await service.load_languages()
        except Exception:
            log.warning("Could not read the language choices again", exc_info=True)

    @reload.before_loop
    async def _first_reload_after_a_minute(self) -> None:
        await asyncio.sleep(RELOAD_SECONDS)  # the bot read them at start

    group = app_commands.Group(
        name="language", description="Choose the language Pegasus speaks to you or your server."
    )

    @group.command(name="me", description="The language of Pegasus's replies to you.")
    @app_commands.describe(
        language="Your language, or Discord to follow your Discord app's language"
    )
    @app_commands.choices(language=MEMBER_CHOICES)
    async def me(self, interaction: discord.Interaction, language: str) -> None:
        code = None if language == FOLLOW_DISCORD else language
        chosen = await service.set_member_language(interaction.user.id, code)
        shown = chosen or supported_locale(interaction.locale.value) or DEFAULT_LOCALE
        with use_locale(shown):
            if chosen is None:
                reply = _(
                    "Pegasus now answers you in your Discord app's language ({language})."
                ).format(language=language_name(shown))
            else:
                reply = _("Pegasus now answers you in {language}.").format(
                    language=language_name(chosen)
                )
        await interaction.response.send_message(reply, ephemeral=True)

    @group.command(
        name="server",
        description="The language of posts to everyone here: level-ups, giveaways, logs.",
    )
    @app_commands.describe(language="The server's language")
    @app_commands.choices(language=LANGUAGE_CHOICES)
    @app_commands.guild_only()
    async def server(self, interaction: discord.Interaction, language: str) -> None:
        assert interaction.guild_id is not None
        # Discord reads default permissions on top-level commands only, and `/language me` is
        # for everyone: the server's language is checked here.
        if not interaction.permissions.manage_guild:
            raise PermissionDenied(
                _("You need the Manage Server permission to set this server's language.")
            )
        chosen = await service.set_server_language(
            interaction.guild_id, language, actor_id=interaction.user.id
        )
        await interaction.response.send_message(
            _(
                "This server's language is now {language}: level-ups, giveaways, logs and "
                "other posts to everyone use it. Each member's own replies follow their choice."
            ).format(language=language_name(chosen)),
            ephemeral=True,
        )

    @group.command(name="show", description="Which languages Pegasus uses for you and here.")
    async def show(self, interaction: discord.Interaction) -> None:
        own = user_choice(interaction.user.id)
        client = supported_locale(interaction.locale.value)
        lines = [
            _("Your replies: {language}").format(
                language=language_name(own)
                if own
                else _("{language}, your Discord app's").format(
                    language=language_name(client or DEFAULT_LOCALE)
                )
            )
        ]
        if interaction.guild_id is not None:
            lines.append(
                _("This server's posts: {language}").format(
                    language=language_name(guild_locale(interaction.guild_id))
                )
            )
        await interaction.response.send_message("\n".join(lines), ephemeral=True)


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Language(bot))
