"""What the dashboard stores about a person: their sign-ins.

A sign-in is not about one server: an export lists every live one (when it started and ends,
never its tokens), and an erasure ends them all, which signs the person out everywhere.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.web import WebSession
from pegasus.i18n import N_
from pegasus.services.privacy import PrivacyDeclaration, register


async def export_sessions(_guild_id: int, user_id: int) -> dict[str, Any]:
    rows = await WebSession.filter(user_id=user_id).order_by("created_at").values(
        "created_at", "expires_at", "guilds", "guilds_fetched_at"
    )
    return {"dashboard_sign_ins": rows}


async def erase_sessions(
    _guild_id: int, user_id: int, conn: BaseDBAsyncClient
) -> dict[str, int]:
    ended = await WebSession.filter(user_id=user_id).using_db(conn).delete()
    return {"dashboard sign-ins": ended}


DECLARATION = register(
    PrivacyDeclaration(
        feature="dashboard",
        explanation=N_(
            "Your sign-ins to the web dashboard: when each started and ends, and the servers "
            "and permissions Discord listed for you then (never the sign-in's tokens)."
        ),
        covers=((WebSession, ("user_id", "user_name", "guilds")),),
        export=export_sessions,
        erase=erase_sessions,
        erased=(N_("your dashboard sign-ins (you are signed out everywhere)"),),
    )
)
