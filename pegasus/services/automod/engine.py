"""Which of a guild's rules a message sets off, decided in memory.

A guild's enabled rules are compiled once into a `GuildRules`, so that a message costs a few
passes over its text whatever the number of rules: every regular expression of the guild in one
RE2 set run over the text, every words rule in a second RE2 set run over the folded text (each
word a pattern that reads leetspeak and repeated letters, see `normalize.word_pattern`), and the
measures the other kinds need (links, capitals, emoji, mentions) taken once, and only when a
cheap bound says a rule could fire. Member text only ever meets RE2 and plain string operations,
never Python's backtracking `re`; RE2 runs in time linear in the text.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import re2

from pegasus.i18n import N_, _
from pegasus.services.automod.normalize import fold_text, needs_folding_pattern, word_pattern
from pegasus.services.automod.rules import (
    CAPS_MIN_LETTERS,
    SET_MAX_MEMORY,
    Rule,
    RuleKind,
    re2_options,
)

__all__ = ["FileFacts", "Firing", "GuildRules", "MessageFacts", "invite_firing"]

# Our own patterns, run by RE2 like the guilds' ones (only when a cheap test says they may find
# something).
INVITE_PATTERN = r"(?i)(?:discord(?:app)?\.com/invite|discord\.gg)/([a-z0-9-]+)"
INVITE = re2.compile(INVITE_PATTERN, re2_options())
CUSTOM_EMOJI = re2.compile(r"<a?:[A-Za-z0-9_~]{2,32}:[0-9]{15,21}>", re2_options())
UNICODE_EMOJI = re2.compile(
    r"[\x{1F000}-\x{1FAFF}\x{2600}-\x{27BF}\x{2B00}-\x{2BFF}]", re2_options()
)
USER_MENTION = re2.compile(r"<@!?([0-9]{15,21})>", re2_options())
ROLE_MENTION = re2.compile(r"<@&([0-9]{15,21})>", re2_options())
EVERYONE_MENTION = re2.compile(r"@(?:everyone|here)", re2_options())
HOST_ENDS = (
    " ",
    "\n",
    "\t",
    "/",
    "?",
    "#",
    "<",
    ">",
    "|",
    "\\",
    ")",
    "]",
    "'",
    '"',
    "*",
    "`",
    ",",
    ";",
)
WWW_AFTER = " \n\t(<[*_`'\""  # what may stand right before a link written as `www.…`
MAX_HOST_SCAN = 300
EXCERPT_REASON_LIMIT = 60


@dataclass(frozen=True, slots=True)
class FileFacts:
    filename: str
    content_type: str | None = None


class MessageFacts(NamedTuple):
    """What the rules look at in a message: its text, where it was said, by whom.

    Only the text is always read; the channels, role ids, account age and files only by rules
    that need them (see `GuildRules.needs_channels` and friends), so a caller may leave them out
    otherwise. (A named tuple: built for every message of a guild with rules, it must be cheap.)
    """

    content: str
    channel_ids: tuple[int, ...] = ()  # the channel, then its category or parent channel
    role_ids: Collection[int] = ()
    account_age_seconds: float | None = None
    files: tuple[FileFacts, ...] = ()


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that a message set off, and why, in words staff read.

    An invites rule also gives the codes it did not allow by code: an invite to a server the
    rule allows (or to the guild itself) is told apart by the caller, which can look it up.

    The reason is kept as its English text and what fills it, and put into words (in the
    language of the moment) only when read: most messages set off nothing, and those that do
    are reported in the server's language.
    """

    rule: Rule
    why: str  # the reason's text as marked for the catalogs (`N_`), with `{fields}`
    invites: tuple[str, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return _(self.why).format(**self.details) if self.details else _(self.why)


def invite_firing(rule: Rule, codes: tuple[str, ...]) -> Firing:
    """An invites rule's firing for the invites `codes` it does not allow."""
    return Firing(rule, N_("an invite (`{code}`)"), codes, {"code": _clip(codes[0])})


def _clip(text: str) -> str:
    text = " ".join(text.split()).replace("`", "'")
    return text if len(text) <= EXCERPT_REASON_LIMIT else text[: EXCERPT_REASON_LIMIT - 1] + "…"


def link_hosts(content: str) -> list[str]:
    """The hosts of the links in `content` (`https://…`, `www.…`), lower-case, without `www.`."""
    hosts: list[str] = []
    start = content.find("://")
    while start >= 0:
        _add_host(hosts, content, start + 3)
        start = content.find("://", start + 3)
    if "www." in content or "WWW." in content:
        lowered = content.casefold()
        start = lowered.find("www.")
        while start >= 0:
            if start == 0 or lowered[start - 1] in WWW_AFTER:
                _add_host(hosts, lowered, start)
            start = lowered.find("www.", start + 4)
    return hosts


def _add_host(hosts: list[str], content: str, start: int) -> None:
    parts = content[start : start + MAX_HOST_SCAN].split(None, 1)
    rest = parts[0] if parts else ""
    for stop in HOST_ENDS:
        if stop in rest:
            rest = rest.split(stop, 1)[0]
    host = rest.rsplit("@", 1)[-1].split(":", 1)[0].casefold().strip(".")
    if host:
        host = host.removeprefix("www.")
        if host not in hosts:
            hosts.append(host)


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


def _emoji_bound(content: str) -> int:
    """At least as many as `count_emoji`: every emoji is a non-ASCII character or `<:`/`<a:`."""
    custom = content.count("<:") + content.count("<a:") if "<" in content else 0
    if content.isascii():
        return custom
    return custom + len(content) - len(content.encode("ascii", "ignore"))


ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
ASCII_NOT_LETTERS = bytes(set(range(128)) - set(ASCII_UPPER) - set(range(ord("a"), ord("z") + 1)))


def _ascii_letters(raw: bytes) -> tuple[int, int]:
    """Letters and capitals among ASCII bytes, counted by deleting bytes (in C)."""
    return len(raw.translate(None, ASCII_NOT_LETTERS)), len(raw) - len(
        raw.translate(None, ASCII_UPPER)
    )


def _caps_bound(content: str) -> int:
    """At least `caps_percent`: the ASCII letters counted exactly, every other character taken
    for a capital letter (a message that is not ASCII is usually so for an emoji or two)."""
    raw = content.encode("ascii", "ignore")
    letters, upper = _ascii_letters(raw)
    others = len(content) - len(raw)
    if letters + others < CAPS_MIN_LETTERS:
        return 0
    return round(100 * (upper + others) / (letters + others))


def caps_percent(content: str) -> int | None:
    """The share of capitals among the letters, or None for too few letters to shout."""
    if len(content) < CAPS_MIN_LETTERS:
        return None
    if content.isascii():  # most messages
        letters, upper = _ascii_letters(content.encode())
    else:
        letters = sum(map(str.isalpha, content))
        upper = sum(map(str.isupper, content))
    if letters < CAPS_MIN_LETTERS:
        return None
    return round(100 * upper / letters)


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


class _Scan:
    """Patterns of several purposes in one RE2 set, so that a message is read once for all."""

    def __init__(self) -> None:
        self._set: Any = re2.Set.SearchSet(re2_options(max_mem=SET_MAX_MEMORY))
        self._purposes: list[tuple[str, Rule | None]] = []
        self._match: Any = None  # set by `compile`

    def add(self, pattern: str, purpose: str, rule: Rule | None = None) -> None:
        index = self._set.Add(pattern)
        assert index == len(self._purposes)
        self._purposes.append((purpose, rule))

    def compile(self) -> _Scan | None:
        if not self._purposes:
            return None
        self._set.Compile()
        # The compiled set itself: its wrapper's Match costs a Python call more on every message.
        self._match = self._set._set.Match
        return self

    def match(self, text: str) -> list[tuple[str, Rule | None]]:
        return self.purposes(self._match(text.encode()))

    def purposes(self, found: list[int]) -> list[tuple[str, Rule | None]]:
        """What the patterns of `found` (indexes, as the compiled set answers) were added for."""
        return [self._purposes[index] for index in found] if found else []


def _without_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate (which JSON lets through, and UTF-8 cannot hold)
    replaced by U+FFFD, so that RE2 can read the rest."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


# Gates count up to this many characters at most: enough to pass over most messages, few
# enough to keep the scan's automaton small (each count is a state of it, times the others').
GATE_MAX_COUNT = 8


def _at_least(atom: str, count: int) -> str:
    """A pattern finding `count` occurrences of `atom` (at most GATE_MAX_COUNT are asked for:
    finding fewer than needed is all a gate must tell)."""
    count = max(1, min(count, GATE_MAX_COUNT))
    return atom if count == 1 else f"(?s:{atom}(?:.*{atom}){{{count - 1}}})"


def _threshold_min(rules: Sequence[Rule], key: str) -> int:
    return min((int(rule.params[key]) for rule in rules), default=0)


def _denied_link_pattern(domains: Iterable[str]) -> str:
    """A link (`https://…`, `www.…`) whose host is one of `domains` or under one of them."""
    alternatives = "|".join(re2.escape(domain) for domain in domains)
    return (
        r"(?i)(?:https?://|\bwww\.)(?:[^\s/?#<>@]*@)?(?:[^\s/?#<>]*\.)?"
        rf"(?:{alternatives})(?:[^\pL\pN.\-]|$)"
    )


class GuildRules:
    """A guild's enabled rules, compiled; `evaluate` says which a message sets off.

    One RE2 set reads the message's text for every pattern at once: the regular expressions,
    the words (case-insensitive), invite links, links to denied domains, the characters
    that need folding, any link when a rule allows only some domains, and enough capitals for
    a caps rule to have a chance. Only when these are present is the text folded (accents,
    look-alikes, invisible characters) and read again by the words alone, its links' hosts
    read or its capitals counted: a plain sentence costs the one pass.
    """

    # Read for every message of the guild: slots are fewer places in memory to fetch than an
    # instance dictionary.
    __slots__ = (
        "_age_max",
        "_allowing",
        "_caps",
        "_caps_min",
        "_emoji",
        "_emoji_min",
        "_files",
        "_folded_words",
        "_invites",
        "_links",
        "_match",
        "_mentions",
        "_mentions_min",
        "_new_accounts",
        "_order",
        "_scan",
        "needs_account_age",
        "needs_channels",
        "needs_files",
        "needs_roles",
        "rules",
    )

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rule for rule in rules if rule.enabled)
        self._order = {rule.id: index for index, rule in enumerate(self.rules)}
        by_kind: dict[RuleKind, list[Rule]] = {kind: [] for kind in RuleKind}
        for rule in self.rules:
            by_kind[rule.kind].append(rule)
        scan = _Scan()
        folded_words = _Scan()
        for rule in by_kind[RuleKind.REGEX]:
            scan.add(rule.params["pattern"], "regex", rule)
        for rule in by_kind[RuleKind.WORDS]:
            pattern = word_pattern(rule.params["words"], whole_word=_whole(rule))
            scan.add("(?i)" + pattern, "words", rule)
            folded_words.add(pattern, "words", rule)
        if by_kind[RuleKind.WORDS]:
            scan.add(needs_folding_pattern(), "fold")
        self._invites = by_kind[RuleKind.INVITES]
        if self._invites:
            scan.add(INVITE_PATTERN, "invites")
        self._links = by_kind[RuleKind.LINKS]
        for rule in self._links:
            if rule.params.get("deny"):
                scan.add(_denied_link_pattern(rule.params["deny"]), "deny", rule)
        # Each rule's allowed domains: a host is allowed when it or a domain it is under is.
        self._allowing = [
            (rule, frozenset(rule.params["allow"]))
            for rule in self._links
            if rule.params.get("allow")
        ]
        # Capitals are counted only when the scan found as many as a rule could need, and
        # links only when it found one (see `_gates`).
        self._caps = by_kind[RuleKind.CAPS]
        self._caps_min = _threshold_min(self._caps, "threshold")
        self._emoji = by_kind[RuleKind.EMOJI]
        self._emoji_min = _threshold_min(self._emoji, "threshold")
        self._mentions = by_kind[RuleKind.MENTIONS]
        self._mentions_min = _threshold_min(self._mentions, "threshold")
        for purpose, pattern in self._gates():
            scan.add(pattern, purpose)
        self._scan = scan.compile()
        # The compiled set's own Match, called straight from `evaluate`.
        self._match = self._scan._match if self._scan is not None else None
        self._folded_words = folded_words.compile()
        self._files = by_kind[RuleKind.ATTACHMENTS]
        self._new_accounts = by_kind[RuleKind.NEW_ACCOUNT]
        self._age_max = max(
            (int(rule.params["min_age_seconds"]) for rule in self._new_accounts), default=0
        )
        self.needs_roles = any(rule.exempt_roles for rule in self.rules)
        self.needs_channels = any(rule.exempt_channels for rule in self.rules)
        self.needs_files = bool(self._files)
        self.needs_account_age = bool(self._new_accounts)

    def __len__(self) -> int:
        return len(self.rules)

    def evaluate(self, facts: MessageFacts, *, exemptions: bool = True) -> list[Firing]:
        """The rules `facts` sets off, in the order the rules were made.

        This runs for every message of the guild, and most set off nothing: until something
        is found it makes no Python call of its own, only the scan's and a few string tests.
        Each Python step more reads memory (code, objects) that the rest of the bot's work on
        a message has pushed out of the processor's caches, which costs more than the step.
        """
        content = facts.content
        try:
            raw = content.encode()
        except UnicodeEncodeError:
            content = _without_lone_surrogates(content)
            raw = content.encode()
        fired: list[Firing] = []
        if self._match is not None and (found := self._match(raw)):
            fired += self._found(content, found)
        # Every emoji is a character that is not ASCII, or `<:`/`<a:`.
        if (
            self._emoji
            and ("<" in content or not content.isascii())
            and _emoji_bound(content) > self._emoji_min
        ):
            fired += self._emoji_firings(content)
        if self._mentions and content.count("@") > self._mentions_min:  # one in each mention
            fired += self._mention_firings(content)
        if self._files and facts.files:
            fired += self._file_firings(facts.files)
        age = facts.account_age_seconds
        if self._new_accounts and age is not None and age < self._age_max:
            fired += [
                Firing(rule, N_("an account newer than the rule allows"))
                for rule in self._new_accounts
                if age < int(rule.params["min_age_seconds"])
            ]
        if not fired:
            return fired
        if exemptions:
            fired = [firing for firing in fired if not self._exempt(firing.rule, facts)]
        fired.sort(key=lambda firing: self._order[firing.rule.id])
        return fired

    def _found(self, content: str, indexes: list[int]) -> list[Firing]:
        """The firings of the scan's patterns at `indexes`, and of the gates among them."""
        assert self._scan is not None  # `indexes` come from it
        found = self._scan.purposes(indexes)
        fired = self._scanned(content, found)
        purposes = {purpose for purpose, _rule in found}
        if "caps" in purposes:
            fired += self._caps_firings(content)
        if "links" in purposes:
            fired += self._not_allowed(link_hosts(content))
        return fired

    def _scanned(self, content: str, found: list[tuple[str, Rule | None]]) -> list[Firing]:
        """The firings of what the scan found: rules whose pattern matched, and the checks the
        found invites, denied links and characters to fold call for."""
        fired: dict[int, Firing] = {}
        purposes = {purpose for purpose, _rule in found}
        if "fold" in purposes and self._folded_words is not None:
            # Read again once folded, and only so: in the raw text an invisible character
            # would split a word in two.
            folded = fold_text(content)
            words = [rule for _purpose, rule in self._folded_words.match(folded) if rule]
        else:
            folded = content.casefold()
            words = [rule for purpose, rule in found if purpose == "words" and rule]
        for rule in words:
            if rule.id not in fired:
                fired[rule.id] = self._word_firing(rule, folded)
        for purpose, rule in found:
            if purpose == "regex" and rule is not None:
                fired[rule.id] = Firing(rule, N_("matched the pattern"))
            elif purpose == "deny" and rule is not None:
                host = next(
                    (h for h in link_hosts(content) if _on_domain(h, rule.params["deny"])), ""
                )
                fired[rule.id] = Firing(
                    rule,
                    N_("a link to a denied domain (`{domain}`)"),
                    details={"domain": _clip(host)},
                )
        if "invites" in purposes:
            for firing in self._invite_firings(content):
                fired[firing.rule.id] = firing
        return list(fired.values())

    def _gates(self) -> list[tuple[str, str]]:
        """Patterns that find what a links rule with allowed domains reads (a link), and the
        capitals a caps rule needs, at least as many as the lowest threshold calls for: a
        message without them cannot set one off.

        A message shouts only with 10 letters or more (CAPS_MIN_LETTERS), so `percent` of them
        capitals needs that share of 10 (less half a percent: the share is rounded), counting
        every character that is not ASCII as a capital, as `_caps_bound` does. (Emoji and
        mentions have bounds as cheap in plain string counts; counters of their own in the scan
        would multiply the states of its automaton.)
        """
        gates = []
        if self._allowing:  # a link (`https://…`, `www.…`) whose host is not allowed
            gates.append(("links", r"(?i)(?:://|www\.)"))
        if self._caps:
            needed = math.ceil((self._caps_min - 0.5) * CAPS_MIN_LETTERS / 100)
            gates.append(("caps", _at_least(r"[A-Z\x{80}-\x{10FFFF}]", needed)))
        return gates

    def _caps_firings(self, content: str) -> list[Firing]:
        if (
            len(content) < CAPS_MIN_LETTERS
            or content.islower()
            or not (content.isascii() or _caps_bound(content) >= self._caps_min)
        ):
            return []
        percent = caps_percent(content)
        if percent is None or percent < self._caps_min:
            return []
        return [
            Firing(rule, N_("{percent}% capitals"), details={"percent": str(percent)})
            for rule in self._caps
            if percent >= int(rule.params["threshold"])
        ]

    def _emoji_firings(self, content: str) -> list[Firing]:
        count = count_emoji(content)
        return [
            Firing(rule, N_("{count} emoji"), details={"count": str(count)})
            for rule in self._emoji
            if count > int(rule.params["threshold"])
        ]

    def _mention_firings(self, content: str) -> list[Firing]:
        count = count_mentions(content)
        return [
            Firing(rule, N_("{count} mentions"), details={"count": str(count)})
            for rule in self._mentions
            if count > int(rule.params["threshold"])
        ]

    @staticmethod
    def _exempt(rule: Rule, facts: MessageFacts) -> bool:
        if rule.exempt_channels and any(c in rule.exempt_channels for c in facts.channel_ids):
            return True
        return bool(rule.exempt_roles and not rule.exempt_roles.isdisjoint(facts.role_ids))

    @staticmethod
    def _word_firing(rule: Rule, folded: str) -> Firing:
        """Which of the rule's words was found (looked up only once the rule fired)."""
        for word in rule.params["words"]:
            if re2.search(word_pattern([word], whole_word=_whole(rule)), folded, re2_options()):
                return Firing(rule, N_("a filtered word (`{word}`)"), details={"word": _clip(word)})
        return Firing(rule, N_("a filtered word"))

    def _invite_firings(self, content: str) -> list[Firing]:
        codes = INVITE.findall(content)
        fired = []
        for rule in self._invites:
            allowed = set(rule.params.get("allow", ()))
            foreign = tuple(dict.fromkeys(code for code in codes if code not in allowed))
            if foreign:
                fired.append(invite_firing(rule, foreign))
        return fired

    def _not_allowed(self, hosts: list[str]) -> list[Firing]:
        fired: dict[int, Firing] = {}
        for host in hosts:
            parts = host.split(".")
            under = [".".join(parts[i:]) for i in range(len(parts))]  # host and its parents
            for rule, allowed in self._allowing:
                if allowed.isdisjoint(under):
                    why = N_("a link to a domain not allowed (`{domain}`)")
                    fired.setdefault(rule.id, Firing(rule, why, details={"domain": _clip(host)}))
        return list(fired.values())

    def _file_firings(self, files: Sequence[FileFacts]) -> list[Firing]:
        fired = []
        for rule in self._files:
            for file in files:
                kind = _file_matches(file, rule.params.get("types", ()))
                if kind is not None:
                    why = N_("a file of a filtered type (`{file}`, {kind})")
                    details = {"file": _clip(file.filename), "kind": kind}
                    fired.append(Firing(rule, why, details=details))
                    break
        return fired


def _whole(rule: Rule) -> bool:
    return bool(rule.params.get("whole_word", True))
