"""Ids, numbers and amounts typed into slash commands: a wrong one, of any length or shape, is a
one-sentence ephemeral refusal that changes nothing; never "Something went wrong".

A column refuses what cannot fit it with an exception (a public id longer than 16 characters, a
number past 64 bits on SQLite or past 32 bits for case and ticket numbers on PostgreSQL, a NUL
character on PostgreSQL), so these inputs used to reach the user as an unexpected error.
"""

from __future__ import annotations

from typing import Any

import pytest

from models.economy import EconomyBalance
from models.moderation import MemberWarning
from pegasus.localdiscord.env import DiscordEnv
from tests.properties.snapshots import changed_tables, snapshot

FEATURES = (
    "cogs.core",
    "cogs.moderation",
    "cogs.giveaways",
    "cogs.tickets",
    "cogs.security",
    "cogs.economy",
    "cogs.levels",
)
pytestmark = pytest.mark.discord_env(extensions=FEATURES, scheduler_poll_interval=3600)

TOO_LONG = "Z-" + "Z" * 40  # past the 16 characters of every public id column
NUL = "Z-ZZ\x00ZZ"  # PostgreSQL refuses a NUL character in text
SHAPELESS = "Z-ZZZZZ; 7"  # characters no public id has
BAD_PUBLIC_IDS = (TOO_LONG, NUL, SHAPELESS)


def assert_refusal(reply: Any, *expected: str) -> str:
    """An ephemeral, one-line answer containing each of `expected`."""
    content = reply.content or ""
    assert reply.ephemeral, content
    assert "Something went wrong" not in content, content
    assert "\n" not in content and len(content) < 300, content
    for part in expected:
        assert part in content, content
    return content


async def make_one_of_each(env: DiscordEnv) -> None:
    """A warning, a giveaway and a ticket panel exist, so a wrong id is looked for among real
    rows of its kind."""
    warned = await env.mod.slash("warn", member=env.alice, title="Spam")
    assert "was warned" in warned.text, warned.text
    started = await env.owner.slash("giveaway start", prize="Nitro", duration="1h", winners=1)
    assert started.ephemeral and "G-" in started.text, started.text
    created = await env.owner.slash(
        "ticket-panel create", title="Support", description="Open a ticket."
    )
    assert created.ephemeral and "created" in (created.content or ""), created.content


@pytest.mark.parametrize(
    ("command", "option", "others", "noun"),
    [
        ("warning history", "warn_id", {}, "warning"),
        ("warning remove", "warn_id", {"reason": "sorted"}, "warning"),
        ("warning edit", "warn_id", {"title": "Rude"}, "warning"),
        ("giveaway end", "id", {}, "giveaway"),
        ("giveaway cancel", "id", {}, "giveaway"),
        ("giveaway reroll", "id", {}, "giveaway"),
        ("giveaway entries", "id", {}, "giveaway"),
        ("giveaway verify", "id", {}, "giveaway"),
        ("ticket-panel send", "panel", {}, "ticket panel"),
        ("ticket-panel button", "panel", {"label": "Help"}, "ticket panel"),
        ("ticket-panel edit", "panel", {"title": "New"}, "ticket panel"),
        ("ticket-panel delete", "panel", {}, "ticket panel"),
        ("automation remove", "id", {}, "automation"),
        ("automation toggle", "id", {}, "automation"),
        ("automation simulate", "id", {}, "automation"),
        ("security incident", "id", {}, "incident"),
        ("security note", "id", {"text": "Looked into it"}, "incident"),
        ("security resolve", "id", {}, "incident"),
    ],
)
async def test_a_wrong_public_id_of_any_length_is_not_found(
    discord_env: DiscordEnv, command: str, option: str, others: dict[str, Any], noun: str
) -> None:
    env = discord_env
    await make_one_of_each(env)
    before = await snapshot()

    for typed in BAD_PUBLIC_IDS:
        reply = await env.owner.slash(command, **{option: typed}, **others)
        assert_refusal(reply, f"There is no {noun} `")
        if typed is TOO_LONG:  # shown shortened, not echoed whole
            assert "`Z-ZZZZZZZZZZZZZZZZZ…`" in (reply.content or ""), reply.content

    await env.settle()
    assert not changed_tables(before, await snapshot())


@pytest.mark.parametrize(
    ("command", "option", "others", "sentence"),
    [
        ("case", "number", {}, "There is no case #{n} in this server."),
        ("reason", "case_number", {"reason": "typo"}, "There is no case #{n} in this server."),
        ("ticket reopen", "number", {}, "There is no ticket #{n} in this server."),
        ("ticket transcript", "number", {}, "There is no ticket #{n} in this server."),
    ],
)
async def test_a_case_or_ticket_number_past_its_column_is_not_found(
    discord_env: DiscordEnv, command: str, option: str, others: dict[str, Any], sentence: str
) -> None:
    """Discord accepts whole numbers up to 2**53; the columns hold 32 bits (and SQLite's
    integers 64, which only a caller other than Discord could pass)."""
    env = discord_env
    before = await snapshot()
    for number in (2**31, 2**53, 2**64):
        reply = await env.owner.slash(command, **{option: number}, **others)
        assert_refusal(reply, sentence.format(n=number))
    await env.settle()
    assert not changed_tables(before, await snapshot())


@pytest.mark.parametrize("command", ["blacklist add", "blacklist remove"])
@pytest.mark.parametrize("kind", ["user", "role", "channel"])
@pytest.mark.parametrize(
    "target", [str(2**64), str(2**63), f"<@{2**64}>", "0", "00000000000000000000"]
)
async def test_a_blacklist_target_no_discord_id_can_be_is_refused(
    discord_env: DiscordEnv, command: str, kind: str, target: str
) -> None:
    env = discord_env
    before = await snapshot()
    options = {"reason": "spam"} if command == "blacklist add" else {}
    reply = await env.owner.slash(command, kind=kind, target=target, **options)
    assert_refusal(reply, "is not a Discord id", "Copy ID")
    await env.settle()
    assert not changed_tables(before, await snapshot())


@pytest.mark.parametrize("target", ["²", "٣", str(2**64), "9" * 100])
async def test_a_multiplier_target_no_discord_id_can_be_is_refused(
    discord_env: DiscordEnv, target: str
) -> None:
    env = discord_env
    before = await snapshot()
    reply = await env.owner.slash("levels multiplier", target=target, percent=150)
    assert_refusal(reply, "is not a role or channel id")
    await env.settle()
    assert not changed_tables(before, await snapshot())


async def wallets(env: DiscordEnv) -> list[tuple[int, int, int]]:
    rows = await EconomyBalance.filter(guild_id=env.guild.id).order_by("user_id")
    return [(row.user_id, row.wallet, row.bank) for row in rows]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("1,0,0", "separators go between groups of three digits"),
        ("10,00", "separators go between groups of three digits"),
        ("1,5k", "separators go between groups of three digits"),
        ("0.0001b", "write it as `100k`"),
        ("1.2345m", "write it as `1,234.5k`"),
        ("1.000", "whole numbers"),
    ],
)
async def test_an_amount_a_person_could_read_two_ways_is_refused(
    discord_env: DiscordEnv, typed: str, why: str
) -> None:
    env = discord_env
    given = await env.owner.slash("economy give", member=env.alice, amount="10m")
    assert "Gave" in (given.content or ""), given.content
    before = await wallets(env)

    paid = await env.alice.slash("pay", member=env.bob, amount=typed)
    assert_refusal(paid, why)
    gave = await env.owner.slash("economy give", member=env.bob, amount=typed)
    assert_refusal(gave, why)

    await env.settle()
    assert await wallets(env) == before

    # Typed one way only, the same kinds of amounts go through.
    paid = await env.alice.slash("pay", member=env.bob, amount="1,000,000")
    assert not paid.ephemeral and "🪙 1,000,000" in (paid.content or ""), paid.content
    paid = await env.alice.slash("pay", member=env.bob, amount="0.125m")
    assert not paid.ephemeral and "🪙 125,000" in (paid.content or ""), paid.content


async def test_nul_characters_in_options_are_dropped_not_a_crash(discord_env: DiscordEnv) -> None:
    """PostgreSQL refuses NUL in text: one typed into a title must not fail the write."""
    env = discord_env
    reply = await env.mod.slash("warn", member=env.alice, title="Spam\x00link", level=1)
    assert "was warned" in reply.text, reply.text
    [warning] = await MemberWarning.filter(guild_id=env.guild.id).all()
    assert warning.title == "Spamlink"
