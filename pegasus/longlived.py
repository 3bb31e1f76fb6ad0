"""Keeping the guild cache out of CPython's full garbage collections.

discord.py caches every member of every guild, and those objects live as long as the bot is in
the guild. CPython runs a full (generation 2) collection whenever the objects that survived
since the last one grow by a quarter, and each walks every tracked object: with 100,000 members
cached that held the event loop for 100-1,000 ms, several times while a big guild starts.

So while guilds are arriving and their members are being stored, full collections are put off
(the young generations are still collected); once the directory sync is idle, the young
generations are collected and everything alive is frozen (`gc.freeze`): later full collections
walk only what was created since. A frozen object is never freed by the cyclic collector, so
the heap is released (unfrozen) when a guild is left: its cached objects refer to each other.
"""

from __future__ import annotations

import gc

# Full collections while deferred: practically never (a generation-2 threshold is a count of
# generation-1 collections; the young generations keep their thresholds).
DEFERRED_FULL_THRESHOLD = 1_000_000


class LongLivedHeap:
    """Defers full collections while the guild cache is built, then freezes it."""

    def __init__(self) -> None:
        self._thresholds: tuple[int, int, int] | None = None

    @property
    def deferring(self) -> bool:
        return self._thresholds is not None

    def defer(self) -> None:
        """Guilds or members are arriving: put full collections off until `settle`."""
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            young, middle, _full = self._thresholds
            gc.set_threshold(young, middle, DEFERRED_FULL_THRESHOLD)

    def settle(self) -> None:
        """What arrived is cached and stored: collect the young generations (cheap: what
        was allocated recently), freeze everything alive, and collect fully as usual again."""
        if self._thresholds is None:
            return
        gc.collect(1)
        gc.freeze()
        gc.set_threshold(*self._thresholds)
        self._thresholds = None

    def release(self) -> None:
        """Let the collector see every frozen object again (a guild left, the bot stopping)."""
        gc.unfreeze()

    def close(self) -> None:
        """The bot stops: thresholds as they were, nothing frozen."""
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        self.release()
