"""Automod without Discord: normalization of evasions (with properties), each rule kind, the
parsing of actions and escalation, the store (refusals store nothing, changes are audited and
reach the cache), hits and escalation counted from stored rows."""

from __future__ import annotations

import asyncio
import random
import string
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.automod import AutomodHit, AutomodRule
from models.security import AuditLog
from pegasus import notify
from pegasus.errors import NotFoundError, ValidationError
from pegasus.services import automod, directory
from pegasus.services.automod import (
    Action,
    ActionType,
    FileFacts,
    GuildRules,
    MessageFacts,
    Rule,
    RuleCache,
    RuleKind,
    fold_text,
    normalize_phrase,
    parse_actions,
    parse_escalation,
)
from pegasus.services.automod.engine import caps_percent, count_emoji, count_mentions
from pegasus.services.automod.rules import build_params

GUILD = 111_111_111_111_111_111
MOD = 900_000_000_000_000_001
ALICE = 800_000_000_000_000_001
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DELETE = (Action(ActionType.DELETE),)


def rule(kind: RuleKind, rule_id: int = 1, **params: object) -> Rule:
    return Rule(
        id=rule_id,
        rule_id=f"AM-{rule_id}",
        guild_id=GUILD,
        name=f"{kind.value} {rule_id}",
        kind=kind,
        params=build_params(kind, **params),  # type: ignore[arg-type]
        exempt_roles=frozenset(),
        exempt_channels=frozenset(),
        actions=DELETE,
        escalation=None,
        enabled=True,
        created_by_id=MOD,
        created_at=NOW,
    )


def fires(one: Rule, content: str = "", **facts: object) -> bool:
    return bool(GuildRules([one]).evaluate(MessageFacts(content, **facts)))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ normalization

WORD = st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=12)
ACCENTS = {"a": "áàâä", "e": "éèêë", "i": "íìîï", "o": "óòôö", "u": "úùûü", "c": "ç", "n": "ñ"}
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
LEET = {"o": "0", "i": "1", "e": "3", "a": "4", "s": "5", "t": "7"}


@given(word=WORD, data=st.data())
@settings(max_examples=200, deadline=None)
def test_every_evasion_of_a_filtered_word_is_caught(word: str, data: st.DataObject) -> None:
    evaded = []
    for index, char in enumerate(word):
        choice = data.draw(st.sampled_from(["plain", "accent", "repeat", "leet", "upper"]))
        if choice == "accent" and char in ACCENTS:
            char = data.draw(st.sampled_from(ACCENTS[char]))
        elif choice == "repeat":
            char = char * data.draw(st.integers(2, 5))
        elif choice == "leet" and char in LEET:
            char = LEET[char]
        elif choice == "upper":
            char = char.upper()
        evaded.append(char)
        if index < len(word) - 1 and data.draw(st.booleans()):
            evaded.append(data.draw(st.sampled_from(INVISIBLE)))
    text = "".join(evaded)
    filtered = rule(RuleKind.WORDS, pattern=word)
    assert fires(filtered, f"well, {text}!"), (word, text)
    glued = "y" if word[0] == "z" else "z"  # a letter the word does not start with
    assert not fires(filtered, f"well, {glued}{text}"), (word, text)  # inside another word


@given(text=st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_folding_any_text_is_stable_and_never_fails(text: str) -> None:
    folded = fold_text(text)
    assert fold_text(folded) == folded
    GuildRules([rule(RuleKind.WORDS, pattern="darn, dang it")]).evaluate(MessageFacts(text))


def test_a_lone_surrogate_does_not_hide_a_message_from_the_rules() -> None:
    """JSON lets a lone surrogate into a message's text, which UTF-8 refuses to encode: the
    rules read the rest of the message instead of failing on it."""
    for one in (
        rule(RuleKind.WORDS, pattern="darn"),
        rule(RuleKind.REGEX, pattern="(?i)free nitro"),
        rule(RuleKind.LINKS, deny="evil.com"),
    ):
        for text in ("darn \ud800 free nitro https://evil.com", "\udfff darn\u200b"):
            evaluated = GuildRules([one]).evaluate(MessageFacts(text))
            expected = one.kind is RuleKind.WORDS or "free" in text
            assert bool(evaluated) == expected, (one.kind, text)


def test_fewer_repeated_letters_are_a_different_word() -> None:
    filtered = rule(RuleKind.WORDS, pattern="ass")
    assert not fires(filtered, "as I said") and fires(filtered, "a$$sss")
    assert normalize_phrase("  Évil   PL4N ") == "evil plan"


# ------------------------------------------------------------------------------ rule kinds


def test_words_whole_and_substring() -> None:
    whole = rule(RuleKind.WORDS, pattern="darn, dang it")
    assert fires(whole, "well DARN!") and fires(whole, "d4ng   it all")
    assert not fires(whole, "darned") and not fires(whole, "dang")
    inside = rule(RuleKind.WORDS, pattern="darn", whole_word=False)
    assert fires(inside, "darned") and not fires(inside, "dart")


def test_regex_runs_in_linear_time() -> None:
    backtracking = rule(RuleKind.REGEX, pattern="(a+)+$")
    started = time.perf_counter()
    assert not fires(backtracking, "a" * 50_000 + "b")
    assert time.perf_counter() - started < 1
    assert fires(backtracking, "aaaa")


def test_one_set_holds_every_regex_of_a_guild() -> None:
    rules = GuildRules(
        [rule(RuleKind.REGEX, 1, pattern="cat"), rule(RuleKind.REGEX, 2, pattern="(?i)DOG")]
    )
    names = [f.rule.rule_id for f in rules.evaluate(MessageFacts("a dog and a cat"))]
    assert names == ["AM-1", "AM-2"]


def test_patterns_re2_refuses_are_refused_with_a_sentence() -> None:
    for pattern in (r"(?<=a)b", r"(a)\1", "(unclosed"):
        with pytest.raises(ValidationError, match="can't be used"):
            build_params(RuleKind.REGEX, pattern=pattern)


def test_invites_links_caps_emoji_mentions() -> None:
    invites = rule(RuleKind.INVITES, allow="friends, https://discord.gg/Partner")
    assert fires(invites, "join discord.com/invite/raid")
    assert not fires(invites, "discord.gg/friends and discord.gg/Partner")
    denied = rule(RuleKind.LINKS, deny="evil.com")
    assert fires(denied, "https://a.b.EVIL.com/x") and not fires(denied, "https://devil.com")
    only = rule(RuleKind.LINKS, allow="example.org")
    assert fires(only, "www.other.net") and not fires(only, "https://docs.example.org/x")
    caps = rule(RuleKind.CAPS, threshold=70)
    assert fires(caps, "STOP SHOUTING AT ME") and not fires(caps, "OK LOL")
    assert fires(caps, "ÉCOUTEZ TOUS ÇA 🎉🎉") and not fires(caps, "Hey there, nice one 🎉🎉")
    emoji = rule(RuleKind.EMOJI, threshold=2)
    assert fires(emoji, "🎉 <a:party:123456789012345678> 🎉") and not fires(emoji, "🎉🎉")
    mentions = rule(RuleKind.MENTIONS, threshold=2)
    three = "<@123456789012345678> <@!223456789012345678> <@&323456789012345678>"
    assert fires(mentions, three) and not fires(mentions, "<@123456789012345678> " * 5)


MEASURED_PIECES = (
    *"aZ Q.!é🎉\u200b\n@<:",
    "SHOUT ",
    "ÉCOUTEZ",
    *(f"<@{member}23456789012345678>" for member in range(1, 5)),
    *(f"<@&{role}23456789012345678>" for role in range(1, 3)),
    "@everyone",
    "<:pog:123456789012345678>",
    "<a:party:123456789012345678>",
)


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(MEASURED_PIECES) | st.characters(), max_size=40),
    caps=st.integers(1, 100),
    emoji=st.integers(1, 10),
    mentions=st.integers(1, 6),
)
def test_the_scan_skips_no_message_a_caps_emoji_or_mentions_rule_would_catch(
    pieces: list[str], caps: int, emoji: int, mentions: int
) -> None:
    """The scan measures capitals, emoji and mentions only in messages with enough of their
    characters: it decides exactly as counting every message would."""
    text = "".join(pieces)
    rules = GuildRules(
        [
            rule(RuleKind.CAPS, 1, threshold=caps),
            rule(RuleKind.EMOJI, 2, threshold=emoji),
            rule(RuleKind.MENTIONS, 3, threshold=mentions),
        ]
    )
    percent = caps_percent(text)
    counted = {
        1: percent is not None and percent >= caps,
        2: count_emoji(text) > emoji,
        3: count_mentions(text) > mentions,
    }
    fired = {firing.rule.id for firing in rules.evaluate(MessageFacts(text))}
    assert fired == {rule_id for rule_id, fires_ in counted.items() if fires_}


@pytest.mark.parametrize("threshold", [1, 2, 5, 9, 15, 16, 17, 40, 95])
def test_a_message_just_over_a_threshold_is_caught(threshold: int) -> None:
    emoji = rule(RuleKind.EMOJI, threshold=threshold)
    assert fires(emoji, "🎉" * (threshold + 1)) and not fires(emoji, "🎉" * threshold)
    mentions = rule(RuleKind.MENTIONS, threshold=threshold)
    members = [f"<@{ALICE + n}>" for n in range(threshold + 1)]
    assert fires(mentions, " ".join(members)) and not fires(mentions, " ".join(members[1:]))
    caps = rule(RuleKind.CAPS, threshold=threshold)
    capitals = -(-threshold // 10)  # of ten letters: the fewest that reach the threshold
    assert fires(caps, "A" * capitals + "a" * (10 - capitals))
    assert not fires(caps, "A" * (capitals - 1) + "a" * (11 - capitals))


def test_attachments_and_new_accounts() -> None:
    files = rule(RuleKind.ATTACHMENTS, pattern=".exe, application/*")
    assert fires(files, files=(FileFacts("SETUP.EXE"),))
    assert fires(files, files=(FileFacts("x.bin", "application/octet-stream"),))
    assert not fires(files, files=(FileFacts("cat.png", "image/png"),))
    young = rule(RuleKind.NEW_ACCOUNT, min_account_age="7d")
    assert fires(young, account_age_seconds=timedelta(days=6).total_seconds())
    assert not fires(young, account_age_seconds=timedelta(days=8).total_seconds())


def test_exemptions_by_role_and_channel() -> None:
    base = rule(RuleKind.WORDS, pattern="darn")
    exempt = replace(base, exempt_roles=frozenset({5}), exempt_channels=frozenset({7}))
    assert not fires(exempt, "darn", role_ids=frozenset({5}))
    assert not fires(exempt, "darn", channel_ids=(9, 7))  # a channel of an exempt category
    assert fires(exempt, "darn", channel_ids=(9,), role_ids=frozenset({6}))
    assert GuildRules([exempt]).evaluate(MessageFacts("darn", channel_ids=(7,)), exemptions=False)


# ------------------------------------------------------------------------------ parsing


def test_actions_and_escalation_parse_or_refuse() -> None:
    assert parse_actions("delete, warn 2, timeout:1h") == (
        Action(ActionType.DELETE),
        Action(ActionType.WARN, level=2),
        Action(ActionType.TIMEOUT, duration_seconds=3600),
    )
    escalation = parse_escalation("3 in 10m: timeout 1h")
    assert escalation is not None and (escalation.hits, escalation.window_seconds) == (3, 600)
    assert parse_escalation("none") is None
    for bad in ("explode", "timeout", "timeout 30d", "warn 9", "delete, delete", ""):
        with pytest.raises(ValidationError):
            parse_actions(bad)
    for bad in ("3 per 10m ban", "1 in 10m ban", "3 in 10m delete"):
        with pytest.raises(ValidationError):
            parse_escalation(bad)


# ------------------------------------------------------------------------------ the store


async def add(**options: object) -> Rule:
    options.setdefault("actions", DELETE)
    return await automod.add_rule(guild_id=GUILD, actor_id=MOD, **options)  # type: ignore[arg-type]


async def test_a_refused_rule_stores_nothing(db: str) -> None:
    with pytest.raises(ValidationError):
        await add(name="bad", kind=RuleKind.REGEX, pattern=r"(?<=x)y")
    with pytest.raises(ValidationError):
        await add(name="empty", kind=RuleKind.WORDS, pattern=" , ")
    assert not await AutomodRule.exists() and not await AuditLog.exists()


async def test_changes_are_audited_and_reach_the_cache(db: str) -> None:
    cache = RuleCache()
    by_guild = cache.by_guild  # what the message hook holds on to
    await cache.load_all()
    assert cache.get(GUILD) is None
    unsubscribe = notify.subscribe(cache.changed)
    try:
        added = await add(name="words", kind=RuleKind.WORDS, pattern="alpha")
        compiled = cache.get(GUILD)
        assert compiled is not None and compiled.evaluate(MessageFacts("ALPHA"))
        await cache.load_all()  # read again from the database, in place
        assert cache.by_guild is by_guild and by_guild[GUILD].evaluate(MessageFacts("ALPHA"))
        await automod.edit_rule(guild_id=GUILD, rule_id=added.rule_id, actor_id=MOD, pattern="beta")
        compiled = cache.get(GUILD)
        assert compiled is not None and not compiled.evaluate(MessageFacts("alpha"))
        with pytest.raises(ValidationError, match="Nothing to change"):
            await automod.edit_rule(
                guild_id=GUILD, rule_id=added.rule_id, actor_id=MOD, pattern="beta"
            )
        pattern = await add(name="regex", kind=RuleKind.REGEX, pattern="x+")
        with pytest.raises(ValidationError, match="can't be used"):
            await automod.edit_rule(
                guild_id=GUILD, rule_id=pattern.rule_id, actor_id=MOD, pattern="(?=x)"
            )
        assert (await automod.get_rule(GUILD, pattern.rule_id)).params == {"pattern": "x+"}
        await automod.remove_rule(guild_id=GUILD, rule_id=pattern.rule_id, actor_id=MOD)
        await automod.remove_rule(guild_id=GUILD, rule_id=added.rule_id, actor_id=MOD)
        assert cache.get(GUILD) is None
    finally:
        unsubscribe()
    with pytest.raises(NotFoundError):
        await automod.get_rule(GUILD, added.rule_id)
    actions = await AuditLog.filter(target_id=added.rule_id).order_by("created_at")
    assert [a.action for a in actions] == ["automod.add", "automod.edit", "automod.remove"]


async def test_escalation_counts_hits_in_the_window_and_starts_again_after_it(
    db: str,
) -> None:
    stored = await add(
        name="flood",
        kind=RuleKind.WORDS,
        pattern="spam",
        escalation=parse_escalation("2 in 10m: ban"),
    )

    async def hit(at: datetime) -> bool:
        recorded = await automod.record_hit(
            guild_id=GUILD,
            rule=stored,
            user_id=ALICE,
            channel_id=1,
            message_id=None,
            content="spam",
            reason="a filtered word",
            now=at,
        )
        assert recorded is not None
        return recorded.escalated

    minute = timedelta(minutes=1)
    assert [await hit(NOW), await hit(NOW + 20 * minute)] == [False, False]  # apart: no
    assert await hit(NOW + 21 * minute)  # two within ten minutes
    assert not await hit(NOW + 22 * minute)  # counting starts again after an escalation
    assert await hit(NOW + 23 * minute)
    assert await AutomodHit.filter(escalated=True).count() == 2


async def test_hits_at_the_same_moment_escalate_exactly_once_per_count(db: str) -> None:
    stored = await add(
        name="flood",
        kind=RuleKind.WORDS,
        pattern="spam",
        escalation=parse_escalation("3 in 10m: timeout 1h"),
    )

    async def hit(n: int) -> bool:
        recorded = await automod.record_hit(
            guild_id=GUILD,
            rule=stored,
            user_id=ALICE,
            channel_id=1,
            message_id=n,
            content="spam",
            reason="a filtered word",
            now=NOW + timedelta(seconds=n),
        )
        assert recorded is not None
        return recorded.escalated

    escalated = await asyncio.gather(*(hit(n) for n in range(9)))
    assert sum(escalated) == 3  # the 3rd, 6th and 9th hit, whichever order they were stored in
    rows = await AutomodHit.filter(rule_id=stored.id).order_by("id")
    assert [row.escalated for row in rows] == [False, False, True] * 3


async def test_one_message_sets_off_one_rule_once_even_at_the_same_moment(db: str) -> None:
    stored = await add(
        name="flood",
        kind=RuleKind.WORDS,
        pattern="spam",
        escalation=parse_escalation("2 in 10m: timeout 1h"),
    )
    other = await add(name="other", kind=RuleKind.WORDS, pattern="spam")

    async def hit(rule: Rule, message_id: int) -> automod.Hit | None:
        return await automod.record_hit(
            guild_id=GUILD,
            rule=rule,
            user_id=ALICE,
            channel_id=1,
            message_id=message_id,
            content="spam",
            reason="a filtered word",
            now=NOW,
        )

    # The same message handled five times at once (a replay racing the original): one wins.
    first = await asyncio.gather(*(hit(stored, 7) for _ in range(5)))
    won = [recorded for recorded in first if recorded is not None]
    assert len(won) == 1 and not won[0].escalated
    assert await hit(stored, 7) is None  # and later (an edit offending the same way)
    assert await AutomodHit.filter(rule_id=stored.id).count() == 1
    # Another rule may still act on that message.
    assert await hit(other, 7) is not None
    # The refused copies were not counted: the second message, not a copy, escalates.
    second = await hit(stored, 8)
    assert second is not None and second.escalated
    assert await AutomodHit.filter(rule_id=stored.id).count() == 2


async def test_a_hit_of_a_removed_rule_is_kept_without_escalating(db: str) -> None:
    stored = await add(
        name="gone", kind=RuleKind.WORDS, pattern="x", escalation=parse_escalation("2 in 1m: ban")
    )
    await automod.remove_rule(guild_id=GUILD, rule_id=stored.rule_id, actor_id=MOD)
    for n in range(2):
        recorded = await automod.record_hit(
            guild_id=GUILD,
            rule=stored,
            user_id=ALICE,
            channel_id=1,
            message_id=n,
            content="x",
            reason="a filtered word",
            now=NOW,
        )
        assert recorded is not None and not recorded.escalated
    assert await AutomodHit.filter(rule_id=None, rule_name="gone").count() == 2


async def test_a_rule_that_would_not_compile_with_the_others_is_refused(db: str) -> None:
    rng = random.Random(1)

    def long_words() -> str:  # 100 words of 100 letters that all have leetspeak forms
        return ", ".join("".join(rng.choice("aeiostbgl") for _ in range(100)) for _ in range(100))

    await directory.ensure_guild(GUILD)
    for n in range(24):  # stored as they are, as a server that grew before this check would be
        await AutomodRule.create(
            rule_id=f"AM-BIG{n:02d}",
            guild_id=GUILD,
            name=f"big {n}",
            kind=RuleKind.WORDS,
            params=build_params(RuleKind.WORDS, pattern=long_words()),
            actions=[{"type": "delete"}],
        )
    with pytest.raises(ValidationError, match="too large to check every message quickly"):
        await add(name="one more", kind=RuleKind.WORDS, pattern=long_words())
    assert await AutomodRule.filter(guild_id=GUILD).count() == 24
    cache = RuleCache()
    await cache.load_all()  # compiles: the 24 fit together
    assert cache.get(GUILD) is not None
