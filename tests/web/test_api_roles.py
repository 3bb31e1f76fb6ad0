"""Roles the bot gives or pings on someone's behalf, set over the API: the key's owner is the person
setting the role up, checked by the same rule and with the same sentence as the slash command,
with what Discord says of the server read from the bot's cache (in-process) or from Discord's
REST API (standalone). A role that passes is recorded as delegated by the key's owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from models.guilds import GuildSettings
from models.levels import XpReward
from models.moderation import ModerationSettings
from models.raids import VerificationSettings
from models.security import AuditLog, AuditSource, RoleDelegation
from pegasus.localdiscord import Permissions
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.state import FakeMember, FakeRole
from pegasus.services import directory
from pegasus.services.security import API_SCOPES, create_api_key
from tests.e2e.test_role_delegation import Cast, cast_of
from tests.web.beside_bot import SOURCES, api_beside_bot, as_plain

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.community", "cogs.moderation", "cogs.security", "cogs.levels")
)



class RolesApi:
    """The API over the demo guild, asking Discord one way or the other."""

    def __init__(self, env: DiscordEnv, url: str) -> None:
        self.env = env
        self.session = aiohttp.ClientSession(base_url=url)

    async def key_of(self, member: FakeMember | int) -> str:
        owner = member if isinstance(member, int) else member.id
        created = await create_api_key(
            owner_id=owner, name="roles", scopes=list(API_SCOPES), guild_id=self.env.guild.id,
            now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True, rate_limit=1000,
        )
        return created.secret

    async def import_document(self, key: str, document: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(
            f"/api/v1/guilds/{self.env.guild.id}/settings/import",
            json=document,
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            return response.status, await response.json(content_type=None)

    async def patch(self, key: str, feature: str, values: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.patch(
            f"/api/v1/guilds/{self.env.guild.id}/settings/{feature}",
            json=values,
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            return response.status, await response.json(content_type=None)


@pytest.fixture(params=SOURCES)
async def roles_api(
    request: pytest.FixtureRequest, discord_env: DiscordEnv
) -> AsyncIterator[RolesApi]:
    env = discord_env
    await directory.ensure_guild(env.guild.id)
    async with api_beside_bot(env, request.param) as url:
        api = RolesApi(env, url)
        try:
            yield api
        finally:
            await api.session.close()


async def autoroles(env: DiscordEnv) -> list[int]:
    row = await GuildSettings.get_or_none(guild_id=env.guild.id)
    return list(row.autorole_role_ids) if row else []


async def test_an_autorole_the_command_refuses_the_api_refuses_with_its_sentence(
    roles_api: RolesApi,
) -> None:
    env = roles_api.env
    cast: Cast = await cast_of(env)
    key = await roles_api.key_of(cast.manager)
    above = await env.guild.create_role("Above", position=cast.manager_role.position + 1)
    await env.settle()
    for role in (cast.moderator, above, cast.admin, env.guild.default_role):
        said = await cast.manager.slash("autorole add", role=role)
        status, problem = await roles_api.patch(key, "community", {"autorole_role_ids": [role.id]})
        assert status in (403, 422), (role.name, problem)
        assert problem["detail"] == as_plain(said.text), role.name
    assert await autoroles(env) == []
    assert await RoleDelegation.filter(guild_id=env.guild.id).count() == 0
    assert await AuditLog.filter(source=AuditSource.API).count() == 0


async def test_an_autorole_the_key_owner_could_give_is_stored_and_delegated(
    roles_api: RolesApi,
) -> None:
    env = roles_api.env
    cast = await cast_of(env)
    key = await roles_api.key_of(cast.manager)

    status, answer = await roles_api.patch(
        key, "community", {"autorole_role_ids": [cast.regular.id], "autorole_enabled": True}
    )

    assert status == 200, answer
    assert await autoroles(env) == [cast.regular.id]
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=cast.regular.id)
    assert delegation.configured_by_id == cast.manager.id  # type: ignore[attr-defined]
    audit = await AuditLog.get(action="community.settings")
    assert audit.source is AuditSource.API
    assert audit.actor_id == cast.manager.id  # type: ignore[attr-defined]
    # A role already in the list is not checked again: the owner may edit around it.
    await env.guild.set_role_permissions(cast.regular, Permissions.of("kick_members"))
    await env.settle()
    status, answer = await roles_api.patch(
        key, "community", {"autorole_role_ids": [cast.regular.id], "autorole_enabled": False}
    )
    assert status == 200, answer


async def test_the_mute_role_needs_a_role_the_key_owner_could_give(roles_api: RolesApi) -> None:
    env = roles_api.env
    cast = await cast_of(env)
    key = await roles_api.key_of(cast.manager)

    status, problem = await roles_api.patch(key, "moderation", {"mute_role_id": cast.admin.id})
    assert status == 403, problem
    assert problem["detail"] == (
        f"role {cast.admin.id} is not below your highest role, so you can't have me give it."
    )
    row = await ModerationSettings.get_or_none(guild_id=env.guild.id)
    assert row is None or row.mute_role_id is None

    status, answer = await roles_api.patch(key, "moderation", {"mute_role_id": cast.regular.id})
    assert status == 200, answer
    assert (await ModerationSettings.get(guild_id=env.guild.id)).mute_role_id == cast.regular.id
    assert await RoleDelegation.exists(guild_id=env.guild.id, role_id=cast.regular.id)


async def test_the_verification_roles_need_roles_the_key_owner_could_give(
    roles_api: RolesApi,
) -> None:
    """Members who verify get these roles: set over the API, they pass the rule of
    /verification set, or any key holder could hand everyone a role above themselves."""
    env = roles_api.env
    cast = await cast_of(env)
    key = await roles_api.key_of(cast.manager)
    for name in ("verified_role_id", "unverified_role_id"):
        status, problem = await roles_api.patch(
            key, "security.verification", {name: cast.admin.id}
        )
        assert status == 403, (name, problem)
        assert "is not below your highest role" in problem["detail"], problem
    assert not await VerificationSettings.filter(verified_role_id=cast.admin.id).exists()

    status, answer = await roles_api.patch(
        key, "security.verification", {"verified_role_id": cast.regular.id}
    )
    assert status == 200, answer
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=cast.regular.id)
    assert delegation.configured_by_id == cast.manager.id  # type: ignore[attr-defined]


async def test_the_security_alert_role_is_recorded_for_its_pings(roles_api: RolesApi) -> None:
    env = roles_api.env
    admin = env.guild.role("Admin")
    key = await roles_api.key_of(env.mod)

    status, answer = await roles_api.patch(key, "security", {"security_alert_role_id": admin.id})

    assert status == 200, answer
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=admin.id)
    assert delegation.configured_by_id == env.mod.id  # type: ignore[attr-defined]


async def test_unknown_roles_and_strangers_are_refused(roles_api: RolesApi) -> None:
    env = roles_api.env
    stranger = await roles_api.key_of(999_999_999_999_999_999)
    owner = await roles_api.key_of(env.owner)
    moderator: FakeRole = env.guild.role("Moderator")

    status, problem = await roles_api.patch(stranger, "moderation", {"mute_role_id": moderator.id})
    assert status == 403, problem
    assert "not a member of this server" in problem["detail"]
    status, problem = await roles_api.patch(owner, "moderation", {"mute_role_id": 12345})
    assert status == 422, problem
    assert problem["detail"] == "role 12345 is not a role of this server."
    stored = ModerationSettings.filter(guild_id=env.guild.id, mute_role_id__not_isnull=True)
    assert not await stored.exists()


async def test_an_import_checks_the_roles_it_has_the_bot_give(roles_api: RolesApi) -> None:
    env = roles_api.env
    cast = await cast_of(env)
    key = await roles_api.key_of(cast.manager)

    said = await cast.manager.slash("levels reward-add", level=5, role=cast.admin)
    status, problem = await roles_api.import_document(
        key, {"level_rewards": [{"level": 5, "role_id": cast.admin.id}]}
    )
    assert status == 403, problem
    assert problem["detail"] == as_plain(said.text)
    assert not await XpReward.filter(guild_id=env.guild.id).exists()

    status, answer = await roles_api.import_document(
        key, {"level_rewards": [{"level": 5, "role_id": cast.regular.id}]}
    )
    assert status == 200, answer
    assert answer["level_rewards"] == [
        {"level": 5, "role_id": cast.regular.id, "message": None, "mode": None}
    ]
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=cast.regular.id)
    assert delegation.configured_by_id == cast.manager.id  # type: ignore[attr-defined]
