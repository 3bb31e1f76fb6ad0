"""Driving a local Discord that runs in another process (benchmarks, DISCORD.md P14).

`python -m pegasus.localdiscord serve` prints one JSON line with `api_base`, `gateway_url`,
`token` and `control_url`, then serves until killed. Control routes (JSON):

* `POST {control_url}/broadcast {"channel": "general", "count": N, "content": "hi {i}"}` pushes N
  MESSAGE_CREATE events from the guild's plain members; answers `{"sent", "seconds"}`.
* `POST {control_url}/barrier`: answers once the bot has read every frame sent before (a
  heartbeat round trip).
* `GET {control_url}/stats`: sessions, identifies, resumes, requests, bot messages, and the
  objects frozen out of the garbage collector (see `LocalDiscord.broadcast_messages`).
"""

from __future__ import annotations

import gc
import json
import time
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from pegasus.localdiscord.server import LocalDiscord


def _json(data: object) -> web.Response:
    return web.Response(body=json.dumps(data).encode(), content_type="application/json")


def add_control_routes(app: web.Application, server: LocalDiscord) -> None:
    async def broadcast(request: web.Request) -> web.Response:
        body = await request.json()
        guild = server.guild
        authors = [m for m in guild.members if not m.bot and m.id != guild.owner_id]
        started = time.perf_counter()
        sent = await server.broadcast_messages(
            body.get("channel", "general"),
            authors,
            int(body["count"]),
            body.get("content", "hello {i}"),
        )
        return _json({"sent": sent, "seconds": time.perf_counter() - started})

    async def barrier(_request: web.Request) -> web.Response:
        await server.gateway.heartbeat_barrier(timeout=60)
        return _json({"ok": True})

    async def stats(_request: web.Request) -> web.Response:
        gateway = server.gateway
        return _json(
            {
                "sessions": len(gateway.live_sessions),
                "identifies": gateway.identify_count,
                "resumes": gateway.resume_count,
                "requests": len(server.requests),
                "unknown_routes": len(server.unknown_routes),
                "bot_messages": len(server.messages_by_bot),
                # Objects kept out of the garbage collector's walks (the broadcast messages).
                "frozen_objects": gc.get_freeze_count(),
            }
        )

    app.router.add_post("/_control/broadcast", broadcast)
    app.router.add_post("/_control/barrier", barrier)
    app.router.add_get("/_control/stats", stats)
