"""Security: anti-raid, anti-spam, command rate limits, security incidents and API keys.

Hot paths (every join, every message, every command) decide in memory, with detectors and
limiters the running bot owns and hands in; the database is written only when something is
wrong: a raid (`raids`, which opens an incident), a spam message (`spam`), a rate-limit violation
(`ratelimits`). `incidents` follows what was detected until it is closed; `apikeys` creates,
verifies and limits the keys of the REST API; `settings` declares the anti-raid, anti-spam and
alert-role settings.
"""

from __future__ import annotations

from pegasus.services.community import SecurityConfig
from pegasus.services.security.apikeys import (
    API_SCOPES,
    MAX_ACTIVE_KEYS_PER_OWNER,
    MAX_KEY_LIFETIME,
    MIN_KEY_LIFETIME,
    ApiKeyRateLimiter,
    ApiKeyRecord,
    CreatedApiKey,
    InvalidApiKey,
    KeyUsage,
    create_api_key,
    enforce_api_rate_limit,
    hash_secret,
    list_api_keys,
    parse_scopes,
    revoke_api_key,
    verify_api_key,
)
from pegasus.services.security.incidents import (
    OPEN_STATUSES,
    Incident,
    IncidentStatus,
    add_incident_note,
    get_incident,
    list_incidents,
    record_incident_action,
    resolve_incident,
    status_label,
)
from pegasus.services.security.raids import RaidDetector, RaidReport, handle_join, resume_raids
from pegasus.services.security.ratelimits import (
    COMMANDS_ENDPOINT,
    CommandRateLimiter,
    RateDecision,
    SlidingWindow,
    Violation,
    active_blocks,
    record_rate_limit_violation,
    violation_subject,
)
from pegasus.services.security.settings import (
    SETTINGS,
    security_config,
    update_security_settings,
)
from pegasus.services.security.spam import (
    DUPLICATE_WINDOW_SECONDS,
    SpamDetector,
    SpamKind,
    SpamVerdict,
    count_mentions,
    record_spam,
)

__all__ = [
    "API_SCOPES",
    "COMMANDS_ENDPOINT",
    "DUPLICATE_WINDOW_SECONDS",
    "MAX_ACTIVE_KEYS_PER_OWNER",
    "MAX_KEY_LIFETIME",
    "MIN_KEY_LIFETIME",
    "OPEN_STATUSES",
    "SETTINGS",
    "ApiKeyRateLimiter",
    "ApiKeyRecord",
    "CommandRateLimiter",
    "CreatedApiKey",
    "Incident",
    "IncidentStatus",
    "InvalidApiKey",
    "KeyUsage",
    "RaidDetector",
    "RaidReport",
    "RateDecision",
    "SecurityConfig",
    "SlidingWindow",
    "SpamDetector",
    "SpamKind",
    "SpamVerdict",
    "Violation",
    "active_blocks",
    "add_incident_note",
    "count_mentions",
    "create_api_key",
    "enforce_api_rate_limit",
    "get_incident",
    "handle_join",
    "hash_secret",
    "list_api_keys",
    "list_incidents",
    "parse_scopes",
    "record_incident_action",
    "record_rate_limit_violation",
    "record_spam",
    "resolve_incident",
    "resume_raids",
    "revoke_api_key",
    "security_config",
    "status_label",
    "update_security_settings",
    "verify_api_key",
    "violation_subject",
]
