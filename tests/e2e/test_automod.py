"""Automod end to end through the local Discord: staff add rules with /automod, members try to
slip past them (accents, zero-width characters, repeated letters, leetspeak), the bot deletes,
warns, times out, kicks and bans; the tests look at the channels, the log and the database."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from models.automod import AutomodHit, AutomodRule
from models.guilds import Member
from models.levels import UserXP
from models.moderation import CaseType, MemberWarning, ModCase
from models.security import AuditLog
from pegasus.localdiscord import BotProcessFactory, LocalDiscord
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.state import FakeGuild, File, now
from pegasus.services import automod
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.discord_env(
    extensions=(
        "cogs.core",
        "cogs.levels",
        "cogs.community",
        "cogs.moderation",
        "cogs.security",
        "cogs.automod",
    )
)


@pytest.fixture
def env(discord_env: DiscordEnv) -> DiscordEnv:
    return discord_env


async def add_rule(env: DiscordEnv, **options: object) -> AutomodRule:
    """Add a rule as the owner; the rule as stored."""
    options.setdefault("actions", "delete")
    reply = await env.owner.slash("automod add", **options)
    assert reply.ephemeral and "Automod rule added" in reply.text, reply.text
    return await AutomodRule.filter(name=options["name"]).get()


async def hits_of(rule: AutomodRule) -> list[AutomodHit]:
    return await AutomodHit.filter(rule_id=rule.id).order_by("id")


# ------------------------------------------------------------------------------ filter kinds


async def test_word_evasions_are_caught(env: DiscordEnv) -> None:
    rule = await add_rule(env, name="Slurs", kind="words", pattern="badword, evil plan")
    evasions = [
        "you are a bádwörd",  # accents
        "bad\u200bword indeed",  # a zero-width space inside
        "baaaadwoooord!!!",  # repeated letters
        "B4DW0RD",  # leetspeak and capitals
        "this is an 3v1l   pl4n",  # a phrase, leetspeak, extra spaces
    ]
    caught = [await env.alice.say("general", text) for text in evasions]
    fine = [
        await env.alice.say("general", text)
        for text in ("a bad word is not one word", "badwords are fine", "an evil planet")
    ]
    await env.settle()
    assert [message.deleted for message in caught] == [True] * len(evasions)
    assert [message.deleted for message in fine] == [False, False, False]
    hits = {hit.message_id: hit for hit in await hits_of(rule)}
    assert sorted(hits) == sorted(message.id for message in caught)
    assert all(hit.actions == ["deleted"] for hit in hits.values())
    first = hits[caught[0].id]
    assert first.user_id == env.alice.id  # type: ignore[attr-defined]
    assert first.excerpt == "you are a bádwörd" and "badword" in first.reason


async def test_substring_words_match_inside_words(env: DiscordEnv) -> None:
    await add_rule(env, name="Inside", kind="words", pattern="heck", whole_word=False)
    inside = await env.bob.say("general", "what the HEEECKING hell")
    apart = await env.bob.say("general", "he is on deck")
    await env.settle()
    assert inside.deleted and not apart.deleted


async def test_regex_invites_links_caps_emoji_mentions_and_files(env: DiscordEnv) -> None:
    regex = await add_rule(env, name="Nitro scam", kind="regex", pattern=r"(?i)free\s*n[i1]tro")
    invites = await add_rule(env, name="Invites", kind="invites", allow="friends")
    links = await add_rule(env, name="Links", kind="links", deny="evil.com, grabify.link")
    caps = await add_rule(env, name="Caps", kind="caps", threshold=70)
    emoji = await add_rule(env, name="Emoji", kind="emoji", threshold=4)
    mentions = await add_rule(env, name="Mentions", kind="mentions", threshold=2)
    files = await add_rule(env, name="Executables", kind="attachments", pattern="exe, scr")
    said = {
        "regex": await env.bob.say("general", "get FREE   n1tro here"),
        "invite": await env.bob.say("general", "come to https://discord.gg/raid123 now"),
        "link": await env.bob.say("general", "look https://cdn.Evil.com/x.png"),
        "caps": await env.bob.say("general", "WHY IS NOBODY ANSWERING ME"),
        "emoji": await env.bob.say("general", "yay 🎉🎉🎉 <:pog:123456789012345678> 🎉"),
        "mentions": await env.bob.say(
            "general", f"{env.alice.mention} {env.carol.mention} {env.mod.mention} look"
        ),
        "file": await env.bob.say("general", "a game", files=[File("game.EXE", b"MZ")]),
    }
    kept = {
        "regex": await env.carol.say("general", "nitro is not free"),
        "invite": await env.carol.say("general", "our friends: https://discord.gg/friends"),
        "link": await env.carol.say("general", "see https://notevil.com and https://example.org"),
        "caps": await env.carol.say("general", "I said OK, fine, thanks"),
        "emoji": await env.carol.say("general", "nice 🎉🎉"),
        "mentions": await env.carol.say("general", f"{env.alice.mention} {env.alice.mention}"),
        "file": await env.carol.say("general", "a cat", files=[File("cat.png", b"\x89PNG")]),
    }
    await env.settle()
    assert {kind: m.deleted for kind, m in said.items()} == dict.fromkeys(said, True)
    assert {kind: m.deleted for kind, m in kept.items()} == dict.fromkeys(kept, False)
    for rule in (regex, invites, links, caps, emoji, mentions, files):
        assert len(await hits_of(rule)) == 1, rule.name
    assert "raid123" in (await hits_of(invites))[0].reason
    assert "evil.com" in (await hits_of(links))[0].reason


def foreign_guild(env: DiscordEnv, name: str) -> FakeGuild:
    """Another server, which the bot is not in, with a channel to invite to."""
    guild = env.server.create_guild(name, owner=f"{name.lower()}-owner")
    guild.members_by_id.pop(env.server.bot_user.id)
    guild.bot_left = True
    guild.new_channel("lobby")
    return guild


async def test_invites_to_this_server_or_an_allowed_one_pass(env: DiscordEnv) -> None:
    partner = foreign_guild(env, "Partner")
    other = foreign_guild(env, "Other")
    rule = await add_rule(env, name="Invites", kind="invites", allow=f"{partner.id}, vip")
    ours = env.guild.create_invite()
    said = {
        "ours": await env.bob.say("general", f"invite friends: discord.gg/{ours}"),
        "partner": await env.bob.say(
            "general", f"partners: https://discord.com/invite/{partner.create_invite()}"
        ),
        "by code": await env.bob.say("general", "discord.gg/vip"),
        "other": await env.bob.say("general", f"free stuff discord.gg/{other.create_invite()}"),
        "unknown": await env.bob.say("general", "discord.gg/nosuchinvite"),
    }
    await env.settle()
    assert {name: m.deleted for name, m in said.items()} == {
        "ours": False,
        "partner": False,
        "by code": False,
        "other": True,
        "unknown": True,
    }
    assert len(await hits_of(rule)) == 2
    tested = await env.owner.slash("automod test", message=f"discord.gg/{ours} is ours")
    assert "No rule fires" in tested.text


async def test_a_catastrophic_pattern_is_answered_in_bounded_time(env: DiscordEnv) -> None:
    rule = await add_rule(env, name="Backtracking", kind="regex", pattern="(a+)+$")
    started = time.perf_counter()
    evil = await env.alice.say("general", "a" * 1999 + "b")  # 2^1999 paths for a backtracker
    matching = await env.alice.say("general", "a" * 1999)
    await env.settle()
    assert time.perf_counter() - started < 5
    assert not evil.deleted and matching.deleted
    assert len(await hits_of(rule)) == 1


async def test_new_accounts_are_held_back(env: DiscordEnv) -> None:
    await add_rule(env, name="Fresh accounts", kind="new_account", min_account_age="7d")
    fresh = await env.guild.add_member("fresh", created_at=now() - timedelta(days=1))
    old = await env.guild.add_member("veteran", created_at=now() - timedelta(days=400))
    await env.settle()
    new_message = await fresh.say("general", "hello there")
    old_message = await old.say("general", "hello there")
    await env.settle()
    assert new_message.deleted and not old_message.deleted


async def test_an_edited_message_is_checked_again(env: DiscordEnv) -> None:
    await add_rule(env, name="Edits", kind="words", pattern="forbidden")
    message = await env.alice.say("general", "all fine here")
    await env.settle()
    await env.alice.edit(message, "all f0rbidden here")
    await env.settle()
    assert message.deleted


# ------------------------------------------------------------------------------ actions


async def test_warn_makes_a_real_warning_with_its_level(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"), events="automod")
    rule = await add_rule(
        env, name="No spoilers", kind="words", pattern="spoiler", actions="delete, warn 3"
    )
    message = await env.alice.say("general", "SP0ILER: he dies")
    await env.settle()
    assert message.deleted
    warning = await MemberWarning.get(user_id=env.alice.id)
    assert warning.level == 3 and warning.title == f"Automod rule No spoilers ({rule.rule_id})"
    case = await ModCase.get(id=warning.case_id)  # type: ignore[attr-defined]
    assert case.type is CaseType.WARN and "No spoilers" in (case.reason or "")
    hit = (await hits_of(rule))[0]
    assert hit.warning_id == warning.id and hit.case_id == case.id  # type: ignore[attr-defined]
    assert hit.actions == ["warned (" + warning.warn_id + ", level 3)", "deleted"]
    shown = await env.mod.slash("warnings", member=env.alice)
    assert warning.warn_id in shown.text and "No spoilers" in shown.text
    report = env.channel("logs").bot_messages[-1]
    assert report.embed is not None and report.embed["title"] == "Automod: No spoilers"
    assert any(dm.embed and "warned" in dm.embed["title"] for dm in env.alice.dms)


async def test_a_replayed_or_re_edited_message_is_acted_on_once(env: DiscordEnv) -> None:
    rule = await add_rule(env, name="Spoilers", kind="words", pattern="spoiler", actions="warn 1")
    other = await add_rule(env, name="Shouting", kind="caps", actions="log")
    message = await env.alice.say("general", "a spoiler: he dies at the end of the film")
    await env.settle()
    # Discord delivers the same MESSAGE_CREATE again (as after a resume) and an edit that
    # offends the same way.
    env.server.events.message_create(message)
    await env.settle()
    await env.alice.edit(message, "another spoiler: she dies at the end of the film")
    await env.settle()
    assert await MemberWarning.filter(user_id=env.alice.id).count() == 1
    assert await ModCase.filter(user_id=env.alice.id, type=CaseType.WARN).count() == 1
    assert len(await hits_of(rule)) == 1
    # An edit that offends another rule is acted on for that rule.
    await env.alice.edit(message, "ANOTHER SPOILER: SHE DIES AT THE END OF THE FILM")
    await env.settle()
    assert len(await hits_of(other)) == 1 and len(await hits_of(rule)) == 1
    assert await MemberWarning.filter(user_id=env.alice.id).count() == 1


async def test_timeout_kick_and_ban(env: DiscordEnv) -> None:
    await add_rule(env, name="Mute", kind="words", pattern="shh", actions="timeout 10m")
    await add_rule(env, name="Out", kind="words", pattern="scram", actions="delete, kick")
    await add_rule(env, name="Gone", kind="words", pattern="begone", actions="delete, ban")
    await env.alice.say("general", "shhh")
    await env.bob.say("general", "scram")
    await env.carol.say("general", "b3g0ne")
    await env.settle()
    assert env.alice.is_timed_out and env.alice.in_guild
    assert not env.bob.in_guild and not env.guild.is_banned(env.bob)
    assert env.guild.is_banned(env.carol)
    cases = {case.user_id: case for case in await ModCase.all()}  # type: ignore[attr-defined]
    assert cases[env.alice.id].type is CaseType.TIMEOUT
    assert cases[env.alice.id].duration_seconds == 600
    assert cases[env.bob.id].type is CaseType.KICK and "Out" in (cases[env.bob.id].reason or "")
    assert cases[env.carol.id].type is CaseType.BAN
    assert all(case.moderator_id == env.bot_member.id for case in cases.values())  # type: ignore[attr-defined]
    listed = await env.mod.slash("cases", member=env.bob)
    assert "Automod rule Out" in listed.text


async def test_log_only_keeps_the_message_and_reports_it(env: DiscordEnv) -> None:
    await env.owner.slash("logging set", channel=env.channel("logs"), events="automod")
    rule = await add_rule(env, name="Watch", kind="words", pattern="crypto", actions="log")
    message = await env.bob.say("general", "buy CRYPTO")
    await env.settle()
    assert not message.deleted
    assert [hit.actions for hit in await hits_of(rule)] == [["logged"]]
    report = env.channel("logs").bot_messages[-1]
    assert report.embed is not None and "buy CRYPTO" in str(report.embed["fields"])
    assert not await ModCase.exists()


async def test_exempt_roles_channels_and_staff(env: DiscordEnv) -> None:
    trusted = await env.guild.create_role("Trusted", position=1)
    await env.guild.add_role(env.bob, trusted)
    offtopic = await env.guild.create_text_channel("offtopic")
    rule = await add_rule(
        env,
        name="Exempted",
        kind="words",
        pattern="darn",
        exempt_roles=trusted.mention,
        exempt_channels=offtopic.mention,
    )
    by_trusted = await env.bob.say("general", "darn")
    in_offtopic = await env.alice.say("offtopic", "darn")
    by_owner = await env.owner.say("general", "darn")
    caught = await env.alice.say("general", "darn")
    await env.settle()
    assert not by_trusted.deleted and not in_offtopic.deleted and not by_owner.deleted
    assert caught.deleted
    assert len(await hits_of(rule)) == 1


async def test_a_role_given_or_taken_changes_who_is_exempt_at_once(env: DiscordEnv) -> None:
    trusted = await env.guild.create_role("Trusted", position=1)
    rule = await add_rule(
        env, name="Exempted", kind="words", pattern="darn", exempt_roles=trusted.mention
    )
    await env.settle()
    before = await env.alice.say("general", "darn")
    await env.settle()
    await env.guild.add_role(env.alice, trusted)
    await env.settle()  # the member update reaches the bot
    while_trusted = await env.alice.say("general", "darn")
    await env.guild.remove_role(env.alice, trusted)
    await env.settle()
    after = await env.alice.say("general", "darn")
    await env.settle()
    assert [before.deleted, while_trusted.deleted, after.deleted] == [True, False, True]
    assert [hit.message_id for hit in await hits_of(rule)] == [before.id, after.id]


async def test_a_rule_exempting_everyone_spares_every_member(env: DiscordEnv) -> None:
    rule = await add_rule(
        env, name="Nobody", kind="words", pattern="darn", exempt_roles=str(env.guild.id)
    )
    await env.settle()
    said = await env.alice.say("general", "darn")
    await env.settle()
    assert not said.deleted and await hits_of(rule) == []


async def test_members_above_the_bot_are_left_alone(env: DiscordEnv) -> None:
    top = await env.guild.create_role("Top", position=10)  # above the bot's role
    vip = await env.guild.add_member("vip", roles=[top])
    await add_rule(env, name="Strict", kind="words", pattern="oops", actions="delete, ban")
    await env.settle()
    spared = await vip.say("general", "oops")
    caught = await env.bob.say("general", "oops")
    await env.settle()
    assert not spared.deleted and vip.in_guild and not env.guild.is_banned(vip)
    assert caught.deleted and env.guild.is_banned(env.bob)
    assert await AutomodHit.filter(user_id=vip.id).count() == 0


async def test_escalation_counts_stored_hits_across_a_restart(env: DiscordEnv) -> None:
    rule = await add_rule(
        env, name="Flood", kind="words", pattern="spam", escalation="3 in 10m: timeout 1h"
    )
    for _ in range(2):
        await env.alice.say("general", "spam")
    await env.settle()
    assert not env.alice.is_timed_out
    await env.restart_bot()
    await env.alice.say("general", "spaaam")
    await env.settle()
    assert env.alice.is_timed_out
    hits = await hits_of(rule)
    assert [hit.escalated for hit in hits] == [False, False, True]
    assert hits[-1].actions == ["timed out 1h", "deleted"]
    case = await ModCase.get(user_id=env.alice.id)
    assert case.type is CaseType.TIMEOUT and case.duration_seconds == 3600


# ------------------------------------------------------------------------------ the hot path


async def test_a_deleted_message_earns_no_xp(env: DiscordEnv) -> None:
    buffer = env.bot.activity_buffer
    await add_rule(env, name="No XP", kind="words", pattern="farm")
    removed = await env.alice.say("general", "farm farm farm")
    await env.settle()
    await buffer.flush()
    assert removed.deleted
    assert await UserXP.get_or_none(guild_id=env.guild.id, user_id=env.alice.id) is None
    assert not await Member.filter(user_id=env.alice.id, messages__gt=0).exists()
    fine = await env.alice.say("general", "hello everyone")
    await env.settle()
    await buffer.flush()
    assert not fine.deleted
    assert (await UserXP.get(guild_id=env.guild.id, user_id=env.alice.id)).xp in range(15, 26)


# ------------------------------------------------------------------------------ commands


async def test_automod_test_acts_on_nothing(env: DiscordEnv) -> None:
    await add_rule(env, name="Words", kind="words", pattern="badword", actions="delete, ban")
    await add_rule(env, name="Caps", kind="caps")
    reply = await env.owner.slash("automod test", message="THIS BADWORD IS LOUD, YES")
    assert reply.ephemeral and "2 rules would fire (nothing was done)" in reply.text
    assert "Words" in reply.text and "Caps" in reply.text
    quiet = await env.owner.slash("automod test", message="hello")
    assert "No rule fires" in quiet.text
    await env.settle()
    assert not await AutomodHit.exists() and not await ModCase.exists()
    assert env.owner.in_guild and not env.guild.bans


async def test_a_pattern_re2_refuses_is_refused_with_a_sentence(env: DiscordEnv) -> None:
    reply = await env.owner.slash(
        "automod add", name="Lookbehind", kind="regex", pattern=r"(?<=a)b", actions="delete"
    )
    assert reply.ephemeral
    assert "can't be used" in reply.text and "look-arounds" in reply.text
    bad_action = await env.owner.slash(
        "automod add", name="Bad", kind="words", pattern="x", actions="explode"
    )
    assert "is not an action" in bad_action.text
    assert not await AutomodRule.exists()


async def test_edit_list_remove_are_audited_and_apply_at_once(env: DiscordEnv) -> None:
    rule = await add_rule(env, name="Words", kind="words", pattern="alpha")
    first = await env.alice.say("general", "alpha")
    edited = await env.owner.slash("automod edit", rule=rule.rule_id, pattern="beta")
    assert "Automod rule changed" in edited.text
    second = await env.alice.say("general", "alpha beta")
    await env.settle()
    assert first.deleted and second.deleted
    listed = await env.owner.slash("automod list")
    assert rule.rule_id in listed.text and "Words" in listed.text
    off = await env.owner.slash("automod edit", rule=rule.rule_id, enabled=False)
    assert "Enabled" in off.text
    third = await env.alice.say("general", "beta")
    await env.settle()
    assert not third.deleted
    prompt = await env.owner.slash("automod remove", rule=rule.rule_id)
    done = await env.owner.click(prompt, label="Delete")
    assert "deleted" in done.text
    assert not await AutomodRule.exists()
    actions = await AuditLog.filter(target_type="automod_rule").order_by("created_at")
    assert [a.action for a in actions] == [
        "automod.add",
        "automod.edit",
        "automod.edit",
        "automod.remove",
    ]
    assert len(await AutomodHit.all()) == 2  # hits stay after their rule is gone


async def test_automod_needs_manage_server(env: DiscordEnv) -> None:
    from pegasus.localdiscord import CommandUnavailable

    with pytest.raises(CommandUnavailable):
        await env.alice.slash("automod list")


async def test_a_rule_added_in_another_process_applies_within_a_second(
    bot_process: BotProcessFactory, local_discord: LocalDiscord, db: str
) -> None:
    process = await bot_process.start({"WEB_ENABLED": "false"})
    await process.wait_ready(timeout=60)
    guild = local_discord.guild
    alice, owner = guild.member("alice"), guild.member("owner")
    before = await alice.say("general", "a forbidden word")
    # This test's process is "another process" (the web process, say): the service alone.
    await automod.add_rule(
        guild_id=guild.id,
        actor_id=owner.id,
        name="Elsewhere",
        kind=automod.RuleKind.WORDS,
        pattern="forbidden",
        actions=automod.parse_actions("delete"),
    )
    started = asyncio.get_running_loop().time()

    said = []

    async def caught() -> bool:
        said.append(await alice.say("general", "f0rbidden"))
        await asyncio.sleep(0.1)  # the bot process's turn
        return any(message.deleted for message in said)

    await eventually(caught, "the bot process applies the new rule", timeout=1.0)
    assert asyncio.get_running_loop().time() - started < 1.5
    assert not before.deleted
    assert await process.terminate(timeout=30) == 0, process.output
