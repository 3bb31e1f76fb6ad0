"""The REST API served beside the running bot, with Discord's facts (roles, members) from the
bot's cache, as in its process, or from Discord's REST API, as `python -m pegasus web` gets them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pegasus.localdiscord import DiscordEnv
from pegasus.web import WebConfig, WebServer, create_app
from pegasus.web.discord_names import RestNames
from tests.web.conftest import SECRET

SOURCES = ("bot cache", "Discord REST API")


@asynccontextmanager
async def api_beside_bot(env: DiscordEnv, source: str = "bot cache") -> AsyncIterator[str]:
    """Serve the API beside `env`'s bot; yields its base URL."""
    rest = RestNames(env.server.api_base, env.server.token)
    config = WebConfig(secret=SECRET)
    in_process = source == SOURCES[0]
    app = create_app(config, bot=env.bot) if in_process else create_app(config, names=rest)
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()
        await rest.close()


def as_plain(discord_text: str) -> str:
    """A refusal as Discord shows it, with role mentions written as the API writes them."""
    return re.sub(r"<@&(\d+)>", r"role \1", discord_text)
