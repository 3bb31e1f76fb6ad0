"""Embeds and texts of the levels feature (no logic: values in, Discord objects out)."""

from __future__ import annotations

from collections.abc import Callable

import discord

from pegasus.i18n import N_, _, format_number, ngettext
from pegasus.services.durations import format_duration
from pegasus.services.levels import (
    LeaderboardCategory,
    LeaderboardPage,
    LevelConfig,
    Reward,
    format_colour,
)
from pegasus.ui.format import BLURPLE, DESCRIPTION_LIMIT, GREEN, GREYPLE, clip, page_of

LEVELS_COLOUR = BLURPLE
SUCCESS_COLOUR = GREEN

BOARD_TITLES = {
    LeaderboardCategory.XP: N_("🏆 XP leaderboard"),
    LeaderboardCategory.MESSAGES: N_("💬 Messages leaderboard"),
    LeaderboardCategory.VOICE: N_("🎙️ Voice leaderboard"),
    LeaderboardCategory.MONEY: N_("💰 Richest members"),
}
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}


def board_value(
    category: LeaderboardCategory, value: int, level: int | None, money: Callable[[int], str]
) -> str:
    if category is LeaderboardCategory.XP:
        return _("Level {level} · {xp} XP").format(
            level=format_number(level or 0), xp=format_number(value)
        )
    if category is LeaderboardCategory.MESSAGES:
        return ngettext("{count} message", "{count} messages", value).format(
            count=format_number(value)
        )
    if category is LeaderboardCategory.VOICE:
        return ngettext("{count} minute in voice", "{count} minutes in voice", value).format(
            count=format_number(value)
        )
    return money(value)


def leaderboard_embed(
    guild_name: str,
    page: LeaderboardPage,
    *,
    money: Callable[[int], str] = format_number,
) -> discord.Embed:
    title = f"{_(BOARD_TITLES[page.category])} · {guild_name}"
    embed = discord.Embed(title=title, colour=LEVELS_COLOUR)
    if not page.entries:
        embed.description = _("Nobody is on this board yet. Talk, hang out in voice, and climb!")
    else:
        lines = []
        for entry in page.entries:
            place = MEDALS.get(entry.position) or f"**{format_number(entry.position)}.**"
            value = board_value(page.category, entry.value, entry.level, money)
            lines.append(f"{place} <@{entry.user_id}> — {value}")
        embed.description = "\n".join(lines)
    ranked = ngettext("{count} member ranked", "{count} members ranked", page.total).format(
        count=format_number(page.total)
    )
    embed.set_footer(text=f"{page_of(page.page, page.pages)} · {ranked}")
    return embed


def _list(ids: frozenset[int], mention: str) -> str:
    if not ids:
        return _("none")
    return ", ".join(mention.format(i) for i in sorted(ids))


def settings_embed(guild_name: str, config: LevelConfig) -> discord.Embed:
    embed = discord.Embed(
        title=_("Level settings · {server}").format(server=guild_name),
        description=_("XP is **on**.") if config.enabled else _("XP is **off**: nobody earns any."),
        colour=LEVELS_COLOUR if config.enabled else GREYPLE,
    )
    embed.add_field(
        name=_("Messages"),
        value=_("{low}–{high} XP per message\nat most once per {cooldown}\nrate {rate}%").format(
            low=format_number(config.xp_min),
            high=format_number(config.xp_max),
            cooldown=format_duration(config.cooldown_seconds),
            rate=format_number(config.rate),
        ),
    )
    embed.add_field(
        name=_("Voice"),
        value="\n".join(
            (
                _("{xp} XP per minute").format(xp=format_number(config.xp_per_voice_minute)),
                ngettext(
                    "at least {count} member in the channel",
                    "at least {count} members in the channel",
                    config.voice_min_members,
                ).format(count=format_number(config.voice_min_members)),
                _("muted count: {muted} · deafened count: {deafened}").format(
                    muted=_yes_no(config.voice_count_muted),
                    deafened=_yes_no(config.voice_count_deafened),
                ),
            )
        ),
    )
    if config.announce:
        where = (
            f"<#{config.level_up_channel_id}>"
            if config.level_up_channel_id
            else _("the channel where the member spoke")
        )
        announce = _("in {channel}").format(channel=where) + f"\n`{config.level_up_message}`"
    else:
        announce = _("off")
    embed.add_field(name=_("Level-up announcements"), value=announce, inline=False)
    booster = (
        _("{role} and server boosters: {percent}%")
        if config.booster_role_id
        else _("server boosters: {percent}%")
    ).format(
        role=f"<@&{config.booster_role_id}>", percent=format_number(config.booster_multiplier)
    )
    multipliers = [
        f"<@&{r}> {format_number(p)}%" for r, p in sorted(config.role_multipliers.items())
    ]
    multipliers += [
        f"<#{c}> {format_number(p)}%" for c, p in sorted(config.channel_multipliers.items())
    ]
    embed.add_field(
        name=_("Multipliers"),
        value=booster + ("\n" + ", ".join(multipliers) if multipliers else ""),
        inline=False,
    )
    embed.add_field(
        name=_("Channels"),
        value=_("ignored: {ignored}\nno XP: {no_xp}\ndouble XP: {double_xp}").format(
            ignored=_list(config.ignored_channels, "<#{}>"),
            no_xp=_list(config.no_xp_channels, "<#{}>"),
            double_xp=_list(config.double_xp_channels, "<#{}>"),
        ),
        inline=False,
    )
    embed.add_field(
        name=_("Ignored roles"), value=_list(config.ignored_roles, "<@&{}>"), inline=False
    )
    rewards = (
        ngettext(
            "{count} reward, mode **{mode}**",
            "{count} rewards, mode **{mode}**",
            len(config.rewards),
        ).format(count=format_number(len(config.rewards)), mode=config.reward_mode.value)
        if config.rewards_enabled
        else _("off")
    )
    embed.add_field(
        name=_("Reward roles"),
        value=_("{rewards} · see `/levels rewards`").format(rewards=rewards),
        inline=False,
    )
    return embed


def rewards_embed(guild_name: str, rewards: list[Reward], config: LevelConfig) -> discord.Embed:
    embed = discord.Embed(
        title=_("Reward roles · {server}").format(server=guild_name), colour=LEVELS_COLOUR
    )
    if not rewards:
        embed.description = _("No reward roles yet. Add one with `/levels reward-add`.")
        return embed
    lines = []
    for reward in rewards:
        mode = (reward.mode or config.reward_mode).value
        line = (
            _("**Level {level}** → {role} · {mode}")
            if reward.mode
            else _("**Level {level}** → {role} · {mode} (server default)")
        ).format(level=format_number(reward.level), role=f"<@&{reward.role_id}>", mode=mode)
        if reward.message:
            line += f"\n  ↳ “{reward.message}”"
        lines.append(line)
    embed.description = clip("\n".join(lines), DESCRIPTION_LIMIT)
    embed.set_footer(
        text=_(
            "Rewards are on. Stack keeps every reward reached; replace keeps only the highest."
        )
        if config.rewards_enabled
        else _(
            "Rewards are off. Stack keeps every reward reached; replace keeps only the highest."
        )
    )
    return embed


def colour_text(value: int | None) -> str:
    # Translators: the rank card's background or accent when none is chosen.
    return format_colour(value) if value is not None else _("default")


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")
