"""Automod: per-guild filters on what members say, and what is done when one fires.

`rules` holds the values and parses what staff type (kinds, actions, escalation; patterns
checked by RE2), `normalize` turns filtered words into patterns that see through evasions,
`engine` decides in memory which rules a message sets off, `store` keeps the rules (audited,
announced to every process) and the per-guild compiled copy, `hits` stores each hit and counts
escalation from them. Nothing here talks to Discord: the cog performs the actions.
"""

from __future__ import annotations

from pegasus.services.automod.engine import FileFacts, Firing, GuildRules, MessageFacts
from pegasus.services.automod.hits import Hit, complete_hit, count_hits, record_hit
from pegasus.services.automod.normalize import fold_text, normalize_phrase, word_pattern
from pegasus.services.automod.rules import (
    ACTION_FORMS,
    ESCALATION_FORM,
    SEVERITY,
    Action,
    ActionType,
    Escalation,
    Rule,
    RuleKind,
    compile_pattern,
    parse_actions,
    parse_escalation,
)
from pegasus.services.automod.store import (
    FEATURE,
    MAX_RULES_PER_GUILD,
    RuleCache,
    add_rule,
    compile_rules,
    edit_rule,
    get_rule,
    list_rules,
    remove_rule,
)

__all__ = [
    "ACTION_FORMS",
    "ESCALATION_FORM",
    "FEATURE",
    "MAX_RULES_PER_GUILD",
    "SEVERITY",
    "Action",
    "ActionType",
    "Escalation",
    "FileFacts",
    "Firing",
    "GuildRules",
    "Hit",
    "MessageFacts",
    "Rule",
    "RuleCache",
    "RuleKind",
    "add_rule",
    "compile_pattern",
    "compile_rules",
    "complete_hit",
    "count_hits",
    "edit_rule",
    "fold_text",
    "get_rule",
    "list_rules",
    "normalize_phrase",
    "parse_actions",
    "parse_escalation",
    "record_hit",
    "remove_rule",
    "word_pattern",
]
