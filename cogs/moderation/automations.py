"""/automation add|list|remove|toggle|simulate, and running the actions of a fired automation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs.moderation.support import Enforcer, describe_action, utcnow
from models.scheduling import ScheduledAction
from pegasus.bot import Pegasus
from pegasus.errors import PegasusError, PermissionDenied
from pegasus.i18n import (
    N_,
    _,
    for_direct_message,
    for_guild,
    format_number,
    ngettext,
)
from pegasus.services import moderation
from pegasus.services.durations import parse_duration
from pegasus.services.moderation import Automation, AutomationActionType
from pegasus.ui.checks import require_bot_can_post
from pegasus.ui.format import PURPLE, clip
from pegasus.ui.hierarchy import check_bot_outranks
from pegasus.ui.roles import remember_role_setup, require_can_delegate, vet_grants
from pegasus.ui.views import confirm

log = logging.getLogger(__name__)

AUTOMATION_COLOUR = PURPLE
READY_WAIT_SECONDS = 120  # an action due at start-up waits for the gateway, then retries
TRIGGER_CHOICES = [
    app_commands.Choice(name="Number of active warnings", value="warn_count"),
    app_commands.Choice(name="Total level of active warnings", value="level_total"),
]
ACTION_CHOICES = [
    app_commands.Choice(name="Time out (needs a duration)", value="timeout"),
    app_commands.Choice(name="Mute with the Muted role", value="mute"),
    app_commands.Choice(name="Kick", value="kick"),
    app_commands.Choice(name="Ban", value="ban"),
    app_commands.Choice(name="Give a role", value="role"),
    app_commands.Choice(name="Send them a message", value="message"),
]


def automation_summary(automation: Automation) -> str:
    actions = ", ".join(describe_action(a) for a in automation.actions)
    state = _("on") if automation.enabled else _("off")
    text = _("When {trigger}: {actions} · **{state}**").format(
        trigger=moderation.describe_trigger(automation), actions=actions, state=state
    )
    if automation.notify_channel_id:
        text += " · " + _("notifies {channel}").format(channel=f"<#{automation.notify_channel_id}>")
    if automation.trigger_count:
        text += " · " + _("fired {count}×").format(count=format_number(automation.trigger_count))
    return text


class Automations(commands.Cog, name="Warning automations"):
    """Rules that act on their own when warnings pile up."""

    automation = app_commands.Group(
        name="automation",
        description="Rules that act when a member's warnings reach a threshold.",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: Pegasus, enforcer: Enforcer) -> None:
        self.bot = bot
        self.enforcer = enforcer

    @automation.command(name="add", description="Create a rule (off until you switch it on).")
    @app_commands.describe(
        name="A name for the rule",
        trigger="What to count",
        value="The threshold that sets the rule off",
        window_days="Only count warnings from the last N days (empty: all time)",
        action="What to do when the threshold is reached",
        duration="For timeout, mute and ban: how long, e.g. 1h, 7d",
        role="For the role action: the role to give",
        message="For the message action: what to tell the member",
        notify_channel="Where to report when the rule fires",
        enabled="Switch it on at once (default: off, so you can simulate it first)",
    )
    @app_commands.choices(trigger=TRIGGER_CHOICES, action=ACTION_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        trigger: app_commands.Choice[str],
        value: app_commands.Range[int, 1, 500],
        action: app_commands.Choice[str],
        window_days: app_commands.Range[int, 1, 3650] | None = None,
        duration: str | None = None,
        role: discord.Role | None = None,
        message: app_commands.Range[str, 1, 1000] | None = None,
        notify_channel: discord.TextChannel | None = None,
        enabled: bool = False,
    ) -> None:
        guild = interaction.guild
        assert guild is not None and isinstance(interaction.user, discord.Member)
        if role is not None:
            require_can_delegate(role, interaction.user)
        if notify_channel is not None:
            require_bot_can_post(notify_channel, what=N_("the rule's reports"), embeds=True)
        built = moderation.build_action(
            action.value,
            duration_seconds=parse_duration(duration) if duration else None,
            role_id=role.id if role else None,
            message=message,
        )
        created = await moderation.add_automation(
            guild.id,
            name=name,
            trigger_type=trigger.value,
            trigger_value=value,
            window_days=window_days,
            actions=[built],
            notify_channel_id=notify_channel.id if notify_channel else None,
            actor_id=interaction.user.id,
            now=utcnow(),
            enabled=enabled,
        )
        if role is not None:
            await remember_role_setup(role, interaction.user)
        text = _("Automation {id} **{name}** created.").format(
            id=f"`{created.automation_id}`", name=created.name
        )
        text += "\n" + automation_summary(created)
        if not enabled:
            text += "\n" + _(
                "It is **off**: try {simulate}, then {toggle} to switch it on."
            ).format(
                simulate=f"`/automation simulate id:{created.automation_id}`",
                toggle=f"`/automation toggle id:{created.automation_id}`",
            )
        await interaction.response.send_message(text, ephemeral=True)

    @automation.command(name="list", description="List this server's automations.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def list_(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        rules = await moderation.list_automations(interaction.guild_id)
        embed = discord.Embed(title=_("Warning automations"), colour=AUTOMATION_COLOUR)
        for rule in rules:
            embed.add_field(
                name=f"`{rule.automation_id}` · {rule.name}",
                value=clip(automation_summary(rule)),
                inline=False,
            )
        if not rules:
            embed.description = _("None yet. Create one with `/automation add`.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @automation.command(name="remove", description="Delete an automation.")
    @app_commands.rename(automation_id="id")
    @app_commands.describe(automation_id="The automation's id, e.g. A-7K2QX")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def remove(self, interaction: discord.Interaction, automation_id: str) -> None:
        assert interaction.guild_id is not None
        rule = await moderation.get_automation(interaction.guild_id, automation_id)
        guild_id = interaction.guild_id

        async def remove(decided: discord.Interaction) -> None:
            await moderation.remove_automation(
                guild_id, rule.automation_id, actor_id=interaction.user.id, now=utcnow()
            )
            await decided.response.edit_message(
                content=_("Automation {id} **{name}** deleted.").format(
                    id=f"`{rule.automation_id}`", name=rule.name
                ),
                view=None,
            )

        await confirm(
            interaction,
            _("Delete automation {id} **{name}**? This cannot be undone.").format(
                id=f"`{rule.automation_id}`", name=rule.name
            ),
            remove,
            confirm_label=_("Delete"),
        )

    @automation.command(name="toggle", description="Switch an automation on or off.")
    @app_commands.rename(automation_id="id")
    @app_commands.describe(automation_id="The automation's id, e.g. A-7K2QX")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def toggle(self, interaction: discord.Interaction, automation_id: str) -> None:
        assert interaction.guild_id is not None
        rule = await moderation.toggle_automation(
            interaction.guild_id, automation_id, actor_id=interaction.user.id, now=utcnow()
        )
        text = (
            _("Automation {id} **{name}** is now **on**.")
            if rule.enabled
            else _("Automation {id} **{name}** is now **off**.")
        )
        await interaction.response.send_message(
            text.format(id=f"`{rule.automation_id}`", name=rule.name), ephemeral=True
        )

    @automation.command(
        name="simulate", description="Count whom a rule would have hit over the stored warnings."
    )
    @app_commands.rename(automation_id="id")
    @app_commands.describe(automation_id="The automation's id, e.g. A-7K2QX")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def simulate(self, interaction: discord.Interaction, automation_id: str) -> None:
        assert interaction.guild_id is not None
        rule = await moderation.get_automation(interaction.guild_id, automation_id)
        result = await moderation.simulate(interaction.guild_id, rule.automation_id)
        times = ngettext("{count} time", "{count} times", result.firings).format(
            count=format_number(result.firings)
        )
        members = ngettext("{count} member", "{count} members", result.members_hit).format(
            count=format_number(result.members_hit)
        )
        await interaction.response.send_message(
            _(
                "Over the {warnings} stored warnings of {members} members, {id} **{name}** "
                "would have fired {times}, hitting {hit}."
            ).format(
                warnings=format_number(result.warnings_considered),
                members=format_number(result.members_considered),
                id=f"`{rule.automation_id}`",
                name=rule.name,
                times=times,
                hit=members,
            ),
            ephemeral=True,
        )

    # -- running a fired automation (a scheduled action) ---------------------------------------

    async def run_fired(self, action: ScheduledAction) -> None:
        """Carry out a fired automation's actions; failures are reported, never retried,
        so an action that worked is not repeated."""
        payload = action.payload
        rule = await moderation.find_automation(payload["automation_id"])
        # The scheduler starts before the gateway is ready; until READY every guild looks
        # missing, and the rule would be dropped as if the bot had left the server.
        await asyncio.wait_for(self.bot.wait_until_ready(), timeout=READY_WAIT_SECONDS)
        guild = self.bot.get_guild(action.guild_id or 0)
        if rule is None or guild is None:
            return  # deleted since, or the bot left the server
        member = guild.get_member(payload["user_id"])
        if member is None:
            try:
                member = await guild.fetch_member(payload["user_id"])
            except discord.NotFound:
                member = None
        warn_id = await moderation.warning_public_id(payload.get("warning_id"))
        metadata = {
            "automation_id": rule.automation_id,
            "automation_name": rule.name,
            "warn_id": warn_id,
        }
        # The reason, the outcomes and the report are the server's: in its language.
        with for_guild(guild.id):
            reason = _("Automation “{name}”: {trigger} reached").format(
                name=rule.name, trigger=moderation.describe_trigger(rule)
            )
            outcomes = []
            for step in rule.actions:
                outcomes.append(await self._run_step(guild, member, step, reason, metadata))
            await self._notify(guild, rule, payload["user_id"], payload.get("value"), outcomes)

    async def _run_step(
        self,
        guild: discord.Guild,
        member: discord.Member | None,
        step: Mapping[str, Any],
        reason: str,
        metadata: dict,
    ) -> str:
        kind = AutomationActionType(step["type"])
        described = describe_action(step)
        if member is None:
            return _("{action}: skipped, the member is not in the server").format(action=described)
        try:
            if kind in (
                AutomationActionType.TIMEOUT,
                AutomationActionType.MUTE,
                AutomationActionType.KICK,
                AutomationActionType.BAN,
            ):
                check_bot_outranks(guild, member, str(kind))
            case = await self._perform(guild, member, kind, step, reason, metadata)
        except (PegasusError, discord.HTTPException) as error:
            log.warning("Automation step %s in guild %s failed: %s", kind, guild.id, error)
            return _("{action}: failed ({error})").format(action=described, error=error)
        if case:
            return _("{action}: done (case #{number})").format(action=described, number=case)
        return _("{action}: done").format(action=described)

    async def _perform(
        self,
        guild: discord.Guild,
        member: discord.Member,
        kind: AutomationActionType,
        step: Mapping[str, Any],
        reason: str,
        metadata: dict,
    ) -> int | None:
        seconds = step.get("duration_seconds")
        if kind is AutomationActionType.TIMEOUT:
            case = await self.enforcer.timeout(
                member, moderator=None, reason=reason, duration_seconds=seconds, metadata=metadata
            )
        elif kind is AutomationActionType.MUTE:
            case = await self.enforcer.mute(
                member, moderator=None, reason=reason, duration_seconds=seconds, metadata=metadata
            )
        elif kind is AutomationActionType.KICK:
            case = await self.enforcer.kick(
                member, moderator=None, reason=reason, metadata=metadata
            )
        elif kind is AutomationActionType.BAN:
            case = await self.enforcer.ban(
                guild,
                member,
                moderator=None,
                reason=reason,
                duration_seconds=seconds,
                metadata=metadata,
            )
        elif kind is AutomationActionType.ROLE:
            role = guild.get_role(step["role_id"])
            if role is None:
                raise PermissionDenied(_("the role no longer exists"))
            if not await vet_grants(member, [role], purpose=f"automation: {reason}"):
                raise PermissionDenied(_("I may no longer give that role (see the server log)"))
            await member.add_roles(role, reason=f"Pegasus: {reason}"[:512])
            return None
        else:
            with for_direct_message(member.id, guild.id):
                title = _("A message from the moderators of {server}").format(server=guild.name)
            await member.send(
                embed=discord.Embed(
                    title=title, description=step["message"], colour=AUTOMATION_COLOUR
                )
            )
            return None
        return case.case_number

    async def _notify(
        self,
        guild: discord.Guild,
        rule: Automation,
        user_id: int,
        value: int | None,
        outcomes: list[str],
    ) -> None:
        channel = guild.get_channel(rule.notify_channel_id or 0)
        if not isinstance(channel, discord.TextChannel):
            return
        trigger = moderation.describe_trigger(rule)
        if value is not None:
            reached = _("{member} reached {trigger} (now {value}).").format(
                member=f"<@{user_id}>", trigger=trigger, value=format_number(value)
            )
        else:
            reached = _("{member} reached {trigger}.").format(
                member=f"<@{user_id}>", trigger=trigger
            )
        embed = discord.Embed(
            title=_("Automation fired: {name}").format(name=rule.name),
            description=reached,
            colour=AUTOMATION_COLOUR,
            timestamp=utcnow(),
        )
        embed.add_field(
            name=_("Actions"), value=clip("\n".join(outcomes)) or _("None"), inline=False
        )
        embed.set_footer(text=_("Automation {id}").format(id=rule.automation_id))
        try:
            await channel.send(embed=embed)
        except discord.HTTPException as error:
            log.warning("Could not post to the notify channel of %s: %s", rule, error)
