"""The dashboard's shop over HTTP, against the local Discord without the bot in the process:
items added, refused, taken off sale and removed after a confirmation; a role item under the
role rule for the person; audit with source web."""

from __future__ import annotations

import re

import aiohttp

from models.economy import EconomyShopItem
from models.security import AuditLog, AuditSource
from pegasus.localdiscord.permissions import Permissions
from pegasus.localdiscord.server import LocalDiscord
from pegasus.web import WebServer
from tests.web.test_dashboard_tickets import log_in, web_server

__all__ = ["web_server"]  # the fixture, shared with the tickets page's tests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ALERT = re.compile(r'role="alert" id="error-(\w+)">([^<]*)<')


async def test_items_are_added_refused_taken_off_sale_and_removed(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    path = f"/dashboard/guilds/{guild.id}/economy/shop"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, guild.owner.id)
        status, page = await person.page(path)
        assert status == 200 and "The shop is empty" in page
        match = CSRF.search(page)
        assert match is not None
        token = match.group(1)
        boost = {
            "name": "Double XP", "price": "500", "type": "boost", "boost_kind": "xp",
            "multiplier": "200", "duration_minutes": "0", "csrf_token": token,
        }
        status, page, _ = await person.post(f"{path}/items", boost)
        assert status == 400
        assert ALERT.findall(page) == [("add", "A boost lasts between 1m and 4w 2d.")]
        assert 'value="Double XP"' in page  # what was typed is kept
        assert not await EconomyShopItem.exists()

        status, _, location = await person.post(
            f"{path}/items", {**boost, "duration_minutes": "60"}
        )
        assert status == 302
        item = await EconomyShopItem.get(guild_id=guild.id)
        assert (item.price, item.effect) == (
            500, {"kind": "xp", "multiplier": 200, "duration_seconds": 3600},
        )
        _, page = await person.page(location)
        assert "Double XP is in the shop." in page
        # A notice is shown only from the dashboard's own redirect (signed), never from a link.
        _, page = await person.page(f"{path}?done=Your+session+ended%3A+log+in+at+evil.example")
        assert "evil.example" not in page

        status, page, _ = await person.post(f"{path}/items", {**boost, "duration_minutes": "60"})
        assert status == 400 and "The shop already has an item called Double XP." in page

        status, _, _ = await person.post(f"{path}/items/{item.id}/sale", {"csrf_token": token})
        assert status == 302
        await item.refresh_from_db()
        assert item.enabled is False

        status, page = await person.page(f"{path}/items/{item.id}/remove")
        assert status == 200 and "nothing is refunded" in page
        assert await EconomyShopItem.exists()  # asking changes nothing
        status, _, _ = await person.post(f"{path}/items/{item.id}/remove", {})  # no token
        assert status == 403 and await EconomyShopItem.exists()
        status, _, _ = await person.post(f"{path}/items/{item.id}/remove", {"csrf_token": token})
        assert status == 302 and not await EconomyShopItem.exists()

    rows = await AuditLog.filter(guild_id=guild.id)
    assert sorted(row.action for row in rows) == [
        "shop.item.add", "shop.item.edit", "shop.item.remove",
    ]
    assert {(row.source, row.actor_id) for row in rows} == {(AuditSource.WEB, guild.owner.id)}


async def test_a_role_item_follows_the_role_rule_for_the_person(
    local_discord: LocalDiscord, web_server: WebServer
) -> None:
    guild = local_discord.guild
    manager = guild.new_role("Server Manager", permissions=Permissions.of("manage_guild"))
    alice = guild.member("alice")
    alice.role_ids.append(manager.id)
    path = f"/dashboard/guilds/{guild.id}/economy/shop"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        person = await log_in(local_discord, web_server, http, alice.id)
        _, page = await person.page(path)
        match = CSRF.search(page)
        assert match is not None
        status, page, _ = await person.post(
            f"{path}/items",
            {"name": "Mod", "price": "10", "type": "role",
             "role_id": str(guild.role("Moderator").id), "csrf_token": match.group(1)},
        )
    assert status == 400
    ((form, sentence),) = ALERT.findall(page)
    assert form == "add" and sentence.startswith("@Moderator has Ban Members")
    assert not await EconomyShopItem.exists()
