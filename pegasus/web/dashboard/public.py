"""Public pages: a server's XP and money leaderboards and each giveaway's verifiable draw.

No login. A server's pages exist only while its `public_pages_enabled` setting is on (and
Pegasus is there): otherwise every one of them is the same 404 as for a server that does not
exist, so nothing tells whether a server or a giveaway is there. They show display names and
what the draw's check needs (the entries file's user ids, once the giveaway has ended), nothing
more.

The giveaway page shows the server's own check of the draw and a button that recomputes it in
the browser (`static/verify-draw.js`, Web Crypto): its Content-Security-Policy allows scripts
from this server only, never inline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from models.giveaways import GiveawayStatus
from pegasus.errors import PegasusError
from pegasus.i18n import N_, _, format_utc
from pegasus.services.dashboard import display_names, public_pages_on
from pegasus.services.giveaways import (
    GiveawayInfo,
    Verification,
    list_entries,
    list_giveaways,
    verify_draws,
)
from pegasus.services.levels import (
    LeaderboardCategory,
    LeaderboardEntry,
    LeaderboardPage,
    leaderboard_page,
)
from pegasus.web.dashboard.pages import STATIC, render

__all__ = ["PUBLIC_PREFIX", "add_routes"]

PUBLIC_PREFIX = "/public"
SCRIPT = "verify-draw.js"
RECENT_GIVEAWAYS = 10  # ended giveaways linked from the leaderboard page
BOARDS = {
    "xp": (LeaderboardCategory.XP, N_("XP")),
    "money": (LeaderboardCategory.MONEY, N_("Money")),
}
PUBLIC_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def add_routes(app: web.Application) -> None:
    p = PUBLIC_PREFIX
    app.router.add_get(f"{p}/guilds/{{guild_id}}/leaderboard", leaderboard)
    app.router.add_get(f"{p}/guilds/{{guild_id}}/giveaways/{{giveaway_id}}", giveaway)
    app.router.add_get(
        f"{p}/guilds/{{guild_id}}/giveaways/{{giveaway_id}}/entries.txt", entries_file
    )
    app.router.add_get(f"{p}/static/{SCRIPT}", script)
    app.on_response_prepare.append(_public_headers)


async def _public_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(PUBLIC_PREFIX + "/"):
        for name, value in PUBLIC_HEADERS.items():
            response.headers.setdefault(name, value)


def _not_found() -> web.Response:
    return render(
        "error.html",
        status=404,
        title=_("Not found"),
        message=_("There is no public page here."),
    )


def _too_many(retry_after: str) -> web.Response:
    response = render(
        "error.html",
        status=429,
        title=_("Too many requests"),
        message=_("Too many requests from your address; try again in {seconds} seconds.").format(
            seconds=retry_after
        ),
    )
    response.headers["Retry-After"] = retry_after
    return response


def _limited(request: web.Request) -> web.Response | None:
    """The same per-address limit as the API's, since these pages need no key."""
    import time

    from pegasus.web.app import STATE

    state = request.app[STATE]
    ip_hash = state.ip_hash(state.client_address(request))
    limit = state.ip_limiter.hit(f"ip:{ip_hash}", state.config.ip_rate_limit, time.time())
    return None if limit.allowed else _too_many(limit.headers()["Retry-After"])


async def _public_guild(request: web.Request) -> int | None:
    """The guild of the URL if its public pages are on; None for any other answer."""
    raw = request.match_info["guild_id"]
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        return None
    guild_id = int(raw)
    return guild_id if await public_pages_on(guild_id) else None


def _guild_name(request: web.Request, guild_id: int) -> str:
    from pegasus.web.app import STATE

    bot = request.app[STATE].bot
    guild = None if bot is None else bot.get_guild(guild_id)
    return guild.name if guild is not None else _("This server")


# leaderboards ----------------------------------------------------------------------------------
async def leaderboard(request: web.Request) -> web.StreamResponse:
    refused = _limited(request)
    if refused is not None:
        return refused
    guild_id = await _public_guild(request)
    if guild_id is None:
        return _not_found()
    board = request.query.get("board", "xp")
    if board not in BOARDS:
        board = "xp"
    raw_page = request.query.get("page", "1")
    asked = int(raw_page) if raw_page.isdigit() and len(raw_page) < 12 else 1
    page: LeaderboardPage = await leaderboard_page(guild_id, BOARDS[board][0], asked)
    ended = await list_giveaways(guild_id, GiveawayStatus.ENDED, limit=RECENT_GIVEAWAYS)
    return render(
        "public_leaderboard.html",
        guild_name=_guild_name(request, guild_id),
        base=f"{PUBLIC_PREFIX}/guilds/{guild_id}/leaderboard",
        board=board,
        boards={key: _(label) for key, (_category, label) in BOARDS.items()},
        page=page,
        rows=[(entry, _shown_name(entry)) for entry in page.entries],
        giveaways=[
            (
                info.prize,
                f"{PUBLIC_PREFIX}/guilds/{guild_id}/giveaways/{info.giveaway_id}",
                _when(info.ended_at),
            )
            for info in ended
        ],
    )


def _shown_name(entry: LeaderboardEntry) -> str:
    """The member's stored name; never the id the service falls back to for a nameless one."""
    return _("Unknown member") if entry.name == f"User {entry.user_id}" else entry.name


# giveaways -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShownDraw:
    """One draw as the page shows it, with what the browser's check needs."""

    round: int
    count: int
    excluded: tuple[int, ...]
    winners: tuple[tuple[int, str], ...]  # (user id, display name)
    recomputed_ok: bool | None  # the server's check; None before the end


async def _giveaway_of(request: web.Request) -> tuple[GiveawayInfo, list[tuple[int, int]]] | None:
    guild_id = await _public_guild(request)
    if guild_id is None:
        return None
    try:
        return await list_entries(guild_id, request.match_info["giveaway_id"])
    except PegasusError:  # no such giveaway, or an id of another shape: the same 404
        return None


def draw_texts() -> dict[str, str]:
    """What the page's script says while it checks the draw, in the page's language (the script
    fills in the {placeholders})."""
    return {
        "no_crypto": _(
            "This browser cannot compute SHA-256 here (Web Crypto needs a page served over "
            "https); use the entries file and the seed with another tool."
        ),
        "computing": _("Computing…"),
        "seed_ok": _("The seed's SHA-256 is the published hash."),
        "seed_bad": _("The seed's SHA-256 is not the published hash."),
        "file_ok": _("The SHA-256 of the entries file is the digest stored at the end."),
        "file_bad": _("The SHA-256 of the entries file is not the digest stored at the end."),
        "upload_ok": _("The SHA-256 of your file is the digest stored at the end."),
        "upload_bad": _("The SHA-256 of your file is not the digest stored at the end."),
        "nobody": _("nobody"),
        "user": _("user {id}"),
        "end_same": _("The draw at the end recomputed here: {names} (the announced winners)."),
        "end_differs": _(
            "The draw at the end recomputed here: {names} (NOT the announced winners)."
        ),
        "reroll_same": _("Reroll {round} recomputed here: {names} (the announced winners)."),
        "reroll_differs": _("Reroll {round} recomputed here: {names} (NOT the announced winners)."),
        "match": _(
            "The draw checks out: your browser found the same winners from the same entries."
        ),
        "mismatch": _(
            "The draw does NOT check out with these entries: see which step differs below."
        ),
        "failed": _("The draw could not be checked: {error}."),
        "bad_line": _('line {line} of the entries file is not "user id:weight"'),
        "no_download": _("the entries file could not be downloaded ({status})"),
    }


async def giveaway(request: web.Request) -> web.StreamResponse:
    refused = _limited(request)
    if refused is not None:
        return refused
    found = await _giveaway_of(request)
    if found is None:
        return _not_found()
    info, entries = found
    verification: Verification | None = None
    if info.status is GiveawayStatus.ENDED and info.seed is not None:
        verification = verify_draws(info, entries)
    names = await display_names(user_id for draw in info.draws for user_id in draw.winners)
    checks = {check.record.round: check.ok for check in verification.draws} if verification else {}
    draws = [
        ShownDraw(
            round=draw.round,
            count=draw.count,
            excluded=draw.excluded,
            winners=tuple((user_id, names[user_id]) for user_id in draw.winners),
            recomputed_ok=checks.get(draw.round),
        )
        for draw in info.draws
    ]
    base = f"{PUBLIC_PREFIX}/guilds/{info.guild_id}/giveaways/{info.giveaway_id}"
    return render(
        "public_giveaway.html",
        draw_texts=draw_texts(),
        guild_name=_guild_name(request, info.guild_id),
        giveaway=info,
        ended=info.status is GiveawayStatus.ENDED,
        draws=draws,
        verification=verification,
        entries_url=f"{base}/entries.txt",
        entrants=len(entries),
        script_url=f"{PUBLIC_PREFIX}/static/{SCRIPT}",
        when=_when,
    )


async def entries_file(request: web.Request) -> web.StreamResponse:
    """Byte for byte the API's entries file (one `user id:weight` line per entrant, sorted by
    user id): what the stored entry digest hashes."""
    refused = _limited(request)
    if refused is not None:
        return refused
    found = await _giveaway_of(request)
    if found is None or found[0].status is not GiveawayStatus.ENDED:
        return _not_found()  # published with the seed: before, it would only show who entered
    info, entries = found
    text = "".join(f"{user_id}:{weight}\n" for user_id, weight in entries)
    disposition = f'inline; filename="{info.giveaway_id}-entries.txt"'
    return web.Response(
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"Content-Disposition": disposition},
    )


async def script(request: web.Request) -> web.Response:
    return web.Response(
        text=(STATIC / SCRIPT).read_text(encoding="utf-8"),
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def _when(moment: datetime | None) -> str:
    return "" if moment is None else format_utc(moment)
