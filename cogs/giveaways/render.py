"""How giveaways look: the giveaway message, announcements, lists and verification reports."""

from __future__ import annotations

import io
from collections.abc import Sequence

import discord

from models.giveaways import GiveawayStatus
from pegasus.i18n import (
    _,
    for_direct_message,
    for_guild,
    format_number,
    ngettext,
    pgettext,
)
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


def status_name(status: GiveawayStatus) -> str:
    """A giveaway's status in words (a giveaway's gender in each language, hence the context)."""
    return {
        GiveawayStatus.SCHEDULED: pgettext("giveaway status", "scheduled"),
        GiveawayStatus.ACTIVE: pgettext("giveaway status", "active"),
        GiveawayStatus.ENDED: pgettext("giveaway status", "ended"),
        GiveawayStatus.CANCELLED: pgettext("giveaway status", "cancelled"),
    }[status]


def _days(days: int) -> str:
    return ngettext("{count} day", "{count} days", days).format(count=format_number(days))


def _entries(count: int) -> str:
    return ngettext("{count} entry", "{count} entries", count).format(count=format_number(count))


def _entrants(count: int) -> str:
    return ngettext("{count} entrant", "{count} entrants", count).format(count=format_number(count))


def requirement_lines(requirements: Requirements) -> list[str]:
    lines = [_("Role {role}").format(role=f"<@&{role_id}>") for role_id in requirements.role_ids]
    if requirements.min_level:
        lines.append(
            _("Level {level} or higher").format(level=format_number(requirements.min_level))
        )
    if requirements.min_account_age_days:
        lines.append(
            _("Discord account at least {days} old").format(
                days=_days(requirements.min_account_age_days)
            )
        )
    if requirements.min_server_age_days:
        lines.append(
            _("In this server for {days}").format(days=_days(requirements.min_server_age_days))
        )
    return lines


def bonus_lines(bonus: BonusEntries) -> list[str]:
    lines = [f"<@&{role_id}>: +{_entries(extra)}" for role_id, extra in bonus.roles if extra]
    if bonus.booster:
        lines.append(_("Server boosters: +{entries}").format(entries=_entries(bonus.booster)))
    return lines


def giveaway_embed(giveaway: GiveawayInfo) -> discord.Embed:
    """The embed of the giveaway message, for every status, in the server's language."""
    with for_guild(giveaway.guild_id):
        return _giveaway_embed(giveaway)


def _giveaway_embed(giveaway: GiveawayInfo) -> discord.Embed:
    status = giveaway.status
    colour = {
        GiveawayStatus.SCHEDULED: COLOUR_SCHEDULED,
        GiveawayStatus.ACTIVE: COLOUR_ACTIVE,
        GiveawayStatus.ENDED: COLOUR_ENDED,
        GiveawayStatus.CANCELLED: COLOUR_CANCELLED,
    }[status]
    title = f"🎉 {giveaway.prize}"
    if status is GiveawayStatus.ENDED:
        title = _("🎉 {prize} (ended)").format(prize=giveaway.prize)
    elif status is GiveawayStatus.CANCELLED:
        title = _("🎉 {prize} (cancelled)").format(prize=giveaway.prize)
    embed = discord.Embed(title=clip(title, 256), description=_description(giveaway), colour=colour)
    embed.add_field(name=_("Winners"), value=_winners_value(giveaway), inline=True)
    embed.add_field(name=_("Entries"), value=format_number(giveaway.entry_count), inline=True)
    host_id = giveaway.host_id
    if host_id:
        embed.add_field(name=_("Hosted by"), value=f"<@{host_id}>", inline=True)
    requirements = requirement_lines(giveaway.requirements)
    if requirements:
        embed.add_field(name=_("Requirements"), value="\n".join(requirements), inline=False)
    bonus = bonus_lines(giveaway.bonus_entries)
    if bonus:
        embed.add_field(name=_("Bonus entries"), value="\n".join(bonus), inline=False)
    embed.add_field(name=_("Fair draw"), value=_fairness_value(giveaway), inline=False)
    embed.set_footer(text=_("Giveaway {giveaway}").format(giveaway=giveaway.giveaway_id))
    embed.timestamp = giveaway.ends_at
    return embed


def _description(giveaway: GiveawayInfo) -> str:
    parts = [giveaway.description] if giveaway.description else []
    status = giveaway.status
    if status is GiveawayStatus.SCHEDULED:
        parts.append(
            _("Entries open {opens} ({opens_at}) and close {closes}.").format(
                opens=timestamp(giveaway.starts_at),
                opens_at=timestamp(giveaway.starts_at, "f"),
                closes=timestamp(giveaway.ends_at),
            )
        )
    elif status is GiveawayStatus.ACTIVE:
        parts.append(
            _("Click **Enter** to join (click again to leave). Ends {ends} ({ends_at}).").format(
                ends=timestamp(giveaway.ends_at), ends_at=timestamp(giveaway.ends_at, "f")
            )
        )
    elif status is GiveawayStatus.ENDED and giveaway.ended_at is not None:
        parts.append(_("Ended {ended}.").format(ended=timestamp(giveaway.ended_at)))
    elif giveaway.ended_at is not None:
        parts.append(
            _("Cancelled {cancelled}; no winners were drawn.").format(
                cancelled=timestamp(giveaway.ended_at)
            )
        )
    return "\n\n".join(parts)


def _winners_value(giveaway: GiveawayInfo) -> str:
    if giveaway.status is not GiveawayStatus.ENDED:
        return format_number(giveaway.winner_count)
    if not giveaway.winners:
        return _("No valid entries")
    return clip(user_mentions(giveaway.winners), 1024)


def _fairness_value(giveaway: GiveawayInfo) -> str:
    if giveaway.status is GiveawayStatus.ENDED:
        return _(
            "Seed `{seed}`\nSHA-256 `{seed_hash}`\nCheck it: `/giveaway verify id:{giveaway}`"
        ).format(seed=giveaway.seed, seed_hash=giveaway.seed_hash, giveaway=giveaway.giveaway_id)
    return _(
        "Seed hash (SHA-256) `{seed_hash}`\n"
        "The seed behind it is revealed when the giveaway ends, so anyone can check the draw."
    ).format(seed_hash=giveaway.seed_hash)


def announcement(giveaway: GiveawayInfo, winners: Sequence[int], *, reroll: bool = False) -> str:
    """The public message naming the winners (these mentions ping), in the server's language."""
    with for_guild(giveaway.guild_id):
        return _announcement(giveaway, winners, reroll=reroll)


def _announcement(giveaway: GiveawayInfo, winners: Sequence[int], *, reroll: bool) -> str:
    prize = f"**{giveaway.prize}**"
    if not winners:
        return _(
            "Giveaway `{giveaway}` for {prize} has ended without a winner: "
            "nobody who entered could be drawn."
        ).format(giveaway=giveaway.giveaway_id, prize=prize)
    if reroll:
        return _("🎉 Reroll: congratulations {winners}! You won {prize}.").format(
            winners=user_mentions(winners), prize=prize
        )
    return _(
        "🎉 Congratulations {winners}! You won {prize}.\n"
        "Giveaway `{giveaway}`: check the draw with `/giveaway verify`."
    ).format(winners=user_mentions(winners), prize=prize, giveaway=giveaway.giveaway_id)


def winner_dm(
    giveaway: GiveawayInfo, guild_name: str, jump_url: str | None, *, user_id: int | None = None
) -> str:
    """The winner's DM: in their own language choice, else the server's."""
    with for_direct_message(user_id, giveaway.guild_id):
        if jump_url:
            text = _(
                "🎉 You won **{prize}** in the giveaway `{giveaway}` on **{server}** ({link}). "
                "The host will be in touch."
            )
        else:
            text = _(
                "🎉 You won **{prize}** in the giveaway `{giveaway}` on **{server}**. "
                "The host will be in touch."
            )
        return text.format(
            prize=giveaway.prize, giveaway=giveaway.giveaway_id, server=guild_name, link=jump_url
        )


def list_embed(giveaways: Sequence[GiveawayInfo], status: GiveawayStatus | None) -> discord.Embed:
    title = _("Giveaways")
    if status is GiveawayStatus.SCHEDULED:
        title = _("Scheduled giveaways")
    elif status is GiveawayStatus.ACTIVE:
        title = _("Active giveaways")
    elif status is GiveawayStatus.ENDED:
        title = _("Ended giveaways")
    elif status is GiveawayStatus.CANCELLED:
        title = _("Cancelled giveaways")
    embed = discord.Embed(title=title, colour=COLOUR_ACTIVE)
    if not giveaways:
        embed.description = _("None yet. Start one with `/giveaway start`.")
        return embed
    lines = [_list_line(g) for g in giveaways]
    embed.description = clip("\n".join(lines), 4096)
    return embed


def _list_line(giveaway: GiveawayInfo) -> str:
    status = giveaway.status
    finished = timestamp(giveaway.ended_at or giveaway.ends_at)
    when = {
        GiveawayStatus.SCHEDULED: _("starts {time}").format(time=timestamp(giveaway.starts_at)),
        GiveawayStatus.ACTIVE: _("ends {time}").format(time=timestamp(giveaway.ends_at)),
        GiveawayStatus.ENDED: pgettext("giveaway list", "ended {time}").format(time=finished),
        GiveawayStatus.CANCELLED: pgettext("giveaway list", "cancelled {time}").format(
            time=finished
        ),
    }[status]
    return (
        f"`{giveaway.giveaway_id}` **{clip(giveaway.prize, 80)}**: {status_name(status)}, "
        f"{when}, {_entrants(giveaway.entry_count)}, <#{giveaway.channel_id}>"
    )


def entries_embed(giveaway: GiveawayInfo, entries: Sequence[Entry]) -> discord.Embed:
    total = sum(weight for _user_id, weight in entries)
    embed = discord.Embed(
        title=_("Entries of {giveaway}: {prize}").format(
            giveaway=giveaway.giveaway_id, prize=clip(giveaway.prize, 200)
        ),
        colour=COLOUR_ACTIVE,
    )
    if not entries:
        embed.description = _("Nobody has entered yet.")
        return embed
    shown = sorted(entries, key=lambda e: (-e[1], e[0]))[:ENTRIES_SHOWN]
    lines = [f"<@{user_id}>: {_entries(weight)}" for user_id, weight in shown]
    if len(entries) > len(shown):
        lines.append(
            _("… and {count} more (all of them in the file).").format(
                count=format_number(len(entries) - len(shown))
            )
        )
    embed.description = "\n".join(lines)
    embed.add_field(name=_("People"), value=format_number(len(entries)), inline=True)
    embed.add_field(name=_("Entries in total"), value=format_number(total), inline=True)
    embed.set_footer(
        text=_("The file lists `user id:weight` sorted by user id: the entry list of the draw.")
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
    title = _("{mark} Draw of {giveaway}: {prize}").format(
        mark=_mark(result.ok), giveaway=giveaway.giveaway_id, prize=clip(giveaway.prize, 200)
    )
    embed = discord.Embed(
        title=title,
        colour=COLOUR_OK if result.ok else COLOUR_BAD,
        description=(
            _("Every draw was recomputed from the revealed seed and the entry list.")
            if result.ok
            else _("The recomputation does not match what was stored; details below.")
        ),
    )
    embed.add_field(
        name=_("{mark} Seed matches its published hash").format(mark=_mark(result.seed_matches)),
        value=_("Seed `{seed}`\nSHA-256 `{seed_hash}`").format(
            seed=giveaway.seed, seed_hash=giveaway.seed_hash
        ),
        inline=False,
    )
    embed.add_field(
        name=_("{mark} Entry list unchanged since the draw").format(
            mark=_mark(result.entries_match)
        ),
        value=_("SHA-256 of the entry list `{digest}`").format(
            digest=giveaway.entries_digest or _("not recorded")
        ),
        inline=False,
    )
    for check in result.draws[:20]:
        record = check.record
        if record.round == 0:
            name = _("Draw at the end")
        else:
            name = _("Reroll {round}").format(round=record.round)
        value = _("Winners: {winners}").format(winners=user_mentions(record.winners) or _("none"))
        if record.excluded:
            value += "\n" + _("Excluded: {entrants}").format(
                entrants=_entrants(len(record.excluded))
            )
        if not check.ok:
            value += "\n" + _("Recomputed: {winners}").format(
                winners=user_mentions(check.recomputed) or _("none")
            )
        embed.add_field(name=f"{_mark(check.ok)} {name}", value=clip(value, 1024), inline=False)
    embed.set_footer(
        text=_(
            "How the draw works: /giveaway entries gives the entry list; the algorithm is "
            "documented in Pegasus's README (Giveaways)."
        )
    )
    return embed


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"
