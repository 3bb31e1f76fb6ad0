"""The draw, checked against a literal reading of the algorithm documented in the service.

No database: these are the pure functions anyone can re-implement to check a giveaway.
"""

from __future__ import annotations

import hashlib
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pegasus.services.giveaways import (
    BonusEntries,
    draw_winners,
    entries_digest,
    hash_seed,
    new_seed,
    uniform_below,
)


def reference_draw(
    seed: str, round_no: int, entries: list[tuple[int, int]], count: int, excluded: set[int]
) -> list[int]:
    """The documented algorithm, written as plainly as possible (a linear walk, no bisect)."""
    pool = [e for e in sorted(entries) if e[0] not in excluded]
    winners = []
    for pick in range(count):
        if not pool:
            break
        total = sum(weight for _, weight in pool)
        counter = 0
        while True:
            text = f"{seed}:{round_no}:{pick}:{counter}"
            h = int(hashlib.sha256(text.encode()).hexdigest(), 16)
            if h < 2**256 - (2**256 % total):
                x = h % total
                break
            counter += 1
        running = 0
        for index, (user_id, weight) in enumerate(pool):
            running += weight
            if running > x:
                winners.append(user_id)
                del pool[index]
                break
    return winners


SEED = "5f" * 32
ENTRIES = [(300 + i, 1 + i % 4) for i in range(40)]


def test_seed_is_64_hex_and_hash_is_sha256_of_its_ascii() -> None:
    seed = new_seed(random.Random(1))
    assert len(seed) == 64 and int(seed, 16) >= 0 and seed == seed.lower()
    assert hash_seed(seed) == hashlib.sha256(seed.encode("ascii")).hexdigest()
    assert new_seed(random.Random(1)) == seed  # reproducible under a seeded rng
    assert new_seed(random.Random(2)) != seed


def test_entries_digest_is_sha256_of_sorted_lines() -> None:
    expected = hashlib.sha256(b"1:3\n2:1\n10:2\n").hexdigest()
    assert entries_digest([(10, 2), (2, 1), (1, 3)]) == expected


def test_draw_matches_the_documented_algorithm() -> None:
    for round_no in range(4):
        for count in (1, 3, 10, 40, 50):
            excluded = {300, 311, 339} if round_no else set()
            assert draw_winners(SEED, round_no, ENTRIES, count, excluded) == reference_draw(
                SEED, round_no, ENTRIES, count, excluded
            )


def test_draw_ignores_the_order_entries_are_given_in() -> None:
    shuffled = ENTRIES[:]
    random.Random(7).shuffle(shuffled)
    assert draw_winners(SEED, 0, shuffled, 5) == draw_winners(SEED, 0, ENTRIES, 5)


def test_rounds_and_seeds_give_different_draws() -> None:
    first = draw_winners(SEED, 0, ENTRIES, 5)
    assert draw_winners(SEED, 1, ENTRIES, 5) != first
    assert draw_winners("a0" * 32, 0, ENTRIES, 5) != first


def test_uniform_below_rejects_the_biased_tail() -> None:
    # With a bound just above 2**255 about half of all hashes fall in the rejected tail, so the
    # counter path runs; every value must still be below the bound and match the reference.
    bound = 2**255 + 1
    limit = 2**256 - (2**256 % bound)
    rejected_somewhere = False
    for pick in range(64):
        value = uniform_below(SEED, 0, pick, bound)
        assert 0 <= value < bound
        h0 = int(hashlib.sha256(f"{SEED}:0:{pick}:0".encode()).hexdigest(), 16)
        if h0 >= limit:
            rejected_somewhere = True
            h1 = int(hashlib.sha256(f"{SEED}:0:{pick}:1".encode()).hexdigest(), 16)
            if h1 < limit:
                assert value == h1 % bound
        else:
            assert value == h0 % bound
    assert rejected_somewhere


entry_lists = st.dictionaries(
    st.integers(min_value=1, max_value=2**63 - 1),
    st.integers(min_value=1, max_value=20),
    max_size=30,
).map(lambda d: sorted(d.items()))


@settings(max_examples=200, deadline=None)
@given(
    entries=entry_lists,
    count=st.integers(min_value=1, max_value=50),
    round_no=st.integers(min_value=0, max_value=5),
    data=st.data(),
)
def test_winners_are_distinct_entrants_never_excluded(
    entries: list[tuple[int, int]], count: int, round_no: int, data: st.DataObject
) -> None:
    ids = [user_id for user_id, _ in entries]
    excluded = set(data.draw(st.lists(st.sampled_from(ids), unique=True))) if ids else set()
    winners = draw_winners(SEED, round_no, entries, count, excluded)
    eligible = set(ids) - excluded
    assert len(winners) == len(set(winners)) == min(count, len(eligible))
    assert set(winners) <= eligible
    assert winners == reference_draw(SEED, round_no, entries, count, excluded)


def test_bonus_entries_add_up() -> None:
    bonus = BonusEntries(roles=((10, 2), (20, 5)), booster=3)
    assert bonus.weight_for(set(), False) == 1
    assert bonus.weight_for({10}, False) == 3
    assert bonus.weight_for({10, 20}, True) == 11
    assert BonusEntries.from_json(bonus.to_json()) == bonus


def binomial_tolerance(trials: int, p: float, sigmas: float = 5.0) -> float:
    """`sigmas` standard deviations of a Binomial(trials, p) count.

    The seeds are fixed, so the test is deterministic; 5 sigma means that a correct draw with
    *other* seeds would fail less than once in a million runs, while a weight ignored (p off by
    a factor of 2 or more) is thousands of sigmas away.
    """
    return sigmas * math.sqrt(trials * p * (1 - p))


def test_first_pick_frequencies_follow_the_weights() -> None:
    entries = [(1, 1), (2, 2), (3, 3), (4, 4)]  # e.g. no bonus, +1, +2, +3 bonus entries
    total = sum(w for _, w in entries)
    trials = 8000
    wins = dict.fromkeys([u for u, _ in entries], 0)
    for i in range(trials):
        wins[draw_winners(hash_seed(f"stat-{i}"), 0, entries, 1)[0]] += 1
    for user_id, weight in entries:
        p = weight / total
        assert abs(wins[user_id] - trials * p) <= binomial_tolerance(trials, p), (user_id, wins)


def test_second_pick_is_weighted_among_the_rest() -> None:
    # P(user 2 is among 2 winners drawn from weights 1, 1, 3): picked first (1/5); or user 1
    # first (1/5) then 2 against 3 (1/4); or user 3 first (3/5) then 2 against 1 (1/2).
    entries = [(1, 1), (2, 1), (3, 3)]
    p = 1 / 5 + (1 / 5) * (1 / 4) + (3 / 5) * (1 / 2)
    trials = 6000
    hits = sum(2 in draw_winners(hash_seed(f"pair-{i}"), 0, entries, 2) for i in range(trials))
    assert abs(hits - trials * p) <= binomial_tolerance(trials, p)
