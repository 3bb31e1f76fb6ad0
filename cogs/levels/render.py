"""Embeds and texts of the levels feature (no logic: values in, Discord objects out)."""

from __future__ import annotations

from collections.abc import Callable

import discord

from pegasus.services.durations import format_duration
from pegasus.services.levels import (
    LeaderboardCategory,
    LeaderboardPage,
    LevelConfig,
    Reward,
    format_colour,
)
from pegasus.ui.format import BLURPLE, DESCRIPTION_LIMIT, GREEN, GREYPLE, clip, page_of, plural

LEVELS_COLOUR = BLURPLE
SUCCESS_COLOUR = GREEN

BOARD_TITLES = {
    LeaderboardCategory.XP: "🏆 XP leaderboard",
    LeaderboardCategory.MESSAGES: "💬 Messages leaderboard",
    LeaderboardCategory.VOICE: "🎙️ Voice leaderboard",
    LeaderboardCategory.MONEY: "💰 Richest members",
}
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}


def board_value(
    category: LeaderboardCategory, value: int, level: int | None, money: Callable[[int], str]
) -> str:
    if category is LeaderboardCategory.XP:
        return f"Level {level or 0:,} · {value:,} XP"
    if category is LeaderboardCategory.MESSAGES:
        return plural(value, "message")
    if category is LeaderboardCategory.VOICE:
        return f"{plural(value, 'minute')} in voice"
    return money(value)


def leaderboard_embed(
    guild_name: str,
    page: LeaderboardPage,
    *,
    money: Callable[[int], str] = lambda amount: f"{amount:,}",
) -> discord.Embed:
    title = f"{BOARD_TITLES[page.category]} · {guild_name}"
    embed = discord.Embed(title=title, colour=LEVELS_COLOUR)
    if not page.entries:
        embed.description = "Nobody is on this board yet. Talk, hang out in voice, and climb!"
    else:
        lines = []
        for entry in page.entries:
            place = MEDALS.get(entry.position, f"**{entry.position:,}.**")
            value = board_value(page.category, entry.value, entry.level, money)
            lines.append(f"{place} <@{entry.user_id}> — {value}")
        embed.description = "\n".join(lines)
    embed.set_footer(
        text=f"{page_of(page.page, page.pages)} · {plural(page.total, 'member')} ranked"
    )
    return embed


def _channel(channel_id: int | None, fallback: str) -> str:
    return f"<#{channel_id}>" if channel_id else fallback


def _list(ids: frozenset[int], mention: str) -> str:
    if not ids:
        return "none"
    return ", ".join(mention.format(i) for i in sorted(ids))


def settings_embed(guild_name: str, config: LevelConfig) -> discord.Embed:
    embed = discord.Embed(
        title=f"Level settings · {guild_name}",
        description="XP is **on**." if config.enabled else "XP is **off**: nobody earns any.",
        colour=LEVELS_COLOUR if config.enabled else GREYPLE,
    )
    embed.add_field(
        name="Messages",
        value=(
            f"{config.xp_min:,}–{config.xp_max:,} XP per message\n"
            f"at most once per {format_duration(config.cooldown_seconds)}\n"
            f"rate {config.rate:,}%"
        ),
    )
    embed.add_field(
        name="Voice",
        value=(
            f"{config.xp_per_voice_minute:,} XP per minute\n"
            f"at least {plural(config.voice_min_members, 'member')} in the channel\n"
            f"muted count: {'yes' if config.voice_count_muted else 'no'} · "
            f"deafened count: {'yes' if config.voice_count_deafened else 'no'}"
        ),
    )
    if config.announce:
        announce = (
            f"in {_channel(config.level_up_channel_id, 'the channel where the member spoke')}\n"
            f"`{config.level_up_message}`"
        )
    else:
        announce = "off"
    embed.add_field(name="Level-up announcements", value=announce, inline=False)
    booster = (
        f"<@&{config.booster_role_id}> and server boosters: {config.booster_multiplier:,}%"
        if config.booster_role_id
        else f"server boosters: {config.booster_multiplier:,}%"
    )
    multipliers = [f"<@&{r}> {p:,}%" for r, p in sorted(config.role_multipliers.items())]
    multipliers += [f"<#{c}> {p:,}%" for c, p in sorted(config.channel_multipliers.items())]
    embed.add_field(
        name="Multipliers",
        value=booster + ("\n" + ", ".join(multipliers) if multipliers else ""),
        inline=False,
    )
    embed.add_field(
        name="Channels",
        value=(
            f"ignored: {_list(config.ignored_channels, '<#{}>')}\n"
            f"no XP: {_list(config.no_xp_channels, '<#{}>')}\n"
            f"double XP: {_list(config.double_xp_channels, '<#{}>')}"
        ),
        inline=False,
    )
    embed.add_field(name="Ignored roles", value=_list(config.ignored_roles, "<@&{}>"), inline=False)
    rewards = (
        f"{plural(len(config.rewards), 'reward')}, mode **{config.reward_mode.value}**"
        if config.rewards_enabled
        else "off"
    )
    embed.add_field(name="Reward roles", value=rewards + " · see `/levels rewards`", inline=False)
    return embed


def rewards_embed(guild_name: str, rewards: list[Reward], config: LevelConfig) -> discord.Embed:
    embed = discord.Embed(title=f"Reward roles · {guild_name}", colour=LEVELS_COLOUR)
    if not rewards:
        embed.description = "No reward roles yet. Add one with `/levels reward-add`."
        return embed
    lines = []
    for reward in rewards:
        mode = (reward.mode or config.reward_mode).value
        default = "" if reward.mode else " (server default)"
        line = f"**Level {reward.level:,}** → <@&{reward.role_id}> · {mode}{default}"
        if reward.message:
            line += f"\n  ↳ “{reward.message}”"
        lines.append(line)
    embed.description = clip("\n".join(lines), DESCRIPTION_LIMIT)
    state = "on" if config.rewards_enabled else "**off**"
    embed.set_footer(
        text=f"Rewards are {state.strip('*')}. Stack keeps every reward reached; replace keeps "
        "only the highest."
    )
    return embed


def colour_text(value: int | None) -> str:
    return format_colour(value) if value is not None else "default"
