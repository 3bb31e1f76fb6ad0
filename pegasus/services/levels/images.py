"""Images the bot downloads from links people give (rank card backgrounds), without letting a link
reach the bot's own network (cloud metadata, databases, admin pages).

A host name is resolved once, every address of the answer is checked, and the download connects
only to those checked addresses: aiohttp gets a resolver pinned to the checked answer, so a second
lookup that could answer differently (DNS rebinding) never happens. Redirects are followed by hand,
a few at most, each target checked the same way; the body is bounded in size and time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import _, format_number

__all__ = [
    "AddressPolicy",
    "CheckedHost",
    "ImageFetcher",
    "PinnedResolver",
    "check_host",
    "is_public_address",
]

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

DEFAULT_TIMEOUT = 5.0  # seconds for the whole download, redirects included
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_SIZE = 64 * 1024
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any.

    Such an address can lead to the embedded IPv4 host, so that host must be public too.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_special(address: IPAddress) -> bool:
    # `is_global` alone lets multicast through, so every special range is named.
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or not address.is_global
    )


def is_public_address(address: IPAddress) -> bool:
    """Whether the bot may connect to `address`: a public unicast address, also inside IPv6."""
    embedded = _embedded_ipv4(address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return embedded is not None and not _is_special(embedded)
    if embedded is not None and _is_special(embedded):
        return False
    return not _is_special(address)


@dataclass(frozen=True, slots=True)
class CheckedHost:
    """A host name and the addresses it resolved to, every one of them allowed."""

    host: str
    addresses: tuple[IPAddress, ...]


class PinnedResolver(AbstractResolver):
    """A resolver that answers only for the checked host, and only with its checked addresses."""

    def __init__(self, checked: CheckedHost) -> None:
        self._checked = checked

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self._checked.host:
            raise _unresolved(f"{host} was not checked, so it is not resolved")
        results = [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET if address.version == 4 else socket.AF_INET6,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in self._checked.addresses
        ]
        if family != socket.AF_UNSPEC:
            results = [result for result in results if result["family"] == family]
        if not results:
            raise _unresolved(f"{host} has no checked address of that family")
        return results

    async def close(self) -> None:
        return None


def _unresolved(why: str) -> OSError:
    """A failed lookup, for aiohttp: never shown (`ImageFetcher.fetch` refuses the link in the
    member's language), so not translated."""
    return OSError(why)


def _shown(url: URL | str) -> str:
    return shown_input(str(url), limit=80)


async def check_host(url: URL, resolver: AbstractResolver, allowed: AddressPolicy) -> CheckedHost:
    """Resolve the host of an https `url` once and check every address; ValidationError if any
    address is not allowed, or the link is not https, or the host does not resolve."""
    host = url.raw_host
    if url.scheme != "https" or not host:
        raise ValidationError(
            _("{link} is not an https:// link: use a secure link.").format(link=_shown(url))
        )
    try:
        addresses: tuple[IPAddress, ...] = (ipaddress.ip_address(host),)
    except ValueError:
        addresses = await _resolve(url, host, resolver)
    for address in addresses:
        if not allowed(address):
            raise ValidationError(
                _(
                    "{link} leads to {address}, which is not a public internet address: the bot "
                    "only downloads images from public sites."
                ).format(link=_shown(url), address=address)
            )
    return CheckedHost(host, addresses)


async def _resolve(url: URL, host: str, resolver: AbstractResolver) -> tuple[IPAddress, ...]:
    try:
        results = await resolver.resolve(host, url.port or 443, family=socket.AF_UNSPEC)
        # A scoped IPv6 answer (fe80::1%eth0) keeps its scope in the text; the address is before it.
        addresses = tuple(
            dict.fromkeys(ipaddress.ip_address(r["host"].split("%")[0]) for r in results)
        )
    except (OSError, ValueError, UnicodeError):
        addresses = ()
    if not addresses:
        raise ValidationError(
            _("The site of {link} could not be found: check the link.").format(link=_shown(url))
        )
    return addresses


@dataclass(frozen=True, slots=True)
class ImageFetcher:
    """Downloads an image from a link a person gave, only from addresses `allowed` accepts.

    `resolver` answers the one lookup per host (the system resolver when None); `tls` is the TLS
    setting handed to aiohttp (True: verify against the system's certificates).
    """

    resolver: AbstractResolver | None = None
    allowed: AddressPolicy = is_public_address
    tls: ssl.SSLContext | bool = True
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = MAX_REDIRECTS

    async def fetch(self, url: str) -> bytes:
        """The body of `url` after at most `max_redirects` checked redirects; ValidationError with
        the reason otherwise."""
        resolver = self.resolver or ThreadedResolver()
        try:
            current = URL(url)
            async with asyncio.timeout(self.timeout):
                for _attempt in range(self.max_redirects + 1):
                    checked = await check_host(current, resolver, self.allowed)
                    location = await self._get(current, checked)
                    if isinstance(location, bytes):
                        return location
                    current = current.join(location)
        except TimeoutError:
            raise ValidationError(
                _(
                    "{link} did not answer within {seconds} seconds: try again later or use "
                    "another link."
                ).format(link=_shown(url), seconds=format_number(self.timeout))
            ) from None
        except (aiohttp.ClientError, OSError, ValueError) as error:
            log.info("Could not download %s: %r", url, error)
            raise ValidationError(
                _("The image at {link} could not be downloaded: check the link.").format(
                    link=_shown(url)
                )
            ) from None
        raise ValidationError(
            _("{link} redirects more than {count} times: link to the image itself.").format(
                link=_shown(url), count=format_number(self.max_redirects)
            )
        )

    async def _get(self, url: URL, checked: CheckedHost) -> bytes | URL:
        """The body of a 200 answer, or where a redirect points; connects only to `checked`."""
        connector = aiohttp.TCPConnector(
            resolver=PinnedResolver(checked), ssl=self.tls, use_dns_cache=False
        )
        async with (
            aiohttp.ClientSession(connector=connector, trust_env=False) as session,
            session.get(url, allow_redirects=False, headers={"Accept": "image/*"}) as response,
        ):
            if response.status in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise ValidationError(
                        _(
                            "{link} redirects without saying where: link to the image itself."
                        ).format(link=_shown(url))
                    )
                return URL(location)
            if response.status != 200:
                raise ValidationError(
                    _(
                        "{link} answered with HTTP status {status} instead of an image: check the "
                        "link."
                    ).format(link=_shown(url), status=response.status)
                )
            return await self._bounded_body(url, response)

    async def _bounded_body(self, url: URL, response: aiohttp.ClientResponse) -> bytes:
        too_large = ValidationError(
            _("The image at {link} is larger than {size} MB: use a smaller one.").format(
                link=_shown(url), size=format_number(self.max_bytes // (1024 * 1024))
            )
        )
        if response.content_length is not None and response.content_length > self.max_bytes:
            raise too_large
        body = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK_SIZE):
            body += chunk
            if len(body) > self.max_bytes:
                raise too_large
        return bytes(body)
