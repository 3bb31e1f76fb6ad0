"""Finding giveaways and their entry lists."""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from models.giveaways import Giveaway, GiveawayEntry, GiveawayStatus
from models.ids import normalize_public_id
from pegasus.services import ids

from .results import Entry, GiveawayInfo


async def get_giveaway(guild_id: int, public_id: str) -> GiveawayInfo:
    """The giveaway `public_id` (as typed: case and spacing do not matter) of this server."""
    normalized = ids.GIVEAWAY.parse(public_id)
    giveaway = await Giveaway.get_or_none(guild_id=guild_id, giveaway_id=normalized)
    if giveaway is None:
        raise ids.GIVEAWAY.not_found(public_id)
    return GiveawayInfo.from_row(giveaway)


async def giveaway_by_pk(
    giveaway_pk: int, *, using_db: BaseDBAsyncClient | None = None
) -> GiveawayInfo | None:
    row = await Giveaway.get_or_none(id=giveaway_pk).using_db(using_db)
    return GiveawayInfo.from_row(row) if row is not None else None


async def suggest_giveaways(
    guild_id: int, typed: str, *, limit: int = 25
) -> list[GiveawayInfo]:
    """Giveaways whose id or prize contains what was typed, newest first (for autocomplete)."""
    query = Giveaway.filter(guild_id=guild_id)
    typed = ids.searchable(typed).strip()
    if typed:
        query = query.filter(
            Q(giveaway_id__icontains=normalize_public_id(typed)) | Q(prize__icontains=typed)
        )
    rows = await query.order_by("-created_at", "-id").limit(limit)
    return [GiveawayInfo.from_row(row) for row in rows]


async def list_giveaways(
    guild_id: int, status: GiveawayStatus | None = None, *, limit: int = 25
) -> list[GiveawayInfo]:
    """Newest first."""
    query = Giveaway.filter(guild_id=guild_id)
    if status is not None:
        query = query.filter(status=status)
    rows = await query.order_by("-created_at", "-id").limit(limit)
    return [GiveawayInfo.from_row(row) for row in rows]


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


async def list_entries(guild_id: int, public_id: str) -> tuple[GiveawayInfo, list[Entry]]:
    giveaway = await get_giveaway(guild_id, public_id)
    return giveaway, await sorted_entries(giveaway.id)


async def member_entries(
    guild_id: int, user_id: int, *, limit: int = 50
) -> list[tuple[GiveawayInfo, int, datetime]]:
    """The giveaways of this server the member entered, newest entry first: (giveaway, the
    member's weight, when they entered). Whether they won is `user_id in giveaway.winners`."""
    rows = await (
        GiveawayEntry.filter(giveaway__guild_id=guild_id, user_id=user_id)
        .select_related("giveaway")
        .order_by("-joined_at", "-id")
        .limit(limit)
    )
    return [(GiveawayInfo.from_row(row.giveaway), row.entries, row.joined_at) for row in rows]


async def entry_page(
    guild_id: int, public_id: str, *, after_user_id: int | None = None, limit: int = 50
) -> tuple[GiveawayInfo, list[tuple[int, int, datetime]], bool]:
    """One page of a giveaway's entrants, by user id as the entry list of the draw is sorted:
    (user id, weight, when they entered), after `after_user_id`, and whether more follow."""
    giveaway = await get_giveaway(guild_id, public_id)
    query = GiveawayEntry.filter(giveaway_id=giveaway.id)
    if after_user_id is not None:
        query = query.filter(user_id__gt=after_user_id)
    rows = await query.order_by("user_id").limit(limit + 1).values_list(
        "user_id", "entries", "joined_at"
    )
    found = [(int(user_id), int(weight), joined) for user_id, weight, joined in rows]
    return giveaway, found[:limit], len(found) > limit
