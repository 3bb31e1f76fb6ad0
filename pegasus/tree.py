"""The one place where errors from commands and buttons become messages people read."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.app_commands import AppCommand

from pegasus import metrics
from pegasus.errors import PegasusError, PermissionDenied
from pegasus.i18n import N_, _, ngettext, pgettext
from pegasus.outage import DATABASE_UNAVAILABLE, health, is_database_unreachable
from pegasus.services.durations import format_duration
from pegasus.ui.checks import and_join
from pegasus.ui.translator import PegasusTranslator, translated_payload

log = logging.getLogger(__name__)

InteractionCheck = Callable[[discord.Interaction], Awaitable[None]]

# Discord's names of the permissions, as its clients show them (translated where shown).
PERMISSION_NAMES = {
    "manage_guild": N_("Manage Server"),
    "ban_members": N_("Ban Members"),
    "kick_members": N_("Kick Members"),
    "moderate_members": N_("Timeout Members"),
    "manage_roles": N_("Manage Roles"),
    "manage_channels": N_("Manage Channels"),
    "manage_messages": N_("Manage Messages"),
    "administrator": N_("Administrator"),
    "manage_webhooks": N_("Manage Webhooks"),
    "mention_everyone": N_("Mention Everyone"),
}


def permission_name(flag: str) -> str:
    """A permission as Discord's clients name it, in the current language."""
    known = PERMISSION_NAMES.get(flag)
    return _(known) if known is not None else flag.replace("_", " ").title()


def _permission_list(names: list[str]) -> str:
    return ", ".join(permission_name(n) for n in names)


# What a member is told they typed wrong, by the option's type (Discord checks the rest).
OPTION_KINDS: dict[discord.AppCommandOptionType, str] = {
    discord.AppCommandOptionType.string: N_("text"),
    discord.AppCommandOptionType.integer: N_("whole number"),
    discord.AppCommandOptionType.number: N_("number"),
    discord.AppCommandOptionType.boolean: N_("yes or no"),
    discord.AppCommandOptionType.user: N_("member"),
    discord.AppCommandOptionType.channel: N_("channel"),
    discord.AppCommandOptionType.role: N_("role"),
    discord.AppCommandOptionType.mentionable: N_("member or role"),
    discord.AppCommandOptionType.attachment: N_("file"),
}


def option_kind(option_type: discord.AppCommandOptionType) -> str:
    known = OPTION_KINDS.get(option_type)
    return _(known) if known is not None else option_type.name


def describe_error(error: Exception) -> str | None:
    """The message for an expected error, or None when the error is a bug to log."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        original = error.__cause__ if isinstance(error, app_commands.TransformerError) else None
        error = original or getattr(error, "original", error)
    if isinstance(error, PegasusError):
        return str(error)
    if is_database_unreachable(error):
        return _(DATABASE_UNAVAILABLE)
    if isinstance(error, app_commands.MissingPermissions):
        return _("You need the {permissions} permission to do that.").format(
            permissions=_permission_list(error.missing_permissions)
        )
    if isinstance(error, app_commands.BotMissingPermissions):
        return _(
            "I need the {permissions} permission to do that. Ask a server admin to grant it."
        ).format(permissions=_permission_list(error.missing_permissions))
    if isinstance(error, app_commands.NoPrivateMessage):
        return _("This command works only in a server.")
    if isinstance(error, app_commands.CommandOnCooldown):
        return _("Slow down: try again in {duration}.").format(
            duration=format_duration(max(1, math.ceil(error.retry_after)))
        )
    if isinstance(error, app_commands.TransformerError):
        # Translators: {kind} is Discord's option type (user, channel, role, number...).
        return _("`{value}` is not a valid {kind}.").format(
            value=error.value, kind=option_kind(error.type)
        )
    if isinstance(error, app_commands.CheckFailure):
        return _("You can't use this command here.")
    if isinstance(error, discord.Forbidden):
        return _(
            "Discord refused: I am missing a permission or my role is too low for that. "
            "Check my role's position and permissions."
        )
    return None


async def send_ephemeral(interaction: discord.Interaction, content: str) -> None:
    """Reply privately whether or not the interaction was already answered."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, ephemeral=True)
        else:
            await interaction.response.send_message(content, ephemeral=True)
    except discord.HTTPException:
        log.warning("Could not deliver an error message for interaction %s", interaction.id)


async def report_interaction_error(interaction: discord.Interaction, error: Exception) -> None:
    """Show an expected error as is; log an unexpected one with a reference the user sees."""
    await send_ephemeral(interaction, error_message(interaction, error))


def error_message(interaction: discord.Interaction, error: Exception) -> str:
    """What the member reads about `error`; an unexpected one is logged with that reference."""
    if is_database_unreachable(error):
        health.report(error)  # one WARNING per outage, not one ERROR per command
    message = describe_error(error)
    if message is None:
        reference = uuid.uuid4().hex[:8].upper()
        log.error(
            "Unexpected error (ref %s) in %s by %s in guild %s",
            reference,
            _interaction_name(interaction),
            interaction.user.id,
            interaction.guild_id,
            exc_info=error,
        )
        message = _(
            "Something went wrong on my side. Reference `{reference}`: give it to the "
            "server staff or the bot owner."
        ).format(reference=reference)
    return message


def _interaction_name(interaction: discord.Interaction) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data = interaction.data or {}
    return f"component {data.get('custom_id', '?')}"


AnyCommand = app_commands.Command | app_commands.Group | app_commands.ContextMenu


def default_permissions_of(command: AnyCommand) -> discord.Permissions | None:
    """The permissions Discord hides `command` behind by default.

    Discord reads `default_member_permissions` only on top-level commands, so a subcommand is
    governed by its root group's (a decorator on the subcommand itself has no effect there).
    """
    if isinstance(command, app_commands.Command | app_commands.Group):
        root = command.root_parent or command
        return root.default_permissions
    return command.default_permissions


def missing_permissions(required: discord.Permissions, held: discord.Permissions) -> list[str]:
    """Flag names of `required` that `held` lacks; an administrator lacks nothing."""
    if held.administrator:
        return []
    if required.value == 0:  # Discord's "no one but administrators"
        return ["administrator"]
    return [name for name, needed in required if needed and not getattr(held, name)]


def command_mention(command: AnyCommand) -> str:
    if isinstance(command, app_commands.ContextMenu):
        return _("the {app} app").format(app=pgettext("command name", command.name))
    # As the member's Discord app lists it: each word of the name in their language.
    return "/" + " ".join(pgettext("command name", word) for word in command.qualified_name.split())


# Manage Roles granted by a channel's overwrite is that channel's Manage Permissions, not the
# power to give roles: a staff command behind Manage Roles needs it from a role.
SERVER_WIDE_ONLY = discord.Permissions(manage_roles=True)


def command_permissions(interaction: discord.Interaction) -> discord.Permissions:
    """The member's permissions in this channel, less the bits only a role may grant that they
    hold here through the channel's overwrites alone."""
    held = interaction.permissions
    member = interaction.user
    if not isinstance(member, discord.Member) or held.administrator:
        return held
    server_wide = member.guild_permissions.value
    only_here = held.value & SERVER_WIDE_ONLY.value & ~server_wide
    return discord.Permissions(held.value & ~only_here)


def require_command_permissions(interaction: discord.Interaction) -> None:
    """Refuse a staff command to a member without its default permissions in this channel.

    `default_permissions` only decides whom Discord shows a command to, and server admins can
    change that per role, member or channel in Server Settings → Integrations; so the same rule
    is enforced here, on the permissions Discord resolved for the member in this channel.
    """
    command = interaction.command
    if command is None:
        return
    required = default_permissions_of(command)
    if required is None:
        return
    missing = missing_permissions(required, command_permissions(interaction))
    if missing:
        names = [permission_name(n) for n in missing]
        raise PermissionDenied(
            ngettext(
                "You need the {permissions} permission to use {command}.",
                "You need the {permissions} permissions to use {command}.",
                len(names),
            ).format(permissions=and_join(names), command=command_mention(command))
        )


async def refuse(interaction: discord.Interaction, refusal: PegasusError) -> None:
    """Answer a refused interaction: privately, or with no choices for an autocomplete."""
    if interaction.type is discord.InteractionType.autocomplete:
        try:
            await interaction.response.autocomplete([])
        except discord.HTTPException:
            log.warning("Could not answer autocomplete %s", interaction.id)
        return
    await send_ephemeral(interaction, str(refusal))


class PegasusTree(app_commands.CommandTree):
    """A CommandTree whose errors always reach the user, and whose checks apply everywhere."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Checks that refuse by raising PegasusError: blacklist, maintenance, ... They run for
        # slash commands here, and for buttons, views and modals through
        # passes_interaction_checks.
        self.interaction_checks: list[InteractionCheck] = []

    async def run_interaction_checks(self, interaction: discord.Interaction) -> bool:
        try:
            for check in self.interaction_checks:
                await check(interaction)
        except PegasusError as refusal:
            await send_ephemeral(interaction, str(refusal))
            return False
        return True

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Runs before discord.py converts any option, so a refused command touches nothing.
        try:
            require_command_permissions(interaction)
        except PermissionDenied as refusal:
            await refuse(interaction, refusal)
            return False
        return await self.run_interaction_checks(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        expected = describe_error(error) is not None
        interaction.extras[OUTCOME] = "refused" if expected else "error"
        await report_interaction_error(interaction, error)

    async def sync(self, *, guild: discord.abc.Snowflake | None = None) -> list[AppCommand]:
        """discord.py's sync, with the translated payload of each command built once per
        process (see translated_payload): every test starts a bot that syncs the same tree.
        The rest is CommandTree.sync of discord.py 2.x as it is."""
        translator = self.translator
        if not isinstance(translator, PegasusTranslator):
            return await super().sync(guild=guild)
        application_id = self.client.application_id
        if application_id is None:
            raise app_commands.MissingApplicationID
        commands = self._get_all_commands(guild=guild)
        payload = [await translated_payload(self, c, translator) for c in commands]
        try:
            if guild is None:
                data = await self._http.bulk_upsert_global_commands(application_id, payload=payload)
            else:
                data = await self._http.bulk_upsert_guild_commands(
                    application_id, guild.id, payload=payload
                )
        except discord.HTTPException as error:
            if error.status == 400 and error.code == 50035:
                raise app_commands.CommandSyncFailure(error, commands) from None
            raise
        return [AppCommand(data=d, state=self._state) for d in data]

    async def _call(self, interaction: discord.Interaction) -> None:
        started = time.perf_counter()
        try:
            await super()._call(interaction)
        finally:
            if interaction.type is discord.InteractionType.application_command:
                count_command(interaction, time.perf_counter() - started)


OUTCOME = "pegasus_outcome"  # interaction.extras: how a command ended, for the metrics


def count_command(interaction: discord.Interaction, seconds: float) -> None:
    """Count a finished slash command by name and outcome: ok, refused (a check or a
    PegasusError said why) or error (unexpected)."""
    command = interaction.command
    name = command.qualified_name if command is not None else _interaction_name(interaction)
    failed = interaction.command_failed
    outcome = interaction.extras.get(OUTCOME, "refused") if failed else "ok"
    metrics.COMMANDS.labels(name.lstrip("/"), outcome).inc()
    metrics.INTERACTION_SECONDS.observe(seconds)


async def passes_interaction_checks(interaction: discord.Interaction) -> bool:
    """Run the tree's checks (blacklist, rate limit, ...) for a button, view or modal.

    A refusal has been answered when this returns False.
    """
    tree = interaction.client.tree
    return not isinstance(tree, PegasusTree) or await tree.run_interaction_checks(interaction)
