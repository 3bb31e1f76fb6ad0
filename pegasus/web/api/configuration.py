"""A server's whole configuration as one JSON document (`pegasus.services.configuration`).

`GET /guilds/{guild_id}/settings/export` gives every declared setting of every feature, the level
rewards and multipliers, the shop's items, the ticket panels and the warning automations.
`POST /guilds/{guild_id}/settings/import` applies such a document (to the same server or
another) in one transaction, each part checked by the rule its command uses and audited; the
first problem is refused with a sentence that says where it is, and nothing changes.

Besides `guild:write`, an import needs the write scope of each part it holds (`economy:write`
for shop items, `levels:write` for rewards and multipliers, ...). Roles the document newly has
the bot give or ping are checked for the key's owner as the commands check them
(`pegasus.web.roles`) and recorded as delegated by them.
"""

from __future__ import annotations

from pegasus.services.configuration import (
    GuildConfiguration,
    RoleReferences,
    export_configuration,
    import_configuration,
    role_references,
)
from pegasus.services.role_delegations import RoleFacts
from pegasus.web.api.settings import scope_of
from pegasus.web.problems import ApiProblem
from pegasus.web.roles import (
    remember_role_setup,
    require_can_be_autorole_over_api,
    require_can_delegate,
    require_known_role,
)
from pegasus.web.routes import Call, Routes

__all__ = ["routes"]

routes = Routes(
    "configuration", "A server's whole configuration as one document, to export and import."
)

# The scope each part of a document needs to be imported, besides guild:write.
PART_SCOPES = {
    "level_rewards": "levels:write",
    "multipliers": "levels:write",
    "shop_items": "economy:write",
    "ticket_panels": "tickets:write",
    "automations": "moderation:write",
}


@routes.get(
    "/guilds/{guild_id}/settings/export",
    scope="guild:read",
    summary="Export the server's configuration",
    response=GuildConfiguration,
)
async def export_settings(call: Call) -> GuildConfiguration:
    """Every setting of every feature, level rewards and multipliers, shop items, ticket
    panels and warning automations: a document `POST .../settings/import` takes back."""
    return await export_configuration(call.guild_id)


@routes.post(
    "/guilds/{guild_id}/settings/import",
    scope="guild:write",
    summary="Import a configuration",
    body=GuildConfiguration,
    response=GuildConfiguration,
    idempotent=True,
    audit_fallback=False,  # the services audit every change they make, and nothing else
)
async def import_settings(call: Call) -> GuildConfiguration:
    """Apply a document as exported, in one transaction. `settings`: the settings given are
    set (per feature). `level_rewards`, `multipliers`: the lists become the document's.
    `shop_items` (by name), `automations` (by name), `ticket_panels` (by `panel_id` of this
    server, else new): created or changed; ones not named are left. A part left out (or null)
    is left as it is. The first problem is refused (422, 403 or 409) with where it is, and
    nothing changes. Answers the configuration afterwards."""
    document: GuildConfiguration = call.body
    _require_part_scopes(call, document)
    vetted = await _vet_new_roles(call, document)
    result = await import_configuration(
        call.guild_id, document, actor_id=call.actor_id, now=call.now
    )
    for role in vetted:
        await remember_role_setup(call, role)
    return result


def _require_part_scopes(call: Call, document: GuildConfiguration) -> None:
    needed = [scope_of(feature, "write") for feature in sorted(document.settings or {})]
    needed += [scope for part, scope in PART_SCOPES.items() if getattr(document, part)]
    for scope in needed:
        if scope not in call.key.scopes:
            raise ApiProblem(
                403,
                f"This key lacks the {scope} scope that importing this document needs: create a "
                "key with it (/apikey create in Discord), or leave that part out.",
            )


async def _vet_new_roles(call: Call, document: GuildConfiguration) -> list[RoleFacts]:
    """Check the roles the document has the bot give or ping that this server does not yet."""
    new: RoleReferences = role_references(document) - role_references(
        await export_configuration(call.guild_id)
    )
    vetted = [await require_can_be_autorole_over_api(call, r) for r in sorted(new.autoroles)]
    vetted += [await require_can_delegate(call, r) for r in sorted(new.given)]
    vetted += [await require_known_role(call, r) for r in sorted(new.pinged)]
    return vetted
