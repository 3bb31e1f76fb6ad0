"""Idempotency-Key: a retried POST that moves money gets the first answer and moves it once.

The route is declared here, the way a feature declares one, and calls the economy service the
`/economy give` command calls."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from models.economy import EconomyBalance, EconomyTransaction
from models.security import AuditLog, AuditSource, IdempotentRequest
from pegasus.services import directory
from pegasus.services.economy.staff import AdminResult, admin_adjust
from pegasus.web import WebConfig, idempotency
from pegasus.web.api import all_routes
from pegasus.web.routes import Call, Param, Routes
from tests.web.conftest import GUILD, OWNER, SECRET, Api, start_api

MEMBER = 744_444_444_444_444_444
routes = Routes("economy-test")


@dataclass(frozen=True)
class GiveBody:
    amount: int
    reason: str | None = None


@routes.post(
    "/guilds/{guild_id}/members/{user_id}/give",
    scope="economy:write",
    summary="Give money to a member",
    params=[Param("user_id", int, "The member", location="path", required=True)],
    body=GiveBody,
    response=AdminResult,
    status=201,
    idempotent=True,
)
async def give(call: Call) -> AdminResult:
    body: GiveBody = call.body
    return await admin_adjust(
        call.guild_id, call.actor_id, call.param("user_id"), body.amount, take=False,
        reason=body.reason,
    )


@pytest.fixture
async def api(db: str) -> AsyncIterator[Api]:
    await directory.ensure_guild(GUILD)
    server, session = await start_api(WebConfig(secret=SECRET), routes=[*all_routes(), *routes])
    try:
        async with session:
            yield Api(server, session)
    finally:
        await server.stop()


GIVE = f"/api/v1/guilds/{GUILD}/members/{MEMBER}/give"


async def wallet() -> int:
    return (await EconomyBalance.get(guild_id=GUILD, user_id=MEMBER)).wallet


async def test_a_retry_returns_the_first_answer_and_gives_once(api: Api) -> None:
    key = await api.key()
    headers = {"Idempotency-Key": "order-1"}
    first = await api.call("POST", GIVE, key=key, json={"amount": 50}, headers=headers)
    assert first[0] == 201, first[1]
    start = first[1]["wallet"]
    again = await api.call("POST", GIVE, key=key, json={"amount": 50}, headers=headers)
    assert again[0] == 201 and again[1] == first[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert await wallet() == start
    assert await EconomyTransaction.filter(guild_id=GUILD, user_id=MEMBER, amount=50).count() == 1
    other = await api.call(
        "POST", GIVE, key=key, json={"amount": 50}, headers={"Idempotency-Key": "order-2"}
    )
    assert other[0] == 201 and await wallet() == start + 50


async def test_retries_at_once_give_once(api: Api) -> None:
    key = await api.key()
    answers = await asyncio.gather(
        *(
            api.call("POST", GIVE, key=key, json={"amount": 7},
                     headers={"Idempotency-Key": "burst"})
            for _ in range(8)
        )
    )
    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {201, 409} and 201 in statuses
    bodies = {str(body) for status, body, _ in answers if status == 201}
    assert len(bodies) == 1  # every success is the same answer
    assert await EconomyTransaction.filter(guild_id=GUILD, user_id=MEMBER, amount=7).count() == 1


async def test_the_same_key_for_another_request_is_refused(api: Api) -> None:
    key = await api.key()
    headers = {"Idempotency-Key": "order-9"}
    assert (await api.call("POST", GIVE, key=key, json={"amount": 5}, headers=headers))[0] == 201
    status, body, _ = await api.call("POST", GIVE, key=key, json={"amount": 6}, headers=headers)
    assert status == 422 and "another request" in body["detail"]
    assert await EconomyTransaction.filter(guild_id=GUILD, user_id=MEMBER, amount=6).count() == 0


async def test_a_refused_request_is_not_kept(api: Api) -> None:
    """A refusal changed nothing, so the same key may be used again once the input is fixed."""
    key = await api.key()
    headers = {"Idempotency-Key": "order-3"}
    status, body, _ = await api.call("POST", GIVE, key=key, json={"amount": 0}, headers=headers)
    assert status == 422, body
    status, body, _ = await api.call("POST", GIVE, key=key, json={"amount": "ten"},
                                     headers=headers)
    assert status == 422 and body["detail"] == "`amount` must be a whole number."
    status, _, _ = await api.call("POST", GIVE, key=key, json={"amount": 0}, headers=headers)
    assert status == 422


async def test_keys_do_not_share_answers(api: Api) -> None:
    first, second = await api.key(), await api.key()
    headers = {"Idempotency-Key": "same"}
    a = await api.call("POST", GIVE, key=first, json={"amount": 3}, headers=headers)
    b = await api.call("POST", GIVE, key=second, json={"amount": 3}, headers=headers)
    assert a[0] == b[0] == 201 and "Idempotent-Replayed" not in b[2]
    assert await EconomyTransaction.filter(guild_id=GUILD, user_id=MEMBER, amount=3).count() == 2


async def test_answers_are_forgotten_after_a_day(api: Api) -> None:
    key = await api.key()
    headers = {"Idempotency-Key": "old"}
    assert (await api.call("POST", GIVE, key=key, json={"amount": 4}, headers=headers))[0] == 201
    await api.state.write_behind()  # the first round sweeps
    assert await IdempotentRequest.all().count() == 1  # a fresh answer is kept
    later = datetime.now(UTC) + idempotency.KEPT_FOR + timedelta(minutes=1)
    assert await idempotency.forget_old(later) == 1
    again = await api.call("POST", GIVE, key=key, json={"amount": 4}, headers=headers)
    assert again[0] == 201 and "Idempotent-Replayed" not in again[2]


async def test_a_write_whose_service_audits_nothing_is_audited_once(api: Api) -> None:
    """admin_adjust records the ledger, not the audit log: the API records the call itself,
    and a replay records nothing more."""
    key = await api.key()
    headers = {"Idempotency-Key": "audited", "User-Agent": "ops-script/2"}
    for _ in range(2):
        status, _, _ = await api.call("POST", GIVE, key=key, json={"amount": 9}, headers=headers)
        assert status == 201
    [row] = await AuditLog.filter(action="api.give")
    assert row.source is AuditSource.API
    assert row.actor_id == OWNER and row.guild_id == GUILD  # type: ignore[attr-defined]
    assert row.after == {"method": "POST", "path": GIVE, "body": {"amount": 9}}
    assert row.ip_hash == hmac.new(SECRET, b"127.0.0.1", hashlib.sha256).hexdigest()
    assert row.user_agent == "ops-script/2"


async def test_a_settings_change_that_changes_nothing_is_not_audited(api: Api) -> None:
    key = await api.key()
    url = f"/api/v1/guilds/{GUILD}/settings/economy"
    _, read, _ = await api.call("GET", url, key=key)
    status, _, _ = await api.call("PATCH", url, key=key, json={"daily_amount": 250})
    assert status == 200 and read["values"]["daily_amount"] == 250
    assert await AuditLog.exclude(action="api_key.create").count() == 0
