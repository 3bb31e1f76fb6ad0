"""Levels end to end, through the local Discord: members talk, sit in voice and run commands, and
the tests look at what the bot said, the roles it gave and the database.

Time is the buffer's clock (DESIGN: time is a parameter): tests move it forward instead of
waiting, so cooldowns and voice minutes pass in an instant.
"""

from __future__ import annotations

import io
import ipaddress
import time
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from models.economy import ShopItemType
from models.guilds import Member, User
from models.levels import UserXP, VoiceSession
from models.security import BlacklistEntityType
from pegasus.localdiscord import SUPPRESS_PREMIUM_SUBSCRIPTIONS, CommandUnavailable, FakeMember
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import economy, moderation
from pegasus.services import levels as service
from pegasus.services.levels import Activity, BackgroundCache, ImageFetcher
from tests.image_hosts import Answer, ImageHost, ScriptedResolver, client_tls, grey_png, png

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.levels"))


class Clock:
    """The buffer's clock: real time when created, then moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def buffer(env: DiscordEnv) -> Activity:
    return env.bot.activity_buffer


def use_clock(env: DiscordEnv) -> Clock:
    clock = Clock()
    buffer(env).clock = clock
    return clock


async def flush(env: DiscordEnv) -> None:
    """Let the bot read what was sent, write the buffer, and finish the level-ups it caused."""
    await env.settle()
    await buffer(env).flush()
    await buffer(env).drain()
    await env.settle()


async def xp_of(env: DiscordEnv, member: FakeMember) -> int:
    row = await UserXP.get_or_none(guild_id=env.guild.id, user_id=member.id)
    return row.xp if row else 0


async def counters(env: DiscordEnv, member: FakeMember) -> tuple[int, int, int, int]:
    """(xp, level, messages, voice minutes) as members stores them, checked against user_xp."""
    row = await Member.get(guild_id=env.guild.id, user_id=member.id)
    authority = await UserXP.get_or_none(guild_id=env.guild.id, user_id=member.id)
    if authority is not None:
        assert (row.xp, row.level) == (authority.xp, authority.level)
    return row.xp, row.level, row.messages, row.voice_minutes


async def configure(env: DiscordEnv, **options: object) -> None:
    reply = await env.owner.slash("levels set", **options)
    assert reply.ephemeral and "updated" in reply.text, reply.text


# ------------------------------------------------------------------------------ message XP


async def test_message_xp_once_per_cooldown_and_every_message_counted(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    clock = use_clock(env)
    for text in ("hello", "anyone here?", "hm"):
        await env.alice.say("general", text)
    await flush(env)
    first = await xp_of(env, env.alice)
    assert 15 <= first <= 25
    assert (await counters(env, env.alice))[2] == 3

    clock.advance(61)
    await env.alice.say("general", "back again")
    await flush(env)
    assert 30 <= await xp_of(env, env.alice) - first + 15 <= 50
    assert (await counters(env, env.alice))[2] == 4
    # The bot hears its own messages too; it never earns anything.
    assert await UserXP.get_or_none(guild_id=env.guild.id, user_id=env.bot_member.id) is None


async def test_multipliers_and_channel_kinds(discord_env: DiscordEnv) -> None:
    env = discord_env
    use_clock(env)
    await configure(env, xp_min=10, xp_max=10, cooldown="0s", rate=200)
    vip = await env.guild.create_role("VIP")
    await env.guild.add_role(env.bob, vip)
    muted = await env.guild.create_role("No XP")
    await env.guild.add_role(env.carol, muted)
    general, announcements = env.channel("general"), env.channel("announcements")

    done = await env.owner.slash("levels multiplier", target=f"role:{vip.id}", percent=150)
    assert "150%" in done.text
    choices = await env.owner.autocomplete("levels multiplier", "target", "annou")
    assert {"name": "#announcements", "value": f"channel:{announcements.id}"} in choices
    await env.owner.slash("levels multiplier", target=announcements.mention, percent=300)
    await env.owner.slash("levels channel", channel=env.channel("logs"), kind="double-xp")
    await env.owner.slash("levels channel", channel=general, kind="no-xp")
    ignored = await env.owner.slash("levels ignore-role", role=muted)
    assert "no longer earn XP" in ignored.text

    await env.alice.say(general, "counted, no XP")
    await env.alice.say(announcements, "tripled")  # 10 x 2 (rate) x 3
    await env.bob.say("logs", "vip and double")  # 10 x 2 x 1.5 x 2
    await env.carol.say(announcements, "ignored role")
    await flush(env)
    assert await counters(env, env.alice) == (60, 0, 2, 0)
    assert await counters(env, env.bob) == (60, 0, 1, 0)
    assert await counters(env, env.carol) == (0, 0, 1, 0)

    await env.owner.slash("levels channel", channel=general, kind="ignored")
    await env.alice.say(general, "not even counted")
    await flush(env)
    assert (await counters(env, env.alice))[2] == 2

    removed = await env.owner.slash("levels multiplier-remove", target=f"role:{vip.id}")
    assert "no longer changes XP" in removed.text
    missing = await env.owner.slash("levels multiplier-remove", target="nothing-like-it")
    assert missing.ephemeral and "neither a role nor a channel" in missing.text


async def test_blacklisted_members_and_boosts(discord_env: DiscordEnv) -> None:
    env = discord_env
    use_clock(env)
    await configure(env, xp_min=20, xp_max=20, cooldown="0s")
    now = datetime.now(UTC)
    await moderation.add_entry(
        BlacklistEntityType.USER,
        env.bob.id,
        guild_id=env.guild.id,
        actor_id=env.owner.id,
        reason="spam",
        now=now,
        cache=env.bot.blacklist,
    )
    effect = economy.build_effect(
        ShopItemType.BOOST, boost_kind="xp", multiplier=250, duration_seconds=3600
    )
    await economy.add_item(
        env.guild.id, name="XP Potion", price=10, item_type=ShopItemType.BOOST, effect=effect
    )
    await economy.buy(env.guild.id, env.alice.id, "XP Potion", now=now)
    await economy.use_item(env.guild.id, env.alice.id, "XP Potion", now=now)
    buffer(env).caches.invalidate(env.guild.id)  # boosts are otherwise re-read within 30 s

    await env.alice.say("general", "boosted")
    await env.bob.say("general", "blacklisted")
    await flush(env)
    assert await counters(env, env.alice) == (50, 0, 1, 0)
    assert await counters(env, env.bob) == (0, 0, 1, 0)


# ------------------------------------------------------------------------------ level-ups


async def test_level_up_is_announced_where_configured(discord_env: DiscordEnv) -> None:
    env = discord_env
    clock = use_clock(env)
    await configure(env, xp_min=100, xp_max=100)
    await env.alice.say("general", "first words")
    await flush(env)
    assert [m.content for m in env.channel("general").bot_messages] == [
        f"{env.alice.mention} reached level 1!"  # where she spoke: no channel is set
    ]

    await configure(
        env, channel=env.channel("announcements"), message="GG {user}, level {level} on {server}"
    )
    clock.advance(61)
    await env.alice.say("general", "more words")
    await env.alice.say("general", "and more")  # on cooldown
    await flush(env)
    assert await xp_of(env, env.alice) == 200  # still level 1 (level 2 is at 255)
    assert env.channel("announcements").bot_messages == []

    clock.advance(61)
    await env.alice.say("general", "level two now")
    await flush(env)
    assert [m.content for m in env.channel("announcements").bot_messages] == [
        f"GG {env.alice.mention}, level 2 on {env.guild.name}"
    ]

    await configure(env, announce=False)
    for _ in range(3):
        clock.advance(61)
        await env.alice.say("general", "quiet level-ups")
        await env.settle()
    await flush(env)
    assert (await counters(env, env.alice))[1] == 3  # 600 XP: level 3, not announced
    assert len(env.channel("announcements").bot_messages) == 1
    assert len(env.channel("general").bot_messages) == 1


async def test_reward_roles_catch_up_stack_replace_and_follow_removals(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    use_clock(env)
    roles = {level: await env.guild.create_role(f"Level {level}") for level in (1, 2, 5)}
    for level, role in roles.items():
        done = await env.owner.slash("levels reward-add", level=level, role=role)
        assert done.ephemeral and role.mention in done.text
    listed = await env.owner.slash("levels rewards")
    assert all(role.mention in listed.text for role in roles.values())

    # A level jump from 0 to 2 grants the rewards of levels 1 and 2 at once.
    await configure(env, xp_min=300, xp_max=300)
    await env.alice.say("general", "big entrance")
    await flush(env)
    assert (await counters(env, env.alice))[1] == 2
    assert env.alice.role_names >= {"Level 1", "Level 2"}
    assert "Level 5" not in env.alice.role_names

    # Replace mode keeps only the highest reward reached.
    await env.owner.slash("levels reward-mode", mode="replace")
    added = await env.owner.slash("xp add", member=env.alice, amount=1_000)  # 1,300 XP
    assert "level **5**" in added.text and "was 2" in added.text
    await env.settle()
    assert {"Level 1", "Level 2", "Level 5"} & env.alice.role_names == {"Level 5"}

    # Taking XP away takes the rewards above the new level away.
    await env.owner.slash("xp set", member=env.alice, amount=150)
    await env.settle()
    assert {"Level 1", "Level 2", "Level 5"} & env.alice.role_names == {"Level 1"}

    # Rewards come back on rejoin.
    await env.alice.leave()
    await env.settle()
    back = await env.guild.add_member("alice", user=env.alice.user)
    await env.settle()
    assert "Level 1" in back.role_names


async def test_reward_role_above_the_bot_is_refused(discord_env: DiscordEnv) -> None:
    env = discord_env
    top = await env.guild.create_role("Legend", position=10)  # above the bot's own role
    reply = await env.owner.slash("levels reward-add", level=3, role=top)
    assert reply.ephemeral and "above my highest role" in reply.text
    gone = await env.owner.slash("levels reward-remove", level=3, role=top)
    assert gone.ephemeral and "is not a reward" in gone.text


# ------------------------------------------------------------------------------ voice


async def test_voice_minutes_need_company_and_an_open_microphone(discord_env: DiscordEnv) -> None:
    env = discord_env
    clock = use_clock(env)
    await env.alice.join_voice("Lounge")
    await env.settle()
    clock.advance(300)
    await flush(env)
    assert (await counters(env, env.alice))[3] == 0  # alone: nothing counts

    await env.bob.join_voice("Lounge")
    await env.carol.join_voice("Lounge", self_mute=True)
    await env.settle()
    clock.advance(125)
    await flush(env)
    assert await counters(env, env.alice) == (10, 0, 0, 2)  # 5 XP a minute
    assert (await counters(env, env.bob))[3] == 2
    assert (await counters(env, env.carol))[3] == 0  # muted

    await env.carol.set_voice(self_mute=False)
    await env.bob.leave_voice()
    await env.settle()
    clock.advance(60)
    await flush(env)
    assert (await counters(env, env.carol))[3] == 1
    assert (await counters(env, env.bob))[3] == 2
    sessions = await VoiceSession.filter(guild_id=env.guild.id).values_list("user_id", flat=True)
    assert sorted(sessions) == sorted([env.alice.id, env.carol.id])


async def test_a_restart_in_the_middle_of_a_voice_session(discord_env: DiscordEnv) -> None:
    env = discord_env
    clock = use_clock(env)
    await env.alice.join_voice("Lounge")
    await env.bob.join_voice("Lounge")
    await env.settle()
    clock.advance(90)
    await flush(env)
    before = await VoiceSession.get(guild_id=env.guild.id, user_id=env.alice.id)
    assert (await counters(env, env.alice))[3] == 1

    await env.restart_bot()  # a clean stop: what was buffered is written
    clock = use_clock(env)
    clock.advance(60)
    await flush(env)
    after = await VoiceSession.get(guild_id=env.guild.id, user_id=env.alice.id)
    assert after.started_at == before.started_at  # the same session goes on (rewritten above)
    assert (await counters(env, env.alice))[3] == 2
    assert (await counters(env, env.bob))[3] == 2


async def test_a_crash_never_credits_time_the_bot_did_not_see(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.alice.join_voice("Lounge")
    await env.bob.join_voice("Lounge")
    await env.settle()
    await buffer(env).flush()
    # What a crash three hours ago leaves behind: carol's session in the lounge, never closed.
    hours_ago = datetime.now(UTC) - timedelta(hours=3)
    await VoiceSession.create(
        guild_id=env.guild.id,
        user_id=env.carol.id,
        channel_id=env.channel("Lounge").id,
        started_at=hours_ago,
        last_credited_at=hours_ago,
    )
    await env.stop_bot()
    await env.mod.join_voice("Gaming")  # already in voice when the bot starts
    await env.carol.join_voice("Gaming")
    await env.start_bot()
    clock = use_clock(env)
    await flush(env)

    rows = await VoiceSession.filter(guild_id=env.guild.id)
    by_user = {row.user_id: row for row in rows}
    assert set(by_user) == {env.alice.id, env.bob.id, env.mod.id, env.carol.id}
    assert by_user[env.carol.id].channel_id == env.channel("Gaming").id
    assert by_user[env.carol.id].started_at > hours_ago + timedelta(hours=2)  # a new session
    clock.advance(61)
    await flush(env)
    for member in (env.alice, env.bob, env.mod, env.carol):
        assert (await counters(env, member))[3] == 1, member.name  # counted from the start


async def test_a_reconnect_does_not_credit_the_gap(discord_env: DiscordEnv) -> None:
    env = discord_env
    clock = use_clock(env)
    for member in (env.alice, env.bob, env.carol):
        await member.join_voice("Lounge")
    await env.settle()
    clock.advance(30)

    async def outage(shard_id: int) -> None:
        # Runs after the cog's own on_shard_disconnect: an hour passes before the bot is back.
        clock.advance(3600)

    env.bot.add_listener(outage, "on_shard_disconnect")
    await env.server.gateway.drop()
    await env.bob.leave_voice()  # while disconnected: replayed on resume
    await env.server.gateway.wait_resumed(1)
    await flush(env)
    assert [(await counters(env, m))[3] for m in (env.alice, env.bob, env.carol)] == [0, 0, 0]
    clock.advance(60)
    await flush(env)  # 30 s before the outage + 60 s after it
    assert [(await counters(env, m))[3] for m in (env.alice, env.bob, env.carol)] == [1, 0, 1]


# ------------------------------------------------------------------------------ commands


async def test_rank_cards(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.owner.slash("xp set", member=env.bob, amount=1_000)
    await env.owner.slash("xp set", member=env.alice, amount=300)
    reply = await env.alice.slash("rank")
    assert reply.attachments[0].filename == "rank.png"
    assert reply.attachments[0].data.startswith(b"\x89PNG")
    assert "level **2**" in reply.text and "rank **#2**" in reply.text
    other = await env.alice.slash("rank", member=env.bob)
    assert "rank **#1**" in other.text

    styled = await env.alice.slash("rankcard set", background="#202225", accent="green")
    assert styled.ephemeral and "#57F287" in styled.text
    bad = await env.alice.slash("rankcard set", accent="not-a-colour")
    assert bad.ephemeral and "not a colour" in bad.text
    private = await env.alice.slash("rankcard set", background="https://127.0.0.1:9/bg.png")
    assert private.ephemeral and "https://127.0.0.1:9/bg.png" in private.text
    assert "not a public internet address" in private.text
    assert await stored_background(env.alice) == "#202225"  # refused: nothing changed
    card = await env.alice.slash("rank")
    assert card.attachments[0].data.startswith(b"\x89PNG")
    insecure = await env.alice.slash("rankcard set", background="http://example.com/bg.png")
    assert insecure.ephemeral and "https://" in insecure.text
    reset = await env.alice.slash("rankcard reset")
    assert "default colours" in reset.text
    nobody = await env.alice.slash("rank", member=env.carol)
    assert "not ranked yet" in nobody.text


async def stored_background(member: FakeMember) -> str | None:
    rows = await User.filter(id=member.id).values_list("rank_card_background", flat=True)
    return rows[0] if rows else None


def corner(reply_data: bytes) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(reply_data)).convert("RGB").getpixel((2, 2))


async def test_background_images_are_checked_when_set_and_prepared_once(
    discord_env: DiscordEnv,
) -> None:
    """An image host on 127.0.0.1 stands for a public site: the bot's fetcher is given a resolver
    for images.test and a policy accepting that one address, and trusts the test certificate."""
    env = discord_env
    cog = env.bot.get_cog("Levels")
    green, bomb = png((400, 120), (0, 128, 0)), grey_png(4096, 4096, 200)
    routes = {"/bg.png": Answer(body=green), "/huge.png": Answer(body=bomb)}
    async with ImageHost("127.0.0.1", routes) as host:
        cog.background_fetcher = ImageFetcher(  # type: ignore[union-attr]
            resolver=ScriptedResolver({"images.test": [["127.0.0.1"]]}),
            allowed=lambda address: address == ipaddress.ip_address("127.0.0.1"),
            tls=client_tls(),
        )
        await env.owner.slash("xp set", member=env.alice, amount=300)

        too_big = host.url("/huge.png", "images.test")
        huge = await env.alice.slash("rankcard set", background=too_big)
        assert huge.ephemeral and "4,096×4,096 pixels, more than a card can use" in huge.text
        assert await stored_background(env.alice) is None

        url = host.url("/bg.png", "images.test")
        chosen = await env.alice.slash("rankcard set", background=url)
        assert chosen.ephemeral and url in chosen.text
        assert await stored_background(env.alice) == url
        decodes = cog.backgrounds.decodes  # type: ignore[union-attr]
        for _ in range(2):
            card = await env.alice.slash("rank")
            assert corner(card.attachments[0].data) == (0, 128, 0)
            assert card.followups == []
        assert cog.backgrounds.decodes == decodes  # type: ignore[union-attr]  # prepared at set
        assert host.hits == ["/huge.png", "/bg.png"]  # and neither card downloaded it again

        # The image behind the link changed into one too large; a restarted cache finds out.
        host.routes["/bg.png"] = Answer(body=bomb)
        cog.backgrounds = BackgroundCache()  # type: ignore[union-attr]
        card = await env.alice.slash("rank")
        assert corner(card.attachments[0].data) != (0, 128, 0)
        note = await card.next_followup()
        assert note.ephemeral and "4,096×4,096 pixels" in note.text
        other = await env.bob.slash("rank", member=env.alice)  # only the owner is told why
        assert other.attachments and other.followups == []


async def test_leaderboard_pages_survive_a_restart(discord_env: DiscordEnv) -> None:
    env = discord_env
    people = [await env.guild.add_member(f"member{i:02d}") for i in range(12)]
    await env.settle()
    for rank, person in enumerate(people):
        await service.adjust_xp(
            env.guild.id, person.id, service.XpOperation.SET, 2_000 - rank * 100,
            now=datetime.now(UTC),
        )
    board = await env.alice.slash("leaderboard")
    assert not board.ephemeral
    assert f"<@{people[0].id}>" in board.text and f"<@{people[10].id}>" not in board.text
    assert "Page 1 of 2" in board.text
    second = await env.alice.click(board, label="Next ▶")
    assert f"<@{people[11].id}>" in second.text and "Page 2 of 2" in second.text

    await env.restart_bot()
    first_again = await env.bob.click(second, label="◀ Previous")
    assert "Page 1 of 2" in first_again.text and f"<@{people[0].id}>" in first_again.text


async def test_leaderboard_categories(discord_env: DiscordEnv) -> None:
    env = discord_env
    clock = use_clock(env)
    await env.alice.say("general", "one")
    await env.alice.say("general", "two")
    await env.bob.say("general", "three")
    await env.alice.join_voice("Lounge")
    await env.bob.join_voice("Lounge")
    await env.settle()
    clock.advance(60)
    await flush(env)  # boards show what is stored (written every second)
    messages = await env.carol.slash("leaderboard", category="messages")
    lines = messages.text.splitlines()
    assert any(env.alice.mention in line and "2 messages" in line for line in lines)
    voice = await env.carol.slash("leaderboard", category="voice")
    assert "1 minute in voice" in voice.text
    money = await env.carol.slash("leaderboard", category="money")
    assert "Nobody is on this board yet" in money.text


async def test_xp_commands_need_manage_server_and_reset_asks_first(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    with pytest.raises(CommandUnavailable):
        await env.alice.slash("xp add", member=env.alice, amount=10)
    with pytest.raises(CommandUnavailable):
        await env.alice.slash("levels settings")

    await env.owner.slash("xp add", member=env.bob, amount=500)
    removed = await env.owner.slash("xp remove", member=env.bob, amount=1_000)
    assert "now **0 XP**" in removed.text and "Took 500 XP" in removed.text
    await env.owner.slash("xp set", member=env.bob, amount=1_234)
    prompt = await env.owner.slash("xp reset", member=env.bob)
    assert prompt.ephemeral and "Reset **all** XP" in prompt.text
    cancelled = await env.owner.click(prompt, label="Cancel")
    assert "nothing was changed" in cancelled.text
    assert await xp_of(env, env.bob) == 1_234
    prompt = await env.owner.slash("xp reset", member=env.bob)
    done = await env.owner.click(prompt, label="Reset XP")
    assert "now **0 XP**" in done.text
    assert await counters(env, env.bob) == (0, 0, 0, 0)


async def test_settings_are_shown_and_validated(discord_env: DiscordEnv) -> None:
    env = discord_env
    shown = await env.owner.slash("levels settings")
    assert shown.ephemeral and "15–25 XP per message" in shown.text and "1m" in shown.text
    bad = await env.owner.slash("levels set", xp_min=50, xp_max=40)
    assert bad.ephemeral and "above the maximum" in bad.text
    template = await env.owner.slash("levels set", message="Hi {nick}")
    assert "Unknown placeholder {nick}" in template.text
    cooldown = await env.owner.slash("levels set", cooldown="soon")
    assert "is not a duration" in cooldown.text
    await configure(env, xp_min=1, xp_max=2, cooldown="2m", voice_xp=9, voice_min_members=1)
    shown = await env.owner.slash("levels settings")
    assert "1–2 XP per message" in shown.text and "2m" in shown.text
    assert "9 XP per minute" in shown.text

    supporters = await env.guild.create_role("Supporters")
    await configure(env, booster_role=supporters, booster_multiplier=150)
    shown = await env.owner.slash("levels settings")
    assert f"{supporters.mention} and server boosters: 150%" in shown.text
    await configure(env, no_booster_role=True)
    shown = await env.owner.slash("levels settings")
    assert supporters.mention not in shown.text and "server boosters: 150%" in shown.text


async def test_a_clean_stop_loses_nothing(discord_env: DiscordEnv) -> None:
    env = discord_env
    await buffer(env).stop_flusher()  # no periodic flush: only the shutdown writes
    await env.alice.say("general", "last words")
    await env.settle()
    assert await UserXP.get_or_none(guild_id=env.guild.id, user_id=env.alice.id) is None
    await env.restart_bot()
    assert (await counters(env, env.alice))[2] == 1
    assert 15 <= await xp_of(env, env.alice) <= 25


# ------------------------------------------------------------------------------ boosters, AFK


async def test_server_boosters_earn_the_booster_multiplier(discord_env: DiscordEnv) -> None:
    env = discord_env
    use_clock(env)
    await configure(env, xp_min=10, xp_max=10, cooldown="0s", booster_multiplier=200)
    # Boosting is announced in the system channel by the booster; keep that out of the count.
    await env.guild.edit(system_channel_flags=SUPPRESS_PREMIUM_SUBSCRIPTIONS)
    await env.guild.set_booster(env.alice)
    await env.settle()
    assert env.alice.is_booster and env.guild.premium_subscriber_role is not None

    await env.alice.say("general", "boosting")
    await env.bob.say("general", "not boosting")
    await flush(env)
    assert await counters(env, env.alice) == (20, 0, 1, 0)  # 10 x 2
    assert await counters(env, env.bob) == (10, 0, 1, 0)

    # In voice too: 5 XP a minute, doubled for the booster.
    clock = use_clock(env)
    await env.alice.join_voice("Lounge")
    await env.bob.join_voice("Lounge")
    await env.settle()
    clock.advance(61)
    await flush(env)
    assert await counters(env, env.alice) == (30, 0, 1, 1)
    assert await counters(env, env.bob) == (15, 0, 1, 1)

    # The boost ends: plain XP again.
    await env.guild.set_booster(env.alice, False)
    await env.settle()
    await env.alice.say("general", "no longer boosting")
    await flush(env)
    assert (await counters(env, env.alice))[0] == 40


async def test_voice_minutes_are_not_counted_in_the_afk_channel(discord_env: DiscordEnv) -> None:
    env = discord_env
    clock = use_clock(env)
    await env.guild.set_afk_channel("Gaming")
    await env.settle()
    for member in (env.alice, env.bob, env.carol):
        await member.join_voice("Gaming")
    await env.settle()
    clock.advance(300)
    await flush(env)
    for member in (env.alice, env.bob, env.carol):
        assert await counters(env, member) == (0, 0, 0, 0), member.name

    # Back from AFK: minutes count again (carol stays behind, alone she would not count anyway).
    await env.alice.join_voice("Lounge")
    await env.bob.join_voice("Lounge")
    await env.settle()
    clock.advance(125)
    await flush(env)
    assert (await counters(env, env.alice))[3] == 2
    assert (await counters(env, env.bob))[3] == 2
    assert await counters(env, env.carol) == (0, 0, 0, 0)

    # Once Gaming is no longer the AFK channel, it counts like any other.
    await env.guild.set_afk_channel(None)
    await env.settle()
    await env.alice.join_voice("Gaming")
    await env.settle()
    clock.advance(60)
    await flush(env)
    assert (await counters(env, env.alice))[3] == 3
    assert (await counters(env, env.carol))[3] == 1


async def test_a_boost_announcement_is_not_a_message_that_earns_xp(discord_env: DiscordEnv) -> None:
    env = discord_env
    use_clock(env)
    await configure(env, xp_min=10, xp_max=10, cooldown="0s")
    await env.guild.set_booster(env.alice)  # announced in the system channel, by alice
    await env.settle()
    await flush(env)
    assert await counters(env, env.alice) == (0, 0, 0, 0)


async def test_members_already_in_a_channel_that_becomes_afk_stop_counting(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    clock = use_clock(env)
    await env.alice.join_voice("Gaming")
    await env.bob.join_voice("Gaming")
    await env.settle()
    clock.advance(61)
    await flush(env)
    assert (await counters(env, env.alice))[3] == 1

    await env.guild.set_afk_channel("Gaming")  # nobody moves: no voice state update
    await env.settle()
    clock.advance(300)
    await flush(env)
    assert (await counters(env, env.alice))[3] == 1
    assert (await counters(env, env.bob))[3] == 1

    await env.guild.set_afk_channel(None)
    await env.settle()
    clock.advance(61)
    await flush(env)
    assert (await counters(env, env.alice))[3] == 2
