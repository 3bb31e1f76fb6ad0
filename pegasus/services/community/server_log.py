"""The server log: which events it reports, and where (how each event looks is the adapter's)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pegasus.errors import ConflictError, ValidationError, shown_input

from .config import ConfigCache, GuildConfig, LogEvent
from .settings import change_settings

__all__ = ["disable_logging", "parse_log_events", "set_logging"]


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
    guild_id: int,
    actor_id: int,
    *,
    channel_id: int,
    events: Iterable[LogEvent],
    cache: ConfigCache | None = None,
) -> GuildConfig:
    chosen = [LogEvent(event).value for event in events]
    if not chosen:
        raise ValidationError("Choose at least one event to log.")
    changes = {"logging_enabled": True, "logging_channel_id": channel_id, "logging_events": chosen}
    return await change_settings(guild_id, actor_id, "logging.set", changes, cache=cache)


async def disable_logging(
    guild_id: int, actor_id: int, *, cache: ConfigCache | None = None
) -> GuildConfig:
    """Stop the server log. The channel is kept: security alerts still go there."""

    def switch_off(current: Mapping[str, Any]) -> dict[str, Any]:
        if not current["logging_enabled"]:
            raise ConflictError("The server log is already off.")
        return {"logging_enabled": False}

    return await change_settings(guild_id, actor_id, "logging.disable", switch_off, cache=cache)
