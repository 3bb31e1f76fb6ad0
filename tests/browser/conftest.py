"""The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium) driven by Playwright.

`dashboard` starts, in this event loop, the local Discord with the demo guild, the real bot on
the test's database, the web application beside it (dashboard and API, as in the bot's process)
and a headless Chromium. Without Chromium the tests fail (CI must not pass without them).
Screenshots go to tests/browser/artifacts/ (`Dashboard.shoot`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.oauth2 import oauth2_of
from pegasus.web import WebConfig, WebServer, create_app
from pegasus.web.dashboard import DashboardConfig
from tests.web.conftest import SECRET

# Debian's package; PEGASUS_CHROMIUM names another build (and lets a test see the refusal).
CHROMIUM = Path(os.environ.get("PEGASUS_CHROMIUM", "/usr/bin/chromium"))
MISSING_CHROMIUM = (
    "The browser tests need Chromium at {path}: install it with `apt-get install -y chromium` "
    "and run them again."
)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WIDTHS = {"desktop": 1280, "phone": 375}


@dataclass
class Dashboard:
    env: DiscordEnv
    server: WebServer
    browser: Browser

    @property
    def url(self) -> str:
        return f"{self.server.url}/dashboard"

    async def new_page(self) -> tuple[BrowserContext, Page]:
        viewport = {"width": WIDTHS["desktop"], "height": 800}
        context = await self.browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        return context, await context.new_page()

    async def log_in(self, page: Page, person: str) -> None:
        """Log in through the local Discord's OAuth2 page as `person` (a demo user's name)."""
        await page.goto(self.url)
        await page.get_by_role("link", name="Log in with Discord").click()
        await page.get_by_role("button", name=person, exact=True).click()
        await page.wait_for_url(f"{self.url}/guilds")

    async def shoot(self, page: Page, name: str) -> None:
        """Screenshots of the page at desktop and phone widths."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for label, width in WIDTHS.items():
            await page.set_viewport_size({"width": width, "height": 800})
            await page.screenshot(path=ARTIFACTS / f"{name}-{label}.png", full_page=True)
        await page.set_viewport_size({"width": WIDTHS["desktop"], "height": 800})


@pytest.fixture
def chromium() -> Path:
    """The browser, or the test fails (never skips): CI without Chromium must not pass."""
    if not CHROMIUM.is_file():
        pytest.fail(MISSING_CHROMIUM.format(path=CHROMIUM), pytrace=False)
    return CHROMIUM


@pytest.fixture
async def dashboard(chromium: Path, discord_env: DiscordEnv) -> AsyncIterator[Dashboard]:
    local = discord_env.server
    config = WebConfig(
        secret=SECRET,
        dashboard=DashboardConfig(
            api_base=local.api_base,
            client_secret=oauth2_of(local).client_secret,
            permissions_seconds=0,  # every page asks Discord again, so tests see changes at once
        ),
    )
    server = WebServer(create_app(config, bot=discord_env.bot), "127.0.0.1", 0)
    await server.start()
    oauth2_of(local).redirect_uris.add(f"{server.url}/dashboard/callback")
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(chromium))
            try:
                yield Dashboard(discord_env, server, browser)
            finally:
                await browser.close()
    finally:
        await server.stop()
