"""A giveaway's life: created (seed committed, timers set), started, ended exactly once with its
draw, rerolled, or cancelled.

A giveaway is `scheduled` (posted, entries not open yet), then `active`, then `ended` or
`cancelled`. Every move is a conditional UPDATE on the status (`... WHERE status = 'active'`), so
a manual `/giveaway end` racing the timer, a restart or two processes end a giveaway exactly once;
whoever wins the UPDATE draws the winners in the same transaction.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.giveaways import Giveaway, GiveawayStatus
from models.ids import new_public_id
from pegasus import scheduler
from pegasus.errors import ConflictError, ValidationError
from pegasus.i18n import N_, _, format_number
from pegasus.services.directory import ensure_guild, ensure_user

from .draw import draw_winners, entries_digest, hash_seed, new_seed
from .lookup import get_giveaway, giveaway_by_pk, sorted_entries
from .results import (
    BonusEntries,
    DrawRecord,
    Entry,
    GiveawayDraft,
    GiveawayInfo,
    Requirements,
)

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


def _validate_draft(draft: GiveawayDraft) -> None:
    prize = draft.prize.strip()
    if not prize:
        raise ValidationError(_("The prize cannot be empty."))
    if len(prize) > MAX_PRIZE_LENGTH:
        raise ValidationError(
            _("The prize can be at most {limit} characters.").format(limit=MAX_PRIZE_LENGTH)
        )
    if draft.description and len(draft.description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationError(
            _("The description can be at most {limit} characters.").format(
                limit=format_number(MAX_DESCRIPTION_LENGTH)
            )
        )
    if not 1 <= draft.winner_count <= MAX_WINNERS:
        raise ValidationError(
            _("The number of winners must be between 1 and {limit}.").format(limit=MAX_WINNERS)
        )
    if not MIN_DURATION_SECONDS <= draft.duration_seconds <= MAX_DURATION_SECONDS:
        raise ValidationError(
            _("A giveaway lasts between {seconds} seconds and {days} days.").format(
                seconds=MIN_DURATION_SECONDS, days=MAX_DURATION_SECONDS // 86400
            )
        )
    if not 0 <= draft.starts_in_seconds <= MAX_START_DELAY_SECONDS:
        raise ValidationError(
            _("A giveaway can start at most {days} days from now.").format(
                days=MAX_START_DELAY_SECONDS // 86400
            )
        )
    _validate_requirements(draft.requirements)
    _validate_bonus(draft.bonus)
    # The @everyone role has the server's id: a requirement or bonus everyone meets.
    if draft.guild_id in draft.requirements.role_ids:
        raise ValidationError(_("Everyone has @everyone; pick another required role."))
    if any(role_id == draft.guild_id for role_id, _extra in draft.bonus.roles):
        raise ValidationError(_("Everyone has @everyone; pick another bonus role."))


def _validate_requirements(req: Requirements) -> None:
    if req.min_level is not None and not 0 <= req.min_level <= MAX_LEVEL:
        raise ValidationError(
            _("The minimum level must be between 0 and {limit}.").format(
                limit=format_number(MAX_LEVEL)
            )
        )
    for refusal, days in (
        (
            N_("The minimum account age must be between 0 and {limit} days."),
            req.min_account_age_days,
        ),
        (
            N_("The minimum server age must be between 0 and {limit} days."),
            req.min_server_age_days,
        ),
    ):
        if days is not None and not 0 <= days <= MAX_AGE_DAYS:
            raise ValidationError(_(refusal).format(limit=format_number(MAX_AGE_DAYS)))


def _validate_bonus(bonus: BonusEntries) -> None:
    for _role_id, extra in bonus.roles:
        if not 0 <= extra <= MAX_BONUS_ENTRIES:
            raise ValidationError(
                _("Bonus entries must be between 0 and {limit}.").format(limit=MAX_BONUS_ENTRIES)
            )
    if not 0 <= bonus.booster <= MAX_BONUS_ENTRIES:
        raise ValidationError(
            _("Booster bonus entries must be between 0 and {limit}.").format(
                limit=MAX_BONUS_ENTRIES
            )
        )


async def create_giveaway(
    draft: GiveawayDraft, *, now: datetime, rng: random.Random | None = None
) -> GiveawayInfo:
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
            row = await _insert_giveaway(draft, seed, status, starts_at, ends_at, rng)
            return GiveawayInfo.from_row(row)
        except IntegrityError:
            # The only unique column we choose is the public id; draw another one.
            if attempt == 4:
                raise
    unreachable = "unreachable"  # for developers
    raise AssertionError(unreachable)


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


async def start_giveaway(giveaway_pk: int) -> GiveawayInfo | None:
    """Open a scheduled giveaway for entries. None if it was not scheduled (already started,
    cancelled, or a repeated timer)."""
    opened = await Giveaway.filter(id=giveaway_pk, status=GiveawayStatus.SCHEDULED).update(
        status=GiveawayStatus.ACTIVE
    )
    return await giveaway_by_pk(giveaway_pk) if opened else None


async def delete_unposted(giveaway_pk: int) -> None:
    """Remove a giveaway whose message could not be posted, with its timers."""
    async with in_transaction() as conn:
        giveaway = await Giveaway.get_or_none(id=giveaway_pk).using_db(conn)
        if giveaway is None:
            return
        await cancel_timers(giveaway.giveaway_id, conn)
        await giveaway.delete(using_db=conn)


async def end_giveaway(
    giveaway_pk: int,
    *,
    now: datetime,
    present_member_ids: Collection[int] | None = None,
    by: int | None = None,
    backstop: timedelta | None = None,
) -> GiveawayInfo | None:
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
        return await giveaway_by_pk(giveaway_pk, using_db=conn)


def check_can_end(giveaway: GiveawayInfo) -> None:
    """Refuse ending a giveaway that is not running, saying why (asked before queueing)."""
    if giveaway.status is GiveawayStatus.SCHEDULED:
        raise ConflictError(
            _("Giveaway `{giveaway}` has not started yet; cancel it instead.").format(
                giveaway=giveaway.giveaway_id
            )
        )
    if giveaway.status is not GiveawayStatus.ACTIVE:
        raise ConflictError(_already_finished(giveaway))


def check_can_reroll(giveaway: GiveawayInfo) -> None:
    """Refuse rerolling a giveaway that has not ended, saying why (asked before queueing)."""
    if giveaway.status is GiveawayStatus.CANCELLED:
        raise ConflictError(
            _("Giveaway `{giveaway}` was cancelled; there is nothing to reroll.").format(
                giveaway=giveaway.giveaway_id
            )
        )
    if giveaway.status is not GiveawayStatus.ENDED:
        raise ConflictError(
            _("Giveaway `{giveaway}` has not ended; only ended giveaways can be rerolled.").format(
                giveaway=giveaway.giveaway_id
            )
        )


def check_can_cancel(giveaway: GiveawayInfo) -> None:
    """Refuse cancelling a giveaway that is over, saying why (asked before confirming)."""
    if giveaway.status is GiveawayStatus.ENDED:
        raise ConflictError(
            _("Giveaway `{giveaway}` has already ended.").format(giveaway=giveaway.giveaway_id)
        )
    if giveaway.status is GiveawayStatus.CANCELLED:
        raise ConflictError(
            _("Giveaway `{giveaway}` was already cancelled.").format(giveaway=giveaway.giveaway_id)
        )


async def end_now(
    guild_id: int,
    public_id: str,
    *,
    now: datetime,
    present_member_ids: Collection[int] | None = None,
    by: int | None = None,
) -> GiveawayInfo:
    """`/giveaway end`: end it now; a clear refusal if it is not running."""
    giveaway = await get_giveaway(guild_id, public_id)
    if giveaway.status is GiveawayStatus.SCHEDULED:
        check_can_end(giveaway)
    ended = await end_giveaway(
        giveaway.id,
        now=now,
        present_member_ids=present_member_ids,
        by=by,
        backstop=timedelta(seconds=ANNOUNCEMENT_BACKSTOP_SECONDS),
    )
    if ended is None:
        now_stored = await giveaway_by_pk(giveaway.id)
        raise ConflictError(_already_finished(now_stored or giveaway))
    return ended


async def end_due(
    giveaway_pk: int, *, now: datetime, present_member_ids: Collection[int] | None = None
) -> GiveawayInfo | None:
    """The end timer: a scheduled giveaway whose start timer has not run yet is opened first."""
    await start_giveaway(giveaway_pk)
    return await end_giveaway(giveaway_pk, now=now, present_member_ids=present_member_ids)


def _departed(entries: Sequence[Entry], present: Collection[int] | None) -> tuple[int, ...]:
    if present is None:
        return ()
    present_set = present if isinstance(present, set | frozenset) else set(present)
    return tuple(user_id for user_id, _weight in entries if user_id not in present_set)


def _already_finished(giveaway: GiveawayInfo) -> str:
    if giveaway.status is GiveawayStatus.CANCELLED:
        return _("Giveaway `{giveaway}` was cancelled.").format(giveaway=giveaway.giveaway_id)
    return _("Giveaway `{giveaway}` has already ended.").format(giveaway=giveaway.giveaway_id)


async def reroll(
    guild_id: int,
    public_id: str,
    *,
    count: int,
    now: datetime,
    present_member_ids: Collection[int] | None = None,
    by: int | None = None,
) -> tuple[GiveawayInfo, DrawRecord]:
    """Draw `count` more winners, never anyone who already won or (when known) has left."""
    if not 1 <= count <= MAX_WINNERS:
        raise ValidationError(
            _("You can reroll between 1 and {limit} winners.").format(limit=MAX_WINNERS)
        )
    giveaway = await get_giveaway(guild_id, public_id)
    async with in_transaction() as conn:
        # Lock the row: two rerolls at once take turns and see each other's winners.
        locked = (
            await Giveaway.filter(id=giveaway.id, status=GiveawayStatus.ENDED)
            .using_db(conn)
            .update(updated_at=now)
        )
        if not locked:
            check_can_reroll(await giveaway_by_pk(giveaway.id, using_db=conn) or giveaway)
            problem = "an ended giveaway is always locked"  # for developers
            raise AssertionError(problem)
        row = await Giveaway.get(id=giveaway.id).using_db(conn)
        entries = await sorted_entries(row.id, using_db=conn)
        previous = {int(u) for u in row.winners}
        departed = set(_departed(entries, present_member_ids))
        excluded = tuple(sorted(previous | departed))
        round_no = len(row.draws)
        winners = draw_winners(row.seed, round_no, entries, count, excluded)
        if not winners:
            raise ConflictError(
                _("Nobody is left to draw: every entrant has already won or has left the server.")
            )
        record = DrawRecord(round_no, count, excluded, tuple(winners), now.isoformat(), by)
        await (
            Giveaway.filter(id=row.id)
            .using_db(conn)
            .update(winners=[*row.winners, *winners], draws=[*row.draws, record.to_json()])
        )
        rerolled = await giveaway_by_pk(row.id, using_db=conn)
        assert rerolled is not None
        return rerolled, record


async def cancel_giveaway(
    guild_id: int, public_id: str, *, now: datetime, by: int | None = None
) -> GiveawayInfo:
    """Stop a scheduled or running giveaway without drawing; its timers are cancelled."""
    giveaway = await get_giveaway(guild_id, public_id)
    check_can_cancel(giveaway)
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
            now_stored = await giveaway_by_pk(giveaway.id, using_db=conn)
            raise ConflictError(_already_finished(now_stored or giveaway))
        await cancel_timers(giveaway.giveaway_id, conn)
        stopped = await giveaway_by_pk(giveaway.id, using_db=conn)
        assert stopped is not None
        return stopped


async def cancel_timers(public_id: str, conn: BaseDBAsyncClient) -> None:
    await scheduler.cancel(START_KIND, public_id, using_db=conn)
    await scheduler.cancel(END_KIND, public_id, using_db=conn)
