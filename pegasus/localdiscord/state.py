"""Server-side state of the local Discord: users, guilds, roles, channels, members, messages.

Objects here are the truth a test asserts on ("alice has the VIP role", "#ticket-0001 exists").
They change when the bot calls the REST API and when a test acts (`guild.add_member`,
`member.say`, ...); every change a client would see is dispatched over the gateway.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pegasus.localdiscord.permissions import (
    FLAGS,
    Overwrite,
    Permissions,
    as_bits,
    base_permissions,
    channel_permissions,
)

if TYPE_CHECKING:
    from pegasus.localdiscord.interactions import Reply
    from pegasus.localdiscord.server import LocalDiscord

DISCORD_EPOCH_MS = 1420070400000

TEXT, DM, VOICE, CATEGORY = 0, 1, 2, 4
CHANNEL_TYPE_NAMES = {TEXT: "text", DM: "dm", VOICE: "voice", CATEGORY: "category"}

_counter = itertools.count(1)


class _Unset:
    """Marks an argument that was not given (None means "clear it")."""


UNSET = _Unset()
PREMIUM_TIER_BOOSTS = (2, 7, 14)  # boosts needed for tiers 1, 2 and 3
BOOSTER_ROLE_NAME = "Server Booster"
BOOSTER_ROLE_COLOR = 0xF47FFF
SUPPRESS_JOIN_NOTIFICATIONS = 1 << 0
SUPPRESS_PREMIUM_SUBSCRIPTIONS = 1 << 1
MESSAGE_TYPE_BOOST = 8  # USER_PREMIUM_GUILD_SUBSCRIPTION
AFK_TIMEOUTS = (60, 300, 900, 1800, 3600)


def now() -> datetime:
    return datetime.now(UTC)


def snowflake(at: datetime | None = None) -> int:
    """A snowflake whose timestamp is `at` (default now), unique in this process."""
    moment = at or now()
    ms = int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS
    return (max(ms, 0) << 22) | (next(_counter) & 0x3FFFFF)


def snowflake_time(value: int) -> datetime:
    return datetime.fromtimestamp(((value >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


@dataclass(eq=False)
class File:
    """A file a person uploads (message attachment or ATTACHMENT option)."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None


@dataclass(eq=False)
class Attachment:
    """A stored upload; `url` is served by the local Discord."""

    id: int
    filename: str
    data: bytes
    content_type: str | None
    url: str
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"<Attachment {self.filename} {self.content_type} {self.size} bytes>"


@dataclass(eq=False)
class FakeUser:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None
    avatar: str | None = None
    #: False makes the bot's DMs to this user fail with 50007, as Discord does.
    dms_open: bool = True
    #: The language of the user's Discord app: sent as every interaction's `locale`, and the
    #: language their app shows command names in (`name_localizations`).
    locale: str = "en-US"

    @property
    def created_at(self) -> datetime:
        return snowflake_time(self.id)

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    @property
    def display_name(self) -> str:
        return self.global_name or self.name

    def __repr__(self) -> str:
        return f"<FakeUser {self.name} {self.id}>"


@dataclass(eq=False)
class FakeRole:
    guild: FakeGuild
    id: int
    name: str
    permissions: Permissions = field(default_factory=Permissions.none)
    position: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False
    #: the bot whose integration role this is (Discord's `tags.bot_id`)
    bot_id: int | None = None
    deleted: bool = False
    #: the guild's booster role, which Discord manages (`tags.premium_subscriber`)
    premium_subscriber: bool = False

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    @property
    def is_default(self) -> bool:
        return self.id == self.guild.id

    @property
    def members(self) -> list[FakeMember]:
        return [m for m in self.guild.members if self.id in m.role_ids]

    def __repr__(self) -> str:
        return f"<FakeRole {self.name} pos={self.position} {self.permissions!r}>"


@dataclass(eq=False)
class FakeChannel:
    guild: FakeGuild | None
    id: int
    type: int
    name: str
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    bitrate: int = 64000
    user_limit: int = 0
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    recipient: FakeUser | None = None  # DM channels
    deleted: bool = False
    all_messages: list[FakeMessage] = field(default_factory=list)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def type_name(self) -> str:
        return CHANNEL_TYPE_NAMES.get(self.type, str(self.type))

    @property
    def category(self) -> FakeChannel | None:
        if self.guild is None or self.parent_id is None:
            return None
        return self.guild.channels_by_id.get(self.parent_id)

    @property
    def messages(self) -> list[FakeMessage]:
        """Visible messages, oldest first (deleted and ephemeral ones left out)."""
        return [m for m in self.all_messages if not m.deleted and not m.ephemeral]

    @property
    def last_message(self) -> FakeMessage | None:
        visible = self.messages
        return visible[-1] if visible else None

    @property
    def bot_messages(self) -> list[FakeMessage]:
        return [m for m in self.messages if m.author.bot]

    def permissions_for(self, member: FakeMember | FakeUser) -> Permissions:
        if self.guild is None:
            return Permissions.of(
                "view_channel",
                "send_messages",
                "read_message_history",
                "embed_links",
                "attach_files",
                "add_reactions",
            )
        return channel_permissions(self, self.guild.member(member))

    def can_see(self, member: FakeMember | FakeUser) -> bool:
        return self.permissions_for(member).has("view_channel")

    def __repr__(self) -> str:
        return f"<FakeChannel #{self.name} {self.type_name} {self.id}>"


@dataclass(eq=False)
class FakeMessage:
    id: int
    channel: FakeChannel
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    reference_id: int | None = None
    #: the interaction this message answers (Discord's interaction_metadata), or None
    interaction: dict[str, Any] | None = None
    webhook_id: int | None = None
    pinned: bool = False
    tts: bool = False
    edited_at: datetime | None = None
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)
    reactions: dict[str, set[int]] = field(default_factory=dict)
    allowed_mentions: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None

    @property
    def created_at(self) -> datetime:
        return snowflake_time(self.id)

    @property
    def guild(self) -> FakeGuild | None:
        return self.channel.guild

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)

    @property
    def embed(self) -> dict[str, Any] | None:
        return self.embeds[0] if self.embeds else None

    @property
    def text(self) -> str:
        return message_text(self.content, self.embeds)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in walk_components(self.components) if c.get("type") == 2]

    @property
    def selects(self) -> list[dict[str, Any]]:
        return [c for c in walk_components(self.components) if c.get("type") in (3, 5, 6, 7, 8)]

    def __repr__(self) -> str:
        where = f"#{self.channel.name}" if self.channel.guild else "DM"
        return f"<FakeMessage {self.id} in {where} by {self.author.name}: {self.text[:60]!r}>"


def walk_components(components: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Every component, depth first (rows, containers, sections, labels)."""
    for component in components:
        yield component
        children = component.get("components")
        if isinstance(children, list):
            yield from walk_components(children)
        for key in ("component", "accessory"):
            child = component.get(key)
            if isinstance(child, dict):
                yield from walk_components([child])


def message_text(content: str | None, embeds: Sequence[Mapping[str, Any]]) -> str:
    """Content plus what embeds show, for `"x" in reply.text` checks."""
    parts = [content or ""]
    for embed in embeds:
        for key in ("title", "description"):
            if embed.get(key):
                parts.append(str(embed[key]))
        for sub in ("author", "footer"):
            value = embed.get(sub) or {}
            if value.get("name") or value.get("text"):
                parts.append(str(value.get("name") or value.get("text")))
        for fld in embed.get("fields") or []:
            parts.append(f"{fld.get('name', '')}: {fld.get('value', '')}")
    return "\n".join(p for p in parts if p)


@dataclass
class VoiceState:
    channel_id: int
    session_id: str
    self_mute: bool = False
    self_deaf: bool = False
    mute: bool = False
    deaf: bool = False
    self_video: bool = False
    self_stream: bool = False
    suppress: bool = False


@dataclass
class Ban:
    user: FakeUser
    reason: str | None = None


class FakeMember:
    """A member of a guild. Its actions (say, slash, click, ...) act as that person."""

    def __init__(
        self,
        guild: FakeGuild,
        user: FakeUser,
        *,
        roles: Iterable[int] = (),
        joined_at: datetime | None = None,
        nick: str | None = None,
    ) -> None:
        self.guild = guild
        self.user = user
        self.role_ids: list[int] = list(roles)
        self.joined_at: datetime = joined_at or now()
        self.nick: str | None = nick
        self.timed_out_until: datetime | None = None
        self.voice: VoiceState | None = None
        self.in_guild: bool = True
        self.pending: bool = False
        self.flags: int = 0
        #: when the member started boosting the guild (None: not a booster)
        self.premium_since: datetime | None = None

    # identity ------------------------------------------------------------------------------
    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def display_name(self) -> str:
        return self.nick or self.user.display_name

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    @property
    def bot(self) -> bool:
        return self.user.bot

    def __repr__(self) -> str:
        return f"<FakeMember {self.name} {self.id} roles={sorted(self.role_names)}>"

    # state ---------------------------------------------------------------------------------
    @property
    def roles(self) -> list[FakeRole]:
        roles = [self.guild.roles_by_id[r] for r in self.role_ids if r in self.guild.roles_by_id]
        return sorted(roles, key=lambda r: r.position)

    @property
    def role_names(self) -> set[str]:
        return {r.name for r in self.roles}

    def has_role(self, role: FakeRole | str | int) -> bool:
        if isinstance(role, str):
            return role in self.role_names
        role_id = role if isinstance(role, int) else role.id
        return role_id in self.role_ids

    @property
    def top_role(self) -> FakeRole:
        roles = self.roles
        return roles[-1] if roles else self.guild.default_role

    @property
    def is_timed_out(self) -> bool:
        return self.timed_out_until is not None and self.timed_out_until > now()

    @property
    def is_booster(self) -> bool:
        return self.premium_since is not None

    @property
    def voice_channel(self) -> FakeChannel | None:
        if self.voice is None:
            return None
        return self.guild.channels_by_id.get(self.voice.channel_id)

    @property
    def permissions(self) -> Permissions:
        return base_permissions(self.guild, self)

    @property
    def dms(self) -> list[FakeMessage]:
        """DMs the bot sent to this member."""
        return self.guild.server.dms(self)

    # actions (implemented in pegasus.localdiscord.actions) -----------------------------------
    @property
    def _actions(self) -> Any:
        return self.guild.server.actions

    async def say(
        self,
        channel: FakeChannel | str,
        content: str = "",
        *,
        files: Sequence[File] | Mapping[str, bytes] | None = None,
        embeds: Sequence[dict[str, Any]] | None = None,
        reply_to: FakeMessage | None = None,
    ) -> FakeMessage:
        return await self._actions.say(
            self, channel, content, files=files, embeds=embeds, reply_to=reply_to
        )

    async def edit(self, message: FakeMessage, content: str) -> FakeMessage:
        return await self._actions.edit(self, message, content)

    async def delete(self, message: FakeMessage) -> None:
        await self._actions.delete(self, message)

    async def react(self, message: FakeMessage, emoji: str) -> None:
        await self._actions.react(self, message, emoji, add=True)

    async def unreact(self, message: FakeMessage, emoji: str) -> None:
        await self._actions.react(self, message, emoji, add=False)

    async def slash(
        self,
        command: str,
        /,
        options: Mapping[str, Any] | None = None,
        *,
        in_channel: FakeChannel | str | None = None,
        timeout: float = 5.0,
        **kwoptions: Any,
    ) -> Reply:
        merged = {**(options or {}), **kwoptions}
        return await self._actions.slash(
            self, command, merged, in_channel=in_channel, timeout=timeout
        )

    async def user_command(
        self,
        name: str,
        target: FakeMember | FakeUser,
        *,
        in_channel: FakeChannel | str | None = None,
        timeout: float = 5.0,
    ) -> Reply:
        return await self._actions.context_command(
            self, name, 2, target, in_channel=in_channel, timeout=timeout
        )

    async def message_command(
        self, name: str, target: FakeMessage, *, timeout: float = 5.0
    ) -> Reply:
        return await self._actions.context_command(
            self, name, 3, target, in_channel=target.channel, timeout=timeout
        )

    async def autocomplete(
        self,
        command: str,
        focused: str,
        value: str,
        *,
        in_channel: FakeChannel | str | None = None,
        timeout: float = 5.0,
        **options: Any,
    ) -> list[dict[str, Any]]:
        return await self._actions.autocomplete(
            self, command, focused, value, options, in_channel=in_channel, timeout=timeout
        )

    async def click(
        self,
        message: FakeMessage | Reply,
        custom_id: str | None = None,
        *,
        label: str | None = None,
        timeout: float = 5.0,
    ) -> Reply:
        return await self._actions.click(self, message, custom_id, label=label, timeout=timeout)

    async def select(
        self,
        message: FakeMessage | Reply,
        custom_id: str | None = None,
        values: Sequence[Any] = (),
        *,
        placeholder: str | None = None,
        timeout: float = 5.0,
    ) -> Reply:
        return await self._actions.select(
            self, message, custom_id, values, placeholder=placeholder, timeout=timeout
        )

    async def submit_modal(
        self, reply_or_modal: Any, values: Mapping[str, str], *, timeout: float = 5.0
    ) -> Reply:
        return await self._actions.submit_modal(self, reply_or_modal, values, timeout=timeout)

    async def join_voice(
        self, channel: FakeChannel | str, *, self_mute: bool = False, self_deaf: bool = False
    ) -> None:
        await self._actions.join_voice(self, channel, self_mute=self_mute, self_deaf=self_deaf)

    async def leave_voice(self) -> None:
        await self._actions.leave_voice(self)

    async def set_voice(
        self,
        *,
        self_mute: bool | None = None,
        self_deaf: bool | None = None,
        mute: bool | None = None,
        deaf: bool | None = None,
    ) -> None:
        await self._actions.set_voice(
            self, self_mute=self_mute, self_deaf=self_deaf, mute=mute, deaf=deaf
        )

    async def leave(self) -> None:
        await self.guild.remove_member(self)

    # moderation from Discord's own menus: REST calls with this person's token, checked against
    # their permissions and written to the audit log (pegasus.localdiscord.auditlog)
    @property
    def _as_person(self) -> Any:
        from pegasus.localdiscord.auditlog import PersonClient

        return PersonClient(self.guild.server, self)

    async def ban(
        self,
        target: FakeMember | FakeUser,
        *,
        reason: str | None = None,
        delete_message_seconds: int = 0,
    ) -> None:
        await self._as_person.ban(
            self.guild, target, reason=reason, delete_message_seconds=delete_message_seconds
        )

    async def unban(self, target: FakeMember | FakeUser, *, reason: str | None = None) -> None:
        await self._as_person.unban(self.guild, target, reason=reason)

    async def kick(self, target: FakeMember, *, reason: str | None = None) -> None:
        await self._as_person.kick(self.guild, target, reason=reason)

    async def timeout(
        self, target: FakeMember, duration: timedelta | None, *, reason: str | None = None
    ) -> None:
        """Time `target` out for `duration` from now; None ends their timeout."""
        await self._as_person.timeout(self.guild, target, duration, reason=reason)


class FakeGuild:
    """A guild and everything in it."""

    def __init__(self, server: LocalDiscord, *, id: int, name: str, owner_id: int) -> None:
        self.server = server
        self.id = id
        self.name = name
        self.owner_id = owner_id
        self.roles_by_id: dict[int, FakeRole] = {}
        self.channels_by_id: dict[int, FakeChannel] = {}
        self.members_by_id: dict[int, FakeMember] = {}
        self.departed: dict[int, FakeMember] = {}
        self.bans: dict[int, Ban] = {}
        self.kicked: list[FakeUser] = []
        self.system_channel_id: int | None = None
        #: SUPPRESS_* bits: which system messages Discord does not post in the system channel
        self.system_channel_flags: int = 0
        self.afk_channel_id: int | None = None
        self.afk_timeout: int = 300
        self.description: str | None = None
        self.icon: str | None = None
        #: True once the bot left (DELETE /users/@me/guilds/{id}): no events, no commands
        self.bot_left: bool = False
        #: Server Settings → Integrations: per command id (the application id: every command),
        #: which roles and members (the guild id: @everyone) may or may not use it
        self.command_permissions: dict[int, dict[int, bool]] = {}
        #: invite codes to this guild → the channel each opens on (`create_invite`)
        self.invites: dict[str, int] = {}
        self.roles_by_id[id] = FakeRole(self, id, "@everyone", Permissions.none(), 0)

    def __repr__(self) -> str:
        return f"<FakeGuild {self.name} {self.id}>"

    # lookups ---------------------------------------------------------------------------------
    @property
    def owner(self) -> FakeMember:
        return self.members_by_id[self.owner_id]

    @property
    def default_role(self) -> FakeRole:
        return self.roles_by_id[self.id]

    @property
    def members(self) -> list[FakeMember]:
        return list(self.members_by_id.values())

    @property
    def roles(self) -> list[FakeRole]:
        return sorted(self.roles_by_id.values(), key=lambda r: (r.position, r.id))

    @property
    def channels(self) -> list[FakeChannel]:
        return sorted(self.channels_by_id.values(), key=lambda c: (c.position, c.id))

    @property
    def text_channels(self) -> list[FakeChannel]:
        return [c for c in self.channels if c.type == TEXT]

    @property
    def voice_channels(self) -> list[FakeChannel]:
        return [c for c in self.channels if c.type == VOICE]

    @property
    def categories(self) -> list[FakeChannel]:
        return [c for c in self.channels if c.type == CATEGORY]

    @property
    def default_channel(self) -> FakeChannel:
        return self.text_channels[0]

    def create_invite(
        self, channel: FakeChannel | str | None = None, *, code: str | None = None
    ) -> str:
        """An invite to this guild, as made in its Invite People menu; returns its code, which
        anyone can look up (GET /invites/{code}), in the guild or not."""
        target = self.resolve_channel(channel) if channel is not None else None
        if target is None:
            target = self.default_channel if self.text_channels else None
        code = code or f"inv{snowflake() % 10**8}"
        self.invites[code] = target.id if target is not None else 0
        return code

    @property
    def bot_member(self) -> FakeMember:
        """The bot's member (after the bot left: its departed member, as for people)."""
        bot_id = self.server.bot_user.id
        return self.members_by_id.get(bot_id) or self.departed[bot_id]

    @property
    def has_bot(self) -> bool:
        return not self.bot_left

    @property
    def afk_channel(self) -> FakeChannel | None:
        if self.afk_channel_id is None:
            return None
        return self.channels_by_id.get(self.afk_channel_id)

    @property
    def system_channel(self) -> FakeChannel | None:
        if self.system_channel_id is None:
            return None
        return self.channels_by_id.get(self.system_channel_id)

    @property
    def boosters(self) -> list[FakeMember]:
        return [m for m in self.members if m.premium_since is not None]

    @property
    def premium_subscription_count(self) -> int:
        """Boosts (one per boosting member here)."""
        return len(self.boosters)

    @property
    def premium_tier(self) -> int:
        count = self.premium_subscription_count
        return sum(count >= needed for needed in PREMIUM_TIER_BOOSTS)

    @property
    def premium_subscriber_role(self) -> FakeRole | None:
        """The "Server Booster" role Discord manages (made at the first boost)."""
        return next((r for r in self.roles_by_id.values() if r.premium_subscriber), None)

    def member(self, who: FakeMember | FakeUser | str | int) -> FakeMember:
        """The current member for a name, id, user or member (KeyError if not in the guild)."""
        if isinstance(who, FakeMember | FakeUser):
            who = who.id
        if isinstance(who, int):
            found = self.members_by_id.get(who)
        else:
            found = next((m for m in self.members_by_id.values() if who in (m.name, m.nick)), None)
        if found is None:
            names = ", ".join(sorted(m.name for m in self.members_by_id.values()))
            raise KeyError(f"{who!r} is not a member of {self.name} (members: {names})")
        return found

    def find_member(self, who: FakeMember | FakeUser | str | int) -> FakeMember | None:
        try:
            return self.member(who)
        except KeyError:
            return None

    def role(self, name: str | int) -> FakeRole:
        for role in self.roles_by_id.values():
            if name in (role.name, role.id):
                return role
        raise KeyError(
            f"no role {name!r} in {self.name} (roles: {', '.join(r.name for r in self.roles)})"
        )

    def find_role(self, name: str | int) -> FakeRole | None:
        try:
            return self.role(name)
        except KeyError:
            return None

    def channel(self, name: str | int) -> FakeChannel:
        if isinstance(name, str):
            name = name.lstrip("#")
        for channel in self.channels:
            if name in (channel.name, channel.id):
                return channel
        raise KeyError(
            f"no channel {name!r} in {self.name} "
            f"(channels: {', '.join(c.name for c in self.channels)})"
        )

    def find_channel(self, name: str | int) -> FakeChannel | None:
        try:
            return self.channel(name)
        except KeyError:
            return None

    def is_banned(self, who: FakeMember | FakeUser | int) -> bool:
        return (who if isinstance(who, int) else who.id) in self.bans

    def resolve_channel(self, channel: FakeChannel | str | int | None) -> FakeChannel:
        if channel is None:
            return self.default_channel
        if isinstance(channel, FakeChannel):
            return channel
        return self.channel(channel)

    def resolve_role(self, role: FakeRole | str | int) -> FakeRole:
        return role if isinstance(role, FakeRole) else self.role(role)

    # building (no events: used before the bot connects, and by the mutating methods) -------
    def new_role(
        self,
        name: str,
        *,
        permissions: int | Iterable[str] | None = None,
        position: int | None = None,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        managed: bool = False,
        bot_id: int | None = None,
    ) -> FakeRole:
        role = FakeRole(
            self,
            snowflake(),
            name,
            Permissions(as_bits(permissions)),
            0,
            color,
            hoist,
            mentionable,
            managed,
            bot_id,
        )
        top = max(r.position for r in self.roles_by_id.values())
        target = top + 1 if position is None else max(1, min(position, top + 1))
        for other in self.roles_by_id.values():
            if not other.is_default and other.position >= target:
                other.position += 1
        role.position = target
        self.roles_by_id[role.id] = role
        return role

    def new_channel(
        self,
        name: str,
        type: int = TEXT,
        *,
        category: FakeChannel | None = None,
        overwrites: Iterable[Overwrite] | None = None,
        topic: str | None = None,
        position: int | None = None,
        **extra: Any,
    ) -> FakeChannel:
        if position is None:
            same = [c.position for c in self.channels_by_id.values()]
            position = max(same, default=-1) + 1
        channel = FakeChannel(
            self,
            snowflake(),
            type,
            name,
            position,
            category.id if category else None,
            topic,
            **extra,
        )
        if overwrites is not None:
            channel.overwrites = {o.id: o for o in overwrites}
        elif category is not None:
            # Discord copies the category's overwrites when none are given.
            channel.overwrites = {
                k: Overwrite(v.id, v.type, v.allow, v.deny) for k, v in category.overwrites.items()
            }
        self.channels_by_id[channel.id] = channel
        self.server.channels[channel.id] = channel
        return channel

    def new_member(
        self,
        user: FakeUser,
        *,
        roles: Iterable[FakeRole | str] = (),
        joined_at: datetime | None = None,
        nick: str | None = None,
    ) -> FakeMember:
        role_ids = [self.resolve_role(r).id for r in roles]
        member = FakeMember(self, user, roles=role_ids, joined_at=joined_at, nick=nick)
        self.members_by_id[user.id] = member
        self.departed.pop(user.id, None)
        return member

    def overwrite_for(
        self,
        target: FakeMember | FakeRole | FakeUser,
        *,
        allow: int | Iterable[str] | None = None,
        deny: int | Iterable[str] | None = None,
    ) -> Overwrite:
        kind = 0 if isinstance(target, FakeRole) else 1
        return Overwrite(target.id, kind, as_bits(allow), as_bits(deny))

    # mutations that people (not the bot) make: each dispatches its gateway event -----------
    async def create_role(
        self,
        name: str,
        *,
        permissions: int | Iterable[str] | None = None,
        position: int = 1,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
    ) -> FakeRole:
        before = {other.id: other.position for other in self.roles_by_id.values()}
        role = self.new_role(
            name,
            permissions=permissions,
            position=position,
            color=color,
            hoist=hoist,
            mentionable=mentionable,
        )
        self.server.events.role_create(role)
        # As Discord does, every role the new one pushed up is announced with its new position.
        for other in self.roles_by_id.values():
            if other.id in before and other.position != before[other.id]:
                self.server.events.role_update(other)
        return role

    async def set_command_permissions(
        self,
        command: str | None,
        overrides: Mapping[FakeRole | FakeMember, bool],
        *,
        type: int = 1,
    ) -> None:
        """What an admin sets in Server Settings → Integrations for the bot's command `command`
        (of `type`: 1 slash, 2 user, 3 message), or with None for every command of the bot: who
        may use it (True) or not (False), whatever its default_member_permissions say. Keys are
        roles (`guild.default_role` for @everyone) and members; they replace earlier ones."""
        if command is None:
            scope = self.server.application_id
        else:
            spec, _ = self.server.find_command(command, self, type)
            if spec is None:
                raise KeyError(f"/{command} was not synced by the bot")
            scope = int(spec["id"])
        self.command_permissions[scope] = {who.id: allowed for who, allowed in overrides.items()}

    def command_permission(self, member: FakeMember, command_id: int) -> bool | None:
        """Discord's order: the command's overrides, then the bot's; in each, the member's own,
        then their roles' (one allowing role is enough), then @everyone's. None: no override
        applies, so default_member_permissions decide. (Administrators pass either way.)"""
        for scope in (command_id, self.server.application_id):
            overrides = self.command_permissions.get(scope)
            if not overrides:
                continue
            if member.id in overrides:
                return overrides[member.id]
            by_role = [overrides[r.id] for r in member.roles if r.id in overrides]
            if by_role:
                return any(by_role)
            if self.id in overrides:
                return overrides[self.id]
        return None

    async def set_role_permissions(
        self, role: FakeRole | str, permissions: int | Iterable[str]
    ) -> None:
        role = self.resolve_role(role)
        role.permissions = Permissions(as_bits(permissions))
        self.server.events.role_update(role)

    async def delete_role(self, role: FakeRole | str) -> None:
        role = self.resolve_role(role)
        self.server.rest_delete_role(self, role)

    async def create_text_channel(
        self,
        name: str,
        *,
        category: FakeChannel | str | None = None,
        overwrites: Iterable[Overwrite] | None = None,
        topic: str | None = None,
    ) -> FakeChannel:
        cat = self.resolve_channel(category) if category is not None else None
        channel = self.new_channel(name, TEXT, category=cat, overwrites=overwrites, topic=topic)
        self.server.events.channel_create(channel)
        return channel

    async def create_voice_channel(
        self,
        name: str,
        *,
        category: FakeChannel | str | None = None,
        overwrites: Iterable[Overwrite] | None = None,
    ) -> FakeChannel:
        cat = self.resolve_channel(category) if category is not None else None
        channel = self.new_channel(name, VOICE, category=cat, overwrites=overwrites)
        self.server.events.channel_create(channel)
        return channel

    async def create_category(
        self, name: str, *, overwrites: Iterable[Overwrite] | None = None
    ) -> FakeChannel:
        channel = self.new_channel(name, CATEGORY, overwrites=overwrites)
        self.server.events.channel_create(channel)
        return channel

    async def edit_channel(
        self,
        channel: FakeChannel | str,
        *,
        name: str | None = None,
        topic: str | None = None,
        slowmode: int | None = None,
    ) -> FakeChannel:
        """An admin changes a channel in Discord's settings (CHANNEL_UPDATE)."""
        channel = self.resolve_channel(channel)
        if name is not None:
            channel.name = name
        if topic is not None:
            channel.topic = topic
        if slowmode is not None:
            channel.rate_limit_per_user = slowmode
        self.server.events.channel_update(channel)
        return channel

    async def delete_channel(self, channel: FakeChannel | str) -> None:
        channel = self.resolve_channel(channel)
        self.server.remove_channel(channel)

    async def add_member(
        self,
        name: str,
        *,
        roles: Iterable[FakeRole | str] = (),
        bot: bool = False,
        joined_at: datetime | None = None,
        created_at: datetime | None = None,
        nick: str | None = None,
        user: FakeUser | None = None,
    ) -> FakeMember:
        """A person joins (GUILD_MEMBER_ADD). Re-joining is `add_member(..., user=old.user)`."""
        if user is None:
            user = self.server.find_user(name)
        if user is None:
            user = self.server.create_user(name, bot=bot, created_at=created_at)
        if user.id in self.bans:
            raise PermissionError(f"{user.name} is banned from {self.name} and cannot join")
        member = self.new_member(user, roles=roles, joined_at=joined_at, nick=nick)
        self.server.events.member_add(member)
        return member

    async def remove_member(self, member: FakeMember | str) -> None:
        """The member leaves (GUILD_MEMBER_REMOVE)."""
        self.server.remove_member(self, self.member(member))

    async def add_role(self, member: FakeMember | str, role: FakeRole | str) -> None:
        member, role = self.member(member), self.resolve_role(role)
        if role.id not in member.role_ids:
            member.role_ids.append(role.id)
        self.server.events.member_update(member)

    async def remove_role(self, member: FakeMember | str, role: FakeRole | str) -> None:
        member, role = self.member(member), self.resolve_role(role)
        if role.id in member.role_ids:
            member.role_ids.remove(role.id)
        self.server.events.member_update(member)

    async def set_nick(self, member: FakeMember | str, nick: str | None) -> None:
        member = self.member(member)
        member.nick = nick
        self.server.events.member_update(member)

    async def set_booster(self, member: FakeMember | str, boosting: bool = True) -> None:
        """A member starts (or stops) boosting the guild, as Discord reports it: the member gets
        `premium_since` and the managed booster role (made at the first boost: GUILD_ROLE_CREATE)
        in a GUILD_MEMBER_UPDATE, the guild's boost count and tier change (GUILD_UPDATE), and a
        new boost is announced in the system channel (a type 8 message by the member) unless
        `system_channel_flags` suppresses it."""
        member = self.member(member)
        if boosting == member.is_booster:
            return
        role = self.premium_subscriber_role
        if boosting:
            if role is None:
                role = self.new_role(
                    BOOSTER_ROLE_NAME, position=1, color=BOOSTER_ROLE_COLOR, managed=True
                )
                role.premium_subscriber = True
                self.server.events.role_create(role)
            member.premium_since = now()
            if role.id not in member.role_ids:
                member.role_ids.append(role.id)
        else:
            member.premium_since = None
            if role is not None and role.id in member.role_ids:
                member.role_ids.remove(role.id)
        self.server.events.member_update(member)
        self.server.events.guild_update(self)
        channel = self.system_channel
        if (
            boosting
            and channel is not None
            and not (self.system_channel_flags & SUPPRESS_PREMIUM_SUBSCRIPTIONS)
        ):
            self.server.add_message(
                FakeMessage(snowflake(), channel, member.user, "", type=MESSAGE_TYPE_BOOST)
            )

    async def edit(
        self,
        *,
        name: str | None = None,
        afk_channel: FakeChannel | str | _Unset | None = UNSET,
        afk_timeout: int | None = None,
        system_channel: FakeChannel | str | _Unset | None = UNSET,
        system_channel_flags: int | None = None,
    ) -> None:
        """An admin changes the guild's settings (GUILD_UPDATE). `None` clears a channel."""
        if name is not None:
            self.name = name
        if not isinstance(afk_channel, _Unset):
            target = None if afk_channel is None else self.resolve_channel(afk_channel)
            if target is not None and target.type != VOICE:
                raise ValueError(f"the AFK channel must be a voice channel, not {target!r}")
            self.afk_channel_id = target.id if target else None
        if afk_timeout is not None:
            if afk_timeout not in AFK_TIMEOUTS:
                raise ValueError(f"afk_timeout must be one of {AFK_TIMEOUTS}, not {afk_timeout}")
            self.afk_timeout = afk_timeout
        if not isinstance(system_channel, _Unset):
            target = None if system_channel is None else self.resolve_channel(system_channel)
            if target is not None and target.type != TEXT:
                raise ValueError(f"the system channel must be a text channel, not {target!r}")
            self.system_channel_id = target.id if target else None
        if system_channel_flags is not None:
            self.system_channel_flags = system_channel_flags
        self.server.events.guild_update(self)

    async def set_afk_channel(
        self, channel: FakeChannel | str | None, *, timeout: int | None = None
    ) -> None:
        """Set (or with None clear) the AFK voice channel (GUILD_UPDATE)."""
        await self.edit(afk_channel=channel, afk_timeout=timeout)

    async def add_bot(self) -> FakeMember:
        """The bot is added (again) to the guild: GUILD_CREATE, which discord.py reports as
        `on_guild_join`."""
        bot_user = self.server.bot_user
        if not self.bot_left and bot_user.id in self.members_by_id:
            return self.members_by_id[bot_user.id]
        old = self.departed.get(bot_user.id)
        member = self.new_member(bot_user)
        if old is not None:
            member.role_ids = [r for r in old.role_ids if r in self.roles_by_id]
        self.bot_left = False
        self.server.events.guild_create(self)
        return member


MENTION_USER = re.compile(r"<@!?(\d+)>")
MENTION_ROLE = re.compile(r"<@&(\d+)>")


def mentioned_ids(content: str) -> tuple[list[int], list[int]]:
    users = [int(x) for x in MENTION_USER.findall(content or "")]
    roles = [int(x) for x in MENTION_ROLE.findall(content or "")]
    return list(dict.fromkeys(users)), list(dict.fromkeys(roles))


def permission_names(bits: int) -> list[str]:
    return sorted(name for name, bit in FLAGS.items() if bits & bit)
