"""A local Discord-compatible server (REST v10 + gateway) for end-to-end tests.

See README.md in this folder for the user-level API.
"""

from pegasus.localdiscord.actions import (
    ActionRefused,
    CommandUnavailable,
    InvalidOptions,
    LocalDiscordRefusal,
)
from pegasus.localdiscord.demo import build_demo_guild
from pegasus.localdiscord.env import BotProcess, BotProcessFactory, DiscordEnv
from pegasus.localdiscord.interactions import Modal, ModalField, Reply
from pegasus.localdiscord.permissions import Overwrite, Permissions
from pegasus.localdiscord.server import DiscordError, LocalDiscord, NoAnswer, RecordedRequest
from pegasus.localdiscord.state import (
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
    "NoAnswer",
    "Overwrite",
    "Permissions",
    "RecordedRequest",
    "Reply",
    "build_demo_guild",
]
