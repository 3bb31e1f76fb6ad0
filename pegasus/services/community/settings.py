"""Community's settings, declared once: welcome and goodbye messages, the server log, autoroles.

They are community's columns of `guild_settings` (levels and security declare theirs). Every
change goes through `pegasus.services.settings.apply_changes`, so it is validated against this
declaration on the locked row and recorded in `audit_logs` with before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.guilds import GuildSettings
from pegasus.i18n import N_
from pegasus.services.settings import (
    ComputedChanges,
    FeatureSettings,
    Kind,
    Setting,
    apply_changes,
    register,
)

from .config import (
    LOG_CATEGORY_COLUMNS,
    ConfigCache,
    GreetingKind,
    GuildConfig,
    LogCategory,
    LogEvent,
    load_config,
)

__all__ = [
    "MAX_AUTOROLES",
    "MAX_MESSAGE_LENGTH",
    "MAX_TITLE_LENGTH",
    "MAX_URL_LENGTH",
    "SETTINGS",
    "change_settings",
]

MAX_MESSAGE_LENGTH = 1800  # leaves room in Discord's 2,000 for names and counts
MAX_TITLE_LENGTH = 200  # embed titles may hold 256 once names are filled in
MAX_URL_LENGTH = 1024
MAX_AUTOROLES = 10


# Each greeting's labels and the helps that name it: (messages, whether posted, channel, where
# posted, message, embed, embed colour, embed title, embed image, embed thumbnail).
_GREETING_TEXTS = {
    GreetingKind.WELCOME: (
        N_("welcome messages"), N_("Whether welcome messages are posted"),
        N_("welcome channel"), N_("Where welcome messages are posted"),
        N_("welcome message"), N_("welcome embed"), N_("welcome embed colour"),
        N_("welcome embed title"), N_("welcome embed image"), N_("welcome embed thumbnail"),
    ),
    GreetingKind.GOODBYE: (
        N_("goodbye messages"), N_("Whether goodbye messages are posted"),
        N_("goodbye channel"), N_("Where goodbye messages are posted"),
        N_("goodbye message"), N_("goodbye embed"), N_("goodbye embed colour"),
        N_("goodbye embed title"), N_("goodbye embed image"), N_("goodbye embed thumbnail"),
    ),
}


def _greeting(kind: GreetingKind) -> tuple[Setting, ...]:
    word = kind.value
    (messages, posted_help, channel, channel_help, message, embed, colour, title, image,
     thumbnail) = _GREETING_TEXTS[kind]
    settings = (
        Setting(f"{word}_enabled", Kind.BOOL, messages, posted_help),
        Setting(f"{word}_channel_id", Kind.CHANNEL, channel, channel_help, nullable=True),
        Setting(f"{word}_message", Kind.TEXT, message,
                N_("The message ({user} mention, {username} name, {server}, {member_count})"),
                max_length=MAX_MESSAGE_LENGTH),
        Setting(f"{word}_embed_enabled", Kind.BOOL, embed, N_("Show the message in an embed")),
        Setting(f"{word}_embed_color", Kind.COLOUR, colour,
                N_("Embed colour, e.g. #5865F2 or blue"), nullable=True),
        Setting(f"{word}_embed_title", Kind.TEXT, title,
                N_("Embed title; placeholders work"), max_length=MAX_TITLE_LENGTH, nullable=True),
        Setting(f"{word}_embed_image", Kind.TEXT, image,
                N_("Embed image link, https://…"), max_length=MAX_URL_LENGTH, nullable=True),
        Setting(f"{word}_embed_thumbnail", Kind.TEXT, thumbnail,
                N_("Embed thumbnail link, https://…"), max_length=MAX_URL_LENGTH, nullable=True),
    )
    if kind is GreetingKind.GOODBYE:
        return settings
    return (
        *settings,
        Setting("welcome_dm_enabled", Kind.BOOL, N_("welcome direct message"),
                N_("Also send newcomers a direct message")),
        Setting("welcome_dm_message", Kind.TEXT, N_("welcome direct message text"),
                N_("The direct message; the channel message if empty"),
                max_length=MAX_MESSAGE_LENGTH, nullable=True),
    )


# Each log category's own channel: its label and help.
_CATEGORY_CHANNEL_TEXTS = {
    LogCategory.MESSAGES: (
        N_("messages log channel"),
        N_("Where the messages log is posted (the log channel if not set)"),
    ),
    LogCategory.MEMBERS: (
        N_("members log channel"),
        N_("Where the members log is posted (the log channel if not set)"),
    ),
    LogCategory.AUTOMOD: (
        N_("automod log channel"),
        N_("Where the automod log is posted (the log channel if not set)"),
    ),
    LogCategory.VOICE: (
        N_("voice log channel"),
        N_("Where the voice log is posted (the log channel if not set)"),
    ),
    LogCategory.SERVER: (
        N_("server log channel"),
        N_("Where the server log is posted (the log channel if not set)"),
    ),
}


SETTINGS = register(FeatureSettings(
    feature="community",
    model=GuildSettings,
    settings=(
        *_greeting(GreetingKind.WELCOME),
        *_greeting(GreetingKind.GOODBYE),
        Setting("logging_enabled", Kind.BOOL, N_("server log"),
                N_("Whether the server log is kept")),
        Setting("logging_channel_id", Kind.CHANNEL, N_("log channel"),
                N_("Where the log is posted (security alerts go there too)"), nullable=True),
        Setting("logging_events", Kind.NAMES, N_("logged events"),
                N_("What the server log reports"),
                choices=tuple(event.value for event in LogEvent)),
        *(
            Setting(column, Kind.CHANNEL, *_CATEGORY_CHANNEL_TEXTS[category], nullable=True)
            for category, column in LOG_CATEGORY_COLUMNS.items()
        ),
        Setting("autorole_enabled", Kind.BOOL, N_("autoroles"),
                N_("Whether roles are given on join")),
        Setting("autorole_role_ids", Kind.IDS, N_("autoroles"),
                N_("Roles given to every member who joins")),
    ),
    internal=frozenset({"id", "guild", "guild_id", "created_at", "updated_at"}),
    rules=(
        # The number is MAX_AUTOROLES (a rule's refusal is one literal, translated where shown).
        (lambda v: len(v["autorole_role_ids"]) <= MAX_AUTOROLES,
         N_("A server can have at most 10 autoroles; remove one first.")),
    ),
))


async def change_settings(
    guild_id: int,
    actor_id: int | None,
    action: str,
    changes: Mapping[str, Any] | ComputedChanges,
    *,
    cache: ConfigCache | None = None,
) -> GuildConfig:
    """Apply community setting changes (or changes computed from the current values, on the
    locked row) through `apply_changes`, audited as `action`; returns the fresh configuration.
    `cache`, when given, forgets its copy of the guild at once."""
    await apply_changes(SETTINGS, guild_id, actor_id, changes, action=action)
    if cache is not None:
        cache.invalidate(guild_id)
    return await load_config(guild_id)
