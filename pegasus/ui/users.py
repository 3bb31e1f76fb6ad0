"""Discord users and members as the plain values services take (names, avatar, join date)."""

from __future__ import annotations

import discord

from pegasus.services.directory import MemberInfo, UserInfo

__all__ = ["member_info", "user_info"]


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
