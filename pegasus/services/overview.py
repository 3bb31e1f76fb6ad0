"""A server at a glance: its members, their activity, open tickets, running giveaways and the
newest moderation cases, each from one aggregate query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.functions import Count, Sum

from models.giveaways import Giveaway, GiveawayStatus
from models.guilds import Member
from models.levels import UserXP
from models.moderation import ModCase
from models.tickets import Ticket, TicketStatus
from pegasus.services.moderation.cases import Case

__all__ = ["ACTIVE_DAYS", "RECENT_CASES", "GuildActivity", "GuildOverview", "guild_overview"]

ACTIVE_DAYS = 7
RECENT_CASES = 5


@dataclass(frozen=True, slots=True)
class GuildActivity:
    """What the members did, as the activity counters hold it."""

    messages: int
    voice_minutes: int
    members_active_recently: int  # earned message XP within the last ACTIVE_DAYS days


@dataclass(frozen=True, slots=True)
class GuildOverview:
    guild_id: int
    member_count: int | None  # Discord's count, when the caller knows it (the bot's cache)
    members_known: int  # members the bot has stored (they were active or were acted on)
    activity: GuildActivity
    open_tickets: int  # every state but closed
    running_giveaways: int
    recent_cases: tuple[Case, ...]  # newest first


async def guild_overview(
    guild_id: int, *, now: datetime, member_count: int | None = None
) -> GuildOverview:
    totals = await (
        Member.filter(guild_id=guild_id)
        .annotate(members=Count("id"), messages=Sum("messages"), voice=Sum("voice_minutes"))
        .values("members", "messages", "voice")
    )
    row = totals[0] if totals else {}
    since = now - timedelta(days=ACTIVE_DAYS)
    active = await UserXP.filter(guild_id=guild_id, last_message_xp_at__gte=since).count()
    tickets = await Ticket.filter(guild_id=guild_id).exclude(status=TicketStatus.CLOSED).count()
    giveaways = await Giveaway.filter(guild_id=guild_id, status=GiveawayStatus.ACTIVE).count()
    cases = await ModCase.filter(guild_id=guild_id).order_by("-case_number").limit(RECENT_CASES)
    return GuildOverview(
        guild_id=guild_id,
        member_count=member_count,
        members_known=int(row.get("members") or 0),
        activity=GuildActivity(
            messages=int(row.get("messages") or 0),
            voice_minutes=int(row.get("voice") or 0),
            members_active_recently=active,
        ),
        open_tickets=tickets,
        running_giveaways=giveaways,
        recent_cases=tuple(Case.from_row(case) for case in cases),
    )
