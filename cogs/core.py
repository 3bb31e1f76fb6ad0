"""Core: keeps guilds, users and members in the database, and answers /ping and /help."""

from __future__ import annotations

import logging
import math

import discord
from discord import app_commands
from discord.ext import commands

from pegasus.bot import Pegasus
from pegasus.services import directory
from pegasus.services.directory import MemberInfo, UserInfo

log = logging.getLogger(__name__)

EMBED_COLOUR = 0x5865F2


def user_info(user: discord.abc.User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.name,
        global_name=user.global_name,
        discriminator=user.discriminator,
        avatar=user.avatar.key if user.avatar else None,
        is_bot=user.bot,
    )


def member_info(member: discord.Member) -> MemberInfo:
    return MemberInfo(user=user_info(member), nickname=member.nick, joined_at=member.joined_at)


class Core(commands.Cog):
    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    async def _store_guild(self, guild: discord.Guild) -> None:
        await directory.mark_guild_joined(guild.id)
        await directory.upsert_members(guild.id, [member_info(m) for m in guild.members])

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self._store_guild(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._store_guild(guild)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await directory.mark_guild_left(guild.id)

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        await directory.upsert_members(member.guild.id, [member_info(member)])

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.nick != after.nick:
            await directory.upsert_members(after.guild.id, [member_info(after)])

    @commands.Cog.listener()
    async def on_user_update(self, before: discord.User, after: discord.User) -> None:
        if (before.name, before.global_name, before.avatar) != (
            after.name,
            after.global_name,
            after.avatar,
        ):
            await directory.upsert_users_now([user_info(after)])

    @app_commands.command(name="ping", description="Check that Pegasus is awake.")
    async def ping(self, interaction: discord.Interaction) -> None:
        latency = self.bot.latency
        shown = f"{latency * 1000:.0f} ms" if math.isfinite(latency) else "not measured yet"
        await interaction.response.send_message(f"Pong! Gateway latency: {shown}.", ephemeral=True)

    @app_commands.command(name="help", description="List what Pegasus can do and how to use it.")
    async def help(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(embed=self.help_embed(), ephemeral=True)

    def help_embed(self) -> discord.Embed:
        embed = discord.Embed(
            title="Pegasus",
            description="Moderation, economy, levels, tickets and giveaways in one bot.",
            colour=EMBED_COLOUR,
        )
        for command in sorted(self.bot.tree.get_commands(), key=lambda c: c.name):
            embed.add_field(name=f"/{command.name}", value=command.description or "—", inline=True)
            if len(embed.fields) == 25:
                break
        return embed


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Core(bot))
