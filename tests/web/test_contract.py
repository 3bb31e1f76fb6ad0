"""The document and the plumbing: OpenAPI 3.1 derived from the declarations, the reference page,
problem+json for every error, health, readiness and metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from openapi_spec_validator import validate

from pegasus.web import WebConfig
from pegasus.web.api import all_routes
from pegasus.web.routes import Call, Routes
from tests.web.conftest import GUILD, SECRET, Api, start_api


async def test_the_document_is_valid_openapi_and_lists_every_declared_route(api: Api) -> None:
    status, document, headers = await api.call("GET", "/api/v1/openapi.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    validate(document)  # raises on anything that is not OpenAPI 3.1
    assert document["openapi"] == "3.1.0"
    listed = {
        (method.upper(), path, operation["x-scope"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    declared = {(route.method, route.path, route.scope) for route in all_routes()}
    assert listed == declared
    operation = document["paths"]["/guilds/{guild_id}/settings/economy"]["patch"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["sell_percent"]["maximum"] == 100  # from the declaration
    assert schema["additionalProperties"] is False
    assert "429" in operation["responses"] and "412" in operation["responses"]


async def test_the_reference_page_shows_every_operation_without_scripts(api: Api) -> None:
    status, page, headers = await api.call("GET", "/api/docs")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<script" not in page and "src=" not in page  # nothing fetched from elsewhere
    assert "href='http" not in page and 'href="http' not in page
    for route in all_routes():
        assert f"id='{route.operation_id}'" in page
        assert f"<code>{route.path}</code>" in page
    status, css, headers = await api.call("GET", "/api/docs.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and "body" in css


async def test_unknown_endpoints_and_methods_are_problems(api: Api) -> None:
    status, body, headers = await api.call("GET", "/api/v1/nowhere")
    assert status == 404 and headers["Content-Type"].startswith("application/problem+json")
    assert body["detail"] == "There is no such endpoint; the endpoints are listed at /api/docs."
    status, body, headers = await api.call("DELETE", f"/api/v1/guilds/{GUILD}/settings/economy")
    assert status == 405 and "GET" in body["detail"] and "PATCH" in body["detail"]
    assert set(headers["Allow"].split(",")) == {"GET", "PATCH"}  # RFC 9110


broken = Routes("broken")


@broken.get("/broken", scope=None, summary="Fail unexpectedly")
async def fail(call: Call) -> None:
    raise RuntimeError("a bug")


@pytest.fixture
async def broken_api(db: str) -> AsyncIterator[Api]:
    server, session = await start_api(WebConfig(secret=SECRET), routes=list(broken))
    try:
        async with session:
            yield Api(server, session)
    finally:
        await server.stop()


async def test_an_unexpected_error_is_500_with_a_reference_in_the_log(
    broken_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    key = await broken_api.key()
    with caplog.at_level(logging.ERROR, logger="pegasus.web.problems"):
        status, body, _ = await broken_api.call("GET", "/api/v1/broken", key=key)
    assert status == 500
    reference = body["reference"]
    assert reference in body["detail"] and "a bug" not in body["detail"]
    [record] = [r for r in caplog.records if reference in r.getMessage()]
    assert record.exc_info is not None and "a bug" in str(record.exc_info[1])


async def test_health_readiness_and_metrics(api: Api) -> None:
    assert (await api.call("GET", "/healthz"))[:2] == (200, {"status": "ok"})
    status, body, _ = await api.call("GET", "/readyz")
    assert status == 200 and body == {"status": "ready", "checks": {"database": "ok"}}
    key = await api.key()
    await api.call("GET", "/api/v1/me", key=key)
    await api.call("GET", "/api/v1/me")
    status, text, headers = await api.call("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    for name in (
        "pegasus_messages_processed_total",
        "pegasus_activity_flush_seconds_bucket",
        "pegasus_commands_total",
        "pegasus_interaction_seconds_bucket",
        'pegasus_db_pool_connections{state="in_use"}',
        "pegasus_scheduler_backlog",
    ):
        assert name in text, name
    assert 'pegasus_api_requests_total{method="GET",route="/api/v1/me",status="200"}' in text
    assert 'pegasus_api_requests_total{method="GET",route="/api/v1/me",status="401"}' in text
