"""The dashboard's moderation, security incidents and API keys pages over HTTP: a rule's
simulation shown before it is switched on, the blacklist beside the bot (roles and channels by
name, members by name or id, refusals next to their field; refused without
it), incidents noted and resolved, a key's secret shown once and working until revoked; the
services' refusals, the CSRF token, audit with source web."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from models.moderation import WarningAutomation
from models.security import (
    ApiKey,
    AuditLog,
    AuditSource,
    Blacklist,
    IncidentStatus,
    SecurityIncident,
)
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.oauth2 import oauth2_of
from pegasus.localdiscord.permissions import Permissions
from pegasus.localdiscord.server import LocalDiscord
from pegasus.services import moderation
from pegasus.web import WebConfig, WebServer, create_app
from pegasus.web.dashboard import DashboardConfig
from tests.web.conftest import SECRET
from tests.web.test_dashboard_tickets import Browser, log_in, web_server

__all__ = ["web_server"]  # the fixture: the dashboard as `python -m pegasus web` serves it

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ALERT = re.compile(r'role="alert" id="error-([\w-]+)">([^<]*)<')
SECRET_SHOWN = re.compile(r'id="new-secret" readonly value="(pgs_\w+)"')


def token_of(page: str) -> str:
    match = CSRF.search(page)
    assert match is not None
    return match.group(1)


async def warn_twice(guild_id: int, user_id: int, moderator_id: int) -> None:
    for title in ("spam", "more spam"):
        await moderation.issue_warning(
            guild_id=guild_id, user_id=user_id, moderator_id=moderator_id, title=title,
            now=datetime.now(UTC),
        )


async def test_a_rule_is_added_off_simulated_switched_on_and_deleted(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    await warn_twice(guild.id, guild.member("alice").id, guild.owner.id)
    path = f"/dashboard/guilds/{guild.id}/moderation"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        status, page = await person.page(path)
        assert status == 200 and "No automations yet" in page
        token = token_of(page)
        rule = {
            "name": "Two strikes", "trigger": "warn_count", "value": "2", "action": "timeout",
            "csrf_token": token,
        }
        status, page, _ = await person.post(f"{path}/automations", rule)
        assert status == 400
        assert ALERT.findall(page) == [
            ("add", "A timeout automation needs a duration (at most 28 days).")
        ]
        assert 'value="Two strikes"' in page and not await WarningAutomation.exists()

        status, _, location = await person.post(
            f"{path}/automations", {**rule, "duration": "1h"}
        )
        assert status == 302 and "/switch-on?" in location
        stored = await WarningAutomation.get(guild_id=guild.id)
        assert stored.enabled is False and stored.actions == [
            {"type": "timeout", "duration_seconds": 3600}
        ]
        status, page = await person.page(location)
        assert status == 200 and "Two strikes was added, switched off." in page
        assert "Over the 2 stored warnings of 1 member, this rule would have fired" in page
        assert "<strong>1 time</strong>" in page and "<strong>1 member</strong>" in page

        switch = f"{path}/automations/{stored.automation_id}/switch"
        status, _, _ = await person.post(switch, {"enabled": "on"})  # no token
        assert status == 403
        await stored.refresh_from_db()
        assert stored.enabled is False
        status, _, _ = await person.post(switch, {"enabled": "on", "csrf_token": token})
        assert status == 302
        await stored.refresh_from_db()
        assert stored.enabled is True
        # A second click on the same button leaves it on.
        await person.post(switch, {"enabled": "on", "csrf_token": token})
        await stored.refresh_from_db()
        assert stored.enabled is True
        _, page = await person.page(path)
        assert "When 2 warnings: timeout for 1h" in page and "Switch Two strikes off" in page

        remove = f"{path}/automations/{stored.automation_id}/remove"
        status, page = await person.page(remove)
        assert status == 200 and "cannot be undone" in page and await WarningAutomation.exists()
        status, _, _ = await person.post(remove, {"csrf_token": token})
        assert status == 302 and not await WarningAutomation.exists()

    rows = await AuditLog.filter(guild_id=guild.id, action__startswith="automation.")
    assert sorted(row.action for row in rows) == [
        "automation.add", "automation.remove", "automation.toggle",
    ]
    assert {(row.source, row.actor_id) for row in rows} == {(AuditSource.WEB, guild.owner.id)}


async def test_without_the_bot_a_blacklist_entry_is_refused_with_where_to_add_it(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    path = f"/dashboard/guilds/{guild.id}/moderation"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        _, page = await person.page(path)
        status, page, _ = await person.post(
            f"{path}/blacklist",
            {"member": "alice", "reason": "spam", "csrf_token": token_of(page)},
        )
    assert status == 400
    ((form, sentence),) = ALERT.findall(page)
    assert form == "blacklist" and sentence == (
        "This needs the server's members, roles and channels, which only the bot's own process "
        "can see: use /blacklist add in Discord, or the dashboard served by the bot itself."
    )
    assert not await Blacklist.exists()


@pytest.fixture
async def beside_bot(discord_env: DiscordEnv) -> AsyncIterator[WebServer]:
    """The dashboard served in the bot's process, where the bot's cache answers."""
    local = discord_env.server
    config = WebConfig(
        secret=SECRET,
        dashboard=DashboardConfig(
            api_base=local.api_base, client_secret=oauth2_of(local).client_secret,
            permissions_seconds=0,
        ),
    )
    server = WebServer(create_app(config, bot=discord_env.bot), "127.0.0.1", 0)
    await server.start()
    oauth2_of(local).redirect_uris.add(f"{server.url}/dashboard/callback")
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.discord_env(extensions=("cogs.core",))
async def test_beside_the_bot_the_blacklist_is_added_to_refused_and_lifted(
    discord_env: DiscordEnv, beside_bot: WebServer
) -> None:
    guild = discord_env.server.guild
    path = f"/dashboard/guilds/{guild.id}/moderation"
    alice = guild.member("alice")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(discord_env.server, beside_bot, http, guild.owner.id)
        _, page = await person.page(path)
        token = token_of(page)
        entry = {"reason": "spam", "csrf_token": token}
        status, page, _ = await person.post(
            f"{path}/blacklist", {**entry, "member": str(guild.owner.id)}
        )
        assert status == 400 and ALERT.findall(page) == [
            ("blacklist-member", "That would lock out yourself or me; pick someone else.")
        ]
        assert f'value="{guild.owner.id}"' in page  # what was typed, kept
        status, _, location = await person.post(
            f"{path}/blacklist", {**entry, "member": "Alice", "duration": "7d"}
        )
        assert status == 302
        stored = await Blacklist.get(guild_id=guild.id)
        assert (stored.entity_id, stored.active, stored.reason) == (alice.id, True, "spam")
        _, page = await person.page(location)
        assert "alice is blacklisted in this server." in page
        assert "Lift the entry for alice" in page

        lift = f"{path}/blacklist/user/{alice.id}/remove"
        status, _, _ = await person.post(lift, {})  # no token
        await stored.refresh_from_db()
        assert status == 403 and stored.active is True
        status, _, _ = await person.post(lift, {"csrf_token": token})
        await stored.refresh_from_db()
        assert status == 302 and stored.active is False
        status, page, _ = await person.post(lift, {"csrf_token": token})
        assert status == 400 and ALERT.findall(page)[0][0] == "blacklist-list"

    rows = await AuditLog.filter(guild_id=guild.id, action__startswith="blacklist.")
    assert len(rows) == 2
    assert {(row.source, row.actor_id) for row in rows} == {(AuditSource.WEB, guild.owner.id)}


@pytest.mark.discord_env(extensions=("cogs.core",))
async def test_a_blacklisted_role_or_channel_is_picked_by_name_and_a_member_by_name_or_id(
    discord_env: DiscordEnv, beside_bot: WebServer
) -> None:
    guild = discord_env.server.guild
    path = f"/dashboard/guilds/{guild.id}/moderation"
    moderator, general = guild.role("Moderator"), guild.channel("general")
    foreign = 123_456_789_012_345_678
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(discord_env.server, beside_bot, http, guild.owner.id)
        _, page = await person.page(path)
        assert f'<option value="{moderator.id}">@Moderator</option>' in page
        assert f'<option value="{general.id}">#general</option>' in page
        entry = {"reason": "noise", "csrf_token": token_of(page)}

        refused = [
            ({"member": "o"}, "blacklist-member",
             "4 members fit o: bob (bob), carol (carol), mod (mod), owner (owner). Type more "
             "of the name, or the id."),
            ({"member": "zed"}, "blacklist-member",
             "No member of this server is called zed: type their name as Discord shows it, or "
             "their id."),
            ({"member": str(foreign)}, "blacklist-member",
             f"This server has no member with the id {foreign}."),
            ({"member": f"<@!{foreign}>"}, "blacklist-member",  # pasted as a mention
             f"This server has no member with the id {foreign}."),
            ({"role_id": str(foreign)}, "blacklist-role_id",
             f"This server has no role with the id {foreign}: choose one from the list."),
            ({"channel_id": str(foreign)}, "blacklist-channel_id",
             f"This server has no text channel with the id {foreign}: choose one from the list."),
            ({}, "blacklist", "Give the member, the role or the channel to blacklist."),
            ({"member": "alice", "role_id": str(moderator.id)}, "blacklist",
             "Blacklist one member, role or channel at a time: fill in one."),
        ]
        for target, field, sentence in refused:
            status, page, _ = await person.post(f"{path}/blacklist", {**entry, **target})
            assert status == 400 and ALERT.findall(page) == [(field, sentence)], target
            if field != "blacklist":  # the field's error is tied to it
                assert f'aria-invalid="true" aria-describedby="error-{field}"' in page
        assert not await Blacklist.exists()

        status, page, _ = await person.post(
            f"{path}/blacklist", {**entry, "member": "carol", "role_id": "", "channel_id": ""}
        )
        assert status == 302
        for target in ({"role_id": str(moderator.id)}, {"channel_id": str(general.id)}):
            status, _, location = await person.post(f"{path}/blacklist", {**entry, **target})
            assert status == 302
        _, page = await person.page(location)
        assert "#general is blacklisted in this server." in page
        assert "Lift the entry for @Moderator" in page and "Lift the entry for carol" in page

    stored = {(row.entity_type, row.entity_id) for row in await Blacklist.filter(active=True)}
    assert stored == {
        ("user", guild.member("carol").id), ("role", moderator.id), ("channel", general.id),
    }
    rows = await AuditLog.filter(guild_id=guild.id, action="blacklist.add")
    assert len(rows) == 3 and {row.source for row in rows} == {AuditSource.WEB}


async def test_an_incident_is_noted_and_resolved_once(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    incident = await SecurityIncident.create(
        incident_id="I-33333", guild_id=guild.id, type="raid", description="Join burst"
    )
    path = f"/dashboard/guilds/{guild.id}/security/incidents"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        status, page = await person.page(path)
        assert status == 200 and "I-33333 · raid" in page and "Join burst" in page
        token = token_of(page)
        status, page, _ = await person.post(
            f"{path}/I-33333/notes", {"text": " ", "csrf_token": token}
        )
        assert status == 400 and ALERT.findall(page) == [("I-33333", "The note can't be empty.")]
        status, _, location = await person.post(
            f"{path}/I-33333/notes", {"text": "Banned the alts", "csrf_token": token}
        )
        assert status == 302
        _, page = await person.page(location)
        assert "Note added to I-33333 (investigating)." in page and "Banned the alts" in page

        status, _, _ = await person.post(f"{path}/I-33333/resolve", {})  # no token
        await incident.refresh_from_db()
        assert status == 403 and incident.status is IncidentStatus.INVESTIGATING
        status, _, _ = await person.post(f"{path}/I-33333/resolve", {"csrf_token": token})
        await incident.refresh_from_db()
        assert status == 302 and incident.status is IncidentStatus.RESOLVED
        assert incident.resolved_by_id == guild.owner.id  # type: ignore[attr-defined]
        status, page, _ = await person.post(f"{path}/I-33333/resolve", {"csrf_token": token})
        assert status == 400
        assert ALERT.findall(page) == [
            ("I-33333", "Incident `I-33333` is already closed (resolved).")
        ]

    rows = await AuditLog.filter(guild_id=guild.id, target_type="security_incident")
    assert sorted(row.action for row in rows) == ["incident.note", "incident.resolve"]
    assert {row.source for row in rows} == {AuditSource.WEB}


async def api_status(http: aiohttp.ClientSession, url: str, secret: str) -> int:
    async with http.get(url, headers={"Authorization": f"Bearer {secret}"}) as answer:
        return answer.status


async def test_a_key_is_shown_once_works_and_stops_working_when_revoked(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    path = f"/dashboard/guilds/{guild.id}/api-keys"
    api = f"{web_server.url}/api/v1/guilds/{guild.id}/incidents"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        status, page = await person.page(path)
        assert status == 200 and "No keys for this server." in page
        token = token_of(page)
        status, page, _ = await person.post(path, {"name": "ci", "csrf_token": token})
        assert status == 400 and ALERT.findall(page) == [("create", "Choose at least one scope.")]
        status, page, _ = await person.post(
            path, {"name": "ci", "scopes": "security:read", "csrf_token": token}
        )
        assert status == 200
        found = SECRET_SHOWN.search(page)
        assert found is not None
        secret = found.group(1)
        key = await ApiKey.get(guild_id=guild.id)
        assert key.key_hash != secret and secret.startswith(key.key_prefix)
        _, page = await person.page(path)
        assert secret not in page and f"{key.key_prefix}…" in page  # never shown again

        async with aiohttp.ClientSession() as program:
            assert await api_status(program, api, secret) == 200
            revoke = f"{path}/{key.id}/revoke"
            status, page = await person.page(revoke)
            assert status == 200 and "cannot be undone" in page
            status, _, _ = await person.post(revoke, {})  # no token
            assert status == 403 and await api_status(program, api, secret) == 200
            status, _, _ = await person.post(revoke, {"csrf_token": token})
            assert status == 302
            assert await api_status(program, api, secret) == 401

    rows = await AuditLog.filter(target_type="api_key")
    assert sorted(row.action for row in rows) == ["api_key.create", "api_key.revoke"]
    assert {(row.source, row.actor_id) for row in rows} == {(AuditSource.WEB, guild.owner.id)}


async def test_a_manager_who_is_not_an_administrator_may_not_create_a_key(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    manager = guild.new_role("Server Manager", permissions=Permissions.of("manage_guild"))
    alice = guild.member("alice")
    alice.role_ids.append(manager.id)
    path = f"/dashboard/guilds/{guild.id}/api-keys"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person: Browser = await log_in(local_discord, web_server, http, alice.id)
        _, page = await person.page(path)
        status, page, _ = await person.post(
            path, {"name": "mine", "scopes": "security:read", "csrf_token": token_of(page)}
        )
    assert status == 400 and ALERT.findall(page) == [
        ("create", "You need the Administrator permission to create API keys here.")
    ]
    assert not await ApiKey.exists()
