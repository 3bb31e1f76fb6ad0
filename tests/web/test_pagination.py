"""Cursor pagination: every row once, in order, across pages, rows with equal sort values
included; a cursor the list did not give is refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from models.security import AuditLog
from pegasus.services import directory
from pegasus.web import WebConfig
from pegasus.web.pagination import keyset_page
from pegasus.web.routes import Call, Page, Routes
from tests.web.conftest import GUILD, SECRET, Api, start_api

routes = Routes("audit-test")


@dataclass(frozen=True)
class Entry:
    id: uuid.UUID
    action: str
    created_at: datetime


@routes.get(
    "/guilds/{guild_id}/audit-test", scope="guild:read", summary="List audit rows",
    response=Entry, paginated=True,
)
async def list_audit(call: Call) -> Page[Entry]:
    return await keyset_page(
        call,
        AuditLog.filter(guild_id=call.guild_id),
        order=("-created_at", "-id"),
        item=lambda row: Entry(row.id, row.action, row.created_at),
    )


@pytest.fixture
async def api(db: str) -> AsyncIterator[Api]:
    await directory.ensure_guild(GUILD)
    server, session = await start_api(WebConfig(secret=SECRET), routes=list(routes))
    try:
        async with session:
            yield Api(server, session)
    finally:
        await server.stop()


async def test_pages_walk_every_row_once_in_order(api: Api) -> None:
    moments = [datetime(2026, 1, 1, 12, minute, tzinfo=UTC) for minute in (1, 2, 2, 2, 3, 4, 4)]
    for index, moment in enumerate(moments):
        row = await AuditLog.create(guild_id=GUILD, action=f"test.{index}")
        await AuditLog.filter(id=row.id).update(created_at=moment)  # ties on purpose
    key = await api.key()  # its creation is audited too: 8 rows in all
    seen: list[dict[str, str]] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = await api.call("GET", f"/api/v1/guilds/{GUILD}/audit-test{query}",
                                         key=key)
        assert status == 200, page
        pages += 1
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len({entry["id"] for entry in seen}) == len(seen) == len(moments) + 1
    stored = await AuditLog.filter(guild_id=GUILD).order_by("-created_at", "-id")
    assert [entry["id"] for entry in seen] == [str(row.id) for row in stored]


async def test_a_foreign_cursor_and_a_bad_limit_are_refused(api: Api) -> None:
    key = await api.key()
    url = f"/api/v1/guilds/{GUILD}/audit-test"
    status, body, _ = await api.call("GET", f"{url}?cursor=not-a-cursor", key=key)
    assert status == 422 and "start again without a cursor" in body["detail"]
    status, body, _ = await api.call("GET", f"{url}?limit=1000", key=key)
    assert status == 422 and "between 1 and 100" in body["detail"]
