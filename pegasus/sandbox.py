"""`python -m pegasus sandbox`: see Pegasus work without a Discord token.

Starts the local Discord (the Discord-compatible server the test suite uses) with a demo server,
runs the real bot against it on a fresh SQLite database, plays a short scene (members chatting,
joining voice, running commands) and prints what the bot answered. The web dashboard runs beside
it, logging in through the local Discord's OAuth2 page; its address is printed. With `--keep`
everything stays up until Ctrl-C, so the dashboard and the demo server can be clicked through;
without it the sandbox ends after the scene.

The database is `SANDBOX_DATABASE_URL` (default `sqlite://data/sandbox.sqlite3`, recreated on
every run); DATABASE_URL is deliberately ignored, so the sandbox never writes into a real
database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_SANDBOX_URL = "sqlite://data/sandbox.sqlite3"
WIDTH = 96


@dataclass
class Step:
    """One thing a member does; commands the bot does not have are left out of the scene."""

    who: str
    command: str
    options: dict[str, Any] = field(default_factory=dict)
    click: str | None = None  # label of a button to press on the answer


def scene(env: Any) -> list[Step]:
    guild = env.guild
    return [
        Step("owner", "help"),
        Step("alice", "ping"),
        Step("alice", "daily"),
        Step("alice", "balance"),
        Step("bob", "work"),
        Step("bob", "pay", {"member": guild.member("alice"), "amount": 10}),
        Step("alice", "rank"),
        Step("carol", "leaderboard"),
        Step("mod", "warn", {"member": guild.member("bob"), "title": "Spamming #general"}),
        Step("mod", "warnings", {"member": guild.member("bob")}),
    ]


def say(line: str = "", indent: int = 0) -> None:
    prefix = " " * indent
    if not line:
        print()
        return
    for part in line.splitlines() or [""]:
        # Links and paths are never cut (they are copied from here).
        filled = textwrap.fill(
            part,
            WIDTH,
            initial_indent=prefix,
            subsequent_indent=prefix,
            break_long_words=False,
            break_on_hyphens=False,
        )
        print(filled or prefix)


MENTION = re.compile(r"<(@!?|@&|#)(\d+)>|<t:(\d+)(?::\w)?>")


def readable(text: str, server: Any) -> str:
    """Mentions and timestamps as a Discord client shows them."""

    def replace(match: re.Match[str]) -> str:
        kind, raw, stamp = match.groups()
        if stamp is not None:
            moment = datetime.fromtimestamp(int(stamp), UTC)
            return moment.strftime("%Y-%m-%d %H:%M UTC")
        target = int(raw)
        if kind == "#":
            channel = server.channels.get(target)
            return f"#{channel.name}" if channel else match.group(0)
        if kind == "@&":
            role = next(
                (g.roles_by_id[target] for g in server.guilds if target in g.roles_by_id), None
            )
            return f"@{role.name}" if role else match.group(0)
        user = server.users.get(target)
        return f"@{user.name}" if user else match.group(0)

    return MENTION.sub(replace, text or "")


def show_message(message: Any, heading: str) -> None:
    server = message.channel.guild.server if message.channel.guild else None

    def text(value: Any) -> str:
        return readable(str(value), server) if server is not None else str(value)

    say(heading, 2)
    if message.content:
        say(text(message.content), 6)
    for embed in message.embeds:
        if embed.get("title"):
            say(f"[{text(embed['title'])}]", 6)
        if embed.get("description"):
            say(text(embed["description"]), 8)
        for fld in embed.get("fields") or []:
            say(text(f"{fld.get('name')}: {fld.get('value')}"), 8)
        if (embed.get("footer") or {}).get("text"):
            say(text(embed["footer"]["text"]), 8)
    for attachment in message.attachments:
        say(f"(attachment {attachment.filename}, {attachment.size:,} bytes)", 6)
    labels = [b.get("label") or b.get("custom_id") for b in message.buttons]
    if labels:
        say("buttons: " + ", ".join(f"[{label}]" for label in labels), 6)


def describe_options(options: dict[str, Any]) -> str:
    shown = []
    for name, value in options.items():
        shown.append(f"{name}:{getattr(value, 'name', value)}")
    return " ".join(shown)


async def run_step(env: Any, step: Step, shown: set[int]) -> None:
    from pegasus.localdiscord import LocalDiscordRefusal, NoAnswer

    member = env.member(step.who)
    root = step.command.split()[0]
    if root not in env.server.global_commands:
        return
    say(f"{step.who}: /{step.command} {describe_options(step.options)}".rstrip())
    try:
        reply = await member.slash(step.command, timeout=10, **step.options)
    except LocalDiscordRefusal as refusal:
        say(f"(Discord would not send this: {refusal})", 2)
        return
    except NoAnswer as failure:  # part of the scene; an error the bot logged fails the run
        say(f"(no answer: {str(failure).splitlines()[0]})", 2)
        return
    await env.settle()
    if reply.modal is not None:
        say(f"Pegasus opens a form: {reply.modal.title}", 2)
        return
    message = reply.message
    if message is None:
        say("Pegasus acknowledged silently.", 2)
        return
    who_sees = f"only {step.who} sees" if reply.ephemeral else "everyone sees"
    show_message(message, f"Pegasus ({who_sees}):")
    shown.add(message.id)
    for followup in reply.followups:
        show_message(followup, "Pegasus, then:")
        shown.add(followup.id)


async def start_dashboard(env: Any) -> Any:
    """The web application (dashboard, public pages, API) beside the bot, logging in through the
    local Discord's OAuth2 page: a WebServer on 127.0.0.1 (SANDBOX_WEB_PORT, default any free
    port)."""
    import secrets

    from pegasus.localdiscord.oauth2 import oauth2_of
    from pegasus.web import WebConfig, WebServer, create_app
    from pegasus.web.dashboard import DashboardConfig

    oauth2 = oauth2_of(env.server)
    config = WebConfig(
        secret=secrets.token_bytes(32),
        dashboard=DashboardConfig(api_base=env.server.api_base, client_secret=oauth2.client_secret),
    )
    port = int(os.environ.get("SANDBOX_WEB_PORT") or 0)
    web = WebServer(create_app(config, bot=env.bot), "127.0.0.1", port)
    await web.start()
    oauth2.redirect_uris.add(f"{web.url}/dashboard/callback")
    return web


async def show_the_web(env: Any, web: Any) -> None:
    from pegasus.services.dashboard import set_public_pages

    guild = env.guild
    await set_public_pages(guild.id, env.owner.id, True)
    say(f"Dashboard: {web.url}/dashboard (log in as owner; the local Discord asks who you are)")
    say(f"Public leaderboard: {web.url}/public/guilds/{guild.id}/leaderboard")


async def play(database_url: str, keep: bool = False) -> int:
    from pegasus.db import apply_migrations
    from pegasus.localdiscord import LocalDiscord, build_demo_guild
    from pegasus.localdiscord.env import DiscordEnv, EndpointPatch, ErrorLog

    server = LocalDiscord()
    guild = build_demo_guild(server)
    errors = ErrorLog(server)
    errors.install()
    with EndpointPatch():
        await server.start()
        env = DiscordEnv(server, database_url, errors=errors)
        web = None
        try:
            await apply_migrations(database_url)
            say(
                f"Pegasus sandbox: a local Discord on {server.base_url} with the server "
                f"{guild.name!r}"
            )
            say(
                f"members: {', '.join(m.name for m in guild.members if not m.bot)}; "
                f"channels: {', '.join(c.name for c in guild.channels if c.type != 4)}"
            )
            print(f"database: {database_url}")  # one line, however long: it is copied
            await env.start_bot()
            say(f"Pegasus is online and synced {len(server.global_commands)} commands.")
            web = await start_dashboard(env)
            await show_the_web(env, web)
            say()
            await play_scene(env)
            if keep:
                say()
                say("Everything keeps running: open the dashboard above. Stop with Ctrl-C.")
                await asyncio.Event().wait()  # until Ctrl-C cancels this task
        finally:
            if web is not None:
                await web.stop()
            await env.close()
            await server.stop()
            errors.remove()
    if errors.records:
        say(f"Pegasus logged {len(errors.records)} error(s); see above.")
        return 1
    say()
    say(
        "That was Pegasus against a local Discord. To run it on your own server, put your bot "
        "token in .env as DISCORD_TOKEN=... and run `python bot.py`."
    )
    return 0


async def play_scene(env: Any) -> None:
    shown: set[int] = set()
    general = env.channel("general")
    lines: Sequence[tuple[str, str]] = (
        ("alice", "Hi everyone! Is this the server with the bot?"),
        ("bob", "It is. Try its slash commands."),
        ("carol", "Hello! Anyone up for a game later?"),
    )
    for who, text in lines:
        say(f"{who} in #general: {text}")
        await env.member(who).say(general, text)
    await env.member("alice").join_voice("Lounge")
    await env.member("bob").join_voice("Lounge", self_mute=True)
    say("alice and bob join the Lounge voice channel.")
    await env.settle()
    dave = await env.guild.add_member("dave")
    say(f"{dave.name} joins the server.")
    await env.settle()
    say()
    for step in scene(env):
        await run_step(env, step, shown)
    await env.member("alice").leave_voice()
    await env.member("bob").leave_voice()
    say("alice and bob leave the voice channel.")
    # Activity is written in batches every second: give the flush a moment, then show
    # whatever else the bot posted (level-ups, logs, welcomes).
    await asyncio.sleep(1.5)
    await env.settle()
    others = [
        m
        for m in env.server.messages_by_bot
        if m.id not in shown and m.content + str(m.embeds) and not m.ephemeral
    ]
    if others:
        say()
        say("Pegasus also posted:")
        for message in others:
            where = f"#{message.channel.name}" if message.channel.guild else "a DM"
            show_message(message, f"in {where}:")


def main(keep: bool = False) -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stdout, format="%(levelname)s %(name)s: %(message)s"
    )
    # Voice support is not needed here: hide discord.py's notes about missing voice libraries.
    logging.getLogger("discord.client").setLevel(logging.ERROR)
    url = os.environ.get("SANDBOX_DATABASE_URL") or DEFAULT_SANDBOX_URL
    from pegasus.config import parse_database_url

    url = parse_database_url(url)
    if url.startswith("sqlite://"):
        path = Path(url.removeprefix("sqlite://").split("?", 1)[0])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    try:
        return asyncio.run(play(url, keep))
    except KeyboardInterrupt:  # --keep ends here; everything was stopped on the way out
        say("Stopped.")
        return 0
