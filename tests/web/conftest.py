"""The web server on a free port over a fresh database, and a real HTTP client for it.

`api` starts `create_app` (standalone: no bot) on 127.0.0.1 with the test's database open, so
requests run the real middleware, routes and services; `api.key(...)` creates a real API key
through the service the `/apikey` command uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from pegasus.services import directory
from pegasus.services.security import CreatedApiKey, create_api_key
from pegasus.web import WebConfig, WebServer, create_app
from pegasus.web.app import WebState
from pegasus.web.routes import Route

GUILD = 711_111_111_111_111_111
OTHER_GUILD = 722_222_222_222_222_222
OWNER = 733_333_333_333_333_333  # the key's owner (a server admin)
SECRET = b"test-secret-of-the-web-server-0123456789"
ALL_SCOPES = "all"


@dataclass
class Api:
    server: WebServer
    session: aiohttp.ClientSession
    keys: list[CreatedApiKey] = field(default_factory=list)

    @property
    def state(self) -> WebState:
        return self.server.state

    async def key(
        self,
        scopes: Iterable[str] | str = ALL_SCOPES,
        *,
        guild_id: int | None = GUILD,
        owner_id: int = OWNER,
        rate_limit: int = 1000,
        expires_in_seconds: int | None = None,
        now: datetime | None = None,
    ) -> str:
        from pegasus.services.security import API_SCOPES

        chosen = list(API_SCOPES) if scopes == ALL_SCOPES else list(scopes)
        created = await create_api_key(
            owner_id=owner_id,
            name=f"test key {len(self.keys)}",
            scopes=chosen,
            guild_id=guild_id,
            now=now or datetime.now(UTC),
            is_bot_owner=guild_id is None,
            is_guild_admin=True,
            rate_limit=rate_limit,
            expires_in_seconds=expires_in_seconds,
        )
        self.keys.append(created)
        return created.secret

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        async with self.session.request(method, path, json=json, headers=sent) as response:
            text = await response.text()
            body: Any = text
            if response.content_type in ("application/json", "application/problem+json"):
                body = await response.json(content_type=None)
            return response.status, body, response.headers


async def start_api(
    config: WebConfig, routes: Iterable[Route] | None = None
) -> tuple[WebServer, aiohttp.ClientSession]:
    server = WebServer(create_app(config, routes=routes), "127.0.0.1", 0)
    await server.start()
    return server, aiohttp.ClientSession(base_url=server.url)


@pytest.fixture
async def api(db: str, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    marker = request.node.get_closest_marker("web_config")
    options = dict(marker.kwargs) if marker else {}
    await directory.ensure_guild(GUILD)
    await directory.ensure_guild(OTHER_GUILD)
    server, session = await start_api(WebConfig(secret=SECRET, **options))
    try:
        async with session:
            yield Api(server, session)
    finally:
        await server.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "web_config(**options): WebConfig options of `api`")
