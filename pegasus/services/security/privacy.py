"""What security and the audit trail store about a member.

Nothing here is erased at a member's request: security events, blacklist entries, rate-limit
strikes and incidents are what protects the server (erasing them would lift a block), and the
audit trail is the server's record of who changed its configuration. API keys stay until their
owner revokes them, so a server's integrations do not break unannounced. The server's retention
settings still delete old security and audit logs.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from models.security import (
    ApiKey,
    AuditLog,
    Blacklist,
    BlacklistEntityType,
    RateLimitViolation,
    RoleDelegation,
    SecurityIncident,
    SecurityLog,
)
from pegasus.i18n import N_
from pegasus.services.privacy import Kept, PrivacyDeclaration, register


async def export_security(guild_id: int, user_id: int) -> dict[str, Any]:
    here = Q(guild_id=guild_id) | Q(guild_id__isnull=True)
    events = (
        await SecurityLog.filter(guild_id=guild_id, user_id=user_id)
        .order_by("created_at")
        .values("action", "severity", "description", "metadata", "created_at")
    )
    blacklisted = await Blacklist.filter(
        here, entity_type=BlacklistEntityType.USER, entity_id=user_id
    ).values("guild_id", "reason", "active", "expires_at", "created_at")
    strikes = await RateLimitViolation.filter(here, user_id=user_id).values(
        "endpoint", "violations", "blocked", "blocked_until", "updated_at"
    )
    incidents = await SecurityIncident.filter(guild_id=guild_id).values(
        "incident_id", "type", "status", "affected_users", "resolved_by_id", "created_at"
    )
    changes = (
        await AuditLog.filter(guild_id=guild_id, actor_id=user_id)
        .order_by("created_at")
        .values("action", "target_type", "target_id", "source", "created_at")
    )
    keys = await ApiKey.filter(here, owner_id=user_id).values(
        "name", "key_prefix", "scopes", "active", "expires_at", "last_used_at", "created_at"
    )
    roles = await RoleDelegation.filter(guild_id=guild_id, configured_by_id=user_id).values_list(
        "role_id", flat=True
    )
    blacklist_added = await Blacklist.filter(guild_id=guild_id, added_by_id=user_id).values(
        "entity_type", "entity_id", "created_at"
    )
    return {
        "security_events_about_you": events,
        "blacklist_entries_about_you": blacklisted,
        "rate_limit_strikes": strikes,
        "incidents_affecting_or_resolved_by_you": [
            {key: value for key, value in incident.items() if key != "affected_users"}
            for incident in incidents
            if user_id in (incident["affected_users"] or [])
            or incident["resolved_by_id"] == user_id
        ],
        "configuration_changes_you_made": changes,
        "api_keys_you_own": keys,
        "roles_you_set_up_for_pegasus_to_give": sorted(roles),
        "blacklist_entries_you_added": blacklist_added,
    }


DECLARATION = register(
    PrivacyDeclaration(
        feature="security",
        explanation=N_(
            "Security events about you (spam removed, raid alerts), blacklist entries and "
            "rate-limit strikes, incidents that involved you, and, if you are staff, the "
            "configuration changes you made, your API keys (never their secret) and the roles "
            "you set up for Pegasus to give."
        ),
        covers=(
            (SecurityLog, ("user",)),
            (Blacklist, ("added_by", "entity_id")),
            (AuditLog, ("actor", "target_id")),
            (RateLimitViolation, ("user_id",)),
            (SecurityIncident, ("resolved_by", "affected_users")),
            (ApiKey, ("owner",)),
            (RoleDelegation, ("configured_by",)),
        ),
        export=export_security,
        kept=(
            Kept(
                N_("security events, blacklist entries, rate-limit strikes and incidents"),
                N_(
                    "they protect the server (erasing them would lift a block), until the server's "
                    "retention deletes old ones"
                ),
                ("security_logs", "blacklist", "rate_limit_violations", "security_incidents"),
            ),
            Kept(
                N_("the audit trail, this erasure included"),
                N_("the server's record of who changed what; it holds no erased content"),
                ("audit_logs",),
            ),
            Kept(
                N_("your API keys and roles you set up for Pegasus to give"),
                N_("server configuration; revoke a key with /apikey revoke"),
                ("api_keys", "role_delegations"),
            ),
        ),
    )
)
