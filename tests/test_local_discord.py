"""The local Discord against the real bot: every protocol path a feature relies on.

The probe extension (tests/probe_cog.py) makes the bot do one Discord thing per
command; these tests check that the server answers as Discord does and that the user-level API
reports it.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest

from pegasus.localdiscord import (
    ActionRefused,
    CommandUnavailable,
    DiscordEnv,
    File,
    InvalidOptions,
    Permissions,
)
from pegasus.localdiscord.env import ErrorLog
from tests.localdiscord_plugin import _check_clean
from tests.probe_cog import PROBE_EXTENSIONS

pytestmark = pytest.mark.discord_env(extensions=PROBE_EXTENSIONS)


def probe(env: DiscordEnv) -> Any:
    return env.bot.get_cog("Probe")


async def test_bot_logs_in_syncs_and_caches_the_guild(discord_env: DiscordEnv) -> None:
    env = discord_env
    assert "probe" in env.server.global_commands
    assert "ping" in env.server.global_commands
    assert env.server.global_commands["Probe user"]["type"] == 2
    guild = env.bot.get_guild(env.guild.id)
    assert guild is not None and guild.chunked
    assert {m.name for m in guild.members} >= {"owner", "mod", "alice", "bob", "carol"}
    assert guild.get_member(env.alice.id).joined_at is not None
    assert env.server.gateway.identify_count == 1


async def test_core_ping_answers_privately(discord_env: DiscordEnv) -> None:
    reply = await discord_env.alice.slash("ping")
    assert reply.kind == "message"
    assert reply.ephemeral
    assert reply.content.startswith("Pong!")
    # Ephemeral answers are not in the channel.
    assert reply.message not in discord_env.channel("general").messages


async def test_visible_reply_is_in_the_channel_and_echoed(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.bob.slash("probe echo", text="hello world")
    assert not reply.ephemeral
    assert reply.content == "hello world"
    assert env.channel("general").last_message is reply.message
    assert reply.message.interaction["user"]["id"] == str(env.bob.id)
    await env.settle()
    # The bot heard its own message (as on Discord) and the probe ignored it as a bot's.
    assert reply.message.id not in probe(env).seen_messages


async def test_options_arrive_resolved(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash(
        "probe resolve",
        member=env.mod,
        role=env.guild.role("Admin"),
        channel=env.channel("logs"),
        count=3,
    )
    assert reply.content == "mod|Moderator|Admin|logs|3"


async def test_discord_refuses_invalid_options_before_the_bot_sees_them(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    with pytest.raises(InvalidOptions, match="needs"):
        await env.alice.slash("probe resolve", member=env.bob)
    with pytest.raises(InvalidOptions, match=r"1\.\.10"):
        await env.alice.slash(
            "probe resolve", member=env.bob, role="Admin", channel="logs", count=11
        )
    with pytest.raises(InvalidOptions, match="no option"):
        await env.alice.slash("probe echo", text="x", colour="red")
    with pytest.raises(InvalidOptions, match="no subcommand"):
        await env.alice.slash("probe nothing")
    with pytest.raises(CommandUnavailable, match="not synced"):
        await env.alice.slash("nonexistent")
    assert not env.server.requests_to("POST", "/interactions/{interaction_id}/{token}/callback")


async def test_commands_with_default_permissions_are_hidden(discord_env: DiscordEnv) -> None:
    env = discord_env
    assert env.server.global_commands["probe-ban"]["default_member_permissions"] == str(
        Permissions.of("ban_members")
    )
    with pytest.raises(CommandUnavailable, match="ban_members"):
        await env.alice.slash("probe-ban", member=env.bob)
    assert not env.guild.is_banned(env.bob)
    # A moderator may.
    reply = await env.mod.slash("probe-ban", member=env.bob)
    assert reply.content == "Banned bob."
    assert env.guild.bans[env.bob.id].reason == "probe"


async def test_interaction_permissions_follow_roles(discord_env: DiscordEnv) -> None:
    env = discord_env
    assert (await env.alice.slash("probe perms")).content == (
        "ban=False admin=False app_roles=True"
    )
    assert (await env.mod.slash("probe perms")).content == "ban=True admin=False app_roles=True"
    assert (await env.owner.slash("probe perms")).content == "ban=True admin=True app_roles=True"


async def test_thinking_defer_is_filled_by_the_first_followup(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("probe thinking")
    assert reply.deferred and reply.kind == "deferred"
    assert reply.ephemeral
    assert reply.content == "Done thinking."
    second = await reply.next_followup()
    assert second.content == "And a second followup."
    assert second.ephemeral


async def test_deferred_response_edited_in_place(discord_env: DiscordEnv) -> None:
    reply = await discord_env.alice.slash("probe edit_later")
    assert reply.content == "Edited in place."
    assert not reply.ephemeral
    assert reply.message.edits[-1]["content"] == "Edited in place."


async def test_uploaded_files_are_stored_and_served(discord_env: DiscordEnv) -> None:
    reply = await discord_env.alice.slash("probe card")
    (card,) = reply.attachments
    assert card.filename == "card.png"
    assert card.content_type == "image/png"
    assert card.data.startswith(b"\x89PNG")
    async with aiohttp.ClientSession() as session, session.get(card.url) as response:
        assert response.status == 200
        assert await response.read() == card.data


async def test_button_survives_a_restart(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("probe confirm")
    assert [b["label"] for b in reply.buttons] == ["Confirm"]
    await env.restart_bot()
    assert env.server.gateway.identify_count == 2
    # Someone else is refused; the owner confirms.
    refused = await env.bob.click(reply, label="Confirm")
    assert refused.ephemeral and refused.content == "Not your button."
    done = await env.alice.click(reply.message, f"pegasus:probe:confirm:{env.alice.id}")
    assert done.kind == "update"
    assert done.content == "Confirmed."
    assert done.message.components == []
    await env.settle()
    confirmations = [m for m in env.channel("general").bot_messages if "confirmed" in m.content]
    assert [m.content for m in confirmations] == [f"{env.alice.mention} confirmed."]
    with pytest.raises(ActionRefused, match="no button"):
        await env.alice.click(done.message, label="Confirm")


async def test_modal_round_trip(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("probe form")
    assert reply.kind == "modal"
    assert [f.label for f in reply.modal.fields] == ["Reason", "Details"]
    with pytest.raises(InvalidOptions, match="at least 3"):
        await env.alice.submit_modal(reply, {"Reason": "no"})
    submitted = await env.alice.submit_modal(reply, {"reason": "because", "probe-details": "x"})
    assert submitted.content == "reason=because details=x"


async def test_attachment_option_is_resolved_and_readable(discord_env: DiscordEnv) -> None:
    reply = await discord_env.alice.slash("probe upload", file=File("notes.txt", b"hello notes"))
    assert reply.content == "notes.txt text/plain 11 b'hello'"


async def test_select_menu_on_a_message_bound_view(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("probe pick")
    with pytest.raises(InvalidOptions, match="not an option"):
        await env.alice.select(reply, placeholder="A colour", values=["purple"])
    chosen = await env.alice.select(reply, placeholder="A colour", values=["green"])
    assert chosen.kind == "update"
    assert chosen.content == "You chose green."
    assert reply.message.components == []


async def test_autocomplete_and_context_menu(discord_env: DiscordEnv) -> None:
    env = discord_env
    choices = await env.alice.autocomplete("probe fruit", "fruit", "ap")
    assert [c["value"] for c in choices] == ["apple", "apricot"]
    reply = await env.alice.user_command("Probe user", env.bob)
    assert reply.content == "That is bob."


async def test_channel_messages_edits_history_and_bulk_delete(discord_env: DiscordEnv) -> None:
    env = discord_env
    logs = env.channel("logs")
    reply = await env.mod.slash("probe post", channel=logs, text="notice")
    (posted,) = logs.bot_messages
    assert posted.content == "notice (edited)"
    assert [edit["content"] for edit in posted.edits] == ["notice (edited)"]
    assert reply.content == f"Posted {posted.id}."
    general = env.channel("general")
    for i in range(4):
        await env.alice.say(general, f"message {i}")
    reply = await env.mod.slash("probe purge", count=3)
    assert reply.content == "history=4 deleted=3"  # the "thinking" reply is ephemeral
    assert [m.content for m in general.messages] == ["message 0"]
    assert env.server.requests_to("POST", "/channels/{channel_id}/messages/bulk-delete")


async def test_reactions_single_delete_and_member_edits(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("probe flash")
    assert reply.content == "reactions=['👀']"
    (flashed,) = [m for m in env.channel("general").all_messages if m.content == "Now you see me."]
    assert flashed.deleted
    said = await env.bob.say("general", "typo")
    await env.settle()
    await env.bob.edit(said, "fixed")
    await env.settle()
    await env.carol.react(said, "👍")
    await env.settle()
    await env.carol.unreact(said, "👍")
    await env.settle()
    await env.bob.delete(said)
    await env.settle()
    assert probe(env).events == [
        ("delete", flashed.id),
        ("edit:fixed", said.id),
        ("react:👍", env.carol.id),
        ("unreact:👍", env.carol.id),
        ("delete", said.id),
    ]
    with pytest.raises(ActionRefused, match="cannot delete"):
        await env.carol.delete(await env.bob.say("general", "mine"))


async def test_channel_edit_and_overwrite(discord_env: DiscordEnv) -> None:
    env = discord_env
    general = env.channel("general")
    reply = await env.owner.slash("probe lock", name="Read Me")
    assert reply.content == f"Locked {general.mention}."
    assert general.name == "read-me" and general.topic == "Read only"
    assert not general.permissions_for(env.alice).send_messages
    assert general.permissions_for(env.owner).send_messages  # administrators ignore overwrites
    with pytest.raises(ActionRefused, match="cannot send"):
        await env.alice.say(general, "hello?")
    await env.settle()
    assert env.bot.get_channel(general.id).name == "read-me"


@pytest.mark.discord_env(extensions=PROBE_EXTENSIONS, members=300)
async def test_large_guild_is_chunked_on_request(discord_env: DiscordEnv) -> None:
    env = discord_env
    assert len(env.guild.members) == 6 + 300
    # Over IDENTIFY's large_threshold GUILD_CREATE carries few members; the bot asked for the
    # rest (op 8) and has them all.
    requests = [f for f in env.server.gateway.received if f["op"] == 8]
    assert requests and int(requests[0]["d"]["guild_id"]) == env.guild.id
    cached = env.bot.get_guild(env.guild.id)
    assert cached.chunked and len(cached.members) == 306
    found = await cached.query_members("member0029", limit=5)
    assert [m.name for m in found] == [f"member0029{i}" for i in range(5)]


async def test_empty_message_refused_like_discord(discord_env: DiscordEnv) -> None:
    reply = await discord_env.alice.slash("probe empty")
    assert reply.content == "refused 50006"


async def test_role_hierarchy_and_permissions_enforced(discord_env: DiscordEnv) -> None:
    env = discord_env
    vip = await env.guild.create_role("VIP")
    reply = await env.owner.slash("probe grant", member=env.alice, role=vip)
    assert reply.content == "Gave VIP."
    assert env.alice.has_role("VIP")
    # The bot's own role is the highest it has: roles at or above it are refused (50013).
    top = await env.guild.create_role("Top", position=10)
    assert top.position > env.guild.role("Pegasus").position
    reply = await env.owner.slash("probe grant", member=env.alice, role=top)
    assert reply.content == "Forbidden 50013."
    assert not env.alice.has_role("Top")
    # Without Manage Roles nothing is granted.
    await env.guild.set_role_permissions("Pegasus", Permissions.of("view_channel", "send_messages"))
    reply = await env.owner.slash("probe grant", member=env.bob, role=vip)
    assert reply.content == "Forbidden 50013."


async def test_bans_kicks_and_unknown_ban(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.bob.say("general", "spam")
    await env.settle()
    await env.mod.slash("probe ban", user=env.bob)
    assert env.guild.is_banned(env.bob)
    assert not env.bob.in_guild
    assert env.channel("general").messages == []  # delete_message_seconds removed the spam
    reply = await env.mod.slash("probe unban", user_id=str(env.carol.id))
    assert reply.content == "No ban (10026)."
    reply = await env.mod.slash("probe unban", user_id=str(env.bob.id))
    assert reply.content == "Unbanned."
    assert not env.guild.is_banned(env.bob)
    await env.mod.slash("probe kick", member=env.carol)
    assert env.guild.kicked == [env.carol.user]
    await env.settle()
    assert ("leave", env.carol.id) in probe(env).events
    assert env.guild.find_member("carol") is None


async def test_timeouts_respect_administrators(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.mod.slash("probe mute", member=env.alice, minutes=10)
    assert reply.content == "Timed out."
    assert env.alice.is_timed_out
    with pytest.raises(ActionRefused, match="timed out"):
        await env.alice.say("general", "can I talk?")
    reply = await env.mod.slash("probe mute", member=env.owner, minutes=10)
    assert reply.content == "Refused 50013."
    assert not env.owner.is_timed_out


async def test_private_channel_overwrites(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.alice.slash("probe room", member=env.alice)
    room = env.guild.channel("room-alice")
    assert room.can_see(env.alice)
    assert not room.can_see(env.bob)
    assert room.can_see(env.owner)  # administrator
    assert room.can_see(env.bot_member)
    assert [m.content for m in room.messages] == [f"Welcome {env.alice.mention}"]
    with pytest.raises(ActionRefused, match="cannot send"):
        await env.bob.say(room, "let me in")
    reply = await env.alice.slash("probe close", in_channel=room)
    assert reply.content == "Closing."
    await env.settle()
    assert room.deleted
    assert env.guild.find_channel("room-alice") is None


async def test_direct_messages(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.mod.slash("probe dm", member=env.alice, text="Welcome!")
    assert reply.content == "Sent."
    assert [m.content for m in env.server.dms(env.alice)] == ["Welcome!"]
    env.bob.user.dms_open = False
    reply = await env.mod.slash("probe dm", member=env.bob, text="Hi")
    assert reply.content == "DMs closed (50007)."
    assert env.server.dms(env.bob) == []


async def test_members_join_leave_and_voice(discord_env: DiscordEnv) -> None:
    env = discord_env
    # discord.py hands listeners the live VoiceState, so let each event be handled in turn.
    dave = await env.guild.add_member("dave")
    await env.alice.join_voice("Lounge", self_mute=True)
    await env.settle()
    await env.alice.join_voice("Gaming")
    await env.settle()
    await env.alice.leave_voice()
    await dave.leave()
    await env.settle()
    assert probe(env).events == [
        ("join", dave.id),
        ("voice:Lounge", env.alice.id),
        ("voice:Gaming", env.alice.id),
        ("voice:-", env.alice.id),
        ("leave", dave.id),
    ]
    cached = env.bot.get_guild(env.guild.id)
    assert cached.get_member(dave.id) is None
    assert cached.member_count == len(env.guild.members)


async def test_messages_with_attachments_reach_the_bot(discord_env: DiscordEnv) -> None:
    env = discord_env
    sent = await env.alice.say("general", "look", files=[File("a.txt", b"hello")])
    await env.settle()
    assert probe(env).seen_messages[sent.id] == 1
    cached = env.bot.get_channel(env.channel("general").id).get_partial_message(sent.id)
    assert cached.id == sent.id
    assert sent.attachments[0].data == b"hello"


@pytest.mark.allow_errors
async def test_errors_are_collected_and_reported(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("probe crash")
    assert reply.ephemeral and "Reference" in reply.content
    assert any("probe crash" in ErrorLog.render(r) for r in env.errors)


async def test_strict_checks_fail_on_errors_and_unknown_routes(
    local_discord, request: pytest.FixtureRequest
) -> None:
    record = logging.LogRecord("pegasus.x", logging.ERROR, __file__, 1, "boom", None, None)
    with pytest.raises(pytest.fail.Exception, match="logged 1 error"):
        _check_clean(request, local_discord, [ErrorLog.render(record)])
    async with aiohttp.ClientSession() as session:
        url = f"{local_discord.api_base}/guilds/1/nothing-here"
        async with session.get(url) as response:
            assert response.status == 404
    assert [r.path for r in local_discord.unknown_routes] == ["/guilds/1/nothing-here"]
    with pytest.raises(pytest.fail.Exception, match="routes the local Discord does not know"):
        _check_clean(request, local_discord, [])
    local_discord.unknown_routes.clear()


async def test_waits_fail_fast_with_what_the_bot_did(discord_env: DiscordEnv) -> None:
    env = discord_env
    env.server.interaction_ack_deadline = None
    with pytest.raises(AssertionError, match="the bot logged an error") as failure:
        await env.alice.slash("probe crash", timeout=5)
    assert "probe crash" in str(failure.value)
    env.error_log.records.clear()  # this test expected exactly that error


async def test_every_request_is_recorded_with_its_json_body(discord_env: DiscordEnv) -> None:
    env = discord_env
    logs = env.channel("logs")
    await env.mod.slash("probe post", channel=logs, text="notice")
    [post] = [
        r
        for r in env.server.requests_to("POST", "/channels/{channel_id}/messages")
        if r.path == f"/channels/{logs.id}/messages"
    ]
    assert post.json["content"] == "notice"
    assert post.status == 200 and post.response["content"] == "notice"
    [edit] = env.server.requests_to("PATCH", "/channels/{channel_id}/messages/{message_id}")
    assert edit.json["content"] == "notice (edited)"
    [callback] = env.server.requests_to("POST", "/interactions/{interaction_id}/{token}/callback")
    assert callback.json["type"] == 5  # the "thinking" defer
    assert callback.json["data"]["flags"] & 64  # ephemeral
    [followup] = env.server.requests_to("POST", "/webhooks/{application_id}/{token}")
    assert followup.json["content"] == f"Posted {post.response['id']}."


async def test_role_removal_and_application_info(discord_env: DiscordEnv) -> None:
    env = discord_env
    vip = await env.guild.create_role("VIP")
    await env.guild.add_role(env.alice, vip)
    await env.settle()
    guild = env.bot.get_guild(env.guild.id)
    member = guild.get_member(env.alice.id)
    assert [r.name for r in member.roles[1:]] == ["VIP"]
    await member.remove_roles(guild.get_role(vip.id), reason="no longer a VIP")
    await env.settle()
    assert not env.alice.has_role("VIP")
    [removal] = env.server.requests_to(
        "DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"
    )
    assert removal.reason == "no longer a VIP"
    assert guild.get_member(env.alice.id).roles == [guild.default_role]  # GUILD_MEMBER_UPDATE
    info = await env.bot.application_info()
    assert info.id == env.server.application_id
    assert info.name == "Pegasus"
