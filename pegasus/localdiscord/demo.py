"""The demo guild every test starts from (and the sandbox shows)."""

from __future__ import annotations

from pegasus.localdiscord.permissions import Permissions
from pegasus.localdiscord.server import LocalDiscord
from pegasus.localdiscord.state import CATEGORY, VOICE, FakeGuild

EVERYONE_PERMISSIONS = Permissions.of(
    "view_channel",
    "send_messages",
    "read_message_history",
    "embed_links",
    "attach_files",
    "add_reactions",
    "use_application_commands",
    "connect",
    "speak",
    "change_nickname",
)
MODERATOR_PERMISSIONS = Permissions.of(
    "kick_members",
    "ban_members",
    "moderate_members",
    "manage_messages",
    "manage_nicknames",
)
BOT_PERMISSIONS = Permissions.of(
    "manage_roles",
    "manage_channels",
    "kick_members",
    "ban_members",
    "moderate_members",
    "view_audit_log",
    "manage_messages",
    "view_channel",
    "send_messages",
    "embed_links",
    "attach_files",
    "read_message_history",
    "add_reactions",
    "manage_webhooks",
    "use_external_emojis",
    "manage_nicknames",
    "change_nickname",
    "connect",
    "move_members",
    "mute_members",
)
PLAIN_MEMBERS = ("alice", "bob", "carol")


def build_demo_guild(
    server: LocalDiscord, *, name: str = "Pegasus Test", extra_members: int = 0
) -> FakeGuild:
    """Roles @everyone < Moderator < Admin < Pegasus (the bot); members owner (Admin),
    mod (Moderator), alice, bob, carol; #general, #announcements, #logs; voice Lounge, Gaming."""
    guild = server.create_guild(name, owner="owner")
    guild.default_role.permissions = EVERYONE_PERMISSIONS
    bot_role = guild.role(server.bot_user.name)
    bot_role.permissions = BOT_PERMISSIONS
    moderator = guild.new_role(
        "Moderator", permissions=MODERATOR_PERMISSIONS, position=1, color=0x3498DB, hoist=True
    )
    admin = guild.new_role(
        "Admin", permissions=Permissions.of("administrator"), position=2, color=0xE74C3C, hoist=True
    )
    assert moderator.position < admin.position < bot_role.position
    guild.owner.role_ids.append(admin.id)
    text = guild.new_channel("Text Channels", CATEGORY)
    general = guild.new_channel("general", category=text, topic="Say hello")
    guild.new_channel("announcements", category=text)
    guild.new_channel("logs", category=text)
    voice = guild.new_channel("Voice Channels", CATEGORY)
    guild.new_channel("Lounge", VOICE, category=voice)
    guild.new_channel("Gaming", VOICE, category=voice)
    guild.system_channel_id = general.id
    guild.new_member(server.create_user("mod"), roles=[moderator])
    for person in PLAIN_MEMBERS:
        guild.new_member(server.create_user(person))
    for i in range(extra_members):
        guild.new_member(server.create_user(f"member{i:05d}"))
    return guild
