"""Role items of the shop over HTTP: the key's owner sets the role up, checked by the rule and with
the sentence of `/shop-admin add|edit`, with what Discord says of the server read from the bot's
cache (in-process) or from Discord's REST API (standalone)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from models.economy import EconomyShopItem
from models.security import AuditLog, AuditSource, RoleDelegation
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import directory
from pegasus.services.security import API_SCOPES, create_api_key
from tests.e2e.test_role_delegation import cast_of
from tests.web.beside_bot import SOURCES, api_beside_bot, as_plain

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.economy"))

class ShopApi:
    def __init__(self, env: DiscordEnv, url: str) -> None:
        self.env = env
        self.session = aiohttp.ClientSession(base_url=url)
        self.items = f"/api/v1/guilds/{env.guild.id}/economy/shop/items"

    async def key_of(self, owner_id: int) -> str:
        created = await create_api_key(
            owner_id=owner_id, name="shop", scopes=list(API_SCOPES), guild_id=self.env.guild.id,
            now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True, rate_limit=1000,
        )
        return created.secret

    async def send(self, method: str, path: str, key: str, body: Any) -> tuple[int, Any]:
        async with self.session.request(
            method, path, json=body, headers={"Authorization": f"Bearer {key}"}
        ) as response:
            return response.status, await response.json(content_type=None)


@pytest.fixture(params=SOURCES)
async def shop_api(
    request: pytest.FixtureRequest, discord_env: DiscordEnv
) -> AsyncIterator[ShopApi]:
    env = discord_env
    await directory.ensure_guild(env.guild.id)
    async with api_beside_bot(env, request.param) as url:
        api = ShopApi(env, url)
        try:
            yield api
        finally:
            await api.session.close()


async def test_a_role_item_the_command_refuses_the_api_refuses_with_its_sentence(
    shop_api: ShopApi,
) -> None:
    env = shop_api.env
    cast = await cast_of(env)
    key = await shop_api.key_of(cast.manager.id)
    above = await env.guild.create_role("Above", position=cast.manager_role.position + 1)
    await env.settle()
    for role in (cast.moderator, above, cast.admin):
        said = await cast.manager.slash(
            "shop-admin add", name=f"{role.name} pass", price=10, type="role", role=role
        )
        status, problem = await shop_api.send(
            "POST", shop_api.items, key,
            {"name": f"{role.name} pass", "price": 10, "type": "role", "role_id": role.id},
        )
        assert status == 403, (role.name, problem)
        assert problem["detail"] == as_plain(said.text), role.name
    status, problem = await shop_api.send(
        "POST", shop_api.items, key, {"name": "Ghost", "price": 10, "type": "role",
                                      "role_id": 12345},
    )
    assert status == 422 and problem["detail"] == "role 12345 is not a role of this server."
    assert not await EconomyShopItem.filter(guild_id=env.guild.id).exists()
    assert not await RoleDelegation.filter(guild_id=env.guild.id).exists()
    assert not await AuditLog.filter(source=AuditSource.API).exists()


async def test_a_role_the_key_owner_could_give_is_sold_and_recorded_as_theirs(
    shop_api: ShopApi,
) -> None:
    env = shop_api.env
    cast = await cast_of(env)
    key = await shop_api.key_of(cast.manager.id)
    status, item = await shop_api.send(
        "POST", shop_api.items, key,
        {"name": "Regular pass", "price": 10, "type": "role", "role_id": cast.regular.id},
    )
    assert status == 201, item
    assert item["effect"] == {"role_id": cast.regular.id} and item["max_per_user"] == 1
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=cast.regular.id)
    assert delegation.configured_by_id == cast.manager.id  # type: ignore[attr-defined]
    audit = await AuditLog.get(action="shop.item.add")
    assert audit.source is AuditSource.API
    assert audit.actor_id == cast.manager.id  # type: ignore[attr-defined]

    # Editing the role is checked the same way: a role /shop-admin edit refuses is refused.
    said = await cast.manager.slash("shop-admin edit", item="Regular pass", role=cast.admin)
    status, problem = await shop_api.send(
        "PATCH", f"{shop_api.items}/{item['id']}", key, {"role_id": cast.admin.id}
    )
    assert status == 403, problem
    assert problem["detail"] == as_plain(said.text)
    stored = await EconomyShopItem.get(id=item["id"])
    assert stored.effect == {"role_id": cast.regular.id}
    assert not await RoleDelegation.exists(guild_id=env.guild.id, role_id=cast.admin.id)
