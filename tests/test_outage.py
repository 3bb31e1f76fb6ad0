"""Which errors are an unreachable database, and the outage's one WARNING and one INFO."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError

from pegasus.outage import DatabaseHealth, is_database_unreachable


def test_database_errors_that_mean_unreachable() -> None:
    assert is_database_unreachable(DBConnectionError("can't connect"))
    assert is_database_unreachable(OperationalError(sqlite3.OperationalError("database is locked")))
    assert is_database_unreachable(sqlite3.OperationalError("unable to open database file"))
    wrapped = RuntimeError("command failed")
    wrapped.__cause__ = DBConnectionError("gone")
    assert is_database_unreachable(wrapped)


def test_other_errors_are_not_an_outage() -> None:
    assert not is_database_unreachable(OperationalError("no such column: xp"))
    assert not is_database_unreachable(IntegrityError("UNIQUE constraint failed"))
    # Raised outside database code (Discord's HTTP client raises these too): not the database's.
    assert not is_database_unreachable(ConnectionRefusedError(111, "refused"))
    assert not is_database_unreachable(TimeoutError())


def test_one_warning_per_outage_and_one_info_when_back(caplog: pytest.LogCaptureFixture) -> None:
    health = DatabaseHealth()
    caplog.set_level(logging.INFO, logger="pegasus.outage")
    for _ in range(5):
        health.report(DBConnectionError("refused"))
    assert health.down
    health.recovered()
    health.recovered()
    health.report("no answer in time")
    levels = [record.levelname for record in caplog.records]
    assert levels == ["WARNING", "INFO", "WARNING"]
    assert health.outages == 2
