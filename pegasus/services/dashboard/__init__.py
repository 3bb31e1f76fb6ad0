"""The web dashboard's sign-ins (who is signed in, their guild permissions, CSRF tokens) and
the switch of the public pages."""

from pegasus.services.dashboard.public import (
    display_names,
    public_pages_on,
    set_public_pages,
)
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
    "display_names",
    "end_session",
    "find_session",
    "forget_expired",
    "public_pages_on",
    "set_public_pages",
    "start_session",
    "store_guilds",
]
