"""Entering and leaving a giveaway: requirements, bonus entries, and members who leave.

Entering and leaving lock the giveaway row first (an UPDATE that also checks that it is still
open), so no entry slips in after the winners were drawn, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.giveaways import Giveaway, GiveawayEntry, GiveawayStatus
from models.levels import UserXP
from pegasus.errors import ConflictError, NotFoundError, Ref, role_ref, time_ref
from pegasus.i18n import _, format_number, ngettext
from pegasus.services.directory import ensure_user

from .results import Entrant, EntryResult, GiveawayInfo, RequirementNotMet


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
        giveaway = GiveawayInfo.from_row(await Giveaway.get(id=giveaway_pk).using_db(conn))
        await check_requirements(giveaway, entrant, now=now, using_db=conn)
        weight = giveaway.bonus_entries.weight_for(entrant.role_ids, entrant.is_booster)
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
        raise NotFoundError(_("This giveaway no longer exists."))
    if giveaway.status is GiveawayStatus.SCHEDULED:
        raise ConflictError(
            _("This giveaway has not started yet: entries open {opens}."),
            opens=time_ref(giveaway.starts_at),
        )
    if giveaway.status is GiveawayStatus.CANCELLED:
        raise ConflictError(_("This giveaway was cancelled."))
    raise ConflictError(_("This giveaway has ended; entries are closed."))


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
    giveaway: GiveawayInfo,
    entrant: Entrant,
    *,
    now: datetime,
    using_db: BaseDBAsyncClient | None = None,
) -> None:
    """Raise RequirementNotMet naming the first requirement the member does not meet."""
    req = giveaway.requirements
    missing = [role_id for role_id in req.role_ids if role_id not in entrant.role_ids]
    if missing:
        refs = {f"role{index}": role_ref(role_id) for index, role_id in enumerate(missing)}
        roles = ", ".join(f"{{{name}}}" for name in refs)
        raise RequirementNotMet(
            _("You need the role {roles} to enter this giveaway.").format(roles=roles), **refs
        )
    if req.min_account_age_days:
        ready = _ready_at(entrant.account_created_at, req.min_account_age_days)
        if ready is None or ready > now:
            if ready is None:
                refusal = _(
                    "Your Discord account must be at least {days} old to enter this giveaway."
                )
            else:
                refusal = _(
                    "Your Discord account must be at least {days} old to enter this giveaway "
                    "(it will be {ready})."
                )
            raise RequirementNotMet(
                refusal.format(days=_days(req.min_account_age_days), ready="{ready}"),
                **_ready_ref(ready),
            )
    if req.min_server_age_days:
        ready = _ready_at(entrant.joined_at, req.min_server_age_days)
        if ready is None or ready > now:
            if ready is None:
                refusal = _(
                    "You must have been in this server for at least {days} to enter this giveaway."
                )
            else:
                refusal = _(
                    "You must have been in this server for at least {days} to enter this "
                    "giveaway (you will have {ready})."
                )
            raise RequirementNotMet(
                refusal.format(days=_days(req.min_server_age_days), ready="{ready}"),
                **_ready_ref(ready),
            )
    if req.min_level:
        level = await member_level(giveaway.guild_id, entrant.user_id, using_db=using_db)
        if level < req.min_level:
            raise RequirementNotMet(
                _(
                    "You need level {required} to enter this giveaway; you are level {level}."
                ).format(required=format_number(req.min_level), level=format_number(level))
            )


def _ready_at(since: datetime | None, days: int) -> datetime | None:
    # Unknown dates (Discord did not say) count as not old enough: refuse rather than let through.
    return None if since is None else since + timedelta(days=days)


def _days(days: int) -> str:
    return ngettext("{count} day", "{count} days", days).format(count=format_number(days))


def _ready_ref(ready: datetime | None) -> dict[str, Ref]:
    return {} if ready is None else {"ready": time_ref(ready)}


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
