"""Giveaways: requirements, bonus entries, state transitions and a draw anyone can verify.

A giveaway is `scheduled` (posted, entries not open yet), then `active`, then `ended` or
`cancelled`. Every move is a conditional UPDATE on the status (`... WHERE status = 'active'`), so
a manual `/giveaway end` racing the timer, a restart or two processes end a giveaway exactly once;
whoever wins the UPDATE draws the winners in the same transaction. Entering and leaving lock the
giveaway row first (an UPDATE that also checks that it is still open), so no entry slips in after
the winners were drawn, on SQLite or PostgreSQL. Announcing the end is claimed as a lease that is
confirmed after posting, so it happens once even when a process dies mid-way (at least once in the
one window Discord leaves open; see `claim_announcement`).

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
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models.giveaways import Giveaway, GiveawayEntry, GiveawayStatus
from models.ids import new_public_id, normalize_public_id
from models.levels import UserXP
from pegasus import scheduler
from pegasus.errors import ConflictError, NotFoundError, ValidationError
from pegasus.services import ids
from pegasus.services.directory import ensure_guild, ensure_user

START_KIND = "giveaway.start"
END_KIND = "giveaway.end"
PUBLIC_ID_PREFIX = "G"

MAX_WINNERS = 50
MAX_PRIZE_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 1000
MIN_DURATION_SECONDS = 10
MAX_DURATION_SECONDS = 90 * 86400
MAX_START_DELAY_SECONDS = 90 * 86400
MAX_BONUS_ENTRIES = 100
MAX_AGE_DAYS = 36_500
MAX_LEVEL = 10_000
# After a manual end, the end timer stays as a backstop this long: if the process dies between
# the draw and the announcement, the timer announces (and does nothing if it was announced).
ANNOUNCEMENT_BACKSTOP_SECONDS = 60
# A claim on the announcement that is still unconfirmed after this long belongs to a process
# that died (posting takes seconds); the end timer takes it back and announces.
ANNOUNCEMENT_LEASE_SECONDS = 300
_TWO_256 = 1 << 256

Entry = tuple[int, int]  # (user id, weight)


# --------------------------------------------------------------------------------------------
# Values the cog builds from Discord objects


@dataclass(frozen=True)
class Requirements:
    """What a member needs to enter. Every listed role is required."""

    role_ids: tuple[int, ...] = ()
    min_level: int | None = None
    min_account_age_days: int | None = None
    min_server_age_days: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "role_ids": list(self.role_ids),
            "min_level": self.min_level,
            "min_account_age_days": self.min_account_age_days,
            "min_server_age_days": self.min_server_age_days,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Requirements:
        data = data or {}
        return cls(
            role_ids=tuple(int(r) for r in data.get("role_ids") or ()),
            min_level=data.get("min_level"),
            min_account_age_days=data.get("min_account_age_days"),
            min_server_age_days=data.get("min_server_age_days"),
        )

    @property
    def is_empty(self) -> bool:
        return not self.role_ids and not any(
            (self.min_level, self.min_account_age_days, self.min_server_age_days)
        )


@dataclass(frozen=True)
class BonusEntries:
    """Extra entries: per role held (they add up) and for boosting the server."""

    roles: tuple[tuple[int, int], ...] = ()  # (role id, extra entries)
    booster: int = 0

    def weight_for(self, role_ids: Collection[int], is_booster: bool) -> int:
        """1 for the entry itself plus every bonus that applies."""
        extra = sum(bonus for role_id, bonus in self.roles if role_id in role_ids)
        if is_booster:
            extra += self.booster
        return 1 + extra

    def to_json(self) -> dict[str, Any]:
        return {
            "roles": {str(role_id): bonus for role_id, bonus in self.roles},
            "booster": self.booster,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> BonusEntries:
        data = data or {}
        roles = tuple(sorted((int(k), int(v)) for k, v in (data.get("roles") or {}).items()))
        return cls(roles=roles, booster=int(data.get("booster") or 0))

    @property
    def is_empty(self) -> bool:
        return not self.roles and not self.booster


@dataclass(frozen=True)
class Entrant:
    """The member clicking Enter, as far as requirements and bonuses need to know."""

    user_id: int
    role_ids: frozenset[int] = frozenset()
    is_booster: bool = False
    account_created_at: datetime | None = None
    joined_at: datetime | None = None  # when they joined the server


@dataclass(frozen=True)
class GiveawayDraft:
    """What `/giveaway start` asks for."""

    guild_id: int
    channel_id: int
    host_id: int | None
    prize: str
    winner_count: int
    duration_seconds: int
    description: str | None = None
    starts_in_seconds: int = 0
    requirements: Requirements = field(default_factory=Requirements)
    bonus: BonusEntries = field(default_factory=BonusEntries)


@dataclass(frozen=True)
class EntryResult:
    entered: bool  # False: the click took the member out of the giveaway
    weight: int
    entry_count: int


@dataclass(frozen=True)
class DrawRecord:
    round: int
    count: int
    excluded: tuple[int, ...]
    winners: tuple[int, ...]
    at: str
    by: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "count": self.count,
            "excluded": list(self.excluded),
            "winners": list(self.winners),
            "at": self.at,
            "by": self.by,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DrawRecord:
        return cls(
            round=int(data["round"]),
            count=int(data["count"]),
            excluded=tuple(int(u) for u in data.get("excluded") or ()),
            winners=tuple(int(u) for u in data.get("winners") or ()),
            at=str(data.get("at") or ""),
            by=data.get("by"),
        )


@dataclass(frozen=True)
class DrawCheck:
    record: DrawRecord
    recomputed: tuple[int, ...]
    excludes_previous_winners: bool

    @property
    def ok(self) -> bool:
        return self.recomputed == self.record.winners and self.excludes_previous_winners


@dataclass(frozen=True)
class Verification:
    giveaway: Giveaway
    seed_matches: bool
    entries_match: bool
    draws: tuple[DrawCheck, ...]

    @property
    def ok(self) -> bool:
        return self.seed_matches and self.entries_match and all(d.ok for d in self.draws)


class RequirementNotMet(ValidationError):
    """The member may not enter; the message says which requirement failed."""


# --------------------------------------------------------------------------------------------
# The draw: pure functions, documented in the module docstring


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
        raise ValueError("bound must be positive")
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
        cumulative = list(accumulate(weight for _, weight in pool))
        x = uniform_below(seed, round_no, pick, cumulative[-1])
        index = bisect_right(cumulative, x)  # first running sum greater than x
        winners.append(pool.pop(index)[0])
    return winners


# --------------------------------------------------------------------------------------------
# Creating and starting


def _validate_draft(draft: GiveawayDraft) -> None:
    prize = draft.prize.strip()
    if not prize:
        raise ValidationError("The prize cannot be empty.")
    if len(prize) > MAX_PRIZE_LENGTH:
        raise ValidationError(f"The prize can be at most {MAX_PRIZE_LENGTH} characters.")
    if draft.description and len(draft.description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationError(
            f"The description can be at most {MAX_DESCRIPTION_LENGTH:,} characters."
        )
    if not 1 <= draft.winner_count <= MAX_WINNERS:
        raise ValidationError(f"The number of winners must be between 1 and {MAX_WINNERS}.")
    if not MIN_DURATION_SECONDS <= draft.duration_seconds <= MAX_DURATION_SECONDS:
        raise ValidationError(
            f"A giveaway lasts between {MIN_DURATION_SECONDS} seconds and "
            f"{MAX_DURATION_SECONDS // 86400} days."
        )
    if not 0 <= draft.starts_in_seconds <= MAX_START_DELAY_SECONDS:
        raise ValidationError(
            f"A giveaway can start at most {MAX_START_DELAY_SECONDS // 86400} days from now."
        )
    _validate_requirements(draft.requirements)
    _validate_bonus(draft.bonus)


def _validate_requirements(req: Requirements) -> None:
    if req.min_level is not None and not 0 <= req.min_level <= MAX_LEVEL:
        raise ValidationError(f"The minimum level must be between 0 and {MAX_LEVEL:,}.")
    for label, days in (
        ("minimum account age", req.min_account_age_days),
        ("minimum server age", req.min_server_age_days),
    ):
        if days is not None and not 0 <= days <= MAX_AGE_DAYS:
            raise ValidationError(f"The {label} must be between 0 and {MAX_AGE_DAYS:,} days.")


def _validate_bonus(bonus: BonusEntries) -> None:
    for _, extra in bonus.roles:
        if not 0 <= extra <= MAX_BONUS_ENTRIES:
            raise ValidationError(f"Bonus entries must be between 0 and {MAX_BONUS_ENTRIES}.")
    if not 0 <= bonus.booster <= MAX_BONUS_ENTRIES:
        raise ValidationError(f"Booster bonus entries must be between 0 and {MAX_BONUS_ENTRIES}.")


async def create_giveaway(
    draft: GiveawayDraft, *, now: datetime, rng: random.Random | None = None
) -> Giveaway:
    """Store a new giveaway with its committed seed, and its start and end timers.

    Without `rng` the seed comes from the operating system's secure source.
    """
    _validate_draft(draft)
    rng = rng or random.SystemRandom()
    starts_at = now + timedelta(seconds=draft.starts_in_seconds)
    ends_at = starts_at + timedelta(seconds=draft.duration_seconds)
    status = GiveawayStatus.SCHEDULED if draft.starts_in_seconds > 0 else GiveawayStatus.ACTIVE
    seed = new_seed(rng)
    for attempt in range(5):
        try:
            return await _insert_giveaway(draft, seed, status, starts_at, ends_at, rng)
        except IntegrityError:
            # The only unique column we choose is the public id; draw another one.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


async def _insert_giveaway(
    draft: GiveawayDraft,
    seed: str,
    status: GiveawayStatus,
    starts_at: datetime,
    ends_at: datetime,
    rng: random.Random,
) -> Giveaway:
    async with in_transaction() as conn:
        await ensure_guild(draft.guild_id, using_db=conn)
        if draft.host_id is not None:
            await ensure_user(draft.host_id, using_db=conn)
        giveaway = await Giveaway.create(
            giveaway_id=new_public_id(PUBLIC_ID_PREFIX, rng=rng),
            guild_id=draft.guild_id,
            channel_id=draft.channel_id,
            host_id=draft.host_id,
            prize=draft.prize.strip(),
            description=(draft.description or "").strip() or None,
            winner_count=draft.winner_count,
            starts_at=starts_at,
            ends_at=ends_at,
            status=status,
            requirements=draft.requirements.to_json(),
            bonus_entries=draft.bonus.to_json(),
            seed=seed,
            seed_hash=hash_seed(seed),
            using_db=conn,
        )
        payload = {"giveaway": giveaway.id}
        if status is GiveawayStatus.SCHEDULED:
            await scheduler.schedule(
                START_KIND,
                starts_at,
                payload,
                guild_id=draft.guild_id,
                dedupe_key=giveaway.giveaway_id,
                using_db=conn,
            )
        await scheduler.schedule(
            END_KIND,
            ends_at,
            payload,
            guild_id=draft.guild_id,
            dedupe_key=giveaway.giveaway_id,
            using_db=conn,
        )
        return giveaway


async def attach_message(giveaway_pk: int, message_id: int) -> None:
    """Remember the message that shows the giveaway (posted after the row was written)."""
    await Giveaway.filter(id=giveaway_pk).update(message_id=message_id)


async def start_giveaway(giveaway_pk: int) -> Giveaway | None:
    """Open a scheduled giveaway for entries. None if it was not scheduled (already started,
    cancelled, or a repeated timer)."""
    opened = await Giveaway.filter(id=giveaway_pk, status=GiveawayStatus.SCHEDULED).update(
        status=GiveawayStatus.ACTIVE
    )
    return await Giveaway.get_or_none(id=giveaway_pk) if opened else None


async def delete_unposted(giveaway_pk: int) -> None:
    """Remove a giveaway whose message could not be posted, with its timers."""
    async with in_transaction() as conn:
        giveaway = await Giveaway.get_or_none(id=giveaway_pk).using_db(conn)
        if giveaway is None:
            return
        await _cancel_timers(giveaway.giveaway_id, conn)
        await giveaway.delete(using_db=conn)


# --------------------------------------------------------------------------------------------
# Looking up


async def get_giveaway(guild_id: int, public_id: str) -> Giveaway:
    """The giveaway `public_id` (as typed: case and spacing do not matter) of this server."""
    normalized = ids.GIVEAWAY.parse(public_id)
    giveaway = await Giveaway.get_or_none(guild_id=guild_id, giveaway_id=normalized)
    if giveaway is None:
        raise ids.GIVEAWAY.not_found(public_id)
    return giveaway


async def giveaway_by_pk(giveaway_pk: int) -> Giveaway | None:
    return await Giveaway.get_or_none(id=giveaway_pk)


async def suggest_giveaways(guild_id: int, typed: str, *, limit: int = 25) -> list[Giveaway]:
    """Giveaways whose id or prize contains what was typed, newest first (for autocomplete)."""
    query = Giveaway.filter(guild_id=guild_id)
    typed = ids.searchable(typed).strip()
    if typed:
        query = query.filter(
            Q(giveaway_id__icontains=normalize_public_id(typed)) | Q(prize__icontains=typed)
        )
    return await query.order_by("-created_at", "-id").limit(limit)


async def list_giveaways(
    guild_id: int, status: GiveawayStatus | None = None, *, limit: int = 25
) -> list[Giveaway]:
    """Newest first."""
    query = Giveaway.filter(guild_id=guild_id)
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("-created_at", "-id").limit(limit)


async def sorted_entries(
    giveaway_pk: int, *, using_db: BaseDBAsyncClient | None = None
) -> list[Entry]:
    """The entry list of the draw: (user id, weight), sorted by user id."""
    rows = await (
        GiveawayEntry.filter(giveaway_id=giveaway_pk)
        .using_db(using_db)
        .order_by("user_id")
        .values_list("user_id", "entries")
    )
    return [(int(user_id), int(weight)) for user_id, weight in rows]


async def list_entries(guild_id: int, public_id: str) -> tuple[Giveaway, list[Entry]]:
    giveaway = await get_giveaway(guild_id, public_id)
    return giveaway, await sorted_entries(giveaway.id)


# --------------------------------------------------------------------------------------------
# Entering


async def toggle_entry(giveaway_pk: int, entrant: Entrant, *, now: datetime) -> EntryResult:
    """Enter the giveaway, or leave it if already entered.

    Entering checks every requirement (RequirementNotMet names the first that fails) and fixes
    the member's weight from their bonus entries.
    """
    async with in_transaction() as conn:
        # Locks the row and checks, in one statement, that entries are still open; the end's
        # status UPDATE waits for this transaction (and vice versa), so no entry is ever added
        # after the winners were drawn.
        open_now = (
            await Giveaway.filter(id=giveaway_pk, status=GiveawayStatus.ACTIVE, ends_at__gt=now)
            .using_db(conn)
            .update(updated_at=now)
        )
        if not open_now:
            await _raise_not_open(giveaway_pk, conn)
        left = (
            await GiveawayEntry.filter(giveaway_id=giveaway_pk, user_id=entrant.user_id)
            .using_db(conn)
            .delete()
        )
        if left:
            await (
                Giveaway.filter(id=giveaway_pk)
                .using_db(conn)
                .update(entry_count=F("entry_count") - 1)
            )
            return EntryResult(False, 0, await _entry_count(giveaway_pk, conn))
        giveaway = await Giveaway.get(id=giveaway_pk).using_db(conn)
        await check_requirements(giveaway, entrant, now=now, using_db=conn)
        bonus = BonusEntries.from_json(giveaway.bonus_entries)
        weight = bonus.weight_for(entrant.role_ids, entrant.is_booster)
        await ensure_user(entrant.user_id, using_db=conn)
        await GiveawayEntry.create(
            giveaway_id=giveaway_pk, user_id=entrant.user_id, entries=weight, using_db=conn
        )
        await (
            Giveaway.filter(id=giveaway_pk).using_db(conn).update(entry_count=F("entry_count") + 1)
        )
        return EntryResult(True, weight, await _entry_count(giveaway_pk, conn))


async def _entry_count(giveaway_pk: int, conn: BaseDBAsyncClient) -> int:
    counts = (
        await Giveaway.filter(id=giveaway_pk).using_db(conn).values_list("entry_count", flat=True)
    )
    return int(counts[0]) if counts else 0


async def _raise_not_open(giveaway_pk: int, conn: BaseDBAsyncClient) -> None:
    giveaway = await Giveaway.get_or_none(id=giveaway_pk).using_db(conn)
    if giveaway is None:
        raise NotFoundError("This giveaway no longer exists.")
    if giveaway.status is GiveawayStatus.SCHEDULED:
        raise ConflictError(
            f"This giveaway has not started yet: entries open <t:{_ts(giveaway.starts_at)}:R>."
        )
    if giveaway.status is GiveawayStatus.CANCELLED:
        raise ConflictError("This giveaway was cancelled.")
    raise ConflictError("This giveaway has ended; entries are closed.")


async def withdraw_member(guild_id: int, user_id: int, *, now: datetime) -> list[int]:
    """Take a member who left the server out of the running giveaways there.

    Returns the giveaways (primary keys) whose entry count changed. Ended giveaways keep their
    entries: they are part of the record the draw is verified against.
    """
    entered = await GiveawayEntry.filter(
        user_id=user_id, giveaway__guild_id=guild_id, giveaway__status=GiveawayStatus.ACTIVE
    ).values_list("giveaway_id", flat=True)
    changed = []
    for giveaway_pk in entered:
        async with in_transaction() as conn:
            locked = await (
                Giveaway.filter(id=giveaway_pk, status=GiveawayStatus.ACTIVE)
                .using_db(conn)
                .update(updated_at=now)
            )
            if not locked:
                continue
            removed = await (
                GiveawayEntry.filter(giveaway_id=giveaway_pk, user_id=user_id)
                .using_db(conn)
                .delete()
            )
            if removed:
                await (
                    Giveaway.filter(id=giveaway_pk)
                    .using_db(conn)
                    .update(entry_count=F("entry_count") - removed)
                )
                changed.append(int(giveaway_pk))
    return changed


async def check_requirements(
    giveaway: Giveaway,
    entrant: Entrant,
    *,
    now: datetime,
    using_db: BaseDBAsyncClient | None = None,
) -> None:
    """Raise RequirementNotMet naming the first requirement the member does not meet."""
    req = Requirements.from_json(giveaway.requirements)
    missing = [role_id for role_id in req.role_ids if role_id not in entrant.role_ids]
    if missing:
        roles = ", ".join(f"<@&{role_id}>" for role_id in missing)
        raise RequirementNotMet(f"You need the role {roles} to enter this giveaway.")
    if req.min_account_age_days:
        ready = _ready_at(entrant.account_created_at, req.min_account_age_days)
        if ready is None or ready > now:
            raise RequirementNotMet(
                f"Your Discord account must be at least {_days(req.min_account_age_days)} old "
                f"to enter this giveaway{_when(ready, 'it will be')}."
            )
    if req.min_server_age_days:
        ready = _ready_at(entrant.joined_at, req.min_server_age_days)
        if ready is None or ready > now:
            raise RequirementNotMet(
                f"You must have been in this server for at least "
                f"{_days(req.min_server_age_days)} to enter this giveaway"
                f"{_when(ready, 'you will have')}."
            )
    if req.min_level:
        level = await member_level(giveaway.guild_id, entrant.user_id, using_db=using_db)  # type: ignore[attr-defined]
        if level < req.min_level:
            raise RequirementNotMet(
                f"You need level {req.min_level:,} to enter this giveaway; you are level {level:,}."
            )


def _ready_at(since: datetime | None, days: int) -> datetime | None:
    # Unknown dates (Discord did not say) count as not old enough: refuse rather than let through.
    return None if since is None else since + timedelta(days=days)


def _days(days: int) -> str:
    return f"{days:,} day" + ("" if days == 1 else "s")


def _when(ready: datetime | None, phrase: str) -> str:
    return "" if ready is None else f" ({phrase} <t:{_ts(ready)}:R>)"


async def member_level(
    guild_id: int, user_id: int, *, using_db: BaseDBAsyncClient | None = None
) -> int:
    """The member's level from `user_xp` (0 if they have no XP yet)."""
    levels = await (
        UserXP.filter(guild_id=guild_id, user_id=user_id)
        .using_db(using_db)
        .values_list("level", flat=True)
    )
    return int(levels[0]) if levels else 0


# --------------------------------------------------------------------------------------------
# Ending, rerolling, cancelling


async def end_giveaway(
    giveaway_pk: int,
    *,
    now: datetime,
    present_member_ids: Collection[int] | None = None,
    by: int | None = None,
    backstop: timedelta | None = None,
) -> Giveaway | None:
    """End an active giveaway and draw its winners, or return None if it was not active.

    Only one caller wins the status UPDATE, so this draws (and its caller announces) once, however
    many timers, commands or processes race. `present_member_ids` (the server's current members,
    when known) excludes entrants who have left. With `backstop`, the end timer is moved to
    `now + backstop` instead of cancelled, so an end that is never announced (the process died
    first) is announced by the timer.
    """
    async with in_transaction() as conn:
        ended = (
            await Giveaway.filter(id=giveaway_pk, status=GiveawayStatus.ACTIVE)
            .using_db(conn)
            .update(status=GiveawayStatus.ENDED, ended_at=now)
        )
        if not ended:
            return None
        giveaway = await Giveaway.get(id=giveaway_pk).using_db(conn)
        entries = await sorted_entries(giveaway_pk, using_db=conn)
        excluded = _departed(entries, present_member_ids)
        winners = draw_winners(giveaway.seed, 0, entries, giveaway.winner_count, excluded)
        record = DrawRecord(0, giveaway.winner_count, excluded, tuple(winners), now.isoformat(), by)
        await (
            Giveaway.filter(id=giveaway_pk)
            .using_db(conn)
            .update(
                winners=winners, draws=[record.to_json()], entries_digest=entries_digest(entries)
            )
        )
        # A running timer finds the giveaway ended; a backstop only announces what nobody has.
        if backstop is None:
            await scheduler.cancel(END_KIND, giveaway.giveaway_id, using_db=conn)
        else:
            await scheduler.schedule(
                END_KIND,
                now + backstop,
                {"giveaway": giveaway_pk},
                guild_id=giveaway.guild_id,  # type: ignore[attr-defined]
                dedupe_key=giveaway.giveaway_id,
                using_db=conn,
            )
        return await Giveaway.get(id=giveaway_pk).using_db(conn)


async def end_now(
    guild_id: int,
    public_id: str,
    *,
    now: datetime,
    present_member_ids: Collection[int] | None = None,
    by: int | None = None,
) -> Giveaway:
    """`/giveaway end`: end it now; a clear refusal if it is not running."""
    giveaway = await get_giveaway(guild_id, public_id)
    if giveaway.status is GiveawayStatus.SCHEDULED:
        raise ConflictError(
            f"Giveaway `{giveaway.giveaway_id}` has not started yet; cancel it instead."
        )
    ended = await end_giveaway(
        giveaway.id,
        now=now,
        present_member_ids=present_member_ids,
        by=by,
        backstop=timedelta(seconds=ANNOUNCEMENT_BACKSTOP_SECONDS),
    )
    if ended is None:
        await giveaway.refresh_from_db()
        raise ConflictError(_already_finished(giveaway))
    return ended


async def end_due(
    giveaway_pk: int, *, now: datetime, present_member_ids: Collection[int] | None = None
) -> Giveaway | None:
    """The end timer: a scheduled giveaway whose start timer has not run yet is opened first."""
    await start_giveaway(giveaway_pk)
    return await end_giveaway(giveaway_pk, now=now, present_member_ids=present_member_ids)


def _departed(entries: Sequence[Entry], present: Collection[int] | None) -> tuple[int, ...]:
    if present is None:
        return ()
    present_set = present if isinstance(present, set | frozenset) else set(present)
    return tuple(user_id for user_id, _ in entries if user_id not in present_set)


def _already_finished(giveaway: Giveaway) -> str:
    if giveaway.status is GiveawayStatus.CANCELLED:
        return f"Giveaway `{giveaway.giveaway_id}` was cancelled."
    return f"Giveaway `{giveaway.giveaway_id}` has already ended."


async def claim_announcement(giveaway_pk: int, *, now: datetime) -> bool:
    """True for the one caller that should announce this ended giveaway now.

    The announcement is handed out as a lease of `ANNOUNCEMENT_LEASE_SECONDS`:

    * the claim sets `announced_at` (a conditional UPDATE: only when nobody holds a live claim
      and nobody has confirmed), so racing timers, commands and processes get one True;
    * after posting, the announcer calls `confirm_announcement`; a confirmed giveaway is never
      claimed again;
    * if posting fails, the announcer calls `release_announcement` and the next attempt (the
      timer's retry, or the retry a command schedules) claims it again;
    * if the announcer's process dies between the claim and the confirmation, the claim simply
      runs out: the end timer (`follow_up_announcement` keeps it pending until then) claims it
      again once it is older than the lease, and announces.

    So every ended giveaway is announced, across crashes, restarts and several processes. The
    one remaining window is Discord's: a process that dies after Discord accepted the post but
    before the confirmation was written leaves an unconfirmed claim, and the giveaway is
    announced a second time when the lease runs out. That is deliberate: announced twice in that
    rare case rather than never.
    """
    expired_before = now - timedelta(seconds=ANNOUNCEMENT_LEASE_SECONDS)
    claimed = await (
        Giveaway.filter(
            id=giveaway_pk,
            status=GiveawayStatus.ENDED,
            announcement_confirmed_at__isnull=True,
        )
        .filter(Q(announced_at__isnull=True) | Q(announced_at__lte=expired_before))
        .update(announced_at=now)
    )
    return claimed == 1


async def confirm_announcement(giveaway_pk: int, *, now: datetime) -> None:
    """The announcement was posted (or can never be): no claim is handed out any more."""
    await Giveaway.filter(id=giveaway_pk, announcement_confirmed_at__isnull=True).update(
        announcement_confirmed_at=now
    )


async def release_announcement(giveaway_pk: int, *, claimed_at: datetime) -> None:
    """Give back the claim taken at `claimed_at` after posting failed.

    Only that claim: an announcer so slow that its lease ran out and another process claimed
    the announcement must not free the other process's live claim.
    """
    await Giveaway.filter(
        id=giveaway_pk, announced_at=claimed_at, announcement_confirmed_at__isnull=True
    ).update(announced_at=None)


async def follow_up_announcement(giveaway_pk: int, *, now: datetime) -> datetime | None:
    """Keep the end timer pending while someone else's claim on the announcement is unconfirmed.

    Called by the end timer when `claim_announcement` said no. If the announcement is not
    confirmed, the timer is scheduled again for when the current claim's lease runs out (at
    least a second from now), so a claim whose process died is taken back and announced. Returns
    that time, or None when there is nothing to follow up (confirmed, cancelled, deleted).
    """
    giveaway = await Giveaway.get_or_none(id=giveaway_pk)
    if (
        giveaway is None
        or giveaway.status is not GiveawayStatus.ENDED
        or giveaway.announcement_confirmed_at is not None
    ):
        return None
    lease = timedelta(seconds=ANNOUNCEMENT_LEASE_SECONDS)
    # A claim released meanwhile (its post failed) can be taken right away.
    due = now if giveaway.announced_at is None else giveaway.announced_at + lease
    due = max(due, now + timedelta(seconds=1))
    await scheduler.schedule(
        END_KIND,
        due,
        {"giveaway": giveaway_pk},
        guild_id=giveaway.guild_id,  # type: ignore[attr-defined]
        dedupe_key=giveaway.giveaway_id,
    )
    return due


async def schedule_announcement_retry(
    giveaway_pk: int, *, now: datetime, due_in_seconds: int
) -> None:
    """Have the end timer try the announcement again (after a failure outside the timer)."""
    giveaway = await Giveaway.get_or_none(id=giveaway_pk)
    if giveaway is None:
        return
    await scheduler.schedule(
        END_KIND,
        now + timedelta(seconds=due_in_seconds),
        {"giveaway": giveaway_pk},
        guild_id=giveaway.guild_id,  # type: ignore[attr-defined]
        dedupe_key=giveaway.giveaway_id,
    )


async def reroll(
    guild_id: int,
    public_id: str,
    *,
    count: int,
    now: datetime,
    present_member_ids: Collection[int] | None = None,
    by: int | None = None,
) -> tuple[Giveaway, DrawRecord]:
    """Draw `count` more winners, never anyone who already won or (when known) has left."""
    if not 1 <= count <= MAX_WINNERS:
        raise ValidationError(f"You can reroll between 1 and {MAX_WINNERS} winners.")
    giveaway = await get_giveaway(guild_id, public_id)
    async with in_transaction() as conn:
        # Lock the row: two rerolls at once take turns and see each other's winners.
        locked = (
            await Giveaway.filter(id=giveaway.id, status=GiveawayStatus.ENDED)
            .using_db(conn)
            .update(updated_at=now)
        )
        if not locked:
            raise ConflictError(
                f"Giveaway `{giveaway.giveaway_id}` has not ended; only ended giveaways can be "
                "rerolled."
                if giveaway.status is not GiveawayStatus.CANCELLED
                else f"Giveaway `{giveaway.giveaway_id}` was cancelled; there is nothing to reroll."
            )
        giveaway = await Giveaway.get(id=giveaway.id).using_db(conn)
        entries = await sorted_entries(giveaway.id, using_db=conn)
        previous = {int(u) for u in giveaway.winners}
        departed = set(_departed(entries, present_member_ids))
        excluded = tuple(sorted(previous | departed))
        round_no = len(giveaway.draws)
        winners = draw_winners(giveaway.seed, round_no, entries, count, excluded)
        if not winners:
            raise ConflictError(
                "Nobody is left to draw: every entrant has already won or has left the server."
            )
        record = DrawRecord(round_no, count, excluded, tuple(winners), now.isoformat(), by)
        await (
            Giveaway.filter(id=giveaway.id)
            .using_db(conn)
            .update(
                winners=[*giveaway.winners, *winners], draws=[*giveaway.draws, record.to_json()]
            )
        )
        return await Giveaway.get(id=giveaway.id).using_db(conn), record


async def cancel_giveaway(
    guild_id: int, public_id: str, *, now: datetime, by: int | None = None
) -> Giveaway:
    """Stop a scheduled or running giveaway without drawing; its timers are cancelled."""
    giveaway = await get_giveaway(guild_id, public_id)
    async with in_transaction() as conn:
        if by is not None:
            await ensure_user(by, using_db=conn)
        cancelled = (
            await Giveaway.filter(
                id=giveaway.id, status__in=[GiveawayStatus.SCHEDULED, GiveawayStatus.ACTIVE]
            )
            .using_db(conn)
            .update(status=GiveawayStatus.CANCELLED, ended_at=now, cancelled_by_id=by)
        )
        if not cancelled:
            await giveaway.refresh_from_db(using_db=conn)
            raise ConflictError(_already_finished(giveaway))
        await _cancel_timers(giveaway.giveaway_id, conn)
        return await Giveaway.get(id=giveaway.id).using_db(conn)


async def _cancel_timers(public_id: str, conn: BaseDBAsyncClient) -> None:
    await scheduler.cancel(START_KIND, public_id, using_db=conn)
    await scheduler.cancel(END_KIND, public_id, using_db=conn)


# --------------------------------------------------------------------------------------------
# Verifying


async def verify(guild_id: int, public_id: str) -> Verification:
    """Recompute every draw of an ended giveaway from its revealed seed and stored entries."""
    giveaway = await get_giveaway(guild_id, public_id)
    if giveaway.status is not GiveawayStatus.ENDED:
        raise ConflictError(
            f"Giveaway `{giveaway.giveaway_id}` has not ended: its seed is revealed when it ends. "
            f"Its committed seed hash is `{giveaway.seed_hash}`."
        )
    entries = await sorted_entries(giveaway.id)
    return verify_draws(giveaway, entries)


def verify_draws(giveaway: Giveaway, entries: Sequence[Entry]) -> Verification:
    checks: list[DrawCheck] = []
    earlier_winners: set[int] = set()
    for raw in giveaway.draws:
        record = DrawRecord.from_json(raw)
        recomputed = draw_winners(
            giveaway.seed, record.round, entries, record.count, set(record.excluded)
        )
        checks.append(DrawCheck(record, tuple(recomputed), earlier_winners <= set(record.excluded)))
        earlier_winners.update(record.winners)
    return Verification(
        giveaway=giveaway,
        seed_matches=hash_seed(giveaway.seed) == giveaway.seed_hash,
        entries_match=entries_digest(entries) == giveaway.entries_digest,
        draws=tuple(checks),
    )


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())
