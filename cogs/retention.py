"""Retention: a server's data after Pegasus leaves it, and how long its records are kept.

The rules live in pegasus.services.retention; this module tells it when the bot leaves or comes
back (and, at connection, which servers the gateway lists), runs its two scheduled actions (a
left server's deletion, the periodic sweep) and offers `/retention`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import utcnow

from models.scheduling import ScheduledAction
from pegasus.bot import Pegasus
from pegasus.i18n import _, format_number, ngettext
from pegasus.services import retention
from pegasus.services.durations import format_duration
from pegasus.services.retention import SETTINGS as RETENTION
from pegasus.services.retention import LeftGuildOutcome, RetentionSettings
from pegasus.ui.checks import MANAGE_SERVER
from pegasus.ui.format import BLURPLE

log = logging.getLogger(__name__)

DAYS = app_commands.Range[int, *RETENTION.bounds("retention_ticket_days")]


def days_text(days: int) -> str:
    return ngettext("{count} day", "{count} days", days).format(count=format_number(days))


def kept_for(days: int) -> str:
    return _("kept") if days == 0 else days_text(days)


def grace_text(grace: timedelta) -> str:
    """When a left server's data goes: "30 days later", "at once"."""
    seconds = int(grace.total_seconds())
    if seconds <= 0:
        return _("at once")
    if seconds % 86400 == 0:
        return _("{span} later").format(span=days_text(seconds // 86400))
    return _("{span} later").format(span=format_duration(seconds))


class Retention(commands.Cog):
    """Deletes a server's data a while after Pegasus leaves it, and old records by setting."""

    retention_group = app_commands.Group(
        name="retention",
        description="How long Pegasus keeps this server's records.",
        guild_only=True,
        default_permissions=MANAGE_SERVER,
    )

    def __init__(self, bot: Pegasus) -> None:
        self.bot = bot

    @property
    def grace(self) -> timedelta:
        """How long a left server's data is kept (GUILD_DATA_RETENTION_DAYS)."""
        return timedelta(days=self.bot.settings.guild_data_retention_days)

    async def cog_load(self) -> None:
        self.bot.scheduler.register(retention.PURGE_KIND, self._on_purge_due)
        self.bot.scheduler.register(retention.SWEEP_KIND, self._on_sweep_due)
        await retention.ensure_sweep_scheduled(utcnow())

    async def cog_unload(self) -> None:
        self.bot.scheduler.unregister(retention.PURGE_KIND)
        self.bot.scheduler.unregister(retention.SWEEP_KIND)

    # --------------------------------------------------------------------------------------------
    # leaving and coming back

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        due = await retention.guild_left(
            guild.id, now=utcnow(), grace=self.grace
        )
        log.info("Left guild %s: its data will be deleted at %s", guild.id, due.isoformat())
        self.bot.scheduler.wake()  # a grace of 0 days deletes at once

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        if await retention.guild_back(guild.id):
            log.info("Back in guild %s before its data was deleted: it is kept", guild.id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # Joins and removals that happened while the bot was offline come with no event.
        changed = await retention.reconcile_guilds(
            [guild.id for guild in self.bot.guilds],
            owned=self.bot.owns_guild,
            now=utcnow(),
            grace=self.grace,
        )
        if changed.back or changed.gone:
            log.info(
                "Guilds back while offline: %s; removed while offline: %s",
                list(changed.back),
                list(changed.gone),
            )

    async def _on_purge_due(self, action: ScheduledAction) -> dict[str, Any]:
        # Only the complete list of guilds (after READY) says whether the bot is back.
        await self.bot.wait_until_ready()
        guild_id = int(action.payload["guild_id"])
        outcome, summary = await retention.purge_left_guild(
            guild_id,
            bot_is_there=self.bot.get_guild(guild_id) is not None,
            now=utcnow(),
            grace=self.grace,
            action_id=action.id,
        )
        rows = summary.rows if summary is not None else 0
        if outcome is LeftGuildOutcome.PURGED:
            log.info("Deleted the data of guild %s (left): %d rows", guild_id, rows)
        return {"outcome": outcome.value, "rows": rows}

    async def _on_sweep_due(self, _action: ScheduledAction) -> dict[str, int]:
        now = utcnow()
        try:
            swept = await retention.sweep(now)
        finally:
            await retention.schedule_next_sweep(now)
        if swept.rows:
            log.info(
                "Retention: deleted %d ticket messages, %d security logs, %d audit logs",
                swept.ticket_messages,
                swept.security_logs,
                swept.audit_logs,
            )
        return {
            "ticket_messages": swept.ticket_messages,
            "security_logs": swept.security_logs,
            "audit_logs": swept.audit_logs,
        }

    # --------------------------------------------------------------------------------------------
    # /retention

    def settings_embed(self, settings: RetentionSettings) -> discord.Embed:
        grace = self.grace
        embed = discord.Embed(title=_("Retention"), colour=BLURPLE)
        if settings.ticket_days == 0:
            tickets = _("kept after the ticket closed")
        else:
            tickets = _("{span} after the ticket closed").format(
                span=days_text(settings.ticket_days)
            )
        embed.add_field(
            name=_("Closed tickets' messages and transcripts"), value=tickets, inline=False
        )
        embed.add_field(
            name=_("Security logs"), value=kept_for(settings.security_log_days), inline=False
        )
        embed.add_field(
            name=_("Audit logs"), value=kept_for(settings.audit_log_days), inline=False
        )
        embed.set_footer(
            text=_(
                "If Pegasus leaves this server, all of its data is deleted {when} unless it is "
                "added back first."
            ).format(when=grace_text(grace))
        )
        return embed

    @retention_group.command(
        name="show", description="Show how long this server's records are kept."
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def retention_show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        settings = await retention.retention_settings(interaction.guild.id)
        await interaction.response.send_message(embed=self.settings_embed(settings), ephemeral=True)

    @retention_group.command(
        name="set", description="Change how long this server's records are kept."
    )
    @app_commands.describe(
        tickets=RETENTION["retention_ticket_days"].help,
        security_logs=RETENTION["retention_security_log_days"].help,
        audit_logs=RETENTION["retention_audit_log_days"].help,
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def retention_set(
        self,
        interaction: discord.Interaction,
        tickets: DAYS | None = None,
        security_logs: DAYS | None = None,
        audit_logs: DAYS | None = None,
    ) -> None:
        assert interaction.guild is not None
        settings = await retention.update_retention_settings(
            interaction.guild.id,
            interaction.user.id,
            ticket_days=tickets,
            security_log_days=security_logs,
            audit_log_days=audit_logs,
        )
        await interaction.response.send_message(
            _("Retention saved: older records are deleted within the hour."),
            embed=self.settings_embed(settings),
            ephemeral=True,
        )


async def setup(bot: Pegasus) -> None:
    await bot.add_cog(Retention(bot))
