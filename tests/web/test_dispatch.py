"""The narrowed route lookup answers every request as aiohttp's own router does: same route,
same 404, same 405 with the same methods allowed, over the application's real routes."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_exceptions import HTTPMethodNotAllowed

from pegasus.web import WebConfig, create_app
from pegasus.web.dispatch import SegmentDispatcher
from tests.web.conftest import SECRET

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FILLINGS = ("123", "711111111111111111", "abc", "", "a%2Fb", "{x}")
EXTRA_PATHS = (
    "/",
    "/api",
    "/api/v1",
    "/api/v1/",
    "/api/v1/guilds",
    "/api/v1/guilds/1",
    "/api/v1/guilds/1/",
    "/api/v1/guilds/1/nothing/here",
    "/api/v1/guilds//levels/rewards",
    "/api/v1/guilds/1/leaderboards/xp/",
    "/dashboard/guilds/1/levels",
    "/dashboard/static/dashboard.css",
    "/nowhere",
)


def filled_paths(app: web.Application) -> set[str]:
    paths = set(EXTRA_PATHS)
    for resource in app.router.resources():
        canonical = resource.canonical
        for filling in FILLINGS:
            paths.add(re.sub(r"\{\w+\}", filling, canonical))
        paths.add(re.sub(r"\{\w+\}", "1", canonical) + "/extra")
    return paths


def outcome(match: object) -> tuple[object, ...]:
    http_exception = getattr(match, "http_exception", None)
    if http_exception is not None:
        allowed = (
            tuple(sorted(http_exception.allowed_methods))
            if isinstance(http_exception, HTTPMethodNotAllowed)
            else ()
        )
        return ("error", http_exception.status, allowed)
    return ("route", match.route, tuple(sorted(match.items())))  # type: ignore[attr-defined]


async def test_every_path_finds_what_aiohttps_router_finds() -> None:
    app = create_app(WebConfig(secret=SECRET))
    assert isinstance(app.router, SegmentDispatcher)
    plain = web.UrlDispatcher()
    for resource in app.router.resources():
        plain.register_resource(resource)
    compared = 0
    for path in sorted(filled_paths(app)):
        for method in METHODS:
            request = make_mocked_request(method, path, app=app)
            expected = outcome(await plain.resolve(request))
            assert outcome(await app.router.resolve(request)) == expected, (method, path)
            compared += 1
    assert compared > 1000


async def test_a_route_added_later_is_found() -> None:
    app = create_app(WebConfig(secret=SECRET))
    request = make_mocked_request("GET", "/api/v1/guilds/1/later/2", app=app)
    assert outcome(await app.router.resolve(request))[:2] == ("error", 404)

    async def later(_request: web.Request) -> web.Response:
        return web.Response()

    route = app.router.add_get("/api/v1/guilds/{guild_id}/later/{thing}", later)
    assert outcome(await app.router.resolve(request)) == (
        "route",
        route,
        (("guild_id", "1"), ("thing", "2")),
    )


async def test_routes_of_other_forms_keep_their_place() -> None:
    """A custom pattern (which may span segments) and a placeholder inside a segment cannot be
    narrowed by segments: they are tried where aiohttp tries them."""
    app = create_app(WebConfig(secret=SECRET))

    async def other(_request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/api/v1/guilds/{guild_id}/files/{name:.+}", other)
    app.router.add_get("/api/v1/guilds/{guild_id}/leaderboards/x-{kind}", other)
    app.router.add_post("/api/v1/guilds/{guild_id}/{anything:.*}", other)
    plain = web.UrlDispatcher()
    for resource in app.router.resources():
        plain.register_resource(resource)
    paths = (
        "/api/v1/guilds/1/files/a/b/c",
        "/api/v1/guilds/1/files/a",
        "/api/v1/guilds/1/leaderboards/x-xp",
        "/api/v1/guilds/1/leaderboards/xp",
        "/api/v1/guilds/1/members/2/rank",
        "/api/v1/guilds/1/nothing",
    )
    for path in paths:
        for method in METHODS:
            request = make_mocked_request(method, path, app=app)
            expected = outcome(await plain.resolve(request))
            assert outcome(await app.router.resolve(request)) == expected, (method, path)
