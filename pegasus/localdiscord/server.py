"""LocalDiscord: the aiohttp application (REST + gateway), its state, recording and faults."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pegasus.localdiscord import payloads
from pegasus.localdiscord.auditlog import AuditLog
from pegasus.localdiscord.gateway import Events, Gateway
from pegasus.localdiscord.state import (
    DM,
    Attachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeUser,
    File,
    snowflake,
)

if TYPE_CHECKING:
    from pegasus.localdiscord.actions import Actions
    from pegasus.localdiscord.interactions import PendingInteraction

log = logging.getLogger(__name__)

API_PREFIX = re.compile(r"^/api(?:/v\d+)?")
DEFAULT_TOKEN = "local.discord.token"


class DiscordError(Exception):
    """An error answer in Discord's shape: {"message", "code"[, "errors"]}."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors


class NoAnswer(AssertionError):
    """What a person waited for did not come: the bot logged an error, or nothing came in time.

    An AssertionError, so a test that waits fails with the report; the sandbox shows it instead.
    """


@dataclass
class RecordedRequest:
    method: str
    path: str
    route: str
    query: dict[str, str]
    json: Any
    files: list[File]
    reason: str | None
    status: int = 0
    response: Any = None
    fault: bool = False
    at: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        body = json.dumps(self.json)[:200] if self.json is not None else ""
        files = f" files={[f.filename for f in self.files]}" if self.files else ""
        return f"{self.method} {self.path} -> {self.status} {body}{files}"


@dataclass
class Fault:
    method: str
    route: str
    status: int
    times: int
    body: dict[str, Any]
    headers: dict[str, str]
    hits: int = 0

    def matches(self, method: str, route: str, path: str) -> bool:
        return (
            self.hits < self.times and self.method in (method, "*") and self.route in (route, path)
        )


class Faults:
    """Injected failures: answered before the route runs, so they have no effect."""

    def __init__(self) -> None:
        self.active: list[Fault] = []
        self.hits: list[RecordedRequest] = []

    def rate_limit(
        self,
        method: str,
        route: str,
        *,
        retry_after: float = 0.05,
        times: int = 1,
        is_global: bool = False,
    ) -> Fault:
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
            "code": 0,
        }
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        fault = Fault(method.upper(), route, 429, times, body, headers)
        self.active.append(fault)
        return fault

    def fail(
        self,
        method: str,
        route: str,
        *,
        status: int = 500,
        times: int = 1,
        code: int = 0,
        message: str = "Internal Server Error",
    ) -> Fault:
        fault = Fault(method.upper(), route, status, times, {"message": message, "code": code}, {})
        self.active.append(fault)
        return fault

    def clear(self) -> None:
        self.active.clear()

    def take(self, method: str, route: str, path: str) -> Fault | None:
        for fault in self.active:
            if fault.matches(method, route, path):
                fault.hits += 1
                return fault
        return None


Handler = Callable[..., Awaitable[Any]]


@dataclass
class RouteDef:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool


@dataclass
class Call:
    """What a route handler receives."""

    request: web.Request
    params: dict[str, str]
    json: Any
    files: list[File]
    query: dict[str, str]
    reason: str | None
    record: RecordedRequest
    # Who calls: the bot, or a person with their own token (`token_for`); None without auth.
    actor: FakeUser | None = None


class LocalDiscord:
    """A Discord-compatible server on 127.0.0.1 with its whole state in memory."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_name: str = "Pegasus",
        host: str = "127.0.0.1",
        port: int = 0,
        echo_bot_messages: bool = True,
        interaction_ack_deadline: float | None = 3.0,
        control: bool = False,
    ) -> None:
        self.token = token
        #: serve /_control/... for a test or benchmark driving this server from another process
        self.control = control
        self.host, self.port = host, port
        self.echo_bot_messages = echo_bot_messages
        #: Discord refuses an initial response later than 3 s after the interaction (10062).
        self.interaction_ack_deadline = interaction_ack_deadline
        self.application_id = snowflake()
        self.bot_user = FakeUser(self.application_id, bot_name, bot=True)
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user}
        self.guilds_by_id: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        self.attachments: dict[int, Attachment] = {}
        self.dm_channels: dict[int, FakeChannel] = {}
        self.global_commands_by_name: dict[str, dict[str, Any]] = {}
        self.guild_commands_by_id: dict[int, dict[str, dict[str, Any]]] = {}
        self.sync_count = 0
        self.requests: list[RecordedRequest] = []
        #: requests made by people with their own token (`token_for`), not by the bot
        self.person_requests: list[RecordedRequest] = []
        self._user_tokens: dict[str, FakeUser] = {}
        self.audit_log = AuditLog(self)
        self.unknown_routes: list[RecordedRequest] = []
        self.in_flight = 0
        self.faults = Faults()
        self.gateway = Gateway(self)
        self.events = Events(self)
        self.interactions: dict[int, PendingInteraction] = {}
        self.owner_user: FakeUser | None = None
        self._routes: list[RouteDef] = []
        self._runner: web.AppRunner | None = None
        self._listeners: list[Callable[[str, Any], None]] = []
        self._idle = asyncio.Event()
        self._changed = asyncio.Event()
        self._idle.set()
        self._bot_errors: list[str] = []
        self._error_waiters: list[asyncio.Future[None]] = []
        self._actions: Actions | None = None
        self.rest: Any = None
        from pegasus.localdiscord import rest

        rest.register(self)

    # lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/_control"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    async def start(self) -> LocalDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        if self.control:
            from pegasus.localdiscord.control import add_control_routes

            add_control_routes(app, self)
        from pegasus.localdiscord.oauth2 import add_oauth2_routes

        add_oauth2_routes(app, self)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def actions(self) -> Actions:
        if self._actions is None:
            from pegasus.localdiscord.actions import Actions

            self._actions = Actions(self)
        return self._actions

    # users and guilds ----------------------------------------------------------------------
    def create_user(
        self, name: str, *, bot: bool = False, created_at: datetime | None = None
    ) -> FakeUser:
        user = FakeUser(snowflake(created_at), name, bot=bot)
        self.users[user.id] = user
        return user

    def find_user(self, name: str) -> FakeUser | None:
        return next((u for u in self.users.values() if u.name == name), None)

    def create_guild(self, name: str, *, owner: FakeUser | str) -> FakeGuild:
        """A guild with its owner and the bot as members (no channels yet)."""
        if isinstance(owner, str):
            owner = self.find_user(owner) or self.create_user(owner)
        guild = FakeGuild(self, id=snowflake(), name=name, owner_id=owner.id)
        self.guilds_by_id[guild.id] = guild
        guild.new_member(owner)
        bot_role = guild.new_role(self.bot_user.name, managed=True, bot_id=self.bot_user.id)
        guild.new_member(self.bot_user, roles=[bot_role])
        if self.owner_user is None:
            self.owner_user = owner
        return guild

    @property
    def guilds(self) -> list[FakeGuild]:
        return list(self.guilds_by_id.values())

    @property
    def guild(self) -> FakeGuild:
        return self.guilds[0]

    @property
    def global_commands(self) -> dict[str, dict[str, Any]]:
        """Synced global commands by name (slash commands win over same-named menus)."""
        return _by_name(self.global_commands_by_name)

    def guild_commands(self, guild: FakeGuild | int) -> dict[str, dict[str, Any]]:
        gid = guild if isinstance(guild, int) else guild.id
        return _by_name(self.guild_commands_by_id.get(gid, {}))

    def find_command(
        self, name: str, guild: FakeGuild | None, type: int = 1
    ) -> tuple[dict[str, Any] | None, bool]:
        """The synced command `name` (guild commands first); second item: is it a guild one."""
        if guild is not None:
            found = self.guild_commands_by_id.get(guild.id, {}).get(f"{type}:{name}")
            if found is not None:
                return found, True
        return self.global_commands_by_name.get(f"{type}:{name}"), False

    def _commands_of(self, guild: FakeGuild | None, type: int) -> list[dict[str, Any]]:
        found = list(self.guild_commands_by_id.get(guild.id, {}).values()) if guild else []
        found.extend(self.global_commands_by_name.values())
        return [c for c in found if int(c.get("type", 1)) == type]

    def command_name_typed(
        self, typed: str, guild: FakeGuild | None, type: int, locale: str
    ) -> str:
        """The command a member picked by the name their app showed (maybe a translation)."""
        if self.find_command(typed, guild, type)[0] is not None:
            return typed
        for command in self._commands_of(guild, type):
            if (command.get("name_localizations") or {}).get(locale) == typed:
                return str(command["name"])
        return typed

    def command_names_seen_by(self, member: FakeMember) -> list[str]:
        """The slash command names `member`'s app lists, in its language where translated."""
        return sorted(
            (c.get("name_localizations") or {}).get(member.user.locale) or c["name"]
            for c in self._commands_of(member.guild, 1)
        )

    # queries -------------------------------------------------------------------------------
    def dms(self, who: FakeMember | FakeUser | int) -> list[FakeMessage]:
        """Messages the bot sent to this user in DM."""
        uid = who if isinstance(who, int) else who.id
        channel = self.dm_channels.get(uid)
        if channel is None:
            return []
        return [m for m in channel.messages if m.author.id == self.bot_user.id]

    @property
    def messages_by_bot(self) -> list[FakeMessage]:
        return [
            m for m in self.messages.values() if m.author.id == self.bot_user.id and not m.deleted
        ]

    def requests_to(self, method: str, route: str) -> list[RecordedRequest]:
        method = method.upper()
        return [
            r
            for r in self.requests
            if r.method == method
            and (r.route == route or r.path == route or r.path.startswith(route))
        ]

    @property
    def command_sync_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "PUT" and r.route.endswith("/commands")]

    # waiting -------------------------------------------------------------------------------
    def add_listener(self, callback: Callable[[str, Any], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[str, Any], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    def notify(self, kind: str, obj: Any) -> None:
        """Tell waiters something happened: "request", "bot_message", "message_edit",
        "commands_synced", "gateway" (a session connected or a websocket closed)..."""
        for callback in list(self._listeners):
            callback(kind, obj)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def next_change(self) -> None:
        """Until the next notify()."""
        await self._changed.wait()

    async def wait_for(
        self, kind: str, check: Callable[[Any], bool], *, timeout: float, what: str
    ) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()

        def listener(event: str, obj: Any) -> None:
            if event == kind and not fut.done():
                try:
                    ok = check(obj)
                except Exception as exc:  # a broken check must fail the test, not hang it
                    fut.set_exception(exc)
                    return
                if ok:
                    fut.set_result(obj)

        self.add_listener(listener)
        try:
            return await self.wait(fut, timeout=timeout, what=what)
        finally:
            self.remove_listener(listener)

    async def wait_for_request(
        self,
        method: str,
        route: str,
        *,
        timeout: float = 5.0,
        check: Callable[[RecordedRequest], bool] | None = None,
    ) -> RecordedRequest:
        method = method.upper()
        return await self.wait_for(
            "request",
            lambda r: (
                r.method == method and route in (r.route, r.path) and (check is None or check(r))
            ),
            timeout=timeout,
            what=f"a {method} {route} request from the bot",
        )

    async def wait_for_message(
        self,
        channel: FakeChannel | str | None = None,
        *,
        author: FakeUser | None = None,
        timeout: float = 5.0,
        check: Callable[[FakeMessage], bool] | None = None,
    ) -> FakeMessage:
        """The next message the bot posts (after this call), optionally in `channel`."""
        if isinstance(channel, str):
            channel = self.guild.channel(channel)
        target = channel

        def matches(msg: FakeMessage) -> bool:
            return (
                (target is None or msg.channel.id == target.id)
                and (author is None or msg.author.id == author.id)
                and (check is None or check(msg))
            )

        where = f" in #{target.name}" if target is not None else ""
        return await self.wait_for(
            "bot_message", matches, timeout=timeout, what=f"a message from the bot{where}"
        )

    async def wait(
        self, fut: Awaitable[Any], *, timeout: float, what: str, since: float | None = None
    ) -> Any:
        """Await `fut`; fail at once on an error logged by the bot, or with a report on timeout."""
        started = time.monotonic() if since is None else since
        task = asyncio.ensure_future(fut)
        loop = asyncio.get_running_loop()
        error: asyncio.Future[None] = loop.create_future()
        self._error_waiters.append(error)
        try:
            done, _ = await asyncio.wait(
                {task, error}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if error in self._error_waiters:
                self._error_waiters.remove(error)
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if error in done:
            raise NoAnswer(
                f"waiting for {what}, the bot logged an error:\n{self._bot_errors[-1]}\n"
                f"{self.describe_since(started)}"
            )
        raise NoAnswer(
            f"waiting for {what}: nothing within {timeout}s.\n{self.describe_since(started)}"
        )

    def report_bot_error(self, text: str) -> None:
        """Called by the test fixtures when the bot logs an ERROR: waits fail fast."""
        self._bot_errors.append(text)
        for fut in self._error_waiters:
            if not fut.done():
                fut.set_result(None)

    def describe_since(self, started: float) -> str:
        recent = [r for r in self.requests if r.at >= started - 0.001]
        lines = [f"  {r!r}" for r in recent[-25:]] or ["  (none)"]
        text = "Requests the bot made meanwhile:\n" + "\n".join(lines)
        if self._bot_errors:
            text += f"\nErrors the bot logged ({len(self._bot_errors)}), last:\n"
            text += self._bot_errors[-1][-3000:]
        return text

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Work the server is still doing for the bot (a request, member chunks being sent):
        `requests_idle`, and so `settle`, wait for it."""
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    async def requests_idle(self, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.in_flight:
                self._idle.clear()
                await self._idle.wait()

    # benchmarks ----------------------------------------------------------------------------
    async def broadcast_messages(
        self,
        channel: FakeChannel | str,
        authors: Iterable[FakeMember],
        count: int,
        content: str = "hello {i}",
        *,
        yield_every: int = 64,
    ) -> int:
        """Push `count` MESSAGE_CREATE events quickly (authors in rotation); returns count.

        The messages stay for the server's life (the bot may fetch or delete one), so they are
        frozen out of the garbage collector as they come: a full collection otherwise walks
        every message broadcast so far, which after a few million takes seconds, and the events
        stop meanwhile (a benchmark's burst then ran at half speed).
        """
        guild = self.guild
        target = guild.resolve_channel(channel) if not isinstance(channel, FakeChannel) else channel
        people = list(authors)
        for i in range(count):
            author = people[i % len(people)]
            msg = FakeMessage(snowflake(), target, author.user, content.format(i=i))
            target.all_messages.append(msg)
            self.messages[msg.id] = msg
            self.events.message_create(msg)
            if i % yield_every == yield_every - 1:
                gc.freeze()
                await asyncio.sleep(0)
        gc.freeze()
        return count

    # state changes shared by REST and people -----------------------------------------------
    def store_files(self, channel_id: int, files: Iterable[File]) -> list[Attachment]:
        stored = []
        for f in files:
            att_id = snowflake()
            att = Attachment(
                att_id,
                f.filename,
                f.data,
                f.content_type or guess_type(f.filename),
                f"{self.base_url}/attachments/{channel_id}/{att_id}/{f.filename}",
                f.description,
            )
            self.attachments[att_id] = att
            stored.append(att)
        return stored

    def expire_attachment(self, attachment: Attachment | int) -> None:
        """The attachment's link stops working, as Discord's signed links do after about a day
        (and once its message is deleted): the local CDN answers 404 from now on. The message
        still lists it."""
        att_id = attachment if isinstance(attachment, int) else attachment.id
        self.attachments.pop(att_id, None)

    def add_message(self, msg: FakeMessage) -> FakeMessage:
        msg.channel.all_messages.append(msg)
        self.messages[msg.id] = msg
        if msg.author.id == self.bot_user.id:
            self.notify("bot_message", msg)
        if not msg.ephemeral and (msg.author.id != self.bot_user.id or self.echo_bot_messages):
            self.events.message_create(msg)
        return msg

    def delete_message(self, msg: FakeMessage) -> None:
        if msg.deleted:
            return
        msg.deleted = True
        if not msg.ephemeral:
            self.events.message_delete(msg)
        self.notify("message_delete", msg)

    def remove_member(self, guild: FakeGuild, member: FakeMember) -> None:
        if member.id not in guild.members_by_id:
            return
        del guild.members_by_id[member.id]
        member.in_guild = False
        member.voice = None
        guild.departed[member.id] = member
        self.events.member_remove(guild, member)

    def bot_leaves(self, guild: FakeGuild) -> None:
        """The bot leaves `guild`: GUILD_DELETE to the bot, then nothing more from there (events,
        commands, REST) until `guild.add_bot()`."""
        if guild.bot_left:
            return
        self.events.guild_delete(guild)
        bot = guild.members_by_id.pop(self.bot_user.id, None)
        if bot is not None:
            bot.in_guild = False
            bot.voice = None
            guild.departed[bot.id] = bot
        guild.bot_left = True
        self.notify("guild_left", guild)

    def remove_channel(self, channel: FakeChannel) -> None:
        guild = channel.guild
        channel.deleted = True
        if guild is not None:
            guild.channels_by_id.pop(channel.id, None)
            for member in guild.members:
                if member.voice and member.voice.channel_id == channel.id:
                    member.voice = None
        self.events.channel_delete(channel)

    def rest_delete_role(self, guild: FakeGuild, role: Any) -> None:
        role.deleted = True
        guild.roles_by_id.pop(role.id, None)
        for member in guild.members:
            if role.id in member.role_ids:
                member.role_ids.remove(role.id)
        self.events.role_delete(role)

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = FakeChannel(None, snowflake(), DM, f"dm-{user.name}", recipient=user)
            self.dm_channels[user.id] = channel
            self.channels[channel.id] = channel
        return channel

    # the REST entry point ------------------------------------------------------------------
    def token_for(self, user: FakeUser) -> str:
        """A token with which `user` calls REST as themselves (as Discord's own client does
        for a moderator); the bot's own is `token`."""
        for token, owner in self._user_tokens.items():
            if owner.id == user.id:
                return token
        token = f"user.{user.id}.{snowflake()}"
        self._user_tokens[token] = user
        return token

    def authenticate(self, header: str | None) -> FakeUser | None:
        """Who an `Authorization` header names: the bot, a person with a token, or nobody."""
        if header == f"Bot {self.token}":
            return self.bot_user
        return self._user_tokens.get((header or "").removeprefix("Bot "))

    def route(
        self, method: str, template: str, *, auth: bool = True
    ) -> Callable[[Handler], Handler]:
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"

        def decorator(handler: Handler) -> Handler:
            self._routes.append(RouteDef(method, template, re.compile(regex), handler, auth))
            return handler

        return decorator

    def _match(self, method: str, path: str) -> tuple[RouteDef | None, dict[str, str]]:
        for route in self._routes:
            if route.method != method:
                continue
            m = route.pattern.match(path)
            if m:
                return route, m.groupdict()
        return None, {}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/attachments/"):
            return self._serve_attachment(request)
        path = API_PREFIX.sub("", request.path)
        body, files = await read_body(request)
        reason = request.headers.get("X-Audit-Log-Reason")
        if reason:
            from urllib.parse import unquote

            reason = unquote(reason)
        route, params = self._match(request.method, path)
        actor = self.authenticate(request.headers.get("Authorization"))
        record = RecordedRequest(
            request.method,
            path,
            route.template if route else path,
            dict(request.query),
            body,
            files,
            reason,
        )
        by_person = actor is not None and actor.id != self.bot_user.id
        (self.person_requests if by_person else self.requests).append(record)
        with self.serving():
            response = await self._respond(request, route, params, record, actor)
        self.notify("request", record)
        return response

    async def _respond(
        self,
        request: web.Request,
        route: RouteDef | None,
        params: dict[str, str],
        record: RecordedRequest,
        actor: FakeUser | None,
    ) -> web.StreamResponse:
        by_person = actor is not None and actor.id != self.bot_user.id
        if route is None:
            if not by_person:
                self.unknown_routes.append(record)
            return self._json(record, 404, {"message": "404: Not Found", "code": 0})
        if route.auth and actor is None:
            return self._json(record, 401, {"message": "401: Unauthorized", "code": 0})
        if by_person and route.template not in self.rest.PERSON_ROUTES:
            # People act only where the local Discord checks their own permissions.
            return self._json(record, 403, payloads.error(50001, "Missing Access", None))
        # Faults are injected into the bot's requests only.
        fault = None if by_person else self.faults.take(record.method, route.template, record.path)
        if fault is not None:
            record.fault = True
            self.faults.hits.append(record)
            return self._json(record, fault.status, fault.body, fault.headers)
        call = Call(
            request, params, record.json, record.files, record.query, record.reason, record, actor
        )
        try:
            result = await route.handler(call)
        except DiscordError as exc:
            return self._json(record, exc.status, payloads.error(exc.code, exc.message, exc.errors))
        if result is None:
            record.status = 204
            return web.Response(status=204)
        status, data = result if isinstance(result, tuple) else (200, result)
        return self._json(record, status, data)

    def _json(
        self, record: RecordedRequest, status: int, data: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        record.status = status
        record.response = data
        # Exactly application/json: discord.py parses nothing else (no charset suffix).
        return web.Response(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _serve_attachment(self, request: web.Request) -> web.Response:
        parts = request.path.split("/")
        try:
            att = self.attachments[int(parts[3])]
        except (IndexError, ValueError, KeyError):
            return web.Response(status=404, text="not found")
        return web.Response(
            body=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"}
        )


def _by_name(commands: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ordered = sorted(commands.values(), key=lambda c: -int(c.get("type", 1) == 1))
    result: dict[str, dict[str, Any]] = {}
    for command in ordered:
        result.setdefault(command["name"], command)
    return result


async def read_body(request: web.Request) -> tuple[Any, list[File]]:
    """JSON, or multipart with `payload_json` and `files[n]` (as discord.py uploads)."""
    if not request.can_read_body:
        return None, []
    ctype = request.content_type
    if ctype.startswith("multipart/"):
        reader = await request.multipart()
        data: Any = None
        indexed: list[tuple[int, File]] = []
        while True:
            part = await reader.next()
            if part is None:
                break
            name = part.name or ""  # type: ignore[union-attr]
            raw = await part.read(decode=False)  # type: ignore[union-attr]
            if name == "payload_json":
                data = json.loads(raw.decode())
                continue
            m = re.match(r"files\[(\d+)\]", name)
            index = int(m.group(1)) if m else len(indexed)
            ptype = part.headers.get("Content-Type")  # type: ignore[union-attr]
            if ptype in (None, "application/octet-stream"):
                # discord.py sends no type: Discord infers it from the file name.
                ptype = guess_type(part.filename or "") or ptype  # type: ignore[union-attr]
            indexed.append((index, File(part.filename or name, bytes(raw), ptype)))  # type: ignore[union-attr]
        files = [f for _, f in sorted(indexed, key=lambda x: x[0])]
        _apply_descriptions(data, files)
        return data, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


def _apply_descriptions(data: Any, files: list[File]) -> None:
    attachments = data.get("attachments") if isinstance(data, dict) else None
    if not attachments:
        return
    for meta in attachments:
        if not isinstance(meta, dict):
            continue
        try:
            index = int(meta.get("id", -1))
        except (TypeError, ValueError):
            continue
        if 0 <= index < len(files):
            files[index].description = meta.get("description")
            if meta.get("filename"):
                files[index].filename = meta["filename"]


def guess_type(filename: str) -> str | None:
    import mimetypes

    return mimetypes.guess_type(filename)[0]
