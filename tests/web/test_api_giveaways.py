"""Giveaways over HTTP: create (stored with its timers, posted by a queued job), list, read, end
and reroll (queued), cancel, the entries file and verify; refused with the commands' sentences,
changing nothing when refused, audited with source `api`; the seed never shown before the end."""

from __future__ import annotations

import asyncio
import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from models.giveaways import Giveaway, GiveawayStatus
from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditLog, AuditSource
from pegasus.localdiscord import DiscordEnv
from pegasus.services import giveaways as svc
from pegasus.services.security import API_SCOPES, create_api_key
from pegasus.web import WebConfig, WebServer, create_app
from pegasus.web.jobs import JobKind
from tests.e2e.waiting import eventually
from tests.web.conftest import GUILD, OWNER, SECRET, Api

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.giveaways"), scheduler_poll_interval=0.05
)

GIVEAWAYS = f"/api/v1/guilds/{GUILD}/giveaways"
CHANNEL = 766_666_666_666_666_666
NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)
ENTRANTS = [744_444_444_444_444_441, 744_444_444_444_444_442, 744_444_444_444_444_443]
BODY = {"channel_id": CHANNEL, "prize": "Nitro", "winners": 1, "duration_seconds": 3600}


async def create(api: Api, key: str, **body: Any) -> tuple[int, Any, Any]:
    return await api.call("POST", GIVEAWAYS, key=key, json={**BODY, **body})


async def stored_giveaway(winners: int = 1, *, starts_in: int = 0) -> svc.GiveawayInfo:
    """A giveaway as the slash command stores it, with three entrants (one with a bonus)."""
    giveaway = await svc.create_giveaway(
        svc.GiveawayDraft(
            guild_id=GUILD, channel_id=CHANNEL, host_id=OWNER, prize="Nitro",
            winner_count=winners, duration_seconds=3600, starts_in_seconds=starts_in,
            bonus=svc.BonusEntries(booster=2),
        ),
        now=NOW,
        rng=random.Random(7),
    )
    if starts_in == 0:
        for index, user_id in enumerate(ENTRANTS):
            entrant = svc.Entrant(
                user_id, is_booster=index == 0, account_created_at=OLD, joined_at=OLD
            )
            await svc.toggle_entry(giveaway.id, entrant, now=NOW)
    return giveaway


async def test_a_giveaway_is_stored_with_its_timers_and_its_post_is_queued(api: Api) -> None:
    key = await api.key(["giveaways:read", "giveaways:write"])
    status, answer, headers = await create(
        api, key, description="Monthly", starts_in_seconds=600, booster_bonus=2,
        min_account_age_days=30,
    )
    assert status == 202, answer
    giveaway, job = answer["giveaway"], answer["job"]
    assert giveaway["giveaway_id"].startswith("G-") and giveaway["status"] == "scheduled"
    assert giveaway["seed"] is None and len(giveaway["seed_hash"]) == 64
    assert giveaway["host_id"] == OWNER and giveaway["bonus_entries"]["booster"] == 2
    assert giveaway["requirements"]["min_account_age_days"] == 30
    assert job["kind"] == "giveaway.post" and headers["Location"] == job["url"]

    row = await Giveaway.get(giveaway_id=giveaway["giveaway_id"])
    assert row.seed not in str(answer)
    timers = await ScheduledAction.filter(dedupe_key=row.giveaway_id).values_list(
        "kind", flat=True
    )
    assert sorted(timers) == sorted([svc.START_KIND, svc.END_KIND])
    posts = await ScheduledAction.filter(kind=JobKind.GIVEAWAY_POST)
    assert [p.payload for p in posts] == [
        {"giveaway_id": row.giveaway_id, "actor_id": OWNER}
    ]
    audit = await AuditLog.get(action="api.create_giveaway")
    assert audit.source is AuditSource.API and audit.actor_id == OWNER  # type: ignore[attr-defined]
    assert audit.after["body"]["prize"] == "Nitro"


async def test_a_retried_creation_creates_one_giveaway(api: Api) -> None:
    key = await api.key()
    first = await api.call(
        "POST", GIVEAWAYS, key=key, json=BODY, headers={"Idempotency-Key": "gw-1"}
    )
    again = await api.call(
        "POST", GIVEAWAYS, key=key, json=BODY, headers={"Idempotency-Key": "gw-1"}
    )
    assert first[0] == again[0] == 202 and first[1] == again[1]
    assert await Giveaway.all().count() == 1
    assert await ScheduledAction.filter(kind=JobKind.GIVEAWAY_POST).count() == 1


REFUSED = [
    ({"winners": 0}, "The number of winners must be between 1 and 50."),
    ({"duration_seconds": 5}, "A giveaway lasts between 10 seconds and 90 days."),
    ({"starts_in_seconds": 91 * 86400}, "A giveaway can start at most 90 days from now."),
    ({"prize": "   "}, "The prize cannot be empty."),
    ({"required_role_id": GUILD}, "Everyone has @everyone; pick another required role."),
    ({"bonus_role_id": GUILD}, "Everyone has @everyone; pick another bonus role."),
    ({"bonus_entries": 3}, "Give a `bonus_role_id` to go with `bonus_entries`."),
    ({"min_level": 10_001}, "The minimum level must be between 0 and 10,000."),
    ({"booster_bonus": 101}, "Booster bonus entries must be between 0 and 100."),
]


@pytest.mark.parametrize(("body", "detail"), REFUSED)
async def test_a_refused_giveaway_is_refused_like_the_command_and_stores_nothing(
    api: Api, body: dict[str, Any], detail: str
) -> None:
    key = await api.key()
    audits = await AuditLog.all().count()
    status, problem, _ = await create(api, key, **body)
    assert (status, problem["detail"]) == (422, detail)
    assert not await Giveaway.exists()
    assert not await ScheduledAction.exists()
    assert await AuditLog.all().count() == audits


async def test_giveaways_are_listed_and_read_without_their_seed(api: Api) -> None:
    key = await api.key(["giveaways:read"])
    running = await stored_giveaway()
    later = await stored_giveaway(starts_in=600)
    status, page, _ = await api.call("GET", f"{GIVEAWAYS}?limit=1", key=key)
    assert status == 200 and len(page["items"]) == 1 and page["next_cursor"]
    _, rest, _ = await api.call("GET", f"{GIVEAWAYS}?cursor={page['next_cursor']}", key=key)
    listed = {g["giveaway_id"] for g in page["items"] + rest["items"]}
    assert listed == {running.giveaway_id, later.giveaway_id}
    _, scheduled, _ = await api.call("GET", f"{GIVEAWAYS}?status=scheduled", key=key)
    assert [g["giveaway_id"] for g in scheduled["items"]] == [later.giveaway_id]
    status, problem, _ = await api.call("GET", f"{GIVEAWAYS}?status=over", key=key)
    assert (status, problem["detail"]) == (
        422, "The status parameter is one of scheduled, active, ended, cancelled."
    )
    status, read, _ = await api.call("GET", f"{GIVEAWAYS}/{running.giveaway_id}", key=key)
    assert status == 200 and read["entry_count"] == 3 and read["seed"] is None
    status, problem, _ = await api.call("GET", f"{GIVEAWAYS}/G-ZZZZZ", key=key)
    assert (status, problem["detail"]) == (404, "There is no giveaway `G-ZZZZZ` in this server.")


async def test_the_seed_is_not_shown_anywhere_before_the_end(api: Api) -> None:
    key = await api.key()
    giveaway = await stored_giveaway()
    seed = (await Giveaway.get(id=giveaway.id)).seed
    url = f"{GIVEAWAYS}/{giveaway.giveaway_id}"
    answers = [
        await api.call("GET", GIVEAWAYS, key=key),
        await api.call("GET", url, key=key),
        await api.call("GET", f"{url}/entries", key=key),
        await api.call("GET", f"{url}/verify", key=key),
        await create(api, key),
    ]
    for status, body, _ in answers:
        assert status < 500 and seed not in str(body)
    status, problem, _ = answers[3]
    assert status == 409
    assert problem["detail"] == (
        f"Giveaway `{giveaway.giveaway_id}` has not ended: its seed is revealed when it ends. "
        f"Its committed seed hash is `{giveaway.seed_hash}`."
    )


async def test_the_entries_file_and_verify_after_the_end(api: Api) -> None:
    key = await api.key(["giveaways:read"])
    giveaway = await stored_giveaway(winners=2)
    url = f"{GIVEAWAYS}/{giveaway.giveaway_id}"
    status, text, headers = await api.call("GET", f"{url}/entries", key=key)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert text == "".join(
        f"{user_id}:{3 if index == 0 else 1}\n" for index, user_id in enumerate(ENTRANTS)
    )
    assert f'filename="{giveaway.giveaway_id}-entries.txt"' in headers["Content-Disposition"]

    ended = await svc.end_giveaway(giveaway.id, now=NOW + timedelta(hours=1))
    assert ended is not None and ended.seed is not None
    assert hashlib.sha256(text.encode()).hexdigest() == ended.entries_digest

    status, report, _ = await api.call("GET", f"{url}/verify", key=key)
    assert status == 200, report
    assert report["ok"] and report["seed_matches"] and report["entries_match"]
    assert report["seed"] == ended.seed
    assert report["draws"][0]["winners"] == report["draws"][0]["recomputed"] == list(
        ended.winners
    )
    _, read, _ = await api.call("GET", url, key=key)
    assert read["seed"] == ended.seed  # revealed once it has ended

    # A tampered draw is reported, not hidden.
    await Giveaway.filter(id=giveaway.id).update(
        draws=[{**ended.draws[0].to_json(), "winners": list(reversed(ended.winners))}]
    )
    _, tampered, _ = await api.call("GET", f"{url}/verify", key=key)
    assert tampered["ok"] is False and tampered["draws"][0]["ok"] is False
    assert tampered["draws"][0]["recomputed"] == list(ended.winners)


async def test_ending_and_rerolling_are_queued_or_refused_like_the_commands(api: Api) -> None:
    key = await api.key()
    running = await stored_giveaway()
    later = await stored_giveaway(starts_in=600)
    url = f"{GIVEAWAYS}/{running.giveaway_id}"
    refusals = [
        (f"{GIVEAWAYS}/{later.giveaway_id}/end", None, 409,
         f"Giveaway `{later.giveaway_id}` has not started yet; cancel it instead."),
        (f"{url}/reroll", {"count": 1}, 409,
         f"Giveaway `{running.giveaway_id}` has not ended; only ended giveaways can be rerolled."),
        (f"{url}/reroll", {"count": 0}, 422, "You can reroll between 1 and 50 winners."),
    ]
    for path, body, status, detail in refusals:
        answer, problem, _ = await api.call("POST", path, key=key, json=body)
        assert (answer, problem["detail"]) == (status, detail)
    assert not await ScheduledAction.filter(kind__startswith="job.").exists()
    assert not await AuditLog.filter(action__startswith="api.").exists()

    status, job, headers = await api.call("POST", f"{url}/end", key=key)
    assert status == 202 and job["kind"] == "giveaway.end" and headers["Location"] == job["url"]
    queued = await ScheduledAction.get(kind=JobKind.GIVEAWAY_END)
    assert queued.payload == {"giveaway_id": running.giveaway_id, "actor_id": OWNER}
    assert (await AuditLog.get(action="api.end_giveaway")).source is AuditSource.API

    await svc.end_giveaway(running.id, now=NOW + timedelta(hours=1))
    status, job, _ = await api.call("POST", f"{url}/reroll", key=key, json={"count": 2})
    assert status == 202 and job["kind"] == "giveaway.reroll"
    queued = await ScheduledAction.get(kind=JobKind.GIVEAWAY_REROLL)
    assert queued.payload == {"giveaway_id": running.giveaway_id, "count": 2, "actor_id": OWNER}
    status, problem, _ = await api.call("POST", f"{url}/end", key=key)
    assert (status, problem["detail"]) == (
        409, f"Giveaway `{running.giveaway_id}` has already ended."
    )


async def test_cancelling_stops_the_timers_and_is_refused_twice(api: Api) -> None:
    key = await api.key()
    giveaway = await stored_giveaway()
    url = f"{GIVEAWAYS}/{giveaway.giveaway_id}/cancel"
    status, cancelled, _ = await api.call("POST", url, key=key)
    assert status == 200, cancelled
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_by_id"] == OWNER
    assert (await Giveaway.get(id=giveaway.id)).status is GiveawayStatus.CANCELLED
    timers = await ScheduledAction.filter(dedupe_key=giveaway.giveaway_id).values_list(
        "status", flat=True
    )
    assert set(timers) == {ActionStatus.CANCELLED}
    audit = await AuditLog.get(action="api.cancel_giveaway")
    assert audit.source is AuditSource.API and audit.actor_id == OWNER  # type: ignore[attr-defined]

    status, problem, _ = await api.call("POST", url, key=key)
    assert (status, problem["detail"]) == (
        409, f"Giveaway `{giveaway.giveaway_id}` was already cancelled."
    )
    assert await AuditLog.filter(action="api.cancel_giveaway").count() == 1


async def follow(http: aiohttp.ClientSession, job: dict[str, Any]) -> dict[str, Any]:
    for _ in range(200):
        async with http.get(job["url"]) as answer:
            job = await answer.json()
        if job["status"] != "pending":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job['id']} still pending")


async def test_the_bot_posts_a_giveaway_created_over_the_api(discord_env: DiscordEnv) -> None:
    env = discord_env
    created = await create_api_key(
        owner_id=env.owner.id, name="giveaways", scopes=list(API_SCOPES), guild_id=env.guild.id,
        now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True,
    )
    server = WebServer(create_app(WebConfig(secret=SECRET), bot=env.bot), "127.0.0.1", 0)
    await server.start()
    channel = env.channel("announcements")
    voice = env.channel("Lounge")
    base = f"/api/v1/guilds/{env.guild.id}/giveaways"
    try:
        async with aiohttp.ClientSession(
            base_url=server.url, headers={"Authorization": f"Bearer {created.secret}"}
        ) as http:
            async with http.post(base, json={**BODY, "channel_id": channel.id}) as answer:
                assert answer.status == 202
                posted = await answer.json()
            done = await follow(http, posted["job"])
            async with http.post(base, json={**BODY, "channel_id": voice.id}) as answer:
                refused = await answer.json()
            failed = await follow(http, refused["job"])
            await env.settle()
            buttons = [m.buttons[0]["label"] for m in channel.bot_messages if m.buttons]
            assert buttons == ["Enter"]
            async with http.post(
                f"{base}/{posted['giveaway']['giveaway_id']}/cancel"
            ) as answer:
                assert answer.status == 200

            async def enter_button_gone() -> bool:
                return not [m for m in channel.bot_messages if m.buttons]

            await eventually(enter_button_gone, "the cancelled giveaway has no Enter button")
    finally:
        await server.stop()
    await env.settle()
    assert done["status"] == "done", done
    messages = [m for m in channel.bot_messages if m.embed]
    assert len(messages) == 1
    row = await Giveaway.get(giveaway_id=posted["giveaway"]["giveaway_id"])
    assert row.message_id == messages[0].id
    assert done["result"] == {
        "giveaway_id": row.giveaway_id, "channel_id": str(channel.id),
        "message_id": str(messages[0].id),
    }
    # Not postable: the job says why, and the giveaway and its timers are gone.
    assert failed["status"] == "failed"
    assert failed["error"] == "Pick a text channel to post the giveaway in."
    gone = refused["giveaway"]["giveaway_id"]
    assert not await Giveaway.exists(giveaway_id=gone)
    assert not await ScheduledAction.filter(dedupe_key=gone, status=ActionStatus.PENDING).exists()
