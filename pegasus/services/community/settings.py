"""Community's settings, declared once: welcome and goodbye messages, the server log, autoroles.

They are community's columns of `guild_settings` (levels and security declare theirs). Every
change goes through `pegasus.services.settings.apply_changes`, so it is validated against this
declaration on the locked row and recorded in `audit_logs` with before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.guilds import GuildSettings
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


def _greeting(kind: GreetingKind) -> tuple[Setting, ...]:
    word = kind.value
    settings = (
        Setting(f"{word}_enabled", Kind.BOOL, f"{word} messages",
                f"Whether {word} messages are posted"),
        Setting(f"{word}_channel_id", Kind.CHANNEL, f"{word} channel",
                f"Where {word} messages are posted", nullable=True),
        Setting(f"{word}_message", Kind.TEXT, f"{word} message",
                "The message ({user} mention, {username} name, {server}, {member_count})",
                max_length=MAX_MESSAGE_LENGTH),
        Setting(f"{word}_embed_enabled", Kind.BOOL, f"{word} embed",
                "Show the message in an embed"),
        Setting(f"{word}_embed_color", Kind.COLOUR, f"{word} embed colour",
                "Embed colour, e.g. #5865F2 or blue", nullable=True),
        Setting(f"{word}_embed_title", Kind.TEXT, f"{word} embed title",
                "Embed title; placeholders work", max_length=MAX_TITLE_LENGTH, nullable=True),
        Setting(f"{word}_embed_image", Kind.TEXT, f"{word} embed image",
                "Embed image link, https://…", max_length=MAX_URL_LENGTH, nullable=True),
        Setting(f"{word}_embed_thumbnail", Kind.TEXT, f"{word} embed thumbnail",
                "Embed thumbnail link, https://…", max_length=MAX_URL_LENGTH, nullable=True),
    )
    if kind is GreetingKind.GOODBYE:
        return settings
    return (
        *settings,
        Setting("welcome_dm_enabled", Kind.BOOL, "welcome direct message",
                "Also send newcomers a direct message"),
        Setting("welcome_dm_message", Kind.TEXT, "welcome direct message text",
                "The direct message; the channel message if empty",
                max_length=MAX_MESSAGE_LENGTH, nullable=True),
    )


SETTINGS = register(FeatureSettings(
    feature="community",
    model=GuildSettings,
    settings=(
        *_greeting(GreetingKind.WELCOME),
        *_greeting(GreetingKind.GOODBYE),
        Setting("logging_enabled", Kind.BOOL, "server log", "Whether the server log is kept"),
        Setting("logging_channel_id", Kind.CHANNEL, "log channel",
                "Where the log is posted (security alerts go there too)", nullable=True),
        Setting("logging_events", Kind.NAMES, "logged events", "What the server log reports",
                choices=tuple(event.value for event in LogEvent)),
        *(
            Setting(column, Kind.CHANNEL, f"{category.value} log channel",
                    f"Where the {category.value} log is posted (the log channel if not set)",
                    nullable=True)
            for category, column in LOG_CATEGORY_COLUMNS.items()
        ),
        Setting("autorole_enabled", Kind.BOOL, "autoroles", "Whether roles are given on join"),
        Setting("autorole_role_ids", Kind.IDS, "autoroles",
                "Roles given to every member who joins"),
    ),
    internal=frozenset({"id", "guild", "guild_id", "created_at", "updated_at"}),
    rules=(
        (lambda v: len(v["autorole_role_ids"]) <= MAX_AUTOROLES,
         f"A server can have at most {MAX_AUTOROLES} autoroles; remove one first."),
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
