"""Discord-side checks the services cannot see: what the bot may do in a channel or with a role.

A command calls these before it stores a setting, so a server is never set up to rely on
something the bot could not do; each refusal names the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from pegasus.errors import PermissionDenied, ValidationError, channel_ref, role_ref

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
    return f"{', '.join(items[:-1])} and {items[-1]}"


def require_bot_can_post(
    channel: discord.abc.GuildChannel,
    *,
    what: str | None = None,
    embeds: bool = False,
    files: bool = False,
) -> None:
    """Refuse a channel the bot could not post `what` in, naming the permissions it lacks there."""
    perms = channel.permissions_for(channel.guild.me)
    needed = [
        ("View Channel", perms.view_channel),
        ("Send Messages", perms.send_messages),
        ("Embed Links", perms.embed_links or not embeds),
        ("Attach Files", perms.attach_files or not files),
    ]
    missing = [name for name, granted in needed if not granted]
    if missing:
        posting = f"post {what}" if what else "post"
        raise PermissionDenied(
            f"I can't {posting} in {{channel}}: I need {and_join(missing)} there.",
            channel=channel_ref(channel.id),
        )


def require_member_can_see(channel: discord.abc.GuildChannel, member: discord.Member) -> None:
    """Refuse to post on `member`'s behalf in a channel they can't see (a private one).

    Seeing is enough: staff often post a panel in a channel closed to everyone's messages.
    """
    if not channel.permissions_for(member).view_channel:
        raise PermissionDenied(
            "You can't see {channel}, so I won't post there for you.",
            channel=channel_ref(channel.id),
        )


def require_bot_can_give(role: discord.Role) -> None:
    """Refuse a role the bot could not give: @everyone, an integration's, or one not below mine."""
    if role.is_default() or role.managed:
        raise ValidationError(
            "{role} cannot be given by a bot; choose another role.", role=role_ref(role.id)
        )
    if role >= role.guild.me.top_role:
        raise PermissionDenied(
            "{role} is above my highest role, so I could not give it. Move my "
            "role above it in Server Settings → Roles, or choose a lower role.",
            role=role_ref(role.id),
        )
