"""Names of a guild's channels and roles, to validate and show settings in the API and dashboard.

In the bot's process they come from its cache (`BotNames`); the standalone web process has no
gateway and asks Discord's REST API with the bot token (`RestNames`), keeping each guild's answer
for `ttl` seconds. Both answer through `NameSource`, so handlers never know which they have.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

if TYPE_CHECKING:
    import discord

__all__ = ["BotNames", "GuildNames", "NameSource", "RestNames"]

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


class NameSource(Protocol):
    async def guild_names(self, guild_id: int) -> GuildNames | None:
        """The guild's names, or None when the bot is not in that guild."""
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


class RestNames:
    """From Discord's REST API with the bot token, each guild kept for `ttl` seconds.

    One request pair at a time per guild, so a burst of API calls costs Discord two requests.
    """

    def __init__(
        self,
        api_base: str,
        token: str,
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api_base = api_base.rstrip("/")
        self._headers = {"Authorization": f"Bot {token}"}
        self._ttl = ttl
        self._clock = clock
        self._kept: dict[int, tuple[float, GuildNames | None]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._session: aiohttp.ClientSession | None = None

    async def guild_names(self, guild_id: int) -> GuildNames | None:
        async with self._locks.setdefault(guild_id, asyncio.Lock()):
            kept = self._kept.get(guild_id)
            if kept is not None and kept[0] > self._clock():
                return kept[1]
            names = await self._fetch(guild_id)
            self._kept[guild_id] = (self._clock() + self._ttl, names)
            return names

    def forget(self, guild_id: int | None = None) -> None:
        if guild_id is None:
            self._kept.clear()
        else:
            self._kept.pop(guild_id, None)

    async def _fetch(self, guild_id: int) -> GuildNames | None:
        channels = await self._get(f"/guilds/{guild_id}/channels")
        roles = await self._get(f"/guilds/{guild_id}/roles")
        if channels is None or roles is None:
            return None
        return GuildNames(
            channels={int(c["id"]): (str(c.get("name") or ""), int(c["type"])) for c in channels},
            roles={int(r["id"]): str(r["name"]) for r in roles},
        )

    async def _get(self, path: str) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        async with self._session.get(self._api_base + path) as response:
            if response.status in (403, 404):  # not in that guild (left, or never added)
                return None
            response.raise_for_status()
            return await response.json()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
