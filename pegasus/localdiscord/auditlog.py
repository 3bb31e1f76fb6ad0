"""Discord's audit log, for moderation done through REST, and people calling REST themselves.

Every ban, unban, kick and member update (timeout, nickname) made through REST becomes an entry
naming who did it (`user_id`: the bot, or a person calling with their own token), the target,
the reason (the `X-Audit-Log-Reason` header) and the changes, as Discord records it. Each entry
goes out as GUILD_AUDIT_LOG_ENTRY_CREATE to a bot with the GUILD_MODERATION intent and View Audit
Log in that guild, and is listed by `GET /guilds/{guild_id}/audit-logs`.

`PersonClient` is a person (or another bot) acting from Discord's own menus: it calls the same
REST routes the bot calls, with that person's token, so Discord's checks are made against them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

from pegasus.localdiscord.state import FakeGuild, FakeMember, FakeUser, iso, now, snowflake

if TYPE_CHECKING:
    from pegasus.localdiscord.server import LocalDiscord

# Action types (discord.py's AuditLogAction values).
MEMBER_KICK = 20
MEMBER_BAN_ADD = 22
MEMBER_BAN_REMOVE = 23
MEMBER_UPDATE = 24

MAX_PAGE = 100
DEFAULT_PAGE = 50


@dataclass
class AuditEntry:
    id: int
    guild_id: int
    action_type: int
    user_id: int | None  # who acted
    target_id: int | None
    reason: str | None = None
    # [{"key", "old_value"?, "new_value"?}]: Discord leaves out a side that was empty.
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def created_at(self) -> datetime:
        from pegasus.localdiscord.state import snowflake_time

        return snowflake_time(self.id)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "action_type": self.action_type,
            "user_id": None if self.user_id is None else str(self.user_id),
            "target_id": None if self.target_id is None else str(self.target_id),
        }
        if self.changes:
            data["changes"] = self.changes
        if self.reason is not None:
            data["reason"] = self.reason
        return data


def change(key: str, old: Any, new: Any) -> dict[str, Any]:
    """One change as Discord writes it: a side that is empty is left out."""
    item: dict[str, Any] = {"key": key}
    if old is not None:
        item["old_value"] = old
    if new is not None:
        item["new_value"] = new
    return item


def member_changes(
    member: FakeMember, *, nick: str | None, timed_out_until: datetime | None
) -> list[dict[str, Any]]:
    """What a member update changed (compare the member before the update with these values)."""
    found = []
    if nick != member.nick:
        found.append(change("nick", member.nick, nick))
    if timed_out_until != member.timed_out_until:
        found.append(
            change(
                "communication_disabled_until", iso(member.timed_out_until), iso(timed_out_until)
            )
        )
    return found


class AuditLog:
    """The audit log of every guild of one local Discord."""

    def __init__(self, server: LocalDiscord) -> None:
        self.server = server
        self._entries: dict[int, list[AuditEntry]] = {}

    def entries(self, guild: FakeGuild) -> list[AuditEntry]:
        """The guild's entries, oldest first."""
        return list(self._entries.get(guild.id, ()))

    def record(
        self,
        guild: FakeGuild,
        actor: FakeUser | FakeMember,
        action_type: int,
        target_id: int | None,
        reason: str | None,
        changes: Iterable[dict[str, Any]] = (),
    ) -> AuditEntry:
        entry = AuditEntry(
            snowflake(), guild.id, action_type, actor.id, target_id, reason, list(changes)
        )
        self._entries.setdefault(guild.id, []).append(entry)
        self.dispatch(guild, entry)
        return entry

    def dispatch(self, guild: FakeGuild, entry: AuditEntry) -> int:
        """GUILD_AUDIT_LOG_ENTRY_CREATE for `entry`; also how a test replays one. Discord sends
        it only to a bot allowed to view the audit log (and with the GUILD_MODERATION intent,
        which the gateway checks); returns how many sessions got it."""
        bot = guild.members_by_id.get(self.server.bot_user.id)
        if bot is None or not bot.permissions.view_audit_log:
            return 0
        data = {**entry.payload(), "guild_id": str(guild.id)}
        return self.server.gateway.dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE", data, guild.id)

    def page(
        self,
        guild: FakeGuild,
        *,
        user_id: int | None = None,
        action_type: int | None = None,
        before: int | None = None,
        after: int | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> list[AuditEntry]:
        """Discord's paging: newest first below `before`; with only `after`, the oldest above it
        first (discord.py pages on with the last entry's id)."""
        found = [
            e
            for e in self.entries(guild)
            if (user_id is None or e.user_id == user_id)
            and (action_type is None or e.action_type == action_type)
            and (before is None or e.id < before)
            and (after is None or e.id > after)
        ]
        limit = max(1, min(limit, MAX_PAGE))
        if after is not None and before is None:
            return found[:limit]
        return list(reversed(found))[:limit]


class PersonClient:
    """Someone calling Discord's REST API with their own token: a moderator using Discord's
    member menu (ban, kick, time out) or another bot. Errors raise `ActionRefused` with
    Discord's answer."""

    def __init__(self, server: LocalDiscord, who: FakeMember | FakeUser) -> None:
        self.server = server
        self.user = who.user if isinstance(who, FakeMember) else who

    async def request(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, reason: str | None
    ) -> Any:
        from pegasus.localdiscord.actions import ActionRefused

        token = self.server.token_for(self.user)
        headers = {"Authorization": f"Bot {token}" if self.user.bot else token}
        if reason is not None:
            headers["X-Audit-Log-Reason"] = quote(reason, safe=" ")
        if body is not None:
            headers["Content-Type"] = "application/json"
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                self.server.api_base + path,
                data=None if body is None else json.dumps(body),
                headers=headers,
            ) as response,
        ):
            text = await response.text()
            data = json.loads(text) if text else None
            if response.status >= 400:
                raise ActionRefused(
                    f"{self.user.name} cannot {method} {path}: {response.status} {data}"
                )
            return data

    async def ban(
        self,
        guild: FakeGuild,
        target: FakeMember | FakeUser,
        *,
        reason: str | None = None,
        delete_message_seconds: int = 0,
    ) -> None:
        await self.request(
            "PUT",
            f"/guilds/{guild.id}/bans/{target.id}",
            body={"delete_message_seconds": delete_message_seconds},
            reason=reason,
        )

    async def unban(
        self, guild: FakeGuild, target: FakeMember | FakeUser, *, reason: str | None = None
    ) -> None:
        await self.request("DELETE", f"/guilds/{guild.id}/bans/{target.id}", reason=reason)

    async def kick(
        self, guild: FakeGuild, target: FakeMember, *, reason: str | None = None
    ) -> None:
        await self.request("DELETE", f"/guilds/{guild.id}/members/{target.id}", reason=reason)

    async def timeout(
        self,
        guild: FakeGuild,
        target: FakeMember,
        duration: timedelta | None,
        *,
        reason: str | None = None,
    ) -> None:
        until = None if duration is None else iso(now() + duration)
        await self.request(
            "PATCH",
            f"/guilds/{guild.id}/members/{target.id}",
            body={"communication_disabled_until": until},
            reason=reason,
        )
