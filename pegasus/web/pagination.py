"""Cursor pagination of lists: keyset pages that stay right while rows are added or removed.

A paginated route (`paginated=True`) gets `cursor` and `limit` parameters; its handler returns
`await keyset_page(call, query, order=("-created_at", "-id"), item=Thing.from_row)`. The cursor
is the sort values of the page's last row, opaque to clients (base64 of JSON): the next page is
the rows after it in that order, found by the index, never by OFFSET. The last field of `order`
must be unique (the primary key) so that rows with equal values are neither skipped nor repeated.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from pegasus.errors import ValidationError
from pegasus.web.routes import Call, Page

__all__ = ["decode_cursor", "encode_cursor", "keyset_page"]

T = TypeVar("T")
BAD_CURSOR = "The cursor is not one this list gave; start again without a cursor."


def encode_cursor(values: Sequence[Any]) -> str:
    text = json.dumps([_tagged(value) for value in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fields: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = [_untagged(value) for value in json.loads(raw)]
    except (ValueError, binascii.Error, TypeError, KeyError, UnicodeDecodeError):
        raise ValidationError(BAD_CURSOR) from None
    if len(values) != fields:
        raise ValidationError(BAD_CURSOR)
    return values


def _tagged(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _untagged(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            return datetime.fromisoformat(value["dt"])
        return uuid.UUID(value["uuid"])
    return value


def _after(order: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows after `values` in `order`: (a > x) or (a = x and b > y) or ..."""
    condition: Q | None = None
    for index, spec in enumerate(order):
        name = spec.lstrip("-")
        step = Q(**{f"{name}__{'lt' if spec.startswith('-') else 'gt'}": values[index]})
        for earlier, value in zip(order[:index], values, strict=False):
            step &= Q(**{earlier.lstrip("-"): value})
        condition = step if condition is None else condition | step
    assert condition is not None
    return condition


async def keyset_page(
    call: Call,
    query: QuerySet[Any],
    *,
    order: Sequence[str],
    item: Callable[[Any], T],
) -> Page[T]:
    """One page of `query` in `order`, from the call's `cursor`, of the call's `limit`."""
    limit: int = call.param("limit")
    cursor: str | None = call.param("cursor")
    if cursor:
        query = query.filter(_after(order, decode_cursor(cursor, len(order))))
    rows = await query.order_by(*order).limit(limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, spec.lstrip("-")) for spec in order])
    return Page([item(row) for row in rows], next_cursor)
