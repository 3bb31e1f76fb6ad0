"""`Idempotency-Key` on POSTs that create something or move money: a retry gets the first answer.

The first request with a key (per API key) stores a placeholder row, runs, and stores its
answer; a retry with the same key and the same request gets that answer again (with
`Idempotent-Replayed: true`) and changes nothing. The same key with another request (method,
path or body) is refused, and so is a retry while the first is still running. An answer that
is not a success is not kept: the request changed nothing, so a retry may run it again.
A placeholder older than `ABANDONED_AFTER` (its process died) may be taken over. Answers are
kept for `KEPT_FOR` (24 hours), then forgotten (`forget_old`): retry within a day.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from models.security import IdempotentRequest
from pegasus.web.problems import ApiProblem

__all__ = [
    "KEPT_FOR",
    "MAX_KEY_LENGTH",
    "Replay",
    "abandon",
    "begin",
    "fingerprint",
    "finish",
    "forget_old",
]

MAX_KEY_LENGTH = 255
ABANDONED_AFTER = timedelta(minutes=5)
KEPT_FOR = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: Any
    headers: dict[str, str]


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise ApiProblem(
            400,
            f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters, such as "
            "a UUID.",
        )
    return key


async def begin(
    api_key_id: Any, key: str, request_fingerprint: str, now: datetime
) -> Replay | None:
    """Claim `key` for this request (None: go ahead), or the stored answer to replay."""
    check_key(key)
    for _attempt in range(2):
        try:
            await IdempotentRequest.create(
                api_key_id=api_key_id, key=key, fingerprint=request_fingerprint
            )
            return None
        except IntegrityError:
            stored = await IdempotentRequest.get_or_none(api_key_id=api_key_id, key=key)
        if stored is None:
            continue  # abandoned and deleted meanwhile: claim it again
        if stored.fingerprint != request_fingerprint:
            raise ApiProblem(
                422,
                "This Idempotency-Key was already used for another request; use a new key "
                "for a new request.",
            )
        if stored.status is not None:
            response = stored.response or {}
            return Replay(stored.status, response.get("body"), dict(response.get("headers", {})))
        if stored.created_at < now - ABANDONED_AFTER:
            await IdempotentRequest.filter(id=stored.id, status__isnull=True).delete()
            continue
        raise ApiProblem(
            409,
            "A request with this Idempotency-Key is still being handled; retry in a moment.",
            headers={"Retry-After": "1"},
        )
    raise ApiProblem(409, "This Idempotency-Key is busy; retry in a moment.")


async def finish(
    api_key_id: Any, key: str, status: int, body: Any, headers: dict[str, str]
) -> None:
    await IdempotentRequest.filter(api_key_id=api_key_id, key=key).update(
        status=status, response={"body": body, "headers": headers}
    )


async def abandon(api_key_id: Any, key: str) -> None:
    await IdempotentRequest.filter(api_key_id=api_key_id, key=key, status__isnull=True).delete()


async def forget_old(now: datetime) -> int:
    """Delete answers older than `KEPT_FOR`; returns how many."""
    return await IdempotentRequest.filter(created_at__lt=now - KEPT_FOR).delete()
