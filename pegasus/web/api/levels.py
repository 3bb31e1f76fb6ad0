"""Levels over HTTP: reward roles, XP multipliers, leaderboards and a member's rank.

The same service functions as `/levels reward-add`, `/levels multiplier`, `/leaderboard` and
`/rank`, so the same refusals. Changes are audited by the services with before and after (source
`api`, the key's owner); every process drops its cached level configuration on the change
notice the services send.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from models.levels import MultiplierTarget, RewardMode, XpMultiplier, XpReward
from pegasus.errors import ValidationError
from pegasus.services import levels as service
from pegasus.services.ids import check_snowflake
from pegasus.services.levels import LeaderboardCategory, LeaderboardEntry, RankInfo, Reward
from pegasus.services.levels.activity import Pending
from pegasus.web.pagination import BAD_CURSOR, decode_cursor, encode_cursor, keyset_page
from pegasus.web.roles import remember_role_setup, require_can_delegate
from pegasus.web.routes import Call, Encoded, Page, Param, Route, Routes
from pegasus.web.schema import encode

__all__ = ["routes"]

routes = Routes("levels", "Reward roles, XP multipliers, leaderboards and members' ranks.")

MAX_SNOWFLAKE = 2**63 - 1
REWARDS = "/guilds/{guild_id}/levels/rewards"
MULTIPLIERS = "/guilds/{guild_id}/levels/multipliers"


def _snowflake_param(name: str, what: str) -> Param:
    return Param(name, int, what, location="path", minimum=1, maximum=MAX_SNOWFLAKE)


def _without_nul(text: str | None) -> str | None:
    """Text as the slash command receives it: Discord's payloads never carry NUL characters
    (PostgreSQL refuses them), so they are dropped here too."""
    return None if text is None else text.replace("\x00", "")


# --------------------------------------------------------------------------- rewards


@dataclass(frozen=True)
class RewardBody:
    """A reward role: what `/levels reward-add` takes."""

    level: int
    role_id: int
    message: str | None = None  # a level-up text of its own: {user}, {level}, {server}
    mode: RewardMode | None = None  # None: the server's reward mode


@routes.get(
    REWARDS,
    scope="levels:read",
    summary="List the reward roles",
    response=Reward,
    paginated=True,
)
async def list_rewards(call: Call) -> Page[Reward]:
    """By level, then role id. `mode` null: the server's reward mode applies."""
    query = XpReward.filter(guild_id=call.guild_id)
    return await keyset_page(call, query, order=("level", "role_id", "id"), item=Reward.from_row)


@routes.post(
    REWARDS,
    scope="levels:write",
    summary="Add a reward role",
    body=RewardBody,
    response=Reward,
    status=201,
    idempotent=True,
    audit_fallback=False,  # the service audits the reward it adds
)
async def add_reward(call: Call) -> Reward:
    """Members reaching `level` get the role; members already past it get it at their next
    level-up. Refused like `/levels reward-add`: the key's owner must be able to give the role
    themselves (below their highest role unless they own the server; a role with an elevated
    permission only from the owner or an Administrator), and the bot must be able to give it."""
    body: RewardBody = call.body
    role = await require_can_delegate(call, check_snowflake(body.role_id, what="a role id"))
    reward = await service.add_reward(
        call.guild_id,
        body.level,
        role.id,
        message=_without_nul(body.message),
        mode=body.mode,
        actor_id=call.actor_id,
    )
    await remember_role_setup(call, role)
    return reward


@routes.delete(
    REWARDS + "/{level}/{role_id}",
    scope="levels:write",
    summary="Remove a reward role",
    params=[
        Param("level", int, "The reward's level", location="path", minimum=1,
              maximum=service.MAX_LEVEL),
        _snowflake_param("role_id", "The reward role's id"),
    ],
    status=204,
    audit_fallback=False,  # the service audits the reward it removes
)
async def remove_reward(call: Call) -> None:
    """Members who have the role keep it unless it is taken from them in Discord."""
    await service.remove_reward(
        call.guild_id, call.param("level"), call.param("role_id"), actor_id=call.actor_id
    )


# --------------------------------------------------------------------------- multipliers


@dataclass(frozen=True)
class Multiplier:
    """XP earned with a role or in a channel is multiplied by `percent` (150 = 1.5x)."""

    target_type: MultiplierTarget
    target_id: int
    percent: int

    @classmethod
    def from_row(cls, row: XpMultiplier) -> Multiplier:
        return cls(MultiplierTarget(row.target_type), row.target_id, row.multiplier)


@dataclass(frozen=True)
class PercentBody:
    percent: int  # 0 to 1,000; 100 = normal


@routes.get(
    MULTIPLIERS,
    scope="levels:read",
    summary="List the XP multipliers",
    response=Multiplier,
    paginated=True,
)
async def list_multipliers(call: Call) -> Page[Multiplier]:
    """Roles first, then channels, each by id."""
    query = XpMultiplier.filter(guild_id=call.guild_id)
    return await keyset_page(
        call, query, order=("target_type", "target_id", "id"), item=Multiplier.from_row
    )


def _declare_multiplier_routes(target: MultiplierTarget) -> None:
    """PUT and DELETE of one role's or channel's multiplier."""
    plural = f"{target.value}s"
    placeholder = f"{target.value}_id"
    path = f"{MULTIPLIERS}/{plural}/{{{placeholder}}}"
    where = "with the role" if target is MultiplierTarget.ROLE else "in the channel"
    params = (_snowflake_param(placeholder, f"The {target.value}'s id"),)

    async def set_multiplier(call: Call) -> Multiplier:
        body: PercentBody = call.body
        target_id = call.param(placeholder)
        percent = await service.set_multiplier(
            call.guild_id, target, target_id, body.percent, actor_id=call.actor_id
        )
        return Multiplier(target, target_id, percent)

    async def remove_multiplier(call: Call) -> None:
        await service.remove_multiplier(
            call.guild_id, target, call.param(placeholder), actor_id=call.actor_id
        )

    routes.add(
        Route(
            method="PUT",
            path=path,
            handler=set_multiplier,
            summary=f"Set a {target.value}'s XP multiplier",
            description=f"XP earned {where} is multiplied by `percent` (150 = 1.5x, 50 = half, "
            "100 = normal), as `/levels multiplier` sets it. Audited with before and after.",
            scope="levels:write",
            tag=routes.tag,
            params=params,
            body=PercentBody,
            response=Multiplier,
            name=f"set_{target.value}_multiplier",
            audit_fallback=False,  # the service audits a real change, and nothing for none
        )
    )
    routes.add(
        Route(
            method="DELETE",
            path=path,
            handler=remove_multiplier,
            summary=f"Remove a {target.value}'s XP multiplier",
            description=f"XP earned {where} is no longer changed, as `/levels "
            "multiplier-remove` does.",
            scope="levels:write",
            tag=routes.tag,
            params=params,
            status=204,
            name=f"remove_{target.value}_multiplier",
            audit_fallback=False,  # the service audits the multiplier it removes
        )
    )


# --------------------------------------------------------------------------- leaderboards

BOARD_WORDS = {
    LeaderboardCategory.XP: "total XP (with each member's level)",
    LeaderboardCategory.MESSAGES: "messages counted",
    LeaderboardCategory.VOICE: "minutes in voice",
    LeaderboardCategory.MONEY: "net worth (wallet and bank)",
}


def _board_position(cursor: str | None) -> tuple[int, int] | None:
    """The (value, user id) a cursor of a board names, or None for the top."""
    if not cursor:
        return None
    value, user_id = decode_cursor(cursor, 2)
    in_range = all(
        isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= MAX_SNOWFLAKE
        for item in (value, user_id)
    )
    if not in_range:
        raise ValidationError(BAD_CURSOR)
    return value, user_id


# Boards whose every change sends the guild's XP notice (the activity flush writes them): their
# pages are kept by the process's AnswerCache. Balances change without one.
KEPT_BOARDS = frozenset(
    {LeaderboardCategory.XP, LeaderboardCategory.MESSAGES, LeaderboardCategory.VOICE}
)


def _declare_board(category: LeaderboardCategory) -> None:
    async def read_page(guild_id: int, cursor: str | None, limit: int) -> Page[LeaderboardEntry]:
        after = _board_position(cursor)
        entries = await service.leaderboard_after(guild_id, category, after, limit + 1)
        if len(entries) <= limit:
            return Page(entries)
        last = entries[limit - 1]
        return Page(entries[:limit], encode_cursor([last.value, last.user_id]))

    async def read_board(call: Call) -> Page[LeaderboardEntry] | Encoded:
        limit: int = call.param("limit")
        cursor: str | None = call.param("cursor")
        if category not in KEPT_BOARDS:
            return await read_page(call.guild_id, cursor, limit)
        # Kept by the cursor's text: a kept page decodes nothing; a cursor refused is not kept.
        return await call.web.answers.answer(
            call.guild_id,
            (category, cursor, limit),
            lambda: encoded(read_page(call.guild_id, cursor, limit)),
        )

    routes.add(
        Route(
            method="GET",
            path=f"/guilds/{{guild_id}}/leaderboards/{category.value}",
            handler=read_board,
            summary=f"Read the {category.value} leaderboard",
            description=f"Members ranked by {BOARD_WORDS[category]}, best first, ties by user "
            "id; members with none are left out. `position` is the member's place on the "
            "board, as `/leaderboard` shows it; `level` is null except on the XP board. `name` "
            "is the name last stored, not the live display name.",
            scope="levels:read",
            tag=routes.tag,
            response=LeaderboardEntry,
            paginated=True,
            name=f"read_{category.value}_leaderboard",
        )
    )


@routes.get(
    "/guilds/{guild_id}/members/{user_id}/rank",
    scope="levels:read",
    summary="Read a member's rank",
    params=[_snowflake_param("user_id", "The member's Discord id")],
    response=RankInfo,
)
async def read_rank(call: Call) -> RankInfo | Encoded:
    """Level, progress, place on the XP leaderboard (null while the member has no XP),
    messages and voice minutes, and rank card style, as `/rank` shows them. In the bot's
    process it includes what the member earned since the last write (at most a second); a
    standalone web process reads what is stored."""
    user_id: int = call.param("user_id")
    buffer = call.web.bot.activity_buffer if call.web.bot is not None else None
    unwritten = buffer.unwritten(call.guild_id, user_id) if buffer is not None else None
    if unwritten is not None and _holds_activity(unwritten.beyond(None)):
        return await service.member_rank(call.guild_id, user_id, unwritten)
    # Nothing in memory to add: the stored rank, kept until the guild's XP changes.
    return await call.web.answers.answer(
        call.guild_id,
        ("rank", user_id),
        lambda: encoded(service.member_rank(call.guild_id, user_id)),
    )


async def encoded(answer: Awaitable[Any]) -> Encoded:
    """An answer as the JSON it is sent as: kept encoded, a request for it encodes nothing."""
    return Encoded(encode(await answer))


def _holds_activity(extra: Pending) -> bool:
    return bool(extra.xp or extra.messages or extra.voice_minutes)


def _declare_all() -> None:
    for target in MultiplierTarget:
        _declare_multiplier_routes(target)
    for category in LeaderboardCategory:
        _declare_board(category)


_declare_all()
