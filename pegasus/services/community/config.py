"""A guild's `guild_settings` row as listeners read it: immutable, cached, one query per TTL.

Listeners run for every join, leave, message edit and delete, so they read a cached `GuildConfig`
from a `ConfigCache` that the running bot owns and hands to whoever needs it: one query per guild
when the copy is missing or older than its time-to-live, then memory only. Changes made through
this package invalidate the copy they are given at once.

The row holds community's settings and security's (anti-raid, anti-spam), which security declares
and changes; `SecurityConfig` is read here with the rest, so one query serves both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from models.guilds import DEFAULT_GOODBYE_MESSAGE, DEFAULT_WELCOME_MESSAGE, GuildSettings
from pegasus.i18n import N_
from pegasus.services.cache import TtlCache

__all__ = [
    "CONFIG_COLUMNS",
    "DEFAULT_TTL_SECONDS",
    "LOG_CATEGORY_COLUMNS",
    "LOG_CATEGORY_LABELS",
    "LOG_EVENT_LABELS",
    "ConfigCache",
    "GreetingConfig",
    "GreetingKind",
    "GuildConfig",
    "LogCategory",
    "LogEvent",
    "SecurityConfig",
    "config_from_row",
    "load_config",
]

DEFAULT_TTL_SECONDS = 60.0


class GreetingKind(StrEnum):
    WELCOME = "welcome"
    GOODBYE = "goodbye"


class LogCategory(StrEnum):
    """The server log's categories: each may have a channel of its own.

    The moderation category's channel is the modlog (`moderation_settings.modlog_channel_id`),
    where cases are posted; the others are columns of `guild_settings`.
    """

    MESSAGES = "messages"
    MEMBERS = "members"
    MODERATION = "moderation"
    AUTOMOD = "automod"
    VOICE = "voice"
    SERVER = "server"


class LogEvent(StrEnum):
    """What the server log can report; `logging_events` stores these values."""

    MESSAGE_DELETE = "message_delete"
    MESSAGE_EDIT = "message_edit"
    MESSAGE_BULK_DELETE = "message_bulk_delete"
    MEMBER_JOIN = "member_join"
    MEMBER_LEAVE = "member_leave"
    ROLE_CHANGE = "role_change"  # roles given to or taken from a member
    NICKNAME_CHANGE = "nickname_change"
    AUTOMOD = "automod"  # messages removed by anti-spam and automod
    VOICE_JOIN = "voice_join"
    VOICE_MOVE = "voice_move"
    VOICE_LEAVE = "voice_leave"
    CHANNEL_CHANGE = "channel_change"  # channels created, changed or deleted
    SERVER_ROLE_CHANGE = "server_role_change"  # roles created, changed or deleted
    SETTINGS_CHANGE = "settings_change"  # Pegasus settings changed

    @property
    def category(self) -> LogCategory:
        return _EVENT_CATEGORIES[self]


_EVENT_CATEGORIES = {
    LogEvent.MESSAGE_DELETE: LogCategory.MESSAGES,
    LogEvent.MESSAGE_EDIT: LogCategory.MESSAGES,
    LogEvent.MESSAGE_BULK_DELETE: LogCategory.MESSAGES,
    LogEvent.MEMBER_JOIN: LogCategory.MEMBERS,
    LogEvent.MEMBER_LEAVE: LogCategory.MEMBERS,
    LogEvent.ROLE_CHANGE: LogCategory.MEMBERS,
    LogEvent.NICKNAME_CHANGE: LogCategory.MEMBERS,
    LogEvent.AUTOMOD: LogCategory.AUTOMOD,
    LogEvent.VOICE_JOIN: LogCategory.VOICE,
    LogEvent.VOICE_MOVE: LogCategory.VOICE,
    LogEvent.VOICE_LEAVE: LogCategory.VOICE,
    LogEvent.CHANNEL_CHANGE: LogCategory.SERVER,
    LogEvent.SERVER_ROLE_CHANGE: LogCategory.SERVER,
    LogEvent.SETTINGS_CHANGE: LogCategory.SERVER,
}

# How the labels read (translated where shown, `_(LOG_EVENT_LABELS[event])`).
LOG_EVENT_LABELS = {
    LogEvent.MESSAGE_DELETE: N_("deleted messages"),
    LogEvent.MESSAGE_EDIT: N_("edited messages"),
    LogEvent.MESSAGE_BULK_DELETE: N_("messages deleted in bulk"),
    LogEvent.MEMBER_JOIN: N_("members joining"),
    LogEvent.MEMBER_LEAVE: N_("members leaving"),
    LogEvent.ROLE_CHANGE: N_("roles given or taken"),
    LogEvent.NICKNAME_CHANGE: N_("nickname changes"),
    LogEvent.AUTOMOD: N_("messages removed by anti-spam and automod"),
    LogEvent.VOICE_JOIN: N_("voice joins"),
    LogEvent.VOICE_MOVE: N_("voice moves"),
    LogEvent.VOICE_LEAVE: N_("voice leaves"),
    LogEvent.CHANNEL_CHANGE: N_("channels created, changed or deleted"),
    LogEvent.SERVER_ROLE_CHANGE: N_("roles created, changed or deleted"),
    LogEvent.SETTINGS_CHANGE: N_("Pegasus settings changes"),
}

LOG_CATEGORY_LABELS = {
    LogCategory.MESSAGES: N_("messages (edits, deletions, bulk deletions)"),
    LogCategory.MEMBERS: N_("members (joins, leaves, nicknames, roles)"),
    LogCategory.MODERATION: N_("moderation (cases, in the modlog)"),
    LogCategory.AUTOMOD: N_("automod (messages removed)"),
    LogCategory.VOICE: N_("voice (joins, moves, leaves)"),
    LogCategory.SERVER: N_("server (channels, roles, Pegasus settings)"),
}

# The `guild_settings` column holding each category's own channel (moderation's is the modlog).
LOG_CATEGORY_COLUMNS = {
    LogCategory.MESSAGES: "log_messages_channel_id",
    LogCategory.MEMBERS: "log_members_channel_id",
    LogCategory.AUTOMOD: "log_automod_channel_id",
    LogCategory.VOICE: "log_voice_channel_id",
    LogCategory.SERVER: "log_server_channel_id",
}


@dataclass(frozen=True, slots=True)
class GreetingConfig:
    """Welcome or goodbye settings (goodbye has no direct message)."""

    enabled: bool = False
    channel_id: int | None = None
    message: str = ""
    embed_enabled: bool = False
    embed_color: int | None = None
    embed_title: str | None = None
    embed_image: str | None = None
    embed_thumbnail: str | None = None
    dm_enabled: bool = False
    dm_message: str | None = None


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """Anti-raid and anti-spam settings; `enabled` is the master switch of both."""

    enabled: bool = False
    alert_role_id: int | None = None
    anti_raid_enabled: bool = False
    raid_joins: int = 10
    raid_seconds: int = 10
    anti_spam_enabled: bool = False
    max_mentions: int = 5
    max_duplicates: int = 3

    @property
    def raid_protection_on(self) -> bool:
        return self.enabled and self.anti_raid_enabled

    @property
    def spam_protection_on(self) -> bool:
        return self.enabled and self.anti_spam_enabled


@dataclass(frozen=True, slots=True)
class GuildConfig:
    guild_id: int
    welcome: GreetingConfig = GreetingConfig(message=DEFAULT_WELCOME_MESSAGE)
    goodbye: GreetingConfig = GreetingConfig(message=DEFAULT_GOODBYE_MESSAGE)
    logging_enabled: bool = False
    logging_channel_id: int | None = None
    logging_events: frozenset[LogEvent] = frozenset()
    # Each category's own channel; a category without one posts in `logging_channel_id`.
    category_channels: Mapping[LogCategory, int] = field(default_factory=dict)
    autorole_enabled: bool = False
    autorole_role_ids: tuple[int, ...] = ()
    security: SecurityConfig = SecurityConfig()

    def greeting(self, kind: GreetingKind) -> GreetingConfig:
        return self.welcome if kind is GreetingKind.WELCOME else self.goodbye

    def logs(self, event: LogEvent) -> int | None:
        """The channel to report `event` in, or None when it is not logged."""
        if not self.logging_enabled or event not in self.logging_events:
            return None
        return self.category_channel(event.category)

    def category_channel(self, category: LogCategory) -> int | None:
        """Where `category` posts: its own channel, else the log channel (None for the
        moderation category, whose channel is the modlog, read with the moderation settings)."""
        return self.category_channels.get(category) or self.logging_channel_id

    def logs_category(self, category: LogCategory) -> bool:
        """Whether any event of `category` is reported."""
        return self.logging_enabled and any(e.category is category for e in self.logging_events)

    @property
    def log_channel_ids(self) -> frozenset[int]:
        """Every channel the log posts in (their own messages are not logged: no loops)."""
        channels = {*self.category_channels.values(), self.logging_channel_id}
        return frozenset(channel for channel in channels if channel)

    @property
    def alerts_channel_id(self) -> int | None:
        """Where security alerts go: the log channel, else the automod category's channel."""
        return self.logging_channel_id or self.category_channels.get(LogCategory.AUTOMOD)

    @property
    def autoroles(self) -> tuple[int, ...]:
        return self.autorole_role_ids if self.autorole_enabled else ()


_GREETING_COLUMNS = (
    "enabled",
    "channel_id",
    "message",
    "embed_enabled",
    "embed_color",
    "embed_title",
    "embed_image",
    "embed_thumbnail",
)
_SECURITY_COLUMNS = {
    "enabled": "security_enabled",
    "alert_role_id": "security_alert_role_id",
    "anti_raid_enabled": "anti_raid_enabled",
    "raid_joins": "raid_joins",
    "raid_seconds": "raid_seconds",
    "anti_spam_enabled": "anti_spam_enabled",
    "max_mentions": "max_mentions",
    "max_duplicates": "max_duplicates",
}
CONFIG_COLUMNS: tuple[str, ...] = (
    *(f"welcome_{name}" for name in _GREETING_COLUMNS),
    "welcome_dm_enabled",
    "welcome_dm_message",
    *(f"goodbye_{name}" for name in _GREETING_COLUMNS),
    "logging_enabled",
    "logging_channel_id",
    "logging_events",
    *LOG_CATEGORY_COLUMNS.values(),
    "autorole_enabled",
    "autorole_role_ids",
    *_SECURITY_COLUMNS.values(),
)


def _model_defaults() -> dict[str, Any]:
    """The column defaults of GuildSettings, for a guild that has no row yet."""
    defaults: dict[str, Any] = {}
    for name in CONFIG_COLUMNS:
        default = GuildSettings._meta.fields_map[name].default
        defaults[name] = default() if callable(default) else default
    return defaults


def config_from_row(guild_id: int, row: Mapping[str, Any]) -> GuildConfig:
    """Build the immutable configuration from a `guild_settings` row (as a mapping)."""

    def greeting(prefix: str, *, with_dm: bool) -> GreetingConfig:
        values = {name: row[f"{prefix}_{name}"] for name in _GREETING_COLUMNS}
        if with_dm:
            values["dm_enabled"] = row[f"{prefix}_dm_enabled"]
            values["dm_message"] = row[f"{prefix}_dm_message"]
        return GreetingConfig(**values)

    return GuildConfig(
        guild_id=guild_id,
        welcome=greeting("welcome", with_dm=True),
        goodbye=greeting("goodbye", with_dm=False),
        logging_enabled=row["logging_enabled"],
        logging_channel_id=row["logging_channel_id"],
        logging_events=frozenset(_known_events(row["logging_events"] or [])),
        category_channels={
            category: row[column]
            for category, column in LOG_CATEGORY_COLUMNS.items()
            if row[column]
        },
        autorole_enabled=row["autorole_enabled"],
        autorole_role_ids=tuple(int(role_id) for role_id in row["autorole_role_ids"] or []),
        security=SecurityConfig(
            **{name: row[column] for name, column in _SECURITY_COLUMNS.items()}
        ),
    )


def _known_events(values: Iterable[str]) -> Iterable[LogEvent]:
    for value in values:
        try:
            yield LogEvent(value)
        except ValueError:
            continue  # an event kind this version no longer reports


async def load_config(guild_id: int) -> GuildConfig:
    """Read a guild's configuration from the database (defaults when no row exists): one query."""
    rows = await GuildSettings.filter(guild_id=guild_id).values(*CONFIG_COLUMNS)
    return config_from_row(guild_id, rows[0] if rows else _model_defaults())


class ConfigCache(TtlCache[int, GuildConfig]):
    """Per-guild `GuildConfig`s in memory, reloaded after `ttl_seconds` or an invalidation."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(load_config, ttl_seconds, clock)

    def clear(self) -> None:
        """Forget every guild (a bot started on another database, a test)."""
        self.invalidate()
