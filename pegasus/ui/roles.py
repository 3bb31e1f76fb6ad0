"""The one rule for roles Pegasus gives or pings on someone's behalf.

Level rewards, shop role items, automation role steps, autoroles, the mute role, ticket support
roles and the security alert role are set up by one person and acted on later by the bot, for
somebody else. So nobody gets more power through Pegasus than they already have:

- when set up (`require_can_delegate`): the role is not @everyone, not managed, below the bot's
  top role, below the invoker's top role unless the invoker owns the server, and a role with an
  elevated permission may be set up only by the owner or a member with Administrator (the rule
  is `pegasus.services.role_delegations.require_can_delegate`, which the REST API asks too);
- when given (`vet_grants`): the same rule again, against whoever set the role up as they are
  now. A role that has gained an elevated permission since it was set up (whoever set it up), or
  has risen above that person, is not given; the skip is a security_logs row and a post in the
  server log, and setting the role up again is the way to vouch for it as it is now;
- when pinged (`pingable_roles`): only roles anyone may mention, or roles whose configurer could
  mention them (Mention Everyone).

A role set up before configurers were recorded (and the mute role, which the bot finds by name)
is vouched for by nobody: given while it carries no elevated permission, pinged only if
mentionable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord

from pegasus.i18n import DEFAULT_LOCALE, _, for_guild, use_locale
from pegasus.services import role_delegations
from pegasus.services.role_delegations import (
    ELEVATED_PERMISSIONS,
    Configurer,
    Delegation,
    RoleFacts,
)
from pegasus.ui.checks import and_join
from pegasus.ui.format import RED
from pegasus.ui.logpost import post_alert

__all__ = [
    "ELEVATED_PERMISSIONS",
    "configurer",
    "elevated_permissions",
    "grant_refusal",
    "pingable_roles",
    "remember_role_setup",
    "require_can_delegate",
    "role_facts",
    "vet_grants",
]

log = logging.getLogger(__name__)

def elevated_permissions(permissions: discord.Permissions) -> list[str]:
    """The names of the elevated permissions in `permissions`, in a fixed order (English)."""
    return role_delegations.elevated_permissions(permissions.value)


def _names(permissions: list[str]) -> str:
    return and_join([_(name) for name in permissions])


def _is_owner(member: discord.Member) -> bool:
    return member.id == member.guild.owner_id


def role_facts(role: discord.Role) -> RoleFacts:
    return RoleFacts(
        id=role.id,
        position=role.position,
        permissions=role.permissions.value,
        managed=role.managed,
        is_default=role.is_default(),
    )


def configurer(member: discord.Member) -> Configurer:
    return Configurer(
        is_owner=_is_owner(member),
        is_administrator=member.guild_permissions.administrator,
        top_role=role_facts(member.top_role),
    )


def require_can_delegate(role: discord.Role, invoker: discord.Member) -> None:
    """Refuse to set `role` up to be given later unless `invoker` could give it themselves."""
    role_delegations.require_can_delegate(
        role_facts(role), role_facts(role.guild.me.top_role), configurer(invoker)
    )


async def remember_role_setup(role: discord.Role, invoker: discord.Member) -> None:
    """Record `invoker` as who set `role` up, after `require_can_delegate` let them."""
    await role_delegations.record_role_setup(
        role.guild.id, role.id, invoker.id, role.permissions.value
    )


def grant_refusal(
    role: discord.Role, setup: Delegation | None, configurer: discord.Member | None
) -> str | None:
    """Why the bot must not give `role` now, or None.

    `setup` is how the role was set up (None: before this was recorded), `configurer` the member
    who set it up, as they are now (None: gone). In the current language.
    """
    if role.is_default() or role.managed:
        return _("{role} can't be given by a bot.").format(role=role.name)
    if role >= role.guild.me.top_role:
        return _("{role} is not below my highest role.").format(role=role.name)
    elevated = elevated_permissions(role.permissions)
    vouched = elevated_permissions(discord.Permissions(setup.permissions)) if setup else []
    gained = [name for name in elevated if name not in vouched]
    if gained:
        if setup:
            return _("{role} has {permissions} since it was set up.").format(
                role=role.name, permissions=_names(gained)
            )
        return _("{role} has {permissions} and nobody set it up since I check this.").format(
            role=role.name, permissions=_names(gained)
        )
    if setup is None or (configurer is not None and _is_owner(configurer)):
        return None
    if configurer is None:
        return (
            _("{role} has {permissions}, and the member who set it up is no longer here.").format(
                role=role.name, permissions=_names(elevated)
            )
            if elevated
            else None
        )
    if role >= configurer.top_role:
        return _(
            "{role} is no longer below the highest role of {member}, who set it up."
        ).format(role=role.name, member=configurer)
    if elevated and not configurer.guild_permissions.administrator:
        return _(
            "{role} has {permissions}, and {member}, who set it up, is no "
            "longer the server owner or an Administrator."
        ).format(role=role.name, permissions=_names(elevated), member=configurer)
    return None


async def vet_grants(
    member: discord.Member, roles: Sequence[discord.Role], *, purpose: str
) -> list[discord.Role]:
    """The roles of `roles` the bot may give `member` now; each other one is reported, not given.

    `purpose` says why the role was due ("level 5 reward", "shop item VIP"), for the record.
    """
    if not roles:
        return []
    guild = member.guild
    recorded = await role_delegations.delegations(guild.id, (role.id for role in roles))
    allowed: list[discord.Role] = []
    for role in roles:
        setup = recorded.get(role.id)
        configured_by = setup.configured_by if setup else None
        configurer = guild.get_member(configured_by) if configured_by else None
        if grant_refusal(role, setup, configurer) is None:
            allowed.append(role)
        else:
            await _report_refused_grant(member, role, purpose, setup, configurer)
    return allowed


async def _report_refused_grant(
    member: discord.Member,
    role: discord.Role,
    purpose: str,
    setup: Delegation | None,
    configurer: discord.Member | None,
) -> None:
    configured_by = setup.configured_by if setup else None
    with use_locale(DEFAULT_LOCALE):  # the record and the log stay in English
        reason = grant_refusal(role, setup, configurer) or ""
    log.warning(
        "Not giving role %s to %s in guild %s (%s): %s",
        role.id,
        member.id,
        member.guild.id,
        purpose,
        reason,
    )
    await role_delegations.record_refused_grant(
        guild_id=member.guild.id,
        member_id=member.id,
        role_id=role.id,
        purpose=purpose,
        reason=reason,
        configured_by=configured_by,
    )
    with for_guild(member.guild.id):  # a post to the server's staff
        embed = discord.Embed(
            title=_("Role not given"),
            description=_(
                "{member} was due {role} ({purpose}), and I did not give it: "
                "{reason} Whoever set it up must be able to give it themselves: set it up again "
                "as the server owner or an Administrator, or choose another role."
            ).format(
                member=member.mention,
                role=role.mention,
                purpose=_(purpose),
                reason=grant_refusal(role, setup, configurer) or "",
            ),
            colour=RED,
        )
        embed.set_footer(
            text=_("Member id {member} · role id {role}").format(member=member.id, role=role.id)
        )
    await post_alert(member.guild, embed)


async def pingable_roles(guild: discord.Guild, role_ids: Sequence[int]) -> list[discord.Role]:
    """The roles of `role_ids` the bot may ping: mentionable ones, or ones whose configurer could
    mention them (Mention Everyone, or the server owner)."""
    roles = [role for role in map(guild.get_role, role_ids) if role is not None]
    closed = [role for role in roles if not role.mentionable]
    if not closed:
        return roles
    recorded = await role_delegations.delegations(guild.id, (role.id for role in closed))
    pingable = []
    for role in roles:
        if role.mentionable:
            pingable.append(role)
            continue
        setup = recorded.get(role.id)
        configured_by = setup.configured_by if setup else None
        configurer = guild.get_member(configured_by) if configured_by else None
        if configurer is not None and (
            _is_owner(configurer) or configurer.guild_permissions.mention_everyone
        ):
            pingable.append(role)
    return pingable
