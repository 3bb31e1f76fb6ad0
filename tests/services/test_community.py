"""Welcome/goodbye templates, autoroles, the server log settings and the configuration cache."""

from __future__ import annotations

import asyncio
import logging

import pytest

from models.guilds import DEFAULT_WELCOME_MESSAGE, GuildSettings
from models.security import AuditLog
from pegasus.errors import ConflictError, NotFoundError, ValidationError
from pegasus.services import community
from pegasus.services.community import (
    ConfigCache,
    GreetingConfig,
    GreetingKind,
    LogEvent,
    MemberFacts,
)

GUILD = 222_222_222_222_222_222
ADMIN = 900_000_000_000_000_010
CHANNEL = 700_000_000_000_000_001
ROLE = 600_000_000_000_000_001
FACTS = MemberFacts(
    user_id=42, mention="<@42>", username="alice", server="Pegasus Test", member_count=12_345
)


@pytest.fixture
def configs() -> ConfigCache:
    """The copy of the configuration a running bot would own and hand in."""
    return ConfigCache()


# ------------------------------------------------------------------------------------------------
# Templates


def test_placeholders_are_filled() -> None:
    text = community.render_template(
        "Hi {user} ({username}), welcome to {server}: member #{member_count}!", FACTS
    )
    assert text == "Hi <@42> (alice), welcome to Pegasus Test: member #12,345!"


def test_unknown_braces_are_left_as_typed() -> None:
    assert community.render_template("{user} {nope} {}", FACTS) == "<@42> {nope} {}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   ", "can't be empty"),
        ("x" * 1801, "at most 1,800"),
        ("Hi {usr} and {guild}", "Unknown placeholder {guild}, {usr}"),
    ],
)
def test_bad_templates_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        community.validate_template(text)


def test_good_template_is_stripped() -> None:
    assert community.validate_template("  Hi {user}  ") == "Hi {user}"


@pytest.mark.parametrize(
    ("text", "value"),
    [("#5865F2", 0x5865F2), ("5865f2", 0x5865F2), ("0xFF0000", 0xFF0000), ("red", 0xED4245)],
)
def test_colours(text: str, value: int) -> None:
    assert community.parse_color(text) == value


@pytest.mark.parametrize("text", ["bleu", "#12345", "#1234567", ""])
def test_bad_colours(text: str) -> None:
    with pytest.raises(ValidationError, match="not a colour"):
        community.parse_color(text)


def test_plain_welcome_with_dm() -> None:
    settings = GreetingConfig(
        enabled=True, message="Hi {user}", dm_enabled=True, dm_message="Rules: {server}"
    )
    greeting = community.build_greeting(GreetingKind.WELCOME, settings, FACTS)
    assert greeting.content == "Hi <@42>"
    assert greeting.embed is None
    assert greeting.dm == "Rules: Pegasus Test"


def test_dm_falls_back_to_the_channel_message() -> None:
    settings = GreetingConfig(enabled=True, message="Hi {username}", dm_enabled=True)
    assert community.build_greeting(GreetingKind.WELCOME, settings, FACTS).dm == "Hi alice"


def test_embed_welcome_pings_outside_the_embed() -> None:
    settings = GreetingConfig(
        enabled=True,
        message="Welcome {user}",
        embed_enabled=True,
        embed_color=0x00FF00,
        embed_title="Welcome to {server}",
        embed_image="https://example.com/a.png",
    )
    greeting = community.build_greeting(GreetingKind.WELCOME, settings, FACTS)
    assert greeting.content == "<@42>"
    assert greeting.embed is not None
    assert greeting.embed.title == "Welcome to Pegasus Test"
    assert greeting.embed.description == "Welcome <@42>"
    assert greeting.embed.color == 0x00FF00
    assert greeting.embed.image_url == "https://example.com/a.png"
    assert greeting.dm is None


def test_embed_goodbye_pings_nobody() -> None:
    settings = GreetingConfig(enabled=True, message="Bye {username}", embed_enabled=True)
    greeting = community.build_greeting(GreetingKind.GOODBYE, settings, FACTS)
    assert greeting.content is None
    assert greeting.embed is not None and greeting.embed.description == "Bye alice"


def test_log_events_are_parsed() -> None:
    assert community.parse_log_events(None) == list(LogEvent)
    assert community.parse_log_events("all") == list(LogEvent)
    assert community.parse_log_events("member_join, message-delete member_join") == [
        LogEvent.MEMBER_JOIN,
        LogEvent.MESSAGE_DELETE,
    ]
    with pytest.raises(ValidationError, match="`joins` is not a log event"):
        community.parse_log_events("joins")


# ------------------------------------------------------------------------------------------------
# Settings in the database


async def test_defaults_without_a_row(db: str, configs: ConfigCache) -> None:
    config = await configs.get(GUILD)
    assert not config.welcome.enabled
    assert config.welcome.message == DEFAULT_WELCOME_MESSAGE
    assert config.autoroles == ()
    assert config.logs(LogEvent.MEMBER_JOIN) is None
    assert not config.security.raid_protection_on
    assert await GuildSettings.filter(guild_id=GUILD).count() == 0  # reading wrote nothing


async def test_set_welcome_is_stored_audited_and_seen_at_once(
    db: str, configs: ConfigCache
) -> None:
    await configs.get(GUILD)  # cached before the change
    config = await community.set_greeting(
        GUILD,
        ADMIN,
        GreetingKind.WELCOME,
        channel_id=CHANNEL,
        message="Hello {user}",
        embed_enabled=True,
        embed_color="#112233",
        embed_title="Hi",
        dm_enabled=True,
        dm_message="Read the rules, {username}",
        cache=configs,
    )
    assert config.welcome == GreetingConfig(
        enabled=True,
        channel_id=CHANNEL,
        message="Hello {user}",
        embed_enabled=True,
        embed_color=0x112233,
        embed_title="Hi",
        dm_enabled=True,
        dm_message="Read the rules, {username}",
    )
    assert (await configs.get(GUILD)).welcome.channel_id == CHANNEL
    row = await GuildSettings.get(guild_id=GUILD)
    assert row.welcome_message == "Hello {user}"
    audit = await AuditLog.get(action="welcome.set")
    assert audit.actor_id == ADMIN  # type: ignore[attr-defined]
    assert audit.target_type == "guild_settings"
    assert audit.target_id == str(GUILD)
    assert audit.before is not None and audit.after is not None
    assert audit.before["welcome_enabled"] is False
    assert audit.after["welcome_enabled"] is True
    assert audit.before["welcome_message"] == DEFAULT_WELCOME_MESSAGE
    assert audit.after["welcome_embed_color"] == 0x112233


async def test_optional_values_can_be_cleared_and_others_are_kept(db: str) -> None:
    await community.set_greeting(
        GUILD, ADMIN, GreetingKind.GOODBYE, channel_id=CHANNEL, embed_title="Bye", message="x"
    )
    config = await community.set_greeting(
        GUILD, ADMIN, GreetingKind.GOODBYE, channel_id=CHANNEL, embed_title="none"
    )
    assert config.goodbye.embed_title is None
    assert config.goodbye.message == "x"
    second = await AuditLog.filter(action="goodbye.set").order_by("-created_at").first()
    assert second is not None and second.after == {"goodbye_embed_title": None}


async def test_a_link_must_be_secure_as_the_refusal_says(db: str) -> None:
    with pytest.raises(ValidationError, match="must be a link starting with https://"):
        await community.set_greeting(
            GUILD, ADMIN, GreetingKind.WELCOME, channel_id=CHANNEL, embed_image="http://x.io/a.png"
        )
    assert await AuditLog.all().count() == 0


async def test_refusals_name_no_discord_markup(db: str) -> None:
    await community.add_autorole(GUILD, ADMIN, ROLE)
    with pytest.raises(ConflictError) as taken:
        await community.add_autorole(GUILD, ADMIN, ROLE)
    with pytest.raises(NotFoundError) as missing:
        await community.remove_autorole(GUILD, ADMIN, ROLE + 1)
    assert "<@" not in str(taken.value) and "<@" not in str(missing.value)


async def test_a_change_forgets_the_cached_copy_it_is_given(db: str, configs: ConfigCache) -> None:
    assert (await configs.get(GUILD)).autoroles == ()
    await community.add_autorole(GUILD, ADMIN, ROLE, cache=configs)
    assert configs.peek(GUILD) is None
    assert (await configs.get(GUILD)).autoroles == (ROLE,)


async def test_goodbye_cannot_be_private(db: str) -> None:
    with pytest.raises(ValidationError, match="can't be sent privately"):
        await community.set_greeting(
            GUILD, ADMIN, GreetingKind.GOODBYE, channel_id=CHANNEL, dm_enabled=True
        )


async def test_bad_values_change_nothing(db: str) -> None:
    with pytest.raises(ValidationError, match="https://"):
        await community.set_greeting(
            GUILD, ADMIN, GreetingKind.WELCOME, channel_id=CHANNEL, embed_image="ftp://x"
        )
    assert not (await community.load_config(GUILD)).welcome.enabled
    assert await AuditLog.all().count() == 0


async def test_disable_keeps_the_setup(db: str) -> None:
    with pytest.raises(ConflictError, match="already off"):
        await community.disable_greeting(GUILD, ADMIN, GreetingKind.WELCOME)
    await community.set_greeting(
        GUILD, ADMIN, GreetingKind.WELCOME, channel_id=CHANNEL, message="Yo {user}"
    )
    config = await community.disable_greeting(GUILD, ADMIN, GreetingKind.WELCOME)
    assert not config.welcome.enabled
    assert config.welcome.message == "Yo {user}"
    assert config.welcome.channel_id == CHANNEL
    audit = await AuditLog.get(action="welcome.disable")
    assert audit.before == {"welcome_enabled": True}
    assert audit.after == {"welcome_enabled": False}


async def test_autoroles(db: str) -> None:
    config = await community.add_autorole(GUILD, ADMIN, ROLE)
    assert config.autoroles == (ROLE,)
    with pytest.raises(ConflictError, match="already given"):
        await community.add_autorole(GUILD, ADMIN, ROLE)
    await community.add_autorole(GUILD, ADMIN, ROLE + 1)
    config = await community.remove_autorole(GUILD, ADMIN, ROLE)
    assert config.autoroles == (ROLE + 1,)
    with pytest.raises(NotFoundError, match="not an autorole"):
        await community.remove_autorole(GUILD, ADMIN, ROLE)
    config = await community.remove_autorole(GUILD, ADMIN, ROLE + 1)
    assert config.autoroles == () and not config.autorole_enabled
    actions = await AuditLog.all().order_by("created_at").values_list("action", flat=True)
    assert actions == ["autorole.add", "autorole.add", "autorole.remove", "autorole.remove"]


async def test_autorole_limit(db: str) -> None:
    for offset in range(community.MAX_AUTOROLES):
        await community.add_autorole(GUILD, ADMIN, ROLE + offset)
    with pytest.raises(ValidationError, match="at most 10"):
        await community.add_autorole(GUILD, ADMIN, ROLE + 99)


async def test_concurrent_autorole_adds_are_all_kept(db: str) -> None:
    roles = [ROLE + offset for offset in range(community.MAX_AUTOROLES)]
    await asyncio.gather(*(community.add_autorole(GUILD, ADMIN, role) for role in roles))
    row = await GuildSettings.get(guild_id=GUILD)
    assert sorted(row.autorole_role_ids) == roles
    assert await AuditLog.filter(action="autorole.add").count() == len(roles)


async def test_logging_settings(db: str) -> None:
    config = await community.set_logging(
        GUILD, ADMIN, channel_id=CHANNEL, events=[LogEvent.MEMBER_JOIN, LogEvent.MESSAGE_DELETE]
    )
    assert config.logs(LogEvent.MEMBER_JOIN) == CHANNEL
    assert config.logs(LogEvent.MESSAGE_EDIT) is None
    assert (await GuildSettings.get(guild_id=GUILD)).logging_events == [
        "member_join",
        "message_delete",
    ]
    with pytest.raises(ValidationError, match="at least one"):
        await community.set_logging(GUILD, ADMIN, channel_id=CHANNEL, events=[])
    config = await community.disable_logging(GUILD, ADMIN)
    assert config.logs(LogEvent.MEMBER_JOIN) is None
    assert config.logging_channel_id == CHANNEL  # kept for security alerts
    with pytest.raises(ConflictError, match="already off"):
        await community.disable_logging(GUILD, ADMIN)


async def test_unknown_stored_events_are_ignored(db: str) -> None:
    await community.set_logging(GUILD, ADMIN, channel_id=CHANNEL, events=[LogEvent.MEMBER_JOIN])
    await GuildSettings.filter(guild_id=GUILD).update(logging_events=["member_join", "gone"])
    assert (await community.load_config(GUILD)).logging_events == {LogEvent.MEMBER_JOIN}


# ------------------------------------------------------------------------------------------------
# The cache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cache_serves_memory_until_its_ttl(db: str) -> None:
    clock = FakeClock()
    cache = ConfigCache(ttl_seconds=60, clock=clock)
    await community.set_logging(GUILD, ADMIN, channel_id=CHANNEL, events=[LogEvent.MEMBER_JOIN])
    assert (await cache.get(GUILD)).logging_enabled
    # A change made elsewhere (another process) is not seen before the TTL...
    await GuildSettings.filter(guild_id=GUILD).update(logging_enabled=False)
    clock.now += 59
    assert (await cache.get(GUILD)).logging_enabled
    # ...and is seen after it.
    clock.now += 2
    assert cache.peek(GUILD) is None
    assert not (await cache.get(GUILD)).logging_enabled


async def test_a_load_overtaken_by_an_invalidation_is_not_kept(db: str) -> None:
    cache = ConfigCache()
    loading = asyncio.create_task(cache.get(GUILD))
    await asyncio.sleep(0)  # the load is now waiting on the database
    cache.invalidate(GUILD)
    await loading
    assert cache.peek(GUILD) is None
    await cache.get(GUILD)
    assert cache.peek(GUILD) is not None


async def test_a_load_overtaken_by_a_clear_is_not_kept(db: str) -> None:
    cache = ConfigCache()
    loading = asyncio.create_task(cache.get(GUILD))
    await asyncio.sleep(0)
    cache.clear()  # e.g. the bot restarted on another database meanwhile
    await loading
    assert cache.peek(GUILD) is None


async def test_a_burst_of_readers_shares_one_load(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Messages arriving together while the copy is missing send one query, not one each."""
    cache = ConfigCache()
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        configs = await asyncio.gather(*(cache.get(GUILD) for _ in range(50)))
    loads = [
        r
        for r in caplog.records
        if r.name == "tortoise.db_client" and "guild_settings" in r.getMessage()
    ]
    assert len(loads) == 1
    assert all(config is configs[0] for config in configs)
