"""Downloading an attachment from Discord's file server, bounded and without letting a link reach
the bot's own network.

Only links on the origins the fetcher is given are downloaded (Discord's CDN by default: https,
on public addresses). As for rank-card images (`pegasus.services.levels.images`), the host is
resolved once, every address is checked, and the connection goes only to those checked
addresses; redirects are followed by hand, each target held to the same rules; the body is
bounded in size and time. Tests and the sandbox hand the fetcher the local Discord's origin and
address instead, which the defaults never allow.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from pegasus.services.levels import (
    AddressPolicy,
    CheckedHost,
    PinnedResolver,
    is_public_address,
)

__all__ = [
    "DISCORD_CDN_ORIGINS",
    "AttachmentFetcher",
    "DownloadFailed",
    "FileTooLarge",
]

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Where Discord serves attachments: the links in messages and in ATTACHMENT options.
DISCORD_CDN_ORIGINS = ("https://cdn.discordapp.com", "https://media.discordapp.net")
DEFAULT_TIMEOUT = 30.0  # seconds for one whole download, redirects included
MAX_REDIRECTS = 2
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_SIZE = 64 * 1024


class DownloadFailed(Exception):
    """The file could not be downloaded; str() says why, in words for a note."""


class FileTooLarge(DownloadFailed):
    """The file is larger than the download may be."""


def _origin(url: URL) -> str:
    return str(url.origin()) if url.absolute and url.raw_host else ""


@dataclass(frozen=True, slots=True)
class AttachmentFetcher:
    """Downloads files from `origins` (scheme, host and port, e.g. ``https://cdn.discordapp.com``),
    connecting only to addresses `allowed` accepts.

    `resolver` answers the one lookup per host (the system resolver when None); `tls` is the TLS
    setting handed to aiohttp (True: verify against the system's certificates).
    """

    origins: tuple[str, ...] = DISCORD_CDN_ORIGINS
    allowed: AddressPolicy = is_public_address
    resolver: AbstractResolver | None = None
    tls: ssl.SSLContext | bool = True
    timeout: float = DEFAULT_TIMEOUT
    max_redirects: int = MAX_REDIRECTS

    def accepts(self, url: str) -> bool:
        """Whether `url` is on one of the origins this fetcher downloads from."""
        try:
            origin = _origin(URL(url))
        except (ValueError, TypeError):
            return False
        return origin in {_origin(URL(allowed)) for allowed in self.origins}

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        """The body of `url`, at most `max_bytes` long; FileTooLarge when it is longer,
        DownloadFailed with the reason for anything else."""
        resolver = self.resolver or ThreadedResolver()
        try:
            current = URL(url)
            async with asyncio.timeout(self.timeout):
                for _ in range(self.max_redirects + 1):
                    checked = await self._check(current, resolver)
                    answer = await self._get(current, checked, max_bytes)
                    if isinstance(answer, bytes):
                        return answer
                    current = current.join(answer)
        except TimeoutError:
            raise DownloadFailed(f"no answer within {self.timeout:g} seconds") from None
        except (aiohttp.ClientError, OSError, ValueError) as error:
            log.info("Could not download the attachment %s: %r", url, error)
            raise DownloadFailed("the file server could not be reached") from None
        raise DownloadFailed(f"more than {self.max_redirects} redirects")

    async def _check(self, url: URL, resolver: AbstractResolver) -> CheckedHost:
        if not self.accepts(str(url)):
            raise DownloadFailed("the link is not on Discord's file server")
        host = url.raw_host
        assert host is not None  # accepts() saw a host
        try:
            addresses: tuple[IPAddress, ...] = (ipaddress.ip_address(host),)
        except ValueError:
            addresses = await _resolve(url, host, resolver)
        if not all(self.allowed(address) for address in addresses):
            raise DownloadFailed("the file server's address is not allowed")
        return CheckedHost(host, addresses)

    async def _get(self, url: URL, checked: CheckedHost, max_bytes: int) -> bytes | URL:
        connector = aiohttp.TCPConnector(
            resolver=PinnedResolver(checked), ssl=self.tls, use_dns_cache=False
        )
        async with (
            aiohttp.ClientSession(connector=connector, trust_env=False) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            if response.status in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise DownloadFailed("the file server redirected without saying where")
                return URL(location)
            if response.status == 404:
                raise DownloadFailed("Discord no longer has the file")
            if response.status != 200:
                raise DownloadFailed(f"the file server answered HTTP {response.status}")
            return await _bounded_body(response, max_bytes)


async def _resolve(url: URL, host: str, resolver: AbstractResolver) -> tuple[IPAddress, ...]:
    try:
        results = await resolver.resolve(host, url.port or 443, family=socket.AF_UNSPEC)
        addresses = tuple(
            dict.fromkeys(ipaddress.ip_address(r["host"].split("%")[0]) for r in results)
        )
    except (OSError, ValueError, UnicodeError):
        addresses = ()
    if not addresses:
        raise DownloadFailed("the file server could not be found")
    return addresses


async def _bounded_body(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if response.content_length is not None and response.content_length > max_bytes:
        raise FileTooLarge(f"{response.content_length} bytes")
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_SIZE):
        body += chunk
        if len(body) > max_bytes:
            raise FileTooLarge(f"more than {max_bytes} bytes")
    return bytes(body)
