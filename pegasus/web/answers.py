"""What a process serving the API keeps in memory so that a request costs no database round
trip it can do without: which guilds exist, and the answers of leaderboard pages and ranks.

Both follow the change notices of `pegasus.notify` (in this process at once; on PostgreSQL from
every other process within milliseconds) and are bounded in age besides, so a notice that never
comes (a row changed by hand) is outlived:

* `KnownGuilds`: a guild row seen is trusted for GUILD_SECONDS; a guild whose data is deleted
  (its SETTINGS notice) is read again. An unknown guild is read each time (no negative cache).
* `AnswerCache`: a leaderboard page or a rank is kept until the guild's XP changes (the XP
  notice the activity flush sends after it commits, and the XP commands, erasures and rank
  card changes send after theirs) and at most ANSWER_SECONDS, the bound for what changes
  without an XP notice: a member's name as stored (the boards show the name last stored, which
  follows Discord only when the bot next sees the member) and rows changed by hand. A read that
  began before a notice is never kept after it (generations), so no answer older than the last
  committed change of XP survives. In a guild where members talk, the flush writes it every
  second, so its answers live about a second; an idle guild's are read again once a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from pegasus import notify

__all__ = ["ANSWER_SECONDS", "GUILD_SECONDS", "AnswerCache", "KnownGuilds"]

T = TypeVar("T")
GUILD_SECONDS = 10.0
ANSWER_SECONDS = 60.0
MAX_ANSWERS = 50_000
MAX_GUILDS = 100_000


class KnownGuilds:
    """Guild ids known to have a row, each for `max_age` seconds or until its data is deleted."""

    def __init__(
        self, *, max_age: float = GUILD_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age = max_age
        self.clock = clock
        self._seen: dict[int, float] = {}

    async def exists(self, guild_id: int, read: Callable[[int], Awaitable[bool]]) -> bool:
        """Whether the guild exists: known, or `read(guild_id)` asked and a yes kept."""
        moment = self.clock()
        seen = self._seen.get(guild_id)
        if seen is not None and moment - seen < self.max_age:
            return True
        found = await read(guild_id)
        self._seen.pop(guild_id, None)
        if found:
            if len(self._seen) >= MAX_GUILDS:
                del self._seen[next(iter(self._seen))]
            self._seen[guild_id] = moment
        return found

    async def forget(self, change: notify.Change) -> None:
        if change.topic is notify.Topic.EVERYTHING:
            self._seen.clear()
        elif change.topic is notify.Topic.SETTINGS:
            if change.guild_id is None:
                self._seen.clear()
            else:
                self._seen.pop(change.guild_id, None)


class AnswerCache:
    """Answers computed from a guild's XP, by (guild id, what was asked)."""

    def __init__(
        self,
        *,
        max_age: float = ANSWER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_answers: int = MAX_ANSWERS,
    ) -> None:
        self.max_age = max_age
        self.clock = clock
        self.max_answers = max_answers
        self.hits = 0
        self.misses = 0
        # Raised by a notice: an answer computed under an older generation is not kept.
        self._every_guild = 0
        self._guilds: dict[int, int] = {}
        self._answers: dict[tuple[int, Hashable], tuple[float, tuple[int, int], Any]] = {}
        self._running: dict[tuple[tuple[int, Hashable], tuple[int, int]], asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def _generation(self, guild_id: int) -> tuple[int, int]:
        return self._every_guild, self._guilds.get(guild_id, 0)

    async def answer(
        self, guild_id: int, question: Hashable, compute: Callable[[], Awaitable[T]]
    ) -> T:
        """The kept answer to `question` about the guild, or `compute()`'s, then kept."""
        key = (guild_id, question)
        generation = self._generation(guild_id)
        kept = self._answers.get(key)
        if kept is not None:
            stored_at, kept_generation, value = kept
            if kept_generation == generation and self.clock() - stored_at < self.max_age:
                self.hits += 1
                return value  # type: ignore[no-any-return]
            del self._answers[key]
        self.misses += 1
        # Requests asking the same while it is computed wait for that answer: a burst on a
        # cold page costs one computation, not one each.
        flight = (key, generation)
        running = self._running.get(flight)
        if running is not None:
            try:
                return await asyncio.shield(running)  # type: ignore[no-any-return]
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise  # this request was cancelled
                return await compute()  # the one computing it was: ask on our own
        running = asyncio.get_running_loop().create_future()
        self._running[flight] = running
        started = self.clock()
        try:
            value = await compute()
        except BaseException as error:
            if isinstance(error, asyncio.CancelledError):
                running.cancel()
            else:
                running.set_exception(error)
                running.exception()  # retrieved: no warning when nobody else waited
            raise
        else:
            running.set_result(value)
        finally:
            del self._running[flight]
        if self._generation(guild_id) == generation:  # no change announced meanwhile
            if len(self._answers) >= self.max_answers:
                del self._answers[next(iter(self._answers))]  # the longest kept
            self._answers[key] = (started, generation, value)
        return value

    async def forget(self, change: notify.Change) -> None:
        """Drop the answers a change made stale: a guild's on its XP or data change, all when
        every guild (rank cards are bot-wide) changed or notices were missed."""
        if change.topic not in (notify.Topic.XP, notify.Topic.SETTINGS, notify.Topic.EVERYTHING):
            return
        if change.guild_id is None or change.topic is notify.Topic.EVERYTHING:
            self._every_guild += 1
            self._answers.clear()
        else:
            self._guilds[change.guild_id] = self._guilds.get(change.guild_id, 0) + 1
