"""The gateway: HELLO, heartbeats, IDENTIFY → READY + GUILD_CREATE, RESUME with replay by
sequence number, RECONNECT, INVALID_SESSION, member chunk requests, and the dispatch of events.

A session outlives its websocket: events dispatched while the bot is disconnected are kept in
the session's log and replayed (in order, exactly once) when the bot RESUMEs, as Discord does.
Frames are plain TEXT JSON, which discord.py accepts whatever compression it asked for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from pegasus.localdiscord import payloads
from pegasus.localdiscord.state import FakeChannel, FakeGuild, FakeMember, FakeMessage, FakeRole

if TYPE_CHECKING:
    from pegasus.localdiscord.server import LocalDiscord

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE, RESUME, RECONNECT = 0, 1, 2, 3, 4, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11
HEARTBEAT_INTERVAL_MS = 41250

# Which intent an event needs (Discord does not send it otherwise).
INTENT_GUILDS = 1 << 0
INTENT_MEMBERS = 1 << 1
INTENT_MODERATION = 1 << 2
INTENT_VOICE = 1 << 7
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_REACTIONS = 1 << 10
INTENT_DM_MESSAGES = 1 << 12
INTENT_DM_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15

EVENT_INTENTS = {
    "GUILD_CREATE": INTENT_GUILDS,
    "GUILD_UPDATE": INTENT_GUILDS,
    "GUILD_DELETE": INTENT_GUILDS,
    "GUILD_ROLE_CREATE": INTENT_GUILDS,
    "GUILD_ROLE_UPDATE": INTENT_GUILDS,
    "GUILD_ROLE_DELETE": INTENT_GUILDS,
    "CHANNEL_CREATE": INTENT_GUILDS,
    "CHANNEL_UPDATE": INTENT_GUILDS,
    "CHANNEL_DELETE": INTENT_GUILDS,
    "GUILD_MEMBER_ADD": INTENT_MEMBERS,
    "GUILD_MEMBER_UPDATE": INTENT_MEMBERS,
    "GUILD_MEMBER_REMOVE": INTENT_MEMBERS,
    "GUILD_BAN_ADD": INTENT_MODERATION,
    "GUILD_BAN_REMOVE": INTENT_MODERATION,
    "GUILD_AUDIT_LOG_ENTRY_CREATE": INTENT_MODERATION,
    "VOICE_STATE_UPDATE": INTENT_VOICE,
}
MESSAGE_EVENTS = ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK")
REACTION_EVENTS = ("MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE")


@dataclass(eq=False)
class Session:
    """A gateway session (one shard of one bot), resumable across websockets."""

    id: str
    shard_id: int
    shard_count: int
    intents: int
    large_threshold: int = 250
    seq: int = 0
    log: list[tuple[int, str]] = field(default_factory=list)
    conn: Connection | None = None
    alive: bool = True

    def wants(self, event: str, guild_id: int | None) -> bool:
        shard = 0 if guild_id is None else (guild_id >> 22) % self.shard_count
        if shard != self.shard_id:
            return False
        needed = EVENT_INTENTS.get(event)
        if event in MESSAGE_EVENTS:
            needed = INTENT_GUILD_MESSAGES if guild_id else INTENT_DM_MESSAGES
        elif event in REACTION_EVENTS:
            needed = INTENT_GUILD_REACTIONS if guild_id else INTENT_DM_REACTIONS
        return needed is None or bool(self.intents & needed)


class Connection:
    """One websocket. Frames go out in order through a writer task."""

    def __init__(self, ws: web.WebSocketResponse, transport: Any = None) -> None:
        self.ws = ws
        self.transport = transport
        self.session: Session | None = None
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write(), name="local-gw-write")
        self.closed = False

    def send(self, frame: str) -> None:
        if not self.closed:
            self.queue.put_nowait(frame)

    async def _write(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None:
                return
            try:
                await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                self.closed = True
                return

    async def close(self, code: int) -> None:
        self.closed = True
        self.queue.put_nowait(None)
        await self.writer
        await self.ws.close(code=code)


class Gateway:
    def __init__(self, server: LocalDiscord) -> None:
        self.server = server
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeats = 0
        self.received: list[dict[str, Any]] = []  # every non-heartbeat frame from the bot
        self._connected = asyncio.Event()
        self._heartbeat_waiters: list[asyncio.Future[None]] = []
        self._chunk_senders: set[asyncio.Task[None]] = set()
        self.on_connected: list[Callable[[Session], None]] = []

    # state ---------------------------------------------------------------------------------
    @property
    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.alive]

    @property
    def connected(self) -> bool:
        live = self.live_sessions
        return bool(live) and all(s.conn is not None and not s.conn.closed for s in live)

    async def wait_connected(self, timeout: float = 5.0) -> None:
        """Until every live session has a websocket that finished READY or RESUMED."""
        await self._wait_until(lambda: self.connected, timeout, "the bot to be connected")

    async def wait_disconnected(self, timeout: float = 5.0) -> None:
        """Until no websocket is open (the bot closed its connection)."""
        await self._wait_until(lambda: not self.connections, timeout, "the bot to disconnect")

    async def wait_resumed(self, count: int, timeout: float = 5.0) -> None:
        """Until the bot has RESUMEd `count` times in all (and is connected)."""
        await self._wait_until(
            lambda: self.resume_count >= count and self.connected, timeout, f"RESUME number {count}"
        )

    async def wait_identified(self, count: int, timeout: float = 15.0) -> None:
        """Until the bot has IDENTIFYed `count` times in all (and is connected)."""
        await self._wait_until(
            lambda: self.identify_count >= count and self.connected,
            timeout,
            f"IDENTIFY number {count}",
        )

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._connected.clear()
                    await self._connected.wait()
        except TimeoutError:
            raise AssertionError(
                f"waited {timeout}s for {what}: identifies={self.identify_count} "
                f"resumes={self.resume_count} connected={self.connected}"
            ) from None

    # dispatch ------------------------------------------------------------------------------
    def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None = None) -> int:
        """Send an event to every session that wants it; returns how many got it.

        Nothing about a guild the bot has left reaches it."""
        guild = self.server.guilds_by_id.get(guild_id) if guild_id is not None else None
        if guild is not None and guild.bot_left:
            return 0
        sent = 0
        for session in self.live_sessions:
            if session.wants(event, guild_id):
                self._dispatch_to(session, event, _strip_content(session, event, data))
                sent += 1
        return sent

    def _dispatch_to(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data})
        session.log.append((session.seq, frame))
        if session.conn is not None:
            session.conn.send(frame)

    @property
    def last_seq(self) -> dict[str, int]:
        return {s.id: s.seq for s in self.live_sessions}

    # faults --------------------------------------------------------------------------------
    async def drop(self, code: int = 4000, *, abort: bool = False) -> None:
        """Lose every websocket (a close frame with `code`, or with `abort` a cut TCP
        connection); sessions stay resumable and keep what is dispatched meanwhile."""
        for conn in list(self.connections):
            if abort and conn.transport is not None:
                if conn.session is not None and conn.session.conn is conn:
                    conn.session.conn = None
                self.connections.remove(conn)
                conn.closed = True
                conn.queue.put_nowait(None)
                conn.transport.abort()
            else:
                await self._close(conn, code)

    async def reconnect(self) -> None:
        """Op 7: Discord asks the bot to reconnect and resume."""
        for conn in list(self.connections):
            if conn.session is not None:
                conn.send(json.dumps({"op": RECONNECT, "d": None}))
        self._connected.set()

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Op 9: the session is invalid; unless `resumable`, the bot must IDENTIFY again."""
        for conn in list(self.connections):
            session = conn.session
            if session is None:
                continue
            if not resumable:
                session.alive = False
                session.conn = None
            conn.send(json.dumps({"op": INVALID_SESSION, "d": resumable}))

    async def heartbeat_barrier(self, timeout: float = 5.0) -> None:
        """Ask for a heartbeat (op 1) and wait for it: the bot has read every earlier frame."""
        conns = [s.conn for s in self.live_sessions if s.conn is not None]
        if not conns:
            return
        loop = asyncio.get_running_loop()
        futures = []
        for conn in conns:
            fut: asyncio.Future[None] = loop.create_future()
            self._heartbeat_waiters.append(fut)
            futures.append(fut)
            conn.send(json.dumps({"op": HEARTBEAT, "d": None}))
        async with asyncio.timeout(timeout):
            await asyncio.gather(*futures)

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await self._close(conn, 1001)

    async def _close(self, conn: Connection, code: int) -> None:
        if conn.session is not None and conn.session.conn is conn:
            conn.session.conn = None
        if conn in self.connections:
            self.connections.remove(conn)
        await conn.close(code)

    # the websocket handler -----------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoclose=False, max_msg_size=0, heartbeat=None)
        await ws.prepare(request)
        conn = Connection(ws, request.transport)
        self.connections.append(conn)
        conn.send(json.dumps({"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}}))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR):
                    break
        finally:
            if conn in self.connections:
                self.connections.remove(conn)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            if not conn.closed:
                conn.closed = True
                conn.queue.put_nowait(None)
            if not ws.closed:
                await ws.close()
            self._connected.set()  # wakes waiters that watch connections end too
            self.server.notify("gateway", None)
        return ws

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            self.heartbeats += 1
            conn.send(json.dumps({"op": HEARTBEAT_ACK}))
            waiters, self._heartbeat_waiters = self._heartbeat_waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            return
        self.received.append(frame)
        if op == IDENTIFY:
            await self._identify(conn, data)
        elif op == RESUME:
            await self._resume(conn, data)
        elif op == REQUEST_MEMBERS:
            self._request_members(conn, data)
        # PRESENCE and VOICE_STATE from the bot change nothing a test looks at.

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self.server.token:
            await self._close(conn, 4004)  # Authentication failed
            return
        shard_id, shard_count = data.get("shard") or [0, 1]
        for old in self.live_sessions:
            if old.shard_id == shard_id:
                old.alive = False  # a new IDENTIFY replaces the shard's old session
        self.identify_count += 1
        session = Session(
            secrets.token_hex(16),
            shard_id,
            shard_count,
            int(data.get("intents", 0)),
            int(data.get("large_threshold") or 250),
        )
        self.sessions[session.id] = session
        session.conn = conn
        conn.session = session
        guilds = [
            g
            for g in self.server.guilds
            if (g.id >> 22) % shard_count == shard_id and not g.bot_left
        ]
        ready = payloads.ready(
            bot=self.server.bot_user,
            guilds=guilds,
            session_id=session.id,
            resume_url=self.server.gateway_url,
            application_id=self.server.application_id,
            shard=data.get("shard"),
        )
        self._dispatch_to(session, "READY", ready)
        for guild in guilds:
            self._dispatch_to(
                session, "GUILD_CREATE", payloads.guild_create(guild, session.large_threshold)
            )
        self._notify_connected(session)

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id") or "")
        if session is None or not session.alive or data.get("token") != self.server.token:
            conn.send(json.dumps({"op": INVALID_SESSION, "d": False}))
            return
        self.resume_count += 1
        if session.conn is not None and session.conn is not conn:
            old = session.conn
            session.conn = None
            if old in self.connections:
                self.connections.remove(old)
            old.closed = True
            old.queue.put_nowait(None)
        since = int(data.get("seq") or 0)
        for seq, frame in session.log:
            if seq > since:
                conn.send(frame)
        session.conn = conn
        conn.session = session
        self._dispatch_to(session, "RESUMED", {})
        self._notify_connected(session)

    def _notify_connected(self, session: Session) -> None:
        self._connected.set()
        self.server.notify("gateway", session)
        for callback in list(self.on_connected):
            callback(session)

    def _request_members(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is None:
            return
        guild = self.server.guilds_by_id.get(int(data["guild_id"]))
        if guild is None or guild.bot_left:
            return
        members = guild.members
        if data.get("user_ids"):
            wanted = {int(x) for x in data["user_ids"]}
            members = [m for m in members if m.id in wanted]
        query = (data.get("query") or "").lower()
        if query:
            members = [m for m in members if m.name.lower().startswith(query)]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        task = asyncio.get_running_loop().create_task(
            self._send_member_chunks(conn.session, guild, members, data.get("nonce"))
        )
        self._chunk_senders.add(task)
        task.add_done_callback(self._chunk_senders.discard)

    async def _send_member_chunks(
        self, session: Session, guild: FakeGuild, members: list[FakeMember], nonce: str | None
    ) -> None:
        """Discord answers in chunks of at most 1000 members, one event after the other (a
        chunk is built when it is sent, so a huge guild does not stall the server)."""
        with self.server.serving():
            pages = [members[i : i + 1000] for i in range(0, len(members), 1000)] or [[]]
            for index, page in enumerate(pages):
                chunk: dict[str, Any] = {
                    "guild_id": str(guild.id),
                    "members": [payloads.member(m) for m in page],
                    "chunk_index": index,
                    "chunk_count": len(pages),
                    "not_found": [],
                }
                if nonce:
                    chunk["nonce"] = nonce
                self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)
                await asyncio.sleep(0)


def _strip_content(session: Session, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """Without MESSAGE_CONTENT, guild messages arrive without content (unless they mention
    the bot), as on Discord."""
    if (
        event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
        or session.intents & INTENT_MESSAGE_CONTENT
    ):
        return data
    if "guild_id" not in data:
        return data
    return {**data, "content": "", "embeds": [], "attachments": [], "components": []}


class Events:
    """Gateway events built from state objects."""

    def __init__(self, server: LocalDiscord) -> None:
        self.server = server

    def _send(self, event: str, data: dict[str, Any], guild_id: int | None) -> None:
        self.server.gateway.dispatch(event, data, guild_id)

    def guild_create(self, guild: FakeGuild) -> None:
        """The bot joins a guild. Unlike the GUILD_CREATEs after READY, this one has no
        `unavailable` key: discord.py then dispatches `on_guild_join`, not `on_guild_available`."""
        for session in self.server.gateway.live_sessions:
            if session.wants("GUILD_CREATE", guild.id):
                data = payloads.guild_create(guild, session.large_threshold)
                del data["unavailable"]
                self.server.gateway._dispatch_to(session, "GUILD_CREATE", data)

    def guild_update(self, guild: FakeGuild) -> None:
        self._send("GUILD_UPDATE", payloads.guild(guild), guild.id)

    def guild_delete(self, guild: FakeGuild) -> None:
        """The bot was removed from (or left) the guild: no `unavailable` key, unlike an
        outage, so discord.py drops the guild and dispatches `on_guild_remove`."""
        self._send("GUILD_DELETE", {"id": str(guild.id)}, guild.id)

    def role_create(self, role: FakeRole) -> None:
        self._send(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(role.guild.id), "role": payloads.role(role)},
            role.guild.id,
        )

    def role_update(self, role: FakeRole) -> None:
        self._send(
            "GUILD_ROLE_UPDATE",
            {"guild_id": str(role.guild.id), "role": payloads.role(role)},
            role.guild.id,
        )

    def role_delete(self, role: FakeRole) -> None:
        self._send(
            "GUILD_ROLE_DELETE",
            {"guild_id": str(role.guild.id), "role_id": str(role.id)},
            role.guild.id,
        )

    def channel_create(self, channel: FakeChannel) -> None:
        gid = channel.guild.id if channel.guild else None
        self._send("CHANNEL_CREATE", payloads.channel(channel), gid)

    def channel_update(self, channel: FakeChannel) -> None:
        gid = channel.guild.id if channel.guild else None
        self._send("CHANNEL_UPDATE", payloads.channel(channel), gid)

    def channel_delete(self, channel: FakeChannel) -> None:
        gid = channel.guild.id if channel.guild else None
        self._send("CHANNEL_DELETE", payloads.channel(channel), gid)

    def member_add(self, member: FakeMember) -> None:
        self._send(
            "GUILD_MEMBER_ADD",
            {**payloads.member(member), "guild_id": str(member.guild.id)},
            member.guild.id,
        )

    def member_update(self, member: FakeMember) -> None:
        self._send(
            "GUILD_MEMBER_UPDATE",
            {**payloads.member(member), "guild_id": str(member.guild.id)},
            member.guild.id,
        )

    def member_remove(self, guild: FakeGuild, member: FakeMember) -> None:
        self._send(
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(guild.id), "user": payloads.user(member.user)},
            guild.id,
        )

    def ban_add(self, guild: FakeGuild, user: Any) -> None:
        self._send(
            "GUILD_BAN_ADD", {"guild_id": str(guild.id), "user": payloads.user(user)}, guild.id
        )

    def ban_remove(self, guild: FakeGuild, user: Any) -> None:
        self._send(
            "GUILD_BAN_REMOVE", {"guild_id": str(guild.id), "user": payloads.user(user)}, guild.id
        )

    def voice_state(self, member: FakeMember) -> None:
        self._send("VOICE_STATE_UPDATE", payloads.voice_state(member), member.guild.id)

    def message_create(self, message: FakeMessage) -> None:
        gid = message.channel.guild.id if message.channel.guild else None
        self._send("MESSAGE_CREATE", payloads.message(message), gid)

    def message_update(self, message: FakeMessage) -> None:
        gid = message.channel.guild.id if message.channel.guild else None
        self._send("MESSAGE_UPDATE", payloads.message(message), gid)

    def message_delete(self, message: FakeMessage) -> None:
        guild = message.channel.guild
        data = {"id": str(message.id), "channel_id": str(message.channel.id)}
        if guild is not None:
            data["guild_id"] = str(guild.id)
        self._send("MESSAGE_DELETE", data, guild.id if guild else None)

    def message_delete_bulk(self, channel: FakeChannel, ids: list[int]) -> None:
        guild = channel.guild
        data: dict[str, Any] = {"ids": [str(i) for i in ids], "channel_id": str(channel.id)}
        if guild is not None:
            data["guild_id"] = str(guild.id)
        self._send("MESSAGE_DELETE_BULK", data, guild.id if guild else None)

    def reaction(self, message: FakeMessage, member: FakeMember, emoji: str, *, add: bool) -> None:
        guild = message.channel.guild
        data: dict[str, Any] = {
            "user_id": str(member.id),
            "channel_id": str(message.channel.id),
            "message_id": str(message.id),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if guild is not None:
            data["guild_id"] = str(guild.id)
            if add:
                data["member"] = payloads.member(member)
                data["message_author_id"] = str(message.author.id)
        self._send(
            "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE",
            data,
            guild.id if guild else None,
        )

    def interaction_create(self, data: dict[str, Any], guild_id: int | None) -> None:
        self._send("INTERACTION_CREATE", data, guild_id)
