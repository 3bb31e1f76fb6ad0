"""Every JSON object the local Discord sends, built in one place.

Keys discord.py requires (it raises KeyError deep inside otherwise) are always present: a
member's `flags` and `roles`, a user's `discriminator` and `avatar`, a voice channel's `bitrate`
and `user_limit`, a text channel's `position`, an interaction's `attachment_size_limit`,
`version`, `token` and `application_id`.
"""

from __future__ import annotations

from typing import Any

from pegasus.localdiscord.state import (
    CATEGORY,
    DM,
    VOICE,
    Attachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    iso,
    mentioned_ids,
)

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def user(u: FakeUser) -> dict[str, Any]:
    return {
        "id": str(u.id),
        "username": u.name,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": u.avatar,
        "bot": u.bot,
        "public_flags": 0,
    }


def member(
    m: FakeMember, *, with_user: bool = True, permissions: int | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [str(r) for r in m.role_ids],
        "nick": m.nick,
        "avatar": None,
        "joined_at": iso(m.joined_at),
        "premium_since": iso(m.premium_since),
        "deaf": bool(m.voice and m.voice.deaf),
        "mute": bool(m.voice and m.voice.mute),
        "pending": m.pending,
        "flags": m.flags,
        "communication_disabled_until": iso(m.timed_out_until),
    }
    if with_user:
        data["user"] = user(m.user)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def role(r: FakeRole) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(r.id),
        "name": r.name,
        "color": r.color,
        "colors": {"primary_color": r.color, "secondary_color": None, "tertiary_color": None},
        "hoist": r.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": r.position,
        "permissions": str(int(r.permissions)),
        "managed": r.managed,
        "mentionable": r.mentionable,
        "flags": 0,
    }
    if r.bot_id is not None:
        data["tags"] = {"bot_id": str(r.bot_id)}
    elif r.premium_subscriber:
        # Discord's odd encoding: the key is present with null (discord.py tests `is None`).
        data["tags"] = {"premium_subscriber": None}
    return data


def channel(c: FakeChannel) -> dict[str, Any]:
    if c.type == DM:
        assert c.recipient is not None
        return {
            "id": str(c.id),
            "type": DM,
            "last_message_id": None,
            "recipients": [user(c.recipient)],
            "flags": 0,
        }
    assert c.guild is not None
    data: dict[str, Any] = {
        "id": str(c.id),
        "type": c.type,
        "guild_id": str(c.guild.id),
        "name": c.name,
        "position": c.position,
        "parent_id": str(c.parent_id) if c.parent_id else None,
        "permission_overwrites": [o.to_payload() for o in c.overwrites.values()],
        "nsfw": c.nsfw,
        "flags": 0,
    }
    if c.type == VOICE:
        data.update(
            bitrate=c.bitrate,
            user_limit=c.user_limit,
            rtc_region=None,
            rate_limit_per_user=c.rate_limit_per_user,
        )
    elif c.type != CATEGORY:
        last = c.all_messages[-1].id if c.all_messages else None
        data.update(
            topic=c.topic,
            rate_limit_per_user=c.rate_limit_per_user,
            last_message_id=str(last) if last else None,
        )
    return data


def voice_state(m: FakeMember, *, with_member: bool = True) -> dict[str, Any]:
    state = m.voice
    data: dict[str, Any] = {
        "guild_id": str(m.guild.id),
        "channel_id": str(state.channel_id) if state else None,
        "user_id": str(m.id),
        "session_id": state.session_id if state else "",
        "deaf": bool(state and state.deaf),
        "mute": bool(state and state.mute),
        "self_deaf": bool(state and state.self_deaf),
        "self_mute": bool(state and state.self_mute),
        "self_video": bool(state and state.self_video),
        "self_stream": bool(state and state.self_stream),
        "suppress": bool(state and state.suppress),
        "request_to_speak_timestamp": None,
    }
    if with_member:
        data["member"] = member(m)
    return data


def guild_create(g: FakeGuild, large_threshold: int = 250) -> dict[str, Any]:
    """Like Discord: a guild over the client's `large_threshold` comes with only the bot and
    the members in voice; the client asks for the rest with op 8 (member chunks)."""
    everyone = g.members
    large = len(everyone) > large_threshold
    bot_id = g.server.bot_user.id
    members = [m for m in everyone if m.id == bot_id or m.voice] if large else everyone
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": g.icon,
        "description": g.description,
        "owner_id": str(g.owner_id),
        "unavailable": False,
        "large": large,
        # Equal to len(members) unless large: discord.py then sees the guild as chunked.
        "member_count": len(everyone),
        "joined_at": iso(g.bot_member.joined_at),
        "roles": [role(r) for r in g.roles],
        "channels": [channel(c) for c in g.channels],
        "members": [member(m) for m in members],
        "voice_states": [voice_state(m, with_member=False) for m in everyone if m.voice],
        "presences": [],
        "threads": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": g.premium_tier,
        "premium_subscription_count": g.premium_subscription_count,
        "preferred_locale": "en-US",
        "system_channel_id": str(g.system_channel_id) if g.system_channel_id else None,
        "system_channel_flags": g.system_channel_flags,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "afk_channel_id": str(g.afk_channel_id) if g.afk_channel_id else None,
        "afk_timeout": g.afk_timeout,
        "vanity_url_code": None,
        "banner": None,
        "splash": None,
        "discovery_splash": None,
        "application_id": None,
        "max_members": 500000,
        "premium_progress_bar_enabled": False,
    }


# Only GUILD_CREATE carries these; a guild object (GET /guilds/{id}, GUILD_UPDATE) does not.
GUILD_CREATE_ONLY = (
    "members",
    "channels",
    "voice_states",
    "presences",
    "threads",
    "stage_instances",
    "guild_scheduled_events",
    "soundboard_sounds",
    "member_count",
    "large",
    "joined_at",
    "unavailable",
)


def guild(g: FakeGuild) -> dict[str, Any]:
    """A guild object as GET /guilds/{id} and GUILD_UPDATE send it: settings and roles (which
    discord.py rebuilds from it), without members, channels or voice states."""
    data = guild_create(g)
    for key in GUILD_CREATE_ONLY:
        data.pop(key, None)
    return data


def attachment(a: Attachment) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "filename": a.filename,
        "size": a.size,
        "url": a.url,
        "proxy_url": a.url,
        "content_type": a.content_type,
        "description": a.description,
        "ephemeral": False,
    }


def message(msg: FakeMessage, *, with_member: bool = True) -> dict[str, Any]:
    ch = msg.channel
    guild = ch.guild
    user_ids, role_ids = mentioned_ids(msg.content)
    mentions = []
    for uid in user_ids:
        server_user = _user_of(msg, uid)
        if server_user is None:
            continue
        entry = user(server_user)
        if guild is not None and uid in guild.members_by_id:
            entry["member"] = member(guild.members_by_id[uid], with_user=False)
        mentions.append(entry)
    data: dict[str, Any] = {
        "id": str(msg.id),
        "channel_id": str(ch.id),
        "type": msg.type,
        "content": msg.content,
        "author": user(msg.author),
        "timestamp": iso(msg.created_at),
        "edited_timestamp": iso(msg.edited_at),
        "tts": msg.tts,
        "mention_everyone": "@everyone" in (msg.content or ""),
        "mentions": mentions,
        "mention_roles": [str(r) for r in role_ids],
        "mention_channels": [],
        "attachments": [attachment(a) for a in msg.attachments],
        "embeds": msg.embeds,
        "components": msg.components,
        "reactions": [
            {
                "emoji": {"id": None, "name": emoji},
                "count": len(users),
                "count_details": {"burst": 0, "normal": len(users)},
                "me": msg.author.id in users,
                "me_burst": False,
                "burst_colors": [],
            }
            for emoji, users in msg.reactions.items()
            if users
        ],
        "pinned": msg.pinned,
        "flags": msg.flags,
    }
    if guild is not None:
        data["guild_id"] = str(guild.id)
        author_member = guild.members_by_id.get(msg.author.id)
        if with_member and author_member is not None and msg.webhook_id is None:
            data["member"] = member(author_member, with_user=False)
    if msg.webhook_id is not None:
        data["webhook_id"] = str(msg.webhook_id)
        data["application_id"] = str(msg.webhook_id)
    if msg.reference_id is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": str(msg.reference_id),
            "channel_id": str(ch.id),
            **({"guild_id": str(guild.id)} if guild else {}),
        }
    if msg.interaction is not None:
        data["interaction_metadata"] = msg.interaction
    if msg.poll is not None:
        data["poll"] = msg.poll
    return data


def _user_of(msg: FakeMessage, user_id: int) -> FakeUser | None:
    guild = msg.channel.guild
    if guild is not None:
        found = guild.members_by_id.get(user_id)
        if found is not None:
            return found.user
        return guild.server.users.get(user_id)
    return None


def error(code: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return body


def ready(
    *,
    bot: FakeUser,
    guilds: list[FakeGuild],
    session_id: str,
    resume_url: str,
    application_id: int,
    shard: list[int] | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "v": 10,
        "user": {**user(bot), "verified": True, "mfa_enabled": False, "flags": 0},
        "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "application": {"id": str(application_id), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "user_settings": {},
        "presences": [],
        "geo_ordered_rtc_regions": [],
        "guild_join_requests": [],
    }
    if shard is not None:
        data["shard"] = shard
    return data


def application_info(*, application_id: int, bot: FakeUser, owner: FakeUser) -> dict[str, Any]:
    return {
        "id": str(application_id),
        "name": bot.name,
        "icon": None,
        "description": "",
        "rpc_origins": [],
        "bot_public": True,
        "bot_require_code_grant": False,
        "bot": user(bot),
        "owner": user(owner),
        "team": None,
        "summary": "",
        "verify_key": "0" * 64,
        "flags": 0,
        "interactions_endpoint_url": None,
        "tags": [],
        "redirect_uris": [],
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
    }


def interaction(
    *,
    id: int,
    application_id: int,
    type: int,
    token: str,
    member: FakeMember,
    channel: FakeChannel,
    data: dict[str, Any] | None,
    source: FakeMessage | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload from `member` in a guild channel.

    `member.permissions` and `app_permissions` are computed from roles and channel overwrites,
    so the bot's own permission checks see what Discord would send.
    """
    guild = member.guild
    bot_member = guild.members_by_id[guild.server.bot_user.id]
    channel_data = channel_payload_with_permissions(channel, member)
    payload: dict[str, Any] = {
        "id": str(id),
        "application_id": str(application_id),
        "type": type,
        "token": token,
        "version": 1,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "channel_id": str(channel.id),
        "channel": channel_data,
        "member": member_payload_with_permissions(member, channel),
        "locale": locale,
        "guild_locale": "en-US",
        "app_permissions": str(int(channel.permissions_for(bot_member))),
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if data is not None:
        payload["data"] = data
    if source is not None:  # the message a component or modal belongs to
        payload["message"] = message(source)
    return payload


def member_payload_with_permissions(m: FakeMember, channel: FakeChannel) -> dict[str, Any]:
    return member(m, permissions=int(channel.permissions_for(m)))


def channel_payload_with_permissions(c: FakeChannel, m: FakeMember) -> dict[str, Any]:
    return {**channel(c), "permissions": str(int(c.permissions_for(m)))}
