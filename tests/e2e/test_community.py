"""Welcome and goodbye messages, autoroles and the server log, end to end through the local
Discord: admins run the commands, people join, leave, talk, edit and delete, and the tests look at
what the bot posted, the roles people have, and the database."""

from __future__ import annotations

import pytest

from models.guilds import GuildSettings
from models.security import AuditLog
from pegasus.localdiscord import CommandUnavailable
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.community", "cogs.security"))


def last_bot_message(env: DiscordEnv, channel: str):  # type: ignore[no-untyped-def]
    messages = env.channel(channel).bot_messages
    assert messages, f"the bot posted nothing in #{channel}"
    return messages[-1]


def log_titles(env: DiscordEnv) -> list[str]:
    return [(m.embed or {}).get("title", "") for m in env.channel("logs").bot_messages]


# ------------------------------------------------------------------------------ welcome


async def test_a_newcomer_is_welcomed_in_the_channel_and_privately(env: DiscordEnv) -> None:
    reply = await env.owner.slash(
        "welcome set",
        channel=env.channel("general"),
        message="Hi {user}, welcome to {server}! You are member #{member_count}.",
        dm=True,
        dm_message="Please read the rules, {username}.",
    )
    assert reply.ephemeral
    assert "Welcome messages are on in" in (reply.content or ""), reply.text
    assert "Hi {user}" in reply.text  # the setup is shown back

    dave = await env.guild.add_member("dave")
    await env.settle()
    welcome = last_bot_message(env, "general")
    count = len(env.guild.members)
    assert welcome.content == (
        f"Hi {dave.mention}, welcome to Pegasus Test! You are member #{count:,}."
    )
    # Only the newcomer may be pinged by it.
    assert welcome.allowed_mentions is not None
    assert [int(u) for u in welcome.allowed_mentions.get("users", [])] == [dave.id]
    assert [m.content for m in dave.dms] == ["Please read the rules, dave."]

    audit = await AuditLog.get(action="welcome.set")
    assert audit.actor_id == env.owner.id  # type: ignore[attr-defined]
    assert audit.before is not None and audit.before["welcome_enabled"] is False
    assert (
        audit.after is not None and audit.after["welcome_channel_id"] == env.channel("general").id
    )


async def test_embed_welcome_and_the_test_command(env: DiscordEnv) -> None:
    await env.owner.slash(
        "welcome set",
        channel=env.channel("announcements"),
        message="Welcome {user}!",
        embed=True,
        color="#00FF00",
        title="Welcome to {server}",
        image="https://example.com/banner.png",
    )
    reply = await env.owner.slash("welcome test")
    assert reply.ephemeral
    assert "Posted a test welcome for you in" in (reply.content or ""), reply.text
    posted = last_bot_message(env, "announcements")
    assert posted.content == env.owner.mention  # the ping is outside the embed
    assert posted.embed is not None
    assert posted.embed["title"] == "Welcome to Pegasus Test"
    assert posted.embed["description"] == f"Welcome {env.owner.mention}!"
    assert posted.embed["color"] == 0x00FF00
    assert posted.embed["image"]["url"] == "https://example.com/banner.png"

    shown = await env.owner.slash("welcome show")
    assert shown.ephemeral and "#00FF00" in shown.text


async def test_disabled_welcomes_are_not_sent(env: DiscordEnv) -> None:
    await env.owner.slash("welcome set", channel=env.channel("general"))
    off = await env.owner.slash("welcome disable")
    assert "Welcome messages are off" in (off.content or "")
    again = await env.owner.slash("welcome disable")
    assert "already off" in (again.content or "")
    before = len(env.channel("general").bot_messages)
    await env.guild.add_member("erin")
    await env.settle()
    assert len(env.channel("general").bot_messages) == before
    assert not (await GuildSettings.get(guild_id=env.guild.id)).welcome_enabled


async def test_bad_input_and_channels_the_bot_cannot_use(env: DiscordEnv) -> None:
    unknown = await env.owner.slash(
        "welcome set", channel=env.channel("general"), message="Hi {name}"
    )
    assert unknown.ephemeral and "Unknown placeholder {name}" in (unknown.content or "")
    # "blue" is a colour everywhere now; a word that is none is refused.
    colour = await env.owner.slash("welcome set", channel=env.channel("general"), color="bleu")
    assert colour.ephemeral and "not a colour" in (colour.content or "")
    hidden = await env.guild.create_text_channel(
        "staff-only",
        overwrites=[
            env.guild.overwrite_for(
                env.guild.role("Pegasus"), deny=["view_channel", "send_messages"]
            )
        ],
    )
    refused = await env.owner.slash("welcome set", channel=hidden)
    assert refused.ephemeral
    assert "I can't post welcome messages in" in (refused.content or ""), refused.text
    assert await AuditLog.filter(action="welcome.set").count() == 0


async def test_members_without_manage_server_cannot_configure(env: DiscordEnv) -> None:
    for command in ("welcome show", "goodbye show", "autorole list", "logging show"):
        with pytest.raises(CommandUnavailable):
            await env.alice.slash(command)


# ------------------------------------------------------------------------------ goodbye


async def test_goodbye_when_a_member_leaves(env: DiscordEnv) -> None:
    reply = await env.owner.slash(
        "goodbye set",
        channel=env.channel("general"),
        message="{username} left {server}; we are {member_count} now.",
    )
    assert "Goodbye messages are on" in (reply.content or "")
    await env.bob.leave()
    await env.settle()
    goodbye = last_bot_message(env, "general")
    assert goodbye.content == f"bob left Pegasus Test; we are {len(env.guild.members)} now."


async def test_goodbye_cannot_be_tested_before_it_is_set(env: DiscordEnv) -> None:
    reply = await env.owner.slash("goodbye test")
    assert reply.ephemeral and "/goodbye set" in (reply.content or "")


# ------------------------------------------------------------------------------ autoroles


async def test_autoroles_are_given_on_join(env: DiscordEnv) -> None:
    newcomer = await env.guild.create_role("Newcomer", position=1)
    reply = await env.owner.slash("autorole add", role=newcomer)
    assert reply.ephemeral and "New members now get" in (reply.content or ""), reply.text
    listed = await env.owner.slash("autorole list")
    assert f"<@&{newcomer.id}>" in listed.text

    frank = await env.guild.add_member("frank")
    await env.settle()
    assert frank.has_role("Newcomer")

    robot = await env.guild.add_member("robot", bot=True)
    await env.settle()
    assert not robot.has_role("Newcomer")  # bots are left alone

    removed = await env.owner.slash("autorole remove", role=newcomer)
    assert "no longer get" in (removed.content or "")
    grace = await env.guild.add_member("grace")
    await env.settle()
    assert not grace.has_role("Newcomer")
    actions = await AuditLog.all().order_by("created_at").values_list("action", flat=True)
    assert actions == ["autorole.add", "autorole.remove"]


async def test_roles_the_bot_cannot_give_are_refused(env: DiscordEnv) -> None:
    above = await env.guild.create_role("Above the bot", position=10)
    refused = await env.owner.slash("autorole add", role=above)
    assert "above my highest role" in (refused.content or ""), refused.text
    admin = await env.owner.slash("autorole add", role=env.guild.role("Admin"))
    assert "Administrator permission" in (admin.content or ""), admin.text
    everyone = await env.owner.slash("autorole add", role=env.guild.default_role)
    assert "@everyone can't be an autorole" in (everyone.content or "")
    assert await AuditLog.all().count() == 0


# ------------------------------------------------------------------------------ the server log


async def test_the_server_log_reports_what_happens(env: DiscordEnv) -> None:
    reply = await env.owner.slash("logging set", channel=env.channel("logs"))
    assert reply.ephemeral and "The server log is on in" in (reply.content or "")

    said = await env.alice.say("general", "my secret plan")
    await env.settle()
    await env.alice.edit(said, "my public plan")
    await env.settle()
    await env.alice.delete(said)
    await env.settle()
    henry = await env.guild.add_member("henry")
    await env.settle()
    await env.guild.add_role(henry, "Moderator")
    await env.settle()
    await env.guild.remove_member(henry)
    await env.settle()

    titles = log_titles(env)
    assert titles == [
        "Message edited",
        "Message deleted",
        "Member joined",
        "Roles changed",
        "Member left",
    ]
    logs = env.channel("logs").bot_messages
    edited, deleted, joined, roles, left = (m.embed or {} for m in logs)
    assert "my secret plan" in str(edited["fields"]) and "my public plan" in str(edited["fields"])
    assert deleted["description"] == "my public plan"
    assert env.alice.mention in str(deleted["fields"])
    assert henry.mention in joined["description"]
    assert f"<@&{env.guild.role('Moderator').id}>" in str(roles["fields"])
    assert henry.mention in left["description"]


async def test_only_chosen_events_are_logged(env: DiscordEnv) -> None:
    reply = await env.owner.slash(
        "logging set", channel=env.channel("logs"), events="member_join, member_leave"
    )
    assert "members joining, members leaving" in (reply.content or "")
    said = await env.alice.say("general", "hello")
    await env.settle()
    await env.alice.delete(said)
    await env.guild.add_member("ivan")
    await env.settle()
    assert log_titles(env) == ["Member joined"]
    shown = await env.owner.slash("logging show")
    logs = env.channel("logs").mention
    assert f"In {logs}: members joining, members leaving" in shown.text
    assert "messages (edits, deletions, bulk deletions): Off" in shown.text

    await env.owner.slash("logging disable")
    await env.guild.add_member("judy")
    await env.settle()
    assert log_titles(env) == ["Member joined"]
    bad = await env.owner.slash("logging set", channel=env.channel("logs"), events="joins")
    assert "`joins` is not a log event" in (bad.content or "")


async def test_the_bots_own_messages_and_the_log_channel_are_not_logged(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"))
    said = await env.mod.say("logs", "a note in the log channel")
    await env.settle()
    await env.mod.delete(said)
    await env.settle()
    assert log_titles(env) == []


@pytest.fixture
def env(discord_env: DiscordEnv) -> DiscordEnv:
    return discord_env


def test_greeting_options_take_their_help_from_the_declared_settings() -> None:
    from cogs.community import Community
    from pegasus.services.community import SETTINGS

    options = {p.name: p.description for p in Community.welcome_set.parameters}
    assert options["message"] == SETTINGS["welcome_message"].help
    assert options["color"].startswith(SETTINGS["welcome_embed_color"].help)
    goodbye = {p.name: p.description for p in Community.goodbye_set.parameters}
    assert goodbye["channel"] == SETTINGS["goodbye_channel_id"].help and "dm" not in goodbye
