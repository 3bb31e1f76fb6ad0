"""The aiohttp application: the REST API under /api/v1, its document and reference, health and
metrics.

`create_app(config, bot=...)` serves the same application in the bot's process (the bot starts a
`WebServer` in `setup_hook` unless `WEB_ENABLED=false`) and alone (`python -m pegasus web`, no
gateway). Every declared route (see `pegasus.web.routes`) goes through `Endpoint`, which does, in
this order: the client address's rate limit, the key (401, with a security_logs row for a bad,
revoked or expired key), the guild (404 for a guild the key cannot reach, the same answer as for
a guild the bot does not know), the scope (403), the key's rate limit (429), parameters and body,
`Idempotency-Key`, then the handler inside the audit context of the request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hmac
import ipaddress
import json
import logging
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from models.guilds import Guild
from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditSource, Severity
from pegasus import metrics, notify
from pegasus.config import SQLITE_PREFIX, IpNetwork, Settings
from pegasus.errors import ConfigError, ValidationError
from pegasus.i18n import _
from pegasus.outage import health, is_database_unreachable
from pegasus.services.audit import (
    ActorContext,
    acting_from,
    record_audit,
    record_security_event,
)
from pegasus.services.dashboard import forget_expired as forget_expired_sessions
from pegasus.services.ids import without_nul
from pegasus.services.security.apikeys import (
    ApiKeyCache,
    ApiKeyRecord,
    InvalidApiKey,
    KeyUsage,
)
from pegasus.web import idempotency
from pegasus.web.answers import AnswerCache, KnownGuilds
from pegasus.web.dashboard import DashboardConfig
from pegasus.web.discord_names import BotNames, NameSource
from pegasus.web.dispatch import SegmentDispatcher
from pegasus.web.limits import Limiter, Violations
from pegasus.web.problems import ApiProblem, from_exception, problem_response
from pegasus.web.routes import JSON, Call, Encoded, Reply, Route
from pegasus.web.schema import dump, load

if TYPE_CHECKING:
    from pegasus.bot import Pegasus

__all__ = ["API_PREFIX", "WebConfig", "WebServer", "WebState", "create_app", "web_config"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
WRITE_BEHIND_SECONDS = 1.0  # key usage and rate-limit violations are written this often
SWEEP_SECONDS = 3600.0  # old idempotent answers are deleted this often
SECRET_FILE_NAME = "web_secret"
MAX_KEPT_ADDRESSES = 10_000  # client addresses whose hash is kept
STATE: web.AppKey[WebState] = web.AppKey("pegasus_web_state")
NO_GUILD_ANSWER = "No server with id {guild_id} can be reached with this key."
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pegasus"'}
JSON_UTF8 = "application/json; charset=utf-8"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WebConfig:
    """What the web server needs to know, from `Settings` (`web_config`) or given by tests."""

    secret: bytes
    host: str = "127.0.0.1"
    port: int = 8080
    trusted_proxies: tuple[IpNetwork, ...] = ()
    ip_rate_limit: int = 300
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)


def web_config(settings: Settings) -> WebConfig:
    return WebConfig(
        secret=resolve_secret(settings),
        host=settings.web_host,
        port=settings.web_port,
        trusted_proxies=settings.web_trusted_proxies,
        ip_rate_limit=settings.web_ip_rate_limit,
        dashboard=DashboardConfig(
            api_base=settings.discord_api_base,
            client_id=settings.discord_client_id,
            token_client_id=client_id_of_token(settings.discord_token),
            client_secret=settings.discord_client_secret,
            public_url=settings.web_public_url,
        ),
    )


def client_id_of_token(token: str) -> int | None:
    """The application id a bot token starts with (base64 of the bot's user id, which is the
    application's id); None for a token of another shape."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode()
    except ValueError:
        return None
    return int(decoded) if decoded.isdigit() and 0 < int(decoded) < 2**63 else None


def resolve_secret(settings: Settings) -> bytes:
    """WEB_SECRET, or on SQLite the secret generated once and kept beside the database."""
    if settings.web_secret:
        return settings.web_secret.encode()
    url = settings.database_url
    if not url.startswith(SQLITE_PREFIX) or ":memory:" in url:
        raise ConfigError(
            _(
                "WEB_SECRET is not set: the web server on PostgreSQL needs a secret shared by "
                "every process; put one of at least 32 characters in .env."
            )
        )
    folder = Path(url[len(SQLITE_PREFIX) :].split("?", 1)[0]).parent
    path = folder / SECRET_FILE_NAME
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # Created readable by its owner only, and never overwritten by a second process.
        with contextlib.suppress(FileExistsError), path.open("x", encoding="utf-8") as handle:
            path.chmod(0o600)
            handle.write(secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip().encode()


@dataclass
class WebState:
    """What the application keeps while it serves: limits, buffers, and the bot if in-process."""

    config: WebConfig
    bot: Pegasus | None = None
    clock: Callable[[], datetime] = utcnow
    # What Discord says of a guild (names, roles): the bot's cache, or its REST API standalone;
    # None where neither can be asked.
    names: NameSource | None = None
    routes: tuple[Route, ...] = ()
    key_usage: KeyUsage = field(default_factory=KeyUsage)
    # Kept in memory, following the change notices (pegasus.web.answers): no key or guild
    # read, and no leaderboard or rank computed again, on most requests.
    keys: ApiKeyCache = field(default_factory=ApiKeyCache)
    guilds: KnownGuilds = field(default_factory=KnownGuilds)
    answers: AnswerCache = field(default_factory=AnswerCache)
    violations: Violations = field(default_factory=Violations)
    ip_limiter: Limiter = field(default_factory=Limiter)
    key_limiter: Limiter = field(default_factory=Limiter)
    openapi: dict[str, Any] = field(default_factory=dict)
    last_sweep: float = 0.0
    _ip_hashes: dict[str, str] = field(default_factory=dict)

    def ip_hash(self, address: str) -> str:
        """HMAC-SHA256 of a client address under the server secret: never the address.
        Those of recent addresses are kept (a client sends many requests)."""
        known = self._ip_hashes.get(address)
        if known is None:
            known = hmac.new(self.config.secret, address.encode(), sha256).hexdigest()
            if len(self._ip_hashes) >= MAX_KEPT_ADDRESSES:
                self._ip_hashes.clear()
            self._ip_hashes[address] = known
        return known

    def client_address(self, request: web.Request) -> str:
        """The client's address: the peer's, or from X-Forwarded-For when the peer is a
        trusted proxy (the right-most address that is not one)."""
        peer = request.remote or ""
        if not self.config.trusted_proxies or not self._trusted(peer):
            return peer
        forwarded = [
            part.strip()
            for header in request.headers.getall("X-Forwarded-For", [])
            for part in header.split(",")
            if part.strip()
        ]
        for address in reversed(forwarded):
            if not self._trusted(address):
                return address
        return forwarded[0] if forwarded else peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.config.trusted_proxies)

    async def forget_changed(self, change: notify.Change) -> None:
        """Drop what a change announced here or by another process made stale."""
        await self.keys.forget(change)
        await self.guilds.forget(change)
        await self.answers.forget(change)

    async def write_behind(self) -> None:
        """Write key usage and rate-limit violations counted since the last time."""
        await self.key_usage.flush()
        await self.violations.flush()
        await self.keys.refresh()  # a key revoked elsewhere is refused from now on
        now = time.time()
        self.ip_limiter.sweep(now)
        self.key_limiter.sweep(now)
        if now - self.last_sweep >= SWEEP_SECONDS:
            self.last_sweep = now
            await idempotency.forget_old(self.clock())
            await forget_expired_sessions(self.clock())


class Endpoint:
    """The aiohttp handler of one declared route.

    What a request needs to know of its route (its parameters, whether it is a guild's, the
    refusal for a missing scope) is worked out once here, not per request."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.guild_scoped = route.guild_scoped
        self.params = route.all_params()
        self.reads_body = route.body is not None
        self.no_scope = (
            f"This key lacks the {route.scope} scope: create a key with it (/apikey create "
            f"in Discord) to {route.summary[:1].lower() + route.summary[1:]}."
        )

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        route = self.route
        now = state.clock()
        moment = time.time()
        ip_hash = state.ip_hash(state.client_address(request))
        limit = state.ip_limiter.hit("ip:" + ip_hash, state.config.ip_rate_limit, moment)
        if not limit.allowed:
            state.violations.count(now=now, limit=limit.limit, ip_hash=ip_hash)
            raise ApiProblem(
                429,
                f"Too many requests from your address: at most {limit.limit} a minute. "
                f"Retry in {limit.headers()['Retry-After']}s.",
                headers=limit.headers(),
            )
        user_agent = request.headers.get("User-Agent")
        key = await self._authenticate(request, state, now, ip_hash, user_agent)
        context = ActorContext(key.owner_id, AuditSource.API, ip_hash, user_agent)
        guild_id = await self._guild(request, key) if self.guild_scoped else 0
        if route.scope is not None and route.scope not in key.scopes:
            raise ApiProblem(403, self.no_scope)
        limit = state.key_limiter.hit(key.id, key.rate_limit, moment)
        if not limit.allowed:
            state.violations.count(
                now=now,
                limit=limit.limit,
                ip_hash=ip_hash,
                api_key_id=key.id,
                guild_id=key.guild_id,
            )
            raise ApiProblem(
                429,
                f"This key's rate limit of {limit.limit} requests a minute is reached. Retry in "
                f"{limit.headers()['Retry-After']}s.",
                headers=limit.headers(),
            )
        raw_body = await request.read() if self.reads_body else b""
        call = Call(
            route=route,
            request=request,
            key=key,
            guild_id=guild_id,
            params=self._params(request),
            body=self._body(raw_body),
            context=context,
            now=now,
            web=state,
            if_match=request.headers.get("If-Match"),
        )
        return await self._run(call, raw_body, limit.headers())

    async def _authenticate(
        self,
        request: web.Request,
        state: WebState,
        now: datetime,
        ip_hash: str,
        user_agent: str | None,
    ) -> ApiKeyRecord:
        header = request.headers.get("Authorization", "")
        scheme, _space, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiProblem(
                401,
                "Send your API key as `Authorization: Bearer <key>`; create one with /apikey "
                "create in Discord.",
                headers=dict(CHALLENGE),
            )
        try:
            return await state.keys.verify(secret.strip(), now, usage=state.key_usage)
        except InvalidApiKey as refusal:
            context = ActorContext(source=AuditSource.API, ip_hash=ip_hash, user_agent=user_agent)
            await self._log_refused_key(request, refusal, context)
            raise ApiProblem(401, refusal.plain(), headers=dict(CHALLENGE)) from None

    async def _log_refused_key(
        self, request: web.Request, refusal: InvalidApiKey, context: ActorContext
    ) -> None:
        key = refusal.key
        with acting_from(context):
            await record_security_event(
                guild_id=key.guild_id if key else None,
                user_id=key.owner_id if key else None,
                action="api.key_refused",
                severity=Severity.MEDIUM,
                description=f"An API request with a {refusal.reason} key was refused.",
                metadata={
                    "reason": refusal.reason,
                    "key_prefix": key.key_prefix if key else None,
                    "method": request.method,
                    "path": request.path,
                },
            )

    async def _guild(self, request: web.Request, key: ApiKeyRecord) -> int:
        raw = request.match_info["guild_id"]
        if not raw.isdigit() or not 0 < int(raw) < 2**63:
            raise ApiProblem(404, NO_GUILD_ANSWER.format(guild_id=raw[:20]))
        guild_id = int(raw)
        if key.guild_id is not None and key.guild_id != guild_id:
            raise ApiProblem(404, NO_GUILD_ANSWER.format(guild_id=raw[:20]))
        if not await request.app[STATE].guilds.exists(guild_id, _guild_stored):
            raise ApiProblem(404, NO_GUILD_ANSWER.format(guild_id=raw[:20]))
        return guild_id

    def _params(self, request: web.Request) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if not self.params:
            return values
        match_info, query = request.match_info, request.query
        for param in self.params:
            source = match_info if param.location == "path" else query
            raw = source.get(param.name)
            if raw is None:
                if param.required:
                    raise ValidationError(
                        _("The {parameter} parameter is required.").format(parameter=param.name)
                    )
                values[param.name] = param.default
            else:
                values[param.name] = param.parse(without_nul(raw))
        return values

    def _body(self, raw: bytes) -> Any:
        if not self.reads_body:
            return None
        try:
            # Without NUL characters, as the bot reads interactions: PostgreSQL refuses them.
            data = without_nul(json.loads(raw or b"null"))
        except (ValueError, UnicodeDecodeError) as error:
            raise ApiProblem(400, f"The body is not valid JSON ({error}).") from None
        if data is None:
            raise ApiProblem(400, "This request needs a JSON body.")
        return load(self.route.body, data)

    async def _run(
        self, call: Call, raw_body: bytes, limit_headers: dict[str, str]
    ) -> web.Response:
        """The handler's answer, with the key's rate-limit headers where it sets none."""
        route = self.route
        idem_key = call.request.headers.get("Idempotency-Key") if route.idempotent else None
        if idem_key is not None:
            replay = await idempotency.begin(
                call.key.id,
                idem_key,
                idempotency.fingerprint(route.method, call.request.path, raw_body),
                call.now,
            )
            if replay is not None:
                headers = {**limit_headers, **replay.headers, "Idempotent-Replayed": "true"}
                return _json_response(replay.body, replay.status, headers)
        try:
            with acting_from(call.context) as trail:
                result = await route.handler(call)
                if route.writes and route.audit_fallback and not trail.actions:
                    await _audit_call(call, raw_body)
        except BaseException:
            if idem_key is not None:
                await idempotency.abandon(call.key.id, idem_key)
            raise
        status, own = route.status, call.headers
        if isinstance(result, Reply):
            status = result.status or status
            own = {**own, **result.headers}
            result = result.value
        if isinstance(result, Encoded):
            # A kept answer: its bytes as they are, the headers given in one go.
            headers = {**limit_headers, **own, "Content-Type": JSON_UTF8}
            return web.Response(status=status, body=result.body, headers=headers)
        headers = {**limit_headers, **own}
        if route.media_type != JSON:
            return web.Response(
                status=status, text=result, content_type=route.media_type, headers=headers
            )
        body = dump(result)
        if idem_key is not None:
            # Stored as the handler answered: a replay gets the rate-limit headers of its own
            # request.
            await idempotency.finish(call.key.id, idem_key, status, body, own)
        return _json_response(body, status, headers)


async def _guild_stored(guild_id: int) -> bool:
    return await Guild.exists(id=guild_id)


async def _audit_call(call: Call, raw_body: bytes) -> None:
    """The audit row of a write whose service recorded none: who called what, with what."""
    try:
        sent = json.loads(raw_body) if raw_body else None
    except ValueError:
        sent = None
    await record_audit(
        guild_id=call.guild_id or None,
        actor_id=call.actor_id,
        action=f"api.{call.route.operation_id}"[:64],
        target_type="api",
        target_id=call.request.path[-64:],
        before=None,
        after={"method": call.route.method, "path": call.request.path, "body": sent},
        context=call.context,
    )


def _handler(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await endpoint(request)

    handle.__name__ = endpoint.route.operation_id
    return handle


def _json_response(body: Any, status: int, headers: dict[str, str]) -> web.Response:
    if status == 204:
        return web.Response(status=204, headers=headers)
    return web.Response(
        status=status,
        text=json.dumps(body, separators=(",", ":")),
        content_type="application/json",
        headers=headers,
    )


@web.middleware
async def errors_and_metrics(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error of the API as problem+json; every API request counted by route and status."""
    started = time.perf_counter()
    resource = request.match_info.route.resource
    label = resource.canonical if resource is not None else "unmatched"
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if not request.path.startswith(API_PREFIX) or error.status < 400:
            raise
        allow = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        response = problem_response(
            error.status, _http_detail(error), instance=request.path, headers=allow
        )
    except asyncio.CancelledError:
        raise
    except ConnectionResetError as error:
        if not _client_gone(request):
            response = from_exception(error, request)
        else:
            # The client left while its request was read (a page closed mid-preview): nobody
            # waits for the answer, and nothing went wrong here.
            log.debug("%s %s: the client went away", request.method, request.path)
            return web.Response(status=400)
    except Exception as error:
        response = from_exception(error, request)
    if label.startswith(API_PREFIX) or label == "unmatched":
        counted, timed = _request_metrics(label, request.method, response.status)
        counted.inc()
        timed.observe(time.perf_counter() - started)
    return response


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


@functools.lru_cache(maxsize=4096)
def _request_metrics(label: str, method: str, status: int) -> tuple[Any, Any]:
    """The counter and histogram children of a route, method and status, looked up once."""
    return (
        metrics.API_REQUESTS.labels(label, method, str(status)),
        metrics.API_SECONDS.labels(label),
    )


def _http_detail(error: web.HTTPException) -> str:
    if error.status == 404:
        return "There is no such endpoint; the endpoints are listed at /api/docs."
    if error.status == 405:
        allowed = ", ".join(sorted(getattr(error, "allowed_methods", ()) or ()))
        return f"This endpoint does not take that method; it takes {allowed}."
    if error.status == 413:
        return "The body is too large."
    return error.reason


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the database answers and, in the bot's process, the gateway is connected."""
    state = request.app[STATE]
    checks: dict[str, str] = {}
    try:
        await _database_answers()
        checks["database"] = "ok"
    except Exception as error:
        if is_database_unreachable(error):
            health.report(error)
        checks["database"] = f"unreachable ({type(error).__name__})"
    bot = state.bot
    if bot is not None:
        connected = bot.is_ready() and not bot.is_closed()
        checks["gateway"] = "ok" if connected else "not connected"
    ready = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


async def _database_answers() -> None:
    from tortoise import connections

    await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), timeout=5)


async def metrics_page(request: web.Request) -> web.Response:
    await _read_gauges()
    return web.Response(
        body=generate_latest(metrics.REGISTRY),
        headers={"Content-Type": CONTENT_TYPE_LATEST},
    )


async def _read_gauges() -> None:
    """The gauges that describe state, read now (a failed read leaves the last value)."""
    from tortoise import connections

    try:
        connection = connections.get("default")
        pool = getattr(connection, "_pool", None)
        if pool is not None:
            size, idle = pool.get_size(), pool.get_idle_size()
            metrics.DB_POOL.labels("in_use").set(size - idle)
            metrics.DB_POOL.labels("idle").set(idle)
            metrics.DB_POOL.labels("max").set(pool.get_max_size())
        else:
            metrics.DB_POOL.labels("in_use").set(1)
            metrics.DB_POOL.labels("idle").set(0)
            metrics.DB_POOL.labels("max").set(1)
        backlog = await ScheduledAction.filter(
            status__in=[ActionStatus.PENDING, ActionStatus.RUNNING], due_at__lte=utcnow()
        ).count()
        metrics.SCHEDULER_BACKLOG.set(backlog)
    except Exception as error:
        if not is_database_unreachable(error):
            log.exception("Reading the metrics' gauges failed")


def create_app(
    config: WebConfig,
    *,
    bot: Pegasus | None = None,
    clock: Callable[[], datetime] = utcnow,
    routes: Iterable[Route] | None = None,
    names: NameSource | None = None,
) -> web.Application:
    """The web application. `bot`: the running bot, in-process (None: standalone). `names`:
    where to ask Discord about guilds (default: the bot's cache)."""
    from pegasus.web import api, dashboard, docs, openapi
    from pegasus.web.dashboard import api_keys as dashboard_api_keys
    from pegasus.web.dashboard import economy_shop as dashboard_shop
    from pegasus.web.dashboard import giveaways as dashboard_giveaways
    from pegasus.web.dashboard import history as dashboard_history
    from pegasus.web.dashboard import level_rewards as dashboard_level_rewards
    from pegasus.web.dashboard import moderation as dashboard_moderation
    from pegasus.web.dashboard import public as public_pages
    from pegasus.web.dashboard import security_incidents as dashboard_incidents
    from pegasus.web.dashboard import tickets as dashboard_tickets

    declared = tuple(api.all_routes() if routes is None else routes)
    with warnings.catch_warnings():
        # aiohttp calls a router of one's own deprecated, yet has no other way to give one; this
        # one only finds the same route sooner (see pegasus.web.dispatch).
        warnings.simplefilter("ignore", DeprecationWarning)
        app = web.Application(middlewares=[errors_and_metrics], router=SegmentDispatcher())
    if names is None and bot is not None:
        names = BotNames(bot)
    state = WebState(config=config, bot=bot, clock=clock, routes=declared, names=names)
    state.openapi = openapi.document(declared)
    app[STATE] = state
    for route in declared:
        app.router.add_route(route.method, API_PREFIX + route.path, _handler(Endpoint(route)))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get(f"{API_PREFIX}/openapi.json", openapi.serve)
    docs.add_routes(app)
    dashboard.add_routes(app, config.dashboard)
    public_pages.add_routes(app)
    dashboard_tickets.add_routes(app)
    dashboard_level_rewards.add_routes(app)
    dashboard_shop.add_routes(app)
    dashboard_giveaways.add_routes(app)
    dashboard_history.add_routes(app)
    dashboard_moderation.add_routes(app)
    dashboard_incidents.add_routes(app)
    dashboard_api_keys.add_routes(app)
    app.cleanup_ctx.append(_follow_changes)
    app.cleanup_ctx.append(_write_behind)
    return app


async def _follow_changes(app: web.Application) -> Any:
    unsubscribe = notify.subscribe(app[STATE].forget_changed)
    yield
    unsubscribe()


async def _write_behind(app: web.Application) -> Any:
    state = app[STATE]
    task = asyncio.create_task(_write_behind_loop(state), name="pegasus-web-write-behind")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    try:
        await state.write_behind()  # what was counted since the last round
    except Exception as error:
        if is_database_unreachable(error):
            health.report(error)
        else:
            log.exception("Writing API key usage at shutdown failed")


async def _write_behind_loop(state: WebState) -> None:
    while True:
        await asyncio.sleep(WRITE_BEHIND_SECONDS)
        try:
            await state.write_behind()
        except Exception as error:
            if is_database_unreachable(error):
                health.report(error)  # kept in memory; written once the database is back
            else:
                log.exception("Writing API key usage failed; retrying")


class WebServer:
    """The application on a TCP port, started and stopped with the process that serves it."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def state(self) -> WebState:
        return self.app[STATE]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; a port in use fails with one line naming WEB_PORT."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            raise ConfigError(
                _(
                    "WEB_HOST/WEB_PORT: cannot listen on {host}:{port} ({error}); choose "
                    "another WEB_PORT or set WEB_ENABLED=false."
                ).format(host=self.host, port=self.port, error=error.strerror)
            ) from None
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]  # the port chosen for WEB_PORT=0
        log.info("Web server listening on %s (API reference: %s/api/docs)", self.url, self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
