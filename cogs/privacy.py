"""/privacy export and /privacy delete: a member sees, or erases, what Pegasus stores about them.

What each feature stores, exports, erases and keeps is declared beside the feature
(pegasus.services.<feature>.privacy); this module delivers the file and asks for confirmation.
"""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.ext import commands

from pegasus.bot import Pegasus
from pegasus.i18n import N_, _, format_number
from pegasus.services import privacy as service
from pegasus.services.privacy import ErasurePlan, ErasureReport, Kept, MemberExport
from pegasus.ui.format import BLURPLE, DESCRIPTION_LIMIT, clip
from pegasus.ui.views import confirm

DELIVERED_BY_DM = N_("Your data from this server is in your direct messages.")
DMS_CLOSED = N_(
    "Your direct messages are closed, so here is your data from this server; only you can see "
    "this file."
)


def export_file(export: MemberExport) -> discord.File:
    return discord.File(io.BytesIO(export.to_json()), filename=export.filename)


def kept_lines(kept: tuple[Kept, ...]) -> list[str]:
    return [_("- {what}: {why}.").format(what=_(item.what), why=_(item.why)) for item in kept]


def erasure_prompt(plan: ErasurePlan) -> str:
    """What an erasure deletes and keeps: an embed's description (longer than a message may be
    once translated)."""
    return "\n".join(
        [
            _("**This deletes, in this server and for good:**"),
            *(f"- {_(what)}" for what in plan.erased),
            _("**What stays, and why:**"),
            *kept_lines(plan.kept),
        ]
    )


def erasure_embed(description: str) -> discord.Embed:
    return discord.Embed(description=clip(description, DESCRIPTION_LIMIT), colour=BLURPLE)


def erasure_reply(report: ErasureReport) -> str:
    """What an erasure did and kept: an embed's description, like the prompt."""
    if report.removed:
        removed = ", ".join(
            f"{_(label)} ({format_number(count)})" for _feature, label, count in report.removed
        )
        done = _("Your data in this server was deleted: {removed}.").format(removed=removed)
    else:
        done = _("There was nothing of yours to delete in this server.")
    return "\n".join([done, _("**Kept, and why:**"), *kept_lines(report.kept)])


class Privacy(commands.Cog):
    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    privacy = app_commands.Group(
        name="privacy",
        description="See or delete what Pegasus stores about you in this server.",
        guild_only=True,
    )

    @privacy.command(
        name="export",
        description="Get a file of everything Pegasus stores about you here (once a day).",
    )
    async def export(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await service.export_member(
            interaction.guild_id, interaction.user.id, now=discord.utils.utcnow()
        )
        try:
            await interaction.user.send(
                _("Everything Pegasus stores about you in {server}, as of {moment}.").format(
                    server=interaction.guild, moment=discord.utils.format_dt(result.generated_at)
                ),
                file=export_file(result),
            )
        except discord.Forbidden:
            await interaction.followup.send(_(DMS_CLOSED), file=export_file(result), ephemeral=True)
            return
        await interaction.followup.send(_(DELIVERED_BY_DM), ephemeral=True)

    @privacy.command(
        name="delete",
        description="Delete what Pegasus stores about you in this server (asks to confirm).",
    )
    async def delete(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        guild_id, user_id = interaction.guild_id, interaction.user.id

        async def erase(click: discord.Interaction) -> None:
            await click.response.defer()
            if self.bot.activity_buffer is not None:
                # XP still in memory would land after the erasure: write it first, erase it too.
                await self.bot.activity_buffer.flush()
            report = await service.erase_member(
                guild_id, user_id, actor_id=user_id, now=discord.utils.utcnow()
            )
            await click.edit_original_response(
                content=None, embed=erasure_embed(erasure_reply(report)), view=None
            )
            # Features showing counts of members (a giveaway's entries) update what they posted.
            self.bot.dispatch("member_data_erased", guild_id, user_id)

        await confirm(
            interaction, _("Delete your data now?"), erase,
            confirm_label=_("Delete my data"), timeout=120,
            embed=erasure_embed(erasure_prompt(service.erasure_plan())),
        )


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Privacy(bot))

