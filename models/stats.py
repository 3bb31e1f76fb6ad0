"""Per-guild daily figures for the dashboard's charts. No column names a member."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.guilds import Guild


class GuildDailyStats(Model):
    """One row per guild and UTC day, incremented atomically: by the activity flush (messages,
    active members, XP given) and by the gateway's join and leave events."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, on_delete=fields.CASCADE
    )
    day = fields.DateField()
    messages = fields.BigIntField(default=0)
    active_members = fields.IntField(default=0)  # members who sent a message that day
    joins = fields.IntField(default=0)
    leaves = fields.IntField(default=0)
    xp_given = fields.BigIntField(default=0)

    class Meta:
        table = "guild_daily_stats"
        unique_together = (("guild", "day"),)
