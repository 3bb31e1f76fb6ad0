"""Rate limits of the REST API: per key and per client address, sliding windows of a minute.

Each key allows `api_keys.rate_limit` requests a minute (60 unless set when it was created);
each client address allows `WEB_IP_RATE_LIMIT` (300 by default), counted before the key is
even read. Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
(seconds until a request is free again); a refused one is 429 with `Retry-After`.

Refusals are counted in `rate_limit_violations` (per key, or per client address hash), written
behind with the keys' usage by `Violations.flush`, so a flood of refused requests costs no write
each. Counting is per process.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime

from pegasus.services.security.ratelimits import SlidingWindow, record_rate_limit_violation

__all__ = ["API_ENDPOINT", "WINDOW_SECONDS", "Decision", "Limiter", "Violations"]

WINDOW_SECONDS = 60.0
API_ENDPOINT = "api"  # rate_limit_violations.endpoint of the REST API
MAX_SUBJECTS = 100_000  # windows kept in memory; idle ones are dropped first


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: float  # seconds until the oldest counted request leaves the window

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.reset)))
        return headers


class Limiter:
    """At most `limit` requests per subject in any `window` seconds, in memory."""

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self._windows: dict[Hashable, SlidingWindow] = {}

    def hit(self, subject: Hashable, limit: int, now: float) -> Decision:
        windows = self._windows
        window = windows.pop(subject, None)
        if window is None:
            window = SlidingWindow()
            if len(windows) >= MAX_SUBJECTS:
                del windows[next(iter(windows))]  # the least recently used
        windows[subject] = window  # most recently used last
        times = window.times
        cutoff = now - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        allowed = len(times) < limit
        if allowed:
            times.append(now)
        reset = times[0] + self.window - now if times else 0.0
        return Decision(allowed, limit, max(0, limit - len(times)), max(0.0, reset))

    def sweep(self, now: float) -> None:
        """Forget subjects with nothing in their window."""
        for subject in [
            s for s, w in self._windows.items() if not w.times or w.times[-1] <= now - self.window
        ]:
            del self._windows[subject]


@dataclass
class _Pending:
    count: int
    guild_id: int | None
    ip_hash: str | None
    limit: int
    last: datetime


class Violations:
    """Refused requests counted in memory, per key or per client address, written behind."""

    def __init__(self) -> None:
        self._pending: dict[tuple[uuid.UUID | None, str | None], _Pending] = {}

    def count(
        self,
        *,
        now: datetime,
        limit: int,
        ip_hash: str,
        api_key_id: uuid.UUID | None = None,
        guild_id: int | None = None,
    ) -> None:
        subject = (api_key_id, None if api_key_id is not None else ip_hash)
        pending = self._pending.get(subject)
        if pending is None:
            self._pending[subject] = _Pending(1, guild_id, ip_hash, limit, now)
        else:
            pending.count += 1
            pending.last = max(pending.last, now)

    def __len__(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        pending, self._pending = self._pending, {}
        entries = sorted(pending.items(), key=lambda item: str(item[0]))  # a fixed order
        written = 0
        try:
            for (api_key_id, _ip), entry in entries:
                await record_rate_limit_violation(
                    endpoint=API_ENDPOINT,
                    now=entry.last,
                    api_key_id=api_key_id,
                    guild_id=entry.guild_id,
                    ip_hash=entry.ip_hash,
                    metadata={"rate_limit": entry.limit, "window_seconds": WINDOW_SECONDS},
                    count=entry.count,
                )
                written += 1
        finally:
            for subject, entry in entries[written:]:  # kept for the next flush
                newer = self._pending.get(subject)
                if newer is not None:
                    entry.count += newer.count
                    entry.last = max(entry.last, newer.last)
                self._pending[subject] = entry
        return written
