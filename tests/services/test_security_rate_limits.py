"""Command rate limits in memory, and violations stored with an upsert and an F() counter."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from cogs.security import rate_refusal
from models.security import ApiKey, RateLimitViolation
from pegasus.errors import CooldownActive
from pegasus.services import security
from pegasus.services.security import ApiKeyRateLimiter, CommandRateLimiter

GUILD = 444_444_444_444_444_444
ALICE = 800_000_000_000_000_041
BOB = 800_000_000_000_000_042
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_the_limit_and_the_wait() -> None:
    limiter = CommandRateLimiter(limit=8, window_seconds=10)
    for second in range(8):
        assert limiter.hit(ALICE, at(second * 0.5)).allowed
    refused = limiter.hit(ALICE, at(4))
    assert not refused.allowed
    assert refused.record  # the first refusal of a burst is a violation
    assert refused.retry_after == 6  # the oldest of the 8 leaves the window at 10 s
    assert "Slow down" in rate_refusal(refused) and "6s" in rate_refusal(refused)
    assert limiter.hit(BOB, at(4)).allowed  # people are counted apart


def test_a_burst_is_one_violation() -> None:
    limiter = CommandRateLimiter(limit=2, window_seconds=10)
    limiter.hit(ALICE, at(0))
    limiter.hit(ALICE, at(0))
    decisions = [limiter.hit(ALICE, at(1 + second * 0.1)) for second in range(20)]
    assert not any(decision.allowed for decision in decisions)
    assert [decision.record for decision in decisions].count(True) == 1


def test_refused_commands_do_not_extend_the_wait() -> None:
    limiter = CommandRateLimiter(limit=2, window_seconds=10)
    limiter.hit(ALICE, at(0))
    limiter.hit(ALICE, at(1))
    for second in range(2, 10):
        assert not limiter.hit(ALICE, at(second)).allowed
    assert limiter.hit(ALICE, at(10.01)).allowed


def test_repeated_violations_block() -> None:
    limiter = CommandRateLimiter(
        limit=1, window_seconds=10, strikes_to_block=3, strike_window_seconds=600, block_seconds=300
    )
    strikes = []
    for burst in range(3):
        start = burst * 20
        assert limiter.hit(ALICE, at(start)).allowed
        strikes.append(limiter.hit(ALICE, at(start + 1)))
    assert [decision.strikes for decision in strikes] == [1, 2, 3]
    assert strikes[0].blocked_until is None and strikes[1].blocked_until is None
    blocked = strikes[2]
    assert blocked.record and blocked.blocked_until == at(41 + 300)
    assert "blocked for you until <t:" in rate_refusal(blocked)
    # While blocked, nothing goes through, and nothing new is recorded.
    during = limiter.hit(ALICE, at(200))
    assert not during.allowed and not during.record and during.blocked_until == at(341)
    assert limiter.hit(ALICE, at(342)).allowed


def test_strikes_far_apart_do_not_block() -> None:
    limiter = CommandRateLimiter(limit=1, window_seconds=10, strike_window_seconds=600)
    for burst in range(5):
        start = burst * 700
        limiter.hit(ALICE, at(start))
        decision = limiter.hit(ALICE, at(start + 1))
        assert decision.strikes == 1 and decision.blocked_until is None


def test_restored_blocks_apply() -> None:
    limiter = CommandRateLimiter()
    limiter.block(ALICE, at(60))
    assert not limiter.hit(ALICE, at(0)).allowed
    assert limiter.hit(ALICE, at(61)).allowed


def test_idle_people_are_forgotten() -> None:
    limiter = CommandRateLimiter(window_seconds=10, strike_window_seconds=600)
    for user in range(50):
        limiter.hit(user, at(0))
    assert len(limiter) == 50
    limiter.hit(ALICE, at(601))
    assert len(limiter) == 1


async def test_violations_are_upserted_and_counted(db: str) -> None:
    first = await security.record_rate_limit_violation(
        endpoint="commands", now=at(0), user_id=ALICE, guild_id=GUILD, metadata={"command": "x"}
    )
    assert (first.subject, first.violations, first.blocked) == (f"user:{ALICE}", 1, False)
    assert first.metadata == {"command": "x", "last_violation_at": at(0).isoformat()}
    second = await security.record_rate_limit_violation(
        endpoint="commands", now=at(5), user_id=ALICE, guild_id=GUILD, blocked_until=at(305)
    )
    assert second.id == first.id
    assert second.violations == 2
    assert second.blocked and second.blocked_until == at(305)
    assert second.guild_id == GUILD
    assert await security.active_blocks(at(10)) == [(ALICE, at(305))]
    assert await security.active_blocks(at(306)) == []
    third = await security.record_rate_limit_violation(
        endpoint="commands", now=at(400), user_id=ALICE
    )
    assert third.violations == 3 and not third.blocked
    assert await RateLimitViolation.all().count() == 1


async def test_concurrent_violations_all_count(db: str) -> None:
    await asyncio.gather(
        *(
            security.record_rate_limit_violation(
                endpoint="commands", now=at(i), user_id=BOB, guild_id=GUILD
            )
            for i in range(25)
        )
    )
    row = await RateLimitViolation.get(subject=f"user:{BOB}", endpoint="commands")
    assert row.violations == 25


async def test_endpoints_are_counted_apart(db: str) -> None:
    await security.record_rate_limit_violation(endpoint="commands", now=at(0), user_id=ALICE)
    await security.record_rate_limit_violation(endpoint="other", now=at(0), user_id=ALICE)
    assert await RateLimitViolation.filter(user_id=ALICE).count() == 2


async def test_api_keys_over_their_rate_are_refused_and_recorded(db: str) -> None:
    created = await security.create_api_key(
        owner_id=ALICE,
        name="dashboard",
        scopes=["economy:read"],
        guild_id=GUILD,
        now=NOW,
        is_bot_owner=False,
        is_guild_admin=True,
        rate_limit=3,
    )
    key = created.key
    limiter = ApiKeyRateLimiter()
    for second in range(3):
        await security.enforce_api_rate_limit(key, "GET /balances", at(second), limiter=limiter)
    try:
        await security.enforce_api_rate_limit(
            key, "GET /balances", at(10), limiter=limiter, ip_hash="abc"
        )
    except CooldownActive as refusal:
        assert "3 requests a minute" in str(refusal)
        assert refusal.retry_at == at(60).timestamp()
    else:
        raise AssertionError("the fourth request in a minute went through")
    row = await RateLimitViolation.get(endpoint="GET /balances")
    assert row.subject == f"api_key:{key.id}"
    assert row.api_key_id == key.id  # type: ignore[attr-defined]
    assert row.user_id is None and row.ip_hash == "abc" and row.violations == 1
    # The window slides: a minute after the first request, one more is allowed.
    await security.enforce_api_rate_limit(key, "GET /balances", at(60.5), limiter=limiter)
    # Deleting the key removes its violations (ON DELETE CASCADE).
    await ApiKey.filter(id=key.id).delete()
    assert await RateLimitViolation.filter(api_key_id=key.id).count() == 0


def test_a_violation_is_about_one_subject() -> None:
    for user_id, key_id in ((None, None), (ALICE, uuid.uuid4())):
        try:
            security.violation_subject(user_id, key_id)
        except ValueError:
            continue
        raise AssertionError("a violation without exactly one subject was accepted")
