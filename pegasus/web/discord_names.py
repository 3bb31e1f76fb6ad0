"""What the API and dashboard need to know of a guild from Discord: the names of its channels and
roles (to validate and show settings) and of people (who changed a setting), and its role
hierarchy with the roles of the bot and of one member (for the rule on roles the bot gives on
someone's behalf, `pegasus.web.roles`).

In the bot's process they come from its cache (`BotNames`); the standalone web process has no
gateway and asks Discord's REST API with the bot token (`RestNames`), keeping each answer for a
while (names `ttl` seconds, roles `roles_ttl` seconds: a role change matters sooner). Both answer
through `NameSource`, so handlers never know which they have.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import aiohttp

from pegasus.services.role_delegations import ADMINISTRATOR, Configurer, RoleFacts

if TYPE_CHECKING:
    import discord

__all__ = ["BotNames", "GuildNames", "GuildRoles", "NameSource", "RestNames"]

T = TypeVar("T")

REQUEST_SECONDS = 10.0  # a request to Discord that takes longer is given up
TEXT_LIKE = frozenset({0, 5, 15})  # text, announcement, forum: where settings may point
CATEGORY = 4


@dataclass(frozen=True, slots=True)
class GuildNames:
    """A guild's channels and roles by id: (name, Discord channel type) and name."""

    channels: Mapping[int, tuple[str, int]]
    roles: Mapping[int, str]

    def channel_name(self, channel_id: int) -> str | None:
        found = self.channels.get(channel_id)
        return found[0] if found else None

    def role_name(self, role_id: int) -> str | None:
        return self.roles.get(role_id)

    def is_text_channel(self, channel_id: int) -> bool:
        found = self.channels.get(channel_id)
        return found is not None and found[1] in TEXT_LIKE


@dataclass(frozen=True, slots=True)
class GuildRoles:
    """A guild's role hierarchy as the role rule sees it, and the bot's place in it."""

    guild_id: int
    owner_id: int
    roles: Mapping[int, RoleFacts]
    bot_role_ids: tuple[int, ...]

    @property
    def default_role(self) -> RoleFacts:
        return self.roles.get(self.guild_id) or RoleFacts(self.guild_id, 0, 0, is_default=True)

    def top_role(self, role_ids: tuple[int, ...] | list[int]) -> RoleFacts:
        """The highest of `role_ids` (unknown ids ignored), or @everyone for none."""
        held = [self.roles[role_id] for role_id in role_ids if role_id in self.roles]
        return max(held, key=RoleFacts.rank, default=self.default_role)

    @property
    def bot_top_role(self) -> RoleFacts:
        return self.top_role(self.bot_role_ids)

    def permissions_of(self, role_ids: tuple[int, ...] | list[int]) -> int:
        """The server-wide permissions of a member with `role_ids` (and @everyone)."""
        permissions = self.default_role.permissions
        for role_id in role_ids:
            if role_id in self.roles:
                permissions |= self.roles[role_id].permissions
        return permissions

    def configurer(self, user_id: int, role_ids: tuple[int, ...] | list[int]) -> Configurer:
        """A member with `role_ids` as the rule sees them: owner, Administrator, top role."""
        is_owner = user_id == self.owner_id
        return Configurer(
            is_owner=is_owner,
            is_administrator=is_owner or bool(self.permissions_of(role_ids) & ADMINISTRATOR),
            top_role=self.top_role(role_ids),
        )


class NameSource(Protocol):
    async def guild_names(self, guild_id: int) -> GuildNames | None:
        """The guild's names, or None when the bot is not in that guild."""
        ...

    async def guild_roles(self, guild_id: int) -> GuildRoles | None:
        """The guild's roles, owner and the bot's roles, or None when the bot is not in it."""
        ...

    async def member_role_ids(self, guild_id: int, user_id: int) -> tuple[int, ...] | None:
        """The roles of a member (without @everyone), or None when they are not a member."""
        ...

    async def user_name(self, user_id: int) -> str | None:
        """The name a person is shown by (display name, else username), or None if unknown."""
        ...


class BotNames:
    """From the running bot's cache: current, and free."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def guild_names(self, guild_id: int) -> GuildNames | None:
        guild = self._client.get_guild(guild_id)
        if guild is None:
            return None
        return GuildNames(
            channels={c.id: (c.name, c.type.value) for c in guild.channels},
            roles={r.id: r.name for r in guild.roles},
        )

    async def guild_roles(self, guild_id: int) -> GuildRoles | None:
        guild = self._client.get_guild(guild_id)
        if guild is None:
            return None
        return GuildRoles(
            guild_id=guild.id,
            owner_id=guild.owner_id or 0,
            roles={
                r.id: RoleFacts(r.id, r.position, r.permissions.value, r.managed, r.is_default())
                for r in guild.roles
            },
            bot_role_ids=tuple(r.id for r in guild.me.roles if not r.is_default()),
        )

    async def member_role_ids(self, guild_id: int, user_id: int) -> tuple[int, ...] | None:
        # The bot has the members intent: its cache holds every member.
        guild = self._client.get_guild(guild_id)
        member = guild.get_member(user_id) if guild is not None else None
        if member is None:
            return None
        return tuple(r.id for r in member.roles if not r.is_default())

    async def user_name(self, user_id: int) -> str | None:
        user = self._client.get_user(user_id)
        return None if user is None else user.global_name or user.name


class RestNames:
    """From Discord's REST API with the bot token, each answer kept for a while.

    One request at a time per answer, so a burst of API calls costs Discord one request each.
    """

    def __init__(
        self,
        api_base: str,
        token: str,
        *,
        ttl: float = 60.0,
        roles_ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api_base = api_base.rstrip("/")
        self._headers = {"Authorization": f"Bot {token}"}
        self._ttl = ttl
        self._roles_ttl = roles_ttl
        self._clock = clock
        self._kept: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._locks: dict[tuple[Any, ...], asyncio.Lock] = {}
        self._session: aiohttp.ClientSession | None = None
        self._bot_id: int | None = None

    async def guild_names(self, guild_id: int) -> GuildNames | None:
        return await self._kept_or(("names", guild_id), self._ttl, lambda: self._names(guild_id))

    async def guild_roles(self, guild_id: int) -> GuildRoles | None:
        return await self._kept_or(
            ("roles", guild_id), self._roles_ttl, lambda: self._roles(guild_id)
        )

    async def member_role_ids(self, guild_id: int, user_id: int) -> tuple[int, ...] | None:
        return await self._kept_or(
            ("member", guild_id, user_id),
            self._roles_ttl,
            lambda: self._member_role_ids(guild_id, user_id),
        )

    async def user_name(self, user_id: int) -> str | None:
        return await self._kept_or(("user", user_id), self._ttl, lambda: self._user_name(user_id))

    def forget(self, guild_id: int | None = None) -> None:
        if guild_id is None:
            self._kept.clear()
        else:
            for key in [key for key in self._kept if key[1] == guild_id]:
                del self._kept[key]

    async def _kept_or(
        self, key: tuple[Any, ...], ttl: float, fetch: Callable[[], Awaitable[T]]
    ) -> T:
        async with self._locks.setdefault(key, asyncio.Lock()):
            kept = self._kept.get(key)
            if kept is not None and kept[0] > self._clock():
                return kept[1]  # type: ignore[no-any-return]
            value = await fetch()
            self._kept[key] = (self._clock() + ttl, value)
            return value

    async def _names(self, guild_id: int) -> GuildNames | None:
        channels = await self._get(f"/guilds/{guild_id}/channels")
        roles = await self._get(f"/guilds/{guild_id}/roles")
        if channels is None or roles is None:
            return None
        return GuildNames(
            channels={int(c["id"]): (str(c.get("name") or ""), int(c["type"])) for c in channels},
            roles={int(r["id"]): str(r["name"]) for r in roles},
        )

    async def _roles(self, guild_id: int) -> GuildRoles | None:
        guild = await self._get(f"/guilds/{guild_id}")
        bot_roles = await self._member_role_ids(guild_id, await self._bot_user_id())
        if guild is None or bot_roles is None:
            return None
        return GuildRoles(
            guild_id=guild_id,
            owner_id=int(guild.get("owner_id") or 0),
            roles={
                int(r["id"]): RoleFacts(
                    id=int(r["id"]),
                    position=int(r["position"]),
                    permissions=int(r["permissions"]),
                    managed=bool(r.get("managed")),
                    is_default=int(r["id"]) == guild_id,
                )
                for r in guild.get("roles", [])
            },
            bot_role_ids=bot_roles,
        )

    async def _member_role_ids(self, guild_id: int, user_id: int) -> tuple[int, ...] | None:
        member = await self._get(f"/guilds/{guild_id}/members/{user_id}")
        if member is None:
            return None
        held = (int(role_id) for role_id in member.get("roles", []))
        return tuple(role_id for role_id in held if role_id != guild_id)

    async def _user_name(self, user_id: int) -> str | None:
        user = await self._get(f"/users/{user_id}")
        if user is None:
            return None
        return str(user.get("global_name") or user.get("username") or "") or None

    async def _bot_user_id(self) -> int:
        if self._bot_id is None:
            me = await self._get("/users/@me")
            self._bot_id = int(me["id"])
        return self._bot_id

    async def _get(self, path: str) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=REQUEST_SECONDS)
            )
        async with self._session.get(self._api_base + path) as response:
            if response.status in (403, 404):  # not in that guild (left, or never added)
                return None
            response.raise_for_status()
            return await response.json()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
