"""Retention: a guild's data deleted in full (and nothing of another guild), and the sweep that
deletes exactly the records older than each guild keeps them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from models.attachments import AttachmentBlob
from models.guilds import Guild
from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditLog, SecurityLog
from models.tickets import Ticket, TicketMessage, TicketStatus
from pegasus.errors import ValidationError
from pegasus.scheduler import schedule
from pegasus.services import directory, retention
from pegasus.services.attachments import (
    AttachmentLimits,
    AttachmentSource,
    EvidenceOwner,
    record_copy,
)
from pegasus.services.retention import UNSCOPED_TABLES, guild_data_tables
from tests.models.instances import InstanceBuilder
from tests.services.guild_rows import fill_guild, rows_per_table

pytestmark = pytest.mark.usefixtures("db")

GUILD = 900_000_000_000_000_161
OTHER = 900_000_000_000_000_162
STAFF = 100_000_000_000_000_161
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_every_table_is_deleted_with_its_guild_or_says_why_not() -> None:
    from tortoise import Tortoise

    tables = {m._meta.db_table for app in Tortoise.apps.values() for m in app.values()}
    tables.discard("aerich")
    uncovered = sorted(tables - set(guild_data_tables()) - set(UNSCOPED_TABLES))
    assert not uncovered, f"rows of these tables survive their guild's purge: {uncovered}"


async def test_purge_guild_deletes_every_row_of_the_guild_and_nothing_of_another() -> None:
    builder = InstanceBuilder()
    await fill_guild(builder, GUILD)
    await fill_guild(builder, OTHER)
    await schedule("moderation.unban", NOW, {"user_id": 1}, guild_id=GUILD)
    before = await rows_per_table()
    mine = await rows_per_table(GUILD)
    assert all(mine.values()), {t: n for t, n in mine.items() if not n}  # a row in every table
    other = await rows_per_table(OTHER)

    summary = await retention.purge_guild(GUILD)

    assert not await Guild.filter(id=GUILD).exists()
    assert await rows_per_table(GUILD) == dict.fromkeys(mine, 0)
    assert await rows_per_table(OTHER) == other
    assert await rows_per_table() == {t: before[t] - mine[t] for t in before}
    assert dict(summary.tables) == {"guilds": 1, **mine}
    assert summary.rows == 1 + sum(mine.values())


async def test_purge_of_a_due_left_guild_keeps_its_own_action_and_skips_a_guild_back() -> None:
    await directory.ensure_guild(GUILD)
    due = await retention.guild_left(GUILD, now=NOW, grace=timedelta(days=30))
    assert due == NOW + timedelta(days=30)
    action = await ScheduledAction.get(kind=retention.PURGE_KIND, guild_id=GUILD)
    assert (action.status, action.due_at) == (ActionStatus.PENDING, due)

    outcome, summary = await retention.purge_left_guild(
        GUILD, bot_is_there=True, now=due, grace=timedelta(days=30), action_id=action.id
    )
    assert (outcome, summary) == (retention.LeftGuildOutcome.KEPT, None)
    assert await Guild.filter(id=GUILD).exists()

    outcome, summary = await retention.purge_left_guild(
        GUILD, bot_is_there=False, now=due, grace=timedelta(days=30), action_id=action.id
    )
    assert outcome is retention.LeftGuildOutcome.PURGED
    assert summary is not None and dict(summary.tables)["guilds"] == 1
    assert not await Guild.filter(id=GUILD).exists()
    assert await ScheduledAction.filter(id=action.id).exists()  # the scheduler marks it done


async def test_coming_back_cancels_the_deletion() -> None:
    await directory.ensure_guild(GUILD)
    await retention.guild_left(GUILD, now=NOW, grace=timedelta(days=30))
    assert await retention.guild_back(GUILD)
    assert not await ScheduledAction.filter(
        kind=retention.PURGE_KIND, status=ActionStatus.PENDING
    ).exists()
    assert not await retention.guild_back(GUILD)  # nothing left to cancel


async def _log_rows(guild_id: int, model: type, ages: list[int]) -> list[uuid.UUID]:
    ids = []
    for days in ages:
        row = await model.create(guild_id=guild_id, action="test")
        await model.filter(id=row.id).update(created_at=NOW - timedelta(days=days))
        ids.append(row.id)
    return ids


async def _ticket(guild_id: int, number: int, closed_days_ago: int | None) -> str:
    await directory.ensure_member(guild_id, STAFF)
    ticket = await Ticket.create(
        guild_id=guild_id,
        number=number,
        user_id=STAFF,
        status=TicketStatus.OPEN if closed_days_ago is None else TicketStatus.CLOSED,
        closed_at=None if closed_days_ago is None else NOW - timedelta(days=closed_days_ago),
    )
    for i in range(2):
        await TicketMessage.create(
            ticket=ticket,
            message_id=guild_id % 10**6 * 1000 + number * 10 + i,
            author_name="someone",
            created_at=NOW - timedelta(days=400),
        )
    return str(ticket.id)


async def test_the_sweep_deletes_exactly_the_records_older_than_their_guild_keeps() -> None:
    for guild_id in (GUILD, OTHER):
        await directory.ensure_guild(guild_id)
    await retention.update_retention_settings(
        GUILD, STAFF, ticket_days=30, security_log_days=10, audit_log_days=20
    )
    await retention.update_retention_settings(
        OTHER, STAFF, ticket_days=0, security_log_days=0, audit_log_days=0
    )
    await AuditLog.all().delete()  # the settings changes' own audit rows are written "now"
    security = {g: await _log_rows(g, SecurityLog, [11, 9]) for g in (GUILD, OTHER)}
    audit = {g: await _log_rows(g, AuditLog, [21, 19]) for g in (GUILD, OTHER)}
    tickets = {
        g: [await _ticket(g, n, days) for n, days in ((1, 31), (2, 29), (3, None))]
        for g in (GUILD, OTHER)
    }

    # A file kept from one of the messages that go: its copy goes with its last reference.
    [old_message] = await TicketMessage.filter(ticket_id=tickets[GUILD][0]).limit(1)
    await record_copy(
        GUILD,
        AttachmentSource("https://cdn.discordapp.com/a/1/shot.png", "shot.png"),
        b"evidence",
        [EvidenceOwner(ticket_message_id=old_message.message_id)],
        AttachmentLimits(max_file_bytes=1024, max_guild_bytes=4096),
    )

    swept = await retention.sweep(NOW)

    assert swept == retention.SweepSummary(
        ticket_messages=2, security_logs=1, audit_logs=1, kept_files=1
    )
    assert not await AttachmentBlob.exists()
    assert set(await SecurityLog.all().values_list("id", flat=True)) == {
        security[GUILD][1], *security[OTHER]
    }
    assert set(await AuditLog.all().values_list("id", flat=True)) == {
        audit[GUILD][1], *audit[OTHER]
    }
    left = await TicketMessage.all().values_list("ticket_id", flat=True)
    assert sorted(map(str, set(left))) == sorted([*tickets[GUILD][1:], *tickets[OTHER]])
    assert await Ticket.all().count() == 6  # the tickets themselves stay
    assert await retention.sweep(NOW) == retention.SweepSummary(0, 0, 0)


async def test_retention_settings_are_declared_bounded_and_audited() -> None:
    defaults = await retention.retention_settings(GUILD)
    assert defaults == retention.RetentionSettings(
        ticket_days=0, security_log_days=90, audit_log_days=365
    )
    with pytest.raises(ValidationError):
        await retention.update_retention_settings(GUILD, STAFF, audit_log_days=-1)
    with pytest.raises(ValidationError):
        await retention.update_retention_settings(GUILD, STAFF)
    changed = await retention.update_retention_settings(GUILD, STAFF, ticket_days=14)
    assert changed.ticket_days == 14
    audit = await AuditLog.get(guild_id=GUILD, action="retention.set")
    assert (audit.before, audit.after) == (
        {"retention_ticket_days": 0},
        {"retention_ticket_days": 14},
    )
