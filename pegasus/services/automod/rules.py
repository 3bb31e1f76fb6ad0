"""Automod rules as values: kinds, actions, escalation, and the parsing of what staff type.

Everything a rule holds is checked here before it is stored, so a stored rule always compiles:
a regular expression that RE2 refuses (look-arounds, back-references: patterns that cannot run
in linear time) is refused with a sentence, and so is a timeout longer than Discord allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import re2

from models.automod import AutomodRule, AutomodRuleKind
from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import N_, _, ngettext
from pegasus.services.automod.normalize import normalize_phrase
from pegasus.services.durations import format_duration, parse_duration

__all__ = [
    "MAX_ACTIONS",
    "MAX_ITEMS",
    "MAX_PATTERN_LENGTH",
    "Action",
    "ActionType",
    "Escalation",
    "Rule",
    "RuleKind",
    "compile_pattern",
    "parse_actions",
    "parse_escalation",
    "parse_items",
]

RuleKind = AutomodRuleKind

MAX_PATTERN_LENGTH = 500
MAX_ITEMS = 100  # words, domains, invite codes or file types in one rule
MAX_ITEM_LENGTH = 100
MAX_ACTIONS = 6
MAX_TIMEOUT_SECONDS = 28 * 86400
MAX_ESCALATION_HITS = 50
MAX_ESCALATION_WINDOW = 7 * 86400
MIN_WARN_LEVEL, MAX_WARN_LEVEL = 1, 5

# Defaults of the threshold of each kind that has one.
DEFAULT_THRESHOLDS = {
    RuleKind.CAPS: 70,  # percent of the letters
    RuleKind.EMOJI: 10,  # emoji in one message
    RuleKind.MENTIONS: 5,  # distinct mentions in one message
}
THRESHOLD_BOUNDS = {
    RuleKind.CAPS: (1, 100),
    RuleKind.EMOJI: (1, 200),
    RuleKind.MENTIONS: (1, 100),
}
CAPS_MIN_LETTERS = 10  # shorter messages ("OK", "LOL") are never shouting
DEFAULT_MIN_ACCOUNT_AGE = 7 * 86400

ACTION_FORMS = "delete, warn, warn 3 (a level 1-5), timeout 1h, kick, ban, log"
ESCALATION_FORM = N_("`3 in 10m: timeout 1h` (hits, window, then one action)")


class ActionType(StrEnum):
    DELETE = "delete"
    WARN = "warn"
    TIMEOUT = "timeout"
    KICK = "kick"
    BAN = "ban"
    LOG = "log"  # only log the hit


# How `describe` names each action (the stored values are the English words).
ACTION_NAMES = {
    ActionType.DELETE: N_("delete"),
    ActionType.WARN: N_("warn"),
    ActionType.TIMEOUT: N_("timeout"),
    ActionType.KICK: N_("kick"),
    ActionType.BAN: N_("ban"),
    ActionType.LOG: N_("log"),
}

# Stronger actions first: a member banned for a message is not kicked for it too.
SEVERITY = {
    ActionType.BAN: 4,
    ActionType.KICK: 3,
    ActionType.TIMEOUT: 2,
    ActionType.WARN: 1,
    ActionType.DELETE: 0,
    ActionType.LOG: 0,
}


@dataclass(frozen=True, slots=True)
class Action:
    type: ActionType
    duration_seconds: int | None = None  # timeouts
    level: int | None = None  # warnings

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type.value}
        if self.duration_seconds is not None:
            data["duration_seconds"] = self.duration_seconds
        if self.level is not None:
            data["level"] = self.level
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Action:
        return cls(ActionType(data["type"]), data.get("duration_seconds"), data.get("level"))

    def describe(self) -> str:
        if self.type is ActionType.TIMEOUT and self.duration_seconds:
            return _("timeout {duration}").format(duration=format_duration(self.duration_seconds))
        if self.type is ActionType.WARN and self.level:
            return _("warn (level {level})").format(level=self.level)
        return _(ACTION_NAMES[self.type])


@dataclass(frozen=True, slots=True)
class Escalation:
    """After `hits` hits of the rule by one member within `window_seconds`, `action`."""

    hits: int
    window_seconds: int
    action: Action

    def to_json(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "window_seconds": self.window_seconds,
            "action": self.action.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Escalation | None:
        if not data:
            return None
        return cls(int(data["hits"]), int(data["window_seconds"]), Action.from_json(data["action"]))

    def describe(self) -> str:
        return _("{hits} hits in {window} → {action}").format(
            hits=self.hits,
            window=format_duration(self.window_seconds),
            action=self.action.describe(),
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule as stored (`automod_rules`)."""

    id: int
    rule_id: str
    guild_id: int
    name: str
    kind: RuleKind
    params: Mapping[str, Any]
    exempt_roles: frozenset[int]
    exempt_channels: frozenset[int]
    actions: tuple[Action, ...]
    escalation: Escalation | None
    enabled: bool
    created_by_id: int | None
    created_at: datetime
    state: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_row(cls, row: AutomodRule) -> Rule:
        return cls(
            id=row.id,
            rule_id=row.rule_id,
            guild_id=row.guild_id,  # type: ignore[attr-defined]
            name=row.name,
            kind=RuleKind(row.kind),
            params=dict(row.params or {}),
            exempt_roles=frozenset(int(i) for i in row.exempt_roles or ()),
            exempt_channels=frozenset(int(i) for i in row.exempt_channels or ()),
            actions=tuple(Action.from_json(a) for a in row.actions or ()),
            escalation=Escalation.from_json(row.escalation),
            enabled=row.enabled,
            created_by_id=row.created_by_id,  # type: ignore[attr-defined]
            created_at=row.created_at,
        )

    def describe_actions(self) -> str:
        return ", ".join(action.describe() for action in self.actions)

    def describe_params(self) -> str:
        """What the rule looks for, in a line staff read in `/automod list`."""
        p = self.params
        kind = self.kind
        if kind is RuleKind.WORDS:
            count = len(p.get("words", []))
            if p.get("whole_word", True):
                text = ngettext("{count} word, whole words", "{count} words, whole words", count)
            else:
                text = ngettext(
                    "{count} word, anywhere in a word", "{count} words, anywhere in a word", count
                )
            return text.format(count=count)
        if kind is RuleKind.REGEX:
            return _("pattern `{pattern}`").format(pattern=p.get("pattern", ""))
        if kind is RuleKind.INVITES:
            allowed = [
                *p.get("allow", []),
                *(_("server {id}").format(id=g) for g in p.get("allow_guilds", [])),
            ]
            if allowed:
                return _("invites to other servers (allowed: {allowed})").format(
                    allowed=", ".join(allowed)
                )
            return _("invites to other servers")
        if kind is RuleKind.LINKS:
            parts = []
            if p.get("deny"):
                parts.append(_("denied: {domains}").format(domains=", ".join(p["deny"])))
            if p.get("allow"):
                parts.append(_("only allowed: {domains}").format(domains=", ".join(p["allow"])))
            return _("links ({domains})").format(domains="; ".join(parts))
        if kind is RuleKind.CAPS:
            return _("{percent}% capitals or more").format(percent=p.get("threshold"))
        if kind is RuleKind.EMOJI:
            return _("more than {count} emoji").format(count=p.get("threshold"))
        if kind is RuleKind.MENTIONS:
            return _("more than {count} mentions").format(count=p.get("threshold"))
        if kind is RuleKind.ATTACHMENTS:
            return _("files of type {types}").format(types=", ".join(p.get("types", [])))
        return _("accounts younger than {age}").format(
            age=format_duration(int(p.get("min_age_seconds", 0)))
        )


# -------------------------------------------------------------------------------- parsing


def parse_items(text: str | None, *, what: str, lower: bool = True) -> list[str]:
    """A comma-separated list as staff type it: trimmed, de-duplicated, in order."""
    items: list[str] = []
    for raw in (text or "").split(","):
        item = " ".join(raw.split())
        if lower:
            item = item.casefold()
        if not item or item in items:
            continue
        if len(item) > MAX_ITEM_LENGTH:
            raise ValidationError(
                _("Each of the {what} can be at most {limit} characters: {item} is longer.").format(
                    what=what, limit=MAX_ITEM_LENGTH, item=shown_input(item)
                )
            )
        items.append(item)
    if len(items) > MAX_ITEMS:
        raise ValidationError(
            _("A rule can hold at most {limit} {what}.").format(limit=MAX_ITEMS, what=what)
        )
    return items


def compile_pattern(pattern: str) -> Any:
    """The RE2 program of `pattern`, or a refusal that says why it cannot be used."""
    if not pattern.strip():
        raise ValidationError(_("A regular expression rule needs a pattern."))
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValidationError(
            _("A pattern can be at most {limit} characters.").format(limit=MAX_PATTERN_LENGTH)
        )
    try:
        return re2.compile(pattern, re2_options())
    except re2.error as error:
        reason = error.args[0] if error.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise ValidationError(
            _(
                "The pattern {pattern} can't be used: {reason}. Patterns run in linear time "
                "(RE2), so look-arounds and back-references are not supported."
            ).format(pattern=shown_input(pattern), reason=reason or _("RE2 refused it"))
        ) from None


# The memory RE2 may use for one guild's set of patterns (its program and the cache of the
# automaton it runs): room for the largest guilds' rules (100 rules of 100 words compile in
# about 20 MB); a guild whose rules do not fit is refused a rule when it is added.
SET_MAX_MEMORY = 64 << 20


def re2_options(*, max_mem: int | None = None) -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is answered, not logged
    if max_mem is not None:
        options.max_mem = max_mem
    return options


def _parse_action(text: str) -> Action:
    words = text.replace(":", " ").split()
    if not words:
        raise ValidationError(
            _("An action is missing. Actions: {actions}.").format(actions=ACTION_FORMS)
        )
    try:
        kind = ActionType(words[0].casefold())
    except ValueError:
        raise ValidationError(
            _("{text} is not an action. Actions: {actions}.").format(
                text=shown_input(words[0]), actions=ACTION_FORMS
            )
        ) from None
    rest = words[1:]
    if kind is ActionType.TIMEOUT:
        if len(rest) != 1:
            raise ValidationError(_("A timeout needs a duration, e.g. `timeout 1h` (at most 28d)."))
        seconds = parse_duration(rest[0], maximum=MAX_TIMEOUT_SECONDS)
        return Action(kind, duration_seconds=seconds)
    if kind is ActionType.WARN:
        if not rest:
            return Action(kind, level=MIN_WARN_LEVEL)
        if len(rest) == 1 and rest[0].isdigit():
            level = int(rest[0])
            if MIN_WARN_LEVEL <= level <= MAX_WARN_LEVEL:
                return Action(kind, level=level)
        raise ValidationError(
            _("A warning's level is a number from {low} to {high}, e.g. `warn 2`.").format(
                low=MIN_WARN_LEVEL, high=MAX_WARN_LEVEL
            )
        )
    if rest:
        raise ValidationError(
            _("`{action}` takes nothing after it. Actions: {actions}.").format(
                action=kind.value, actions=ACTION_FORMS
            )
        )
    return Action(kind)


def parse_actions(text: str) -> tuple[Action, ...]:
    """`delete, warn 2, timeout 1h` → the actions, each type once."""
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise ValidationError(
            _("A rule needs at least one action. Actions: {actions}.").format(actions=ACTION_FORMS)
        )
    actions: list[Action] = []
    for part in parts:
        action = _parse_action(part)
        if any(known.type is action.type for known in actions):
            raise ValidationError(_("`{action}` is given twice.").format(action=action.type.value))
        actions.append(action)
    if len(actions) > MAX_ACTIONS:
        raise ValidationError(
            _("A rule can have at most {limit} actions.").format(limit=MAX_ACTIONS)
        )
    return tuple(actions)


def parse_escalation(text: str | None) -> Escalation | None:
    """`3 in 10m: timeout 1h` → the escalation; empty or `none` → no escalation."""
    if text is None or text.strip().casefold() in ("", "none", "off"):
        return None
    words = text.replace("->", " ").replace("→", " ").replace(":", " ").split()
    if len(words) < 4 or words[1].casefold() != "in" or not words[0].isdigit():
        raise ValidationError(
            _("{text} is not an escalation. Write it as {form}.").format(
                text=shown_input(text), form=_(ESCALATION_FORM)
            )
        )
    hits = int(words[0])
    if not 2 <= hits <= MAX_ESCALATION_HITS:
        raise ValidationError(
            _("An escalation counts from 2 to {limit} hits.").format(limit=MAX_ESCALATION_HITS)
        )
    window = parse_duration(words[2], maximum=MAX_ESCALATION_WINDOW)
    action = _parse_action(" ".join(words[3:]))
    if action.type in (ActionType.DELETE, ActionType.LOG):
        raise ValidationError(_("An escalation warns, times out, kicks or bans."))
    return Escalation(hits, window, action)


def parse_threshold(kind: RuleKind, value: int | None) -> int:
    low, high = THRESHOLD_BOUNDS[kind]
    if value is None:
        return DEFAULT_THRESHOLDS[kind]
    if not low <= value <= high:
        raise ValidationError(
            _("For a {kind} rule the threshold is from {low} to {high}.").format(
                kind=kind.value, low=low, high=high
            )
        )
    return value


def _domain(item: str) -> str:
    domain = item.removeprefix("https://").removeprefix("http://").split("/")[0]
    domain = domain.removeprefix("www.").strip(".")
    if not domain or " " in domain or "." not in domain:
        raise ValidationError(
            _("{text} is not a domain (e.g. `example.com`).").format(text=shown_input(item))
        )
    return domain


def _invite_code(item: str) -> str:
    code = item.rstrip("/").rsplit("/", 1)[-1]
    if not code.replace("-", "").isalnum():
        raise ValidationError(
            _("{text} is not an invite code or link.").format(text=shown_input(item))
        )
    return code


def _file_type(item: str) -> str:
    item = item.removeprefix("*").removeprefix(".")
    if not item or " " in item:
        raise ValidationError(
            _("{text} is not a file type (e.g. `exe` or `image/*`).").format(text=shown_input(item))
        )
    return item


def build_params(
    kind: RuleKind,
    *,
    pattern: str | None = None,
    allow: str | None = None,
    deny: str | None = None,
    whole_word: bool | None = None,
    threshold: int | None = None,
    min_account_age: str | None = None,
) -> dict[str, Any]:
    """The stored parameters of a rule of `kind`, from what staff typed; a refusal names what
    is missing or wrong."""
    if kind is RuleKind.WORDS:
        words = [normalize_phrase(word) for word in parse_items(pattern, what=_("words"))]
        words = [word for word in dict.fromkeys(words) if word]
        if not words:
            raise ValidationError(_("A words rule needs words or phrases, separated by commas."))
        return {"words": words, "whole_word": True if whole_word is None else whole_word}
    if kind is RuleKind.REGEX:
        compile_pattern(pattern or "")
        return {"pattern": pattern}
    if kind is RuleKind.INVITES:
        items = parse_items(allow, what=_("invites"), lower=False)
        guilds = [int(item) for item in items if item.isdigit() and 15 <= len(item) <= 20]
        codes = [_invite_code(item) for item in items if not item.isdigit()]
        return {"allow": codes, "allow_guilds": guilds}
    if kind is RuleKind.LINKS:
        allowed = [_domain(item) for item in parse_items(allow, what=_("domains"))]
        denied = [_domain(item) for item in parse_items(deny, what=_("domains"))]
        if not allowed and not denied:
            raise ValidationError(
                _("A links rule needs domains to deny, or the only domains to allow (or both).")
            )
        return {"allow": allowed, "deny": denied}
    if kind in THRESHOLD_BOUNDS:
        return {"threshold": parse_threshold(kind, threshold)}
    if kind is RuleKind.ATTACHMENTS:
        types = [_file_type(item) for item in parse_items(pattern, what=_("file types"))]
        if not types:
            raise ValidationError(
                _("An attachments rule needs file types, e.g. `exe, scr, application/*`.")
            )
        return {"types": types}
    age = (
        parse_duration(min_account_age, maximum=365 * 86400)
        if min_account_age
        else DEFAULT_MIN_ACCOUNT_AGE
    )
    return {"min_age_seconds": age}


def clean_ids(ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in ids})


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError(_("A rule needs a name."))
    if len(name) > 100:
        raise ValidationError(_("A rule's name can be at most 100 characters."))
    return name


def actions_json(actions: Sequence[Action]) -> list[dict[str, Any]]:
    return [action.to_json() for action in actions]
