"""Tickets over HTTP: panels (create, read, list, change, buttons, delete, send as a queued job),
tickets with filters and their transcripts, refused with the commands' sentences, changing
nothing when refused, audited with source `api`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditLog, AuditSource, RoleDelegation
from models.tickets import TicketPanel
from pegasus.localdiscord import DiscordEnv
from pegasus.services import tickets as svc
from pegasus.services.directory import MemberInfo, UserInfo, upsert_members
from pegasus.services.security import API_SCOPES, create_api_key
from pegasus.services.tickets import Actor
from pegasus.web import WebConfig, WebServer, create_app, jobs
from pegasus.web.jobs import JobKind
from pegasus.web.roles import UNREADABLE
from tests.e2e.test_role_delegation import cast_of
from tests.e2e.waiting import eventually
from tests.web.beside_bot import SOURCES, api_beside_bot, as_plain
from tests.web.conftest import GUILD, OWNER, SECRET, Api

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.tickets"), scheduler_poll_interval=0.05
)

PANELS = f"/api/v1/guilds/{GUILD}/ticket-panels"
TICKETS = f"/api/v1/guilds/{GUILD}/tickets"
ALICE, BOB, STAFF = 744_444_444_444_444_441, 744_444_444_444_444_442, 744_444_444_444_444_443
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def create_panel(api: Api, key: str, **body: object) -> dict[str, object]:
    status, panel, _ = await api.call(
        "POST", PANELS, key=key, json={"title": "Support", "description": "Ask us", **body}
    )
    assert status == 201, panel
    return panel


async def audited(action: str) -> list[AuditLog]:
    return await AuditLog.filter(action=action).order_by("id")


async def test_a_panel_is_created_read_listed_changed_and_deleted(api: Api) -> None:
    key = await api.key(["tickets:read", "tickets:write"])
    panel = await create_panel(api, key, color="#5865F2", max_tickets_per_user=2)
    assert panel["panel_id"].startswith("TP-")
    assert (panel["color"], panel["max_tickets_per_user"], panel["buttons"]) == (0x5865F2, 2, [])

    status, read, _ = await api.call("GET", f"{PANELS}/{panel['panel_id']}", key=key)
    assert status == 200 and read == panel

    status, changed, _ = await api.call(
        "PATCH", f"{PANELS}/{panel['panel_id']}", key=key,
        json={"title": "Help desk", "is_active": False},
    )
    assert status == 200, changed
    assert (changed["title"], changed["is_active"]) == ("Help desk", False)
    stored = await TicketPanel.get(panel_id=panel["panel_id"])
    assert (stored.title, stored.is_active) == ("Help desk", False)

    status, with_button, _ = await api.call(
        "POST", f"{PANELS}/{panel['panel_id']}/buttons", key=key,
        json={"label": "Billing", "style": "success", "emoji": "🎫"},
    )
    assert status == 201, with_button
    assert with_button["buttons"][0]["label"] == "Billing"
    assert with_button["buttons"][0]["style"] == "success"

    status, deleted, _ = await api.call("DELETE", f"{PANELS}/{panel['panel_id']}", key=key)
    assert status == 200 and deleted["panel_id"] == panel["panel_id"]
    assert not await TicketPanel.exists(panel_id=panel["panel_id"])
    status, gone, _ = await api.call("GET", f"{PANELS}/{panel['panel_id']}", key=key)
    assert status == 404
    assert gone["detail"] == (
        f"There is no ticket panel `{panel['panel_id']}` here; see `/ticket-panel list`."
    )

    for action in ("create", "edit", "button", "delete"):
        rows = await audited(f"tickets.panel.{action}")
        assert len(rows) == 1, action
        assert rows[0].source is AuditSource.API
        assert rows[0].actor_id == OWNER  # type: ignore[attr-defined]
        assert rows[0].guild_id == GUILD  # type: ignore[attr-defined]
        assert rows[0].ip_hash and len(rows[0].ip_hash) == 64
    edit = (await audited("tickets.panel.edit"))[0]
    assert edit.before["title"] == "Support" and edit.after["title"] == "Help desk"


async def test_panels_are_listed_a_page_at_a_time(api: Api) -> None:
    key = await api.key()
    made = [(await create_panel(api, key, title=f"Panel {n}"))["panel_id"] for n in range(3)]
    status, first, _ = await api.call("GET", f"{PANELS}?limit=2", key=key)
    assert status == 200 and first["next_cursor"]
    status, second, _ = await api.call(
        "GET", f"{PANELS}?limit=2&cursor={first['next_cursor']}", key=key
    )
    assert status == 200 and second["next_cursor"] is None
    listed = [p["panel_id"] for p in first["items"] + second["items"]]
    assert listed == made


REFUSED_CREATIONS = [
    ({"title": "x" * 257}, 422, "The panel title must be 1 to 256 characters long."),
    ({"description": "   "}, 422, "The panel description must be 1 to 4,000 characters long."),
    (
        {"max_tickets_per_user": 26},
        422,
        "The number of open tickets per member must be from 1 to 25.",
    ),
    ({"color": "blurple-ish"}, 422, None),
]


@pytest.mark.parametrize(("body", "status", "detail"), REFUSED_CREATIONS)
async def test_a_refused_panel_is_refused_like_the_command_and_stores_nothing(
    api: Api, body: dict[str, object], status: int, detail: str | None
) -> None:
    key = await api.key()
    audits = await AuditLog.all().count()
    answer, problem, _ = await api.call(
        "POST", PANELS, key=key, json={"title": "Support", "description": "Ask us", **body}
    )
    assert answer == status and problem["detail"] == (detail or problem["detail"]), problem
    assert not await TicketPanel.exists()
    assert await AuditLog.all().count() == audits


async def test_refused_changes_say_why_and_change_nothing(api: Api) -> None:
    key = await api.key()
    panel = await create_panel(api, key)
    url = f"{PANELS}/{panel['panel_id']}"
    refusals = [
        ("PATCH", url, {}, 422, "Nothing to change: give at least one option."),
        ("PATCH", url, {"support_role_ids": [755_555_555_555_555_555]}, 409, UNREADABLE),
        ("PATCH", url, {"remove_button": 1}, 422,
         f"Panel `{panel['panel_id']}` has 0 buttons: give a position from 1 to 0."),
        ("PATCH", url, {"color": "not a colour at all"}, 422, None),
        ("POST", f"{url}/buttons", {"label": "Help", "name_format": "ticket-{id}"}, 422,
         "The channel name format may only use {number} and {user}, e.g. `ticket-{number}`."),
        ("POST", f"{url}/buttons", {"label": "Help", "emoji": "hello"}, 422, None),
        ("POST", f"{url}/buttons", {"label": "Help", "support_role_ids": [1]}, 409, UNREADABLE),
        ("POST", f"{url}/send", {"channel_id": 766_666_666_666_666_666}, 422,
         f"Panel `{panel['panel_id']}` has no buttons yet: add one first."),
    ]
    before = await TicketPanel.get(panel_id=panel["panel_id"]).values()
    audits = await AuditLog.all().count()
    for method, path, body, status, detail in refusals:
        answer, problem, _ = await api.call(method, path, key=key, json=body)
        assert answer == status, (body, problem)
        assert problem["detail"] == detail or detail is None, problem
    assert await TicketPanel.get(panel_id=panel["panel_id"]).values() == before
    assert await AuditLog.all().count() == audits
    assert not await ScheduledAction.filter(kind__startswith="job.").exists()

    for _ in range(svc.MAX_BUTTONS):
        status, _, _ = await api.call("POST", f"{url}/buttons", key=key, json={"label": "Help"})
        assert status == 201
    status, problem, _ = await api.call("POST", f"{url}/buttons", key=key, json={"label": "More"})
    assert (status, problem["detail"]) == (
        409, f"Panel `{panel['panel_id']}` already has 5 buttons."
    )
    assert len((await TicketPanel.get(panel_id=panel["panel_id"])).buttons) == svc.MAX_BUTTONS


async def test_sending_a_panel_queues_one_job_even_when_retried(api: Api) -> None:
    key = await api.key()
    panel = await create_panel(api, key)
    url = f"{PANELS}/{panel['panel_id']}"
    await api.call("POST", f"{url}/buttons", key=key, json={"label": "Help"})
    channel = 766_666_666_666_666_666
    answers = [
        await api.call(
            "POST", f"{url}/send", key=key, json={"channel_id": channel},
            headers={"Idempotency-Key": "send-once"},
        )
        for _ in range(2)
    ]
    (status, job, headers), (again, replayed, replay_headers) = answers
    assert (status, again) == (202, 202)
    assert replayed == job and replay_headers["Idempotent-Replayed"] == "true"
    assert job["kind"] == "ticket_panel.send" and job["status"] == "pending"
    assert headers["Location"] == job["url"] == f"/api/v1/jobs/{job['id']}"
    queued = await ScheduledAction.filter(kind=JobKind.TICKET_PANEL_SEND)
    assert len(queued) == 1
    assert queued[0].payload == {
        "panel_id": panel["panel_id"], "channel_id": channel, "actor_id": OWNER
    }
    status, read, _ = await api.call("GET", job["url"], key=key)
    assert status == 200 and read["status"] == "pending"
    audit = await AuditLog.get(action="api.send_ticket_panel")
    assert audit.source is AuditSource.API and audit.after["body"] == {"channel_id": channel}


async def open_ticket(panel_id: str, user_id: int, channel_id: int, *, at: datetime) -> str:
    opened = await svc.open_ticket(
        GUILD, panel_id, 0, user_id, reason="help", user_name="someone", now=at
    )
    ticket = await svc.attach_channel(opened.ticket.id, channel_id, now=at)
    return str(ticket.id)


async def test_tickets_are_listed_with_filters_and_read_with_their_transcript(api: Api) -> None:
    key = await api.key(["tickets:read"])
    panel = await svc.create_panel(
        GUILD, title="Support", description="Ask", max_tickets_per_user=5
    )
    await svc.add_button(GUILD, panel.panel_id, label="Help")
    first = await open_ticket(panel.panel_id, ALICE, 781, at=T0)
    await open_ticket(panel.panel_id, BOB, 782, at=T0 + timedelta(minutes=1))
    await open_ticket(panel.panel_id, ALICE, 783, at=T0 + timedelta(minutes=2))
    await svc.claim(first, Actor(STAFF, is_staff=True), now=T0 + timedelta(minutes=3))
    await upsert_members(
        GUILD,
        [
            MemberInfo(UserInfo(ALICE, username="alice"), nickname="Ali"),
            MemberInfo(UserInfo(STAFF, username="sam")),
        ],
    )
    for message_id, author, content in (
        (9001, ALICE, "My order <b>never</b> came"),
        (9002, STAFF, "Looking into it"),
    ):
        await svc.record_message(
            first,
            svc.MessageRecord(
                message_id=message_id, author_id=author, author_name=f"name{author}",
                author_is_bot=False, content=content, created_at=T0 + timedelta(seconds=message_id),
            ),
        )

    status, page, _ = await api.call("GET", TICKETS, key=key)
    assert status == 200
    assert [t["number"] for t in page["items"]] == [3, 2, 1]
    status, alices, _ = await api.call("GET", f"{TICKETS}?user_id={ALICE}", key=key)
    assert [t["number"] for t in alices["items"]] == [3, 1]
    status, claimed, _ = await api.call("GET", f"{TICKETS}?status=claimed", key=key)
    assert [t["number"] for t in claimed["items"]] == [1]
    assert claimed["items"][0]["claimed_by_id"] == STAFF
    status, by_staff, _ = await api.call("GET", f"{TICKETS}?claimed_by_id={STAFF}", key=key)
    assert [t["number"] for t in by_staff["items"]] == [1]
    status, problem, _ = await api.call("GET", f"{TICKETS}?status=shut", key=key)
    assert status == 422
    assert problem["detail"] == (
        "The status parameter is one of open, claimed, locked, frozen, closed."
    )

    status, ticket, _ = await api.call("GET", f"{TICKETS}/1", key=key)
    assert status == 200 and ticket["id"] == first and ticket["user_id"] == ALICE
    status, problem, _ = await api.call("GET", f"{TICKETS}/99", key=key)
    assert (status, problem["detail"]) == (404, "There is no ticket #0099 in this server.")

    status, transcript, _ = await api.call("GET", f"{TICKETS}/1/transcript", key=key)
    assert status == 200
    assert transcript["ticket"]["number"] == 1
    assert [m["content"] for m in transcript["messages"]] == [
        "My order <b>never</b> came", "Looking into it"
    ]
    status, page_html, headers = await api.call("GET", f"{TICKETS}/1/transcript.html", key=key)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'filename="ticket-0001-transcript.html"' in headers["Content-Disposition"]
    assert "My order &lt;b&gt;never&lt;/b&gt; came" in page_html
    assert "<b>never</b>" not in page_html
    assert "Ali (alice)" in page_html and "sam" in page_html  # names from the directory


async def test_the_bot_posts_a_panel_sent_over_the_api(discord_env: DiscordEnv) -> None:
    env = discord_env
    created = await create_api_key(
        owner_id=env.owner.id, name="panels", scopes=list(API_SCOPES), guild_id=env.guild.id,
        now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True,
    )
    server = WebServer(create_app(WebConfig(secret=SECRET), bot=env.bot), "127.0.0.1", 0)
    await server.start()
    channel = env.channel("announcements")
    headers = {"Authorization": f"Bearer {created.secret}"}
    base = f"/api/v1/guilds/{env.guild.id}/ticket-panels"
    try:
        async with aiohttp.ClientSession(base_url=server.url, headers=headers) as http:
            async with http.post(base, json={"title": "Support", "description": "Ask"}) as r:
                panel = await r.json()
            async with http.post(f"{base}/{panel['panel_id']}/buttons", json={"label": "Help"}):
                pass
            async with http.post(
                f"{base}/{panel['panel_id']}/send", json={"channel_id": channel.id}
            ) as r:
                assert r.status == 202
                job = await r.json()
            for _ in range(600):  # up to 30 s: the job runs when the bot picks it up
                async with http.get(job["url"]) as r:
                    job = await r.json()
                if job["status"] != "pending":
                    break
                await asyncio.sleep(0.05)
            await env.settle()
            assert job["status"] == "done", job
            posted = [message for message in channel.bot_messages if message.buttons]
            assert len(posted) == 1 and posted[0].buttons[0]["label"] == "Help"
            assert job["result"]["message_id"] == str(posted[0].id)
            stored = await TicketPanel.get(panel_id=panel["panel_id"])
            assert (stored.channel_id, stored.message_id) == (channel.id, posted[0].id)

            # Changed over the API, the posted copy follows; deleted, it goes.
            url = f"{base}/{panel['panel_id']}"
            async with http.patch(url, json={"title": "Help desk"}) as r:
                assert r.status == 200
            async with http.post(f"{url}/buttons", json={"label": "Billing"}) as r:
                assert r.status == 201

            async def shows_the_change() -> bool:
                message = posted[0]
                labels = [button["label"] for button in message.buttons]
                title = (message.embed or {}).get("title")
                return title == "Help desk" and labels == ["Help", "Billing"]

            await eventually(shows_the_change, "the posted panel shows the change")
            async with http.delete(url) as r:
                assert r.status == 200

            async def gone() -> bool:
                return not [m for m in channel.bot_messages if m.buttons]

            await eventually(gone, "the posted panel is removed")
    finally:
        await server.stop()
    refreshes = await ScheduledAction.filter(kind=JobKind.TICKET_PANEL_REFRESH).values_list(
        "status", flat=True
    )
    assert refreshes == [ActionStatus.DONE] * 3


@pytest.mark.parametrize("source", SOURCES)
async def test_support_roles_follow_the_commands_role_rule(
    discord_env: DiscordEnv, source: str
) -> None:
    """A support role the command refuses, the API refuses with its sentence and stores
    nothing; one the key's owner could give is stored and recorded as delegated by them."""
    env = discord_env
    cast = await cast_of(env)
    created = await create_api_key(
        owner_id=cast.manager.id, name="panels", scopes=list(API_SCOPES),
        guild_id=env.guild.id, now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True,
    )
    base = f"/api/v1/guilds/{env.guild.id}/ticket-panels"
    answers = []
    headers = {"Authorization": f"Bearer {created.secret}"}
    async with (
        api_beside_bot(env, source) as url,
        aiohttp.ClientSession(base_url=url, headers=headers) as http,
    ):
        for role in (cast.admin, cast.moderator):
            said = await cast.manager.slash(
                "ticket-panel create", title="Support", description="Ask", support_role=role
            )
            async with http.post(
                base, json={"title": "Support", "description": "Ask",
                            "support_role_ids": [role.id]},
            ) as answer:
                answers.append((answer.status, await answer.json(), as_plain(said.text)))
        assert not await TicketPanel.exists()
        assert not await RoleDelegation.filter(guild_id=env.guild.id).exists()
        async with http.post(
            base, json={"title": "Support", "description": "Ask",
                        "support_role_ids": [cast.regular.id]},
        ) as answer:
            accepted = (answer.status, await answer.json())
    for status, problem, said in answers:
        assert status in (403, 422) and problem["detail"] == said, (problem, said)
    status, panel = accepted
    assert status == 201, panel
    assert panel["support_role_ids"] == [cast.regular.id]
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=cast.regular.id)
    assert delegation.configured_by_id == cast.manager.id  # type: ignore[attr-defined]


async def test_a_refresh_queued_before_its_panel_was_deleted_ends_done(
    discord_env: DiscordEnv,
) -> None:
    """Changes in quick succession: a refresh can run after the panel's deletion; it has
    nothing left to do, which is not a failure (the deletion's job removes the posted copy)."""
    env = discord_env
    panel = await svc.create_panel(env.guild.id, title="Support", description="Ask")
    await svc.delete_panel(env.guild.id, panel.panel_id)
    payload = {"panel_id": panel.panel_id, "channel_id": 1, "message_id": 2, "deleted": False}
    job = await jobs.enqueue(
        JobKind.TICKET_PANEL_REFRESH, env.guild.id, payload, actor_id=None, now=datetime.now(UTC)
    )

    async def finished() -> bool:
        row = await ScheduledAction.get(id=job.id)
        return row.status not in (ActionStatus.PENDING, ActionStatus.RUNNING)

    await eventually(finished, "the bot ran the refresh")
    row = await ScheduledAction.get(id=job.id)
    assert row.status == ActionStatus.DONE, row.last_error
