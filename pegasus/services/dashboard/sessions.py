"""Dashboard sessions on plain ids: the cookie's secret is handed out once and only its SHA-256
is stored; a session ends at logout or at `expires_at`, whichever comes first."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any

from models.web import WebSession
from pegasus.services import directory

__all__ = [
    "ADMINISTRATOR",
    "MANAGE_GUILD",
    "SESSION_LIFETIME",
    "DashboardGuild",
    "DashboardSession",
    "can_manage",
    "end_session",
    "find_session",
    "forget_expired",
    "start_session",
    "store_guilds",
]

SESSION_LIFETIME = timedelta(days=7)
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5


@dataclass(frozen=True)
class DashboardGuild:
    """A guild as Discord's /users/@me/guilds describes it for the signed-in person."""

    id: int
    name: str
    icon: str | None
    owner: bool
    permissions: int

    @property
    def manageable(self) -> bool:
        return can_manage(self.owner, self.permissions)

    @classmethod
    def from_discord(cls, data: Mapping[str, Any]) -> DashboardGuild:
        return cls(
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            icon=data.get("icon"),
            owner=bool(data.get("owner")),
            permissions=int(data.get("permissions") or 0),
        )

    def stored(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": self.icon,
            "owner": self.owner,
            "permissions": str(self.permissions),
        }


@dataclass(frozen=True)
class DashboardSession:
    id: str  # the stored hash, never the cookie's secret
    user_id: int
    user_name: str
    csrf_token: str
    sealed_token: str  # the Discord access token, encrypted by the web layer
    guilds: tuple[DashboardGuild, ...]
    guilds_fetched_at: datetime
    expires_at: datetime

    def __repr__(self) -> str:  # the tokens stay out of logs
        return f"<DashboardSession user={self.user_id} expires={self.expires_at.isoformat()}>"

    def guild(self, guild_id: int) -> DashboardGuild | None:
        return next((guild for guild in self.guilds if guild.id == guild_id), None)


def can_manage(owner: bool, permissions: int) -> bool:
    """Manage Server, as Discord's own settings menu decides it: owner, Administrator, or the
    Manage Server permission."""
    return owner or bool(permissions & (ADMINISTRATOR | MANAGE_GUILD))


def _hash(secret: str) -> str:
    return sha256(secret.encode()).hexdigest()


def _session(row: WebSession) -> DashboardSession:
    return DashboardSession(
        id=row.id,
        user_id=row.user_id,  # type: ignore[attr-defined]
        user_name=row.user_name,
        csrf_token=row.csrf_token,
        sealed_token=row.access_token,
        guilds=tuple(DashboardGuild.from_discord(item) for item in row.guilds or ()),
        guilds_fetched_at=row.guilds_fetched_at,
        expires_at=row.expires_at,
    )


async def start_session(
    *,
    user_id: int,
    user_name: str,
    sealed_token: str,
    token_expires_at: datetime,
    guilds: Iterable[DashboardGuild],
    now: datetime,
) -> tuple[str, DashboardSession]:
    """A new session; returns the cookie's secret (given to the browser only) and the session.
    It ends at the access token's expiry if that comes before a week."""
    await directory.ensure_user(user_id)
    secret = secrets.token_urlsafe(32)
    row = await WebSession.create(
        id=_hash(secret),
        user_id=user_id,
        user_name=user_name[:64],
        access_token=sealed_token,
        token_expires_at=token_expires_at,
        guilds=[guild.stored() for guild in guilds],
        guilds_fetched_at=now,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=min(now + SESSION_LIFETIME, token_expires_at),
    )
    return secret, _session(row)


async def find_session(secret: str | None, now: datetime) -> DashboardSession | None:
    """The live session of a cookie's secret; None when there is none or it has expired."""
    if not secret or len(secret) > 128:
        return None
    row = await WebSession.get_or_none(id=_hash(secret), expires_at__gt=now)
    return None if row is None else _session(row)


async def store_guilds(
    session: DashboardSession, guilds: Iterable[DashboardGuild], now: datetime
) -> DashboardSession:
    """The person's guilds as Discord just gave them."""
    stored = [guild.stored() for guild in guilds]
    await WebSession.filter(id=session.id).update(guilds=stored, guilds_fetched_at=now)
    row = await WebSession.get(id=session.id)
    return _session(row)


async def end_session(session_id: str) -> bool:
    """Logout: the session's row goes, so its cookie opens nothing any more."""
    return await WebSession.filter(id=session_id).delete() > 0


async def forget_expired(now: datetime) -> int:
    return await WebSession.filter(expires_at__lte=now).delete()
