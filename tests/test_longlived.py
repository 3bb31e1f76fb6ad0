"""The guild cache is kept out of full garbage collections without keeping dropped caches alive:
full collections are put off while a start is under way, what is alive is frozen when it is
over, and a settle that follows dropped cached objects collects fully before freezing."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pegasus.longlived import DEFERRED_FULL_THRESHOLD, LongLivedHeap


class Cached:
    """Like discord.py's cached objects: they refer to each other (only the collector frees
    them once dropped)."""

    def __init__(self) -> None:
        self.myself = self


@pytest.fixture
def heap() -> Iterator[LongLivedHeap]:
    thresholds = gc.get_threshold()
    heap = LongLivedHeap()
    yield heap
    heap.close()
    assert gc.get_threshold() == thresholds


def dropped_old_cache() -> weakref.ref[Cached]:
    """A cached object that lived long (in the oldest generation) and was then dropped."""
    cached = Cached()
    gc.collect()  # survivors of a full collection stay in the oldest generation
    probe = weakref.ref(cached)
    del cached
    return probe


def test_full_collections_are_put_off_until_the_start_is_over(heap: LongLivedHeap) -> None:
    young = gc.get_threshold()[:2]
    heap.defer()
    assert gc.get_threshold() == (*young, DEFERRED_FULL_THRESHOLD)
    kept = Cached()
    heap.settle()
    assert gc.get_threshold()[2] < DEFERRED_FULL_THRESHOLD
    assert heap.frozen and not any(o is kept for o in gc.get_objects())


def test_a_settle_after_a_release_frees_the_dropped_cache(heap: LongLivedHeap) -> None:
    heap.defer()
    heap.settle()
    probe = dropped_old_cache()
    heap.release()  # a new session or a guild left: cached objects were dropped
    heap.defer()
    heap.settle()
    assert probe() is None


def test_without_a_release_the_young_generations_alone_are_collected(heap: LongLivedHeap) -> None:
    # Why the release matters: garbage already in the oldest generation would be frozen.
    probe = dropped_old_cache()
    heap.defer()
    heap.settle()
    assert probe() is not None
    heap.close()
    gc.collect()
    assert probe() is None
