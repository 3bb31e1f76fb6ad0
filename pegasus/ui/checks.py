"""Discord-side checks the services cannot see: what the bot may do in a channel or with a role.

A command calls these before it stores a setting, so a server is never set up to rely on
something the bot could not do; each refusal names the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from pegasus.errors import PermissionDenied, ValidationError, channel_ref, role_ref
from pegasus.i18n import N_, _

__all__ = [
    "MANAGE_SERVER",
    "and_join",
    "require_bot_can_give",
    "require_bot_can_post",
    "require_member_can_see",
]

# Who may set a feature up: the default permission of every settings command.
MANAGE_SERVER = discord.Permissions(manage_guild=True)


def and_join(items: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    if len(items) <= 1:
        return "".join(items)
    # Translators: the end of a list: "Ban Members, Kick Members and Manage Roles".
    return _("{first} and {last}").format(first=", ".join(items[:-1]), last=items[-1])


def require_bot_can_post(
    channel: discord.abc.GuildChannel,
    *,
    what: str | None = None,
    embeds: bool = False,
    files: bool = False,
) -> None:
    """Refuse a channel the bot could not post `what` in, naming the permissions it lacks there.

    `what` is English marked with N_ where the caller declares it (shown translated), or
    already in the current language.
    """
    perms = channel.permissions_for(channel.guild.me)
    needed = [
        (N_("View Channel"), perms.view_channel),
        (N_("Send Messages"), perms.send_messages),
        (N_("Embed Links"), perms.embed_links or not embeds),
        (N_("Attach Files"), perms.attach_files or not files),
    ]
    missing = [_(name) for name, granted in needed if not granted]
    if missing:
        if what:
            message = _("I can't post {what} in {{channel}}: I need {permissions} there.").format(
                what=_(what), permissions=and_join(missing)
            )
        else:
            message = _("I can't post in {{channel}}: I need {permissions} there.").format(
                permissions=and_join(missing)
            )
        raise PermissionDenied(message, channel=channel_ref(channel.id))


def require_member_can_see(channel: discord.abc.GuildChannel, member: discord.Member) -> None:
    """Refuse to post on `member`'s behalf in a channel they can't see (a private one).

    Seeing is enough: staff often post a panel in a channel closed to everyone's messages.
    """
    if not channel.permissions_for(member).view_channel:
        raise PermissionDenied(
            _("You can't see {channel}, so I won't post there for you."),
            channel=channel_ref(channel.id),
        )


def require_bot_can_give(role: discord.Role) -> None:
    """Refuse a role the bot could not give: @everyone, an integration's, or one not below mine."""
    if role.is_default() or role.managed:
        raise ValidationError(
            _("{role} cannot be given by a bot; choose another role."), role=role_ref(role.id)
        )
    if role >= role.guild.me.top_role:
        raise PermissionDenied(
            _(
                "{role} is above my highest role, so I could not give it. Move my "
                "role above it in Server Settings → Roles, or choose a lower role."
            ),
            role=role_ref(role.id),
        )
