"""The server log: which events it reports, and where (how each event looks is the adapter's).

Events fall in categories (`LogCategory`); each category posts in a channel of its own, or in the
log channel when it has none. The moderation category's channel is the modlog, which the
moderation settings hold: `pegasus.services.moderation.set_modlog_channel` sets it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pegasus.errors import ConflictError, ValidationError, shown_input
from pegasus.i18n import N_, _

from .config import LOG_CATEGORY_COLUMNS, ConfigCache, GuildConfig, LogCategory, LogEvent
from .settings import change_settings

__all__ = [
    "category_events",
    "disable_logging",
    "parse_log_events",
    "set_log_category",
    "set_logging",
    "stop_log_category",
]


_ALREADY_OFF = {
    LogCategory.MESSAGES: N_("The messages log is already off."),
    LogCategory.MEMBERS: N_("The members log is already off."),
    LogCategory.MODERATION: N_("The moderation log is already off."),
    LogCategory.AUTOMOD: N_("The automod log is already off."),
    LogCategory.VOICE: N_("The voice log is already off."),
    LogCategory.SERVER: N_("The server log is already off."),
}


def category_events(category: LogCategory) -> list[LogEvent]:
    """The events a category reports, in declaration order."""
    return [event for event in LogEvent if event.category is category]


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
                _("{name} is not a log event. Use all, or: {accepted}.").format(
                    name=shown_input(name), accepted=accepted
                )
            ) from None
        if event not in chosen:
            chosen.append(event)
    return chosen


async def set_logging(
    guild_id: int,
    actor_id: int,
    *,
    channel_id: int,
    events: Iterable[LogEvent],
    cache: ConfigCache | None = None,
) -> GuildConfig:
    chosen = [LogEvent(event).value for event in events]
    if not chosen:
        raise ValidationError(_("Choose at least one event to log."))
    changes = {"logging_enabled": True, "logging_channel_id": channel_id, "logging_events": chosen}
    return await change_settings(guild_id, actor_id, "logging.set", changes, cache=cache)


async def disable_logging(
    guild_id: int, actor_id: int, *, cache: ConfigCache | None = None
) -> GuildConfig:
    """Stop the server log. The channel is kept: security alerts still go there."""

    def switch_off(current: Mapping[str, Any]) -> dict[str, Any]:
        if not current["logging_enabled"]:
            raise ConflictError(_("The server log is already off."))
        return {"logging_enabled": False}

    return await change_settings(guild_id, actor_id, "logging.disable", switch_off, cache=cache)


def _column(category: LogCategory) -> str:
    if category not in LOG_CATEGORY_COLUMNS:
        raise ValidationError(_("The moderation log is the modlog: set it with `/modlog`."))
    return LOG_CATEGORY_COLUMNS[category]


async def set_log_category(
    guild_id: int,
    actor_id: int,
    category: LogCategory,
    *,
    channel_id: int,
    cache: ConfigCache | None = None,
) -> GuildConfig:
    """Post `category` in `channel_id`, reporting every event of the category (the log is
    switched on if it was off)."""
    column = _column(category)

    def route(current: Mapping[str, Any]) -> dict[str, Any]:
        events = list(current["logging_events"] or [])
        events += [e.value for e in category_events(category) if e.value not in events]
        return {"logging_enabled": True, "logging_events": events, column: channel_id}

    return await change_settings(guild_id, actor_id, "logging.category", route, cache=cache)


async def stop_log_category(
    guild_id: int, actor_id: int, category: LogCategory, *, cache: ConfigCache | None = None
) -> GuildConfig:
    """Stop reporting `category`: its events are no longer logged and its channel is forgotten."""
    column = _column(category)
    stopped = {event.value for event in category_events(category)}

    def stop(current: Mapping[str, Any]) -> dict[str, Any]:
        events = list(current["logging_events"] or [])
        if not stopped & set(events) and current[column] is None:
            raise ConflictError(_(_ALREADY_OFF[category]))
        return {"logging_events": [e for e in events if e not in stopped], column: None}

    return await change_settings(guild_id, actor_id, "logging.category", stop, cache=cache)
