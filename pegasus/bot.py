"""The Pegasus bot: start-up order, endpoints, sharding and shutdown."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
from collections.abc import Callable, Coroutine, Generator
from enum import Enum, IntEnum
from typing import TYPE_CHECKING, Any

import discord
import yarl
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from pegasus import metrics, notify
from pegasus.config import DEFAULT_GATEWAY_URL, Settings
from pegasus.db import close_db, init_db, pending_migrations
from pegasus.errors import ConfigError
from pegasus.i18n import ngettext, reply_locale, reset_locale, set_locale
from pegasus.outage import health, is_database_unreachable
from pegasus.scheduler import Scheduler
from pegasus.services import language
from pegasus.services.attachments import AttachmentKeeper, AttachmentLimits
from pegasus.services.community import ConfigCache
from pegasus.services.ids import without_nul
from pegasus.services.moderation import BlacklistCache
from pegasus.tree import PegasusTree
from pegasus.ui.deadline import AnswerDeadline
from pegasus.ui.translator import PegasusTranslator

if TYPE_CHECKING:
    from pegasus.services.levels import Activity
    from pegasus.web import WebServer

log = logging.getLogger(__name__)

MEGABYTE = 1024 * 1024


class MessagePhase(IntEnum):
    """When a message hook runs, whatever order the extensions were loaded in.

    Security decides first, since it may remove the message; automod next (it may remove it
    too); levels then, so spam or a filtered message that was removed earns nothing; then the
    other features (transcripts, ...).
    """

    SECURITY = 0
    AUTOMOD = 5
    LEVELS = 10
    FEATURES = 20


class MessageVerdict(Enum):
    """What a hook may answer: REMOVED (the message is gone) stops the hooks of later phases."""

    REMOVED = "removed"


# A coroutine function: its first step is run straight from the queue (see `_queue_message`).
MessageHook = Callable[[discord.Message], Coroutine[Any, Any, MessageVerdict | None]]
Going = tuple[discord.Message, contextvars.Context]  # a queued message, and its context
MESSAGE_TASK_NAME = "discord.py: on_message"  # as discord.py names its handlers' tasks

# Events discord.py dispatches for every gateway event (so for every message) that no feature
# handles: a dispatch nobody handles still costs a lookup that raises and catches an
# AttributeError, several microseconds a message. Skipped unless something listens.
SKIPPED_UNLESS_HANDLED = frozenset({"socket_event_type"})


# Loaded in this order by setup_hook; a failure stops start-up (no half-started bot).
EXTENSIONS: tuple[str, ...] = (
    "cogs.core",
    "cogs.language",
    "cogs.levels",
    "cogs.economy",
    "cogs.moderation",
    "cogs.tickets",
    "cogs.giveaways",
    "cogs.community",
    "cogs.role_menus",
    "cogs.security",
    "cogs.automod",
    "cogs.raid_response",
    "cogs.logs",
    "cogs.retention",
    "cogs.privacy",
    "cogs.public_pages",
)


# Names discord.py gives the tasks that run event listeners, slash commands and buttons.
HANDLER_TASK_PREFIXES = (
    "discord.py: ",
    "CommandTree-invoker",
    "discord-ui-view-dispatch",
    "discord-ui-dynamic-item",
    "discord-ui-modal-dispatch",
)


def build_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.members = True  # member cache: joins, rejoins, role rewards, requirements
    intents.message_content = True  # ticket transcripts store what was said
    intents.voice_states = True
    return intents


NOT_STARTED = object()


def _call(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


class Resumed:
    """The rest of a coroutine that was started by hand and is now suspended on `pending`
    (or not started yet), each step run in `context` if given (the coroutine's own, whatever
    task awaits this): awaiting this waits for `pending`, then runs the coroutine to its end."""

    __slots__ = ("_context", "_coro", "_pending")

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        pending: Any,
        context: contextvars.Context | None = None,
    ) -> None:
        self._coro = coro
        self._pending = pending
        self._context = context

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self._coro, self._pending
        run = self._context.run if self._context is not None else _call
        if pending is NOT_STARTED:
            try:
                pending = run(coro.send, None)
            except StopIteration as stop:
                return stop.value
        while True:
            try:
                value = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as error:  # thrown in by the task: cancellation
                try:
                    pending = run(coro.throw, error)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = run(coro.send, value)
                except StopIteration as stop:
                    return stop.value


def apply_endpoints(settings: Settings) -> None:
    """Point discord.py's REST and gateway at the configured Discord (process-global)."""
    Route.BASE = settings.discord_api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def shard_of(guild_id: int, shard_count: int) -> int:
    return (guild_id >> 22) % shard_count


class Pegasus(commands.AutoShardedBot):
    """AutoShardedBot with the database, the scheduler and the feature extensions."""

    def __init__(
        self,
        settings: Settings,
        *,
        extensions: tuple[str, ...] = EXTENSIONS,
        scheduler_poll_interval: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=options.pop("intents", build_intents()),
            tree_cls=PegasusTree,
            help_command=None,
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids else None,
            owner_ids=set(settings.owner_ids) or None,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False),
            **options,
        )
        self.settings = settings
        self.extension_names = extensions
        self.scheduler = Scheduler(
            owns_guild=self.owns_guild, poll_interval=scheduler_poll_interval
        )
        self._db_open = False
        self._db_context: contextvars.Context | None = None
        self._shutdown_task: asyncio.Task[None] | None = None
        self._change_listener: notify.ChangeListener | notify.NoticeReader | None = None
        self._unsubscribe_changes: Callable[[], None] = lambda: None
        # This bot's copy of the blacklist: the check before every command and the hot paths
        # (XP) read it; a copy of its own, so another bot in the process never lends it one.
        self.blacklist = BlacklistCache()
        # This bot's copy of each guild's `guild_settings` row, which listeners read (greetings,
        # the server log, anti-raid and anti-spam); a command that changes it forgets the copy.
        self.guild_configs = ConfigCache()
        # The levels feature's write-behind buffer while its cog is loaded (not `activity`: that
        # is discord.py's presence).
        self.activity_buffer: Activity | None = None
        # The REST API, served by this process unless WEB_ENABLED=false.
        self.web: WebServer | None = None
        self._message_hooks: list[tuple[MessagePhase, MessageHook]] = []
        self.message_hooks: tuple[MessageHook, ...] = ()  # in the order they run
        self._queued_messages: list[discord.Message] = []  # see `_queue_message`
        # Messages a task was handed to carry on with, not started yet (see `_run_phases`).
        self._handed_over: list[list[Going]] = []
        self._keep_authors_as_they_spoke()
        # Copies attachments kept as evidence (tickets, proof) into the attachment store; it
        # downloads from Discord's file server only (tests hand it the local Discord's).
        self.attachment_keeper = AttachmentKeeper(
            limits=AttachmentLimits(
                max_file_bytes=settings.attachment_file_limit_mb * MEGABYTE,
                max_guild_bytes=settings.attachment_guild_limit_mb * MEGABYTE,
            )
        )
        # First of the checks, so that a check waiting on the database is covered too.
        self.answer_deadline = AnswerDeadline()
        self.pegasus_tree.interaction_checks.insert(0, self.answer_deadline)

    @property
    def pegasus_tree(self) -> PegasusTree:
        assert isinstance(self.tree, PegasusTree)
        return self.tree

    def owns_guild(self, guild_id: int | None) -> bool:
        """Whether this process runs the shard of `guild_id` (None: the process with shard 0)."""
        count = self.shard_count or 1
        mine = set(self.shard_ids) if self.shard_ids else set(range(count))
        return (0 if guild_id is None else shard_of(guild_id, count)) in mine

    async def login(self, token: str) -> None:
        apply_endpoints(self.settings)
        if self.settings.discord_gateway_url != DEFAULT_GATEWAY_URL:
            self._route_sharded_gateway(self.settings.discord_gateway_url)
        await super().login(token)

    def _route_sharded_gateway(self, url: str) -> None:
        # AutoShardedBot connects to the URL that GET /gateway/bot returns; honour ours instead.
        original = self.http.get_bot_gateway

        async def get_bot_gateway() -> tuple[int, str, Any]:
            shards, _url, limits = await original()
            return shards, url, limits

        self.http.get_bot_gateway = get_bot_gateway  # type: ignore[method-assign]

    def add_message_hook(
        self, hook: MessageHook, phase: MessagePhase = MessagePhase.FEATURES
    ) -> None:
        """Run `hook` for every message, in the one task that handles it, in `phase`'s turn
        (hooks of one phase in the order they were added).

        discord.py starts a task per `on_message` listener per message; on a busy gateway those
        tasks cost more than the features' own work, so features register hooks instead.
        """
        self._message_hooks.append((phase, hook))
        # A stable sort: within a phase, hooks keep the order they were added in.
        self._message_hooks.sort(key=lambda entry: entry[0])
        self.message_hooks = tuple(hook for _phase, hook in self._message_hooks)

    def remove_message_hook(self, hook: MessageHook) -> None:
        self._message_hooks = [entry for entry in self._message_hooks if entry[1] != hook]
        self.message_hooks = tuple(hook for _phase, hook in self._message_hooks)

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        if event_name in SKIPPED_UNLESS_HANDLED and not self.handles(event_name):
            return
        super().dispatch(event_name, *args, **kwargs)

    def _schedule_event(  # type: ignore[override]
        self,
        coro: Callable[..., Coroutine[Any, Any, Any]],
        event_name: str,
        *args: Any,
        **kwargs: Any,
    ) -> asyncio.Task[None] | None:
        # discord.py starts a task for every event handler. The message hooks of a message
        # usually finish without waiting for anything (memory only): messages are queued
        # instead and handled together, and a task takes over only if a hook has to wait.
        if event_name == "on_message" and getattr(coro, "__self__", None) is self:
            self._queue_message(*args)
            return None
        return super()._schedule_event(coro, event_name, *args, **kwargs)

    def _queue_message(self, message: discord.Message) -> None:
        """Handle `message` in the loop's next turn, with the others read meanwhile.

        The gateway reads every event the socket holds before the loop turns, so on a busy
        server many messages wait here together: each hook then runs for all of them in a row
        (automod's automaton, the levels buffer, their code) while they are still in the
        processor's caches, where one message at a time through every hook evicts them. With 50
        automod rules that took the rules' cost from about a tenth of the bot's throughput to a
        few hundredths (README, Automod)."""
        self._queued_messages.append(message)
        if len(self._queued_messages) == 1:
            self.loop.create_task(
                self._run_event(self._handle_queued_messages, "on_message"),
                name=MESSAGE_TASK_NAME,
            )

    def _keep_authors_as_they_spoke(self) -> None:
        """A message is judged by its author as they were when they said it: a role given or
        taken (or a nickname, a timeout) in an event read after the message and before its
        hooks ran gives that message a copy of its author from before.

        discord.py updates the cached member in place, and a message's author is that member.
        """
        parsers = self._connection.parsers
        update_member = parsers["GUILD_MEMBER_UPDATE"]

        def parse_guild_member_update(data: Any) -> None:
            if self._queued_messages or self._handed_over:
                self._copy_authors(int(data["user"]["id"]))
            update_member(data)

        parsers["GUILD_MEMBER_UPDATE"] = parse_guild_member_update

    def _copy_authors(self, user_id: int) -> None:
        waiting = [*self._queued_messages]
        for going in self._handed_over:
            waiting += [message for message, _context in going]
        for message in waiting:
            author = message.author
            if author.id == user_id and isinstance(author, discord.Member):
                message.author = discord.Member._copy(author)

    async def _handle_queued_messages(self) -> None:
        messages, self._queued_messages = self._queued_messages, []
        # A context of its own for each message, as a task would have: a context variable set
        # before a hook's first wait (a transaction) is reset in the same one.
        going = [(message, contextvars.copy_context()) for message in messages]
        await self._run_phases(self.message_hooks, 0, [], going)

    async def _run_phases(
        self, hooks: tuple[MessageHook, ...], first: int, done: list[Going], todo: list[Going]
    ) -> None:
        """Each hook from `hooks[first]` on, phase by phase, for every message still going, in
        the order they came: `todo` still needs `hooks[first]`, `done` has had it.

        Each hook's first step is run by hand: most finish there. When one has to wait, this
        task waits with it and runs that message's later hooks, and a new task takes over the
        other messages: the waiting hook may have taken this task for its own (a timeout
        cancels the task it was entered in)."""
        for index in range(first, len(hooks)):
            hook = hooks[index]
            for position, (message, context) in enumerate(todo):
                try:
                    running = hook(message)
                    pending = context.run(running.send, None)
                except StopIteration as stop:  # done without waiting: most hooks
                    if stop.value is MessageVerdict.REMOVED:
                        metrics.MESSAGES.inc()  # handled: no later hook sees it
                    else:
                        done.append((message, context))
                except Exception as error:
                    self._hook_failed(hook, message, error)
                    done.append((message, context))
                else:
                    others = todo[position + 1 :]
                    if done or others:
                        self._hand_over(hooks, index, done, others)
                    # Without a context of its own: it is awaited in `rest`, whose every step
                    # runs in the message's context already.
                    waiting = Resumed(running, pending)
                    rest = self._finish_message(message, hook, waiting, hooks[index + 1 :])
                    await Resumed(rest, NOT_STARTED, context)
                    return
            done, todo = [], done
        if todo:
            metrics.MESSAGES.inc(len(todo))

    def _hand_over(
        self, hooks: tuple[MessageHook, ...], first: int, done: list[Going], todo: list[Going]
    ) -> None:
        """`_run_phases` for the other messages, in a task of their own."""
        handed = done + todo
        self._handed_over.append(handed)

        async def carry_on() -> None:
            self._handed_over.remove(handed)
            await self._run_phases(hooks, first, done, todo)

        self.loop.create_task(self._run_event(carry_on, "on_message"), name=MESSAGE_TASK_NAME)

    async def _finish_message(
        self,
        message: discord.Message,
        hook: MessageHook,
        waiting: Resumed,
        later: tuple[MessageHook, ...],
    ) -> None:
        """`message`'s hook `hook`, which is waiting, then its `later` hooks."""
        try:
            verdict = await waiting
        except Exception as error:
            self._hook_failed(hook, message, error)
            verdict = None
        if verdict is MessageVerdict.REMOVED:
            metrics.MESSAGES.inc()
        else:
            await self._run_hooks(message, later)

    def handles(self, event_name: str) -> bool:
        """Whether a listener, a `wait_for` or a method of the bot waits for `event_name`."""
        method = "on_" + event_name
        return bool(
            self._listeners.get(event_name)
            or self.extra_events.get(method)
            or getattr(self, method, None)
        )

    async def on_message(self, message: discord.Message) -> None:
        """Every hook for one message. (Replaces commands.Bot.on_message: Pegasus has slash
        commands only, no prefix to parse.) The gateway's messages do not come this way but
        through `_queue_message`, which runs the same hooks for several at once."""
        await self._run_hooks(message, self.message_hooks)

    async def _run_hooks(self, message: discord.Message, hooks: tuple[MessageHook, ...]) -> None:
        for hook in hooks:
            try:
                verdict = await hook(message)
            except Exception as error:
                self._hook_failed(hook, message, error)
                continue
            if verdict is MessageVerdict.REMOVED:
                break
        metrics.MESSAGES.inc()

    @staticmethod
    def _hook_failed(hook: MessageHook, message: discord.Message, error: Exception) -> None:
        """A hook's error is the hook's: logged, and the message goes on to the next one."""
        if is_database_unreachable(error):
            health.report(error)  # an outage, logged once: not an error per message
        else:
            log.error(
                "Message hook %s failed on message %s",
                getattr(hook, "__qualname__", hook),
                message.id,
                exc_info=error,
            )

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """Event listeners that fail because the database is unreachable are an outage (one
        WARNING for all of it), not an error each."""
        error = sys.exc_info()[1]
        if error is not None and is_database_unreachable(error):
            health.report(error)
            return
        await super().on_error(event_method, *args, **kwargs)

    async def setup_hook(self) -> None:
        # Tortoise keeps its state per task: open the database here, in the task that runs the
        # bot, before anything creates tasks that query it.
        health.reset()  # an outage seen by an earlier bot of this process is not ours
        await init_db(self.settings.database_url, self.settings.database_ssl)
        self._db_open = True
        # close() may run in a task started elsewhere (the SIGTERM handler's): it shuts down in
        # this context, or the connections stay open and their threads keep the process alive.
        self._db_context = contextvars.copy_context()
        pending = await pending_migrations()
        if pending:
            raise ConfigError(
                ngettext(
                    "DATABASE_URL: the database lacks {count} migration ({first}): run "
                    "`python -m pegasus db upgrade` first.",
                    "DATABASE_URL: the database lacks {count} migrations ({first} ...): run "
                    "`python -m pegasus db upgrade` first.",
                    len(pending),
                ).format(count=len(pending), first=pending[0])
            )
        self._prepare_interactions()
        self._listen_for_changes()
        await language.load_languages()
        for name in self.extension_names:
            await self.load_extension(name)
        await self.tree.set_translator(PegasusTranslator())
        await self._sync_commands()
        self.scheduler.start()
        await self._start_web()

    async def _start_web(self) -> None:
        """Serve the REST API from here, in the task that opened the database (its handlers
        query it), unless WEB_ENABLED=false."""
        if not self.settings.web_enabled:
            return
        from pegasus.web import WebServer, create_app, web_config

        app = create_app(web_config(self.settings), bot=self)
        server = WebServer(app, self.settings.web_host, self.settings.web_port)
        await server.start()
        self.web = server

    def _listen_for_changes(self) -> None:
        """Drop the copies a change made elsewhere (the REST API, another process) made stale."""
        self._unsubscribe_changes = notify.subscribe(self.forget_changed)
        self._change_listener = notify.listener_for(
            self.settings.database_url, self.settings.database_ssl
        )
        if self._change_listener is not None:
            self._change_listener.start()

    async def forget_changed(self, change: notify.Change) -> None:
        """Forget what `change` made stale; the next read loads the new values."""
        everything = change.topic is notify.Topic.EVERYTHING
        if everything or change.topic is notify.Topic.BLACKLIST:
            self.blacklist.invalidate()
        if everything or change.topic is notify.Topic.SETTINGS:
            self.guild_configs.invalidate(change.guild_id)
            if change.guild_id is not None and change.feature in ("", "language"):
                await language.reload_guild_language(change.guild_id)
            buffer = self.activity_buffer
            if buffer is not None and change.guild_id is not None:
                await buffer.settings_changed(change.guild_id)
            elif buffer is not None:
                buffer.caches.invalidate()

    def _prepare_interactions(self) -> None:
        """Before any command, button or modal reads an interaction:

        - drop NUL characters from everything the person sent (options, modal fields):
          PostgreSQL refuses NUL in text, so one typed into a title or reason would fail the
          write;
        - set the language of the replies (the member's choice, else their client's): the
          handler's task is created inside the parse and inherits it.
        """
        parsers = self._connection.parsers
        parse = parsers["INTERACTION_CREATE"]

        def parse_in_language(data: dict[str, Any]) -> None:
            user = (data.get("member") or {}).get("user") or data.get("user") or {}
            user_id = int(user["id"]) if "id" in user else None
            token = set_locale(reply_locale(user_id, data.get("locale")))
            try:
                parse(without_nul(data))
            finally:
                reset_locale(token)

        parsers["INTERACTION_CREATE"] = parse_in_language

    async def _sync_commands(self) -> None:
        mode = self.settings.sync_commands
        if mode.scope == "off":
            return
        guild = discord.Object(mode.guild_id) if mode.scope == "guild" and mode.guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        log.info("Synced %d application commands (%s)", len(synced), mode.scope)

    async def close(self) -> None:
        """Stop timers, unload the extensions (cogs flush buffers in cog_unload), then the
        gateway, then the database: a clean stop loses nothing."""
        # One shutdown however many callers (signal handler, `async with`, tests) ask for it;
        # each waits for all of it, so nobody exits while the database is still in use.
        if self._shutdown_task is None:
            self._shutdown_task = asyncio.get_running_loop().create_task(
                self._shutdown(), context=self._db_context or contextvars.copy_context()
            )
        await asyncio.shield(self._shutdown_task)

    async def _shutdown(self) -> None:
        if self.web is not None:  # first: its requests use the database and the caches
            await self.web.stop()
        await self.scheduler.stop()
        self._unsubscribe_changes()
        if self._change_listener is not None:
            await self._change_listener.stop()
        for name in reversed(list(self.extensions)):
            try:
                await self.unload_extension(name)
            except Exception:
                log.exception("Unloading %s failed during shutdown", name)
        await super().close()
        await self._wait_for_handlers()
        await health.stop()
        if self._db_open:
            self._db_open = False
            await close_db()

    async def _wait_for_handlers(self, timeout: float = 10.0) -> None:
        """Let event, command and button handlers already running finish their writes: the
        gateway is closed, so no new ones start, and closing the database under them would
        fail their last query."""
        current = asyncio.current_task()
        running = [
            task
            for task in asyncio.all_tasks()
            if task is not current
            and not task.done()
            and task.get_name().startswith(HANDLER_TASK_PREFIXES)
        ]
        if running:
            _done, late = await asyncio.wait(running, timeout=timeout)
            for task in late:
                log.warning("Handler %s still running at shutdown; cancelling it", task.get_name())
                task.cancel()
