"""Which of a guild's rules a message sets off, decided in memory.

A guild's enabled rules are compiled once into a `GuildRules`: its regular expressions into one
RE2 set (one pass over the text, linear time whatever the patterns), its words into sets and
phrases matched against the normalized text. Member text only ever meets RE2 and plain string
operations, never Python's backtracking `re`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2

from pegasus.services.automod.normalize import Normalized, Word, fold_word, normalize
from pegasus.services.automod.rules import (
    CAPS_MIN_LETTERS,
    Rule,
    RuleKind,
    re2_options,
)

__all__ = ["FileFacts", "Firing", "GuildRules", "MessageFacts"]

# Our own patterns, run by RE2 like the guilds' ones.
INVITE = re2.compile(r"(?i)(?:discord(?:app)?\.com/invite|discord\.gg)/([a-z0-9-]+)", re2_options())
LINK_HOST = re2.compile(r"(?i)(?:https?://|\bwww\.)([^\s/?#<>|\\]+)", re2_options())
CUSTOM_EMOJI = re2.compile(r"<a?:[A-Za-z0-9_~]{2,32}:[0-9]{15,21}>", re2_options())
UNICODE_EMOJI = re2.compile(
    r"[\x{1F000}-\x{1FAFF}\x{2600}-\x{27BF}\x{2B00}-\x{2BFF}]", re2_options()
)
USER_MENTION = re2.compile(r"<@!?([0-9]{15,21})>", re2_options())
ROLE_MENTION = re2.compile(r"<@&([0-9]{15,21})>", re2_options())
EVERYONE_MENTION = re2.compile(r"@(?:everyone|here)", re2_options())
EXCERPT_REASON_LIMIT = 60


@dataclass(frozen=True, slots=True)
class FileFacts:
    filename: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the rules look at in a message: its text, where it was said, by whom."""

    content: str
    channel_ids: tuple[int, ...] = ()  # the channel, then its category or parent channel
    role_ids: frozenset[int] = frozenset()
    account_created_at: datetime | None = None
    files: tuple[FileFacts, ...] = ()
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that a message set off, and why, in words staff read."""

    rule: Rule
    reason: str


def _clip(text: str) -> str:
    text = " ".join(text.split()).replace("`", "'")
    return text if len(text) <= EXCERPT_REASON_LIMIT else text[: EXCERPT_REASON_LIMIT - 1] + "…"


def _hosts(content: str) -> list[str]:
    hosts = []
    for host in LINK_HOST.findall(content):
        host = host.rsplit("@", 1)[-1].split(":", 1)[0].casefold().strip(".")
        hosts.append(host.removeprefix("www."))
    return hosts


def _on_domain(host: str, domains: Iterable[str]) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def count_mentions(content: str) -> int:
    """Distinct members and roles mentioned, with @everyone/@here counting once."""
    if "@" not in content:
        return 0
    users = set(USER_MENTION.findall(content))
    roles = set(ROLE_MENTION.findall(content))
    return len(users) + len(roles) + (1 if EVERYONE_MENTION.search(content) else 0)


def count_emoji(content: str) -> int:
    custom = len(CUSTOM_EMOJI.findall(content)) if "<" in content else 0
    if content.isascii():
        return custom
    return custom + len(UNICODE_EMOJI.findall(content))


def caps_percent(content: str) -> int | None:
    """The share of capitals among the letters, or None for too few letters to shout."""
    letters = sum(map(str.isalpha, content))
    if letters < CAPS_MIN_LETTERS:
        return None
    return round(100 * sum(map(str.isupper, content)) / letters)


def _file_matches(file: FileFacts, types: Sequence[str]) -> str | None:
    extension = file.filename.rsplit(".", 1)[-1].casefold() if "." in file.filename else ""
    content_type = (file.content_type or "").casefold().split(";")[0].strip()
    for kind in types:
        if "/" in kind:
            if kind.endswith("/*") and content_type.startswith(kind[:-1]):
                return kind
            if content_type == kind:
                return kind
        elif extension == kind:
            return kind
    return None


class _WordMatcher:
    """One words rule: whole words by set intersection (then their repeated letters checked),
    phrases and substrings by `in`."""

    __slots__ = ("keys", "phrases", "single", "substrings")

    def __init__(self, rule: Rule) -> None:
        words: list[str] = list(rule.params.get("words", ()))
        self.single: dict[str, list[tuple[str, Word]]] = {}
        self.phrases: tuple[tuple[str, tuple[Word, ...]], ...] = ()
        self.substrings: tuple[tuple[str, str], ...] = ()
        if rule.params.get("whole_word", True):
            for word in words:
                if " " not in word:
                    folded = fold_word(word)
                    self.single.setdefault(folded[0], []).append((word, folded))
            self.phrases = tuple(
                (word, tuple(fold_word(part) for part in word.split()))
                for word in words
                if " " in word
            )
        else:
            self.substrings = tuple(
                (word, " ".join(fold_word(part)[0] for part in word.split())) for word in words
            )
        self.keys = frozenset(self.single)

    def find(self, text: Normalized) -> str | None:
        for key in self.keys & text.keys:
            for word, folded in self.single[key]:
                if text.has_word(folded):
                    return word
        for phrase, folded_phrase in self.phrases:
            if text.has_phrase(folded_phrase):
                return phrase
        for word, collapsed in self.substrings:
            if collapsed in text.padded:
                return word
        return None


class GuildRules:
    """A guild's enabled rules, compiled; `evaluate` says which a message sets off."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rule for rule in rules if rule.enabled)
        self._words = {
            rule.id: _WordMatcher(rule) for rule in self.rules if rule.kind is RuleKind.WORDS
        }
        self._regex_set: Any = None
        self._regex_index: dict[int, int] = {}  # position in the set → rule id
        regex_rules = [rule for rule in self.rules if rule.kind is RuleKind.REGEX]
        if regex_rules:
            patterns = re2.Set.SearchSet(re2_options())
            for rule in regex_rules:
                self._regex_index[patterns.Add(rule.params["pattern"])] = rule.id
            patterns.Compile()
            self._regex_set = patterns

    def __len__(self) -> int:
        return len(self.rules)

    def evaluate(self, facts: MessageFacts, *, exemptions: bool = True) -> list[Firing]:
        """The rules `facts` sets off, in the order the rules were made."""
        content = facts.content
        normalized: Normalized | None = None
        regex_hits: frozenset[int] | None = None
        hosts: list[str] | None = None
        fired: list[Firing] = []
        for rule in self.rules:
            if exemptions and self._exempt(rule, facts):
                continue
            kind = rule.kind
            reason: str | None = None
            if kind is RuleKind.WORDS:
                if normalized is None:
                    normalized = normalize(content)
                word = self._words[rule.id].find(normalized)
                reason = f"a filtered word (`{_clip(word)}`)" if word else None
            elif kind is RuleKind.REGEX:
                if regex_hits is None:
                    regex_hits = self._regex_matches(content)
                reason = "matched the pattern" if rule.id in regex_hits else None
            elif kind is RuleKind.INVITES:
                reason = self._invites(rule, content)
            elif kind is RuleKind.LINKS:
                if hosts is None:
                    hosts = _hosts(content) if ("://" in content or "www." in content) else []
                reason = self._links(rule, hosts)
            elif kind is RuleKind.CAPS:
                percent = caps_percent(content)
                limit = int(rule.params["threshold"])
                shouting = percent is not None and percent >= limit
                reason = f"{percent}% capitals" if shouting else None
            elif kind is RuleKind.EMOJI:
                count = count_emoji(content)
                reason = f"{count} emoji" if count > int(rule.params["threshold"]) else None
            elif kind is RuleKind.MENTIONS:
                count = count_mentions(content)
                reason = f"{count} mentions" if count > int(rule.params["threshold"]) else None
            elif kind is RuleKind.ATTACHMENTS:
                reason = self._files(rule, facts.files)
            elif kind is RuleKind.NEW_ACCOUNT:
                reason = self._new_account(rule, facts)
            if reason is not None:
                fired.append(Firing(rule, reason))
        return fired

    @staticmethod
    def _exempt(rule: Rule, facts: MessageFacts) -> bool:
        if rule.exempt_channels and any(c in rule.exempt_channels for c in facts.channel_ids):
            return True
        return bool(rule.exempt_roles and not rule.exempt_roles.isdisjoint(facts.role_ids))

    def _regex_matches(self, content: str) -> frozenset[int]:
        if self._regex_set is None:
            return frozenset()
        found = self._regex_set.Match(content) or ()
        return frozenset(self._regex_index[index] for index in found)

    @staticmethod
    def _invites(rule: Rule, content: str) -> str | None:
        if "disc" not in content.casefold():
            return None
        allowed = set(rule.params.get("allow", ()))
        for code in INVITE.findall(content):
            if code not in allowed:
                return f"an invite (`{_clip(code)}`)"
        return None

    @staticmethod
    def _links(rule: Rule, hosts: list[str]) -> str | None:
        denied = rule.params.get("deny", ())
        allowed = rule.params.get("allow", ())
        for host in hosts:
            if denied and _on_domain(host, denied):
                return f"a link to a denied domain (`{_clip(host)}`)"
            if allowed and not _on_domain(host, allowed):
                return f"a link to a domain not allowed (`{_clip(host)}`)"
        return None

    @staticmethod
    def _files(rule: Rule, files: Sequence[FileFacts]) -> str | None:
        types = rule.params.get("types", ())
        for file in files:
            kind = _file_matches(file, types)
            if kind is not None:
                return f"a file of a filtered type (`{_clip(file.filename)}`, {kind})"
        return None

    @staticmethod
    def _new_account(rule: Rule, facts: MessageFacts) -> str | None:
        if facts.account_created_at is None or facts.now is None:
            return None
        age = (facts.now - facts.account_created_at).total_seconds()
        if age < int(rule.params["min_age_seconds"]):
            return "an account newer than the rule allows"
        return None
