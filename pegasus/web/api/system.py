"""The key itself: what a client can ask before anything else."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pegasus.web.routes import Call, Routes

__all__ = ["routes"]

routes = Routes("keys", "The API key a request is made with.")


@dataclass(frozen=True)
class KeyInfo:
    """The key a request was made with (never its secret)."""

    id: uuid.UUID
    name: str
    owner_id: int
    guild_id: int | None  # None: bot-wide
    key_prefix: str
    scopes: list[str]
    rate_limit: int  # requests a minute
    expires_at: datetime | None


@routes.get("/me", scope=None, summary="Describe the key of this request", response=KeyInfo)
async def describe_key(call: Call) -> KeyInfo:
    """Which server the key reaches (none: every server), its scopes and its rate limit."""
    key = call.key
    return KeyInfo(
        id=key.id,
        name=key.name,
        owner_id=key.owner_id,
        guild_id=key.guild_id,
        key_prefix=key.key_prefix,
        scopes=list(key.scopes),
        rate_limit=key.rate_limit,
        expires_at=key.expires_at,
    )
