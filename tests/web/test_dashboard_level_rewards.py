"""The dashboard's reward roles and XP multipliers over HTTP, against the local Discord without
the bot in the process: the role rule for the person, refusals of the services, audit with
source web, the CSRF token."""

from __future__ import annotations

import re

import aiohttp

from models.levels import MultiplierTarget, XpMultiplier, XpReward
from models.security import AuditLog, AuditSource
from pegasus.localdiscord.permissions import Permissions
from pegasus.localdiscord.server import LocalDiscord
from pegasus.web import WebServer
from tests.web.test_dashboard_tickets import log_in, web_server

__all__ = ["web_server"]  # the fixture, shared with the tickets page's tests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def test_rewards_and_multipliers_are_added_refused_and_removed(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    path = f"/dashboard/guilds/{guild.id}/levels/rewards"
    moderator = guild.role("Moderator")
    general = guild.channel("general")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        status, page = await person.page(path)
        assert status == 200 and "@Moderator" in page and "#general" in page
        match = CSRF.search(page)
        assert match is not None
        token = match.group(1)
        reward = {"level": "5", "role_id": str(moderator.id), "mode": ""}

        status, page, _ = await person.post(path, reward)  # no CSRF token
        assert status == 403 and not await XpReward.exists()
        status, page, _ = await person.post(path, {**reward, "level": "0", "csrf_token": token})
        assert status == 400 and "The level must be between 1 and" in page
        assert not await XpReward.exists()

        status, _, location = await person.post(path, {**reward, "csrf_token": token})
        assert status == 302 and location.startswith(path)
        stored = await XpReward.get(guild_id=guild.id)
        assert (stored.level, stored.role_id) == (5, moderator.id)
        _, page = await person.page(location)
        assert "@Moderator is given at level 5." in page

        multiplier = {"target": "channel", "channel_id": str(general.id), "percent": "5000"}
        status, page, _ = await person.post(
            f"{path}/multipliers", {**multiplier, "csrf_token": token}
        )
        assert status == 400 and "The multiplier must be between 0% and" in page
        status, _, _ = await person.post(
            f"{path}/multipliers", {**multiplier, "percent": "150", "csrf_token": token}
        )
        assert status == 302
        row = await XpMultiplier.get(guild_id=guild.id)
        assert (row.target_type, row.target_id, row.multiplier) == (
            MultiplierTarget.CHANNEL, general.id, 150,
        )

        status, _, _ = await person.post(
            f"{path}/multipliers/channel/{general.id}/remove", {"csrf_token": token}
        )
        assert status == 302 and not await XpMultiplier.exists()
        status, _, _ = await person.post(
            f"{path}/5/{moderator.id}/remove", {"csrf_token": token}
        )
        assert status == 302 and not await XpReward.exists()
        status, page, _ = await person.post(
            f"{path}/5/{moderator.id}/remove", {"csrf_token": token}
        )
        assert status == 400 and "That role is not a reward for level 5." in page

    rows = await AuditLog.filter(guild_id=guild.id)
    assert sorted(row.action for row in rows) == [
        "levels.multiplier.remove",
        "levels.multiplier.set",
        "levels.reward.add",
        "levels.reward.remove",
    ]
    assert {(row.source, row.actor_id) for row in rows} == {(AuditSource.WEB, guild.owner.id)}


async def test_a_reward_role_follows_the_role_rule_for_the_person(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    manager = guild.new_role("Server Manager", permissions=Permissions.of("manage_guild"))
    alice = guild.member("alice")
    alice.role_ids.append(manager.id)
    path = f"/dashboard/guilds/{guild.id}/levels/rewards"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, alice.id)
        status, page = await person.page(path)
        assert status == 200
        match = CSRF.search(page)
        assert match is not None
        status, page, _ = await person.post(
            path,
            {"level": "5", "role_id": str(guild.role("Moderator").id),
             "csrf_token": match.group(1)},
        )
    assert status == 400
    refusal = re.findall(r'role="alert" id="error-reward">([^<]*)<', page)
    assert refusal == [
        "@Moderator has Ban Members, Kick Members, Timeout Members and Manage Messages: only the "
        "server owner or a member with Administrator can have me give it."
    ]
    assert not await XpReward.exists()
