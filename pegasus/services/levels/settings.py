"""The levels feature's settings, declared once, and every way they change.

Two tables hold them: `guild_settings` (the `xp_*` columns: rates, cooldown, announcements,
boosters) and `xp_settings` (channel and role lists, reward roles' switch and mode, voice rules).
Each is declared with `FeatureSettings`, and every change goes through
`pegasus.services.settings.apply_changes`: validated, checked on the locked row and recorded in
`audit_logs` with before and after.
"""

from __future__ import annotations

from typing import Any

from models.guilds import GuildSettings
from models.levels import RewardMode, XpSettings
from models.security import AuditSource
from pegasus.errors import ValidationError
from pegasus.i18n import N_, _
from pegasus.services.settings import FeatureSettings, Kind, Setting, apply_changes, register

from .config import ChannelKind, LevelConfig, load_config
from .rules import MAX_MULTIPLIER_PERCENT, MAX_TEMPLATE_LENGTH, validate_template

__all__ = [
    "CHANNEL_LISTS",
    "RULES",
    "SETTINGS",
    "set_channel_kind",
    "set_reward_mode",
    "set_rewards_enabled",
    "toggle_ignored_role",
    "update_settings",
]

_DAY = 86_400
_INTERNAL = frozenset({"id", "guild", "guild_id", "created_at", "updated_at"})


def _xp_amount(name: str, label: str, help: str) -> Setting:
    return Setting(name, Kind.INT, label, help, minimum=0, maximum=10_000)


def _percent(name: str, label: str, help: str) -> Setting:
    return Setting(name, Kind.PERCENT, label, help, minimum=0, maximum=MAX_MULTIPLIER_PERCENT)


# The `xp_*` columns of guild_settings (community and security declare the others).
SETTINGS = register(FeatureSettings(
    feature="levels",
    model=GuildSettings,
    settings=(
        Setting("xp_enabled", Kind.BOOL, N_("XP"), N_("Whether members earn XP at all")),
        _percent("xp_rate", N_("rate"),
                 N_("Server-wide XP rate in percent (100 = normal, 200 = double)")),
        _xp_amount("xp_min", N_("minimum XP per message"), N_("Least XP a message gives")),
        _xp_amount("xp_max", N_("maximum XP per message"), N_("Most XP a message gives")),
        _xp_amount("xp_per_voice_minute", N_("XP per voice minute"),
                   N_("XP per minute in voice")),
        Setting("xp_cooldown_seconds", Kind.SECONDS, N_("cooldown"),
                N_("How long before a member's next message gives XP, e.g. 60s or 2m"),
                minimum=0, maximum=_DAY),
        Setting("xp_announce_level_up", Kind.BOOL, N_("level-up announcements"),
                N_("Whether level-ups are announced")),
        Setting("xp_level_up_channel_id", Kind.CHANNEL, N_("level-up channel"),
                N_("Announce level-ups in this channel"), nullable=True),
        Setting("xp_level_up_message", Kind.TEXT, N_("level-up message"),
                N_("Level-up message; use {user}, {level} and {server}"),
                max_length=MAX_TEMPLATE_LENGTH),
        Setting("xp_booster_role_id", Kind.ROLE, N_("booster role"),
                N_("Extra role that counts as a server booster for XP"), nullable=True),
        _percent("xp_booster_multiplier", N_("booster multiplier"),
                 N_("XP multiplier for boosters in percent (150 = 1.5x)")),
    ),
    internal=_INTERNAL,
    rules=(
        (lambda v: v["xp_min"] <= v["xp_max"],
         N_("The minimum XP per message is above the maximum.")),
    ),
))

# The xp_settings table: where and for whom XP is given, reward roles and voice rules.
RULES = register(FeatureSettings(
    feature="levels.rules",
    model=XpSettings,
    settings=(
        Setting("ignored_channels", Kind.IDS, N_("ignored channels"),
                N_("Channels where messages give no XP and are not counted")),
        Setting("ignored_roles", Kind.IDS, N_("ignored roles"),
                N_("Members with these roles earn no XP")),
        Setting("no_xp_channels", Kind.IDS, N_("no-XP channels"),
                N_("Channels where messages are counted but give no XP")),
        Setting("double_xp_channels", Kind.IDS, N_("double-XP channels"),
                N_("Channels where messages give double XP")),
        Setting("rewards_enabled", Kind.BOOL, N_("reward roles"),
                N_("Whether reward roles are given")),
        Setting("reward_mode", Kind.TEXT, N_("reward mode"),
                N_("stack: keep every reward; replace: only the highest reached"),
                choices=tuple(mode.value for mode in RewardMode)),
        Setting("voice_min_members", Kind.INT, N_("minimum members in voice"),
                N_("Members needed in a voice channel before minutes count"),
                minimum=1, maximum=99),
        Setting("voice_count_muted", Kind.BOOL, N_("voice minutes while muted"),
                N_("Whether muted members earn voice minutes")),
        Setting("voice_count_deafened", Kind.BOOL, N_("voice minutes while deafened"),
                N_("Whether deafened members earn voice minutes")),
    ),
    internal=_INTERNAL,
))

CHANNEL_LISTS = {
    ChannelKind.IGNORED: "ignored_channels",
    ChannelKind.NO_XP: "no_xp_channels",
    ChannelKind.DOUBLE_XP: "double_xp_channels",
}


async def update_settings(
    guild_id: int,
    *,
    actor_id: int | None = None,
    source: AuditSource = AuditSource.DISCORD,
    **changes: Any,
) -> LevelConfig:
    """Change level settings of either table (pass None to clear the level-up channel or the
    booster role). Every value is checked before anything is stored; returns the configuration
    as stored afterwards."""
    unknown = set(changes) - set(SETTINGS.by_name) - set(RULES.by_name)
    if unknown:
        # A programming error, never shown to people: not translated.
        error = ValueError(f"not level settings: {sorted(unknown)}")
        raise error
    if not changes:
        raise ValidationError(_("Nothing to change: give at least one setting."))
    if "xp_level_up_message" in changes:
        changes["xp_level_up_message"] = validate_template(changes["xp_level_up_message"])
    by_table = [
        (spec, {name: value for name, value in changes.items() if name in spec})
        for spec in (SETTINGS, RULES)
    ]
    for spec, wanted in by_table:
        spec.validate(wanted)  # both tables' values checked before either is stored
    for spec, wanted in by_table:
        if wanted:
            await apply_changes(
                spec, guild_id, actor_id, wanted, source=source, action="levels.settings"
            )
    return await load_config(guild_id)


async def set_channel_kind(
    guild_id: int, channel_id: int, kind: ChannelKind, *, actor_id: int | None = None
) -> ChannelKind:
    """Make a channel normal, ignored, no-XP or double-XP (it is in at most one list)."""

    def move(current: dict[str, Any]) -> dict[str, list[int]]:
        lists = {}
        for list_kind, column in CHANNEL_LISTS.items():
            kept = [c for c in current[column] if c != channel_id]
            lists[column] = [*kept, channel_id] if list_kind is kind else kept
        return lists

    await apply_changes(RULES, guild_id, actor_id, move, action="levels.channel")
    return kind


async def toggle_ignored_role(guild_id: int, role_id: int, *, actor_id: int | None = None) -> bool:
    """Ignore a role for XP, or stop ignoring it; returns whether it is ignored now."""
    stored = await apply_changes(
        RULES,
        guild_id,
        actor_id,
        lambda current: {
            "ignored_roles": [r for r in current["ignored_roles"] if r != role_id]
            if role_id in current["ignored_roles"]
            else [*current["ignored_roles"], role_id]
        },
        action="levels.ignore_role",
    )
    return role_id in stored["ignored_roles"]


async def set_reward_mode(
    guild_id: int, mode: RewardMode, *, actor_id: int | None = None
) -> None:
    await apply_changes(
        RULES, guild_id, actor_id, {"reward_mode": RewardMode(mode).value},
        action="levels.settings",
    )


async def set_rewards_enabled(
    guild_id: int, enabled: bool, *, actor_id: int | None = None
) -> None:
    await apply_changes(
        RULES, guild_id, actor_id, {"rewards_enabled": enabled}, action="levels.settings"
    )
