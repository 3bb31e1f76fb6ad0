"""Community over HTTP: welcome and goodbye messages, the server log and autoroles, through the
same services as the slash commands: the same refusals, audited as the key's owner, and a test
greeting queued for the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from models.guilds import GuildSettings
from models.scheduling import ScheduledAction
from models.security import AuditLog, AuditSource, RoleDelegation
from pegasus.localdiscord import DiscordEnv
from pegasus.services import community, moderation
from pegasus.services.community import GreetingKind, LogCategory, LogEvent
from pegasus.services.security import API_SCOPES, create_api_key
from pegasus.web.jobs import JobKind
from tests.e2e.test_role_delegation import cast_of
from tests.e2e.waiting import eventually
from tests.web.beside_bot import SOURCES, api_beside_bot, as_plain
from tests.web.conftest import GUILD, OWNER, Api

COMMUNITY = f"/api/v1/guilds/{GUILD}/community"
CHANNEL = 755_555_555_555_555_501
ROLE = 744_444_444_444_444_401
MEMBER = 766_666_666_666_666_601


async def stored() -> GuildSettings:
    return await GuildSettings.get(guild_id=GUILD)


async def audited(action: str) -> list[AuditLog]:
    return await AuditLog.filter(action=action, guild_id=GUILD).order_by("created_at")


# --------------------------------------------------------------------------- greetings


async def test_a_welcome_is_set_up_read_back_and_audited(api: Api) -> None:
    key = await api.key(["community:read", "community:write"])
    status, before, _ = await api.call("GET", f"{COMMUNITY}/welcome", key=key)
    assert status == 200 and before["enabled"] is False
    status, body, _ = await api.call(
        "PUT",
        f"{COMMUNITY}/welcome",
        key=key,
        json={
            "channel_id": CHANNEL,
            "message": "  Hello {user}, welcome to {server}!  ",
            "embed_enabled": True,
            "embed_color": "#5865F2",
            "embed_title": "Welcome, {username}",
            "dm_enabled": True,
        },
        headers={"User-Agent": "community-test"},
    )
    assert status == 200, body
    assert body["enabled"] is True and body["channel_id"] == CHANNEL
    assert body["message"] == "Hello {user}, welcome to {server}!"  # trimmed, as the command does
    assert (body["embed_color"], body["embed_title"]) == (0x5865F2, "Welcome, {username}")
    assert body["dm_enabled"] is True
    status, read, _ = await api.call("GET", f"{COMMUNITY}/welcome", key=key)
    assert status == 200 and read == body
    row = await stored()
    assert (row.welcome_enabled, row.welcome_channel_id) == (True, CHANNEL)
    [audit] = await audited("welcome.set")
    assert audit.source is AuditSource.API and audit.actor_id == OWNER  # type: ignore[attr-defined]
    assert audit.user_agent == "community-test" and audit.ip_hash
    assert audit.before is not None and audit.before["welcome_enabled"] is False
    assert audit.after is not None and audit.after["welcome_channel_id"] == CHANNEL
    assert await AuditLog.filter(action__startswith="api.").count() == 0

    # Options left out keep their value; `none` clears an optional one.
    status, body, _ = await api.call(
        "PUT", f"{COMMUNITY}/welcome", key=key,
        json={"channel_id": CHANNEL + 1, "embed_title": "none"},
    )
    assert status == 200, body
    assert body["channel_id"] == CHANNEL + 1 and body["embed_title"] is None
    assert body["message"] == "Hello {user}, welcome to {server}!"


async def test_greeting_refusals_are_the_commands_and_change_nothing(api: Api) -> None:
    key = await api.key()
    await community.set_greeting(
        GUILD, OWNER, GreetingKind.WELCOME, channel_id=CHANNEL, message="Hi {user}"
    )
    before = await stored()
    cases = [
        ("welcome", {"channel_id": CHANNEL, "message": "Hi {nobody}"},
         "Unknown placeholder {nobody} in the message. Use {user}, {username}, {server}, "
         "{member_count}."),
        ("welcome", {"channel_id": CHANNEL, "embed_image": "http://example.com/a.png"},
         "The image must be a link starting with https://."),
        ("welcome", {"channel_id": CHANNEL, "embed_color": "not a colour at all"}, None),
        ("welcome", {"channel_id": 0}, None),
        ("goodbye", {"channel_id": CHANNEL, "dm_enabled": True}, None),
    ]
    for kind, sent, sentence in cases:
        status, body, _ = await api.call("PUT", f"{COMMUNITY}/{kind}", key=key, json=sent)
        assert status == 422, (sent, body)
        if sentence is not None:
            assert body["detail"] == sentence
    after = await stored()
    assert (after.welcome_message, after.welcome_embed_image, after.goodbye_enabled) == (
        before.welcome_message, before.welcome_embed_image, before.goodbye_enabled
    )
    assert after.welcome_embed_color == before.welcome_embed_color
    assert len(await audited("welcome.set")) == 1  # the set-up above, nothing since
    assert await audited("goodbye.set") == []


async def test_a_test_greeting_is_queued_once_set_up(api: Api) -> None:
    key = await api.key()
    url = f"{COMMUNITY}/goodbye/test"
    status, body, _ = await api.call("POST", url, key=key, json={"member_id": MEMBER})
    assert status == 404 and body["detail"] == "Set goodbye messages up first."
    assert await ScheduledAction.filter(kind=JobKind.GREETING_TEST.value).count() == 0
    await community.set_greeting(GUILD, OWNER, GreetingKind.GOODBYE, channel_id=CHANNEL)
    status, job, headers = await api.call(
        "POST", url, key=key, json={"member_id": MEMBER}, headers={"Idempotency-Key": "bye-1"}
    )
    assert status == 202, job
    assert job["status"] == "pending" and job["kind"] == "greeting.test"
    assert headers["Location"] == job["url"] == f"/api/v1/jobs/{job['id']}"
    status, again, _ = await api.call(
        "POST", url, key=key, json={"member_id": MEMBER}, headers={"Idempotency-Key": "bye-1"}
    )
    assert status == 202 and again["id"] == job["id"]
    [queued] = await ScheduledAction.filter(kind=JobKind.GREETING_TEST.value)
    assert queued.guild_id == GUILD  # type: ignore[attr-defined]
    assert queued.payload == {"greeting": "goodbye", "member_id": MEMBER, "actor_id": OWNER}
    [audit] = await audited("api.test_goodbye")
    assert audit.source is AuditSource.API and audit.actor_id == OWNER  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the server log


async def test_the_server_log_is_set_read_and_refused_like_the_command(api: Api) -> None:
    key = await api.key(["community:read", "community:write"])
    url = f"{COMMUNITY}/logging"
    status, body, _ = await api.call("PUT", url, key=key, json={"channel_id": CHANNEL})
    assert status == 200, body
    assert body == {
        "enabled": True,
        "channel_id": CHANNEL,
        "events": [event.value for event in LogEvent],
        "category_channels": {category.value: None for category in LogCategory},
    }
    status, body, _ = await api.call(
        "PUT", url, key=key, json={"channel_id": CHANNEL, "events": ["member_join", "automod"]}
    )
    assert status == 200 and body["events"] == ["member_join", "automod"]
    status, read, _ = await api.call("GET", url, key=key)
    assert status == 200 and read == body
    refused = [
        ({"channel_id": CHANNEL, "events": []}, "Choose at least one event to log."),
        ({"channel_id": CHANNEL, "events": ["everything"]}, None),
    ]
    for sent, sentence in refused:
        status, answer, _ = await api.call("PUT", url, key=key, json=sent)
        assert status == 422, answer
        if sentence is not None:
            assert answer["detail"] == sentence
    assert (await stored()).logging_events == ["member_join", "automod"]
    audits = await audited("logging.set")
    assert len(audits) == 2 and all(row.source is AuditSource.API for row in audits)


async def test_a_log_category_gets_its_own_channel_and_is_turned_off(api: Api) -> None:
    key = await api.key(["community:read", "community:write"])
    url = f"{COMMUNITY}/logging/categories"
    status, body, _ = await api.call("PUT", f"{url}/voice", key=key, json={"channel_id": CHANNEL})
    assert status == 200, body
    assert body["category_channels"]["voice"] == CHANNEL and body["enabled"] is True
    assert {"voice_join", "voice_move", "voice_leave"} <= set(body["events"])
    status, body, _ = await api.call(
        "PUT", f"{url}/moderation", key=key, json={"channel_id": CHANNEL}
    )
    assert status == 200 and body["category_channels"]["moderation"] == CHANNEL
    assert (await moderation.get_settings(GUILD)).modlog_channel_id == CHANNEL

    status, body, _ = await api.call("PUT", f"{url}/voice", key=key, json={"channel_id": None})
    assert status == 200 and body["category_channels"]["voice"] is None
    assert not {"voice_join", "voice_move", "voice_leave"} & set(body["events"])
    status, read, _ = await api.call("GET", f"{COMMUNITY}/logging", key=key)
    assert status == 200 and read == body

    status, answer, _ = await api.call("PUT", f"{url}/voice", key=key, json={"channel_id": None})
    assert status == 409 and answer["detail"] == "The voice log is already off."
    status, answer, _ = await api.call("PUT", f"{url}/gossip", key=key, json={"channel_id": None})
    assert status == 404 and "not a log category" in answer["detail"]
    audits = await audited("logging.category")
    assert len(audits) == 2 and all(row.source is AuditSource.API for row in audits)
    assert len(await audited("modlog.set")) == 1


# --------------------------------------------------------------------------- autoroles


async def test_autoroles_are_listed_and_removed_like_the_commands(api: Api) -> None:
    key = await api.key(["community:read", "community:write"])
    await community.add_autorole(GUILD, OWNER, ROLE)
    await community.add_autorole(GUILD, OWNER, ROLE + 1)
    status, body, _ = await api.call("GET", f"{COMMUNITY}/autoroles", key=key)
    assert status == 200 and body == {"enabled": True, "role_ids": [ROLE, ROLE + 1]}
    status, body, _ = await api.call("DELETE", f"{COMMUNITY}/autoroles/{ROLE}", key=key)
    assert status == 200 and body == {"enabled": True, "role_ids": [ROLE + 1]}
    status, body, _ = await api.call("DELETE", f"{COMMUNITY}/autoroles/{ROLE}", key=key)
    assert status == 404 and body["detail"] == "That role is not an autorole."
    status, body, _ = await api.call("DELETE", f"{COMMUNITY}/autoroles/{ROLE + 1}", key=key)
    assert status == 200 and body == {"enabled": False, "role_ids": []}
    removals = await audited("autorole.remove")
    assert len(removals) == 2
    assert all(row.source is AuditSource.API and row.actor_id == OWNER  # type: ignore[attr-defined]
               for row in removals)


# --------------------------------------------------------------------------- in the bot's process


@asynccontextmanager
async def served_by(
    env: DiscordEnv, owner_id: int | None = None, source: str = "bot cache"
) -> AsyncIterator[aiohttp.ClientSession]:
    """The API beside the bot (see tests.web.beside_bot) with a key of `owner_id` (the server's
    owner) for the env's server with every scope."""
    created = await create_api_key(
        owner_id=owner_id or env.owner.id, name="community", scopes=list(API_SCOPES),
        guild_id=env.guild.id, now=datetime.now(UTC), is_bot_owner=False, is_guild_admin=True,
    )
    headers = {"Authorization": f"Bearer {created.secret}"}
    async with (
        api_beside_bot(env, source) as url,
        aiohttp.ClientSession(base_url=url, headers=headers) as session,
    ):
        yield session


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.community"))
@pytest.mark.parametrize("source", SOURCES)
async def test_an_autorole_is_checked_for_the_keys_owner_like_the_command(
    discord_env: DiscordEnv, source: str
) -> None:
    env = discord_env
    cast = await cast_of(env)
    url = f"/api/v1/guilds/{env.guild.id}/community/autoroles"
    async with served_by(env, cast.manager.id, source) as session:
        for role in (cast.moderator, cast.admin, env.guild.default_role):
            said = await cast.manager.slash("autorole add", role=role)
            async with session.post(url, json={"role_id": role.id}) as response:
                problem = await response.json(content_type=None)
                assert response.status in (403, 422), (role.name, problem)
            assert problem["detail"] == as_plain(said.text), role.name
        row = await GuildSettings.get_or_none(guild_id=env.guild.id)
        assert row is None or not row.autorole_role_ids
        assert await RoleDelegation.filter(guild_id=env.guild.id).count() == 0
        assert await AuditLog.filter(source=AuditSource.API).count() == 0

        async with session.post(url, json={"role_id": cast.regular.id}) as response:
            assert response.status == 201, await response.text()
            assert await response.json() == {"enabled": True, "role_ids": [cast.regular.id]}
        async with session.post(url, json={"role_id": cast.regular.id}) as response:
            assert response.status == 409
            assert (await response.json())["detail"] == "That role is already given on join."
    delegation = await RoleDelegation.get(guild_id=env.guild.id, role_id=cast.regular.id)
    assert delegation.configured_by_id == cast.manager.id  # type: ignore[attr-defined]
    [audit] = await AuditLog.filter(action="autorole.add")
    assert audit.source is AuditSource.API
    assert audit.actor_id == cast.manager.id  # type: ignore[attr-defined]


async def job_outcome(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """The job at `url` once it is no longer pending."""
    async def done() -> bool:
        async with session.get(url) as response:
            return (await response.json())["status"] != "pending"

    await eventually(done, f"{url} is carried out")
    async with session.get(url) as response:
        return dict(await response.json())


@pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.community"), scheduler_poll_interval=0.05
)
async def test_a_welcome_set_over_http_is_posted_by_the_bot_when_tested(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    general = env.channel("general")
    url = f"/api/v1/guilds/{env.guild.id}/community/welcome"
    async with served_by(env) as session:
        sent = {"channel_id": general.id, "message": "Welcome {user} to {server}!"}
        async with session.put(url, json=sent) as response:
            assert response.status == 200, await response.text()
        async with session.post(f"{url}/test", json={"member_id": env.alice.id}) as response:
            assert response.status == 202
            job = await response.json()
        outcome = await job_outcome(session, job["url"])
        assert outcome["status"] == "done", outcome
        assert outcome["result"] == {"channel_id": str(general.id), "member_id": str(env.alice.id)}
        await env.settle()
        posted = [m.text for m in general.bot_messages]
        assert f"Welcome {env.alice.mention} to {env.guild.name}!" in posted

        # Someone who is not a member: the bot refuses, and the job says why.
        async with session.post(f"{url}/test", json={"member_id": MEMBER}) as response:
            job = await response.json()
        outcome = await job_outcome(session, job["url"])
        assert outcome["status"] == "failed"
        assert outcome["error"] == "That member is not in this server."


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.community"))
async def test_removing_an_autorole_that_is_not_one_is_refused_with_the_commands_sentence(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    role = await env.guild.create_role("Newcomer")
    await env.settle()
    command = await env.owner.slash("autorole remove", role=role)
    async with served_by(env) as session:
        url = f"/api/v1/guilds/{env.guild.id}/community/autoroles/{role.id}"
        async with session.delete(url) as response:
            assert response.status == 404
            answer = await response.json()
    assert command.ephemeral and answer["detail"] in command.text
