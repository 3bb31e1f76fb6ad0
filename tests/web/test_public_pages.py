"""The public pages over HTTP: off by default (404, the same as for a server that does not
exist), switched on by the `web` setting (audited), the leaderboards with display names, and a
giveaway's draw: the seed kept secret until the end, then revealed and checked, and the entries
file byte for byte the API's."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from models.security import AuditLog
from pegasus.services import directory
from pegasus.services import giveaways as gsvc
from pegasus.services.dashboard import public_pages_on, set_public_pages
from pegasus.services.directory import MemberInfo, UserInfo
from pegasus.services.economy.accounts import get_balance
from pegasus.services.economy.staff import admin_adjust
from pegasus.services.levels.xp import XpOperation, adjust_xp
from pegasus.services.settings import declared
from tests.web.conftest import GUILD, OTHER_GUILD, OWNER, Api

NOW = datetime.now(UTC).replace(microsecond=0)
PEOPLE = {
    801_000_000_000_000_001: "Alice Aurora",
    801_000_000_000_000_002: "Bob Builder",
    801_000_000_000_000_003: "Carol Crane",
}
LEADERBOARD = f"/public/guilds/{GUILD}/leaderboard"


async def _members() -> None:
    await directory.upsert_members(
        GUILD,
        [
            MemberInfo(UserInfo(user_id, f"user{user_id % 10}", name))
            for user_id, name in PEOPLE.items()
        ],
    )


async def _giveaway(*, end: bool) -> gsvc.GiveawayInfo:
    draft = gsvc.GiveawayDraft(
        guild_id=GUILD, channel_id=900, host_id=OWNER, prize="A <b>shiny</b> badge",
        winner_count=2, duration_seconds=3600,
    )
    created = await gsvc.create_giveaway(draft, now=NOW, rng=random.Random(14))
    for user_id in PEOPLE:
        await gsvc.toggle_entry(created.id, gsvc.Entrant(user_id), now=NOW)
    if not end:
        return created
    ended = await gsvc.end_giveaway(created.id, now=NOW + timedelta(hours=2))
    assert ended is not None
    return ended


async def _get(api: Api, path: str) -> tuple[int, str, dict[str, str]]:
    async with api.session.get(path) as response:
        return response.status, await response.text(), dict(response.headers)


async def test_the_pages_are_off_by_default_and_answer_as_for_no_server(api: Api) -> None:
    await _members()
    giveaway = await _giveaway(end=True)
    assert not await public_pages_on(GUILD)
    off = [
        LEADERBOARD,
        f"/public/guilds/{GUILD}/giveaways/{giveaway.giveaway_id}",
        f"/public/guilds/{GUILD}/giveaways/{giveaway.giveaway_id}/entries.txt",
    ]
    nowhere = [
        "/public/guilds/799999999999999999/leaderboard",
        f"/public/guilds/{OTHER_GUILD}/giveaways/{giveaway.giveaway_id}",
        "/public/guilds/not-a-number/leaderboard",
    ]
    answers = [await _get(api, path) for path in off + nowhere]
    assert {status for status, _, _ in answers} == {404}
    assert len({body for _, body, _ in answers}) == 1  # nothing tells the cases apart
    assert "Alice Aurora" not in answers[0][1]


async def test_switched_on_the_leaderboards_show_names_and_pages(api: Api) -> None:
    await _members()
    for place, user_id in enumerate(PEOPLE):
        await adjust_xp(GUILD, user_id, XpOperation.ADD, 1000 * (place + 1), now=NOW)
    await admin_adjust(GUILD, OWNER, 801_000_000_000_000_002, 4_321, take=False)
    assert "web" in declared()
    assert await set_public_pages(GUILD, OWNER, True) is True
    audit = await AuditLog.filter(guild_id=GUILD, action="web.settings").get()
    assert (audit.before, audit.after) == (
        {"public_pages_enabled": False}, {"public_pages_enabled": True}
    )

    status, body, headers = await _get(api, LEADERBOARD)
    assert status == 200
    names = [name for name in PEOPLE.values() if name in body]
    assert names == list(PEOPLE.values())
    # best first: Carol has the most XP
    assert body.index("Carol Crane") < body.index("Bob Builder") < body.index("Alice Aurora")
    assert "3,000" in body
    assert str(next(iter(PEOPLE))) not in body  # no ids on the page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]

    status, body, _ = await _get(api, LEADERBOARD + "?board=money")
    assert status == 200
    bob = await get_balance(GUILD, 801_000_000_000_000_002)
    assert bob.net_worth > 4_321  # the starting balance and the gift
    assert "Bob Builder" in body and f"{bob.net_worth:,}" in body
    assert "Carol Crane" not in body  # no money: not ranked

    await set_public_pages(GUILD, OWNER, False)
    status, _, _ = await _get(api, LEADERBOARD)
    assert status == 404


async def test_the_seed_stays_secret_until_the_end(api: Api) -> None:
    await _members()
    await set_public_pages(GUILD, OWNER, True)
    running = await _giveaway(end=False)
    row_seed = await gsvc.giveaway_by_pk(running.id)
    assert row_seed is not None and row_seed.seed is None  # the service hides it too
    status, body, _ = await _get(api, f"/public/guilds/{GUILD}/giveaways/{running.giveaway_id}")
    assert status == 200
    assert running.seed_hash in body
    assert "Revealed when the giveaway ends." in body
    from models.giveaways import Giveaway

    secret = (await Giveaway.get(id=running.id)).seed
    assert secret not in body
    assert "verify-draw.js" not in body  # nothing to verify yet
    assert "entries.txt" not in body
    status, _, _ = await _get(
        api, f"/public/guilds/{GUILD}/giveaways/{running.giveaway_id}/entries.txt"
    )
    assert status == 404  # who entered is published with the seed, at the end


async def test_an_ended_giveaway_shows_its_draw_checked_and_the_apis_entries_file(
    api: Api,
) -> None:
    await _members()
    await set_public_pages(GUILD, OWNER, True)
    ended = await _giveaway(end=True)
    assert ended.seed is not None and len(ended.winners) == 2
    page = f"/public/guilds/{GUILD}/giveaways/{ended.giveaway_id.lower()}"
    status, body, headers = await _get(api, page)
    assert status == 200
    assert ended.seed in body and ended.seed_hash in body
    assert "A &lt;b&gt;shiny&lt;/b&gt; badge" in body  # escaped
    for winner in ended.winners:
        assert PEOPLE[winner] in body
    assert 'data-ok="yes"' in body and "✘" not in body
    assert f'data-winners="{",".join(map(str, ended.winners))}"' in body
    assert '<script src="/public/static/verify-draw.js" defer></script>' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]

    status, public_file, _ = await _get(
        api, f"/public/guilds/{GUILD}/giveaways/{ended.giveaway_id}/entries.txt"
    )
    assert status == 200
    key = await api.key(["giveaways:read"])
    status, api_file, _ = await api.call(
        "GET", f"/api/v1/guilds/{GUILD}/giveaways/{ended.giveaway_id}/entries", key=key
    )
    assert status == 200
    assert public_file == api_file
    assert public_file == "".join(f"{user_id}:1\n" for user_id in sorted(PEOPLE))
    assert gsvc.entries_digest(
        (int(u), int(w)) for u, w in (line.split(":") for line in public_file.splitlines())
    ) == ended.entries_digest

    status, body, _ = await _get(api, LEADERBOARD)
    assert status == 200
    assert f'href="/public/guilds/{GUILD}/giveaways/{ended.giveaway_id}"' in body

    status, script, _ = await _get(api, "/public/static/verify-draw.js")
    assert status == 200 and "crypto.subtle.digest" in script


async def test_the_api_switches_the_pages_with_the_same_setting(api: Api) -> None:
    await _members()
    key = await api.key(["guild:read", "guild:write"])
    url = f"/api/v1/guilds/{GUILD}/settings/web"
    status, body, _ = await api.call("GET", url, key=key)
    assert status == 200, body
    assert body["values"] == {"public_pages_enabled": False}
    status, body, _ = await api.call("PATCH", url, key=key, json={"public_pages_enabled": True})
    assert status == 200, body
    assert await public_pages_on(GUILD)
    audit = await AuditLog.filter(guild_id=GUILD, action="web.settings").get()
    assert audit.source == "api" and audit.actor_id == OWNER  # type: ignore[attr-defined]
    status, _, _ = await _get(api, LEADERBOARD)
    assert status == 200


async def test_the_leaderboard_pages_by_ten_and_shows_no_ids(api: Api) -> None:
    await set_public_pages(GUILD, OWNER, True)
    nameless = [802_000_000_000_000_000 + n for n in range(12)]
    for n, user_id in enumerate(nameless):
        await adjust_xp(GUILD, user_id, XpOperation.ADD, 100 + n, now=NOW)
    status, first, _ = await _get(api, LEADERBOARD)
    assert status == 200
    assert "page 1 of 2" in first and 'rel="next"' in first and 'rel="prev"' not in first
    status, second, _ = await _get(api, LEADERBOARD + "?board=xp&page=2")
    assert status == 200
    assert "Page 2 of 2" in second and 'rel="prev"' in second and 'rel="next"' not in second
    assert second.count('<td class="public-name">') == 2  # positions 11 and 12
    assert "<td>11</td>" in second and "<td>12</td>" in second
    assert "Unknown member" in second
    assert not any(str(user_id) in first + second for user_id in nameless)
    status, clamped, _ = await _get(api, LEADERBOARD + "?page=99999999999999")
    assert status == 200 and "page 1 of 2" in clamped  # an unreadable page is the first
