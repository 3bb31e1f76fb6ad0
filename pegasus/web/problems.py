"""Errors as `application/problem+json` (RFC 9457): a status and a sentence a person can act on.

A `PegasusError` from a service becomes a 4xx whose `detail` is `error.plain()` (the same
sentence the slash command shows, with members and channels in plain words); anything else is a
500 whose reference id is logged with the traceback and shown to the client.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from http import HTTPStatus
from typing import Any

from aiohttp import web

from pegasus.errors import (
    Blacklisted,
    ConflictError,
    CooldownActive,
    DatabaseUnavailable,
    InsufficientFunds,
    NotFoundError,
    PegasusError,
    PermissionDenied,
    ValidationError,
)
from pegasus.outage import DATABASE_UNAVAILABLE, health, is_database_unreachable
from pegasus.services.settings import StaleSettings

__all__ = ["PROBLEM_TYPE", "ApiProblem", "from_exception", "problem_response", "status_of"]

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
DOCS_PAGE = "/api/docs"

# Most specific first: StaleSettings is a ConflictError.
_STATUS: tuple[tuple[type[PegasusError], int], ...] = (
    (StaleSettings, 412),
    (ValidationError, 422),
    (NotFoundError, 404),
    (PermissionDenied, 403),
    (Blacklisted, 403),
    (InsufficientFunds, 409),
    (ConflictError, 409),
    (CooldownActive, 429),
    (DatabaseUnavailable, 503),
)


class ApiProblem(Exception):
    """A refusal of the HTTP layer itself (no key, unknown route, malformed JSON, ...)."""

    def __init__(
        self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def status_of(error: PegasusError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    body: dict[str, Any] = {
        "type": f"{DOCS_PAGE}#problem-{status}",
        "title": _title(status),
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type=PROBLEM_TYPE,
        headers=headers,
    )


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def from_exception(error: BaseException, request: web.Request) -> web.Response:
    """The problem answer for anything a handler raised."""
    instance = request.path
    if isinstance(error, ApiProblem):
        return problem_response(
            error.status, error.detail, instance=instance, headers=error.headers, **error.extra
        )
    if isinstance(error, PegasusError):
        status = status_of(error)
        headers: dict[str, str] = {}
        if isinstance(error, CooldownActive) and error.retry_at is not None:
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_at - time.time())))
        return problem_response(status, error.plain(), instance=instance, headers=headers)
    if is_database_unreachable(error):
        health.report(error)  # one WARNING per outage, not an ERROR per request
        return problem_response(503, DATABASE_UNAVAILABLE, instance=instance)
    reference = uuid.uuid4().hex[:8].upper()
    log.error(
        "Unexpected error (ref %s) in %s %s",
        reference,
        request.method,
        request.path,
        exc_info=error,
    )
    return problem_response(
        500,
        f"Something went wrong on the server. Reference {reference}: give it to the bot's "
        "operator.",
        instance=instance,
        reference=reference,
    )
