"""The rule on roles the bot gives or pings on someone's behalf, over the REST API.

The person setting a role up is the key's owner (`call.actor_id`). What the rule needs of the
server (its roles with their positions, permissions and whether an integration manages them,
the owner, the bot's roles, the owner of the key's roles) comes from `call.web.names`: the bot's
cache in its process, Discord's REST API (kept briefly) standalone. The rule itself is the one
the slash commands ask (`pegasus.services.role_delegations.require_can_delegate`), so a role a
command refuses, the API refuses with the same sentence.

A handler checks every role before it changes anything, and records the delegations after the
change is stored:

    role = await require_can_delegate(call, body.role_id)
    result = await add_reward(...)
    await remember_role_setup(call, role)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import aiohttp

from pegasus.errors import ConflictError, PermissionDenied, ValidationError, role_ref
from pegasus.i18n import N_, _
from pegasus.services import role_delegations
from pegasus.services.community import require_can_be_autorole
from pegasus.services.role_delegations import ADMINISTRATOR, Configurer, RoleFacts
from pegasus.web.discord_names import GuildRoles
from pegasus.web.routes import Call

if TYPE_CHECKING:
    from pegasus.web.app import WebState

__all__ = [
    "Asking",
    "RoleCheck",
    "remember_role_setup",
    "require_can_be_autorole_over_api",
    "require_can_delegate",
    "require_known_role",
]

MANAGE_ROLES = 1 << 28
# Checks one role id for the key's owner, and returns the role as it is now.
RoleCheck = Callable[[Call, int], Awaitable[RoleFacts]]


class Asking(Protocol):
    """Who sets a role up, in which guild, from which web application: an API call (the key's
    owner), or a dashboard request (the person signed in)."""

    @property
    def web(self) -> WebState: ...
    @property
    def guild_id(self) -> int: ...
    @property
    def actor_id(self) -> int: ...


UNREADABLE = N_(
    "This server's roles can't be read from Discord right now, so a role can't be checked; "
    "set it in Discord, or retry once the bot is in the server."
)


async def _guild_roles(call: Asking) -> GuildRoles:
    names = call.web.names
    try:
        roles = await names.guild_roles(call.guild_id) if names is not None else None
    except (aiohttp.ClientError, TimeoutError):
        roles = None  # Discord unreachable or refusing the token: the same answer as no guild
    if roles is None:
        raise ConflictError(_(UNREADABLE))
    return roles


def _role(roles: GuildRoles, role_id: int) -> RoleFacts:
    role = roles.roles.get(role_id)
    if role is None:
        raise ValidationError(_("{role} is not a role of this server."), role=role_ref(role_id))
    return role


async def _key_owner(call: Asking, roles: GuildRoles) -> Configurer:
    names = call.web.names
    assert names is not None  # _guild_roles answered
    try:
        held = await names.member_role_ids(call.guild_id, call.actor_id)
    except (aiohttp.ClientError, TimeoutError):
        raise ConflictError(_(UNREADABLE)) from None
    if held is None:
        raise PermissionDenied(
            _(
                "This key's owner is not a member of this server, so they can't have me give "
                "its roles; use a key of a member who could give the role themselves."
            )
        )
    return roles.configurer(call.actor_id, held)


async def require_known_role(call: Asking, role_id: int) -> RoleFacts:
    """A role of the server, to ping: whether it may be pinged is checked when it is (against
    whoever set it up), as for the slash command."""
    return _role(await _guild_roles(call), role_id)


async def require_can_delegate(call: Asking, role_id: int) -> RoleFacts:
    """Refuse unless the bot can give the role and the key's owner could give it themselves."""
    roles = await _guild_roles(call)
    role = _role(roles, role_id)
    role_delegations.require_can_delegate(role, roles.bot_top_role, await _key_owner(call, roles))
    return role


async def require_can_be_autorole_over_api(call: Asking, role_id: int) -> RoleFacts:
    """The autorole rule of `/autorole add`, for the key's owner."""
    roles = await _guild_roles(call)
    role = _role(roles, role_id)
    bot_permissions = roles.permissions_of(roles.bot_role_ids)
    require_can_be_autorole(
        role,
        bot_can_manage_roles=bool(bot_permissions & (MANAGE_ROLES | ADMINISTRATOR)),
        bot_top_role=roles.bot_top_role,
        invoker=await _key_owner(call, roles),
    )
    return role


async def remember_role_setup(call: Asking, role: RoleFacts) -> None:
    """Record the key's owner as who set `role` up, after a check above let them."""
    await role_delegations.record_role_setup(
        call.guild_id, role.id, call.actor_id, role.permissions
    )
