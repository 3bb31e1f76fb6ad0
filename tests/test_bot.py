"""The bot object without a gateway: sharding ownership, endpoint settings, message hooks."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from pegasus import metrics
from pegasus.bot import MessagePhase, MessageVerdict, Pegasus, apply_endpoints, shard_of
from pegasus.config import Settings

# Snowflakes whose shard (id >> 22) % 4 is known.
GUILD_ON_SHARD = {shard: (1000 * 4 + shard) << 22 for shard in range(4)}


def test_shard_of_follows_discords_formula() -> None:
    for shard, guild_id in GUILD_ON_SHARD.items():
        assert shard_of(guild_id, 4) == shard


async def test_a_process_owns_only_the_guilds_of_its_shards() -> None:
    settings = Settings.from_env(
        {"DISCORD_TOKEN": "x", "SHARD_COUNT": "4", "SHARD_IDS": "1,3"}, load_dotenv=False
    )
    async with Pegasus(settings) as bot:
        owned = {shard for shard, gid in GUILD_ON_SHARD.items() if bot.owns_guild(gid)}
        assert owned == {1, 3}
        assert not bot.owns_guild(None)  # bot-wide timers run where shard 0 runs


async def test_a_single_process_owns_everything() -> None:
    async with Pegasus(Settings(discord_token="x")) as bot:
        assert all(bot.owns_guild(gid) for gid in GUILD_ON_SHARD.values())
        assert bot.owns_guild(None)


def test_endpoints_are_applied_to_rest_and_gateway() -> None:
    original = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    try:
        apply_endpoints(
            Settings(
                discord_token="x",
                discord_api_base="http://127.0.0.1:1/api/v10",
                discord_gateway_url="ws://127.0.0.1:1/gateway",
            )
        )
        assert Route.BASE == "http://127.0.0.1:1/api/v10"
        assert yarl.URL("ws://127.0.0.1:1/gateway") == DiscordWebSocket.DEFAULT_GATEWAY
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = original


async def test_message_hooks_run_by_phase_and_a_removed_message_goes_no_further() -> None:
    seen: list[str] = []

    def hook(name: str, verdict: MessageVerdict | None = None):  # type: ignore[no-untyped-def]
        async def run(message: object) -> MessageVerdict | None:
            seen.append(name)
            return verdict if getattr(message, "spam", False) else None

        return run

    async with Pegasus(Settings(discord_token="x")) as bot:
        # Added in extension order, which is not the order they must run in.
        bot.add_message_hook(hook("tickets"))
        bot.add_message_hook(hook("levels"), MessagePhase.LEVELS)
        bot.add_message_hook(hook("giveaways"))
        bot.add_message_hook(hook("security", MessageVerdict.REMOVED), MessagePhase.SECURITY)

        await bot.on_message(SimpleNamespace(spam=False, id=1))  # type: ignore[arg-type]
        assert seen == ["security", "levels", "tickets", "giveaways"]
        seen.clear()
        await bot.on_message(SimpleNamespace(spam=True, id=2))  # type: ignore[arg-type]
        assert seen == ["security"]


async def test_messages_read_together_a_removed_one_stops_a_failure_does_not() -> None:
    seen: list[str] = []

    async def security(message: SimpleNamespace) -> MessageVerdict | None:
        seen.append(f"security {message.id}")
        return MessageVerdict.REMOVED if message.spam else None

    async def levels(message: SimpleNamespace) -> None:
        if message.id == 3:
            raise RuntimeError("a bug in a hook")
        seen.append(f"levels {message.id}")

    async def tickets(message: SimpleNamespace) -> None:
        seen.append(f"tickets {message.id}")

    def handled() -> float:
        return metrics.REGISTRY.get_sample_value("pegasus_messages_processed_total") or 0.0

    before = handled()
    async with Pegasus(Settings(discord_token="x")) as bot:
        bot.add_message_hook(tickets)
        bot.add_message_hook(levels, MessagePhase.LEVELS)
        bot.add_message_hook(security, MessagePhase.SECURITY)
        for message_id, spam in ((1, False), (2, True), (3, False)):
            bot.dispatch("message", SimpleNamespace(id=message_id, spam=spam))
        await asyncio.sleep(0)
    assert seen == [
        "security 1",
        "security 2",
        "security 3",
        "levels 1",  # 2 was removed; 3's levels failed, and its later hooks still ran
        "tickets 1",
        "tickets 3",
    ]
    assert handled() - before == 3  # each message counted once


@contextlib.contextmanager
def dispatched_events() -> Iterator[list[str]]:
    """The events discord.py dispatches meanwhile (it logs each one at DEBUG)."""
    events: list[str] = []

    class Events(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg == "Dispatching event %s" and record.args:
                events.append(str(record.args[0]))

    logger = logging.getLogger("discord.client")
    handler = Events(logging.DEBUG)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield events
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_the_event_sent_for_every_gateway_event_is_dispatched_only_when_handled() -> None:
    async with Pegasus(Settings(discord_token="x")) as bot:
        # What discord.py's gateway does for every event it reads, a message included.
        with dispatched_events() as events:
            bot.dispatch("socket_event_type", "MESSAGE_CREATE")
            bot.dispatch("message_edit", None, None)
        assert events == ["message_edit"]  # nobody handles socket_event_type: not dispatched

        seen: list[str] = []

        async def on_socket_event_type(event_type: str) -> None:
            seen.append(event_type)

        bot.add_listener(on_socket_event_type)
        with dispatched_events() as events:
            bot.dispatch("socket_event_type", "MESSAGE_CREATE")
        await asyncio.sleep(0)  # the listener runs in a task of its own
        assert events == ["socket_event_type"]
        assert seen == ["MESSAGE_CREATE"]
        bot.remove_listener(on_socket_event_type)
        waiting = asyncio.ensure_future(bot.wait_for("socket_event_type"))
        await asyncio.sleep(0)
        bot.dispatch("socket_event_type", "GUILD_CREATE")
        assert await asyncio.wait_for(waiting, 1) == "GUILD_CREATE"  # wait_for sees it too


def handler_tasks() -> list[asyncio.Task[object]]:
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name() == "discord.py: on_message" and not task.done()
    ]


async def test_messages_read_together_go_through_each_hook_together_without_a_task() -> None:
    seen: list[str] = []

    def hook(name: str):  # type: ignore[no-untyped-def]
        async def run(message: SimpleNamespace) -> None:
            seen.append(f"{name} {message.id}")

        return run

    async with Pegasus(Settings(discord_token="x")) as bot:
        bot.add_message_hook(hook("levels"), MessagePhase.LEVELS)
        bot.add_message_hook(hook("tickets"))
        for message_id in (1, 2, 3):
            bot.dispatch("message", SimpleNamespace(id=message_id))
        assert seen == []  # the gateway reads on: they wait for the loop's next turn
        await asyncio.sleep(0)
        # Phase by phase, in the order the messages came; no task was needed.
        assert seen == ["levels 1", "levels 2", "levels 3", "tickets 1", "tickets 2", "tickets 3"]
        assert handler_tasks() == []
        seen.clear()
        bot.dispatch("message", SimpleNamespace(id=4))  # a later turn: a queue of its own
        await asyncio.sleep(0)
        assert seen == ["levels 4", "tickets 4"]


async def test_a_hook_that_waits_goes_on_in_a_task_and_later_hooks_wait_for_it() -> None:
    seen: list[str] = []
    release = asyncio.Event()

    async def first(message: SimpleNamespace) -> MessageVerdict | None:
        seen.append(f"first {message.id}")
        if message.id == 1:
            await release.wait()
            seen.append("first 1 released")
        return MessageVerdict.REMOVED if getattr(message, "spam", False) else None

    async def second(message: SimpleNamespace) -> None:
        seen.append(f"second {message.id}")

    async def failing(message: SimpleNamespace) -> None:
        raise RuntimeError("a bug in a hook")

    async with Pegasus(Settings(discord_token="x")) as bot:
        bot.add_message_hook(first, MessagePhase.SECURITY)
        bot.add_message_hook(failing, MessagePhase.LEVELS)
        bot.add_message_hook(second)
        bot.dispatch("message", SimpleNamespace(id=1, spam=True))
        bot.dispatch("message", SimpleNamespace(id=2))
        await asyncio.sleep(0)
        assert seen == ["first 1"]
        await asyncio.sleep(0)  # the other messages go on in a task of their own
        assert seen == ["first 1", "first 2", "second 2"]  # the second message did not wait
        (task,) = handler_tasks()
        release.set()
        await task
        # The first message went on after the wait, and its verdict stopped the later hooks.
        assert seen == ["first 1", "first 2", "second 2", "first 1 released"]

        release.clear()
        bot.dispatch("message", SimpleNamespace(id=1))
        await asyncio.sleep(0)
        (task,) = handler_tasks()
        task.cancel()  # shutdown cancels handlers that run late: the hook sees it
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert seen[-1] == "first 1"
        assert handler_tasks() == []


async def test_a_timeout_a_hook_starts_before_its_first_wait_cancels_that_hook() -> None:
    # A hook's first step runs by hand, in a task that is not the message's own until the hook
    # waits: a timeout (or an HTTP request) entered then takes the task it runs in, and it is
    # that task that must go on with the hook, or the timeout never fires.
    outcomes: list[str] = []
    never = asyncio.Event()

    async def slow_download(message: SimpleNamespace) -> None:
        try:
            async with asyncio.timeout(0.05):
                await never.wait()
        except TimeoutError:
            outcomes.append(f"timed out {message.id}")

    async def after(message: SimpleNamespace) -> None:
        outcomes.append(f"after {message.id}")

    async with Pegasus(Settings(discord_token="x")) as bot:
        bot.add_message_hook(slow_download, MessagePhase.SECURITY)
        bot.add_message_hook(after)
        for message_id in (1, 2):
            bot.dispatch("message", SimpleNamespace(id=message_id))
        await asyncio.sleep(0.3)
        assert sorted(outcomes) == ["after 1", "after 2", "timed out 1", "timed out 2"]
        assert handler_tasks() == []


async def test_a_hook_that_waits_keeps_its_context_across_the_wait() -> None:
    # A database transaction sets a context variable before its first wait and resets it after:
    # the reset must happen in the context the value was set in.
    current: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="none")
    seen: list[str] = []

    async def in_a_transaction(message: SimpleNamespace) -> None:
        token = current.set(f"message {message.id}")
        await asyncio.sleep(0)
        seen.append(current.get())
        current.reset(token)

    async with Pegasus(Settings(discord_token="x")) as bot:
        bot.add_message_hook(in_a_transaction)
        bot.dispatch("message", SimpleNamespace(id=7))
        await asyncio.sleep(0)
        await asyncio.gather(*handler_tasks())
        assert seen == ["message 7"]
        assert current.get() == "none"  # the dispatcher's own context was not touched
