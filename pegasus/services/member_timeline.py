"""Everything about one member in one server, newest first, for the dashboard's member page.

Each feature is read through its own service: moderation cases and warnings, tickets (with their
ratings), giveaway entries and wins, the economy account and the ledger rows staff made or undid,
and the member's level with the reward roles it has reached, and each dated change of their level
(`level_milestones`, kept since that table exists: earlier levels have no date). No query of its
own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from models.guilds import Member
from pegasus.errors import NotFoundError
from pegasus.i18n import _, format_number
from pegasus.services.economy import accounts
from pegasus.services.giveaways import lookup
from pegasus.services.levels import leaderboards, milestones
from pegasus.services.levels import rules as level_rules
from pegasus.services.levels.config import Reward
from pegasus.services.moderation import cases, warnings
from pegasus.services.tickets import lifecycle

__all__ = [
    "MemberFound",
    "MemberTimeline",
    "TimelineEvent",
    "find_members",
    "member_timeline",
]

PER_FEATURE = 50  # events read from each feature: the newest ones


@dataclass(frozen=True, slots=True)
class MemberFound:
    user_id: int
    name: str  # nickname, else display name, else username
    username: str


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: datetime
    feature: str  # "Moderation", "Tickets", "Giveaways", "Economy", "Levels" (translated)
    title: str
    detail: str = ""
    role_ids: tuple[int, ...] = ()  # roles the event gave or made due (a level's rewards)


@dataclass(frozen=True, slots=True)
class MemberTimeline:
    user_id: int
    name: str
    level: int
    xp: int
    rank: int | None
    messages: int
    rewards_reached: tuple[tuple[int, int], ...]  # (level, role id) the level has reached
    wallet: int | None  # None: no economy account
    bank: int | None
    money: str | None  # net worth with the currency, as the bot shows it
    events: tuple[TimelineEvent, ...]  # newest first


async def find_members(guild_id: int, typed: str, *, limit: int = 25) -> list[MemberFound]:
    """Members of this server whose id is `typed`, or whose nickname, display name or username
    contains it."""
    typed = typed.strip()
    query = Member.filter(guild_id=guild_id)
    if typed.isdigit():
        query = query.filter(user_id=int(typed))
    elif typed:
        query = query.filter(
            Q(nickname__icontains=typed)
            | Q(user__username__icontains=typed)
            | Q(user__global_name__icontains=typed)
        )
    rows = await query.select_related("user").order_by("user__username").limit(limit)
    return [
        MemberFound(
            user_id=row.user.id,
            name=row.nickname or row.user.global_name or row.user.username,
            username=row.user.username,
        )
        for row in rows
    ]


async def _name(guild_id: int, user_id: int) -> str:
    found = await find_members(guild_id, str(user_id), limit=1)
    if not found:
        raise NotFoundError(_("There is no member with this id in the server's records."))
    return found[0].name


async def _moderation_events(guild_id: int, user_id: int, now: datetime) -> list[TimelineEvent]:
    found, _total = await cases.list_cases(guild_id, user_id, per_page=PER_FEATURE)
    events = [
        TimelineEvent(
            case.created_at,
            _("Moderation"),
            _("Case {number}: {action}").format(number=case.case_number, action=case.type.value),
            case.reason or _("no reason given"),
        )
        for case in found
    ]
    for warning in (await warnings.list_warnings(guild_id, user_id, now=now))[:PER_FEATURE]:
        if warning.active:
            title = _("Warning {id} (level {level}, active)")
        else:
            title = _("Warning {id} (level {level}, no longer counts)")
        events.append(
            TimelineEvent(
                warning.created_at,
                _("Moderation"),
                title.format(id=warning.warn_id, level=warning.level),
                warning.title,
            )
        )
    return events


async def _ticket_events(guild_id: int, user_id: int) -> list[TimelineEvent]:
    events = []
    for ticket in await lifecycle.member_tickets(guild_id, user_id, limit=PER_FEATURE):
        if ticket.rating is not None:
            title = _("Opened ticket {ticket} ({status}, rated {rating}/5)").format(
                ticket=ticket.label, status=ticket.status.value, rating=ticket.rating
            )
        else:
            title = _("Opened ticket {ticket} ({status})").format(
                ticket=ticket.label, status=ticket.status.value
            )
        events.append(
            TimelineEvent(
                ticket.created_at,
                _("Tickets"),
                title,
                ticket.reason or "",
            )
        )
    return events


async def _giveaway_events(guild_id: int, user_id: int) -> list[TimelineEvent]:
    events = []
    for giveaway, weight, entered_at in await lookup.member_entries(
        guild_id, user_id, limit=PER_FEATURE
    ):
        won = user_id in giveaway.winners
        if won:
            title = _("Won giveaway {id}").format(id=giveaway.giveaway_id)
        else:
            title = _("Entered giveaway {id}").format(id=giveaway.giveaway_id)
        detail = _("{prize} (weight {weight})").format(prize=giveaway.prize, weight=weight)
        events.append(TimelineEvent(entered_at, _("Giveaways"), title, detail))
    return events


async def _economy_events(guild_id: int, user_id: int) -> list[TimelineEvent]:
    return [
        TimelineEvent(
            entry.created_at,
            _("Economy"),
            _("Flagged: {kind} of {wallet} wallet, {bank} bank").format(
                kind=entry.type.value, wallet=f"{entry.amount:+}", bank=f"{entry.bank_amount:+}"
            ),
            entry.description,
        )
        for entry in await accounts.flagged_transactions(guild_id, user_id, limit=PER_FEATURE)
        if entry.created_at is not None
    ]


def _milestone_title(step: milestones.Milestone) -> str:
    if step.up:
        return _("Reached level {level}").format(level=format_number(step.new_level))
    return _("Went down to level {level} from {previous}").format(
        level=format_number(step.new_level), previous=format_number(step.old_level)
    )


def _milestone_detail(step: milestones.Milestone) -> str:
    if step.by_hand:
        return _("{xp} XP; XP set by staff").format(xp=format_number(step.xp))
    return _("{xp} XP; earned by activity").format(xp=format_number(step.xp))


async def _level_events(
    guild_id: int, user_id: int, rewards: list[Reward]
) -> list[TimelineEvent]:
    return [
        TimelineEvent(
            step.reached_at,
            _("Levels"),
            _milestone_title(step),
            _milestone_detail(step),
            step.reward_role_ids if step.up else (),
        )
        for step in await milestones.member_milestones(
            guild_id, user_id, rewards, limit=PER_FEATURE
        )
    ]


async def member_timeline(guild_id: int, user_id: int, now: datetime) -> MemberTimeline:
    """The member's summary and their events of every feature, newest first."""
    name = await _name(guild_id, user_id)
    rank = await leaderboards.member_rank(guild_id, user_id)
    rewards = await level_rules.list_rewards(guild_id)
    try:
        balance: accounts.BalanceView | None = await accounts.find_balance(guild_id, user_id)
    except NotFoundError:
        balance = None
    events = [
        *await _moderation_events(guild_id, user_id, now),
        *await _ticket_events(guild_id, user_id),
        *await _giveaway_events(guild_id, user_id),
        *await _economy_events(guild_id, user_id),
        *await _level_events(guild_id, user_id, rewards),
    ]
    events.sort(key=lambda event: event.at, reverse=True)
    return MemberTimeline(
        user_id=user_id,
        name=name,
        level=rank.progress.level,
        xp=rank.progress.xp,
        rank=rank.rank,
        messages=rank.messages,
        rewards_reached=tuple(
            (reward.level, reward.role_id)
            for reward in rewards
            if reward.level <= rank.progress.level
        ),
        wallet=None if balance is None else balance.wallet,
        bank=None if balance is None else balance.bank,
        money=None if balance is None else balance.currency.format(balance.net_worth),
        events=tuple(events),
    )
