"""Discord permission bits and the permission algorithm (guild base, then channel overwrites).

Flag names and values are discord.py's own (`discord.Permissions.VALID_FLAGS`), so a test speaks
the same names as the cog it tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from pegasus.localdiscord.state import FakeChannel, FakeGuild, FakeMember

FLAGS: dict[str, int] = dict(discord.Permissions.VALID_FLAGS)
ALL = discord.Permissions.all().value


class Permissions(int):
    """An int of permission bits with named flags: `perms.ban_members`, `Permissions.of(...)`."""

    @classmethod
    def of(cls, *names: str) -> Permissions:
        value = 0
        for name in names:
            if name not in FLAGS:
                raise KeyError(f"unknown permission {name!r}; known: {', '.join(sorted(FLAGS))}")
            value |= FLAGS[name]
        return cls(value)

    @classmethod
    def all(cls) -> Permissions:
        return cls(ALL)

    @classmethod
    def none(cls) -> Permissions:
        return cls(0)

    def has(self, name: str) -> bool:
        return bool(int(self) & FLAGS[name])

    def __getattr__(self, name: str) -> bool:
        if name in FLAGS:
            return self.has(name)
        raise AttributeError(name)

    @property
    def names(self) -> set[str]:
        return {name for name, bit in FLAGS.items() if int(self) & bit}

    def __or__(self, other: int) -> Permissions:  # type: ignore[override]
        return Permissions(int(self) | int(other))

    def __str__(self) -> str:  # the number, as Discord writes permission sets
        return int.__repr__(self)

    def __repr__(self) -> str:
        return f"Permissions({', '.join(sorted(self.names)) or 'none'})"


def as_bits(value: int | Iterable[str] | None) -> int:
    """Accept an int, a Permissions, or permission names."""
    if value is None:
        return 0
    if isinstance(value, int):
        return int(value)
    return int(Permissions.of(*value))


@dataclass
class Overwrite:
    """A channel permission overwrite: `type` 0 for a role, 1 for a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_payload(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


def base_permissions(guild: FakeGuild, member: FakeMember) -> Permissions:
    """Guild-level permissions: owner and administrator get everything."""
    if member.id == guild.owner_id:
        return Permissions.all()
    bits = guild.default_role.permissions
    for role in member.roles:
        bits |= role.permissions
    if bits & FLAGS["administrator"]:
        return Permissions.all()
    return Permissions(bits)


def channel_permissions(channel: FakeChannel, member: FakeMember) -> Permissions:
    """Discord's algorithm: base, then @everyone overwrite, role overwrites, member overwrite."""
    guild = channel.guild
    base = base_permissions(guild, member)
    if base == ALL:
        return base
    bits = int(base)
    overwrites = channel.overwrites
    everyone = overwrites.get(guild.id)
    if everyone is not None:
        bits = (bits & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role in member.roles:
        ow = overwrites.get(role.id)
        if ow is not None and ow.type == 0:
            allow |= ow.allow
            deny |= ow.deny
    bits = (bits & ~deny) | allow
    own = overwrites.get(member.id)
    if own is not None and own.type == 1:
        bits = (bits & ~own.deny) | own.allow
    # Without view_channel nothing else in the channel is possible.
    if not bits & FLAGS["view_channel"]:
        return Permissions(0)
    # A timed-out member keeps only reading (owners and administrators cannot be timed out).
    if member.is_timed_out:
        bits &= FLAGS["view_channel"] | FLAGS["read_message_history"]
    return Permissions(bits)
