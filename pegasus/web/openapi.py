"""The OpenAPI 3.1 document of the REST API, derived from the route declarations.

Nothing here is written by hand per endpoint: paths, parameters, scopes, bodies and answers come
from each `Route` (`pegasus.web.routes`), schemas from the Python types it names
(`pegasus.web.schema`), and the settings from the features' declarations.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from pegasus.services.security.apikeys import API_SCOPES
from pegasus.web.routes import Page, Route
from pegasus.web.schema import schema_of

__all__ = ["document", "serve"]

TITLE = "Pegasus REST API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Every feature of Pegasus over HTTP. Send an API key as `Authorization: Bearer <key>` "
    "(create one with `/apikey create` in Discord or `python -m pegasus apikey create`). A key "
    "belongs to one server or is bot-wide, carries scopes (`<feature>:read`, "
    "`<feature>:write`), and has a rate limit per minute; each client address has one too. "
    "Errors are `application/problem+json` (RFC 9457) whose `detail` says what to do. Lists "
    "are cursor-paginated (`cursor`, `limit`; the answer's `next_cursor`). POSTs that create "
    "something or move money accept `Idempotency-Key`. Settings answer with an `ETag`; send it "
    "back in `If-Match` to change them only if nobody else did meanwhile (412 otherwise). "
    "Outside this document: `GET /healthz`, `GET /readyz`, `GET /metrics` (Prometheus)."
)

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; `detail` is a sentence to show a person.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "reference": {"type": "string", "description": "Give it to the operator (500 only)."},
    },
    "required": ["type", "title", "status", "detail"],
}

RATE_HEADERS = {
    "RateLimit-Limit": "Requests allowed per minute (the key's, or the address's).",
    "RateLimit-Remaining": "Requests left in the current minute.",
    "RateLimit-Reset": "Seconds until a request is free again.",
}

_ERRORS = {
    "400": "Malformed request (JSON, parameters, Idempotency-Key).",
    "401": "Missing, unknown, revoked or expired key.",
    "403": "The key lacks the scope this endpoint needs.",
    "404": "Not found, or a server this key cannot reach.",
    "409": "Conflicts with the current state.",
    "412": "If-Match names a version that is no longer current.",
    "422": "Refused input; `detail` says what is accepted.",
    "429": "Rate limit reached; see Retry-After.",
    "500": "Unexpected error; `reference` identifies it in the server's log.",
    "503": "The database is unreachable; nothing was changed.",
}


def document(routes: Iterable[Route]) -> dict[str, Any]:
    components: dict[str, dict[str, Any]] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, str] = {}
    for route in routes:
        tags.setdefault(route.tag, "")
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "tags": [{"name": tag} for tag in sorted(tags)],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Scopes: "
                    + "; ".join(f"`{name}` {text}" for name, text in API_SCOPES.items()),
                }
            },
        },
        "security": [{"apiKey": []}],
    }


def _operation(route: Route, components: dict[str, dict[str, Any]]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "x-scope": route.scope,
        "parameters": [
            {
                "name": param.name,
                "in": param.location,
                "required": param.required or param.location == "path",
                "description": param.description,
                "schema": param.schema(),
            }
            for param in route.all_params()
        ],
        "responses": _responses(route, components),
    }
    description = route.description
    if route.scope:
        description = f"Scope: `{route.scope}`.\n\n{description}".strip()
    operation["description"] = description
    if route.idempotent:
        operation["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Any unique string (a UUID): a retry with it gets the first "
                "answer and changes nothing twice.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema_of(route.body, components)}},
        }
    return operation


def _responses(route: Route, components: dict[str, dict[str, Any]]) -> dict[str, Any]:
    headers = {
        name: {"description": text, "schema": {"type": "integer"}}
        for name, text in RATE_HEADERS.items()
    }
    success: dict[str, Any] = {"description": "Success.", "headers": headers}
    response = route.response
    if route.paginated and response is not None:
        success["content"] = {"application/json": {"schema": _page_schema(response, components)}}
    elif response is not None:
        success["content"] = {route.media_type: {"schema": schema_of(response, components)}}
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses: dict[str, Any] = {str(route.status): success}
    for status, text in _ERRORS.items():
        responses[status] = {"description": text, "content": copy.deepcopy(problem)}
    return responses


def _page_schema(item: Any, components: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": Page.__doc__,
        "properties": {
            "items": {"type": "array", "items": schema_of(item, components)},
            "next_cursor": {"type": ["string", "null"]},
        },
        "required": ["items", "next_cursor"],
    }


async def serve(request: web.Request) -> web.Response:
    from pegasus.web.app import STATE

    return web.json_response(request.app[STATE].openapi)
