"""/case, /cases, /reason and /modlog."""

from __future__ import annotations

import math

import discord
from discord import app_commands
from discord.ext import commands

from cogs.moderation.support import Enforcer, case_embed, case_name, check_record_change, utcnow
from pegasus.bot import Pegasus
from pegasus.errors import ValidationError
from pegasus.i18n import N_, _, format_number, ngettext
from pegasus.services import attachments, moderation
from pegasus.services.durations import format_duration
from pegasus.ui.checks import require_bot_can_post
from pegasus.ui.evidence import show_with_kept_proof
from pegasus.ui.format import BLURPLE, clip, page_of, timestamp


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
            raise ValidationError(
                ngettext(
                    "There is only {count} page.", "There are only {count} pages.", pages
                ).format(count=format_number(pages))
            )
        embed = discord.Embed(
            title=_("Cases of {member}").format(member=member.display_name),
            colour=BLURPLE,
            description=None
            if found
            else _("{member} has no cases.").format(member=member.mention),
        )
        for item in found:
            line = item.reason or _("No reason given")
            if item.duration_seconds:
                line = f"{format_duration(item.duration_seconds)} · {line}"
            if item.active:
                line += " · " + _("**running**")
            embed.add_field(
                name=f"#{item.case_number} · {case_name(item.type)}",
                value=f"{clip(line, 200)}\n{timestamp(item.created_at)}",
                inline=False,
            )
        cases = ngettext("{count} case", "{count} cases", total).format(count=format_number(total))
        embed.set_footer(text=f"{page_of(page, pages)} · {cases}")
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
            verb=N_("change the reason of"),
            record=N_("a case"),
            subject_id=existing.user_id,
            issuer_id=existing.moderator_id,
        )
        case, old = await moderation.amend_reason(
            guild.id, case_number, reason, editor_id=interaction.user.id, now=utcnow()
        )
        await interaction.response.send_message(
            _("Case #{number}: reason changed from “{old}” to “{new}”.").format(
                number=case_number, old=old or _("no reason"), new=case.reason
            ),
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
            _("Cases will be posted in {channel}.").format(channel=channel.mention)
            if channel
            else _("Cases will no longer be posted.")
        )
        await interaction.response.send_message(text, ephemeral=True)
