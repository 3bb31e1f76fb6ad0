"""Keeping the guild cache out of CPython's full garbage collections.

discord.py caches every member of every guild, and those objects live as long as the bot is in
the guild. CPython runs a full (generation 2) collection whenever the objects that survived
since the last one grow by a quarter, and each walks every tracked object: with 100,000 members
cached that held the event loop for 100-1,000 ms, several times while a big guild starts.

So while guilds are arriving and their members are being stored, full collections are put off
(the young generations are still collected); once the directory sync is idle, the young
generations are collected and everything alive is frozen (`gc.freeze`): later full collections
walk only what was created since. A frozen object is never freed by the cyclic collector, so
the heap is released (unfrozen) when cached objects are dropped: a guild left, or a new gateway
session (discord.py empties its cache). Cached objects refer to each other, so once dropped
only a full collection frees them: the next settle runs one before freezing, or it would keep
a whole old cache alive. The first start of a process has no such garbage and runs none.
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
        self.frozen = False
        self._dropped = False  # cached objects may have been dropped since the last settle

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
        """What arrived is cached and stored: collect (fully if cached objects were dropped,
        else the young generations: cheap, what was allocated recently), freeze everything
        alive, and collect fully as usual again."""
        if self._thresholds is None:
            return
        gc.collect() if self._dropped else gc.collect(1)
        gc.freeze()
        self.frozen, self._dropped = True, False
        gc.set_threshold(*self._thresholds)
        self._thresholds = None

    def release(self) -> None:
        """Cached objects were dropped (a guild left, a new session): let the collector see
        every frozen object again, and collect fully at the next settle."""
        gc.unfreeze()
        self.frozen, self._dropped = False, True

    def close(self) -> None:
        """The bot stops: thresholds as they were, nothing frozen."""
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        gc.unfreeze()
        self.frozen = False
