"""The guild cache discord.py builds at start-up lives as long as the bot is in those guilds.

CPython runs a full garbage collection each time the heap has grown by a quarter, and each one
walks every object: with 100,000 members cached that is 100-400 ms with the event loop held,
again and again while a big guild starts. Objects frozen with `gc.freeze()` are skipped by
every collection, so the cache is frozen as soon as discord.py has built it.
"""

from __future__ import annotations

import gc


class LongLivedHeap:
    """Freezes what is alive once discord.py has cached a guild or a chunk of its members."""

    def __init__(self) -> None:
        self._released = False

    def freeze(self) -> None:
        # Garbage that is frozen is never freed: collect first. After a release (a guild left,
        # its cached objects refer to each other) that takes a full collection; otherwise only
        # the young generations, which hold everything allocated since the last freeze.
        gc.collect() if self._released else gc.collect(1)
        gc.freeze()
        self._released = False

    def release(self) -> None:
        """Let the collector see every frozen object again (a guild left, the bot stopping)."""
        gc.unfreeze()
        self._released = True
