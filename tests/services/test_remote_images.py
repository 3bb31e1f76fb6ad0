"""Downloading images from links people give: only checked public addresses are ever connected to,
even when DNS answers differently the second time, and redirects are checked hop by hop.

The servers are real HTTPS servers on loopback addresses. The default policy refuses every
loopback address, so tests that need a reachable "public" host use a policy that also accepts one
loopback address standing for the internet (127.0.0.2 or 127.0.0.3); every other address is judged
by the real `is_public_address`.
"""

from __future__ import annotations

import ipaddress

import pytest
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from pegasus.errors import ValidationError
from pegasus.services.levels import (
    AddressPolicy,
    ImageFetcher,
    check_host,
    is_public_address,
)
from tests.image_hosts import Answer, ImageHost, ScriptedResolver, client_tls, png, redirect

IMAGE = png((40, 20), (0, 128, 0))


def also_accepting(stand_in: str) -> AddressPolicy:
    """The public internet, plus one loopback address standing for a public host."""
    accepted = ipaddress.ip_address(stand_in)
    return lambda address: address == accepted or is_public_address(address)


def fetcher(resolver: ScriptedResolver, stand_in: str, **options: object) -> ImageFetcher:
    return ImageFetcher(
        resolver=resolver, allowed=also_accepting(stand_in), tls=client_tls(), **options
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier NAT)
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",
        "224.0.0.1",  # multicast: `is_global` says yes
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",  # site-local
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1: `is_global` says yes
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1: `is_global` says yes
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    ],
)
def test_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


async def test_links_to_the_bots_own_network_are_refused() -> None:
    resolver = ThreadedResolver()
    checked = await check_host(URL("https://8.8.8.8/bg.png"), resolver, is_public_address)
    assert checked.addresses == (ipaddress.ip_address("8.8.8.8"),)
    for url in (
        "https://127.0.0.1/bg.png",
        "https://localhost:8080/bg.png",
        "https://10.1.2.3/bg.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/bg.png",
        "https://[::ffff:127.0.0.1]/bg.png",
    ):
        with pytest.raises(ValidationError, match="not a public internet address"):
            await check_host(URL(url), resolver, is_public_address)
    for url in ("http://8.8.8.8/bg.png", "https:///no-host.png"):
        with pytest.raises(ValidationError, match="https://"):
            await check_host(URL(url), resolver, is_public_address)


async def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    resolver = ScriptedResolver({"images.test": [["8.8.8.8", "127.0.0.1"]]})
    with pytest.raises(ValidationError, match=r"127\.0\.0\.1, which is not a public"):
        await check_host(URL("https://images.test/bg.png"), resolver, is_public_address)


async def test_a_checked_host_is_downloaded() -> None:
    async with ImageHost("127.0.0.2", {"/bg.png": Answer(body=IMAGE)}) as host:
        resolver = ScriptedResolver({"images.test": [["127.0.0.2"]]})
        data = await fetcher(resolver, "127.0.0.2").fetch(host.url("/bg.png", "images.test"))
    assert data == IMAGE
    assert host.hits == ["/bg.png"]
    assert resolver.lookups == {"images.test": 1}


async def test_dns_rebinding_cannot_reach_loopback() -> None:
    """The check sees an allowed address; a second lookup would answer 127.0.0.1, where a server
    listens. The download connects only to the checked address (where nothing listens), so the
    server is never reached and the host name is looked up once."""
    async with ImageHost("127.0.0.1", {"/bg.png": Answer(body=IMAGE)}) as local:
        resolver = ScriptedResolver({"images.test": [["127.0.0.3"], ["127.0.0.1"]]})
        with pytest.raises(ValidationError, match="could not be downloaded"):
            await fetcher(resolver, "127.0.0.3").fetch(local.url("/bg.png", "images.test"))
    assert local.hits == []
    assert resolver.lookups == {"images.test": 1}


async def test_redirects_to_loopback_are_refused() -> None:
    async with (
        ImageHost("127.0.0.1", {"/bg.png": Answer(body=IMAGE)}) as local,
        ImageHost("127.0.0.2") as public,
    ):
        public.routes["/by-address"] = redirect(local.url("/bg.png"))
        public.routes["/by-name"] = redirect(local.url("/bg.png", "localhost"))
        public.routes["/by-rebound-name"] = redirect(local.url("/bg.png", "rebound.images.test"))
        resolver = ScriptedResolver(
            {
                "images.test": [["127.0.0.2"]],
                "localhost": [["127.0.0.1"]],
                "rebound.images.test": [["127.0.0.1"]],
            }
        )
        for path in ("/by-address", "/by-name", "/by-rebound-name"):
            with pytest.raises(ValidationError, match=r"127\.0\.0\.1, which is not a public"):
                await fetcher(resolver, "127.0.0.2").fetch(public.url(path, "images.test"))
    assert local.hits == []
    assert public.hits == ["/by-address", "/by-name", "/by-rebound-name"]


async def test_checked_redirects_are_followed_a_few_times_at_most() -> None:
    async with ImageHost("127.0.0.2", {"/bg.png": Answer(body=IMAGE)}) as host:
        host.routes["/moved"] = redirect("/bg.png", 301)
        host.routes["/elsewhere"] = redirect(host.url("/moved", "cdn.images.test"))
        for hop in range(5):
            host.routes[f"/loop{hop}"] = redirect(f"/loop{hop + 1}")
        host.routes["/insecure"] = redirect(f"http://images.test:{host.port}/bg.png")
        resolver = ScriptedResolver(
            {"images.test": [["127.0.0.2"]], "cdn.images.test": [["127.0.0.2"]]}
        )
        fetch = fetcher(resolver, "127.0.0.2").fetch

        assert await fetch(host.url("/elsewhere", "images.test")) == IMAGE
        assert host.hits == ["/elsewhere", "/moved", "/bg.png"]
        with pytest.raises(ValidationError, match="redirects more than 3 times"):
            await fetch(host.url("/loop0", "images.test"))
        with pytest.raises(ValidationError, match="https://"):
            await fetch(host.url("/insecure", "images.test"))


async def test_large_bodies_and_errors_are_refused_with_the_reason() -> None:
    async with ImageHost("127.0.0.2", {"/big.png": Answer(body=b"x" * 5000)}) as host:
        resolver = ScriptedResolver({"images.test": [["127.0.0.2"]]})
        fetch = fetcher(resolver, "127.0.0.2", max_bytes=4096).fetch
        with pytest.raises(ValidationError, match="larger than"):
            await fetch(host.url("/big.png", "images.test"))
        with pytest.raises(ValidationError, match="HTTP status 404"):
            await fetch(host.url("/missing.png", "images.test"))
        with pytest.raises(ValidationError, match="could not be found"):
            await fetch(host.url("/bg.png", "unknown.images.test"))

