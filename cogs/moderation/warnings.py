"""/warn, /warnings and /warning edit|remove|purge|history."""

from __future__ import annotations

from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands

from cogs.moderation.support import (
    Enforcer,
    check_record_change,
    check_target,
    describe_action,
    utcnow,
)
from pegasus.bot import Pegasus
from pegasus.errors import ConflictError, user_ref
from pegasus.i18n import (
    N_,
    _,
    for_direct_message,
    format_number,
    ngettext,
    pgettext,
)
from pegasus.services import attachments, moderation
from pegasus.services.attachments import EvidenceOwner
from pegasus.services.durations import parse_duration
from pegasus.services.moderation import IssuedWarning, WarningChange, WarningEditKind, WarningRecord
from pegasus.ui.converters import HttpsLinkConverter
from pegasus.ui.evidence import proof_sources, show_with_kept_proof
from pegasus.ui.format import DESCRIPTION_LIMIT, GOLD, clip, timestamp
from pegasus.ui.views import confirm

WARNING_COLOUR = GOLD
MAX_LISTED = 15


def warning_line(warning: WarningRecord, now: datetime) -> str:
    state = ""
    if warning.removed_at is not None:
        state = " · " + _("removed")
    elif not warning.active or (warning.expires_at and warning.expires_at <= now):
        state = " · " + _("expired")
    elif warning.expires_at:
        state = " · " + _("expires {time}").format(time=timestamp(warning.expires_at))
    head = _("{warning} · level {level}").format(
        warning=f"`{warning.warn_id}`", level=warning.level
    )
    by = _("by {member} {time}").format(
        member=f"<@{warning.moderator_id}>", time=timestamp(warning.created_at)
    )
    return f"{head} · **{warning.title}**{state}\n{by}"


ProofLink = app_commands.Transform[str, HttpsLinkConverter(what=N_("proof link"))]


class Warnings(commands.Cog, name="Warnings"):
    """Warnings with levels, their history, and the automations they set off."""

    warning = app_commands.Group(
        name="warning",
        description="Edit, remove or inspect a warning.",
        guild_only=True,
        default_permissions=discord.Permissions(moderate_members=True),
    )

    def __init__(self, bot: Pegasus, enforcer: Enforcer) -> None:
        self.bot = bot
        self.enforcer = enforcer

    @app_commands.command(name="warn", description="Warn a member; the warning is kept on record.")
    @app_commands.describe(
        member="Who to warn",
        title="What the warning is for, in a few words",
        description="More detail",
        level="How serious, from 1 (minor) to 5 (severe)",
        proof="A screenshot or file as evidence",
        proof_url="A link to evidence (https://…)",
        expires="Let the warning lapse after, e.g. 30d; leave empty to keep it",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.checks.has_permissions(moderate_members=True)
    async def warn(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        title: app_commands.Range[str, 1, 256],
        description: app_commands.Range[str, 1, 2000] | None = None,
        level: app_commands.Range[int, 1, 5] = 1,
        proof: discord.Attachment | None = None,
        proof_url: ProofLink | None = None,
        expires: str | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        check_target(interaction, member, N_("warn"), bot_must_outrank=False)
        expires_in = parse_duration(expires) if expires else None
        evidence = [item for item in (proof.url if proof else None, proof_url) if item]
        issued = await moderation.issue_warning(
            guild_id=guild.id,
            user_id=member.id,
            moderator_id=interaction.user.id,
            title=title,
            description=description,
            level=level,
            proof=evidence,
            expires_in_seconds=expires_in,
            now=utcnow(),
        )
        if issued.fired:
            self.bot.scheduler.wake()  # the automations' actions are due now
        await interaction.response.send_message(embed=self._issued_embed(member, issued))
        await self.enforcer.post_case(guild, issued.case)
        with for_direct_message(member.id, guild.id):
            extra = _("Warning {warning}, level {level}").format(
                warning=f"`{issued.warning.warn_id}`", level=level
            )
        await self.enforcer.notify(
            member,
            guild,
            "warned",
            title,
            extra=extra + (f"\n{description}" if description else ""),
        )
        await self._keep_proof(interaction, issued, proof, proof_url)

    async def _keep_proof(
        self,
        interaction: discord.Interaction,
        issued: IssuedWarning,
        proof: discord.Attachment | None,
        proof_url: str | None,
    ) -> None:
        """Copy the proof into the attachment store, since Discord's links expire; the
        moderator is told privately about a file that could not be kept."""
        keeper = self.bot.attachment_keeper
        sources = proof_sources(keeper, proof, proof_url)
        if not sources:
            return
        warning, case = issued.warning, issued.case
        owners = [EvidenceOwner(warning_id=warning.id), EvidenceOwner(case_id=case.id)]
        kept = await keeper.keep(warning.guild_id, sources, owners)
        notes = [file.note for file in kept if file.note]
        if notes:
            await interaction.followup.send(
                "\n".join(f"⚠️ {discord.utils.escape_markdown(note)}" for note in notes),
                ephemeral=True,
            )

    @staticmethod
    def _issued_embed(member: discord.Member, issued: IssuedWarning) -> discord.Embed:
        warning = issued.warning
        embed = discord.Embed(
            description=_("{member} was warned: **{title}**").format(
                member=member.mention, title=warning.title
            ),
            colour=WARNING_COLOUR,
        )
        embed.add_field(name=_("Warning"), value=f"`{warning.warn_id}`", inline=True)
        embed.add_field(name=_("Level"), value=str(warning.level), inline=True)
        if warning.expires_at:
            embed.add_field(name=_("Expires"), value=timestamp(warning.expires_at), inline=True)
        for firing in issued.fired:
            actions = ", ".join(describe_action(a) for a in firing.automation.actions)
            embed.add_field(
                name=_("Automation: {name}").format(name=firing.automation.name),
                value=_("{trigger} reached → {actions}").format(
                    trigger=moderation.describe_trigger(firing.automation), actions=actions
                ),
                inline=False,
            )
        embed.set_footer(text=_("Case #{number}").format(number=issued.case.case_number))
        return embed

    @app_commands.command(name="warnings", description="List a member's warnings.")
    @app_commands.describe(member="Whose warnings to list")
    @app_commands.guild_only()
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.checks.has_permissions(moderate_members=True)
    async def list_warnings(self, interaction: discord.Interaction, member: discord.User) -> None:
        assert interaction.guild_id is not None
        now = utcnow()
        found = await moderation.list_warnings(interaction.guild_id, member.id, now=now)
        counting = [w for w in found if w.counts_at(now)]
        embed = discord.Embed(
            title=_("Warnings of {member}").format(member=member.display_name),
            colour=WARNING_COLOUR,
            description=clip(
                "\n\n".join(warning_line(w, now) for w in found[:MAX_LISTED]),
                DESCRIPTION_LIMIT,
            )
            or _("{member} has no warnings.").format(member=member.mention),
        )
        level_total = sum(w.level for w in counting)
        footer = _("{active} active (levels total {levels}) · {total} in all").format(
            active=format_number(len(counting)),
            levels=format_number(level_total),
            total=format_number(len(found)),
        )
        if len(found) > MAX_LISTED:
            footer += " · " + _("showing the newest {count}").format(count=MAX_LISTED)
        embed.set_footer(text=footer)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @warning.command(name="edit", description="Change a warning's title, description or level.")
    @app_commands.describe(
        warn_id="The warning's id, e.g. W-7K2QX",
        title="New title",
        description="New description",
        level="New level, 1-5",
    )
    @app_commands.checks.has_permissions(moderate_members=True)
    async def edit(
        self,
        interaction: discord.Interaction,
        warn_id: str,
        title: app_commands.Range[str, 1, 256] | None = None,
        description: app_commands.Range[str, 1, 2000] | None = None,
        level: app_commands.Range[int, 1, 5] | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await self._check_may_change(interaction, warn_id, N_("edit"))
        warning, edit = await moderation.edit_warning(
            interaction.guild_id,
            warn_id,
            editor_id=interaction.user.id,
            now=utcnow(),
            title=title,
            description=description,
            level=level,
        )
        changes = "\n".join(
            f"**{_field(key)}:** {edit.before.get(key) or '—'} → {edit.after.get(key) or '—'}"
            for key in edit.after
        )
        await interaction.response.send_message(
            _("Warning {warning} updated (the old values are kept in its history):").format(
                warning=f"`{warning.warn_id}`"
            )
            + f"\n{changes}",
            ephemeral=True,
        )

    @warning.command(name="remove", description="Remove a warning (it is kept, made inactive).")
    @app_commands.describe(warn_id="The warning's id, e.g. W-7K2QX", reason="Why it is removed")
    @app_commands.checks.has_permissions(moderate_members=True)
    async def remove(
        self,
        interaction: discord.Interaction,
        warn_id: str,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await self._check_may_change(interaction, warn_id, N_("remove"))
        warning = await moderation.remove_warning(
            interaction.guild_id,
            warn_id,
            remover_id=interaction.user.id,
            now=utcnow(),
            reason=reason,
        )
        await interaction.response.send_message(
            _(
                "Warning {warning} of {member} removed; "
                "it no longer counts and stays in the record."
            ).format(warning=f"`{warning.warn_id}`", member=f"<@{warning.user_id}>"),
            ephemeral=True,
        )

    @warning.command(name="purge", description="Clear all of a member's active warnings.")
    @app_commands.describe(
        member="Whose active warnings to clear",
        reason="Why they are cleared (kept in each warning's history)",
    )
    @app_commands.checks.has_permissions(moderate_members=True)
    async def purge(
        self,
        interaction: discord.Interaction,
        member: discord.User,
        reason: app_commands.Range[str, 1, 1000],
    ) -> None:
        assert interaction.guild_id is not None
        now = utcnow()
        found = await moderation.list_warnings(
            interaction.guild_id, member.id, now=now, include_inactive=False
        )
        if not found:
            raise ConflictError(_("{member} has no active warnings."), member=user_ref(member.id))
        for issuer_id in sorted({warning.moderator_id for warning in found}, key=str):
            check_record_change(
                interaction,
                verb=N_("clear"),
                record=N_("warnings"),
                subject_id=member.id,
                issuer_id=issuer_id,
            )

        async def clear(click: discord.Interaction) -> None:
            purged = await moderation.purge_warnings(
                interaction.guild_id or 0,
                member.id,
                [warning.warn_id for warning in found],
                remover_id=interaction.user.id,
                now=utcnow(),
                reason=reason,
            )
            count = len(purged.warn_ids)
            await click.response.edit_message(
                content=ngettext(
                    "Cleared {count} active warning of {member}: {warnings}. It no longer "
                    "counts and stays in the record.",
                    "Cleared {count} active warnings of {member}: {warnings}. They no longer "
                    "count and stay in the record.",
                    count,
                ).format(
                    count=format_number(count),
                    member=member.mention,
                    warnings=", ".join(f"`{warn_id}`" for warn_id in purged.warn_ids),
                ),
                view=None,
            )

        await confirm(
            interaction,
            ngettext(
                "Clear {count} active warning of {member}? It stops counting "
                "for good (it stays in the record, with your reason).",
                "Clear {count} active warnings of {member}? They stop counting "
                "for good (they stay in the record, with your reason).",
                len(found),
            ).format(count=format_number(len(found)), member=member.mention),
            clear,
            confirm_label=_("Clear"),
        )

    @staticmethod
    async def _check_may_change(interaction: discord.Interaction, warn_id: str, verb: str) -> None:
        """The rules of /warn hold for changing a warning, and its moderator's rank is respected."""
        assert interaction.guild_id is not None
        warning = await moderation.get_warning(interaction.guild_id, warn_id)
        check_record_change(
            interaction,
            verb=verb,
            record=N_("a warning"),
            subject_id=warning.user_id,
            issuer_id=warning.moderator_id,
        )

    @warning.command(name="history", description="Show a warning and every change made to it.")
    @app_commands.describe(warn_id="The warning's id, e.g. W-7K2QX")
    @app_commands.checks.has_permissions(moderate_members=True)
    async def history(self, interaction: discord.Interaction, warn_id: str) -> None:
        assert interaction.guild_id is not None
        warning, edits = await moderation.warning_history(interaction.guild_id, warn_id)
        embed = discord.Embed(
            title=_("Warning {warning}").format(warning=warning.warn_id),
            colour=WARNING_COLOUR,
            description=warning_line(warning, utcnow()),
        )
        embed.add_field(name=_("Member"), value=f"<@{warning.user_id}>", inline=True)
        if warning.description:
            embed.add_field(name=_("Description"), value=clip(warning.description), inline=False)
        if warning.proof:
            embed.add_field(name=_("Proof"), value=clip("\n".join(warning.proof)), inline=False)
        for edit in edits[-20:]:
            kind = _edit_kind(edit.kind)
            embed.add_field(
                name=f"{kind} {timestamp(edit.created_at)}",
                value=_describe_edit(edit),
                inline=False,
            )
        if not edits:
            embed.add_field(name=_("History"), value=_("Never changed."), inline=False)
        kept = await attachments.files_of_warning(interaction.guild_id, warning.id)
        await show_with_kept_proof(interaction, embed, warning.proof, kept)


def _describe_edit(edit: WarningChange) -> str:
    who = (
        _("by {member}").format(member=f"<@{edit.editor_id}>")
        if edit.editor_id
        else _("by automatically")
    )
    if edit.kind == WarningEditKind.EDIT:
        changes = "; ".join(
            f"{_field(key)}: {edit.before.get(key) or '—'} → {edit.after.get(key) or '—'}"
            for key in edit.after
        )
        return clip(f"{who}: {changes}")
    if edit.kind == WarningEditKind.REMOVE:
        return who + (f": {edit.reason}" if edit.reason else "")
    return _("expired")


# A warning's fields and the kinds of change to it, as its history shows them.
FIELD_NAMES = {"title": N_("title"), "description": N_("description"), "level": N_("level")}


def _field(key: str) -> str:
    return _(FIELD_NAMES[key]) if key in FIELD_NAMES else key


def _edit_kind(kind: str) -> str:
    names = {
        WarningEditKind.EDIT: pgettext("warning change", "Edit"),
        WarningEditKind.REMOVE: pgettext("warning change", "Remove"),
        WarningEditKind.EXPIRE: pgettext("warning change", "Expire"),
    }
    return names.get(kind) or kind.capitalize()
