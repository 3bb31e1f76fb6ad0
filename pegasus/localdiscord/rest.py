"""REST routes of the local Discord, with Discord's permission checks and error shapes.

The bot is the only REST client. Every check that Discord makes and that a bot can get wrong is
made here: permissions (with channel overwrites), role hierarchy, message limits, the
interaction response rules. Errors come back as Discord sends them, e.g.
403 {"message": "Missing Permissions", "code": 50013}.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pegasus.localdiscord import auditlog, payloads
from pegasus.localdiscord.interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    Modal,
    PendingInteraction,
)
from pegasus.localdiscord.permissions import FLAGS, Overwrite, Permissions
from pegasus.localdiscord.server import Call, DiscordError
from pegasus.localdiscord.state import (
    CATEGORY,
    TEXT,
    VOICE,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    File,
    now,
    snowflake,
    snowflake_time,
)

if TYPE_CHECKING:
    from pegasus.localdiscord.server import LocalDiscord

EPHEMERAL, LOADING = 64, 128
IS_COMPONENTS_V2 = 1 << 15
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
MAX_TIMEOUT = timedelta(days=28)
MAX_SLOWMODE = 21600  # seconds: a channel's rate_limit_per_user is 0-21600


# errors ------------------------------------------------------------------------------------
def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def missing_access() -> DiscordError:
    return DiscordError(403, 50001, "Missing Access")


def invalid_form(errors: dict[str, Any], message: str = "Invalid Form Body") -> DiscordError:
    return DiscordError(400, 50035, message, errors)


def form_error(path: str, code: str, message: str) -> DiscordError:
    """A 50035 whose `errors` nests like Discord's: {"content": {"_errors": [...]}}."""
    tree: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path.split(".")):
        tree = {key: tree}
    return invalid_form(tree)


def register(server: LocalDiscord) -> None:
    rest = Rest(server)
    server.rest = rest
    found = []
    for name in dir(rest):
        handler = getattr(rest, name)
        for method, template, auth in getattr(handler, "route_specs", ()):
            found.append((template.count("{"), method, template, auth, handler))
    # Literal segments win over parameters: /members/search before /members/{user_id}.
    for _, method, template, auth, handler in sorted(found, key=lambda x: x[0]):
        server.route(method, template, auth=auth)(handler)


def route(method: str, template: str, *, auth: bool = True):
    def decorator(func):
        func.route_specs = [*getattr(func, "route_specs", []), (method, template, auth)]
        return func

    return decorator


class Rest:
    # Routes a person may call with their own token (`LocalDiscord.token_for`), as Discord's own
    # client does from a member's menu; their permissions, not the bot's, are checked there.
    PERSON_ROUTES = frozenset(
        {
            "/guilds/{guild_id}/bans/{user_id}",
            "/guilds/{guild_id}/members/{user_id}",
            "/guilds/{guild_id}/audit-logs",
        }
    )

    def __init__(self, server: LocalDiscord) -> None:
        self.s = server

    # lookups -------------------------------------------------------------------------------
    def guild(self, call: Call) -> FakeGuild:
        try:
            guild = self.s.guilds_by_id[int(call.params["guild_id"])]
        except (KeyError, ValueError):
            raise DiscordError(404, 10004, "Unknown Guild") from None
        if guild.bot_left:
            raise missing_access()  # a guild the bot is not in
        return guild

    def channel(self, call: Call) -> FakeChannel:
        try:
            channel = self.s.channels[int(call.params["channel_id"])]
        except (KeyError, ValueError):
            raise DiscordError(404, 10003, "Unknown Channel") from None
        if channel.deleted:
            raise DiscordError(404, 10003, "Unknown Channel")
        if channel.guild is not None and channel.guild.bot_left:
            raise missing_access()
        return channel

    def message(self, channel: FakeChannel, message_id: str) -> FakeMessage:
        try:
            msg = self.s.messages[int(message_id)]
        except (KeyError, ValueError):
            raise DiscordError(404, 10008, "Unknown Message") from None
        # Ephemeral messages exist only for their interaction's webhook routes.
        if msg.deleted or msg.channel.id != channel.id or msg.ephemeral:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    def member(self, guild: FakeGuild, user_id: str) -> FakeMember:
        try:
            return guild.members_by_id[int(user_id)]
        except (KeyError, ValueError):
            raise DiscordError(404, 10007, "Unknown Member") from None

    def role(self, guild: FakeGuild, role_id: str) -> FakeRole:
        try:
            return guild.roles_by_id[int(role_id)]
        except (KeyError, ValueError):
            raise DiscordError(404, 10011, "Unknown Role") from None

    def user(self, user_id: str) -> FakeUser:
        try:
            return self.s.users[int(user_id)]
        except (KeyError, ValueError):
            raise DiscordError(404, 10013, "Unknown User") from None

    def me(self, guild: FakeGuild) -> FakeMember:
        return guild.members_by_id[self.s.bot_user.id]

    def actor(self, call: Call, guild: FakeGuild) -> FakeMember:
        """Who makes this call: the bot, or a person calling with their own token."""
        if call.actor is None or call.actor.id == self.s.bot_user.id:
            return self.me(guild)
        member = guild.members_by_id.get(call.actor.id)
        if member is None:
            raise missing_access()
        return member

    # permission checks (the bot is the actor unless `actor` says otherwise) ----------------
    def require(
        self,
        guild: FakeGuild,
        *names: str,
        channel: FakeChannel | None = None,
        actor: FakeMember | None = None,
    ) -> None:
        me = actor or self.me(guild)
        if channel is not None and channel.guild is not None:
            perms = channel.permissions_for(me)
            if not perms.view_channel:
                raise missing_access()
        else:
            perms = me.permissions
        if any(not perms.has(n) for n in names):
            raise missing_permissions()

    def require_above(
        self, guild: FakeGuild, target: FakeMember, actor: FakeMember | None = None
    ) -> None:
        """Discord's hierarchy rule: the target's top role must be below the bot's."""
        me = actor or self.me(guild)
        if target.id == guild.owner_id:
            raise missing_permissions()
        if me.id != guild.owner_id and target.top_role.position >= me.top_role.position:
            raise missing_permissions()

    def require_role_below(
        self, guild: FakeGuild, role: FakeRole, actor: FakeMember | None = None
    ) -> None:
        me = actor or self.me(guild)
        if role.managed or role.is_default:
            raise missing_permissions()
        if me.id != guild.owner_id and role.position >= me.top_role.position:
            raise missing_permissions()

    # login, gateway, application -----------------------------------------------------------
    @route("GET", "/users/@me")
    async def get_me(self, call: Call) -> Any:
        return {
            **payloads.user(self.s.bot_user),
            "verified": True,
            "mfa_enabled": False,
            "flags": 0,
            "locale": "en-US",
        }

    @route("GET", "/invites/{invite_code}")
    async def get_invite(self, call: Call) -> Any:
        """An invite's guild and channel, for any guild (the bot need not be in it)."""
        code = call.params["invite_code"]
        for guild in self.s.guilds:
            channel = guild.channels_by_id.get(guild.invites.get(code, 0))
            if channel is None or channel.deleted:
                continue
            data: dict[str, Any] = {
                "type": 0,
                "code": code,
                "expires_at": None,
                "guild": {
                    "id": str(guild.id),
                    "name": guild.name,
                    "icon": guild.icon,
                    "splash": None,
                    "banner": None,
                    "description": guild.description,
                    "features": [],
                    "verification_level": 0,
                    "vanity_url_code": None,
                    "nsfw_level": 0,
                    "premium_subscription_count": 0,
                },
                "channel": {"id": str(channel.id), "name": channel.name, "type": channel.type},
            }
            if call.query.get("with_counts", "").lower() in ("1", "true"):
                data["approximate_member_count"] = len(guild.members)
                data["approximate_presence_count"] = 0
            return data
        raise DiscordError(404, 10006, "Unknown Invite")

    @route("GET", "/users/{user_id}")
    async def get_user(self, call: Call) -> Any:
        return payloads.user(self.user(call.params["user_id"]))

    @route("DELETE", "/users/@me/guilds/{guild_id}")
    async def leave_guild(self, call: Call) -> Any:
        guild = self.s.guilds_by_id.get(_int_or_none(call.params["guild_id"]) or 0)
        if guild is None or guild.bot_left:
            raise DiscordError(404, 10004, "Unknown Guild")
        if guild.owner_id == self.s.bot_user.id:
            # Discord: an owner must transfer or delete the guild instead.
            raise DiscordError(400, 50055, "Invalid Guild")
        self.s.bot_leaves(guild)
        return None

    @route("GET", "/oauth2/applications/@me")
    async def application(self, call: Call) -> Any:
        owner = self.s.owner_user or self.s.bot_user
        return payloads.application_info(
            application_id=self.s.application_id, bot=self.s.bot_user, owner=owner
        )

    @route("GET", "/applications/@me")
    async def application_me(self, call: Call) -> Any:
        return await self.application(call)

    @route("GET", "/gateway", auth=False)
    async def get_gateway(self, call: Call) -> Any:
        return {"url": self.s.gateway_url}

    @route("GET", "/gateway/bot")
    async def get_gateway_bot(self, call: Call) -> Any:
        return {
            "url": self.s.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    @route("POST", "/auth/logout")
    async def logout(self, call: Call) -> Any:
        return None

    # application commands ------------------------------------------------------------------
    def _commands(self, call: Call) -> tuple[dict[str, dict[str, Any]], int | None]:
        if call.params["application_id"] != str(self.s.application_id):
            raise DiscordError(403, 50001, "Missing Access")
        if "guild_id" in call.params:
            guild = self.guild(call)
            return self.s.guild_commands_by_id.setdefault(guild.id, {}), guild.id
        return self.s.global_commands_by_name, None

    def _echo_command(
        self, body: dict[str, Any], existing: dict[str, dict[str, Any]], guild_id: int | None
    ) -> dict[str, Any]:
        kind = int(body.get("type", 1))
        key = f"{kind}:{body['name']}"
        old = existing.get(key)
        command = {
            "id": old["id"] if old else str(snowflake()),
            "application_id": str(self.s.application_id),
            "version": str(snowflake()),
            "type": kind,
            "name": body["name"],
            "description": body.get("description", ""),
            "options": body.get("options") or [],
            # Discord answers permission bit sets as strings.
            "default_member_permissions": _str_or_none(body.get("default_member_permissions")),
            "dm_permission": body.get("dm_permission", True),
            "nsfw": body.get("nsfw", False),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
            "name_localizations": body.get("name_localizations"),
            "description_localizations": body.get("description_localizations"),
        }
        if guild_id is not None:
            command["guild_id"] = str(guild_id)
        return command

    @route("PUT", "/applications/{application_id}/commands")
    @route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
    async def bulk_overwrite_commands(self, call: Call) -> Any:
        store, guild_id = self._commands(call)
        body = call.json or []
        validate_commands(body)
        echoed = [self._echo_command(c, store, guild_id) for c in body]
        store.clear()
        for command in echoed:
            store[f"{command['type']}:{command['name']}"] = command
        self.s.sync_count += 1
        self.s.notify("commands_synced", guild_id)
        return echoed

    @route("GET", "/applications/{application_id}/commands")
    @route("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
    async def get_commands(self, call: Call) -> Any:
        store, _ = self._commands(call)
        return list(store.values())

    @route("POST", "/applications/{application_id}/commands")
    @route("POST", "/applications/{application_id}/guilds/{guild_id}/commands")
    async def upsert_command(self, call: Call) -> Any:
        store, guild_id = self._commands(call)
        validate_commands([call.json])
        command = self._echo_command(call.json, store, guild_id)
        store[f"{command['type']}:{command['name']}"] = command
        return 201, command

    @route("DELETE", "/applications/{application_id}/commands/{command_id}")
    @route("DELETE", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
    async def delete_command(self, call: Call) -> Any:
        store, _ = self._commands(call)
        for key, command in list(store.items()):
            if command["id"] == call.params["command_id"]:
                del store[key]
                return None
        raise DiscordError(404, 10063, "Unknown application command")

    # guilds, roles, members ----------------------------------------------------------------
    @route("GET", "/guilds/{guild_id}")
    async def get_guild(self, call: Call) -> Any:
        guild = self.guild(call)
        data = payloads.guild(guild)
        if call.query.get("with_counts", "").lower() in ("1", "true"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = 0
        return data

    @route("GET", "/guilds/{guild_id}/channels")
    async def get_guild_channels(self, call: Call) -> Any:
        return [payloads.channel(c) for c in self.guild(call).channels]

    @route("GET", "/guilds/{guild_id}/roles")
    async def get_roles(self, call: Call) -> Any:
        return [payloads.role(r) for r in self.guild(call).roles]

    @route("GET", "/guilds/{guild_id}/roles/{role_id}")
    async def get_role(self, call: Call) -> Any:
        guild = self.guild(call)
        return payloads.role(self.role(guild, call.params["role_id"]))

    @route("POST", "/guilds/{guild_id}/roles")
    async def create_role(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "manage_roles")
        body = call.json or {}
        perms = int(body.get("permissions") or 0)
        self._require_grantable(guild, perms)
        role = guild.new_role(
            body.get("name") or "new role",
            permissions=perms,
            position=1,
            color=_role_color(body),
            hoist=bool(body.get("hoist")),
            mentionable=bool(body.get("mentionable")),
        )
        self.s.events.role_create(role)
        return payloads.role(role)

    def _require_grantable(self, guild: FakeGuild, perms: int) -> None:
        mine = self.me(guild).permissions
        if perms & ~int(mine):
            raise missing_permissions()

    @route("PATCH", "/guilds/{guild_id}/roles/{role_id}")
    async def edit_role(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "manage_roles")
        role = self.role(guild, call.params["role_id"])
        if not role.is_default:
            self.require_role_below(guild, role)
        body = call.json or {}
        if "permissions" in body:
            perms = int(body["permissions"] or 0)
            self._require_grantable(guild, perms & ~int(role.permissions))
            role.permissions = Permissions(perms)
        if "colors" in body or "color" in body:
            role.color = _role_color(body)
        for key in ("name", "hoist", "mentionable"):
            if key in body and body[key] is not None:
                setattr(role, key, body[key])
        self.s.events.role_update(role)
        return payloads.role(role)

    @route("PATCH", "/guilds/{guild_id}/roles")
    async def move_roles(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "manage_roles")
        for entry in call.json or []:
            role = self.role(guild, entry["id"])
            self.require_role_below(guild, role)
            if entry.get("position") is not None:
                if int(entry["position"]) >= self.me(guild).top_role.position:
                    raise missing_permissions()
                role.position = int(entry["position"])
            self.s.events.role_update(role)
        return [payloads.role(r) for r in guild.roles]

    @route("DELETE", "/guilds/{guild_id}/roles/{role_id}")
    async def delete_role(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "manage_roles")
        role = self.role(guild, call.params["role_id"])
        self.require_role_below(guild, role)
        self.s.rest_delete_role(guild, role)
        return None

    @route("GET", "/guilds/{guild_id}/members/{user_id}")
    async def get_member(self, call: Call) -> Any:
        guild = self.guild(call)
        return payloads.member(self.member(guild, call.params["user_id"]))

    @route("GET", "/guilds/{guild_id}/members")
    async def list_members(self, call: Call) -> Any:
        guild = self.guild(call)
        after = int(call.query.get("after", 0))
        limit = int(call.query.get("limit", 1))
        members = sorted((m for m in guild.members if m.id > after), key=lambda m: m.id)
        return [payloads.member(m) for m in members[:limit]]

    @route("GET", "/guilds/{guild_id}/members/search")
    async def search_members(self, call: Call) -> Any:
        guild = self.guild(call)
        query = call.query.get("query", "").lower()
        limit = int(call.query.get("limit", 1))
        found = [
            m
            for m in guild.members
            if m.name.lower().startswith(query) or (m.nick or "").lower().startswith(query)
        ]
        return [payloads.member(m) for m in found[:limit]]

    @route("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
    async def add_member_role(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "manage_roles")
        member = self.member(guild, call.params["user_id"])
        role = self.role(guild, call.params["role_id"])
        self.require_role_below(guild, role)
        if role.id not in member.role_ids:
            member.role_ids.append(role.id)
            self.s.events.member_update(member)
        return None

    @route("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
    async def remove_member_role(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "manage_roles")
        member = self.member(guild, call.params["user_id"])
        role = self.role(guild, call.params["role_id"])
        self.require_role_below(guild, role)
        if role.id in member.role_ids:
            member.role_ids.remove(role.id)
            self.s.events.member_update(member)
        return None

    @route("PATCH", "/guilds/{guild_id}/members/@me")
    async def edit_me(self, call: Call) -> Any:
        guild = self.guild(call)
        me = self.me(guild)
        if "nick" in (call.json or {}):
            self.require(guild, "change_nickname")
            me.nick = call.json["nick"]
            self.s.events.member_update(me)
        return payloads.member(me)

    @route("PATCH", "/guilds/{guild_id}/members/{user_id}")
    async def edit_member(self, call: Call) -> Any:
        guild = self.guild(call)
        member = self.member(guild, call.params["user_id"])
        actor = self.actor(call, guild)
        body = call.json or {}
        is_me = member.id == actor.id
        if "roles" in body:
            self.require(guild, "manage_roles", actor=actor)
            wanted = {int(r) for r in body["roles"] or []}
            current = set(member.role_ids)
            for role_id in wanted ^ current:
                self.require_role_below(guild, self.role(guild, str(role_id)), actor)
        if "nick" in body:
            self.require(guild, "change_nickname" if is_me else "manage_nicknames", actor=actor)
            if not is_me:
                self.require_above(guild, member, actor)
        if "communication_disabled_until" in body:
            self._check_timeout(guild, member, body["communication_disabled_until"], actor)
        if "mute" in body:
            self.require(guild, "mute_members", actor=actor)
        if "deaf" in body:
            self.require(guild, "deafen_members", actor=actor)
        if "channel_id" in body:
            self.require(guild, "move_members", actor=actor)
            if member.voice is None:
                raise DiscordError(400, 40032, "Target user is not connected to voice.")
        # Everything was allowed: apply.
        nick = (body["nick"] or None) if "nick" in body else member.nick
        until = member.timed_out_until
        if "communication_disabled_until" in body:
            raw = body["communication_disabled_until"]
            until = datetime.fromisoformat(raw) if raw else None
        changes = auditlog.member_changes(member, nick=nick, timed_out_until=until)
        if "roles" in body:
            member.role_ids = [int(r) for r in body["roles"] or []]
        member.nick, member.timed_out_until = nick, until
        voice_changed = False
        if member.voice is not None:
            if "mute" in body:
                member.voice.mute = bool(body["mute"])
                voice_changed = True
            if "deaf" in body:
                member.voice.deaf = bool(body["deaf"])
                voice_changed = True
            if "channel_id" in body:
                target = body["channel_id"]
                if target is None:
                    member.voice = None
                else:
                    member.voice.channel_id = int(target)
                voice_changed = True
        self.s.events.member_update(member)
        if voice_changed:
            self.s.events.voice_state(member)
        if changes:
            self.s.audit_log.record(
                guild, actor, auditlog.MEMBER_UPDATE, member.id, call.reason, changes
            )
        return payloads.member(member)

    def _check_timeout(
        self, guild: FakeGuild, member: FakeMember, until: str | None, actor: FakeMember
    ) -> None:
        self.require(guild, "moderate_members", actor=actor)
        self.require_above(guild, member, actor)
        if member.permissions.administrator:
            raise missing_permissions()  # Discord cannot time out administrators
        if until:
            moment = datetime.fromisoformat(until)
            if moment - now() > MAX_TIMEOUT:
                raise form_error(
                    "communication_disabled_until",
                    "BASE_TYPE_BAD_TIME",
                    "Timeouts can be at most 28 days.",
                )

    @route("DELETE", "/guilds/{guild_id}/members/{user_id}")
    async def kick(self, call: Call) -> Any:
        guild = self.guild(call)
        actor = self.actor(call, guild)
        self.require(guild, "kick_members", actor=actor)
        member = self.member(guild, call.params["user_id"])
        self.require_above(guild, member, actor)
        guild.kicked.append(member.user)
        self.s.remove_member(guild, member)
        self.s.audit_log.record(guild, actor, auditlog.MEMBER_KICK, member.id, call.reason)
        return None

    @route("GET", "/guilds/{guild_id}/bans")
    async def get_bans(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "ban_members")
        return [{"user": payloads.user(b.user), "reason": b.reason} for b in guild.bans.values()]

    @route("GET", "/guilds/{guild_id}/bans/{user_id}")
    async def get_ban(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "ban_members", actor=self.actor(call, guild))
        ban = guild.bans.get(int(call.params["user_id"]))
        if ban is None:
            raise DiscordError(404, 10026, "Unknown Ban")
        return {"user": payloads.user(ban.user), "reason": ban.reason}

    @route("PUT", "/guilds/{guild_id}/bans/{user_id}")
    async def ban(self, call: Call) -> Any:
        guild = self.guild(call)
        actor = self.actor(call, guild)
        self.require(guild, "ban_members", actor=actor)
        user = self.user(call.params["user_id"])
        member = guild.members_by_id.get(user.id)
        if member is not None:
            self.require_above(guild, member, actor)
        elif user.id == guild.owner_id:
            raise missing_permissions()
        seconds = int(
            (call.json or {}).get("delete_message_seconds")
            or call.query.get("delete_message_seconds")
            or 0
        )
        if seconds > 604800:
            raise form_error(
                "delete_message_seconds",
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 604800.",
            )
        from pegasus.localdiscord.state import Ban

        guild.bans[user.id] = Ban(user, call.reason)
        if member is not None:
            self.s.remove_member(guild, member)
        self.s.events.ban_add(guild, user)
        if seconds:
            self._purge_user_messages(guild, user, seconds)
        self.s.audit_log.record(guild, actor, auditlog.MEMBER_BAN_ADD, user.id, call.reason)
        return None

    def _purge_user_messages(self, guild: FakeGuild, user: FakeUser, seconds: int) -> None:
        cutoff = now() - timedelta(seconds=seconds)
        for channel in guild.text_channels:
            doomed = [
                m for m in channel.messages if m.author.id == user.id and m.created_at >= cutoff
            ]
            for msg in doomed:
                msg.deleted = True
            if doomed:
                self.s.events.message_delete_bulk(channel, [m.id for m in doomed])

    @route("DELETE", "/guilds/{guild_id}/bans/{user_id}")
    async def unban(self, call: Call) -> Any:
        guild = self.guild(call)
        actor = self.actor(call, guild)
        self.require(guild, "ban_members", actor=actor)
        ban = guild.bans.pop(int(call.params["user_id"]), None)
        if ban is None:
            raise DiscordError(404, 10026, "Unknown Ban")
        self.s.events.ban_remove(guild, ban.user)
        self.s.audit_log.record(guild, actor, auditlog.MEMBER_BAN_REMOVE, ban.user.id, call.reason)
        return None

    @route("POST", "/guilds/{guild_id}/bulk-ban")
    async def bulk_ban(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "ban_members", "manage_guild")
        banned, failed = [], []
        from pegasus.localdiscord.state import Ban

        for raw in (call.json or {}).get("user_ids", []):
            user = self.s.users.get(int(raw))
            member = guild.members_by_id.get(int(raw))
            try:
                if user is None:
                    raise missing_permissions()
                if member is not None:
                    self.require_above(guild, member)
            except DiscordError:
                failed.append(str(raw))
                continue
            guild.bans[user.id] = Ban(user, call.reason)
            if member is not None:
                self.s.remove_member(guild, member)
            self.s.events.ban_add(guild, user)
            self.s.audit_log.record(
                guild, self.me(guild), auditlog.MEMBER_BAN_ADD, user.id, call.reason
            )
            banned.append(str(raw))
        return {"banned_users": banned, "failed_users": failed}

    @route("GET", "/guilds/{guild_id}/audit-logs")
    async def audit_logs(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "view_audit_log", actor=self.actor(call, guild))
        q = call.query
        entries = self.s.audit_log.page(
            guild,
            user_id=_int_or_none(q.get("user_id")),
            action_type=_int_or_none(q.get("action_type")),
            before=_int_or_none(q.get("before")),
            after=_int_or_none(q.get("after")),
            limit=_int_or_none(q.get("limit")) or auditlog.DEFAULT_PAGE,
        )
        named = {i for e in entries for i in (e.user_id, e.target_id) if i is not None}
        return {
            "audit_log_entries": [e.payload() for e in entries],
            "users": [payloads.user(self.s.users[i]) for i in sorted(named) if i in self.s.users],
            "webhooks": [],
            "integrations": [],
            "threads": [],
            "application_commands": [],
            "auto_moderation_rules": [],
            "guild_scheduled_events": [],
        }

    # channels ------------------------------------------------------------------------------
    @route("GET", "/channels/{channel_id}")
    async def get_channel(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is not None:
            self.require(channel.guild, channel=channel)
        return payloads.channel(channel)

    def _overwrites(self, guild: FakeGuild, raw: list[dict[str, Any]] | None) -> list[Overwrite]:
        result = []
        mine = int(self.me(guild).permissions)
        for entry in raw or []:
            target = int(entry["id"])
            kind = int(entry.get("type", 0))
            if kind == 0 and target not in guild.roles_by_id:
                raise form_error("permission_overwrites", "UNKNOWN_ROLE", "Unknown role.")
            allow, deny = int(entry.get("allow") or 0), int(entry.get("deny") or 0)
            # A bot can only allow or deny permissions it has itself.
            if (allow | deny) & ~mine:
                raise missing_permissions()
            result.append(Overwrite(target, kind, allow, deny))
        return result

    @route("POST", "/guilds/{guild_id}/channels")
    async def create_channel(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "manage_channels")
        body = call.json or {}
        kind = int(body.get("type", TEXT))
        if kind not in (TEXT, VOICE, CATEGORY):
            raise form_error(
                "type", "BASE_TYPE_CHOICES", f"Value must be one of {TEXT, VOICE, CATEGORY}."
            )
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            raise form_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if kind == TEXT:
            name = _text_channel_name(name)
        raw_overwrites = body.get("permission_overwrites")
        if raw_overwrites:
            self.require(guild, "manage_roles")
        overwrites = self._overwrites(guild, raw_overwrites) if raw_overwrites else None
        category = None
        if body.get("parent_id"):
            category = guild.channels_by_id.get(int(body["parent_id"]))
            if category is None or category.type != CATEGORY:
                raise form_error("parent_id", "CHANNEL_PARENT_INVALID_TYPE", "Not a category.")
        channel = guild.new_channel(
            name,
            kind,
            category=category,
            overwrites=overwrites,
            topic=body.get("topic"),
            position=body.get("position"),
        )
        if body.get("rate_limit_per_user"):
            channel.rate_limit_per_user = int(body["rate_limit_per_user"])
        if body.get("nsfw"):
            channel.nsfw = True
        self.s.events.channel_create(channel)
        return 201, payloads.channel(channel)

    @route("PATCH", "/channels/{channel_id}")
    async def edit_channel(self, call: Call) -> Any:
        channel = self.channel(call)
        guild = channel.guild
        if guild is None:
            raise missing_permissions()
        self.require(guild, "manage_channels", channel=channel)
        body = call.json or {}
        if "permission_overwrites" in body:
            self.require(guild, "manage_roles", channel=channel)
            channel.overwrites = {
                o.id: o for o in self._overwrites(guild, body["permission_overwrites"])
            }
        if body.get("name"):
            channel.name = (
                _text_channel_name(body["name"]) if channel.type == TEXT else body["name"]
            )
        if "topic" in body:
            channel.topic = body["topic"]
        if "parent_id" in body:
            channel.parent_id = int(body["parent_id"]) if body["parent_id"] else None
            if body.get("lock_permissions") and channel.category is not None:
                channel.overwrites = {
                    k: Overwrite(v.id, v.type, v.allow, v.deny)
                    for k, v in channel.category.overwrites.items()
                }
        slowmode = body.get("rate_limit_per_user")
        if slowmode is not None and not 0 <= int(slowmode) <= MAX_SLOWMODE:
            raise form_error(
                "rate_limit_per_user",
                "NUMBER_TYPE_MAX" if int(slowmode) > MAX_SLOWMODE else "NUMBER_TYPE_MIN",
                f"int value should be between 0 and {MAX_SLOWMODE}.",
            )
        for key in ("position", "rate_limit_per_user", "nsfw", "bitrate", "user_limit"):
            if key in body and body[key] is not None:
                setattr(channel, key, body[key])
        self.s.events.channel_update(channel)
        return payloads.channel(channel)

    @route("PATCH", "/guilds/{guild_id}/channels")
    async def move_channels(self, call: Call) -> Any:
        guild = self.guild(call)
        self.require(guild, "manage_channels")
        for entry in call.json or []:
            channel = guild.channels_by_id.get(int(entry["id"]))
            if channel is None:
                raise DiscordError(404, 10003, "Unknown Channel")
            if entry.get("position") is not None:
                channel.position = int(entry["position"])
            if "parent_id" in entry:
                channel.parent_id = int(entry["parent_id"]) if entry["parent_id"] else None
            self.s.events.channel_update(channel)
        return None

    @route("DELETE", "/channels/{channel_id}")
    async def delete_channel(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is None:
            return payloads.channel(channel)  # closing a DM
        self.require(channel.guild, "manage_channels", channel=channel)
        self.s.remove_channel(channel)
        return payloads.channel(channel)

    @route("PUT", "/channels/{channel_id}/permissions/{target}")
    async def put_overwrite(self, call: Call) -> Any:
        channel = self.channel(call)
        guild = channel.guild
        if guild is None:
            raise missing_permissions()
        self.require(guild, "manage_roles", channel=channel)
        body = call.json or {}
        entry = {
            "id": call.params["target"],
            "type": body.get("type", 0),
            "allow": body.get("allow", 0),
            "deny": body.get("deny", 0),
        }
        (overwrite,) = self._overwrites(guild, [entry])
        channel.overwrites[overwrite.id] = overwrite
        self.s.events.channel_update(channel)
        return None

    @route("DELETE", "/channels/{channel_id}/permissions/{target}")
    async def delete_overwrite(self, call: Call) -> Any:
        channel = self.channel(call)
        guild = channel.guild
        if guild is None:
            raise missing_permissions()
        self.require(guild, "manage_roles", channel=channel)
        channel.overwrites.pop(int(call.params["target"]), None)
        self.s.events.channel_update(channel)
        return None

    @route("POST", "/channels/{channel_id}/typing")
    async def typing(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is not None:
            self.require(channel.guild, "send_messages", channel=channel)
        return None

    @route("POST", "/users/@me/channels")
    async def open_dm(self, call: Call) -> Any:
        user = self.user(str((call.json or {}).get("recipient_id")))
        return payloads.channel(self.s.dm_channel(user))

    # messages ------------------------------------------------------------------------------
    @route("POST", "/channels/{channel_id}/messages")
    async def create_message(self, call: Call) -> Any:
        channel = self.channel(call)
        body = call.json or {}
        if channel.guild is not None:
            needed = ["send_messages"]
            if call.files:
                needed.append("attach_files")
            if body.get("message_reference"):
                needed.append("read_message_history")
            self.require(channel.guild, *needed, channel=channel)
        elif channel.recipient is not None and not channel.recipient.dms_open:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        validate_message(body, call.files, creating=True)
        reference = body.get("message_reference") or {}
        msg = self.new_bot_message(channel, body, call.files)
        if reference.get("message_id"):
            msg.reference_id = int(reference["message_id"])
            msg.type = 19
        self.s.add_message(msg)
        return payloads.message(msg)

    def new_bot_message(
        self,
        channel: FakeChannel,
        body: dict[str, Any],
        files: list[File],
        *,
        flags: int = 0,
        webhook: bool = False,
    ) -> FakeMessage:
        msg = FakeMessage(
            snowflake(),
            channel,
            self.s.bot_user,
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            attachments=self.s.store_files(channel.id, files),
            flags=(int(body.get("flags") or 0) | flags) & ~LOADING | (flags & LOADING),
            tts=bool(body.get("tts")),
            allowed_mentions=body.get("allowed_mentions"),
            poll=body.get("poll"),
            webhook_id=self.s.application_id if webhook else None,
        )
        return msg

    @route("GET", "/channels/{channel_id}/messages")
    async def history(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is not None:
            self.require(channel.guild, "read_message_history", channel=channel)
        limit = min(int(call.query.get("limit", 50)), 100)
        msgs = channel.messages  # oldest first
        if "before" in call.query:
            before = int(call.query["before"])
            msgs = [m for m in msgs if m.id < before]
            chosen = msgs[-limit:]
        elif "after" in call.query:
            after = int(call.query["after"])
            chosen = [m for m in msgs if m.id > after][:limit]
        elif "around" in call.query:
            around = int(call.query["around"])
            older = [m for m in msgs if m.id <= around][-(limit // 2 + 1) :]
            newer = [m for m in msgs if m.id > around][: limit - len(older)]
            chosen = older + newer
        else:
            chosen = msgs[-limit:]
        return [payloads.message(m) for m in reversed(chosen)]  # newest first, as Discord

    @route("GET", "/channels/{channel_id}/messages/{message_id}")
    async def get_message(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is not None:
            self.require(channel.guild, "read_message_history", channel=channel)
        return payloads.message(self.message(channel, call.params["message_id"]))

    @route("PATCH", "/channels/{channel_id}/messages/{message_id}")
    async def edit_message(self, call: Call) -> Any:
        channel = self.channel(call)
        msg = self.message(channel, call.params["message_id"])
        body = call.json or {}
        if msg.author.id != self.s.bot_user.id:
            if set(body) - {"flags"}:
                raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
            self.require(channel.guild, "manage_messages", channel=channel)  # type: ignore[arg-type]
        validate_message(body, call.files, creating=False)
        self.apply_edit(msg, body, call.files)
        return payloads.message(msg)

    def apply_edit(self, msg: FakeMessage, body: dict[str, Any], files: list[File]) -> None:
        if "content" in body:
            msg.content = body["content"] or ""
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
        if "components" in body:
            msg.components = list(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            msg.flags = (msg.flags & (EPHEMERAL | LOADING)) | int(body["flags"])
        if "attachments" in body or files:
            kept_ids = {
                int(a["id"])
                for a in body.get("attachments") or []
                if int(a["id"]) in self.s.attachments
            }
            kept = (
                [a for a in msg.attachments if a.id in kept_ids]
                if ("attachments" in body)
                else list(msg.attachments)
            )
            msg.attachments = kept + self.s.store_files(msg.channel.id, files)
        msg.edits.append(body)
        msg.edited_at = now()
        if not msg.ephemeral:
            self.s.events.message_update(msg)
        self.s.notify("message_edit", msg)
        for pending in self.s.interactions.values():
            if pending.original is msg or pending.message is msg:
                pending._changed()

    @route("DELETE", "/channels/{channel_id}/messages/{message_id}")
    async def delete_message(self, call: Call) -> Any:
        channel = self.channel(call)
        msg = self.message(channel, call.params["message_id"])
        if msg.author.id != self.s.bot_user.id:
            if channel.guild is None:
                raise DiscordError(403, 50003, "Cannot execute action on a DM channel")
            self.require(channel.guild, "manage_messages", channel=channel)
        self.s.delete_message(msg)
        return None

    @route("POST", "/channels/{channel_id}/messages/bulk-delete")
    async def bulk_delete(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is None:
            raise DiscordError(403, 50003, "Cannot execute action on a DM channel")
        self.require(channel.guild, "manage_messages", channel=channel)
        ids = [int(x) for x in (call.json or {}).get("messages", [])]
        if not 2 <= len(ids) <= 100:
            raise form_error(
                "messages", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length."
            )
        if len(set(ids)) != len(ids):
            raise DiscordError(400, 50035, "Duplicate messages in bulk delete")
        oldest = now() - timedelta(days=14)
        if any(snowflake_time(i) < oldest for i in ids):
            raise DiscordError(
                400, 50034, "You can only bulk delete messages that are under 14 days old."
            )
        deleted = []
        for mid in ids:
            msg = self.s.messages.get(mid)
            if msg is not None and msg.channel.id == channel.id and not msg.deleted:
                msg.deleted = True
                deleted.append(mid)
        if deleted:
            self.s.events.message_delete_bulk(channel, deleted)
        return None

    @route("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
    async def add_reaction(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is not None:
            self.require(channel.guild, "add_reactions", "read_message_history", channel=channel)
        msg = self.message(channel, call.params["message_id"])
        emoji = _emoji(call.params["emoji"])
        msg.reactions.setdefault(emoji, set()).add(self.s.bot_user.id)
        return None

    @route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
    async def remove_own_reaction(self, call: Call) -> Any:
        channel = self.channel(call)
        msg = self.message(channel, call.params["message_id"])
        msg.reactions.get(_emoji(call.params["emoji"]), set()).discard(self.s.bot_user.id)
        return None

    @route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}")
    async def remove_reaction(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is not None:
            self.require(channel.guild, "manage_messages", channel=channel)
        msg = self.message(channel, call.params["message_id"])
        msg.reactions.get(_emoji(call.params["emoji"]), set()).discard(int(call.params["user_id"]))
        return None

    @route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions")
    async def clear_reactions(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is not None:
            self.require(channel.guild, "manage_messages", channel=channel)
        self.message(channel, call.params["message_id"]).reactions.clear()
        return None

    @route("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}")
    async def reaction_users(self, call: Call) -> Any:
        channel = self.channel(call)
        msg = self.message(channel, call.params["message_id"])
        ids = sorted(msg.reactions.get(_emoji(call.params["emoji"]), set()))
        after = int(call.query.get("after", 0))
        limit = int(call.query.get("limit", 25))
        users = [self.s.users[i] for i in ids if i > after and i in self.s.users][:limit]
        return [payloads.user(u) for u in users]

    @route("PUT", "/channels/{channel_id}/messages/pins/{message_id}")
    @route("PUT", "/channels/{channel_id}/pins/{message_id}")
    async def pin(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is not None:
            self.require(channel.guild, "manage_messages", channel=channel)
        msg = self.message(channel, call.params["message_id"])
        msg.pinned = True
        self.s.events.message_update(msg)
        return None

    @route("DELETE", "/channels/{channel_id}/messages/pins/{message_id}")
    @route("DELETE", "/channels/{channel_id}/pins/{message_id}")
    async def unpin(self, call: Call) -> Any:
        channel = self.channel(call)
        if channel.guild is not None:
            self.require(channel.guild, "manage_messages", channel=channel)
        msg = self.message(channel, call.params["message_id"])
        msg.pinned = False
        self.s.events.message_update(msg)
        return None

    # interactions --------------------------------------------------------------------------
    def pending(self, call: Call, id_key: str) -> PendingInteraction:
        try:
            pending = self.s.interactions[int(call.params[id_key])]
        except (KeyError, ValueError):
            pending = None
        if pending is None or pending.token != call.params["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        return pending

    def pending_by_token(self, call: Call) -> PendingInteraction:
        if call.params["application_id"] != str(self.s.application_id):
            raise DiscordError(404, 10015, "Unknown Webhook")
        for pending in self.s.interactions.values():
            if pending.token == call.params["token"]:
                return pending
        raise DiscordError(404, 10015, "Unknown Webhook")

    @route("POST", "/interactions/{interaction_id}/{token}/callback", auth=False)
    async def callback(self, call: Call) -> Any:
        p = self.pending(call, "interaction_id")
        body = call.json or {}
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        if p.response_type is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        deadline = self.s.interaction_ack_deadline
        if deadline is not None and asyncio.get_running_loop().time() - p.created > deadline:
            raise DiscordError(404, 10062, "Unknown interaction")
        allowed = {
            APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
            MESSAGE_COMPONENT: {
                CHANNEL_MESSAGE,
                DEFERRED_CHANNEL_MESSAGE,
                DEFERRED_UPDATE,
                UPDATE_MESSAGE,
                MODAL,
            },
            MODAL_SUBMIT: {
                CHANNEL_MESSAGE,
                DEFERRED_CHANNEL_MESSAGE,
                DEFERRED_UPDATE,
                UPDATE_MESSAGE,
            },
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
        }[p.type]
        if kind not in allowed or (kind in (UPDATE_MESSAGE, DEFERRED_UPDATE) and p.message is None):
            raise DiscordError(400, 40004, f"Interaction callback type {kind} is not valid here")
        message: FakeMessage | None = None
        if kind == CHANNEL_MESSAGE:
            validate_message(data, call.files, creating=True)
            message = self._response_message(p, data, call.files, loading=False)
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            message = self._response_message(p, data, [], loading=True)
            p.loading = True
        elif kind == UPDATE_MESSAGE:
            validate_message(data, call.files, creating=False)
            assert p.message is not None
            self.apply_edit(p.message, data, call.files)
            message = p.message
        elif kind == MODAL:
            validate_modal(data)
            p.modal = Modal(data["custom_id"], data["title"], data.get("components") or [], p)
        elif kind == AUTOCOMPLETE_RESULT:
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise form_error(
                    "data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            p.choices = choices
        p.on_callback(kind, body)
        result: dict[str, Any] = {
            "interaction": {
                "id": str(p.id),
                "type": p.type,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message and message.ephemeral),
                "activity_instance_id": None,
            },
            "resource": {"type": kind},
        }
        if message is not None:
            result["resource"]["message"] = payloads.message(message)
        return result

    def _response_message(
        self, p: PendingInteraction, data: dict[str, Any], files: list[File], *, loading: bool
    ) -> FakeMessage:
        flags = LOADING if loading else 0
        msg = self.new_bot_message(p.channel, data, files, flags=flags, webhook=True)
        msg.type = (
            20
            if p.type == APPLICATION_COMMAND and p.command_type == 1
            else (23 if p.type == APPLICATION_COMMAND else 19 if p.message is not None else 0)
        )
        if msg.type == 19 and p.message is not None:
            msg.reference_id = p.message.id
        msg.interaction = self._metadata(p)
        p.original = msg
        self.s.add_message(msg)
        return msg

    def _metadata(self, p: PendingInteraction) -> dict[str, Any]:
        user = p.member.user if p.member is not None else self.s.bot_user
        meta: dict[str, Any] = {
            "id": str(p.id),
            "type": p.type,
            "user": payloads.user(user),
            "authorizing_integration_owners": {"0": str(p.guild.id)} if p.guild else {},
        }
        if p.message is not None:
            meta["interacted_message_id"] = str(p.message.id)
        return meta

    @route("POST", "/webhooks/{application_id}/{token}", auth=False)
    async def followup(self, call: Call) -> Any:
        p = self.pending_by_token(call)
        if p.response_type is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        body = call.json or {}
        validate_message(body, call.files, creating=True)
        if p.loading and p.original is not None:
            # Discord: the first followup after a "thinking" defer fills that message.
            msg = p.original
            body = {**body, "flags": int(body.get("flags") or 0) & ~LOADING}
            msg.flags &= ~LOADING
            self.apply_edit(msg, body, call.files)
            p.on_filled()
            return payloads.message(msg)
        ephemeral = int(body.get("flags") or 0) & EPHEMERAL
        msg = self.new_bot_message(p.channel, body, call.files, flags=ephemeral, webhook=True)
        msg.interaction = self._metadata(p)
        self.s.add_message(msg)
        p.on_followup(msg)
        return payloads.message(msg)

    def _webhook_message(self, p: PendingInteraction, message_id: str) -> FakeMessage:
        if message_id == "@original":
            msg = p.original
            if msg is None and p.response_type in (UPDATE_MESSAGE, DEFERRED_UPDATE):
                msg = p.message
            if msg is None:
                raise DiscordError(404, 10008, "Unknown Message")
            return msg
        try:
            msg = self.s.messages[int(message_id)]
        except (KeyError, ValueError):
            raise DiscordError(404, 10008, "Unknown Message") from None
        if msg.webhook_id != self.s.application_id and msg is not p.message:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    @route("GET", "/webhooks/{application_id}/{token}/messages/{message_id}", auth=False)
    async def get_webhook_message(self, call: Call) -> Any:
        p = self.pending_by_token(call)
        return payloads.message(self._webhook_message(p, call.params["message_id"]))

    @route("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}", auth=False)
    async def edit_webhook_message(self, call: Call) -> Any:
        p = self.pending_by_token(call)
        msg = self._webhook_message(p, call.params["message_id"])
        body = call.json or {}
        validate_message(body, call.files, creating=False)
        was_loading = bool(msg.flags & LOADING)
        msg.flags &= ~LOADING
        self.apply_edit(msg, body, call.files)
        if was_loading and msg is p.original:
            p.on_filled()
        return payloads.message(msg)

    @route("DELETE", "/webhooks/{application_id}/{token}/messages/{message_id}", auth=False)
    async def delete_webhook_message(self, call: Call) -> Any:
        p = self.pending_by_token(call)
        msg = self._webhook_message(p, call.params["message_id"])
        self.s.delete_message(msg)
        p._changed()
        if msg is p.original and p.loading:
            p.on_filled()
        return None


def _role_color(body: dict[str, Any]) -> int:
    """discord.py 2.7 sends {"colors": {"primary_color": ...}}; older clients send "color"."""
    colors = body.get("colors") or {}
    return int(colors.get("primary_color") or body.get("color") or 0)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _emoji(raw: str) -> str:
    from urllib.parse import unquote

    return unquote(raw)


def _text_channel_name(name: str) -> str:
    """Discord lower-cases text channel names and turns spaces into dashes."""
    return re.sub(r"\s+", "-", name.strip().lower())


# validation --------------------------------------------------------------------------------
def validate_message(body: dict[str, Any], files: list[File], *, creating: bool) -> None:
    content = body.get("content")
    if content is not None and len(str(content)) > 2000:
        raise form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        total += _validate_embed(embed, f"embeds.{i}")
    if total > 6000:
        raise form_error(
            "embeds", "MESSAGE_EMBEDS_TOO_LONG", "Embed size exceeds maximum size of 6000"
        )
    _validate_components(body.get("components") or [], int(body.get("flags") or 0))
    if creating and not (
        content
        or embeds
        or files
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
    ):
        raise DiscordError(400, 50006, "Cannot send an empty message")


EMBED_LIMITS = {"title": 256, "description": 4096}


def _validate_embed(embed: dict[str, Any], path: str) -> int:
    size = 0
    for key, limit in EMBED_LIMITS.items():
        value = embed.get(key)
        if value is not None:
            if len(str(value)) > limit:
                raise form_error(
                    f"{path}.{key}", "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                )
            size += len(str(value))
    fields = embed.get("fields") or []
    if len(fields) > 25:
        raise form_error(f"{path}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for j, fld in enumerate(fields):
        name, value = str(fld.get("name") or ""), str(fld.get("value") or "")
        if not name or len(name) > 256:
            raise form_error(
                f"{path}.fields.{j}.name",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 256 in length.",
            )
        if not value or len(value) > 1024:
            raise form_error(
                f"{path}.fields.{j}.value",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 1024 in length.",
            )
        size += len(name) + len(value)
    footer = (embed.get("footer") or {}).get("text") or ""
    if len(footer) > 2048:
        raise form_error(
            f"{path}.footer.text", "BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length."
        )
    author = (embed.get("author") or {}).get("name") or ""
    if len(author) > 256:
        raise form_error(
            f"{path}.author.name", "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length."
        )
    color = embed.get("color")
    if color is not None and not 0 <= int(color) <= 0xFFFFFF:
        raise form_error(f"{path}.color", "NUMBER_TYPE_MAX", "Color out of range.")
    return size + len(footer) + len(author)


def _validate_components(components: list[dict[str, Any]], flags: int) -> None:
    if flags & IS_COMPONENTS_V2:
        _check_custom_ids(components)
        return
    if len(components) > 5:
        raise form_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(components):
        if row.get("type") != 1:
            raise form_error(
                f"components.{i}.type",
                "UNION_TYPE_CHOICES",
                "Top-level components must be action rows.",
            )
        children = row.get("components") or []
        selects = [c for c in children if c.get("type") in (3, 5, 6, 7, 8)]
        if not children or len(children) > 5 or (selects and len(children) > 1):
            raise form_error(
                f"components.{i}.components",
                "BASE_TYPE_BAD_LENGTH",
                "An action row holds 1 to 5 buttons or one select menu.",
            )
        for j, child in enumerate(children):
            _validate_component(child, f"components.{i}.components.{j}")
    _check_custom_ids(components)


def _validate_component(c: dict[str, Any], path: str) -> None:
    kind = c.get("type")
    if kind == 2:
        if len(str(c.get("label") or "")) > 80:
            raise form_error(
                f"{path}.label", "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length."
            )
        if c.get("style") == 5:
            if not c.get("url"):
                raise form_error(f"{path}.url", "BASE_TYPE_REQUIRED", "This field is required")
        elif c.get("style") != 6 and not c.get("custom_id"):
            raise form_error(f"{path}.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
        if not c.get("label") and not c.get("emoji") and c.get("style") != 6:
            raise form_error(
                f"{path}.label", "BASE_TYPE_REQUIRED", "A button needs a label or an emoji."
            )
    if kind == 3:
        options = c.get("options") or []
        if not 1 <= len(options) <= 25:
            raise form_error(
                f"{path}.options", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."
            )
    if c.get("custom_id") is not None and not 1 <= len(str(c["custom_id"])) <= 100:
        raise form_error(
            f"{path}.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )


def _check_custom_ids(components: list[dict[str, Any]]) -> None:
    from pegasus.localdiscord.state import walk_components

    seen: set[str] = set()
    for component in walk_components(components):
        cid = component.get("custom_id")
        if cid is None:
            continue
        if cid in seen:
            raise form_error(
                "components",
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                f"Component custom id cannot be duplicated: {cid}",
            )
        seen.add(cid)


def validate_modal(data: dict[str, Any]) -> None:
    title = str(data.get("title") or "")
    if not 1 <= len(title) <= 45:
        raise form_error(
            "data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length."
        )
    if not data.get("custom_id") or len(str(data["custom_id"])) > 100:
        raise form_error(
            "data.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        raise form_error(
            "data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    _check_custom_ids(components)


# The locales Discord accepts as keys of `name_localizations` and `description_localizations`.
DISCORD_LOCALES = frozenset(
    {
        *("id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu"),
        *("nl", "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru"),
        *("uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko"),
    }
)


def validate_commands(commands: list[dict[str, Any]]) -> None:
    seen: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        kind = int(command.get("type", 1))
        name = str(command.get("name") or "")
        key = (kind, name)
        if key in seen:
            raise form_error(
                f"{i}.name",
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique: {name}",
            )
        seen.add(key)
        _validate_localizations(command, f"{i}", chat=kind == 1)
        if kind == 1:
            _validate_chat_name(name, f"{i}.name")
            _validate_description(command.get("description"), f"{i}.description")
            _validate_options(command.get("options") or [], f"{i}.options", depth=0)
        elif not 1 <= len(name) <= 32:
            raise form_error(
                f"{i}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
            )
        perms = command.get("default_member_permissions")
        if perms is not None and int(perms) & ~sum(set(FLAGS.values())):
            raise form_error(
                f"{i}.default_member_permissions", "PERMISSIONS_INVALID", "Unknown permission bits."
            )
    for kind in {int(c.get("type", 1)) for c in commands}:
        _validate_unique_localized([c for c in commands if int(c.get("type", 1)) == kind], "")


def _validate_localizations(item: dict[str, Any], path: str, *, chat: bool) -> None:
    """Translated names obey the rules of names, translated descriptions those of descriptions."""
    for field_name in ("name_localizations", "description_localizations"):
        for locale, text in (item.get(field_name) or {}).items():
            where = f"{path}.{field_name}.{locale}"
            if locale not in DISCORD_LOCALES:
                raise form_error(where, "LOCALE_INVALID", f"Invalid locale: {locale!r}")
            if field_name == "description_localizations":
                _validate_description(text, where)
            elif chat:
                _validate_chat_name(str(text), where)
            elif not 1 <= len(str(text)) <= 32:
                raise form_error(
                    where, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
                )


def _validate_unique_localized(items: list[dict[str, Any]], path: str) -> None:
    """Two commands or options of one level may not share a name in any language."""
    for locale in {loc for item in items for loc in item.get("name_localizations") or {}}:
        shown: dict[str, int] = {}
        for j, item in enumerate(items):
            name = (item.get("name_localizations") or {}).get(locale) or item.get("name")
            if name in shown:
                raise form_error(
                    f"{path}.{j}.name_localizations.{locale}",
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Names must be unique in each language: {name!r} ({locale})",
                )
            shown[str(name)] = j


def _validate_chat_name(name: str, path: str) -> None:
    if not COMMAND_NAME.match(name) or name != name.lower():
        raise form_error(
            path,
            "APPLICATION_COMMAND_INVALID_NAME",
            f"Command name is invalid: {name!r} (1-32 lower-case letters, digits, - or _)",
        )


def _validate_description(description: Any, path: str) -> None:
    if not 1 <= len(str(description or "")) <= 100:
        raise form_error(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")


def _validate_options(options: list[dict[str, Any]], path: str, *, depth: int) -> None:
    if len(options) > 25:
        raise form_error(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    _validate_unique_localized(options, path)
    names: set[str] = set()
    optional_seen = False
    for j, option in enumerate(options):
        where = f"{path}.{j}"
        name = str(option.get("name") or "")
        _validate_chat_name(name, f"{where}.name")
        if name in names:
            raise form_error(
                f"{where}.name",
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                f"Option names must be unique: {name}",
            )
        names.add(name)
        _validate_description(option.get("description"), f"{where}.description")
        _validate_localizations(option, where, chat=True)
        kind = int(option.get("type", 3))
        if kind in (1, 2):
            if depth >= (1 if kind == 2 else 2):
                raise form_error(
                    f"{where}.type",
                    "APPLICATION_COMMAND_OPTION_INVALID_NESTING",
                    "Subcommands nest at most two levels.",
                )
            _validate_options(option.get("options") or [], f"{where}.options", depth=depth + 1)
            continue
        if option.get("required"):
            if optional_seen:
                raise form_error(
                    f"{where}.required",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        choices = option.get("choices") or []
        if len(choices) > 25:
            raise form_error(
                f"{where}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        if choices and option.get("autocomplete"):
            raise form_error(
                f"{where}.autocomplete",
                "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                "Autocomplete cannot be set with choices.",
            )
        for k, choice in enumerate(choices):
            for locale, text in (choice.get("name_localizations") or {}).items():
                if locale not in DISCORD_LOCALES or not 1 <= len(str(text)) <= 100:
                    raise form_error(
                        f"{where}.choices.{k}.name_localizations.{locale}",
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be a known locale and between 1 and 100 in length.",
                    )
