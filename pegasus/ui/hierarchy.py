"""Who may act on whom: the role hierarchy of moderation, for commands and the REST API alike.

A moderator acts only on members below them and below the bot, never on themselves, the bot or
the server owner; changing a record (a case, a warning) holds its member to those rules and
respects the rank of the moderator who recorded it. The checks take the guild and the acting
member as Discord has them: a command has them from its interaction, the API served by the bot
from the bot's cache. Refusals name members as `Ref`s, so each client renders them its own way.
"""

from __future__ import annotations

from collections.abc import Collection

import discord

from pegasus.errors import NotFoundError, PermissionDenied, ValidationError, user_ref
from pegasus.i18n import _
from pegasus.services.moderation import BlacklistEntityType

__all__ = [
    "check_blacklist_target",
    "check_bot_outranks",
    "check_outranks_issuer",
    "check_record_change",
    "check_target",
    "is_server_admin",
]


def check_target(
    guild: discord.Guild,
    moderator: discord.Member,
    target: discord.Member | discord.User,
    verb: str,
    *,
    bot_must_outrank: bool = True,
) -> None:
    """Refuse actions on oneself, the bot, the owner, or anyone not below both of us.

    `verb` completes "You can't ... <target>" (ban, kick, warn, mute, time out): English
    marked with N_ by the caller, shown translated (an infinitive in every language).
    """
    shown = _(verb)
    if target.id == moderator.id:
        raise PermissionDenied(_("You can't {verb} yourself.").format(verb=shown))
    if target.id == guild.me.id:
        raise PermissionDenied(_("I can't {verb} myself.").format(verb=shown))
    if not isinstance(target, discord.Member):
        return  # not in the server: there is no hierarchy to respect
    if target.id == guild.owner_id:
        raise PermissionDenied(_("You can't {verb} the server owner.").format(verb=shown))
    if moderator.id != guild.owner_id and target.top_role >= moderator.top_role:
        raise PermissionDenied(
            _("You can't {verb} {{target}}: their highest role is not below yours.").format(
                verb=shown
            ),
            target=user_ref(target.id),
        )
    if bot_must_outrank:
        check_bot_outranks(guild, target, verb)


def check_record_change(
    guild: discord.Guild,
    moderator: discord.Member,
    *,
    verb: str,
    record: str,
    subject_id: int | None,
    issuer_id: int | None,
) -> None:
    """Refuse changing a warning or a case that the moderator could not have recorded now.

    Its member is held to the rules of `/warn` (see `check_target`): nobody changes a record
    about themselves, and a member still in the server must be below the moderator. Another
    moderator's record also needs Manage Server or a highest role above theirs, so a warning
    cannot be softened or raised behind a superior's back. The bot's own records (timers,
    automations) belong to no one above the moderator. `verb` and `record` read as "You can't
    <verb> <record> about yourself", e.g. "remove" and "a warning".
    """
    if subject_id == moderator.id:
        raise PermissionDenied(
            _("You can't {verb} {record} about yourself.").format(verb=_(verb), record=_(record))
        )
    subject = guild.get_member(subject_id) if subject_id is not None else None
    if subject is not None:
        # Translators: completes "You can't ... the server owner" / "You can't ... {target}".
        about = _("{verb} {record} about").format(verb=_(verb), record=_(record))
        check_target(guild, moderator, subject, about, bot_must_outrank=False)
    if issuer_id not in (None, moderator.id, guild.me.id):
        # Translators: completes "You can't ... by the server owner without Manage Server".
        action = _("{verb} {record}").format(verb=_(verb), record=_(record))
        check_outranks_issuer(guild, moderator, issuer_id, action)


def check_outranks_issuer(
    guild: discord.Guild, moderator: discord.Member, issuer_id: int, action: str
) -> None:
    """Refuse changing another moderator's record unless `moderator` is the owner, has Manage
    Server or ranks above them. `action` reads as "You can't <action> by ...", e.g. "edit a
    warning"; English marked with N_, or already translated.
    """
    action = _(action)
    if moderator.id == guild.owner_id or moderator.guild_permissions.manage_guild:
        return
    issuer = guild.get_member(issuer_id)
    if issuer is None:
        return  # they left the server: there is no hierarchy to respect
    if issuer.id == guild.owner_id:
        raise PermissionDenied(
            _("You can't {action} by the server owner without Manage Server.").format(
                action=action
            )
        )
    if issuer.top_role >= moderator.top_role:
        raise PermissionDenied(
            _(
                "You can't {action} by {{issuer}} without Manage Server: "
                "their highest role is not below yours."
            ).format(action=action),
            issuer=user_ref(issuer.id),
        )


def check_bot_outranks(guild: discord.Guild, target: discord.Member, verb: str) -> None:
    shown = _(verb)
    if target.id == guild.owner_id:
        raise PermissionDenied(_("I can't {verb} the server owner.").format(verb=shown))
    if target.top_role >= guild.me.top_role:
        raise PermissionDenied(
            _(
                "I can't {verb} {{target}}: their highest role is not below mine. "
                "Move my role above theirs in Server Settings → Roles."
            ).format(verb=shown),
            target=user_ref(target.id),
        )


def is_server_admin(member: discord.Member) -> bool:
    """The server owner or a member with Administrator: whom a server's own blacklist spares."""
    return member.id == member.guild.owner_id or member.guild_permissions.administrator


def check_blacklist_target(
    guild: discord.Guild,
    actor_id: int,
    kind: BlacklistEntityType,
    entity_id: int,
    *,
    wide: bool,
    owner_ids: Collection[int],
) -> None:
    """Refuse a blacklist entry that would lock out the one adding it, the bot, its owners or a
    server's admins in their own server, or that names no role or channel of the server."""
    if wide and actor_id not in owner_ids:
        raise PermissionDenied(_("Only the bot's owners manage bot-wide blacklist entries."))
    if kind is BlacklistEntityType.USER:
        if entity_id in (actor_id, guild.me.id):
            raise ValidationError(_("That would lock out yourself or me; pick someone else."))
        if entity_id in owner_ids:
            raise PermissionDenied(_("The bot's owners can't be blacklisted."))
        member = guild.get_member(entity_id)
        if not wide and member is not None and is_server_admin(member):
            raise PermissionDenied(
                _("The server owner and admins can't be blacklisted in their own server.")
            )
    elif kind is BlacklistEntityType.ROLE:
        role = guild.get_role(entity_id)
        if role is None:
            raise NotFoundError(_("There is no such role in this server."))
        if role.is_default():
            raise ValidationError(_("Blacklisting @everyone would block everybody."))
    elif kind is BlacklistEntityType.CHANNEL:
        if guild.get_channel(entity_id) is None:
            raise NotFoundError(_("There is no such channel in this server."))
    elif entity_id == guild.id and not wide:
        raise ValidationError(_("Servers are blacklisted bot-wide only."))
