"""Who may call what: every declared route is walked with no key, a bad, revoked or expired key,
a key without the route's scope, and a key of another server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.security import ApiKey, SecurityLog
from pegasus.services import security
from pegasus.web.api import all_routes
from pegasus.web.routes import Route
from tests.web.conftest import GUILD, OTHER_GUILD, OWNER, Api

ROUTES = all_routes()
GUILD_ROUTES = [route for route in ROUTES if route.guild_scoped]
SCOPED_ROUTES = [route for route in ROUTES if route.scope is not None]
UNKNOWN_GUILD = 799_999_999_999_999_999


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


def url_of(route: Route, guild_id: int = GUILD) -> str:
    """The route's URL with its placeholders filled: the guild, and 1 for any other id."""
    path = route.path.replace("{guild_id}", str(guild_id))
    return "/api/v1" + re.sub(r"{\w+}", "1", path)


def body_of(route: Route) -> Any:
    return {} if route.body is not None else None


def test_routes_are_declared() -> None:
    assert GUILD_ROUTES and SCOPED_ROUTES
    assert len({route_id(route) for route in ROUTES}) == len(ROUTES)


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
async def test_no_key_is_401(api: Api, route: Route) -> None:
    status, body, headers = await api.call(route.method, url_of(route), json=body_of(route))
    assert status == 401, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == 401 and "Authorization: Bearer" in body["detail"]
    assert headers["WWW-Authenticate"].startswith("Bearer")


# Three refused keys on every route from one address: more than the default 300 a minute.
@pytest.mark.web_config(ip_rate_limit=10_000)
async def test_bad_revoked_and_expired_keys_are_401_and_logged(api: Api) -> None:
    """Each kind of unusable key, on every route, is refused and leaves a security_logs row."""
    revoked = await api.key()
    await security.revoke_api_key(  # by its shown prefix, as /apikey revoke does
        revoked[:12], actor_id=OWNER, guild_id=GUILD, is_bot_owner=False, is_guild_admin=True
    )
    expired = await api.key(
        expires_in_seconds=60, now=datetime.now(UTC) - timedelta(minutes=2)
    )
    secrets = {"unknown": "pgs_" + "x" * 40, "revoked": revoked, "expired": expired}
    for route in ROUTES:
        for reason, secret in secrets.items():
            status, body, _ = await api.call(
                route.method, url_of(route), key=secret, json=body_of(route)
            )
            assert status == 401, (route_id(route), reason, body)
            assert body["detail"] and "<" not in body["detail"]
    logged = await SecurityLog.filter(action="api.key_refused").values_list(
        "metadata", "guild_id", "user_id"
    )
    assert len(logged) == 3 * len(ROUTES)
    reasons = sorted(metadata["reason"] for metadata, _g, _u in logged)
    assert reasons == sorted(["unknown", "revoked", "expired"] * len(ROUTES))
    for metadata, guild_id, user_id in logged:
        assert metadata["source"] == "api" and len(metadata["ip_hash"]) == 64
        if metadata["reason"] == "unknown":
            assert (guild_id, user_id) == (None, None)
        else:
            assert (guild_id, user_id) == (GUILD, OWNER)


async def test_a_refused_key_is_not_counted_as_used(api: Api) -> None:
    secret = await api.key(expires_in_seconds=60, now=datetime.now(UTC) - timedelta(minutes=2))
    status, _, _ = await api.call("GET", "/api/v1/me", key=secret)
    assert status == 401
    await api.state.write_behind()
    assert (await ApiKey.get(key_hash=security.hash_secret(secret))).usage_count == 0


@pytest.mark.parametrize("route", SCOPED_ROUTES, ids=route_id)
async def test_a_key_without_the_scope_is_403(api: Api, route: Route) -> None:
    others = [scope for scope in security.API_SCOPES if scope != route.scope]
    key = await api.key(others)
    status, body, _ = await api.call(route.method, url_of(route), key=key, json=body_of(route))
    assert status == 403, body
    assert route.scope in body["detail"]


@pytest.mark.parametrize("route", GUILD_ROUTES, ids=route_id)
async def test_another_servers_key_gets_404_like_an_unknown_server(
    api: Api, route: Route
) -> None:
    """A key of GUILD asking about OTHER_GUILD gets exactly what a bot-wide key gets for a
    server the bot does not know: nothing tells the two apart."""
    key = await api.key(guild_id=GUILD)
    bot_wide = await api.key(guild_id=None)
    status, body, _ = await api.call(
        route.method, url_of(route, OTHER_GUILD), key=key, json=body_of(route)
    )
    unknown_status, unknown_body, _ = await api.call(
        route.method, url_of(route, UNKNOWN_GUILD), key=bot_wide, json=body_of(route)
    )
    assert status == unknown_status == 404
    assert body["detail"] == unknown_body["detail"].replace(
        str(UNKNOWN_GUILD), str(OTHER_GUILD)
    )
    status, _, _ = await api.call(
        route.method, url_of(route, OTHER_GUILD), key=bot_wide, json=body_of(route)
    )
    assert status != 404 or route.path.count("{") > 1  # a bot-wide key reaches every server


async def test_key_usage_is_written_behind_in_one_batch(api: Api) -> None:
    key = await api.key()
    for _ in range(5):
        status, _, _ = await api.call("GET", "/api/v1/me", key=key)
        assert status == 200
    stored = await ApiKey.get(key_hash=security.hash_secret(key))
    assert stored.usage_count == 0 and stored.last_used_at is None  # not a write per request
    await api.state.write_behind()
    stored = await ApiKey.get(key_hash=security.hash_secret(key))
    assert stored.usage_count == 5 and stored.last_used_at is not None
