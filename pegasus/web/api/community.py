"""Community over HTTP: welcome and goodbye messages, the server log and autoroles.

The same service functions as `/welcome`, `/goodbye`, `/logging` and `/autorole`, so the same
refusals; a test greeting is queued for the bot process that owns the server (202 and a job
URL). Changes are audited by `apply_changes` with before and after (source `api`, the key's
owner); every process drops its cached configuration on the change notice it sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from pegasus.errors import NotFoundError, shown_input
from pegasus.services import community as service
from pegasus.services import moderation
from pegasus.services.community import (
    GreetingConfig,
    GreetingKind,
    GuildConfig,
    LogCategory,
    LogEvent,
)
from pegasus.services.ids import check_snowflake
from pegasus.web import jobs
from pegasus.web.api.jobs import JobInfo
from pegasus.web.roles import remember_role_setup, require_can_be_autorole_over_api
from pegasus.web.routes import Call, Param, Reply, Route, Routes

__all__ = ["routes"]

routes = Routes("community", "Welcome and goodbye messages, the server log and autoroles.")

COMMUNITY = "/guilds/{guild_id}/community"
MAX_SNOWFLAKE = 2**63 - 1


def _without_nul(text: str | None) -> str | None:
    """Text as the slash command receives it: Discord's payloads never carry NUL characters
    (PostgreSQL refuses them), so they are dropped here too."""
    return None if text is None else text.replace("\x00", "")


# --------------------------------------------------------------------------- greetings


@dataclass(frozen=True)
class GoodbyeBody:
    """What `/goodbye set` takes: the channel, and the options to change (left out: kept as
    they are; `none` clears the colour, title, image or thumbnail)."""

    channel_id: int
    message: str | None = None  # {user} mention, {username} name, {server}, {member_count}
    embed_enabled: bool | None = None
    embed_color: str | None = None  # #5865F2, blue, ...
    embed_title: str | None = None
    embed_image: str | None = None  # https://...
    embed_thumbnail: str | None = None  # https://...


@dataclass(frozen=True)
class WelcomeBody(GoodbyeBody):
    """What `/welcome set` takes: as a goodbye, and a direct message to the newcomer (`none`
    clears its own text: the channel message is sent)."""

    dm_enabled: bool | None = None
    dm_message: str | None = None


@dataclass(frozen=True)
class GreetingTestBody:
    member_id: int  # who the test greeting is for; a member of the server


def _greeting_options(body: GoodbyeBody) -> dict[str, str | bool | None]:
    options: dict[str, str | bool | None] = {
        "message": _without_nul(body.message),
        "embed_enabled": body.embed_enabled,
        "embed_color": _without_nul(body.embed_color),
        "embed_title": _without_nul(body.embed_title),
        "embed_image": _without_nul(body.embed_image),
        "embed_thumbnail": _without_nul(body.embed_thumbnail),
    }
    if isinstance(body, WelcomeBody):
        options["dm_enabled"] = body.dm_enabled
        options["dm_message"] = _without_nul(body.dm_message)
    return options


def job_info(job: jobs.Job) -> JobInfo:
    data = job.as_json()
    return JobInfo(
        id=data["id"],
        kind=data["kind"],
        guild_id=data["guild_id"],
        status=data["status"],
        result=data["result"],
        error=data["error"],
        attempts=data["attempts"],
        created_at=job.created_at,
        finished_at=job.finished_at,
        url=data["url"],
    )


def _declare_greeting(kind: GreetingKind) -> None:
    """GET and PUT of welcome or goodbye messages, and a test greeting."""
    word = kind.value
    path = f"{COMMUNITY}/{word}"
    body_type = WelcomeBody if kind is GreetingKind.WELCOME else GoodbyeBody

    async def read_greeting(call: Call) -> GreetingConfig:
        return (await service.load_config(call.guild_id)).greeting(kind)

    async def set_greeting(call: Call) -> GreetingConfig:
        body: GoodbyeBody = call.body
        channel_id = check_snowflake(body.channel_id, what="a channel id")
        config = await service.set_greeting(
            call.guild_id,
            call.actor_id,
            kind,
            channel_id=channel_id,
            **_greeting_options(body),  # type: ignore[arg-type]
        )
        return config.greeting(kind)

    async def test_greeting(call: Call) -> Reply:
        body: GreetingTestBody = call.body
        member_id = check_snowflake(body.member_id, what="a member id")
        settings = (await service.load_config(call.guild_id)).greeting(kind)
        if settings.channel_id is None:
            raise NotFoundError(f"Set {word} messages up first.")
        job = await jobs.enqueue_greeting_test(
            call.guild_id, word, member_id, actor_id=call.actor_id, now=call.now
        )
        return Reply(job_info(job), headers={"Location": job.url})

    routes.add(
        Route(
            method="GET",
            path=path,
            handler=read_greeting,
            summary=f"Read the {word} message setup",
            description=f"What `/{word} show` shows: on or off, the channel, the message and "
            "its embed" + (", the direct message" if kind is GreetingKind.WELCOME else "") + ".",
            scope="community:read",
            tag=routes.tag,
            response=GreetingConfig,
            name=f"read_{word}",
        )
    )
    routes.add(
        Route(
            method="PUT",
            path=path,
            handler=set_greeting,
            summary=f"Turn {word} messages on and set them up",
            description=f"What `/{word} set` does: {word} messages are on in `channel_id`; "
            "options left out keep their value, and each is checked as the command checks it "
            "(placeholders, lengths, links, colours). Audited with before and after. The bot "
            "checks that it may post there when it posts.",
            scope="community:write",
            tag=routes.tag,
            body=body_type,
            response=GreetingConfig,
            name=f"set_{word}",
            audit_fallback=False,  # apply_changes audits every real change
        )
    )
    routes.add(
        Route(
            method="POST",
            path=f"{path}/test",
            handler=test_greeting,
            summary=f"Post a test {word} message",
            description=f"What `/{word} test` does, for `member_id`: queued for the bot process "
            "that owns the server. The answer is the job; its URL says when the message is "
            "posted (the channel) or why it was not.",
            scope="community:write",
            tag=routes.tag,
            body=GreetingTestBody,
            response=JobInfo,
            status=202,
            idempotent=True,
            name=f"test_{word}",
        )
    )


# --------------------------------------------------------------------------- the server log


@dataclass(frozen=True)
class ServerLog:
    """The server log: on or off, its channel (security alerts go there too), what it reports,
    and each category's own channel (null: the category posts in `channel_id`; the moderation
    category's channel is the modlog, where cases are posted)."""

    enabled: bool
    channel_id: int | None
    events: list[LogEvent]
    category_channels: dict[str, int | None]

    @classmethod
    def of(cls, config: GuildConfig, modlog_channel_id: int | None) -> ServerLog:
        reported = [event for event in LogEvent if event in config.logging_events]
        channels: dict[str, int | None] = {
            category.value: config.category_channels.get(category) for category in LogCategory
        }
        channels[LogCategory.MODERATION.value] = modlog_channel_id
        return cls(config.logging_enabled, config.logging_channel_id, reported, channels)


async def _server_log(guild_id: int) -> ServerLog:
    config = await service.load_config(guild_id)
    return ServerLog.of(config, (await moderation.get_settings(guild_id)).modlog_channel_id)


@dataclass(frozen=True)
class ServerLogBody:
    """What `/logging set` takes: the channel, and the events (left out: all of them)."""

    channel_id: int
    events: list[LogEvent] | None = None


@routes.get(
    f"{COMMUNITY}/logging",
    scope="community:read",
    summary="Read the server log setup",
    response=ServerLog,
)
async def read_server_log(call: Call) -> ServerLog:
    """What `/logging show` shows."""
    return await _server_log(call.guild_id)


@routes.put(
    f"{COMMUNITY}/logging",
    scope="community:write",
    summary="Turn the server log on and choose what it reports",
    body=ServerLogBody,
    response=ServerLog,
    audit_fallback=False,  # apply_changes audits every real change
)
async def set_server_log(call: Call) -> ServerLog:
    """What `/logging set` does: the log is on in `channel_id` and reports `events`. Audited
    with before and after. The bot checks that it may post there when it posts."""
    body: ServerLogBody = call.body
    channel_id = check_snowflake(body.channel_id, what="a channel id")
    events = list(LogEvent) if body.events is None else body.events
    await service.set_logging(call.guild_id, call.actor_id, channel_id=channel_id, events=events)
    return await _server_log(call.guild_id)


@dataclass(frozen=True)
class LogCategoryBody:
    """What `/logging channel` takes (a channel), or `/logging off` (null)."""

    channel_id: int | None


@routes.put(
    f"{COMMUNITY}/logging/categories/{{category}}",
    scope="community:write",
    summary="Choose one log category's channel, or turn the category off",
    params=[
        Param(
            "category",
            str,
            "messages, members, moderation (the modlog), automod, voice or server.",
            location="path",
        )
    ],
    body=LogCategoryBody,
    response=ServerLog,
    audit_fallback=False,  # apply_changes audits every real change
)
async def set_log_category(call: Call) -> ServerLog:
    """What `/logging channel` and `/logging off` do: the category posts in `channel_id` (all
    its events reported), or with null it is off. The moderation category is the modlog."""
    category = _category(call.param("category"))
    body: LogCategoryBody = call.body
    channel_id = (
        None if body.channel_id is None else check_snowflake(body.channel_id, what="a channel id")
    )
    if category is LogCategory.MODERATION:
        await moderation.set_modlog_channel(call.guild_id, channel_id, actor_id=call.actor_id)
    elif channel_id is None:
        await service.stop_log_category(call.guild_id, call.actor_id, category)
    else:
        await service.set_log_category(
            call.guild_id, call.actor_id, category, channel_id=channel_id
        )
    return await _server_log(call.guild_id)


def _category(text: str) -> LogCategory:
    try:
        return LogCategory(text.strip().lower())
    except ValueError:
        accepted = ", ".join(category.value for category in LogCategory)
        raise NotFoundError(
            f"{shown_input(text)} is not a log category: use {accepted}."
        ) from None


# --------------------------------------------------------------------------- autoroles


@dataclass(frozen=True)
class Autoroles:
    """Roles given to every member who joins, while `enabled`."""

    enabled: bool
    role_ids: list[int]

    @classmethod
    def of(cls, config: GuildConfig) -> Autoroles:
        return cls(config.autorole_enabled, list(config.autorole_role_ids))


@dataclass(frozen=True)
class AutoroleBody:
    role_id: int


@routes.get(
    f"{COMMUNITY}/autoroles",
    scope="community:read",
    summary="List the autoroles",
    response=Autoroles,
)
async def list_autoroles(call: Call) -> Autoroles:
    """What `/autorole list` shows (a server has at most ten, so one answer holds them)."""
    return Autoroles.of(await service.load_config(call.guild_id))


@routes.post(
    f"{COMMUNITY}/autoroles",
    scope="community:write",
    summary="Add an autorole",
    body=AutoroleBody,
    response=Autoroles,
    status=201,
    idempotent=True,
    audit_fallback=False,  # apply_changes audits the change
)
async def add_autorole(call: Call) -> Autoroles:
    """What `/autorole add` does: every member who joins gets the role (and autoroles are
    on). Refused like the command: the key's owner must be able to give the role themselves,
    the bot must be able to give it, and it must not carry Administrator."""
    body: AutoroleBody = call.body
    role_id = check_snowflake(body.role_id, what="a role id")
    role = await require_can_be_autorole_over_api(call, role_id)
    config = await service.add_autorole(call.guild_id, call.actor_id, role.id)
    await remember_role_setup(call, role)
    return Autoroles.of(config)


@routes.delete(
    f"{COMMUNITY}/autoroles/{{role_id}}",
    scope="community:write",
    summary="Remove an autorole",
    params=[
        Param("role_id", int, "The role's id", location="path", minimum=1,
              maximum=MAX_SNOWFLAKE),
    ],
    response=Autoroles,
    audit_fallback=False,  # apply_changes audits the change
)
async def remove_autorole(call: Call) -> Autoroles:
    """What `/autorole remove` does; autoroles switch off when none is left."""
    config = await service.remove_autorole(call.guild_id, call.actor_id, call.param("role_id"))
    return Autoroles.of(config)


for _kind in GreetingKind:
    _declare_greeting(_kind)
