"""The draw anyone can verify: seed, commitment, entry list, winners, and the check of every draw.

The draw
--------
1. When the giveaway is created, a *seed* is drawn: 32 random bytes written as 64 lower-case hex
   characters. Its commitment, ``seed_hash = hex(SHA-256(seed))`` (the hash of those 64 ASCII
   characters), is shown on the giveaway message from the start. The seed itself is revealed only
   when the giveaway ends, so nobody, the host included, can know or steer the result in advance
   without the published hash giving it away.
2. The *entry list* is every entrant as ``(user id, weight)``, sorted by user id ascending. The
   weight is 1 plus the bonus entries the member had when they entered (the bonus of every bonus
   role they hold, plus the booster bonus if they boost the server). Its digest,
   ``entries_digest``, is the SHA-256 of the lines ``"<user id>:<weight>\\n"`` in that order.
3. A *draw* has a round number ``r`` (0 for the draw at the end, 1, 2, ... for each reroll), a
   winner count and a set of excluded user ids (for a reroll: everyone who has already won, and
   entrants who have left the server). Excluded entrants are removed from the list, keeping its
   order. Then winners are picked one at a time; for pick ``k`` (0, 1, 2, ...):
     * ``T`` is the sum of the weights still in the list;
     * for ``c`` = 0, 1, 2, ...: ``h = int(SHA-256("<seed>:<r>:<k>:<c>"), big-endian)``; the first
       ``h`` below ``2**256 - (2**256 mod T)`` gives ``x = h mod T`` (this rejection step makes
       ``x`` exactly uniform on ``0 .. T-1``; in practice ``c`` is always 0);
     * walking the list in order and adding up weights, the winner is the first entry whose
       running sum exceeds ``x``; it is removed from the list.
   Picking stops when the count is reached or nobody is left.
So an entrant with weight 3 is exactly three times as likely as one with weight 1 to be picked
first. Every draw is stored (round, count, excluded ids, winners, time), and `verify` recomputes
each one from the revealed seed and the stored entries.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from itertools import accumulate

from models.giveaways import Giveaway, GiveawayStatus
from pegasus.errors import ConflictError
from pegasus.i18n import _

from .lookup import get_giveaway, sorted_entries
from .results import DrawCheck, Entry, GiveawayInfo, Verification

_TWO_256 = 1 << 256


def new_seed(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def hash_seed(seed: str) -> str:
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def entries_digest(entries: Iterable[Entry]) -> str:
    digest = hashlib.sha256()
    for user_id, weight in sorted(entries):
        digest.update(f"{user_id}:{weight}\n".encode("ascii"))
    return digest.hexdigest()


def uniform_below(seed: str, round_no: int, pick: int, bound: int) -> int:
    """An integer uniform on 0..bound-1 from SHA-256("seed:round:pick:counter")."""
    if bound < 1:
        problem = "bound must be positive"  # for developers
        raise ValueError(problem)
    limit = _TWO_256 - (_TWO_256 % bound)
    counter = 0
    while True:
        digest = hashlib.sha256(f"{seed}:{round_no}:{pick}:{counter}".encode("ascii")).digest()
        value = int.from_bytes(digest, "big")
        if value < limit:
            return value % bound
        counter += 1  # astronomically rare; keeps the result exactly uniform


def draw_winners(
    seed: str,
    round_no: int,
    entries: Iterable[Entry],
    count: int,
    excluded: Collection[int] = (),
) -> list[int]:
    """Winners of one draw, as documented at the top of this module."""
    pool = [(user_id, weight) for user_id, weight in sorted(entries) if user_id not in excluded]
    winners: list[int] = []
    for pick in range(count):
        if not pool:
            break
        cumulative = list(accumulate(weight for _user_id, weight in pool))
        x = uniform_below(seed, round_no, pick, cumulative[-1])
        index = bisect_right(cumulative, x)  # first running sum greater than x
        winners.append(pool.pop(index)[0])
    return winners


async def verify(guild_id: int, public_id: str) -> Verification:
    """Recompute every draw of an ended giveaway from its revealed seed and stored entries."""
    giveaway = await get_giveaway(guild_id, public_id)
    if giveaway.status is not GiveawayStatus.ENDED:
        raise ConflictError(
            _(
                "Giveaway `{giveaway}` has not ended: its seed is revealed when it ends. "
                "Its committed seed hash is `{seed_hash}`."
            ).format(giveaway=giveaway.giveaway_id, seed_hash=giveaway.seed_hash)
        )
    entries = await sorted_entries(giveaway.id)
    return verify_draws(giveaway, entries)


def verify_draws(giveaway: GiveawayInfo | Giveaway, entries: Sequence[Entry]) -> Verification:
    if isinstance(giveaway, Giveaway):
        giveaway = GiveawayInfo.from_row(giveaway)
    seed = giveaway.seed
    if seed is None:
        raise ConflictError(
            _("Giveaway `{giveaway}` has not ended: its seed is secret.").format(
                giveaway=giveaway.giveaway_id
            )
        )
    checks: list[DrawCheck] = []
    earlier_winners: set[int] = set()
    for record in giveaway.draws:
        recomputed = draw_winners(
            seed, record.round, entries, record.count, set(record.excluded)
        )
        checks.append(DrawCheck(record, tuple(recomputed), earlier_winners <= set(record.excluded)))
        earlier_winners.update(record.winners)
    return Verification(
        giveaway=giveaway,
        seed_matches=hash_seed(seed) == giveaway.seed_hash,
        entries_match=entries_digest(entries) == giveaway.entries_digest,
        draws=tuple(checks),
    )
