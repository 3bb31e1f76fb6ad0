"""The server log's categories: routing, the category settings, and the migration of the old
single-channel settings (run on this run's dialect)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tortoise import Tortoise

from models.guilds import GuildSettings
from models.security import AuditLog
from pegasus import migrations_tool
from pegasus.errors import ConflictError, ValidationError
from pegasus.services import community, directory, security
from pegasus.services.community import LogCategory, LogEvent
from pegasus.services.log_readers import AuditFilter, read_audit_page
from tests.conftest import test_dialect

GUILD = 222_222_222_222_222_333
OTHER_GUILD = 222_222_222_222_222_444
ADMIN = 900_000_000_000_000_010
OLD_CHANNEL = 700_000_000_000_000_001
VOICE_CHANNEL = 700_000_000_000_000_002
MIGRATION = "log_categories"


def migration_data_statements() -> list[str]:
    """The UPDATEs of the migration that added the categories (its data step)."""
    [path] = [p for p in migrations_tool.version_files() if MIGRATION in Path(p).name]
    upgrade, _ = migrations_tool.dialect_sql(path, test_dialect())
    statements = [part.strip() for part in upgrade.split(";")]
    return [statement for statement in statements if statement.upper().startswith("UPDATE")]


async def test_the_migration_adds_the_new_events_of_categories_already_logged(db: str) -> None:
    await directory.ensure_guild(GUILD)
    await directory.ensure_guild(OTHER_GUILD)
    old = ["message_delete", "role_change", "member_join"]
    await GuildSettings.filter(guild_id=GUILD).update(
        logging_enabled=True, logging_channel_id=OLD_CHANNEL, logging_events=old
    )
    await GuildSettings.filter(guild_id=OTHER_GUILD).update(
        logging_enabled=True, logging_channel_id=OLD_CHANNEL, logging_events=["member_leave"]
    )
    statements = migration_data_statements()
    assert len(statements) == 2
    connection = Tortoise.get_connection("default")
    for _ in range(2):  # running it again changes nothing more
        for statement in statements:
            await connection.execute_script(statement)

    stored = await GuildSettings.get(guild_id=GUILD)
    assert stored.logging_events == [*old, "message_bulk_delete", "nickname_change"]
    other = await GuildSettings.get(guild_id=OTHER_GUILD)
    assert other.logging_events == ["member_leave"]
    # Every category logged before keeps posting in the one channel; new ones stay off.
    config = await community.load_config(GUILD)
    for event in (LogEvent.MESSAGE_DELETE, LogEvent.MESSAGE_BULK_DELETE, LogEvent.MEMBER_JOIN,
                  LogEvent.ROLE_CHANGE, LogEvent.NICKNAME_CHANGE):
        assert config.logs(event) == OLD_CHANNEL, event
    for event in (LogEvent.MESSAGE_EDIT, LogEvent.VOICE_JOIN, LogEvent.CHANNEL_CHANGE):
        assert config.logs(event) is None, event


async def test_a_category_gets_its_own_channel_and_can_be_turned_off(db: str) -> None:
    await community.set_logging(
        GUILD, ADMIN, channel_id=OLD_CHANNEL, events=[LogEvent.MEMBER_JOIN]
    )
    config = await community.set_log_category(
        GUILD, ADMIN, LogCategory.VOICE, channel_id=VOICE_CHANNEL
    )
    assert {config.logs(e) for e in community.category_events(LogCategory.VOICE)} == {
        VOICE_CHANNEL
    }
    assert config.logs(LogEvent.MEMBER_JOIN) == OLD_CHANNEL  # others stay where they were
    assert config.alerts_channel_id == OLD_CHANNEL
    assert config.log_channel_ids == {OLD_CHANNEL, VOICE_CHANNEL}

    config = await community.stop_log_category(GUILD, ADMIN, LogCategory.VOICE)
    assert all(config.logs(e) is None for e in community.category_events(LogCategory.VOICE))
    assert config.logs(LogEvent.MEMBER_JOIN) == OLD_CHANNEL
    stored = await GuildSettings.get(guild_id=GUILD)
    assert stored.log_voice_channel_id is None
    with pytest.raises(ConflictError, match="already off"):
        await community.stop_log_category(GUILD, ADMIN, LogCategory.VOICE)
    with pytest.raises(ValidationError, match="/modlog"):
        await community.set_log_category(
            GUILD, ADMIN, LogCategory.MODERATION, channel_id=VOICE_CHANNEL
        )
    changes = await AuditLog.filter(guild_id=GUILD, action="logging.category").count()
    assert changes == 2


async def test_without_a_log_channel_alerts_go_to_the_automod_channel(db: str) -> None:
    config = await community.set_log_category(
        GUILD, ADMIN, LogCategory.AUTOMOD, channel_id=VOICE_CHANNEL
    )
    assert config.logging_channel_id is None
    assert config.alerts_channel_id == VOICE_CHANNEL


async def test_the_audit_reader_tells_apart_features_sharing_a_table(db: str) -> None:
    await community.set_logging(GUILD, ADMIN, channel_id=OLD_CHANNEL, events=list(LogEvent))
    await security.update_security_settings(GUILD, ADMIN, anti_spam=True)
    both = await read_audit_page(GUILD, AuditFilter(), per_page=10)
    assert [entry.feature for entry in both.entries] == ["security", "community"]
    only = await read_audit_page(GUILD, AuditFilter(feature="community"), per_page=10)
    assert [entry.action for entry in only.entries] == ["logging.set"]
    by_family = await read_audit_page(GUILD, AuditFilter(feature="logging"), per_page=10)
    assert by_family.total == 1
