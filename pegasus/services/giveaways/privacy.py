"""What giveaways store about a member: their entries, and the giveaways they hosted or won.

Entries in running giveaways are erased (the entry count follows, under the giveaway's row
lock, as when a member leaves). Ended giveaways keep their entries and winners: anyone can
recompute the draw from them, which is what makes it verifiable.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from models.giveaways import Giveaway, GiveawayEntry, GiveawayStatus
from pegasus.i18n import N_
from pegasus.services.privacy import Kept, PrivacyDeclaration, register

RUNNING = (GiveawayStatus.SCHEDULED, GiveawayStatus.ACTIVE)


async def export_giveaways(guild_id: int, user_id: int) -> dict[str, Any]:
    entries = await GiveawayEntry.filter(user_id=user_id, giveaway__guild_id=guild_id).values(
        "giveaway__giveaway_id", "giveaway__prize", "giveaway__status", "entries", "joined_at"
    )
    hosted = await Giveaway.filter(guild_id=guild_id, host_id=user_id).values(
        "giveaway_id", "prize", "status", "created_at"
    )
    cancelled = await Giveaway.filter(guild_id=guild_id, cancelled_by_id=user_id).values(
        "giveaway_id", "prize", "updated_at"
    )
    ended = await Giveaway.filter(guild_id=guild_id, status=GiveawayStatus.ENDED).values(
        "giveaway_id", "prize", "winners", "ended_at"
    )
    won = [
        {"giveaway_id": g["giveaway_id"], "prize": g["prize"], "ended_at": g["ended_at"]}
        for g in ended
        if user_id in (g["winners"] or [])
    ]
    return {"entries": entries, "won": won, "hosted": hosted, "cancelled": cancelled}


async def erase_giveaways(
    guild_id: int, user_id: int, conn: BaseDBAsyncClient
) -> dict[str, int]:
    running = await (
        GiveawayEntry.filter(
            user_id=user_id, giveaway__guild_id=guild_id, giveaway__status__in=RUNNING
        )
        .using_db(conn)
        .values_list("giveaway_id", flat=True)
    )
    removed = 0
    for giveaway_pk in sorted(set(running)):
        # Lock the giveaway row first, as entering does, so the count moves with the entries.
        still_running = await (
            Giveaway.filter(id=giveaway_pk, status__in=RUNNING)
            .using_db(conn)
            .update(entry_count=F("entry_count"))
        )
        if not still_running:
            continue
        gone = await (
            GiveawayEntry.filter(giveaway_id=giveaway_pk, user_id=user_id).using_db(conn).delete()
        )
        if gone:
            await (
                Giveaway.filter(id=giveaway_pk)
                .using_db(conn)
                .update(entry_count=F("entry_count") - gone)
            )
            removed += gone
    return {N_("entries in running giveaways"): removed}


DECLARATION = register(
    PrivacyDeclaration(
        feature="giveaways",
        explanation=N_(
            "The giveaways you entered (with your number of entries), the ones you won, and the "
            "ones you hosted or cancelled."
        ),
        covers=(
            (GiveawayEntry, ("user",)),
            (Giveaway, ("host", "cancelled_by", "winners")),
        ),
        export=export_giveaways,
        erase=erase_giveaways,
        erased=(N_("your entries in running giveaways"),),
        kept=(
            Kept(
                N_("your entries and wins in ended giveaways, and giveaways you hosted"),
                N_("anyone must be able to check an ended draw against its entries"),
                ("giveaway_entries", "giveaways"),
                partly=True,
            ),
        ),
    )
)
