"""Leaderboards (XP, messages, voice minutes, money) and a member's rank and progress."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.expressions import Q

from models.economy import EconomyBalance
from models.guilds import Member, User
from models.levels import UserXP

from .rules import LevelProgress, level_progress

__all__ = [
    "PAGE_SIZE",
    "LeaderboardCategory",
    "LeaderboardEntry",
    "LeaderboardPage",
    "RankInfo",
    "leaderboard_page",
    "member_rank",
    "top_xp",
    "xp_position",
]

PAGE_SIZE = 10


class LeaderboardCategory(StrEnum):
    XP = "xp"
    MESSAGES = "messages"
    VOICE = "voice"
    MONEY = "money"


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    position: int
    user_id: int
    value: int
    level: int | None  # for the XP board
    name: str  # as last stored; the adapter prefers the live display name


@dataclass(frozen=True, slots=True)
class LeaderboardPage:
    category: LeaderboardCategory
    page: int  # 1-based, clamped to the pages that exist
    pages: int
    total: int
    entries: tuple[LeaderboardEntry, ...]


_BOARDS: dict[LeaderboardCategory, tuple[Any, str]] = {
    LeaderboardCategory.XP: (UserXP, "xp"),
    LeaderboardCategory.MESSAGES: (Member, "messages"),
    LeaderboardCategory.VOICE: (Member, "voice_minutes"),
    LeaderboardCategory.MONEY: (EconomyBalance, "net_worth"),
}


def _display_name(username: str | None, global_name: str | None, user_id: int) -> str:
    return global_name or username or f"User {user_id}"


async def leaderboard_page(
    guild_id: int, category: LeaderboardCategory, page: int = 1
) -> LeaderboardPage:
    """Ten members per page, best first (ties broken by user id); zeros are left out."""
    model, column = _BOARDS[category]
    query = model.filter(guild_id=guild_id, **{f"{column}__gt": 0})
    total = await query.count()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    fields = ["user_id", column, "user__username", "user__global_name"]
    if category is LeaderboardCategory.XP:
        fields.append("level")
    rows = (
        await query.order_by(f"-{column}", "user_id")
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .values(*fields)
    )
    entries = tuple(
        LeaderboardEntry(
            position=(page - 1) * PAGE_SIZE + index + 1,
            user_id=row["user_id"],
            value=row[column],
            level=row.get("level"),
            name=_display_name(row["user__username"], row["user__global_name"], row["user_id"]),
        )
        for index, row in enumerate(rows)
    )
    return LeaderboardPage(category, page, pages, total, entries)


async def top_xp(guild_id: int, limit: int = PAGE_SIZE) -> list[tuple[int, int, int]]:
    """(user id, xp, level) of the best `limit` members: one index scan."""
    return await (
        UserXP.filter(guild_id=guild_id, xp__gt=0)
        .order_by("-xp", "user_id")
        .limit(limit)
        .values_list("user_id", "xp", "level")
    )


async def xp_position(guild_id: int, user_id: int, xp: int) -> int:
    """1-based position on the XP leaderboard of a member with `xp` (same order as the board)."""
    ahead = await UserXP.filter(
        Q(xp__gt=xp) | Q(xp=xp, user_id__lt=user_id), guild_id=guild_id
    ).count()
    return ahead + 1


@dataclass(frozen=True, slots=True)
class RankInfo:
    guild_id: int
    user_id: int
    progress: LevelProgress
    rank: int | None  # None while the member has no XP
    messages: int
    voice_minutes: int
    background: str | None
    accent: int | None


async def member_rank(guild_id: int, user_id: int) -> RankInfo:
    """Level, progress, rank and activity of a member, and their rank card style."""
    xp_rows = await UserXP.filter(guild_id=guild_id, user_id=user_id).values_list("xp", flat=True)
    xp = xp_rows[0] if xp_rows else 0
    rank = await xp_position(guild_id, user_id, xp) if xp > 0 else None
    counters = await Member.filter(guild_id=guild_id, user_id=user_id).values_list(
        "messages", "voice_minutes"
    )
    messages, voice_minutes = counters[0] if counters else (0, 0)
    style = await User.filter(id=user_id).values_list("rank_card_background", "rank_card_accent")
    background, accent = style[0] if style else (None, None)
    return RankInfo(
        guild_id=guild_id,
        user_id=user_id,
        progress=level_progress(xp),
        rank=rank,
        messages=messages,
        voice_minutes=voice_minutes,
        background=background,
        accent=accent,
    )

