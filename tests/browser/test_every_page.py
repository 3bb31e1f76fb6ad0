"""Every page of the dashboard in a real browser, at desktop (1280x800) and phone (375x740) width.

The pages are not listed by hand: every GET route of the web application under /dashboard and
/public is taken from its router, its placeholders filled in with rows this test creates (a
running and an ended giveaway, a ticket panel and a ticket, a shop item, an automation, an API
key, ...). A route neither visited nor excluded below with its reason fails the test, so a new
page is checked the day it is added.

Each page, logged in as the guild's owner: HTTP 200 for the very URL asked (a confirmation page
that redirects because its row is missing would hide that page), a full-page screenshot in
tests/browser/artifacts/every-page/, no console error, no Content-Security-Policy violation, no
horizontal scrolling of the page at 375 px (a wide table may scroll inside its own container),
every visible input, select and textarea labelled, and every form's submit button reached by
pressing Tab. Closed <details> are opened first, as a person would, so what they hold is checked
too. All problems are gathered and reported together.
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    async_playwright,
)

from models.levels import MultiplierTarget
from models.security import BlacklistEntityType, SecurityIncident
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import economy, levels, moderation, security, tickets
from pegasus.services import giveaways as giveaway_service
from pegasus.services.dashboard import set_public_pages
from pegasus.services.economy.settings import SETTINGS as ECONOMY
from pegasus.services.levels.xp import XpOperation, adjust_xp
from pegasus.services.settings import apply_changes, declared, read_settings
from pegasus.web import jobs
from pegasus.web.dashboard.feature_settings import page_of
from pegasus.web.dashboard.pages import SECURITY_HEADERS
from tests.browser.conftest import ARTIFACTS, Dashboard

pytestmark = pytest.mark.discord_env(extensions=("cogs.core",))

SHOTS = ARTIFACTS / "every-page"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 740}}
PREFIXES = ("/dashboard", "/public")  # the dashboard's pages and its public pages
NOW = datetime.now(UTC).replace(microsecond=0)
# Names are long single words where a service allows them, so that a page that cannot wrap them
# scrolls sideways on a phone and is caught.
LONG = "Supercalifragilisticexpialidocious"
PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")

# GET routes this test does not visit, and why.
EXCLUDED = {
    "/dashboard/login": "only redirects to Discord's OAuth2 page; Dashboard.log_in goes through it",
    "/dashboard/callback": "Discord's redirect back with a one-time code; log_in goes through it",
}
# Files, not pages: fetched (200 and their type, at the URL asked) but not rendered nor shot.
FILES = {
    "/dashboard/static/dashboard.css": "text/css",
    "/dashboard/static/live-preview.js": "text/javascript",
    "/public/static/verify-draw.js": "text/javascript",
    "/public/guilds/{guild_id}/giveaways/{giveaway_id}/entries.txt": "text/plain",
    # A download (Content-Disposition: attachment): the browser saves it instead of showing it.
    "/dashboard/guilds/{guild_id}/tickets/{number}/transcript": "text/html",
}
# Seen without a session: with one it only redirects to the server list (visited on its own).
LOGGED_OUT = {"/dashboard"}
# Placeholders a route takes only some of the values of, and why.
NARROWED = {
    # The entries file is published with the seed, after the end; before it, the answer is 404.
    ("/public/guilds/{guild_id}/giveaways/{giveaway_id}/entries.txt", "giveaway_id"): ("ended",),
    # Only a running giveaway can be cancelled; for an ended one the page sends back to it.
    ("/dashboard/guilds/{guild_id}/giveaways/{giveaway_id}/cancel", "giveaway_id"): ("running",),
}
# Other states of a page, reached by a query string (the page is visited without it too): the
# word naming the state, and the query; placeholders in it are filled as in the path.
STATES = {
    "/dashboard/guilds/{guild_id}": (("7-days", "days=7"), ("90-days", "days=90")),
    "/dashboard/guilds/{guild_id}/members": (("search", "q=ali"),),
    "/dashboard/guilds/{guild_id}/history": (("economy", "feature=economy"),),
    "/dashboard/guilds/{guild_id}/tickets": (("job", "job={panel_job}"),),
    "/dashboard/guilds/{guild_id}/giveaways": (("job", "job={giveaway_job}"),),
    "/public/guilds/{guild_id}/leaderboard": (("money", "board=money"),),
}


@dataclass(frozen=True)
class Filled:
    """A value for a route's placeholder, and the word naming it in a screenshot's file name."""

    label: str
    value: str


@dataclass(frozen=True)
class Visit:
    route: str  # the router's template, e.g. /dashboard/guilds/{guild_id}/tickets
    path: str
    name: str  # of the screenshots


# the rows the pages show ------------------------------------------------------------------------
async def create_rows(env: DiscordEnv) -> dict[str, tuple[Filled, ...]]:
    """Something on every page, made by the services the commands use; what fills each
    placeholder."""
    guild_id, owner, alice = env.guild.id, env.owner.id, env.alice.id
    env.server.guild.name = f"{LONG}Server"  # as Discord names it to the dashboard from now on
    await set_public_pages(guild_id, owner, True)
    await adjust_xp(guild_id, alice, XpOperation.ADD, 1200, now=NOW)
    await moderation.issue_warning(
        guild_id=guild_id, user_id=alice, moderator_id=owner, title=f"{LONG}Spam", now=NOW
    )
    daily = (await read_settings(ECONOMY, guild_id))["daily_amount"]
    await apply_changes(ECONOMY, guild_id, owner, {"daily_amount": daily + 150})  # a history
    panel = await tickets.create_panel(
        guild_id, title=f"{LONG}Support", description=f"Ask{LONG}Questions"
    )
    await tickets.add_button(guild_id, panel.panel_id, label=f"{LONG}"[:30])
    opened = await tickets.open_ticket(
        guild_id, panel.panel_id, 0, alice, reason=f"{LONG}Help", user_name="alice", now=NOW
    )
    item = await economy.add_item(
        guild_id, name=f"{LONG}Trophy", price=250, description=f"{LONG}Shiny"
    )
    rule = await moderation.add_automation(
        guild_id, name=f"{LONG}Rule", trigger_type="warn_count", trigger_value=2,
        actions=[{"type": "timeout", "duration_seconds": 3600}], actor_id=owner, now=NOW,
    )
    key = await security.create_api_key(
        owner_id=owner, name=f"{LONG}Key", scopes=["security:read"], guild_id=guild_id, now=NOW,
        is_bot_owner=False, is_guild_admin=True,
    )
    await SecurityIncident.create(
        incident_id="I-33333", guild_id=guild_id, type="raid", description=f"{LONG}JoinBurst"
    )
    await security.add_incident_note(guild_id, "I-33333", owner, f"{LONG}Note", NOW)
    await moderation.add_entry(
        BlacklistEntityType.USER, env.bob.id, guild_id=guild_id, actor_id=owner,
        reason=f"{LONG}Reason", now=NOW,
    )
    general = env.channel("general").id
    await levels.add_reward(guild_id, 5, env.guild.role("Moderator").id, actor_id=owner)
    await levels.set_multiplier(guild_id, MultiplierTarget.CHANNEL, general, 150, actor_id=owner)
    running, ended = await create_giveaways(env)
    # Queued for the bot, as the pages' forms queue them; shown by the page the form returns to.
    panel_job = await jobs.enqueue_ticket_panel_send(
        guild_id, panel.panel_id, general, actor_id=owner, now=NOW
    )
    giveaway_job = await jobs.enqueue_giveaway_post(guild_id, running, actor_id=owner, now=NOW)
    return {
        "guild_id": (Filled("guild", str(guild_id)),),
        "page": tuple(Filled(page, page) for page in sorted({page_of(f) for f in declared()})),
        "user_id": (Filled("alice", str(alice)),),
        "panel_id": (Filled("panel", panel.panel_id),),
        "number": (Filled("ticket", str(opened.ticket.number)),),
        "item_id": (Filled("item", str(item.id)),),
        "automation_id": (Filled("rule", rule.automation_id),),
        "key_id": (Filled("key", str(key.key.id)),),
        "giveaway_id": (Filled("running", running), Filled("ended", ended)),
        "panel_job": (Filled("job", str(panel_job.id)),),
        "giveaway_job": (Filled("job", str(giveaway_job.id)),),
    }


async def create_giveaways(env: DiscordEnv) -> tuple[str, str]:
    """A running giveaway with an entry, and an ended one with its winner: their ids."""
    made = []
    for prize in (f"{LONG}Nitro", f"{LONG}Mug"):
        draft = giveaway_service.GiveawayDraft(
            guild_id=env.guild.id, channel_id=env.channel("general").id, host_id=env.owner.id,
            prize=prize, winner_count=1, duration_seconds=3600,
        )
        created = await giveaway_service.create_giveaway(draft, now=NOW, rng=random.Random(14))
        for member in (env.alice, env.bob):
            await giveaway_service.toggle_entry(
                created.id, giveaway_service.Entrant(member.id), now=NOW
            )
        made.append(created)
    running, finished = made
    ended = await giveaway_service.end_giveaway(finished.id, now=NOW + timedelta(hours=2))
    assert ended is not None
    return running.giveaway_id, ended.giveaway_id


# what to visit ----------------------------------------------------------------------------------
def dashboard_routes(app: web.Application) -> list[str]:
    """Every GET route of the dashboard and the public pages, from the application's router."""
    return sorted(
        {
            route.resource.canonical
            for route in app.router.routes()
            if route.method == "GET"
            and route.resource is not None
            and route.resource.canonical.startswith(PREFIXES)
        }
    )


def visits_of(route: str, values: Mapping[str, tuple[Filled, ...]]) -> list[Visit]:
    """The route with each combination of the values of its placeholders."""
    names = PLACEHOLDER.findall(route)
    choices = []
    for name in names:
        if name not in values:
            raise LookupError(
                f"{route}: no row fills {{{name}}}; create one in create_rows (or exclude the "
                "route in EXCLUDED with the reason)"
            )
        wanted = NARROWED.get((route, name))
        choices.append([f for f in values[name] if wanted is None or f.label in wanted])
    visits = []
    for chosen in itertools.product(*choices):
        filled = dict(zip(names, chosen, strict=True))
        path, name = _filled(route, filled), _name(route, filled)
        visits.append(Visit(route, path, name))
        visits += [
            Visit(route, f"{path}?{_filled(query, _first(values))}", f"{name}-{state}")
            for state, query in STATES.get(route, ())
        ]
    return visits


def _first(values: Mapping[str, tuple[Filled, ...]]) -> dict[str, Filled]:
    return {name: filled[0] for name, filled in values.items() if filled}


def _filled(route: str, chosen: Mapping[str, Filled]) -> str:
    return PLACEHOLDER.sub(lambda match: chosen[match.group(1)].value, route)


def _name(route: str, chosen: Mapping[str, Filled]) -> str:
    """/dashboard/guilds/{guild_id}/settings/{page} with page=levels: guild-settings-levels."""
    words: list[str] = []
    for segment in route.strip("/").split("/"):
        placeholder = PLACEHOLDER.fullmatch(segment)
        if placeholder and placeholder.group(1) == "guild_id" and words[-1:] == ["guilds"]:
            words[-1] = "guild"
        elif placeholder:
            words.append(chosen[placeholder.group(1)].label)
        elif segment != "dashboard":
            words.append(segment.split(".")[0])
    return "-".join(words) or "home"


# the checks of one page ---------------------------------------------------------------------
# Kept by the page's own listener: Chromium also logs a violation on the console, but the event
# says which directive refused what.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.violatedDirective} refused ${event.blockedURI}`);
});
"""
DESCRIBE = """
const describe = (el) => {
  const id = el.id ? `#${el.id}` : '';
  const classes = [...el.classList].map((c) => `.${c}`).join('');
  const name = el.getAttribute('name') ? `[name=${el.getAttribute('name')}]` : '';
  const text = (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
  return `<${el.tagName.toLowerCase()}${id}${classes}${name}> "${text}"`;
};
"""
OPEN_DETAILS = "() => document.querySelectorAll('details').forEach((d) => { d.open = true; })"
# What makes the page itself wider than the window: the innermost elements reaching past its
# right edge that are not inside a container scrolling on its own.
OVERFLOW = DESCRIBE + """
const width = document.documentElement.clientWidth;
const wide = document.documentElement.scrollWidth;
if (wide <= width) return [];
const contained = (el) => {
  for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
    if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return true;
  }
  return false;
};
const past = [...document.body.querySelectorAll('*')].filter(
  (el) => el.getBoundingClientRect().right > width + 0.5 && !contained(el));
const innermost = past.filter((el) => !past.some((other) => other !== el && el.contains(other)));
return [`the page is ${wide}px wide`,
        ...innermost.slice(0, 6).map((el) =>
          `${describe(el)} reaches ${Math.round(el.getBoundingClientRect().right)}px`)];
"""
UNLABELLED = DESCRIBE + """
const text = (el) => (el && el.textContent || '').trim();
const unlabelled = [];
for (const field of document.querySelectorAll('input, select, textarea')) {
  if (['hidden', 'submit', 'button', 'reset', 'image'].includes(field.type)) continue;
  if (!field.checkVisibility({ checkVisibilityCSS: true })) continue;
  const byLabel = [...(field.labels || [])].some((label) => text(label));
  const byAria = (field.getAttribute('aria-label') || '').trim()
    || (field.getAttribute('aria-labelledby') || '').split(/\\s+/)
      .some((id) => text(document.getElementById(id)));
  if (!byLabel && !byAria) unlabelled.push(describe(field));
}
return unlabelled;
"""
# Marks each visible submit button for the focus listener; returns them, the forms without one,
# and how many stops Tab may make on the page (the most presses a full round can take).
MARK_SUBMIT_BUTTONS = DESCRIBE + """
const visible = (el) => el.checkVisibility({ checkVisibilityCSS: true });
const submits = [...document.querySelectorAll(
  'button:not([type]), button[type=submit], input[type=submit], input[type=image]')]
  .filter((el) => el.form && visible(el));
submits.forEach((el, index) => { el.dataset.tabTarget = String(index); });
window.__reached = new Set();
document.addEventListener('focusin', (event) => {
  const target = event.target.dataset && event.target.dataset.tabTarget;
  if (target !== undefined) window.__reached.add(target);
});
const forms = [...document.forms].filter(visible);
const withoutSubmit = forms.filter((form) => !submits.some((el) => el.form === form));
const stops = [...document.querySelectorAll(
  'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')]
  .filter(visible).length;
return { submits: submits.map(describe), withoutSubmit: withoutSubmit.map(describe), stops };
"""


async def check_page(
    context: BrowserContext, base: str, visit: Visit, width: str, shots: Path
) -> list[str]:
    page = await context.new_page()
    console: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.append(message.text)

    page.on("console", note)
    page.on("pageerror", lambda error: console.append(f"uncaught: {error}"))
    where = f"{visit.path} at {width} width"
    try:
        answer = await page.goto(base + visit.path)
        if answer is None or answer.status != 200 or answer.url != base + visit.path:
            status = answer.status if answer else "nothing"
            return [f"{where}: answered {status} at {page.url}, not 200 at the URL asked"]
        await page.screenshot(path=shots / f"{visit.name}-{width}.png", full_page=True)
        await page.evaluate(OPEN_DETAILS)
        problems = [f"unlabelled {field}" for field in await _run(page, UNLABELLED)]
        if width == "phone":
            problems += [f"scrolls sideways: {why}" for why in await _run(page, OVERFLOW)]
        problems += await _tab_reaches_every_submit_button(page)
        violations = await page.evaluate("window.__cspViolations || []")
        problems += [f"CSP violation: {violation}" for violation in violations]
        problems += [f"console error: {text}" for text in console]
        return [f"{where}: {problem}" for problem in problems]
    finally:
        await page.close()


async def _run(page: Page, body: str) -> Any:
    return await page.evaluate(f"() => {{ {body} }}")


async def _tab_reaches_every_submit_button(page: Page) -> list[str]:
    marked = await _run(page, MARK_SUBMIT_BUTTONS)
    problems = [f"a form without a submit button: {form}" for form in marked["withoutSubmit"]]
    wanted = len(marked["submits"])
    reached: list[str] = []
    presses = 0
    while len(reached) < wanted and presses < marked["stops"] + 2:
        for _ in range(10):
            await page.keyboard.press("Tab")
        presses += 10
        reached = await page.evaluate("[...window.__reached]")
    missed = [
        button for index, button in enumerate(marked["submits"]) if str(index) not in reached
    ]
    return problems + [f"Tab never reaches the submit button {button}" for button in missed]


async def check_file(context: BrowserContext, base: str, visit: Visit) -> list[str]:
    answer = await context.request.get(base + visit.path, max_redirects=0)
    kind = answer.headers.get("content-type", "")
    if answer.status == 200 and kind.startswith(FILES[visit.route]):
        return []
    return [f"{visit.path}: answered {answer.status} {kind}, not 200 {FILES[visit.route]}"]


# the test -------------------------------------------------------------------------------------
async def contexts(
    dashboard: Dashboard, browser: Browser, *, logged_in: bool
) -> dict[str, BrowserContext]:
    """A browser context per width; logged in as the guild's owner through the OAuth page."""
    made = {}
    storage: Any = None
    if logged_in:
        first, page = await dashboard.new_page()
        await dashboard.log_in(page, "owner")
        storage = await first.storage_state()
        await first.close()
    for width, viewport in VIEWPORTS.items():
        made[width] = await browser.new_context(
            viewport=viewport, storage_state=storage  # type: ignore[arg-type]
        )
        await made[width].add_init_script(RECORD_CSP_VIOLATIONS)
    return made


# About eighty page loads with their checks: longer than the suite's 120 s on a loaded machine.
@pytest.mark.timeout(360)
async def test_every_page_at_desktop_and_phone_width(dashboard: Dashboard) -> None:
    values = await create_rows(dashboard.env)
    routes = dashboard_routes(dashboard.server.app)
    problems = [f"{route}: excluded but not a route" for route in EXCLUDED if route not in routes]
    problems += [f"{route}: a file but not a route" for route in FILES if route not in routes]
    visits: list[Visit] = []
    for route in routes:
        if route in EXCLUDED:
            continue
        try:
            visits += visits_of(route, values)
        except LookupError as unfillable:
            problems.append(str(unfillable))
    unvisited = set(routes) - set(EXCLUDED) - {visit.route for visit in visits}
    problems += [f"{route}: neither visited nor excluded" for route in sorted(unvisited)]
    shutil.rmtree(SHOTS, ignore_errors=True)  # only this run's pages: none of a removed one
    SHOTS.mkdir(parents=True)
    manager = await contexts(dashboard, dashboard.browser, logged_in=True)
    anonymous = await contexts(dashboard, dashboard.browser, logged_in=False)
    base = dashboard.server.url
    for visit in visits:
        if visit.route in FILES:
            problems += await check_file(manager["desktop"], base, visit)
            continue
        for width in VIEWPORTS:
            person = anonymous if visit.route in LOGGED_OUT else manager
            problems += await check_page(person[width], base, visit, width, SHOTS)
    for context in (*manager.values(), *anonymous.values()):
        await context.close()
    pages = [visit for visit in visits if visit.route not in FILES]
    assert not problems, f"{len(problems)} problems on {len(pages)} pages:\n" + "\n".join(problems)


# the checks themselves ---------------------------------------------------------------------------
CHECKS_BASE = "http://checks.test"
BROKEN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/style.css"><title>Broken</title></head><body>
<form method="post"><input name="nameless"><button type="submit" tabindex="-1">Save</button></form>
<form method="post"><label for="kept">Kept</label><input id="kept" name="kept"></form>
<div class="wide">wide</div>
<script>document.title = "inline";</script>
</body></html>"""
SOUND_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/style.css"><title>Sound</title></head><body>
<form method="post"><label for="name">Name</label><input id="name" name="name">
<label><input type="checkbox" name="on"> On</label>
<select aria-label="Colour" name="colour"><option>blue</option></select>
<details><summary>More</summary><textarea aria-label="Notes" name="notes"></textarea>
<button type="submit">Save</button></details></form>
<div class="scrolls"><div class="wide">a wide table scrolls in its own box</div></div>
</body></html>"""
STYLE = ".wide { width: 600px; } .scrolls { overflow-x: auto; }"


async def test_the_checks_find_what_they_look_for(chromium: Path, tmp_path: Path) -> None:
    """Each check of a page fails on a page made to break it, and none on a sound page; served
    with the dashboard's own security headers."""
    served = {"/broken": BROKEN_PAGE, "/sound": SOUND_PAGE, "/style.css": STYLE}

    async def serve(route: Route) -> None:
        path = route.request.url.removeprefix(CHECKS_BASE)
        kind = "text/css" if path.endswith(".css") else "text/html"
        await route.fulfill(
            status=200 if path in served else 404, body=served.get(path, "gone"),
            content_type=kind, headers=SECURITY_HEADERS,
        )

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium))
        try:
            found: dict[str, list[str]] = {}
            for width, viewport in VIEWPORTS.items():
                context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
                await context.add_init_script(RECORD_CSP_VIOLATIONS)
                await context.route(f"{CHECKS_BASE}/**", serve)
                for path in ("/broken", "/sound", "/missing"):
                    visit = Visit(path, path, f"checks{path.replace('/', '-')}")
                    found[f"{path} {width}"] = await check_page(
                        context, CHECKS_BASE, visit, width, tmp_path
                    )
                await context.close()
        finally:
            await browser.close()
    assert found["/sound desktop"] == found["/sound phone"] == []
    assert found["/missing desktop"] == [
        f"/missing at desktop width: answered 404 at {CHECKS_BASE}/missing, "
        "not 200 at the URL asked"
    ]
    for width in VIEWPORTS:
        broken = "\n".join(found[f"/broken {width}"])
        assert "unlabelled <input[name=nameless]>" in broken
        assert "a form without a submit button: <form>" in broken
        assert 'Tab never reaches the submit button <button> "Save"' in broken
        assert "CSP violation: script-src-elem refused inline" in broken
        assert "console error: " in broken
        assert ("scrolls sideways: the page is" in broken) is (width == "phone")
        assert ('<div.wide> "wide" reaches' in broken) is (width == "phone")


async def test_a_page_added_without_rows_for_it_fails_the_test() -> None:
    """A new GET route is found in the router, and one whose placeholder no row fills is named."""

    async def widget(request: web.Request) -> web.Response:
        return web.Response(text="widget")

    app = web.Application()
    app.router.add_get("/dashboard/guilds/{guild_id}/widgets/{widget_id}", widget)
    app.router.add_get("/api/v1/widgets", widget)  # the API: not a page of the dashboard
    (route,) = dashboard_routes(app)
    assert route == "/dashboard/guilds/{guild_id}/widgets/{widget_id}"
    with pytest.raises(LookupError, match=r"no row fills \{widget_id\}"):
        visits_of(route, {"guild_id": (Filled("guild", "1"),)})
    filled = {
        "guild_id": (Filled("guild", "1"),),
        "widget_id": (Filled("a", "7"), Filled("b", "8")),
    }
    assert visits_of(route, filled) == [
        Visit(route, "/dashboard/guilds/1/widgets/7", "guild-widgets-a"),
        Visit(route, "/dashboard/guilds/1/widgets/8", "guild-widgets-b"),
    ]
