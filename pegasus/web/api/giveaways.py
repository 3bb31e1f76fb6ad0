"""Giveaways over HTTP: list, read, create, end, reroll, cancel, the entries file and the check
of every draw.

The same service functions as `/giveaway`, so the same refusals. What needs Discord is queued
for the bot process that owns the server (202 with the job's URL): posting a new giveaway's
message (the giveaway and its start and end timers are stored at once; if Discord refuses the
post, the giveaway is removed, as `/giveaway start` does), ending it and rerolling. The seed of
the draw is revealed only once a giveaway has ended; until then every answer carries its
committed hash only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.giveaways import Giveaway, GiveawayStatus
from pegasus.errors import ValidationError
from pegasus.services import giveaways as service
from pegasus.services.giveaways import GiveawayInfo
from pegasus.services.ids import check_snowflake
from pegasus.web import jobs
from pegasus.web.api.jobs import JobInfo
from pegasus.web.api.tickets import queued
from pegasus.web.pagination import keyset_page
from pegasus.web.routes import Call, Page, Param, Reply, Routes

__all__ = ["routes"]

routes = Routes("giveaways", "Giveaways with requirements, bonus entries and a verifiable draw.")

GIVEAWAYS = "/guilds/{guild_id}/giveaways"
GIVEAWAY = GIVEAWAYS + "/{giveaway_id}"
GIVEAWAY_ID = Param(
    "giveaway_id", str, "The giveaway's id, e.g. G-7K2QX.", location="path", required=True
)


@dataclass(frozen=True)
class GiveawayBody:
    """A new giveaway, as `/giveaway start` takes it (durations in seconds)."""

    channel_id: int = field(metadata={"description": "The text channel to post it in."})
    prize: str
    winners: int = field(metadata={"description": "How many winners to draw (1-50)."})
    duration_seconds: int = field(
        metadata={"description": "How long entries stay open (10 seconds to 90 days)."}
    )
    description: str | None = None
    starts_in_seconds: int = field(
        default=0, metadata={"description": "Open entries this much later (0: now)."}
    )
    required_role_id: int | None = field(
        default=None, metadata={"description": "Only members with this role may enter."}
    )
    min_level: int | None = None
    min_account_age_days: int | None = None
    min_server_age_days: int | None = None
    bonus_role_id: int | None = field(
        default=None, metadata={"description": "Members with this role get bonus entries."}
    )
    bonus_entries: int | None = field(
        default=None, metadata={"description": "Extra entries the bonus role gives (default 1)."}
    )
    booster_bonus: int | None = field(
        default=None, metadata={"description": "Extra entries for members who boost the server."}
    )


@dataclass(frozen=True)
class RerollBody:
    count: int = field(default=1, metadata={"description": "How many new winners (1-50)."})


@dataclass(frozen=True)
class QueuedGiveaway:
    """The stored giveaway, and the job that posts its message."""

    giveaway: GiveawayInfo
    job: JobInfo


def _draft(call: Call, body: GiveawayBody) -> service.GiveawayDraft:
    if body.bonus_entries is not None and body.bonus_role_id is None:
        raise ValidationError("Give a `bonus_role_id` to go with `bonus_entries`.")
    required = body.required_role_id
    bonus = body.bonus_role_id
    return service.GiveawayDraft(
        guild_id=call.guild_id,
        channel_id=check_snowflake(body.channel_id, what="a channel id"),
        host_id=call.actor_id,
        prize=body.prize,
        winner_count=body.winners,
        duration_seconds=body.duration_seconds,
        description=body.description,
        starts_in_seconds=body.starts_in_seconds,
        requirements=service.Requirements(
            role_ids=(check_snowflake(required, what="a role id"),) if required else (),
            min_level=body.min_level,
            min_account_age_days=body.min_account_age_days,
            min_server_age_days=body.min_server_age_days,
        ),
        bonus=service.BonusEntries(
            roles=((check_snowflake(bonus, what="a role id"), body.bonus_entries or 1),)
            if bonus
            else (),
            booster=body.booster_bonus or 0,
        ),
    )


@routes.get(
    GIVEAWAYS,
    scope="giveaways:read",
    summary="List giveaways",
    params=[Param("status", str, "Only giveaways in this state: "
                  + ", ".join(status.value for status in GiveawayStatus) + ".")],
    response=GiveawayInfo,
    paginated=True,
)
async def list_giveaways(call: Call) -> Page[GiveawayInfo]:
    """Newest first. `seed` is null until a giveaway has ended."""
    query = Giveaway.filter(guild_id=call.guild_id)
    status = call.param("status")
    if status is not None:
        if status not in {member.value for member in GiveawayStatus}:
            raise ValidationError(
                "The status parameter is one of "
                + ", ".join(member.value for member in GiveawayStatus) + "."
            )
        query = query.filter(status=status)
    return await keyset_page(
        call, query, order=("-created_at", "-id"), item=GiveawayInfo.from_row
    )


@routes.post(
    GIVEAWAYS,
    scope="giveaways:write",
    summary="Create a giveaway",
    body=GiveawayBody,
    response=QueuedGiveaway,
    status=202,
    idempotent=True,
)
async def create_giveaway(call: Call) -> Reply:
    """Stored with its committed seed hash and its start and end timers; its message is posted
    by the bot (the job). If Discord refuses the post, the giveaway is removed and the job
    says why."""
    giveaway = await service.create_giveaway(_draft(call, call.body), now=call.now)
    job = await jobs.enqueue_giveaway_post(
        call.guild_id, giveaway.giveaway_id, actor_id=call.actor_id, now=call.now
    )
    answer = queued(job)
    return Reply(QueuedGiveaway(giveaway, answer.value), status=202, headers=answer.headers)


@routes.get(GIVEAWAY, scope="giveaways:read", summary="Read a giveaway", params=[GIVEAWAY_ID],
            response=GiveawayInfo)
async def get_giveaway(call: Call) -> GiveawayInfo:
    """`seed` is null until it has ended; `seed_hash` is its commitment."""
    return await service.get_giveaway(call.guild_id, call.param("giveaway_id"))


@routes.post(GIVEAWAY + "/end", scope="giveaways:write", summary="End a giveaway now",
             params=[GIVEAWAY_ID], response=JobInfo, status=202)
async def end_giveaway(call: Call) -> Reply:
    """Queued for the bot (202), which draws and announces the winners; the job's result
    names them."""
    return queued(
        await jobs.enqueue_giveaway_end(
            call.guild_id, call.param("giveaway_id"), actor_id=call.actor_id, now=call.now
        )
    )


@routes.post(
    GIVEAWAY + "/reroll",
    scope="giveaways:write",
    summary="Draw more winners of an ended giveaway",
    params=[GIVEAWAY_ID],
    body=RerollBody,
    response=JobInfo,
    status=202,
)
async def reroll_giveaway(call: Call) -> Reply:
    """Never an earlier winner nor (when the bot knows) a member who left. Queued for the bot
    (202), which announces them."""
    body: RerollBody = call.body
    return queued(
        await jobs.enqueue_giveaway_reroll(
            call.guild_id,
            call.param("giveaway_id"),
            body.count,
            actor_id=call.actor_id,
            now=call.now,
        )
    )


@routes.post(GIVEAWAY + "/cancel", scope="giveaways:write",
             summary="Cancel a giveaway without drawing", params=[GIVEAWAY_ID],
             response=GiveawayInfo)
async def cancel_giveaway(call: Call) -> GiveawayInfo:
    """Nobody wins; its timers are cancelled, and the bot takes the Enter button off its
    message (a queued job)."""
    cancelled = await service.cancel_giveaway(
        call.guild_id, call.param("giveaway_id"), now=call.now, by=call.actor_id
    )
    await jobs.enqueue_giveaway_refresh(
        call.guild_id, cancelled.giveaway_id, actor_id=call.actor_id, now=call.now
    )
    return cancelled


@routes.get(
    GIVEAWAY + "/entries",
    scope="giveaways:read",
    summary="Download the entry list of the draw",
    params=[GIVEAWAY_ID],
    response=str,
    media_type="text/plain",
)
async def get_giveaway_entries(call: Call) -> Reply:
    """One line `user id:weight` per entrant, sorted by user id: byte for byte what the stored
    entry digest hashes (SHA-256), as `/giveaway entries` gives it."""
    giveaway, entries = await service.list_entries(call.guild_id, call.param("giveaway_id"))
    text = "".join(f"{user_id}:{weight}\n" for user_id, weight in entries)
    disposition = f'attachment; filename="{giveaway.giveaway_id}-entries.txt"'
    return Reply(text, headers={"Content-Disposition": disposition})


@dataclass(frozen=True)
class DrawReport:
    """One stored draw and its recomputation."""

    round: int  # 0 at the end, then 1, 2, ... for rerolls
    count: int
    excluded: list[int]
    winners: list[int]  # as stored
    recomputed: list[int]  # from the seed and the entry list
    excludes_previous_winners: bool
    ok: bool


@dataclass(frozen=True)
class VerificationReport:
    """Every draw of an ended giveaway recomputed from its revealed seed and stored entries."""

    giveaway_id: str
    ok: bool  # the seed, the entries and every draw match
    seed: str
    seed_hash: str
    seed_matches: bool  # SHA-256 of the seed is the hash published from the start
    entries_digest: str | None
    entries_match: bool  # SHA-256 of the entries file is the stored digest
    draws: list[DrawReport]


@routes.get(GIVEAWAY + "/verify", scope="giveaways:read",
            summary="Recompute every draw of an ended giveaway", params=[GIVEAWAY_ID],
            response=VerificationReport)
async def verify_giveaway(call: Call) -> VerificationReport:
    """From the revealed seed and the stored entries, as `/giveaway verify` does; refused
    (409) before the end, while the seed is secret."""
    result = await service.verify(call.guild_id, call.param("giveaway_id"))
    giveaway = result.giveaway
    assert giveaway.seed is not None  # verify refuses a giveaway that has not ended
    return VerificationReport(
        giveaway_id=giveaway.giveaway_id,
        ok=result.ok,
        seed=giveaway.seed,
        seed_hash=giveaway.seed_hash,
        seed_matches=result.seed_matches,
        entries_digest=giveaway.entries_digest,
        entries_match=result.entries_match,
        draws=[
            DrawReport(
                round=check.record.round,
                count=check.record.count,
                excluded=list(check.record.excluded),
                winners=list(check.record.winners),
                recomputed=list(check.recomputed),
                excludes_previous_winners=check.excludes_previous_winners,
                ok=check.ok,
            )
            for check in result.draws
        ],
    )
