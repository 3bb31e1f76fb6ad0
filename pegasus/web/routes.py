"""Declaring REST API routes: one declaration gives the route, its checks and its documentation.

A feature's endpoints live in one module of `pegasus/web/api/` that makes a `Routes` table and
decorates one small handler per endpoint; the module is then named in `ROUTE_MODULES`
(`pegasus/web/api/__init__.py`). Everything else is derived from the declaration: the aiohttp
route, the key and scope checks, the guild check, rate limits, `Idempotency-Key`, parsing and
validating parameters and body, the JSON answer, errors as problem+json, the audit context, and
the operation in `/api/v1/openapi.json` and `/api/docs`.

    from dataclasses import dataclass
    from pegasus.services.economy.staff import AdminResult, admin_adjust
    from pegasus.web.routes import Call, Param, Routes

    routes = Routes("economy", "Balances, transactions and the shop.")

    @dataclass(frozen=True)
    class GiveBody:
        amount: int
        reason: str | None = None

    @routes.post(
        "/guilds/{guild_id}/members/{user_id}/give",
        scope="economy:write",
        summary="Give money to a member",
        params=[Param("user_id", int, "The member's Discord id", location="path")],
        body=GiveBody,
        response=AdminResult,            # a frozen dataclass of the service
        status=201,
        idempotent=True,                 # accepts Idempotency-Key (creates something, moves money)
    )
    async def give(call: Call) -> AdminResult:
        body: GiveBody = call.body
        return await admin_adjust(call.guild_id, call.actor_id, call.param("user_id"),
                                  body.amount, take=False, reason=body.reason)

    A list: `@routes.get(..., response=Thing, paginated=True)` and
    `return await keyset_page(call, Model.filter(guild_id=call.guild_id),
    order=("-created_at", "-id"), item=Thing.from_row)` (`pegasus.web.pagination`).

What the declaration means:

* `path` is under `/api/v1`. A path with `{guild_id}` is a guild's: a key of another guild gets
  404 (the same answer as for a guild the bot does not know), and the handler reads
  `call.guild_id`. Other `{placeholders}` are declared as `Param(..., location="path")`.
* `scope` is the key scope the route needs (`API_SCOPES` in `pegasus.services.security`); a key
  without it gets 403. Write routes (anything but GET) are audited: every audit row written
  while the handler runs carries source `api`, the key's owner as actor, the client's address
  hash and user agent (`call.context`; `pegasus.services.audit.acting_from`). Pass
  `actor_id=call.actor_id` to the service as a cog would pass the member's id. A write whose
  service audits nothing gets one row `api.<operation id>` with the request body as `after`;
  a route whose service audits every real change itself (and nothing for a change that changes
  nothing) says `audit_fallback=False`.
* `params` are query (default) or path parameters: `Param(name, int | str | bool, help,
  required=..., default=..., minimum=..., maximum=...)`; the handler reads `call.param(name)`.
  `paginated=True` adds `cursor` and `limit` and the handler returns `Page(items, next_cursor)`
  (see `pegasus.web.pagination` for keyset pages of a query).
* `body` and `response` are Python types (see `pegasus.web.schema`): frozen dataclasses of the
  services, lists of them, or a `Schema`. A body that does not fit is refused with a sentence.
* The handler raises the services' `PegasusError`s: the client reads `error.plain()` as the
  `detail` of an `application/problem+json` answer (422 for ValidationError, 404 NotFoundError,
  403 PermissionDenied, 409 ConflictError, 412 StaleSettings, 429 CooldownActive).
* A handler returns the response value, or `Reply(value, status=..., headers=...)` to choose
  the status (e.g. 202 for a queued job) or add headers.
* `media_type` other than JSON (`text/plain`, `text/html`): the handler returns the text itself,
  sent and documented as that type (a file to save, such as a giveaway's entry list).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import _, format_number
from pegasus.services.audit import ActorContext
from pegasus.services.security.apikeys import ApiKeyRecord

if TYPE_CHECKING:
    from aiohttp import web

    from pegasus.web.app import WebState

__all__ = [
    "Call",
    "Encoded",
    "Page",
    "Param",
    "Reply",
    "Route",
    "Routes",
]

T = TypeVar("T")
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Handler = Callable[["Call"], Awaitable[Any]]
_PLACEHOLDER = re.compile(r"{(\w+)}")
_WHOLE_NUMBER = re.compile(r"-?\d{1,19}")
MAX_PAGE_SIZE = 100
JSON = "application/json"
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class Param:
    """A query or path parameter."""

    name: str
    type: type = str  # int, str or bool
    description: str = ""
    location: Literal["query", "path"] = "query"
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None

    def parse(self, raw: str) -> Any:
        """The parameter's value from its text, or a ValidationError naming it."""
        value: Any
        if self.type is bool:
            lowered = raw.strip().lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValidationError(
                    _("The {parameter} parameter must be true or false.").format(
                        parameter=self.name
                    )
                )
            value = lowered in ("true", "1")
        elif self.type is int:
            text = raw.strip()
            if not _WHOLE_NUMBER.fullmatch(text):
                raise ValidationError(
                    _("The {parameter} parameter must be a whole number, not {text}.").format(
                        parameter=self.name, text=shown_input(raw)
                    )
                )
            value = int(text)
            low = self.minimum if self.minimum is not None else -(2**63)
            high = self.maximum if self.maximum is not None else 2**63 - 1
            if not low <= value <= high:
                raise ValidationError(
                    _("The {parameter} parameter must be between {low} and {high}.").format(
                        parameter=self.name, low=format_number(low), high=format_number(high)
                    )
                )
        else:
            value = raw
        return value

    def schema(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            int: {"type": "integer", "format": "int64"},
            bool: {"type": "boolean"},
        }.get(self.type, {"type": "string"})
        described = dict(described)
        if self.minimum is not None:
            described["minimum"] = self.minimum
        if self.maximum is not None:
            described["maximum"] = self.maximum
        if self.default is not None:
            described["default"] = self.default
        return described


GUILD_ID = Param(
    "guild_id",
    int,
    "The server's Discord id.",
    location="path",
    required=True,
    minimum=1,
    maximum=2**63 - 1,
)
CURSOR = Param("cursor", str, "Where the page starts: `next_cursor` of the page before.")
LIMIT = Param(
    "limit",
    int,
    f"Items per page (1 to {MAX_PAGE_SIZE}).",
    default=DEFAULT_PAGE_SIZE,
    minimum=1,
    maximum=MAX_PAGE_SIZE,
)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Encoded:
    """A JSON answer encoded once and sent as it is (an answer kept for later requests)."""

    body: bytes


@dataclass
class Reply:
    """A handler's answer with a status or headers of its own."""

    value: Any
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """One endpoint: what it answers to, what it needs, what it takes and gives."""

    method: Method
    path: str  # under /api/v1
    handler: Handler
    summary: str
    scope: str | None  # None: any valid key
    tag: str
    description: str = ""
    params: tuple[Param, ...] = ()
    body: Any = None
    response: Any = None
    status: int = 200
    idempotent: bool = False
    paginated: bool = False
    name: str = ""
    audit_fallback: bool = True
    media_type: str = JSON

    @property
    def guild_scoped(self) -> bool:
        return "{guild_id}" in self.path

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def operation_id(self) -> str:
        return self.name or self.handler.__name__

    def all_params(self) -> tuple[Param, ...]:
        """Declared parameters, with `guild_id` and the page parameters where they apply."""
        extra: list[Param] = []
        if self.guild_scoped and not any(p.name == "guild_id" for p in self.params):
            extra.append(GUILD_ID)
        if self.paginated:
            extra += [CURSOR, LIMIT]
        return (*extra, *self.params)

    def check(self) -> None:
        """Fail at start-up on a declaration that cannot work (a typo, not a request)."""
        placeholders = set(_PLACEHOLDER.findall(self.path))
        declared = {p.name for p in self.all_params() if p.location == "path"}
        if placeholders != declared:
            raise ValueError(
                f"{self.method} {self.path}: path placeholders {sorted(placeholders)} and path "
                f"params {sorted(declared)} differ"
            )
        if self.idempotent and self.method != "POST":
            raise ValueError(f"{self.method} {self.path}: only POSTs take an Idempotency-Key")
        if not self.path.startswith("/"):
            raise ValueError(f"{self.path}: paths start with /")
        if self.media_type != JSON and (self.paginated or self.response not in (None, str)):
            raise ValueError(f"{self.method} {self.path}: a {self.media_type} answer is text")


class Routes:
    """The endpoints of one feature (an OpenAPI tag), declared with the decorators below."""

    def __init__(self, tag: str, description: str = "") -> None:
        self.tag = tag
        self.description = description
        self.routes: list[Route] = []

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def add(self, route: Route) -> Route:
        route.check()
        self.routes.append(route)
        return route

    def route(
        self,
        method: Method,
        path: str,
        *,
        scope: str | None,
        summary: str,
        description: str = "",
        params: Iterable[Param] = (),
        body: Any = None,
        response: Any = None,
        status: int = 200,
        idempotent: bool = False,
        paginated: bool = False,
        name: str = "",
        audit_fallback: bool = True,
        media_type: str = JSON,
    ) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            self.add(
                Route(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    scope=scope,
                    tag=self.tag,
                    description=description or (handler.__doc__ or "").strip(),
                    params=tuple(params),
                    body=body,
                    response=response,
                    status=status,
                    idempotent=idempotent,
                    paginated=paginated,
                    name=name,
                    audit_fallback=audit_fallback,
                    media_type=media_type,
                )
            )
            return handler

        return declare

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **options)


@dataclass
class Call:
    """One request to a route, checked: what a handler needs to call a service."""

    route: Route
    request: web.Request
    key: ApiKeyRecord
    guild_id: int  # 0 for routes without {guild_id}
    params: dict[str, Any]
    body: Any
    context: ActorContext
    now: datetime
    web: WebState
    if_match: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # added to the answer

    @property
    def actor_id(self) -> int:
        """The key's owner: the person the change is audited as."""
        return self.key.owner_id

    def param(self, name: str) -> Any:
        return self.params[name]
