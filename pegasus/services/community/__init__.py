"""Community: welcome and goodbye messages, autoroles and the server log.

Owns its columns of `guild_settings` (welcome, goodbye, logging, autorole) and reads the whole row
(security's columns too) as the cached `GuildConfig` that listeners use. Its modules:

- `config`: the configuration as listeners read it, and the `ConfigCache` the running bot owns;
- `settings`: the declared settings; every change is validated and audited with before and after;
- `greetings`: welcome and goodbye templates, what is posted, their settings;
- `autoroles`: roles given on join;
- `server_log`: which events the server log reports, and where.
"""

from __future__ import annotations

from .autoroles import (
    add_autorole,
    remove_autorole,
    require_can_be_autorole,
)
from .config import (
    CONFIG_COLUMNS,
    DEFAULT_TTL_SECONDS,
    LOG_CATEGORY_COLUMNS,
    LOG_CATEGORY_LABELS,
    LOG_EVENT_LABELS,
    ConfigCache,
    GreetingConfig,
    GreetingKind,
    GuildConfig,
    LogCategory,
    LogEvent,
    SecurityConfig,
    config_from_row,
    load_config,
)
from .greetings import (
    DISCORD_MESSAGE_LIMIT,
    MENTION_LENGTH,
    PLACEHOLDERS,
    EmbedSpec,
    Greeting,
    MemberFacts,
    build_greeting,
    disable_greeting,
    parse_color,
    render_template,
    set_greeting,
    validate_template,
    validate_url,
)
from .server_log import (
    category_events,
    disable_logging,
    parse_log_events,
    set_log_category,
    set_logging,
    stop_log_category,
)
from .settings import (
    MAX_AUTOROLES,
    MAX_MESSAGE_LENGTH,
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
    SETTINGS,
    change_settings,
)

__all__ = [
    "CONFIG_COLUMNS",
    "DEFAULT_TTL_SECONDS",
    "DISCORD_MESSAGE_LIMIT",
    "LOG_CATEGORY_COLUMNS",
    "LOG_CATEGORY_LABELS",
    "LOG_EVENT_LABELS",
    "MAX_AUTOROLES",
    "MAX_MESSAGE_LENGTH",
    "MAX_TITLE_LENGTH",
    "MAX_URL_LENGTH",
    "MENTION_LENGTH",
    "PLACEHOLDERS",
    "SETTINGS",
    "ConfigCache",
    "EmbedSpec",
    "Greeting",
    "GreetingConfig",
    "GreetingKind",
    "GuildConfig",
    "LogCategory",
    "LogEvent",
    "MemberFacts",
    "SecurityConfig",
    "add_autorole",
    "build_greeting",
    "category_events",
    "change_settings",
    "config_from_row",
    "disable_greeting",
    "disable_logging",
    "load_config",
    "parse_color",
    "parse_log_events",
    "remove_autorole",
    "render_template",
    "require_can_be_autorole",
    "set_greeting",
    "set_log_category",
    "set_logging",
    "stop_log_category",
    "validate_template",
    "validate_url",
]
