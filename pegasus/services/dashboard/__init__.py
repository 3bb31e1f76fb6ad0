"""The web dashboard's sign-ins: who is signed in, their guild permissions, CSRF tokens."""

from pegasus.services.dashboard.sessions import (
    MANAGE_GUILD,
    DashboardGuild,
    DashboardSession,
    can_manage,
    end_session,
    find_session,
    forget_expired,
    start_session,
    store_guilds,
)

__all__ = [
    "MANAGE_GUILD",
    "DashboardGuild",
    "DashboardSession",
    "can_manage",
    "end_session",
    "find_session",
    "forget_expired",
    "start_session",
    "store_guilds",
]
