"""Rate limits per key and per client address, their headers, and the violations stored."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

import pytest

from models.security import AuditLog, RateLimitViolation
from pegasus.services import security
from tests.web.conftest import GUILD, SECRET, Api

SETTINGS = f"/api/v1/guilds/{GUILD}/settings/economy"


async def test_every_answer_carries_the_keys_rate_limit(api: Api) -> None:
    key = await api.key(rate_limit=5)
    remaining = []
    for _ in range(3):
        status, _, headers = await api.call("GET", "/api/v1/me", key=key)
        assert status == 200
        assert headers["RateLimit-Limit"] == "5"
        assert 0 < int(headers["RateLimit-Reset"]) <= 60
        remaining.append(int(headers["RateLimit-Remaining"]))
    assert remaining == [4, 3, 2]


async def test_a_key_over_its_limit_gets_429_and_a_violation(api: Api) -> None:
    key = await api.key(rate_limit=2)
    for _ in range(2):
        assert (await api.call("GET", "/api/v1/me", key=key))[0] == 200
    for _ in range(3):
        status, body, headers = await api.call("GET", "/api/v1/me", key=key)
        assert status == 429
        assert headers["Content-Type"].startswith("application/problem+json")
        assert int(headers["Retry-After"]) in range(1, 61)  # within the minute's window
        assert headers["RateLimit-Remaining"] == "0"
        assert "2 requests a minute" in body["detail"] and "Retry in" in body["detail"]
    assert await RateLimitViolation.all().count() == 0  # written behind, not per request
    await api.state.write_behind()
    key_id = (await security.verify_api_key(key, api.keys[0].key.created_at)).id
    violation = await RateLimitViolation.get(subject=f"api_key:{key_id}")
    assert violation.violations == 3
    assert violation.guild_id == GUILD  # type: ignore[attr-defined]
    assert violation.endpoint == "api" and violation.metadata["rate_limit"] == 2
    assert violation.ip_hash == hmac.new(SECRET, b"127.0.0.1", hashlib.sha256).hexdigest()


@pytest.mark.web_config(ip_rate_limit=3)
async def test_an_address_over_its_limit_gets_429_before_any_key_is_read(api: Api) -> None:
    key = await api.key()
    for _ in range(3):
        assert (await api.call("GET", "/api/v1/me", key=key))[0] == 200
    status, body, headers = await api.call("GET", "/api/v1/me", key="pgs_" + "y" * 40)
    assert status == 429 and "from your address" in body["detail"]
    assert headers["RateLimit-Limit"] == "3" and int(headers["Retry-After"]) >= 1
    await api.state.write_behind()
    ip_hash = hmac.new(SECRET, b"127.0.0.1", hashlib.sha256).hexdigest()
    violation = await RateLimitViolation.get(subject=f"ip:{ip_hash[:32]}")
    assert violation.violations == 1 and violation.ip_hash == ip_hash


def address_hash(address: str) -> str:
    return hmac.new(SECRET, address.encode(), hashlib.sha256).hexdigest()


async def audited_hash(api: Api, headers: dict[str, str]) -> str | None:
    key = await api.key()
    value = 1000 + await AuditLog.all().count()
    status, body, _ = await api.call(
        "PATCH", SETTINGS, key=key, json={"daily_amount": value}, headers=headers
    )
    assert status == 200, body
    row = await AuditLog.filter(action="economy.settings").order_by("-created_at").first()
    assert row is not None and row.after == {"daily_amount": value}
    return row.ip_hash


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(api: Api) -> None:
    forged = {"X-Forwarded-For": "203.0.113.9"}
    assert await audited_hash(api, forged) == address_hash("127.0.0.1")


@pytest.mark.web_config(trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),))
async def test_forwarded_for_is_honoured_from_a_trusted_proxy(api: Api) -> None:
    # The right-most address that is not a trusted proxy is the client.
    chain = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9, 127.0.0.5"}
    assert await audited_hash(api, chain) == address_hash("203.0.113.9")
