"""The server log's categories through the local Discord: each category posts in its own channel,
a category turned off posts nothing, and the old single-channel settings keep working."""

from __future__ import annotations

import asyncio

import pytest

from models.guilds import GuildSettings
from models.security import AuditLog
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.permissions import Overwrite, Permissions
from pegasus.localdiscord.state import FakeMessage, snowflake
from pegasus.services import community
from tests.web.test_api_community import served_by

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.community", "cogs.moderation", "cogs.security", "cogs.logs")
)

CATEGORY_CHANNELS = {
    "messages": "message-log",
    "members": "member-log",
    "moderation": "mod-log",
    "automod": "automod-log",
    "voice": "voice-log",
    "server": "server-log",
}


def titles(env: DiscordEnv, channel: str) -> list[str]:
    return [(m.embed or {}).get("title", "") for m in env.channel(channel).bot_messages]


def posts(env: DiscordEnv, channel: str) -> list[str]:
    return [m.text for m in env.channel(channel).bot_messages]


async def give_every_category_a_channel(env: DiscordEnv) -> None:
    for name in CATEGORY_CHANNELS.values():
        await env.guild.create_text_channel(name)
    await env.settle()
    for category, name in CATEGORY_CHANNELS.items():
        channel = env.channel(name)
        reply = await env.owner.slash("logging channel", category=category, channel=channel)
        assert env.channel(name).mention in (reply.content or ""), reply.text
    await env.settle()


async def test_each_category_posts_in_its_own_channel(env: DiscordEnv) -> None:
    await give_every_category_a_channel(env)
    # The changes that set the log up are settings changes: the server log has them.
    assert "Settings changed" in titles(env, "server-log")
    before = {name: len(env.channel(name).bot_messages) for name in CATEGORY_CHANNELS.values()}

    # messages: an edit, a deletion, a bulk deletion (by /purge, which is also a case)
    said = await env.alice.say("general", "first words")
    await env.settle()
    await env.alice.edit(said, "second words")
    gone = await env.bob.say("general", "to be deleted")
    await env.settle()
    await env.bob.delete(gone)
    for i in range(3):
        await env.carol.say("general", f"spam {i}")
    await env.settle()
    prompt = await env.mod.slash("purge", count=3, member=env.carol)
    await env.mod.click(prompt, label="Delete")
    # members: a join, a nickname, a role, a leave
    ivan = await env.guild.add_member("ivan")
    await env.settle()
    await env.guild.set_nick(ivan, "Ivan the Quick")
    await env.settle()
    await env.guild.add_role(ivan, "Moderator")
    await env.settle()
    await env.guild.remove_member(ivan)
    # voice: a join, a move, a leave
    await env.alice.join_voice("Lounge")
    await env.settle()
    await env.alice.join_voice("Gaming")
    await env.settle()
    await env.alice.leave_voice()
    # server: a channel created and renamed, a role created and changed, a setting changed
    new_channel = await env.guild.create_text_channel("plans")
    await env.settle()
    await env.guild.edit_channel(new_channel, name="big-plans", slowmode=30)
    role = await env.guild.create_role("Helpers")
    await env.settle()
    await env.guild.set_role_permissions(role, ["manage_messages"])
    await env.settle()
    await env.guild.delete_role(role)
    await env.settle()
    await env.guild.delete_channel(new_channel)
    await env.settle()
    await env.owner.slash("welcome set", channel=env.channel("general"))
    # automod: anti-spam removes a message with too many mentions
    await env.owner.slash("security set", anti_spam=True, max_mentions=3)
    await env.settle()
    spam = await env.alice.say("general", " ".join(m.mention for m in env.guild.members[:4]))
    await env.settle()
    assert spam.deleted

    def new(name: str) -> list[str]:
        return titles(env, name)[before[name]:]

    messages = new("message-log")
    assert messages[:3] == ["Message edited", "Message deleted", "Messages deleted in bulk"]
    edited, deleted, bulk = env.channel("message-log").bot_messages[before["message-log"]:][:3]
    assert "first words" in edited.text and "second words" in edited.text
    assert "to be deleted" in deleted.text
    assert "3 messages" in bulk.text and "spam 2" in bulk.text
    assert new("member-log") == [
        "Member joined", "Nickname changed", "Roles changed", "Member left"
    ]
    assert "Ivan the Quick" in posts(env, "member-log")[before["member-log"] + 1]
    assert new("mod-log") == ["Case #1 · Purge"]
    assert new("voice-log") == ["Joined voice", "Moved in voice", "Left voice"]
    lounge, gaming = env.channel("Lounge").mention, env.channel("Gaming").mention
    assert f"{lounge} → {gaming}" in posts(env, "voice-log")[before["voice-log"] + 1]
    server = new("server-log")
    assert server[:6] == [
        "Channel created", "Channel changed", "Role created", "Role changed", "Role deleted",
        "Channel deleted",
    ]
    assert server.count("Settings changed") == 2  # the welcome channel, then anti-spam
    changed = posts(env, "server-log")[before["server-log"] + 1]
    assert "plans → big-plans" in changed and "0s → 30s" in changed
    assert "manage_messages" in posts(env, "server-log")[before["server-log"] + 3]
    welcome = next(
        text for text in posts(env, "server-log")[before["server-log"]:]
        if "welcome_channel_id" in text
    )
    assert f"not set → {env.channel('general').mention}" in welcome
    assert env.owner.mention in welcome
    assert new("automod-log") == ["Spam removed"]
    # Nothing of one category strays into another's channel, nor into the old one.
    assert env.channel("logs").bot_messages == []


async def test_a_category_turned_off_posts_nothing(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"))
    reply = await env.owner.slash("logging off", category="voice")
    assert "voice (joins, moves, leaves) log is off" in (reply.content or "")
    await env.owner.slash("logging off", category="server")
    await env.settle()
    start = len(env.channel("logs").bot_messages)

    await env.alice.join_voice("Lounge")
    await env.settle()
    await env.alice.leave_voice()
    await env.guild.create_text_channel("quiet")
    await env.owner.slash("welcome set", channel=env.channel("general"))
    await env.guild.add_member("ivan")
    await env.settle()

    assert titles(env, "logs")[start:] == ["Member joined"]
    stored = await GuildSettings.get(guild_id=env.guild.id)
    assert not {"voice_join", "voice_move", "voice_leave", "channel_change"} & set(
        stored.logging_events
    )
    shown = await env.owner.slash("logging show")
    assert "voice (joins, moves, leaves): Off" in shown.text
    assert "server (channels, roles, Pegasus settings): Off" in shown.text


async def test_turning_the_moderation_category_on_and_off_is_the_modlog(env: DiscordEnv) -> None:
    await env.guild.create_text_channel("mod-log")
    await env.settle()
    await env.owner.slash("logging channel", category="moderation", channel=env.channel("mod-log"))
    await env.mod.slash("warn", member=env.alice, title="Rude")
    await env.settle()
    assert titles(env, "mod-log") == ["Case #1 · Warn"]
    audit = await AuditLog.filter(action="modlog.set").count()
    assert audit == 1  # the same setting as /modlog, audited the same way

    await env.owner.slash("logging off", category="moderation")
    await env.mod.slash("warn", member=env.bob, title="Rude too")
    await env.settle()
    assert titles(env, "mod-log") == ["Case #1 · Warn"]
    shown = await env.owner.slash("logging show")
    assert "Off (no modlog channel)" in shown.text


async def test_old_single_channel_settings_post_every_enabled_category_there(
    env: DiscordEnv,
) -> None:
    # As stored before categories had channels: one channel, a list of events.
    await GuildSettings.filter(guild_id=env.guild.id).update(
        logging_enabled=True,
        logging_channel_id=env.channel("logs").id,
        logging_events=["message_delete", "member_join", "automod"],
    )
    env.bot.guild_configs.clear()
    said = await env.alice.say("general", "soon gone")
    await env.settle()
    await env.alice.delete(said)
    await env.guild.add_member("ivan")
    await env.alice.join_voice("Lounge")  # voice was never logged: it stays off
    await env.settle()
    assert titles(env, "logs") == ["Message deleted", "Member joined"]

    # Giving one category a channel of its own moves only that category.
    await env.guild.create_text_channel("member-log")
    await env.settle()
    await env.owner.slash("logging channel", category="members", channel=env.channel("member-log"))
    await env.guild.add_member("judy")
    await env.settle()
    assert titles(env, "member-log") == ["Member joined"]
    assert titles(env, "logs") == ["Message deleted", "Member joined"]


async def test_messages_sent_before_the_bot_started_read_well(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"))
    general = env.channel("general")
    # Sent while the bot was away: it never saw them, so it has no copy of their text.
    for text in ("from yesterday", "also old"):
        old = FakeMessage(snowflake(), general, env.carol.user, text)
        general.all_messages.append(old)
        env.server.messages[old.id] = old
    await env.carol.say("general", "fresh words")
    await env.settle()
    start = len(env.channel("logs").bot_messages)

    await env.carol.delete(general.messages[0])
    prompt = await env.mod.slash("purge", count=2, member=env.carol)
    await env.mod.click(prompt, label="Delete")
    await env.settle()

    deleted, bulk = env.channel("logs").bot_messages[start:][-2:]
    assert deleted.embed["title"] == "Message deleted"
    assert "sent before I started" in deleted.text and "from yesterday" not in deleted.text
    assert bulk.embed["title"] == "Messages deleted in bulk"
    assert "2 messages" in bulk.text and "fresh words" in bulk.text
    assert "1 sent before I started: their text is not known" in bulk.text
    assert "also old" not in bulk.text


async def test_a_settings_change_over_the_rest_api_is_logged_too(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"))
    await env.settle()
    start = len(env.channel("logs").bot_messages)
    url = f"/api/v1/guilds/{env.guild.id}/community/welcome"
    async with served_by(env) as session, session.put(
        url, json={"channel_id": env.channel("general").id, "message": "Hello {user}"}
    ) as response:
        assert response.status == 200, await response.text()
    await env.settle()
    [post] = env.channel("logs").bot_messages[start:]
    assert post.embed["title"] == "Settings changed"
    assert f"{env.owner.mention} changed the **community** settings over the REST API" in post.text
    assert "`Hello {user}`" in post.text


async def test_settings_changes_at_once_are_each_posted_once(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"))
    await env.settle()
    start = len(env.channel("logs").bot_messages)
    messages = [f"Welcome number {i}, {{user}}" for i in range(6)]
    await asyncio.gather(*(
        community.change_settings(
            env.guild.id, env.owner.id, "welcome.set", {"welcome_message": message},
            cache=env.bot.guild_configs,
        )
        for message in messages
    ))
    await env.settle()
    posted = [m.text for m in env.channel("logs").bot_messages[start:]]
    assert len(posted) == len(messages)
    for message in messages:
        assert sum(f"`{message}`" in text.split("→")[-1] for text in posted) == 1, message


@pytest.fixture
def env(discord_env: DiscordEnv) -> DiscordEnv:
    return discord_env


async def test_a_changed_overwrite_of_a_member_who_left_is_posted(env: DiscordEnv) -> None:
    """Overwrites of members who left stay on channels; removing one is posted like any
    other change, with the member's id as a mention."""
    await give_every_category_a_channel(env)
    left = snowflake()
    room = await env.guild.create_text_channel(
        "room", overwrites=[Overwrite(left, 1, int(Permissions.of("send_messages")), 0)]
    )
    await env.settle()
    before = len(env.channel("server-log").bot_messages)
    del room.overwrites[left]
    env.guild.server.events.channel_update(room)
    await env.settle()
    changed = env.channel("server-log").bot_messages[before:]
    assert [(m.embed or {}).get("title") for m in changed] == ["Channel changed"]
    assert f"<@{left}>: send_messages inherited" in changed[0].text, changed[0].text
