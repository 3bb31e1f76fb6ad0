"""Giveaway service on a real database: entries, requirements, exactly-once endings, rerolls,
cancelling and verification. Run on both dialects (PEGASUS_TEST_DB=sqlite|postgres)."""

from __future__ import annotations

import asyncio
import hashlib
import random
from datetime import UTC, datetime, timedelta

import pytest

from models.giveaways import Giveaway, GiveawayEntry, GiveawayStatus
from models.levels import UserXP
from models.scheduling import ActionStatus, ScheduledAction
from pegasus.errors import ConflictError, NotFoundError, ValidationError
from pegasus.services import giveaways as svc
from pegasus.services.directory import ensure_member

pytestmark = pytest.mark.usefixtures("db")

GUILD = 1_000_000_000_000_001
CHANNEL = 2_000_000_000_000_002
HOST = 3_000_000_000_000_003
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
VIP = 5_000_000_000_000_005
BOOSTER_ROLE = 5_000_000_000_000_006


def draft(**overrides: object) -> svc.GiveawayDraft:
    values: dict[str, object] = {
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "host_id": HOST,
        "prize": "Nitro",
        "winner_count": 1,
        "duration_seconds": 3600,
    }
    values.update(overrides)
    return svc.GiveawayDraft(**values)  # type: ignore[arg-type]


async def new_giveaway(seed: int = 1, **overrides: object) -> Giveaway:
    return await svc.create_giveaway(draft(**overrides), now=NOW, rng=random.Random(seed))


def person(user_id: int, *roles: int, booster: bool = False) -> svc.Entrant:
    return svc.Entrant(
        user_id=user_id,
        role_ids=frozenset(roles),
        is_booster=booster,
        account_created_at=OLD,
        joined_at=OLD,
    )


async def enter_all(giveaway: Giveaway, user_ids: range | list[int]) -> None:
    for user_id in user_ids:
        result = await svc.toggle_entry(giveaway.id, person(user_id), now=NOW)
        assert result.entered


# --------------------------------------------------------------------------------------------
# Creating


async def test_create_commits_a_seed_and_schedules_the_end() -> None:
    giveaway = await new_giveaway()
    assert giveaway.status is GiveawayStatus.ACTIVE
    assert giveaway.giveaway_id.startswith("G-") and len(giveaway.giveaway_id) == 7
    # Only the commitment leaves the service while it runs; the seed is stored, secret.
    assert giveaway.seed is None
    seed = (await Giveaway.get(id=giveaway.id)).seed
    assert giveaway.seed_hash == hashlib.sha256(seed.encode()).hexdigest()
    assert giveaway.ends_at == NOW + timedelta(hours=1)
    timers = await ScheduledAction.filter(dedupe_key=giveaway.giveaway_id).order_by("kind")
    assert [(t.kind, t.due_at, t.payload) for t in timers] == [
        (svc.END_KIND, giveaway.ends_at, {"giveaway": giveaway.id})
    ]


async def test_a_later_start_is_scheduled_too() -> None:
    giveaway = await new_giveaway(starts_in_seconds=600)
    assert giveaway.status is GiveawayStatus.SCHEDULED
    assert giveaway.starts_at == NOW + timedelta(minutes=10)
    assert giveaway.ends_at == NOW + timedelta(minutes=70)
    kinds = await ScheduledAction.filter(dedupe_key=giveaway.giveaway_id).values_list(
        "kind", "due_at"
    )
    assert sorted(kinds) == [
        (svc.END_KIND, giveaway.ends_at),
        (svc.START_KIND, giveaway.starts_at),
    ]
    with pytest.raises(ConflictError, match="has not started yet"):
        await svc.toggle_entry(giveaway.id, person(7), now=NOW)
    opened = await svc.start_giveaway(giveaway.id)
    assert opened is not None and opened.status is GiveawayStatus.ACTIVE
    assert await svc.start_giveaway(giveaway.id) is None  # a repeated timer does nothing
    assert (await svc.toggle_entry(giveaway.id, person(7), now=NOW)).entered


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"prize": "   "}, "prize cannot be empty"),
        ({"winner_count": 0}, "between 1 and 50"),
        ({"winner_count": 51}, "between 1 and 50"),
        ({"duration_seconds": 5}, "lasts between"),
        ({"starts_in_seconds": 400 * 86400}, "at most 90 days"),
        ({"bonus": svc.BonusEntries(roles=((VIP, 101),))}, "Bonus entries"),
        ({"requirements": svc.Requirements(min_level=-1)}, "minimum level"),
    ],
)
async def test_invalid_giveaways_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        await new_giveaway(**overrides)
    assert await Giveaway.all().count() == 0


# --------------------------------------------------------------------------------------------
# Entering and leaving


async def test_enter_with_bonus_entries_then_leave() -> None:
    bonus = svc.BonusEntries(roles=((VIP, 2),), booster=3)
    giveaway = await new_giveaway(bonus=bonus)
    plain = await svc.toggle_entry(giveaway.id, person(10), now=NOW)
    vip = await svc.toggle_entry(giveaway.id, person(11, VIP), now=NOW)
    both = await svc.toggle_entry(giveaway.id, person(12, VIP, booster=True), now=NOW)
    assert (plain.weight, vip.weight, both.weight) == (1, 3, 6)
    assert both.entry_count == 3
    assert await svc.sorted_entries(giveaway.id) == [(10, 1), (11, 3), (12, 6)]

    left = await svc.toggle_entry(giveaway.id, person(11, VIP), now=NOW)
    assert not left.entered and left.entry_count == 2
    assert await svc.sorted_entries(giveaway.id) == [(10, 1), (12, 6)]
    assert (await Giveaway.get(id=giveaway.id)).entry_count == 2


async def test_entries_close_at_the_end_time_even_before_the_timer_runs() -> None:
    giveaway = await new_giveaway()
    with pytest.raises(ConflictError, match="has ended"):
        await svc.toggle_entry(giveaway.id, person(10), now=giveaway.ends_at)


async def test_unknown_giveaway_button() -> None:
    with pytest.raises(NotFoundError):
        await svc.toggle_entry(987654, person(10), now=NOW)


async def test_concurrent_clicks_keep_the_count_exact() -> None:
    giveaway = await new_giveaway()
    users = list(range(100, 140))
    await asyncio.gather(*(svc.toggle_entry(giveaway.id, person(u), now=NOW) for u in users))
    # Half of them click again (leave), concurrently with the rest clicking nothing.
    await asyncio.gather(*(svc.toggle_entry(giveaway.id, person(u), now=NOW) for u in users[:20]))
    stored = await Giveaway.get(id=giveaway.id)
    assert stored.entry_count == 20 == await GiveawayEntry.filter(giveaway_id=giveaway.id).count()


# --------------------------------------------------------------------------------------------
# Requirements: each refusal names what is missing


async def test_required_role() -> None:
    giveaway = await new_giveaway(requirements=svc.Requirements(role_ids=(VIP,)))
    with pytest.raises(svc.RequirementNotMet, match=f"You need the role <@&{VIP}>"):
        await svc.toggle_entry(giveaway.id, person(10), now=NOW)
    assert (await svc.toggle_entry(giveaway.id, person(10, VIP), now=NOW)).entered
    assert (await Giveaway.get(id=giveaway.id)).entry_count == 1


async def test_min_level_reads_user_xp() -> None:
    giveaway = await new_giveaway(requirements=svc.Requirements(min_level=5))
    with pytest.raises(svc.RequirementNotMet, match=r"You need level 5 .* you are level 0"):
        await svc.toggle_entry(giveaway.id, person(10), now=NOW)
    await ensure_member(GUILD, 10)
    await UserXP.create(guild_id=GUILD, user_id=10, xp=100, level=4)
    with pytest.raises(svc.RequirementNotMet, match="you are level 4"):
        await svc.toggle_entry(giveaway.id, person(10), now=NOW)
    await UserXP.filter(guild_id=GUILD, user_id=10).update(level=5)
    assert (await svc.toggle_entry(giveaway.id, person(10), now=NOW)).entered


async def test_min_account_age() -> None:
    giveaway = await new_giveaway(requirements=svc.Requirements(min_account_age_days=30))
    young = svc.Entrant(10, account_created_at=NOW - timedelta(days=29), joined_at=OLD)
    with pytest.raises(svc.RequirementNotMet, match="account must be at least 30 days old"):
        await svc.toggle_entry(giveaway.id, young, now=NOW)
    ok = svc.Entrant(10, account_created_at=NOW - timedelta(days=30), joined_at=OLD)
    assert (await svc.toggle_entry(giveaway.id, ok, now=NOW)).entered


async def test_min_server_age() -> None:
    giveaway = await new_giveaway(requirements=svc.Requirements(min_server_age_days=7))
    newcomer = svc.Entrant(10, account_created_at=OLD, joined_at=NOW - timedelta(days=2))
    with pytest.raises(svc.RequirementNotMet, match="in this server for at least 7 days"):
        await svc.toggle_entry(giveaway.id, newcomer, now=NOW)
    unknown = svc.Entrant(10, account_created_at=OLD, joined_at=None)
    with pytest.raises(svc.RequirementNotMet, match="in this server for at least 7 days"):
        await svc.toggle_entry(giveaway.id, unknown, now=NOW)
    veteran = svc.Entrant(10, account_created_at=OLD, joined_at=NOW - timedelta(days=8))
    assert (await svc.toggle_entry(giveaway.id, veteran, now=NOW)).entered


async def test_leaving_needs_no_requirement() -> None:
    giveaway = await new_giveaway(requirements=svc.Requirements(role_ids=(VIP,)))
    await svc.toggle_entry(giveaway.id, person(10, VIP), now=NOW)
    # The member lost the role since; they can still take themselves out.
    assert not (await svc.toggle_entry(giveaway.id, person(10), now=NOW)).entered


# --------------------------------------------------------------------------------------------
# Ending exactly once


async def test_end_draws_from_the_seed_and_reveals_it() -> None:
    giveaway = await new_giveaway(winner_count=3)
    await enter_all(giveaway, range(20, 30))
    ended = await svc.end_giveaway(giveaway.id, now=NOW + timedelta(minutes=5))
    assert ended is not None and ended.status is GiveawayStatus.ENDED
    entries = [(u, 1) for u in range(20, 30)]
    assert ended.seed is not None  # revealed now that it has ended
    assert list(ended.winners) == svc.draw_winners(ended.seed, 0, entries, 3)
    assert ended.entries_digest == svc.entries_digest(entries)
    assert ended.ended_at == NOW + timedelta(minutes=5)
    assert [draw.to_json() for draw in ended.draws] == [
        {
            "round": 0,
            "count": 3,
            "excluded": [],
            "winners": list(ended.winners),
            "at": (NOW + timedelta(minutes=5)).isoformat(),
            "by": None,
        }
    ]
    timer = await ScheduledAction.get(kind=svc.END_KIND, dedupe_key=giveaway.giveaway_id)
    assert timer.status is ActionStatus.CANCELLED  # a manual end leaves no timer behind
    with pytest.raises(ConflictError, match="has ended"):
        await svc.toggle_entry(giveaway.id, person(99), now=NOW)


async def test_end_racing_itself_happens_once() -> None:
    giveaway = await new_giveaway(winner_count=2)
    await enter_all(giveaway, range(20, 30))
    results = await asyncio.gather(
        *(svc.end_giveaway(giveaway.id, now=NOW, by=HOST if i % 2 else None) for i in range(8))
    )
    assert sum(r is not None for r in results) == 1
    stored = await Giveaway.get(id=giveaway.id)
    assert len(stored.draws) == 1 and len(stored.winners) == 2


async def test_manual_end_racing_the_timer_announces_once() -> None:
    giveaway = await new_giveaway()
    await enter_all(giveaway, range(20, 25))

    async def by_timer() -> bool:
        await svc.end_due(giveaway.id, now=NOW)
        return await svc.claim_announcement(giveaway.id, now=NOW)

    async def by_command() -> bool:
        try:
            await svc.end_now(GUILD, giveaway.giveaway_id, now=NOW, by=HOST)
        except ConflictError:
            pass
        return await svc.claim_announcement(giveaway.id, now=NOW)

    claims = await asyncio.gather(by_timer(), by_command(), by_timer(), by_command())
    assert claims.count(True) == 1
    # A failed announcement is released and claimed by the next attempt, once.
    await svc.release_announcement(giveaway.id, claimed_at=NOW)
    assert [await svc.claim_announcement(giveaway.id, now=NOW) for _ in range(3)] == [
        True,
        False,
        False,
    ]


async def test_end_refusals() -> None:
    scheduled = await new_giveaway(seed=2, starts_in_seconds=60)
    with pytest.raises(ConflictError, match="has not started yet; cancel it instead"):
        await svc.end_now(GUILD, scheduled.giveaway_id, now=NOW)
    active = await new_giveaway(seed=3)
    await svc.end_now(GUILD, active.giveaway_id, now=NOW)
    with pytest.raises(ConflictError, match="has already ended"):
        await svc.end_now(GUILD, active.giveaway_id, now=NOW)
    with pytest.raises(NotFoundError, match="no giveaway `G-NOPE2`"):
        await svc.end_now(GUILD, "G-NOPE2", now=NOW)
    with pytest.raises(NotFoundError):
        await svc.end_now(GUILD + 1, active.giveaway_id, now=NOW)  # another server's


async def test_the_end_timer_opens_a_giveaway_whose_start_timer_has_not_run() -> None:
    giveaway = await new_giveaway(starts_in_seconds=60)
    ended = await svc.end_due(giveaway.id, now=giveaway.ends_at)
    assert ended is not None and ended.status is GiveawayStatus.ENDED and ended.winners == ()


async def test_no_entry_slips_in_while_ending() -> None:
    giveaway = await new_giveaway(winner_count=5)

    async def click(user_id: int) -> None:
        try:
            await svc.toggle_entry(giveaway.id, person(user_id), now=NOW)
        except ConflictError:
            pass

    clicks = [click(u) for u in range(200, 260)]
    await asyncio.gather(*clicks[:30], svc.end_giveaway(giveaway.id, now=NOW), *clicks[30:])
    stored = await Giveaway.get(id=giveaway.id)
    entries = await svc.sorted_entries(giveaway.id)
    # Whatever got in before the end is exactly what the draw used.
    assert stored.entries_digest == svc.entries_digest(entries)
    assert stored.entry_count == len(entries)
    assert svc.verify_draws(stored, entries).ok


async def test_entrants_who_left_are_not_drawn() -> None:
    giveaway = await new_giveaway(winner_count=10)
    await enter_all(giveaway, range(20, 30))
    present = set(range(20, 25))
    ended = await svc.end_giveaway(giveaway.id, now=NOW, present_member_ids=present)
    assert ended is not None and sorted(ended.winners) == list(range(20, 25))
    assert ended.draws[0].excluded == tuple(range(25, 30))
    assert (await svc.verify(GUILD, giveaway.giveaway_id)).ok


async def test_withdraw_member_from_running_giveaways_only() -> None:
    running = await new_giveaway(seed=4)
    finished = await new_giveaway(seed=5)
    for giveaway in (running, finished):
        await enter_all(giveaway, [20, 21])
    await svc.end_giveaway(finished.id, now=NOW)
    assert await svc.withdraw_member(GUILD, 20, now=NOW) == [running.id]
    assert await svc.sorted_entries(running.id) == [(21, 1)]
    assert (await Giveaway.get(id=running.id)).entry_count == 1
    assert await svc.sorted_entries(finished.id) == [(20, 1), (21, 1)]  # the record stays


# --------------------------------------------------------------------------------------------
# Rerolls


async def test_reroll_never_repeats_winners_or_picks_members_who_left() -> None:
    giveaway = await new_giveaway(winner_count=2)
    await enter_all(giveaway, range(20, 30))
    ended = await svc.end_giveaway(giveaway.id, now=NOW)
    assert ended is not None
    first = set(ended.winners)
    gone = {u for u in range(20, 30) if u not in first}
    gone = set(sorted(gone)[:3])
    present = set(range(20, 30)) - gone

    seen = set(first)
    for round_no in range(1, 6):
        updated, record = await svc.reroll(
            GUILD, giveaway.giveaway_id, count=1, now=NOW, present_member_ids=present, by=HOST
        )
        assert record.round == round_no
        assert len(record.winners) == 1
        assert not set(record.winners) & seen, "a previous winner was drawn again"
        assert not set(record.winners) & gone, "a member who left was drawn"
        assert seen <= set(record.excluded)
        seen.update(record.winners)
        assert updated.winners == (
            *ended.winners, *sorted(seen - first, key=updated.winners.index)
        )
    # 10 entrants - 3 gone - 7 winners: nobody left.
    with pytest.raises(ConflictError, match="Nobody is left to draw"):
        await svc.reroll(GUILD, giveaway.giveaway_id, count=1, now=NOW, present_member_ids=present)
    assert (await svc.verify(GUILD, giveaway.giveaway_id)).ok


async def test_concurrent_rerolls_take_turns() -> None:
    giveaway = await new_giveaway()
    await enter_all(giveaway, range(20, 40))
    await svc.end_giveaway(giveaway.id, now=NOW)
    results = await asyncio.gather(
        *(svc.reroll(GUILD, giveaway.giveaway_id, count=2, now=NOW) for _ in range(5))
    )
    rounds = sorted(record.round for _, record in results)
    assert rounds == [1, 2, 3, 4, 5]
    stored = await Giveaway.get(id=giveaway.id)
    assert len(stored.winners) == len(set(stored.winners)) == 11
    assert (await svc.verify(GUILD, giveaway.giveaway_id)).ok


async def test_reroll_refusals() -> None:
    giveaway = await new_giveaway()
    with pytest.raises(ConflictError, match="only ended giveaways can be rerolled"):
        await svc.reroll(GUILD, giveaway.giveaway_id, count=1, now=NOW)
    with pytest.raises(ValidationError, match="between 1 and 50"):
        await svc.reroll(GUILD, giveaway.giveaway_id, count=0, now=NOW)


# --------------------------------------------------------------------------------------------
# Cancelling


async def test_cancel_stops_timers_and_entries() -> None:
    giveaway = await new_giveaway(starts_in_seconds=60)
    cancelled = await svc.cancel_giveaway(GUILD, giveaway.giveaway_id, now=NOW, by=HOST)
    assert cancelled.status is GiveawayStatus.CANCELLED
    assert cancelled.cancelled_by_id == HOST  # type: ignore[attr-defined]
    statuses = await ScheduledAction.filter(dedupe_key=giveaway.giveaway_id).values_list(
        "status", flat=True
    )
    assert sorted(statuses) == [ActionStatus.CANCELLED, ActionStatus.CANCELLED]
    with pytest.raises(ConflictError, match="was already cancelled"):
        await svc.cancel_giveaway(GUILD, giveaway.giveaway_id, now=NOW)
    with pytest.raises(ConflictError, match="was cancelled"):
        await svc.toggle_entry(giveaway.id, person(10), now=NOW)
    assert await svc.end_due(giveaway.id, now=giveaway.ends_at) is None
    assert await svc.start_giveaway(giveaway.id) is None
    with pytest.raises(ConflictError, match="was cancelled"):
        await svc.reroll(GUILD, giveaway.giveaway_id, count=1, now=NOW)


async def test_cancel_after_end_is_refused() -> None:
    giveaway = await new_giveaway()
    await svc.end_giveaway(giveaway.id, now=NOW)
    with pytest.raises(ConflictError, match="has already ended"):
        await svc.cancel_giveaway(GUILD, giveaway.giveaway_id, now=NOW)


# --------------------------------------------------------------------------------------------
# Verifying, listing, looking up


async def test_verify_recomputes_and_detects_tampering() -> None:
    giveaway = await new_giveaway(winner_count=2, bonus=svc.BonusEntries(booster=4))
    for user_id in range(20, 32):
        await svc.toggle_entry(giveaway.id, person(user_id, booster=user_id % 3 == 0), now=NOW)
    with pytest.raises(ConflictError, match=giveaway.seed_hash):
        await svc.verify(GUILD, giveaway.giveaway_id)  # not ended: only the hash is public
    await svc.end_giveaway(giveaway.id, now=NOW)
    await svc.reroll(GUILD, giveaway.giveaway_id, count=1, now=NOW)
    result = await svc.verify(GUILD, giveaway.giveaway_id.lower())
    assert result.ok and result.seed_matches and result.entries_match
    assert [check.record.round for check in result.draws] == [0, 1]

    # Someone edits the stored winners: the recomputation disagrees.
    stored = await Giveaway.get(id=giveaway.id)
    draws = stored.draws
    loser = next(u for u in range(20, 32) if u not in stored.winners)
    draws[0]["winners"] = [loser, *draws[0]["winners"][1:]]
    await Giveaway.filter(id=giveaway.id).update(draws=draws)
    result = await svc.verify(GUILD, giveaway.giveaway_id)
    assert not result.ok and not result.draws[0].ok
    # The reroll did exclude the real first winners, not the forged one.
    assert not result.draws[1].excludes_previous_winners

    # Someone swaps the seed: it no longer matches its published hash.
    await Giveaway.filter(id=giveaway.id).update(seed="0" * 64)
    assert not (await svc.verify(GUILD, giveaway.giveaway_id)).seed_matches


async def test_verify_notices_a_changed_entry_list() -> None:
    giveaway = await new_giveaway()
    await enter_all(giveaway, range(20, 25))
    await svc.end_giveaway(giveaway.id, now=NOW)
    await GiveawayEntry.filter(giveaway_id=giveaway.id, user_id=22).update(entries=50)
    result = await svc.verify(GUILD, giveaway.giveaway_id)
    assert result.seed_matches and not result.entries_match and not result.ok


async def test_list_and_suggest() -> None:
    first = await new_giveaway(seed=11, prize="Nitro Classic")
    second = await new_giveaway(seed=12, prize="Steam key")
    await svc.end_giveaway(first.id, now=NOW)
    everything = await svc.list_giveaways(GUILD)
    assert [g.id for g in everything] == [second.id, first.id]
    assert [g.id for g in await svc.list_giveaways(GUILD, GiveawayStatus.ENDED)] == [first.id]
    assert [g.id for g in await svc.suggest_giveaways(GUILD, "steam")] == [second.id]
    typed = first.giveaway_id.lower()
    assert [g.id for g in await svc.suggest_giveaways(GUILD, typed)] == [first.id]
    assert await svc.list_giveaways(GUILD + 1) == []


async def test_list_entries_is_the_sorted_weighted_draw_list() -> None:
    giveaway = await new_giveaway(bonus=svc.BonusEntries(roles=((VIP, 4),)))
    for user_id, roles in ((30, ()), (10, (VIP,)), (20, ())):
        await svc.toggle_entry(giveaway.id, person(user_id, *roles), now=NOW)
    found, entries = await svc.list_entries(GUILD, f" {giveaway.giveaway_id.lower()} ")
    assert found.id == giveaway.id
    assert entries == [(10, 5), (20, 1), (30, 1)]


async def test_delete_unposted_removes_the_giveaway_and_its_timers() -> None:
    giveaway = await new_giveaway(starts_in_seconds=60)
    await svc.delete_unposted(giveaway.id)
    assert not await Giveaway.filter(id=giveaway.id).exists()
    assert not await ScheduledAction.filter(
        dedupe_key=giveaway.giveaway_id, status=ActionStatus.PENDING
    ).exists()


async def test_a_manual_end_keeps_the_end_timer_as_an_announcement_backstop() -> None:
    giveaway = await new_giveaway()
    await enter_all(giveaway, range(20, 23))
    later = NOW + timedelta(minutes=5)
    ended = await svc.end_now(GUILD, giveaway.giveaway_id, now=later, by=HOST)
    [timer] = await ScheduledAction.filter(
        kind=svc.END_KIND, dedupe_key=giveaway.giveaway_id, status=ActionStatus.PENDING
    )
    assert timer.due_at == later + timedelta(seconds=svc.ANNOUNCEMENT_BACKSTOP_SECONDS)
    assert timer.payload == {"giveaway": giveaway.id}
    # When it fires, it draws nothing new; only an unannounced end gets announced.
    assert await svc.end_due(giveaway.id, now=timer.due_at) is None
    assert await svc.claim_announcement(giveaway.id, now=timer.due_at)
    stored = await Giveaway.get(id=giveaway.id)
    assert tuple(stored.winners) == ended.winners and len(stored.draws) == 1
