"""The dashboard's giveaways page over HTTP, against the local Discord without the bot in the
process: a giveaway created from a form is stored with its timers and its post queued as the API
queues it; the commands' refusals shown next to the form, changing nothing; end and reroll queued
or refused; a running one cancelled after a confirmation page, its message's refresh queued as
the API's cancel queues it; the entrants a page at a time; the seed shown only after the end,
with the check of the draw; audit with source web; the CSRF token; another guild's giveaway is
a 404."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiohttp

from models.giveaways import Giveaway, GiveawayStatus
from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditLog, AuditSource
from pegasus.localdiscord.server import LocalDiscord
from pegasus.services import giveaways as svc
from pegasus.services.dashboard import set_public_pages
from pegasus.web import WebServer
from pegasus.web.jobs import JobKind
from tests.web.test_dashboard_tickets import Browser, log_in, web_server

__all__ = ["web_server"]  # the fixture, shared with the tickets page's tests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ALERT = re.compile(r'role="alert" id="error-(\w+)">([^<]*)<')
OLD = datetime.now(UTC) - timedelta(days=400)


async def token_of(person: Browser, path: str) -> str:
    status, page = await person.page(path)
    assert status == 200, page
    match = CSRF.search(page)
    assert match is not None
    return match.group(1)


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def stored_giveaway(guild_id: int, channel_id: int, entrants: int) -> svc.GiveawayInfo:
    giveaway = await svc.create_giveaway(
        svc.GiveawayDraft(
            guild_id=guild_id, channel_id=channel_id, host_id=None, prize="Nitro",
            winner_count=1, duration_seconds=3600,
        ),
        now=datetime.now(UTC),
        rng=random.Random(3),
    )
    for index in range(entrants):
        entrant = svc.Entrant(
            700_000_000_000_000_000 + index, account_created_at=OLD, joined_at=OLD
        )
        await svc.toggle_entry(giveaway.id, entrant, now=datetime.now(UTC))
    return giveaway


async def test_a_giveaway_is_created_from_the_form_and_its_post_queued(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    general = guild.channel("general")
    moderator = guild.role("Moderator")
    path = f"/dashboard/guilds/{guild.id}/giveaways"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        _, guild_page = await person.page(f"/dashboard/guilds/{guild.id}")
        assert f'href="{path}"' in guild_page  # the guild page links it
        token = await token_of(person, path)
        _, page = await person.page(path)
        assert "No giveaway is running" in page and "#general" in page
        form = {
            "prize": "Nitro", "channel_id": str(general.id), "duration": "2h", "winners": "2",
            "min_account_age_days": "30", "bonus_role_id": str(moderator.id),
            "bonus_entries": "3", "booster_bonus": "1",
        }

        # Without the CSRF token: refused, nothing stored, nothing queued.
        status, page, _ = await person.post(path, form)
        assert status == 403 and "nothing was changed" in page
        assert not await Giveaway.exists()

        # The commands' refusals, next to the form, with what was typed kept; nothing stored.
        refusals = {
            "duration": ("soon", "How long it lasts: `soon` is not a duration."),
            "winners": ("51", "The number of winners must be between 1 and 50."),
            "channel_id": ("", "Choose the text channel to post the giveaway in."),
            "prize": ("  ", "The prize cannot be empty."),
        }
        for field, (value, sentence) in refusals.items():
            status, page, _ = await person.post(
                path, {**form, field: value, "csrf_token": token}
            )
            assert status == 400, field
            ((name, shown),) = ALERT.findall(page)
            assert name == "create" and sentence in shown, (field, shown)
            assert 'value="Nitro"' in page or field == "prize"
        status, page, _ = await person.post(
            path, {**form, "duration": "5s", "csrf_token": token}
        )
        assert status == 400 and "A giveaway lasts between 10 seconds and 90 days." in page
        assert not await Giveaway.exists()
        assert not await ScheduledAction.filter(kind__startswith="job.").exists()

        # Stored as /giveaway start stores it, with its end timer; its post is queued.
        status, _, location = await person.post(path, {**form, "csrf_token": token})
        assert status == 302 and "job=" in location
        row = await Giveaway.get(guild_id=guild.id)
        assert (row.prize, row.channel_id, row.winner_count) == ("Nitro", general.id, 2)
        assert row.status == GiveawayStatus.ACTIVE and row.host_id == guild.owner.id
        assert row.requirements["min_account_age_days"] == 30
        assert row.bonus_entries == {"roles": {str(moderator.id): 3}, "booster": 1}
        (job,) = await ScheduledAction.filter(kind=JobKind.GIVEAWAY_POST)
        assert job.payload == {"giveaway_id": row.giveaway_id, "actor_id": guild.owner.id}
        assert await ScheduledAction.filter(kind=svc.END_KIND, dedupe_key=row.giveaway_id).exists()
        _, page = await person.page(path_of(location))
        assert "Posting the giveaway: pending" in page
        assert row.giveaway_id in page and "#general" in page

        # Its page: the hash, never the seed, before the end; public pages are off.
        _, page = await person.page(f"{path}/{row.giveaway_id}")
        assert row.seed_hash in page and row.seed not in page
        assert "Nobody has entered yet." in page and "switch them on" in page
        assert f"End {row.giveaway_id} now" in page

    (audit,) = await AuditLog.filter(guild_id=guild.id)
    assert (audit.action, audit.target_type, audit.target_id) == (
        "giveaway.create", "giveaway", row.giveaway_id,
    )
    assert (audit.source, audit.actor_id) == (AuditSource.WEB, guild.owner.id)
    assert audit.ip_hash and audit.user_agent
    assert audit.after["prize"] == "Nitro" and audit.after["duration_seconds"] == 7200


async def test_end_reroll_entries_and_the_check_of_the_draw(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    general = guild.channel("general")
    giveaway = await stored_giveaway(guild.id, general.id, entrants=55)
    path = f"/dashboard/guilds/{guild.id}/giveaways"
    one = f"{path}/{giveaway.giveaway_id}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        token = await token_of(person, path)

        # Entrants a page at a time, in the order of the entry list of the draw.
        _, page = await person.page(one)
        first = re.findall(r"/members/(\d+)", page)
        assert len(first) == 50 and first == sorted(first)
        after = re.search(r'\?after=(\d+)"', page)
        assert after is not None and after.group(1) == first[-1]
        _, page = await person.page(f"{one}?after={after.group(1)}")
        rest = re.findall(r"/members/(\d+)", page)
        assert len(rest) == 5 and set(rest).isdisjoint(first) and "?after=" not in page

        # A reroll before the end is refused with the command's sentence; nothing queued.
        status, page, _ = await person.post(f"{one}/reroll", {"count": "1", "csrf_token": token})
        assert status == 400
        assert ALERT.findall(page) == [(
            "reroll",
            f"Giveaway `{giveaway.giveaway_id}` has not ended; only ended giveaways can be "
            "rerolled.",
        )]

        # End: queued for the bot, as the API queues it; refused without the token.
        status, _, _ = await person.post(f"{one}/end", {})
        assert status == 403
        assert not await ScheduledAction.filter(kind__startswith="job.").exists()
        status, _, location = await person.post(f"{one}/end", {"csrf_token": token})
        assert status == 302 and location.startswith(one) and "job=" in location
        (job,) = await ScheduledAction.filter(kind=JobKind.GIVEAWAY_END)
        assert job.payload["giveaway_id"] == giveaway.giveaway_id
        _, page = await person.page(path_of(location))
        assert "Ending the giveaway: pending" in page

        # What the bot's job does (no bot here): the service ends it; the seed is revealed.
        ended = await svc.end_now(guild.id, giveaway.giveaway_id, now=datetime.now(UTC))
        assert ended.seed is not None and len(ended.winners) == 1
        _, page = await person.page(one)
        assert ended.seed in page and 'data-ok="yes"' in page
        assert page.count("✔") == 3 and "✘" not in page
        assert "(won)" in page or ended.winners[0] not in map(int, first)
        _, page = await person.page(path)
        assert "No giveaway is running" in page and giveaway.giveaway_id in page

        # Ending it again is refused; a reroll is queued.
        status, page, _ = await person.post(f"{one}/end", {"csrf_token": token})
        assert status == 400
        assert f"Giveaway `{giveaway.giveaway_id}` has already ended." in page
        status, page, _ = await person.post(f"{one}/reroll", {"count": "0", "csrf_token": token})
        assert status == 400 and "You can reroll between 1 and 50 winners." in page
        status, _, location = await person.post(
            f"{one}/reroll", {"count": "2", "csrf_token": token}
        )
        assert status == 302
        (reroll,) = await ScheduledAction.filter(kind=JobKind.GIVEAWAY_REROLL)
        assert reroll.payload["count"] == 2

        # With public pages on, the page links the public check of the draw.
        await set_public_pages(guild.id, guild.owner.id, True)
        _, page = await person.page(one)
        assert f'href="/public/guilds/{guild.id}/giveaways/{giveaway.giveaway_id}"' in page

        # A giveaway id that is not one of this guild's: the same 404.
        for missing in ("G-ZZZZZ", "nonsense"):
            status, _ = await person.page(f"{path}/{missing}")
            assert status == 404

    rows = await AuditLog.filter(guild_id=guild.id, action__startswith="giveaway.")
    assert sorted(row.action for row in rows) == ["giveaway.end", "giveaway.reroll"]
    assert {(row.source, row.actor_id) for row in rows} == {(AuditSource.WEB, guild.owner.id)}


async def test_a_running_giveaway_is_cancelled_after_its_confirmation_page(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    giveaway = await stored_giveaway(guild.id, guild.channel("general").id, entrants=2)
    await Giveaway.filter(id=giveaway.id).update(message_id=900_000_000_000_000_001)
    path = f"/dashboard/guilds/{guild.id}/giveaways"
    one = f"{path}/{giveaway.giveaway_id}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        token = await token_of(person, path)
        _, page = await person.page(path)
        assert f'href="{one}/cancel"' in page  # from the list of running giveaways
        _, page = await person.page(one)
        assert f'href="{one}/cancel"' in page  # and from its own page

        status, page = await person.page(f"{one}/cancel")
        assert status == 200 and "nobody wins" in page and "cannot be undone" in page
        assert (await Giveaway.get(id=giveaway.id)).status == GiveawayStatus.ACTIVE

        status, _, _ = await person.post(f"{one}/cancel", {})  # no token
        assert status == 403
        assert (await Giveaway.get(id=giveaway.id)).status == GiveawayStatus.ACTIVE
        status, _, location = await person.post(f"{one}/cancel", {"csrf_token": token})
        assert status == 302 and location.startswith(one) and "job=" in location

        stored = await Giveaway.get(id=giveaway.id)
        assert (stored.status, stored.cancelled_by_id) == (GiveawayStatus.CANCELLED, guild.owner.id)
        timers = await ScheduledAction.filter(kind=svc.END_KIND)
        assert timers and {t.status for t in timers} == {ActionStatus.CANCELLED}
        (job,) = await ScheduledAction.filter(kind=JobKind.GIVEAWAY_REFRESH)
        assert job.payload["giveaway_id"] == giveaway.giveaway_id
        _, page = await person.page(path_of(location))
        assert "Updating the giveaway's message: pending" in page
        assert "It was cancelled; nobody won." in page and f'href="{one}/cancel"' not in page

        # Twice: refused with the API's sentence next to the button; the confirmation page of a
        # giveaway that is over leads back to its page.
        status, page, _ = await person.post(f"{one}/cancel", {"csrf_token": token})
        assert status == 400 and ALERT.findall(page) == [
            ("cancel", f"Giveaway `{giveaway.giveaway_id}` was already cancelled.")
        ]
        status, _ = await person.page(f"{one}/cancel")
        assert status == 302
        status, _ = await person.page(f"{path}/G-ZZZZZ/cancel")
        assert status == 404

    assert await ScheduledAction.filter(kind=JobKind.GIVEAWAY_REFRESH).count() == 1
    (row,) = await AuditLog.filter(guild_id=guild.id, action="giveaway.cancel")
    assert (row.source, row.actor_id, row.target_id) == (
        AuditSource.WEB, guild.owner.id, giveaway.giveaway_id
    )
    assert row.after == {"status": "cancelled", "job": job.id}


async def test_a_member_without_manage_server_gets_404_and_ends_nothing(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    giveaway = await stored_giveaway(guild.id, guild.channel("general").id, entrants=1)
    path = f"/dashboard/guilds/{guild.id}/giveaways"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.member("alice").id)
        status, page = await person.page(path)
        assert status == 404 and "Nitro" not in page
        token = await token_of(person, "/dashboard/guilds")
        status, _ = await person.page(f"{path}/{giveaway.giveaway_id}")
        assert status == 404
        status, _, _ = await person.post(
            f"{path}/{giveaway.giveaway_id}/end", {"csrf_token": token}
        )
        assert status == 404
    assert not await ScheduledAction.filter(kind__startswith="job.").exists()
    assert (await Giveaway.get(id=giveaway.id)).status == GiveawayStatus.ACTIVE
