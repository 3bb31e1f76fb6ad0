"""Logging in to the dashboard, the server list, access to a guild page, CSRF and logout,
through a real browser against the local Discord and the real bot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from models.web import WebSession
from pegasus.localdiscord.oauth2 import oauth2_of
from pegasus.localdiscord.permissions import Permissions
from tests.browser.conftest import Dashboard

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",))


async def test_owner_logs_in_and_manages_the_guild(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    answer = await page.goto(dashboard.url)
    assert answer is not None
    await dashboard.shoot(page, "login")
    await page.get_by_role("link", name="Log in with Discord").click()
    assert "/oauth2/authorize" in page.url
    await dashboard.shoot(page, "discord-authorize")
    await page.get_by_role("button", name="owner", exact=True).click()
    await page.wait_for_url(f"{dashboard.url}/guilds")
    await dashboard.shoot(page, "server-list")
    assert await page.get_by_role("link", name=f"Manage {guild.name}").count() == 1
    answer = await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    assert answer is not None and answer.status == 200
    assert await page.get_by_role("heading", level=1).inner_text() == guild.name
    await dashboard.shoot(page, "guild")
    headers = answer.headers
    assert "script-src" not in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    cookies = {cookie["name"]: cookie for cookie in await context.cookies()}
    session_cookie = cookies["pegasus_session"]
    assert session_cookie["httpOnly"] is True
    assert session_cookie["sameSite"] == "Lax"
    assert "pegasus_login" not in cookies  # the login's cookie goes once it is used
    sessions = await WebSession.all()
    assert [row.user_id for row in sessions] == [guild.owner.id]  # type: ignore[attr-defined]
    (token,) = oauth2_of(dashboard.env.server).tokens  # the one Discord gave at this login
    assert token not in sessions[0].access_token  # stored sealed
    assert session_cookie["value"] not in sessions[0].id  # only the secret's hash is stored
    await context.close()


async def test_member_without_manage_server_sees_no_manage_link_and_gets_404(
    dashboard: Dashboard,
) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "alice")
    assert await page.get_by_role("link", name=f"Manage {guild.name}").count() == 0
    assert "You have Manage Server in no server" in await page.inner_text("main")
    answer = await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    assert answer is not None and answer.status == 404
    assert guild.name not in await page.content()
    await dashboard.shoot(page, "not-found")
    # Another guild id, and one that is no number, answer the same.
    for other in ("123456789012345678", "nope"):
        answer = await page.goto(f"{dashboard.url}/guilds/{other}")
        assert answer is not None and answer.status == 404
    await context.close()


async def test_manage_server_is_checked_again_on_every_request(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    manager = await guild.create_role(
        "Server Manager", permissions=Permissions.of("manage_guild"), position=1
    )
    await guild.add_role("alice", manager)
    await dashboard.env.settle()
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "alice")
    await page.get_by_role("link", name=f"Manage {guild.name}").click()
    assert await page.get_by_role("heading", level=1).inner_text() == guild.name
    await guild.remove_role("alice", manager)  # Manage Server taken away in Discord
    await dashboard.env.settle()
    answer = await page.reload()
    assert answer is not None and answer.status == 404
    await page.goto(f"{dashboard.url}/guilds")
    assert await page.get_by_role("link", name=f"Manage {guild.name}").count() == 0
    await context.close()


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    dashboard: Dashboard,
) -> None:
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    for form in ({}, {"csrf_token": "forged"}):
        answer = await context.request.post(f"{dashboard.url}/logout", form=form)
        assert answer.status == 403
        assert "nothing was changed" in await answer.text()
    assert await WebSession.all().count() == 1  # still signed in
    answer = await page.goto(f"{dashboard.url}/guilds")
    assert answer is not None and answer.status == 200
    assert page.url == f"{dashboard.url}/guilds"
    await context.close()


async def test_a_callback_from_another_browser_is_refused(dashboard: Dashboard) -> None:
    """A login started elsewhere (its code and state) does not sign this browser in."""
    victim_context, victim = await dashboard.new_page()
    attacker_context, attacker = await dashboard.new_page()
    captured: list[str] = []

    async def keep_callback(route) -> None:  # type: ignore[no-untyped-def]
        """Where the local Discord sends the attacker back to, kept instead of followed."""
        if route.request.method != "POST":
            await route.continue_()
            return
        answer = await route.fetch(max_redirects=0)
        captured.append(answer.headers["location"])
        await route.fulfill(status=200, body="kept")

    authorize = f"{dashboard.env.server.base_url}/oauth2/authorize"
    await attacker.route(lambda url: url.startswith(authorize), keep_callback)
    await attacker.goto(dashboard.url)
    await attacker.get_by_role("link", name="Log in with Discord").click()
    await attacker.get_by_role("button", name="owner", exact=True).click(no_wait_after=True)
    for _ in range(50):
        if captured:
            break
        await attacker.wait_for_timeout(100)
    assert len(captured) == 1 and captured[0].startswith(f"{dashboard.url}/callback?code=")
    assert "state=" in captured[0]
    answer = await victim.goto(captured[0])
    assert answer is not None and answer.status == 400
    assert "state does not match" in await victim.inner_text("main")
    await dashboard.shoot(victim, "login-refused")
    answer = await victim.goto(f"{dashboard.url}/callback?code=anything&state=forged")
    assert answer is not None and answer.status == 400
    assert await WebSession.all().count() == 0
    await victim_context.close()
    await attacker_context.close()


async def test_logout_ends_the_session(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    assert len(oauth2_of(dashboard.env.server).tokens) == 1
    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_url(dashboard.url)
    assert oauth2_of(dashboard.env.server).tokens == {}  # revoked at Discord too
    assert await page.get_by_role("link", name="Log in with Discord").count() == 1
    assert await WebSession.all().count() == 0
    answer = await page.goto(f"{dashboard.url}/guilds/{guild.id}")
    assert answer is not None
    assert page.url == dashboard.url  # sent to the login page
    await context.close()


async def test_the_pages_fit_a_phone_and_work_from_the_keyboard(dashboard: Dashboard) -> None:
    guild = dashboard.env.server.guild
    context, page = await dashboard.new_page()
    await dashboard.log_in(page, "owner")
    for path in ("/guilds", f"/guilds/{guild.id}"):
        await page.goto(dashboard.url + path)
        await page.set_viewport_size({"width": 375, "height": 700})
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} scrolls sideways on a phone ({width} px)"
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.goto(f"{dashboard.url}/guilds")
    manage = f"Manage {guild.name}"
    for _ in range(10):  # the skip link, the logout button, then the guilds
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.getAttribute('aria-label')") == manage:
            break
    else:
        raise AssertionError("the Manage link cannot be reached with the Tab key")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{dashboard.url}/guilds/{guild.id}")
    await context.close()


def test_without_chromium_the_browser_tests_fail_saying_how_to_install_it() -> None:
    env = {**os.environ, "PEGASUS_CHROMIUM": "/nonexistent/chromium"}
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            f"{__file__}::test_logout_ends_the_session",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout  # failed, not skipped
    assert "apt-get install -y chromium" in result.stdout
    assert "1 error" in result.stdout
