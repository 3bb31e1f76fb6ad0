"""How giveaways look: the giveaway message, announcements, lists and verification reports."""

from __future__ import annotations

import io
from collections.abc import Sequence

import discord

from models.giveaways import GiveawayStatus
from pegasus.services.giveaways import (
    BonusEntries,
    Entry,
    GiveawayInfo,
    Requirements,
    Verification,
)
from pegasus.ui.format import (
    BLUE,
    EMERALD,
    GOLD,
    GREY,
    SCARLET,
    clip,
    plural,
    timestamp,
    user_mentions,
)

COLOUR_ACTIVE = GOLD
COLOUR_SCHEDULED = BLUE
COLOUR_ENDED = EMERALD
COLOUR_CANCELLED = GREY
COLOUR_OK = EMERALD
COLOUR_BAD = SCARLET

ENTRIES_SHOWN = 40


def requirement_lines(requirements: Requirements) -> list[str]:
    lines = [f"Role <@&{role_id}>" for role_id in requirements.role_ids]
    if requirements.min_level:
        lines.append(f"Level {requirements.min_level:,} or higher")
    if requirements.min_account_age_days:
        lines.append(
            f"Discord account at least {plural(requirements.min_account_age_days, 'day')} old"
        )
    if requirements.min_server_age_days:
        lines.append(f"In this server for {plural(requirements.min_server_age_days, 'day')}")
    return lines


def bonus_lines(bonus: BonusEntries) -> list[str]:
    lines = [
        f"<@&{role_id}>: +{plural(extra, 'entry', 'entries')}"
        for role_id, extra in bonus.roles
        if extra
    ]
    if bonus.booster:
        lines.append(f"Server boosters: +{plural(bonus.booster, 'entry', 'entries')}")
    return lines


def giveaway_embed(giveaway: GiveawayInfo) -> discord.Embed:
    """The embed of the giveaway message, for every status."""
    status = giveaway.status
    colour = {
        GiveawayStatus.SCHEDULED: COLOUR_SCHEDULED,
        GiveawayStatus.ACTIVE: COLOUR_ACTIVE,
        GiveawayStatus.ENDED: COLOUR_ENDED,
        GiveawayStatus.CANCELLED: COLOUR_CANCELLED,
    }[status]
    title = f"🎉 {giveaway.prize}"
    if status is GiveawayStatus.ENDED:
        title += " (ended)"
    elif status is GiveawayStatus.CANCELLED:
        title += " (cancelled)"
    embed = discord.Embed(title=clip(title, 256), description=_description(giveaway), colour=colour)
    embed.add_field(name="Winners", value=_winners_value(giveaway), inline=True)
    embed.add_field(name="Entries", value=f"{giveaway.entry_count:,}", inline=True)
    host_id = giveaway.host_id
    if host_id:
        embed.add_field(name="Hosted by", value=f"<@{host_id}>", inline=True)
    requirements = requirement_lines(giveaway.requirements)
    if requirements:
        embed.add_field(name="Requirements", value="\n".join(requirements), inline=False)
    bonus = bonus_lines(giveaway.bonus_entries)
    if bonus:
        embed.add_field(name="Bonus entries", value="\n".join(bonus), inline=False)
    embed.add_field(name="Fair draw", value=_fairness_value(giveaway), inline=False)
    embed.set_footer(text=f"Giveaway {giveaway.giveaway_id}")
    embed.timestamp = giveaway.ends_at
    return embed


def _description(giveaway: GiveawayInfo) -> str:
    parts = [giveaway.description] if giveaway.description else []
    status = giveaway.status
    if status is GiveawayStatus.SCHEDULED:
        parts.append(
            f"Entries open {timestamp(giveaway.starts_at)} "
            f"({timestamp(giveaway.starts_at, 'f')}) and close {timestamp(giveaway.ends_at)}."
        )
    elif status is GiveawayStatus.ACTIVE:
        parts.append(
            f"Click **Enter** to join (click again to leave). Ends {timestamp(giveaway.ends_at)} "
            f"({timestamp(giveaway.ends_at, 'f')})."
        )
    elif status is GiveawayStatus.ENDED and giveaway.ended_at is not None:
        parts.append(f"Ended {timestamp(giveaway.ended_at)}.")
    elif giveaway.ended_at is not None:
        parts.append(f"Cancelled {timestamp(giveaway.ended_at)}; no winners were drawn.")
    return "\n\n".join(parts)


def _winners_value(giveaway: GiveawayInfo) -> str:
    if giveaway.status is not GiveawayStatus.ENDED:
        return f"{giveaway.winner_count:,}"
    if not giveaway.winners:
        return "No valid entries"
    return clip(user_mentions(giveaway.winners), 1024)


def _fairness_value(giveaway: GiveawayInfo) -> str:
    if giveaway.status is GiveawayStatus.ENDED:
        return (
            f"Seed `{giveaway.seed}`\nSHA-256 `{giveaway.seed_hash}`\n"
            f"Check it: `/giveaway verify id:{giveaway.giveaway_id}`"
        )
    return (
        f"Seed hash (SHA-256) `{giveaway.seed_hash}`\n"
        "The seed behind it is revealed when the giveaway ends, so anyone can check the draw."
    )


def announcement(giveaway: GiveawayInfo, winners: Sequence[int], *, reroll: bool = False) -> str:
    """The public message naming the winners (these mentions ping)."""
    prize = f"**{giveaway.prize}**"
    if not winners:
        return (
            f"Giveaway `{giveaway.giveaway_id}` for {prize} has ended without a winner: "
            "nobody who entered could be drawn."
        )
    if reroll:
        return f"🎉 Reroll: congratulations {user_mentions(winners)}! You won {prize}."
    return (
        f"🎉 Congratulations {user_mentions(winners)}! You won {prize}.\n"
        f"Giveaway `{giveaway.giveaway_id}`: check the draw with `/giveaway verify`."
    )


def winner_dm(giveaway: GiveawayInfo, guild_name: str, jump_url: str | None) -> str:
    where = f" ({jump_url})" if jump_url else ""
    return (
        f"🎉 You won **{giveaway.prize}** in the giveaway `{giveaway.giveaway_id}` on "
        f"**{guild_name}**{where}. The host will be in touch."
    )


def list_embed(giveaways: Sequence[GiveawayInfo], status: GiveawayStatus | None) -> discord.Embed:
    title = "Giveaways" if status is None else f"{status.value.capitalize()} giveaways"
    embed = discord.Embed(title=title, colour=COLOUR_ACTIVE)
    if not giveaways:
        embed.description = "None yet. Start one with `/giveaway start`."
        return embed
    lines = [_list_line(g) for g in giveaways]
    embed.description = clip("\n".join(lines), 4096)
    return embed


def _list_line(giveaway: GiveawayInfo) -> str:
    status = giveaway.status
    when = {
        GiveawayStatus.SCHEDULED: f"starts {timestamp(giveaway.starts_at)}",
        GiveawayStatus.ACTIVE: f"ends {timestamp(giveaway.ends_at)}",
        GiveawayStatus.ENDED: f"ended {timestamp(giveaway.ended_at or giveaway.ends_at)}",
        GiveawayStatus.CANCELLED: f"cancelled {timestamp(giveaway.ended_at or giveaway.ends_at)}",
    }[status]
    return (
        f"`{giveaway.giveaway_id}` **{clip(giveaway.prize, 80)}**: {status.value}, {when}, "
        f"{plural(giveaway.entry_count, 'entrant')}, <#{giveaway.channel_id}>"
    )


def entries_embed(giveaway: GiveawayInfo, entries: Sequence[Entry]) -> discord.Embed:
    total = sum(weight for _, weight in entries)
    embed = discord.Embed(
        title=f"Entries of {giveaway.giveaway_id}: {clip(giveaway.prize, 200)}",
        colour=COLOUR_ACTIVE,
    )
    if not entries:
        embed.description = "Nobody has entered yet."
        return embed
    shown = sorted(entries, key=lambda e: (-e[1], e[0]))[:ENTRIES_SHOWN]
    lines = [f"<@{user_id}>: {plural(weight, 'entry', 'entries')}" for user_id, weight in shown]
    if len(entries) > len(shown):
        lines.append(f"… and {len(entries) - len(shown):,} more (all of them in the file).")
    embed.description = "\n".join(lines)
    embed.add_field(name="People", value=f"{len(entries):,}", inline=True)
    embed.add_field(name="Entries in total", value=f"{total:,}", inline=True)
    embed.set_footer(
        text="The file lists `user id:weight` sorted by user id: the entry list of the draw."
    )
    return embed


def entries_file(giveaway: GiveawayInfo, entries: Sequence[Entry]) -> discord.File:
    """The draw's entry list, byte for byte what `entries_digest` hashes."""
    text = "".join(f"{user_id}:{weight}\n" for user_id, weight in entries)
    return discord.File(
        io.BytesIO(text.encode("ascii")), filename=f"{giveaway.giveaway_id}-entries.txt"
    )


def verification_embed(result: Verification) -> discord.Embed:
    giveaway = result.giveaway
    title = f"{_mark(result.ok)} Draw of {giveaway.giveaway_id}: {clip(giveaway.prize, 200)}"
    embed = discord.Embed(
        title=title,
        colour=COLOUR_OK if result.ok else COLOUR_BAD,
        description=(
            "Every draw was recomputed from the revealed seed and the entry list."
            if result.ok
            else "The recomputation does not match what was stored; details below."
        ),
    )
    embed.add_field(
        name=f"{_mark(result.seed_matches)} Seed matches its published hash",
        value=f"Seed `{giveaway.seed}`\nSHA-256 `{giveaway.seed_hash}`",
        inline=False,
    )
    embed.add_field(
        name=f"{_mark(result.entries_match)} Entry list unchanged since the draw",
        value=f"SHA-256 of the entry list `{giveaway.entries_digest or 'not recorded'}`",
        inline=False,
    )
    for check in result.draws[:20]:
        record = check.record
        name = "Draw at the end" if record.round == 0 else f"Reroll {record.round}"
        value = f"Winners: {user_mentions(record.winners) or 'none'}"
        if record.excluded:
            value += f"\nExcluded: {plural(len(record.excluded), 'entrant')}"
        if not check.ok:
            value += f"\nRecomputed: {user_mentions(check.recomputed) or 'none'}"
        embed.add_field(name=f"{_mark(check.ok)} {name}", value=clip(value, 1024), inline=False)
    embed.set_footer(
        text="How the draw works: /giveaway entries gives the entry list; the algorithm is "
        "documented in Pegasus's README (Giveaways)."
    )
    return embed


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"
