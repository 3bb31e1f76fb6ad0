"""/case, /cases, /reason and /modlog."""

from __future__ import annotations

import math

import discord
from discord import app_commands
from discord.ext import commands

from cogs.moderation.support import Enforcer, case_embed, check_record_change, utcnow
from pegasus.bot import Pegasus
from pegasus.errors import ValidationError
from pegasus.services import attachments, moderation
from pegasus.services.durations import format_duration
from pegasus.ui.checks import require_bot_can_post
from pegasus.ui.evidence import show_with_kept_proof
from pegasus.ui.format import BLURPLE, clip, page_of, plural, timestamp


class Cases(commands.Cog, name="Moderation cases"):
    """Looking up and amending cases, and where they are posted."""

    def __init__(self, bot: Pegasus, enforcer: Enforcer) -> None:
        self.bot = bot
        self.enforcer = enforcer

    @app_commands.command(name="case", description="Show one moderation case.")
    @app_commands.describe(number="The case number, as in the modlog")
    @app_commands.guild_only()
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.checks.has_permissions(moderate_members=True)
    async def case(
        self, interaction: discord.Interaction, number: app_commands.Range[int, 1]
    ) -> None:
        assert interaction.guild_id is not None
        found = await moderation.get_case(interaction.guild_id, number)
        kept = await attachments.files_of_case(interaction.guild_id, found.id)
        await show_with_kept_proof(interaction, case_embed(found), found.proof, kept)

    @app_commands.command(name="cases", description="List a member's moderation cases.")
    @app_commands.describe(member="Whose cases to list", page="Which page (10 cases per page)")
    @app_commands.guild_only()
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.checks.has_permissions(moderate_members=True)
    async def cases(
        self,
        interaction: discord.Interaction,
        member: discord.User,
        page: app_commands.Range[int, 1] = 1,
    ) -> None:
        assert interaction.guild_id is not None
        found, total = await moderation.list_cases(interaction.guild_id, member.id, page=page)
        pages = max(1, math.ceil(total / moderation.CASES_PER_PAGE))
        if total and page > pages:
            verb = "is" if pages == 1 else "are"
            raise ValidationError(f"There {verb} only {plural(pages, 'page')}.")
        embed = discord.Embed(
            title=f"Cases of {member.display_name}",
            colour=BLURPLE,
            description=None if found else f"{member.mention} has no cases.",
        )
        for item in found:
            line = item.reason or "No reason given"
            if item.duration_seconds:
                line = f"{format_duration(item.duration_seconds)} · {line}"
            if item.active:
                line += " · **running**"
            embed.add_field(
                name=f"#{item.case_number} · {item.type.capitalize()}",
                value=f"{clip(line, 200)}\n{timestamp(item.created_at)}",
                inline=False,
            )
        embed.set_footer(text=f"{page_of(page, pages)} · {plural(total, 'case')}")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(
        name="reason", description="Change the reason of a case (kept on record)."
    )
    @app_commands.describe(case_number="The case to amend", reason="The new reason")
    @app_commands.guild_only()
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.checks.has_permissions(moderate_members=True)
    async def reason(
        self,
        interaction: discord.Interaction,
        case_number: app_commands.Range[int, 1],
        reason: app_commands.Range[str, 1, 1000],
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        existing = await moderation.get_case(guild.id, case_number)
        check_record_change(
            interaction,
            verb="change the reason of",
            record="a case",
            subject_id=existing.user_id,
            issuer_id=existing.moderator_id,
        )
        case, old = await moderation.amend_reason(
            guild.id, case_number, reason, editor_id=interaction.user.id, now=utcnow()
        )
        await interaction.response.send_message(
            f"Case #{case_number}: reason changed from “{old or 'no reason'}” to “{case.reason}”.",
            ephemeral=True,
        )
        await self.enforcer.refresh_modlog(guild, case)

    @commands.Cog.listener()
    async def on_case_reason_changed(self, case: moderation.Case) -> None:
        """A reason changed elsewhere (the REST API): the modlog post shows the new one too."""
        guild = self.bot.get_guild(case.guild_id)
        if guild is not None:
            await self.enforcer.refresh_modlog(guild, case)

    @app_commands.command(name="modlog", description="Set the channel where cases are posted.")
    @app_commands.describe(channel=moderation.SETTINGS["modlog_channel_id"].help)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def modlog(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        if channel is not None:
            require_bot_can_post(channel, embeds=True)
        await moderation.set_modlog_channel(
            guild.id, channel.id if channel else None, actor_id=interaction.user.id
        )
        text = (
            f"Cases will be posted in {channel.mention}."
            if channel
            else "Cases will no longer be posted."
        )
        await interaction.response.send_message(text, ephemeral=True)
