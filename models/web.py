"""The web dashboard's sign-ins."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.guilds import User


class WebSession(Model):
    """A person signed in to the dashboard with Discord.

    The cookie holds a random secret; only its SHA-256 is stored. The Discord access token, which
    re-reads the person's guild permissions, is stored encrypted (AES-GCM under a key derived from
    WEB_SECRET) and is never logged, exported or shown.
    `guilds` is the last answer of Discord's /users/@me/guilds (id, name, icon, owner,
    permissions), read again once `guilds_fetched_at` is older than a minute.
    """

    id = fields.CharField(max_length=64, primary_key=True)  # hex SHA-256 of the cookie secret
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    user_name = fields.CharField(max_length=64, default="")
    access_token = fields.CharField(max_length=512)
    token_expires_at = fields.DatetimeField()
    guilds: list[dict[str, Any]] = fields.JSONField(default=list)  # type: ignore[assignment]
    guilds_fetched_at = fields.DatetimeField()
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "web_sessions"
