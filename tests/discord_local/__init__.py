"""A local Discord-compatible server (REST v10 + gateway) for end-to-end tests.

See README.md in this folder for the user-level API.
"""

from tests.discord_local.actions import (
    ActionRefused,
    CommandUnavailable,
    InvalidOptions,
    LocalDiscordRefusal,
)
from tests.discord_local.demo import build_demo_guild
from tests.discord_local.env import BotProcess, BotProcessFactory, DiscordEnv
from tests.discord_local.interactions import Modal, ModalField, Reply
from tests.discord_local.permissions import Overwrite, Permissions
from tests.discord_local.server import DiscordError, LocalDiscord, RecordedRequest
from tests.discord_local.state import (
    SUPPRESS_JOIN_NOTIFICATIONS,
    SUPPRESS_PREMIUM_SUBSCRIPTIONS,
    Attachment,
    Ban,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    File,
)

__all__ = [
    "SUPPRESS_JOIN_NOTIFICATIONS",
    "SUPPRESS_PREMIUM_SUBSCRIPTIONS",
    "ActionRefused",
    "Attachment",
    "Ban",
    "BotProcess",
    "BotProcessFactory",
    "CommandUnavailable",
    "DiscordEnv",
    "DiscordError",
    "FakeChannel",
    "FakeGuild",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "File",
    "InvalidOptions",
    "LocalDiscord",
    "LocalDiscordRefusal",
    "Modal",
    "ModalField",
    "Overwrite",
    "Permissions",
    "RecordedRequest",
    "Reply",
    "build_demo_guild",
]
