"""Welcome and goodbye messages, autoroles, the server log, and the cached guild configuration.

Listeners run for every join, leave, message edit and delete, so they read a cached, immutable
`GuildConfig` (`get_config`): one query per guild when the copy is missing or older than its
time-to-live, then memory only. Every change made through this module (and through
`pegasus.services.security`, which shares the row) invalidates the copy at once and writes an
`audit_logs` entry with the values before and after.

Templates accept `{user}` (a mention), `{username}` (the name, no ping), `{server}` and
`{member_count}` (with thousands separators).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.transactions import in_transaction

from models.guilds import DEFAULT_GOODBYE_MESSAGE, DEFAULT_WELCOME_MESSAGE, GuildSettings
from pegasus.errors import ConflictError, NotFoundError, ValidationError, shown_input
from pegasus.services import directory
from pegasus.services.audit import ensure_rows, record_audit
from pegasus.services.cache import TtlCache

__all__ = [
    "MAX_AUTOROLES",
    "PLACEHOLDERS",
    "ConfigCache",
    "EmbedSpec",
    "Greeting",
    "GreetingConfig",
    "GreetingKind",
    "GuildConfig",
    "LogEvent",
    "MemberFacts",
    "SecurityConfig",
    "add_autorole",
    "build_greeting",
    "change_settings",
    "config_cache",
    "disable_greeting",
    "disable_logging",
    "get_config",
    "parse_color",
    "parse_log_events",
    "remove_autorole",
    "render_template",
    "set_greeting",
    "set_logging",
    "validate_template",
]

PLACEHOLDERS = ("user", "username", "server", "member_count")
MAX_MESSAGE_LENGTH = 1800  # leaves room in Discord's 2,000 for names and counts
DISCORD_MESSAGE_LIMIT = 2000
MAX_TITLE_LENGTH = 200  # embed titles may hold 256 once names are filled in
MAX_URL_LENGTH = 1024
MAX_AUTOROLES = 10
DEFAULT_TTL_SECONDS = 60.0

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_HEX_COLOR = re.compile(r"^(?:#|0x)?([0-9a-f]{6})$", re.IGNORECASE)


class GreetingKind(StrEnum):
    WELCOME = "welcome"
    GOODBYE = "goodbye"


class LogEvent(StrEnum):
    """What the server log can report; `logging_events` stores these values."""

    MESSAGE_DELETE = "message_delete"
    MESSAGE_EDIT = "message_edit"
    MEMBER_JOIN = "member_join"
    MEMBER_LEAVE = "member_leave"
    ROLE_CHANGE = "role_change"
    AUTOMOD = "automod"  # messages removed by anti-spam


LOG_EVENT_LABELS = {
    LogEvent.MESSAGE_DELETE: "deleted messages",
    LogEvent.MESSAGE_EDIT: "edited messages",
    LogEvent.MEMBER_JOIN: "members joining",
    LogEvent.MEMBER_LEAVE: "members leaving",
    LogEvent.ROLE_CHANGE: "roles given or taken",
    LogEvent.AUTOMOD: "messages removed by anti-spam",
}


# ------------------------------------------------------------------------------------------------
# The configuration, as listeners read it


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
    autorole_enabled: bool = False
    autorole_role_ids: tuple[int, ...] = ()
    security: SecurityConfig = SecurityConfig()

    def greeting(self, kind: GreetingKind) -> GreetingConfig:
        return self.welcome if kind is GreetingKind.WELCOME else self.goodbye

    def logs(self, event: LogEvent) -> int | None:
        """The channel to report `event` in, or None when it is not logged."""
        if self.logging_enabled and self.logging_channel_id and event in self.logging_events:
            return self.logging_channel_id
        return None

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


config_cache = ConfigCache()


async def get_config(guild_id: int) -> GuildConfig:
    """The guild's configuration, from memory when fresh (see `ConfigCache`)."""
    return await config_cache.get(guild_id)


# ------------------------------------------------------------------------------------------------
# Changing settings: one transaction, an audit entry, an invalidated cache


async def change_settings(
    guild_id: int,
    actor_id: int | None,
    action: str,
    compute: Callable[[GuildSettings], Mapping[str, Any]],
) -> GuildConfig:
    """Apply `compute(current row)` (a mapping of column -> new value) and audit the difference.

    The row is locked while `compute` decides (FOR UPDATE on PostgreSQL; SQLite runs one
    transaction at a time), so read-modify-write changes such as adding to the autorole list
    never lose a concurrent change. Returns the fresh configuration.
    """
    await directory.ensure_guild(guild_id)
    await ensure_rows(None, [actor_id])
    async with in_transaction() as conn:
        row = await GuildSettings.filter(guild_id=guild_id).using_db(conn).select_for_update().get()
        wanted = dict(compute(row))
        before = {column: getattr(row, column) for column in wanted}
        changed = {column: value for column, value in wanted.items() if before[column] != value}
        if changed:
            await GuildSettings.filter(id=row.id).using_db(conn).update(**changed)
            await record_audit(
                guild_id=guild_id,
                actor_id=actor_id,
                action=action,
                target_type="guild_settings",
                target_id=guild_id,
                before={column: before[column] for column in changed},
                after=changed,
                using_db=conn,
            )
    config_cache.invalidate(guild_id)
    return await get_config(guild_id)


# ------------------------------------------------------------------------------------------------
# Templates and greetings


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What templates can say about a member and their server (names already escaped)."""

    user_id: int
    username: str
    server: str
    member_count: int

    @property
    def mention(self) -> str:
        return f"<@{self.user_id}>"


# The longest member a template must fit: Discord's longest snowflake, display name (32) and
# server name (100), and a billion members.
_LONGEST_FACTS = MemberFacts(
    user_id=2**63 - 1, username="n" * 32, server="s" * 100, member_count=10**9
)


def validate_template(text: str, *, what: str = "message", limit: int = MAX_MESSAGE_LENGTH) -> str:
    """The template, stripped; raises ValidationError for unknown placeholders or bad length."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationError(f"The {what} can't be empty.")
    if len(cleaned) > limit:
        raise ValidationError(f"The {what} can be at most {limit:,} characters long.")
    unknown = sorted({name for name in _PLACEHOLDER.findall(cleaned) if name not in PLACEHOLDERS})
    if unknown:
        # On one line and short: a placeholder can hold line breaks and most of the text.
        shown = ", ".join("{" + " ".join(name.split())[:30] + "}" for name in unknown[:5])
        accepted = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise ValidationError(f"Unknown placeholder {shown} in the {what}. Use {accepted}.")
    longest = len(render_template(cleaned, _LONGEST_FACTS, clip=False))
    if longest > DISCORD_MESSAGE_LIMIT:
        # Checked now: Discord would refuse the filled-in message and the greeting be lost.
        raise ValidationError(
            f"With long names filled in, the {what} could reach {longest:,} characters, over "
            f"Discord's {DISCORD_MESSAGE_LIMIT:,}: use fewer placeholders or shorter text."
        )
    return cleaned


def render_template(template: str, facts: MemberFacts, *, clip: bool = True) -> str:
    """Fill `{user}`, `{username}`, `{server}` and `{member_count}`; other braces stay as typed.

    The result is clipped to Discord's 2,000 characters (escaped names can be longer than the
    lengths `validate_template` assumes), so the message is still delivered.
    """
    values = {
        "user": facts.mention,
        "username": facts.username,
        "server": facts.server,
        "member_count": f"{facts.member_count:,}",
    }

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    filled = _PLACEHOLDER.sub(fill, template)
    if clip and len(filled) > DISCORD_MESSAGE_LIMIT:
        filled = filled[: DISCORD_MESSAGE_LIMIT - 1] + "…"
    return filled


def parse_color(text: str) -> int:
    """`#5865F2`, `5865f2` or `0x5865F2` → 0x5865F2."""
    match = _HEX_COLOR.match((text or "").strip())
    if not match:
        raise ValidationError(
            f"{shown_input(text)} is not a colour. Use a hex code such as #5865F2."
        )
    return int(match.group(1), 16)


def validate_url(text: str, *, what: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned.startswith(("https://", "http://")) or any(ch.isspace() for ch in cleaned):
        raise ValidationError(f"The {what} must be a link starting with https://.")
    if len(cleaned) > MAX_URL_LENGTH:
        raise ValidationError(f"The {what} link can be at most {MAX_URL_LENGTH:,} characters.")
    return cleaned


@dataclass(frozen=True, slots=True)
class EmbedSpec:
    description: str
    title: str | None = None
    color: int | None = None
    image_url: str | None = None
    thumbnail_url: str | None = None


@dataclass(frozen=True, slots=True)
class Greeting:
    """What to post in the channel, and what to send the member directly (welcome only)."""

    content: str | None
    embed: EmbedSpec | None
    dm: str | None = None


def build_greeting(kind: GreetingKind, settings: GreetingConfig, facts: MemberFacts) -> Greeting:
    """The message for `facts`' member. In embed mode a welcome still pings the newcomer in the
    message text (mentions inside embeds do not notify); a goodbye pings nobody."""
    text = render_template(settings.message, facts)
    dm = None
    if kind is GreetingKind.WELCOME and settings.dm_enabled:
        dm = render_template(settings.dm_message or settings.message, facts)
    if not settings.embed_enabled:
        return Greeting(content=text, embed=None, dm=dm)
    embed = EmbedSpec(
        description=text,
        title=render_template(settings.embed_title, facts)[:256] if settings.embed_title else None,
        color=settings.embed_color,
        image_url=settings.embed_image,
        thumbnail_url=settings.embed_thumbnail,
    )
    content = facts.mention if kind is GreetingKind.WELCOME else None
    return Greeting(content=content, embed=embed, dm=dm)


async def set_greeting(
    guild_id: int,
    actor_id: int,
    kind: GreetingKind,
    *,
    channel_id: int,
    message: str | None = None,
    embed_enabled: bool | None = None,
    embed_color: str | None = None,
    embed_title: str | None = None,
    embed_image: str | None = None,
    embed_thumbnail: str | None = None,
    dm_enabled: bool | None = None,
    dm_message: str | None = None,
) -> GuildConfig:
    """Turn welcome or goodbye messages on in `channel_id`; options left as None keep their value.

    Text options accept `none` (or `-`) to clear an optional value (title, image, thumbnail,
    colour, direct message text).
    """
    if kind is GreetingKind.GOODBYE and (dm_enabled or dm_message):
        raise ValidationError("Goodbye messages can't be sent privately: the member has left.")
    prefix = kind.value
    changes: dict[str, Any] = {f"{prefix}_enabled": True, f"{prefix}_channel_id": channel_id}
    if message is not None:
        changes[f"{prefix}_message"] = validate_template(message)
    if embed_enabled is not None:
        changes[f"{prefix}_embed_enabled"] = embed_enabled
    optional = {
        "embed_color": (embed_color, lambda text: parse_color(text)),
        "embed_title": (
            embed_title,
            lambda text: validate_template(text, what="title", limit=MAX_TITLE_LENGTH),
        ),
        "embed_image": (embed_image, lambda text: validate_url(text, what="image")),
        "embed_thumbnail": (embed_thumbnail, lambda text: validate_url(text, what="thumbnail")),
    }
    if kind is GreetingKind.WELCOME:
        optional["dm_message"] = (dm_message, lambda text: validate_template(text, what="DM"))
        if dm_enabled is not None:
            changes["welcome_dm_enabled"] = dm_enabled
    for name, (value, parse) in optional.items():
        if value is None:
            continue
        changes[f"{prefix}_{name}"] = None if _is_clear(value) else parse(value)
    return await change_settings(guild_id, actor_id, f"{prefix}.set", lambda _row: changes)


def _is_clear(value: str) -> bool:
    return value.strip().lower() in {"none", "-", "off", "clear"}


async def disable_greeting(guild_id: int, actor_id: int, kind: GreetingKind) -> GuildConfig:
    """Stop welcome or goodbye messages; the rest of the setup is kept for next time."""
    config = await get_config(guild_id)
    if not config.greeting(kind).enabled:
        raise ConflictError(f"{kind.value.capitalize()} messages are already off.")
    return await change_settings(
        guild_id, actor_id, f"{kind.value}.disable", lambda _row: {f"{kind.value}_enabled": False}
    )


# ------------------------------------------------------------------------------------------------
# Autoroles


async def add_autorole(guild_id: int, actor_id: int, role_id: int) -> GuildConfig:
    """Give `role_id` to every member who joins (and switch autoroles on)."""

    def compute(row: GuildSettings) -> dict[str, Any]:
        roles = [int(existing) for existing in row.autorole_role_ids or []]
        if role_id in roles:
            raise ConflictError(f"<@&{role_id}> is already given on join.")
        if len(roles) >= MAX_AUTOROLES:
            raise ValidationError(
                f"A server can have at most {MAX_AUTOROLES} autoroles; remove one first."
            )
        return {"autorole_role_ids": [*roles, role_id], "autorole_enabled": True}

    return await change_settings(guild_id, actor_id, "autorole.add", compute)


async def remove_autorole(guild_id: int, actor_id: int, role_id: int) -> GuildConfig:
    """Stop giving `role_id` on join; autoroles switch off when the list becomes empty."""

    def compute(row: GuildSettings) -> dict[str, Any]:
        roles = [int(existing) for existing in row.autorole_role_ids or []]
        if role_id not in roles:
            raise NotFoundError(f"<@&{role_id}> is not an autorole.")
        remaining = [existing for existing in roles if existing != role_id]
        return {"autorole_role_ids": remaining, "autorole_enabled": bool(remaining)}

    return await change_settings(guild_id, actor_id, "autorole.remove", compute)


# ------------------------------------------------------------------------------------------------
# The server log


def parse_log_events(text: str | None) -> list[LogEvent]:
    """`all` (or nothing), or names separated by commas or spaces: `message_delete, member_join`."""
    cleaned = (text or "all").strip().lower()
    if cleaned in {"", "all", "*"}:
        return list(LogEvent)
    names = [part for part in re.split(r"[\s,;]+", cleaned) if part]
    chosen: list[LogEvent] = []
    for name in names:
        try:
            event = LogEvent(name.replace("-", "_"))
        except ValueError:
            accepted = ", ".join(event.value for event in LogEvent)
            raise ValidationError(
                f"{shown_input(name)} is not a log event. Use all, or: {accepted}."
            ) from None
        if event not in chosen:
            chosen.append(event)
    return chosen


async def set_logging(
    guild_id: int, actor_id: int, *, channel_id: int, events: Iterable[LogEvent]
) -> GuildConfig:
    chosen = [LogEvent(event).value for event in events]
    if not chosen:
        raise ValidationError("Choose at least one event to log.")
    changes = {"logging_enabled": True, "logging_channel_id": channel_id, "logging_events": chosen}
    return await change_settings(guild_id, actor_id, "logging.set", lambda _row: changes)


async def disable_logging(guild_id: int, actor_id: int) -> GuildConfig:
    """Stop the server log. The channel is kept: security alerts still go there."""
    config = await get_config(guild_id)
    if not config.logging_enabled:
        raise ConflictError("The server log is already off.")
    return await change_settings(
        guild_id, actor_id, "logging.disable", lambda _row: {"logging_enabled": False}
    )
