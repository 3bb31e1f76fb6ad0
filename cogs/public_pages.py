"""`/public-pages`: switch the server's public web pages (leaderboards, giveaway draws) on or off.

The switch is the `web` feature's setting `public_pages_enabled` (pegasus.services.dashboard),
the same one the REST API and the dashboard change; every change is audited.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from pegasus.bot import Pegasus
from pegasus.i18n import _
from pegasus.services.dashboard import public_pages_on, set_public_pages
from pegasus.services.dashboard.public import SETTINGS as WEB
from pegasus.ui.checks import MANAGE_SERVER
from pegasus.ui.format import BLURPLE


class PublicPages(commands.Cog):
    """The web pages anyone may read, without logging in."""

    public_pages = app_commands.Group(
        name="public-pages",
        description="The server's public web pages: XP and money leaderboards, giveaway draws.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    def addresses(self, guild_id: int) -> str:
        base = (self.bot.settings.web_public_url or "").rstrip("/")
        where = f"{base}/public/guilds/{guild_id}"
        lines = [
            _("Leaderboards: {address}").format(address=f"{where}/leaderboard"),
            _("A giveaway: {address}").format(
                address=f"{where}/giveaways/<{_('giveaway id')}>"
            ),
        ]
        if not base:
            lines.append(
                _("(after the web server's address; set WEB_PUBLIC_URL to show it here)")
            )
        if not self.bot.settings.web_enabled:
            lines.append(_("The web server is off in this bot's configuration (WEB_ENABLED)."))
        return "\n".join(lines)

    def status_embed(self, guild_id: int, enabled: bool) -> discord.Embed:
        embed = discord.Embed(
            title=_("Public pages are on") if enabled else _("Public pages are off"),
            description=(
                _(
                    "Anyone with the link can see the XP and money leaderboards (display names "
                    "only) and each giveaway's draw with its check."
                )
                if enabled
                else _("The pages answer “not found”, as for a server that does not exist.")
            ),
            colour=BLURPLE,
        )
        embed.add_field(name=_("Addresses"), value=self.addresses(guild_id), inline=False)
        return embed

    @public_pages.command(name="show", description="Show whether the public pages are on.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        enabled = await public_pages_on(interaction.guild.id)
        await interaction.response.send_message(
            embed=self.status_embed(interaction.guild.id, enabled), ephemeral=True
        )

    @public_pages.command(name="set", description="Switch the public pages on or off.")
    @app_commands.describe(enabled=WEB["public_pages_enabled"].help)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def set(self, interaction: discord.Interaction, enabled: bool) -> None:
        assert interaction.guild is not None
        stored = await set_public_pages(interaction.guild.id, interaction.user.id, enabled)
        await interaction.response.send_message(
            embed=self.status_embed(interaction.guild.id, stored), ephemeral=True
        )


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(PublicPages(bot))
