"""pytest fixtures for the local Discord (registered in tests/conftest.py).

* `local_discord`: the server with the demo guild, started; no bot.
* `discord_env`: that server plus the real Pegasus bot in this event loop, on `db_url`.
* `bot_process`: starts `python bot.py` against `local_discord`.

`discord_env` and `bot_process` fail the test on any ERROR the bot logs and on any request to a
route the local Discord does not know, unless the test is marked `allow_errors` /
`allow_unknown_routes`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pegasus.localdiscord.demo import build_demo_guild
from pegasus.localdiscord.env import BotProcessFactory, DiscordEnv, EndpointPatch, ErrorLog
from pegasus.localdiscord.server import LocalDiscord


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_errors: ERROR logs of the bot do not fail this test (see env.errors)"
    )
    config.addinivalue_line(
        "markers", "allow_unknown_routes: requests to unknown routes do not fail this test"
    )
    config.addinivalue_line(
        "markers",
        "discord_env(extensions=None, members=0, ack_deadline=3.0, owner_ids=(), "
        "**bot_options): options of the discord_env fixture (a test's marker adds to and "
        "overrides its module's)",
    )


def _env_options(request: pytest.FixtureRequest) -> dict[str, object]:
    """Every discord_env marker's options, the closest (the test's own) winning: a test can add
    `owner_ids=[...]` to its module's `extensions=...`."""
    options: dict[str, object] = {}
    for marker in request.node.iter_markers("discord_env"):  # closest first
        for key, value in marker.kwargs.items():
            options.setdefault(key, value)
    return options


@pytest.fixture
async def local_discord(request: pytest.FixtureRequest) -> AsyncIterator[LocalDiscord]:
    options = _env_options(request)
    server = LocalDiscord(interaction_ack_deadline=options.get("ack_deadline", 3.0))  # type: ignore[arg-type]
    build_demo_guild(server, extra_members=int(options.get("members", 0)))  # type: ignore[call-overload]
    with EndpointPatch():
        await server.start()
        try:
            yield server
        finally:
            await server.stop()


def _check_clean(request: pytest.FixtureRequest, server: LocalDiscord, errors: list[str]) -> None:
    problems = []
    if errors and not request.node.get_closest_marker("allow_errors"):
        problems.append(
            f"the bot logged {len(errors)} error(s) (mark the test allow_errors "
            f"if they are expected):\n" + "\n".join(errors)
        )
    if server.unknown_routes and not request.node.get_closest_marker("allow_unknown_routes"):
        routes = "\n".join(f"  {r!r}" for r in server.unknown_routes)
        problems.append(
            "the bot called routes the local Discord does not know (add them to "
            f"pegasus/localdiscord/rest.py):\n{routes}"
        )
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
async def discord_env(
    request: pytest.FixtureRequest, local_discord: LocalDiscord, db_url: str
) -> AsyncIterator[DiscordEnv]:
    options = _env_options(request)
    extensions = options.pop("extensions", None)
    owner_ids = options.pop("owner_ids", ())
    for key in ("members", "ack_deadline"):
        options.pop(key, None)
    # Expected errors must not make the server's waits fail fast.
    errors = ErrorLog(None if request.node.get_closest_marker("allow_errors") else local_discord)
    errors.install()
    env = DiscordEnv(
        local_discord,
        db_url,
        extensions=extensions,
        errors=errors,  # type: ignore[arg-type]
        bot_options=options,
        owner_ids=owner_ids,  # type: ignore[arg-type]
    )
    try:
        await env.start_bot()
        yield env
        await env.close()
    finally:
        await env.close()
        errors.remove()
    _check_clean(request, local_discord, [ErrorLog.render(r) for r in errors.records])


@pytest.fixture
async def bot_process(
    request: pytest.FixtureRequest, local_discord: LocalDiscord, db_url: str
) -> AsyncIterator[BotProcessFactory]:
    factory = BotProcessFactory(local_discord, db_url)
    try:
        yield factory
    finally:
        await factory.close()
    errors = [line for process in factory.processes for line in process.error_lines]
    _check_clean(request, local_discord, errors)
