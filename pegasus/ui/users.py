"""Discord users and members as the plain values services take (names, avatar, join date)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import discord

from pegasus.services.directory import MemberInfo, MemberRows, UserInfo, member_rows

__all__ = [
    "member_info",
    "member_rows_from_payload",
    "user_info",
    "user_info_from_payload",
]


def user_info(user: discord.abc.User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.name,
        global_name=user.global_name,
        discriminator=user.discriminator,
        avatar=user.avatar.key if user.avatar else None,
        is_bot=user.bot,
    )


def member_info(member: discord.Member) -> MemberInfo:
    return MemberInfo(user=user_info(member), nickname=member.nick, joined_at=member.joined_at)


def user_info_from_payload(data: Mapping[str, Any]) -> UserInfo:
    """A user object as the gateway sends it (no discord.py objects built)."""
    return UserInfo(
        id=int(data["id"]),
        username=data.get("username") or "",
        global_name=data.get("global_name"),
        discriminator=data.get("discriminator") or "0",
        avatar=data.get("avatar"),
        is_bot=bool(data.get("bot", False)),
    )


def member_rows_from_payload(members: Iterable[Mapping[str, Any]]) -> Iterator[MemberRows]:
    """The members of a GUILD_CREATE or GUILD_MEMBERS_CHUNK as the directory stores them,
    converted one at a time as they are read, with no object per member in between: a start
    converts every member of every guild."""
    for data in members:
        user = data.get("user")
        if user is None:
            continue
        joined_at = data.get("joined_at")
        yield member_rows(
            int(user["id"]),
            user.get("username") or "",
            user.get("global_name"),
            user.get("discriminator") or "0",
            user.get("avatar"),
            bool(user.get("bot", False)),
            data.get("nick"),
            datetime.fromisoformat(joined_at) if joined_at else None,
        )
