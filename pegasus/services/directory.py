"""Guilds, users and members as the bot sees them, written in batches.

Feature services call `ensure_member` (or `ensure_guild`/`ensure_user`) before writing rows that
reference them; the gateway adapters call `upsert_guild_snapshot` with everything a GUILD_CREATE
carries, which costs a few statements per thousand members rather than one per member.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.guilds import Guild, GuildSettings, Member, User

BATCH_SIZE = 500
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str = ""
    global_name: str | None = None
    discriminator: str = "0"
    avatar: str | None = None
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class MemberInfo:
    user: UserInfo
    nickname: str | None = None
    joined_at: datetime | None = None


def _chunks(items: Sequence[T], size: int = BATCH_SIZE) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def ensure_guild(guild_id: int, *, using_db: BaseDBAsyncClient | None = None) -> None:
    """Make sure the guild and its settings row exist (never overwrites)."""
    await Guild.bulk_create([Guild(id=guild_id)], ignore_conflicts=True, using_db=using_db)
    await GuildSettings.bulk_create(
        [GuildSettings(guild_id=guild_id)], ignore_conflicts=True, using_db=using_db
    )


async def ensure_user(user_id: int, *, using_db: BaseDBAsyncClient | None = None) -> None:
    await User.bulk_create([User(id=user_id)], ignore_conflicts=True, using_db=using_db)


async def ensure_member(
    guild_id: int, user_id: int, *, using_db: BaseDBAsyncClient | None = None
) -> None:
    """Make sure the guild, the user and their membership rows exist."""
    await ensure_guild(guild_id, using_db=using_db)
    await ensure_user(user_id, using_db=using_db)
    await Member.bulk_create(
        [Member(guild_id=guild_id, user_id=user_id)], ignore_conflicts=True, using_db=using_db
    )


async def upsert_users(users: Sequence[UserInfo], *, using_db: BaseDBAsyncClient) -> None:
    rows = [
        User(
            id=u.id,
            username=u.username[:64],
            global_name=(u.global_name or None) and u.global_name[:64],
            discriminator=u.discriminator[:4] or "0",
            avatar=u.avatar,
            is_bot=u.is_bot,
        )
        for u in {u.id: u for u in users}.values()
    ]
    for chunk in _chunks(rows):
        await User.bulk_create(
            list(chunk),
            on_conflict=["id"],
            update_fields=["username", "global_name", "discriminator", "avatar", "is_bot"],
            using_db=using_db,
        )


async def upsert_members(
    guild_id: int, members: Sequence[MemberInfo], *, using_db: BaseDBAsyncClient | None = None
) -> None:
    """Upsert users and memberships of one guild in batches, inside one transaction."""
    async with in_transaction() if using_db is None else nullcontext(using_db) as conn:
        await ensure_guild(guild_id, using_db=conn)
        await upsert_users([m.user for m in members], using_db=conn)
        rows = [
            Member(guild_id=guild_id, user_id=m.user.id, nickname=m.nickname, joined_at=m.joined_at)
            for m in {m.user.id: m for m in members}.values()
        ]
        for chunk in _chunks(rows):
            await Member.bulk_create(
                list(chunk),
                on_conflict=["guild_id", "user_id"],
                update_fields=["nickname", "joined_at"],
                using_db=conn,
            )


async def mark_guild_joined(guild_id: int) -> None:
    await ensure_guild(guild_id)
    await Guild.filter(id=guild_id).update(left_at=None)


async def mark_guild_left(guild_id: int, *, now: datetime | None = None) -> None:
    """Soft delete: the data is kept for a grace period after the bot leaves."""
    await Guild.filter(id=guild_id).update(left_at=now or datetime.now(UTC))


async def upsert_users_now(users: Sequence[UserInfo]) -> None:
    async with in_transaction() as conn:
        await upsert_users(users, using_db=conn)
