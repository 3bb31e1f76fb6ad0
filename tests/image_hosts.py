"""Image hosts for tests: real HTTPS servers on loopback addresses that record every request, a
resolver with scripted answers, and the TLS settings that trust the servers.

tests/tls/ holds a test certificate authority (its key was discarded) and a server certificate for
images.test, *.images.test, localhost, 127.0.0.1, 127.0.0.2 and ::1, valid until 2126.
"""

from __future__ import annotations

import io
import socket
import ssl
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from PIL import Image

TLS_DIR = Path(__file__).parent / "tls"


def client_tls() -> ssl.SSLContext:
    """Verifies servers against the test authority only, as strictly as the default does."""
    return ssl.create_default_context(cafile=str(TLS_DIR / "ca.pem"))


def server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS_DIR / "server.pem", TLS_DIR / "server.key")
    return context


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def redirect(location: str, status: int = 302) -> Answer:
    return Answer(status, headers={"Location": location})


class ImageHost:
    """An HTTPS server on `host` (a loopback address) answering `routes`; `hits` lists the paths
    requested, in order."""

    def __init__(self, host: str = "127.0.0.1", routes: dict[str, Answer] | None = None) -> None:
        self.host = host
        self.routes = dict(routes or {})
        self.hits: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        answer = self.routes.get(request.path, Answer(404))
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    def url(self, path: str, host: str | None = None) -> str:
        return f"https://{host or self.host}:{self.port}{path}"

    async def __aenter__(self) -> ImageHost:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=server_tls())
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


class ScriptedResolver(AbstractResolver):
    """A resolver whose successive answers for a host are scripted: `answers[host]` is a list of
    address lists, one per lookup; the last one repeats. `lookups` counts the lookups made."""

    def __init__(self, answers: dict[str, Iterable[Iterable[str]]]) -> None:
        self._answers = {host: [list(a) for a in answer] for host, answer in answers.items()}
        self.lookups: dict[str, int] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        count = self.lookups.get(host, 0)
        self.lookups[host] = count + 1
        script = self._answers.get(host)
        if not script:
            raise OSError(f"{host}: no such host")
        addresses = script[min(count, len(script) - 1)]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def jpeg(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def grey_png(width: int, height: int, value: int) -> bytes:
    """A valid greyscale PNG of one shade, written without Pillow: quick to make even at
    1×16,777,216 pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + bytes([value]) * width  # filter type 0, then the pixels
    data = zlib.compress(row * height)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks
