"""XP and levels: member XP, reward roles, multipliers, per-guild level settings, voice sessions.

`user_xp` is the authority for XP; `members.xp/level` mirror it and are written in the same
transaction. The scalar XP settings (rate, xp_min/xp_max, cooldown, announcements, booster) live in
`guild_settings`; `xp_settings` holds the lists and the voice and reward rules.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.guilds import Guild, User


class RewardMode(StrEnum):
    """Whether a reward role is kept (stack) or replaced by the next reward (replace)."""

    STACK = "stack"
    REPLACE = "replace"


class MultiplierTarget(StrEnum):
    ROLE = "role"
    CHANNEL = "channel"


class UserXP(Model):
    """A member's XP in one guild; leaderboards and ranks read this table."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="xp_rows", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="xp_rows", on_delete=fields.CASCADE, db_index=True
    )
    xp = fields.BigIntField(default=0)
    level = fields.IntField(default=0)
    last_message_xp_at = fields.DatetimeField(null=True)
    last_voice_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "user_xp"
        unique_together = (("guild", "user"),)
        # Top-N is a backward scan of this index and rank-of-member a range count on it; user_id
        # breaks ties so leaderboard positions and /rank agree (column names, not field names).
        indexes = (("guild_id", "xp", "user_id"),)

    def __str__(self) -> str:
        return f"XP of {self.user_id} in {self.guild_id}"  # type: ignore[attr-defined]


class XpReward(Model):
    """A role granted at a level; `mode` null means the guild's reward mode."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="xp_rewards", on_delete=fields.CASCADE
    )
    level = fields.IntField()
    role_id = fields.BigIntField()
    message = fields.TextField(null=True)  # custom level-up text when this reward is reached
    mode = fields.CharEnumField(RewardMode, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "xp_rewards"
        unique_together = (("guild", "level", "role_id"),)

    def __str__(self) -> str:
        return f"Role {self.role_id} at level {self.level}"


class XpMultiplier(Model):
    """An XP multiplier (percent, 150 = 1.5x) for a role or a channel."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="xp_multipliers", on_delete=fields.CASCADE
    )
    target_type = fields.CharEnumField(MultiplierTarget)
    target_id = fields.BigIntField()
    multiplier = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "xp_multipliers"
        unique_together = (("guild", "target_type", "target_id"),)

    def __str__(self) -> str:
        return f"{self.multiplier}% for {self.target_type} {self.target_id}"


class XpSettings(Model):
    """Per-guild channel and role lists, reward rules and voice rules for XP."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.OneToOneRelation[Guild] = fields.OneToOneField(
        "models.Guild", related_name="xp_settings", on_delete=fields.CASCADE
    )
    ignored_channels: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    ignored_roles: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    no_xp_channels: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    double_xp_channels: list[int] = fields.JSONField(default=list)  # type: ignore[assignment]
    rewards_enabled = fields.BooleanField(default=True)
    reward_mode = fields.CharEnumField(RewardMode, default=RewardMode.STACK)
    # Voice minutes count only with at least this many humans in the channel (the member included).
    voice_min_members = fields.IntField(default=2)
    voice_count_muted = fields.BooleanField(default=False)
    voice_count_deafened = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "xp_settings"

    def __str__(self) -> str:
        return f"XP settings of guild {self.guild_id}"  # type: ignore[attr-defined]


class VoiceSession(Model):
    """A member currently in a voice channel, so a restart can reconcile what it knew.

    Minutes are credited to `members.voice_minutes` while the session runs (`last_credited_at`);
    on start-up and reconnect, sessions are matched with the voice states Discord reports, so the
    time the bot could not see is never credited.
    """

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="voice_sessions", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="voice_sessions", on_delete=fields.CASCADE, db_index=True
    )
    channel_id = fields.BigIntField()
    started_at = fields.DatetimeField()
    last_credited_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "voice_sessions"
        unique_together = (("guild", "user"),)

    def __str__(self) -> str:
        return f"{self.user_id} in voice {self.channel_id}"  # type: ignore[attr-defined]


class XpHistogram(Model):
    """How many members of a guild have XP in each bucket, kept in step with `user_xp` by every
    write to it (the activity flush and XP by hand), in the same transaction.

    A rank is then the sum of the buckets above a member's plus a count inside their own bucket,
    and a leaderboard page starts from the bucket holding its first position. Buckets are exact
    XP values below 1,024 and then 512 to each doubling (see pegasus.services.levels.histogram).
    """

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="xp_histogram", on_delete=fields.CASCADE
    )
    bucket = fields.IntField()
    members = fields.BigIntField(default=0)

    class Meta:
        table = "xp_histogram"
        unique_together = (("guild", "bucket"),)

    def __str__(self) -> str:
        return f"{self.members} in XP bucket {self.bucket}"


class XpHistogramBand(Model):
    """The XP histogram summed per band of 64 consecutive buckets, kept in step with it.

    A guild has thousands of buckets; a page deep in the board or the total would add them all.
    With the bands it adds a few hundred bands and at most 64 buckets inside one.
    """

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="xp_histogram_bands", on_delete=fields.CASCADE
    )
    band = fields.IntField()  # bucket >> 6
    members = fields.BigIntField(default=0)

    class Meta:
        table = "xp_histogram_bands"
        unique_together = (("guild", "band"),)

    def __str__(self) -> str:
        return f"{self.members} in XP band {self.band}"


class XpTieBlock(Model):
    """Members sharing one low XP value, counted per block of user ids (by account age).

    Thousands of members may share a low XP value; their order is by user id, so a rank among
    them is a sum of the blocks before the member's plus a count inside one block.
    """

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name="xp_tie_blocks", on_delete=fields.CASCADE
    )
    xp = fields.IntField()
    block = fields.IntField()
    members = fields.BigIntField(default=0)

    class Meta:
        table = "xp_tie_blocks"
        unique_together = (("guild", "xp", "block"),)

    def __str__(self) -> str:
        return f"{self.members} with {self.xp} XP in user block {self.block}"


class LevelMilestone(Model):
    """A member's level changing, with when: written in the same transaction as the XP that
    changed it (the activity flush, or XP set by hand), so the member page can date each level."""

    id = fields.BigIntField(primary_key=True)
    guild: fields.ForeignKeyRelation[Guild] = fields.ForeignKeyField(
        "models.Guild", related_name=False, on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    old_level = fields.IntField()
    new_level = fields.IntField()
    xp = fields.BigIntField()  # the member's XP just after the change
    by_hand = fields.BooleanField(default=False)  # staff set the XP (/xp), not activity
    reached_at = fields.DatetimeField()

    class Meta:
        table = "level_milestones"
        # A member's milestones, newest first, is a backward scan of this index.
        indexes = (("guild_id", "user_id", "reached_at"),)

    def __str__(self) -> str:
        return f"Level {self.old_level} to {self.new_level}"
