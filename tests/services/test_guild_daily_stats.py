"""The guild's daily figures kept by member events: atomic increments, one row a UTC day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from models.guilds import Guild
from models.stats import GuildDailyStats
from pegasus.services import stats

GUILD = 424_242_424_242
NOW = datetime(2026, 12, 6, 23, 59, 30, tzinfo=UTC)


async def test_joins_and_leaves_of_a_guild_not_stored_yet_count_per_day(db: str) -> None:
    assert not await Guild.exists(id=GUILD)
    await asyncio.gather(*(stats.record_join(GUILD, NOW) for _ in range(20)))
    await stats.record_leave(GUILD, NOW)
    await stats.record_join(GUILD, NOW + timedelta(minutes=1))  # the next UTC day
    rows = await GuildDailyStats.filter(guild_id=GUILD).order_by("day").values_list(
        "joins", "leaves"
    )
    assert rows == [(20, 1), (1, 0)]
    charts = await stats.guild_charts(GUILD, 7, (NOW + timedelta(days=1)).date())
    assert [(day.joins, day.leaves) for day in charts.days[-2:]] == [(20, 1), (1, 0)]
