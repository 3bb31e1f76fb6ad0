"""Guilds, their settings, Discord users and guild memberships.

Every guild-scoped table references `guilds` with ON DELETE CASCADE, so removing a guild row (after
the grace period that follows `left_at`) removes all its data in one statement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.security import Blacklist

# Defaults people see until an administrator changes them.
DEFAULT_WELCOME_MESSAGE = "Welcome {user} to {server}! You are member #{member_count}."
DEFAULT_GOODBYE_MESSAGE = "{user} has left {server}. We are now {member_count}."
DEFAULT_LEVEL_UP_MESSAGE = "{user} reached level {level}!"


class Guild(Model):
    """A Discord server the bot is (or was) in; `id` is the guild's snowflake."""

    id = fields.BigIntField(primary_key=True, generated=False)
    prefix = fields.CharField(max_length=16, default="!")
    language = fields.CharField(max_length=16, default="en")
    # Set when the bot leaves; the data is kept for a grace period, then the row is deleted.
    left_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    settings: fields.BackwardOneToOneRelation[GuildSettings]
    members: fields.ReverseRelation[Member]
    blacklist_entries: fields.ReverseRelation[Blacklist]

    class Meta:
        table = "guilds"

    def __str__(self) -> str:
        return f"Guild {self.id}"


class GuildSettings(Model):
    """One row per guild: welcome, goodbye, logging, XP, autorole and security settings."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.OneToOneRelation[Guild] = fields.OneToOneField(
        "models.Guild", related_name="settings", on_delete=fields.CASCADE
    )

    # Welcome: `message` and `dm_message` are templates with {user}, {server}, {member_count}.
    welcome_enabled = fields.BooleanField(default=False)
    welcome_channel_id = fields.BigIntField(null=True)
    welcome_message = fields.TextField(default=DEFAULT_WELCOME_MESSAGE)
    welcome_embed_enabled = fields.BooleanField(default=False)
    welcome_embed_color = fields.IntField(null=True)  # 0xRRGGBB
    welcome_embed_title = fields.CharField(max_length=256, null=True)
    welcome_embed_image = fields.CharField(max_length=1024, null=True)
    welcome_embed_thumbnail = fields.CharField(max_length=1024, null=True)
    welcome_dm_enabled = fields.BooleanField(default=False)
    welcome_dm_message = fields.TextField(null=True)

    # Goodbye
    goodbye_enabled = fields.BooleanField(default=False)
    goodbye_channel_id = fields.BigIntField(null=True)
    goodbye_message = fields.TextField(default=DEFAULT_GOODBYE_MESSAGE)
    goodbye_embed_enabled = fields.BooleanField(default=False)
    goodbye_embed_color = fields.IntField(null=True)
    goodbye_embed_title = fields.CharField(max_length=256, null=True)
    goodbye_embed_image = fields.CharField(max_length=1024, null=True)
    goodbye_embed_thumbnail = fields.CharField(max_length=1024, null=True)

    # Logging: `logging_events` is the JSON list of event kinds that are logged.
    logging_enabled = fields.BooleanField(default=False)
    logging_channel_id = fields.BigIntField(null=True)
    logging_events: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    # Each log category's own channel; null = the log channel above. (The moderation
    # category's channel is the modlog: `moderation_settings.modlog_channel_id`.)
    log_messages_channel_id = fields.BigIntField(null=True)
    log_members_channel_id = fields.BigIntField(null=True)
    log_automod_channel_id = fields.BigIntField(null=True)
    log_voice_channel_id = fields.BigIntField(null=True)
    log_server_channel_id = fields.BigIntField(null=True)

    # XP: rates and multipliers are percentages (100 = 1x).
    xp_enabled = fields.BooleanField(default=True)
    xp_rate = fields.IntField(default=100)
    xp_min = fields.IntField(default=15)
    xp_max = fields.IntField(default=25)
    xp_per_voice_minute = fields.IntField(default=5)
    xp_cooldown_seconds = fields.IntField(default=60)
    xp_announce_level_up = fields.BooleanField(default=True)
    xp_level_up_channel_id = fields.BigIntField(null=True)  # null = the channel of the message
    xp_level_up_message = fields.TextField(default=DEFAULT_LEVEL_UP_MESSAGE)
    xp_booster_role_id = fields.BigIntField(null=True)
    xp_booster_multiplier = fields.IntField(default=100)

    # Autorole: roles given to every member who joins.
    autorole_enabled = fields.BooleanField(default=False)
    autorole_role_ids: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]

    # Security: a raid is `raid_joins` joins within `raid_seconds`.
    security_enabled = fields.BooleanField(default=False)
    security_alert_role_id = fields.BigIntField(null=True)
    anti_raid_enabled = fields.BooleanField(default=False)
    raid_joins = fields.IntField(default=10)
    raid_seconds = fields.IntField(default=10)
    anti_spam_enabled = fields.BooleanField(default=False)
    max_mentions = fields.IntField(default=5)
    max_duplicates = fields.IntField(default=3)

    # Retention, in days (0 = kept): messages of tickets closed longer ago, security logs and
    # audit logs older than this are deleted by the periodic retention sweep.
    retention_ticket_days = fields.IntField(default=0)
    retention_security_log_days = fields.IntField(default=90)
    retention_audit_log_days = fields.IntField(default=365)

    # Web: the public leaderboard and giveaway pages (off: they answer 404).
    public_pages_enabled = fields.BooleanField(default=False)

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "guild_settings"

    def __str__(self) -> str:
        return f"Settings of guild {self.guild_id}"  # type: ignore[attr-defined]


class User(Model):
    """A Discord user seen by the bot; `id` is the user's snowflake."""

    id = fields.BigIntField(primary_key=True, generated=False)
    username = fields.CharField(max_length=64, default="")
    global_name = fields.CharField(max_length=64, null=True)
    discriminator = fields.CharField(max_length=4, default="0")  # "0" for migrated usernames
    avatar = fields.CharField(max_length=1024, null=True)  # avatar hash or URL
    is_bot = fields.BooleanField(default=False)
    rank_card_background = fields.CharField(max_length=1024, null=True)
    rank_card_accent = fields.IntField(null=True)  # 0xRRGGBB
    preferred_locale = fields.CharField(max_length=16, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    memberships: fields.ReverseRelation[Member]

    class Meta:
        table = "users"

    def __str__(self) -> str:
        return self.global_name or self.username or f"User {self.id}"


class Member(Model):
    """A user's membership of a guild, with activity counters.

    `xp`/`level` mirror `user_xp` (the authority) and are written in the same transaction.
    """

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="members", on_delete=fields.CASCADE
    )
    # Indexed on its own: "which guilds is this user in" and user deletion scan by user_id.
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE, db_index=True
    )
    nickname = fields.CharField(max_length=64, null=True)
    joined_at = fields.DatetimeField(null=True)
    xp = fields.BigIntField(default=0)
    level = fields.IntField(default=0)
    messages = fields.BigIntField(default=0)
    voice_minutes = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "members"
        unique_together = (("guild", "user"),)
        # Leaderboards sort by xp, messages and voice minutes within a guild (column names).
        indexes = (("guild_id", "xp"), ("guild_id", "messages"), ("guild_id", "voice_minutes"))

    def __str__(self) -> str:
        return f"Member {self.user_id} of guild {self.guild_id}"  # type: ignore[attr-defined]
