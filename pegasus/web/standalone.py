"""`python -m pegasus web`: the web application without a gateway.

For deployments with several shard processes: one (or more) of these serves the API beside the
bot processes, on the same database. Actions that need Discord are queued for the process that
owns the guild's shard (`pegasus.web.jobs`). What the API needs to know of a guild from Discord
(channel and role names, the role hierarchy) it asks Discord's REST API with the bot token
(`RestNames`, kept briefly). It hears the changes other processes announce (`pegasus.notify`:
NOTIFY on PostgreSQL, notice rows on SQLite), as the bots do, so that whatever it keeps in memory
follows them. Stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from pegasus.config import Settings
from pegasus.db import close_db, init_db, pending_migrations
from pegasus.errors import ConfigError
from pegasus.i18n import ngettext
from pegasus.notify import listener_for
from pegasus.outage import health
from pegasus.runner import describe_start_failure, setup_logging
from pegasus.web.app import WebServer, create_app, web_config
from pegasus.web.discord_names import RestNames

__all__ = ["main", "serve"]

log = logging.getLogger("pegasus.web")


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or SIGINT/SIGTERM)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # Tortoise keeps its state per task: the database is opened here, before the server starts
    # the tasks that answer requests.
    await init_db(settings.database_url, settings.database_ssl)
    try:
        pending = await pending_migrations()
        if pending:
            raise ConfigError(
                ngettext(
                    "DATABASE_URL: the database lacks {count} migration ({first} ...): run "
                    "`python -m pegasus db upgrade` first.",
                    "DATABASE_URL: the database lacks {count} migrations ({first} ...): run "
                    "`python -m pegasus db upgrade` first.",
                    len(pending),
                ).format(count=len(pending), first=pending[0])
            )
        names = RestNames(settings.discord_api_base, settings.discord_token)
        listener = listener_for(settings.database_url, settings.database_ssl)
        app = create_app(web_config(settings), names=names)
        server = WebServer(app, settings.web_host, settings.web_port)
        await server.start()
        if listener is not None:
            listener.start()
        print(f"Pegasus API: {server.url}/api/v1 (reference: {server.url}/api/docs)", flush=True)
        print(f"Pegasus dashboard: {settings.web_public_url or server.url}/dashboard", flush=True)
        try:
            await stop.wait()
        finally:
            if listener is not None:
                await listener.stop()
            await server.stop()
            await names.close()
            await health.stop()
    finally:
        await close_db()


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except Exception as error:
        message = describe_start_failure(error)
        if message is None:
            log.exception("The web server stopped on an unexpected error")
            return 1
        print(f"Start-up failed: {message}", file=sys.stderr)
        return 2
    return 0
