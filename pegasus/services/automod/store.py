"""Adding, editing, removing and listing a guild's automod rules, and the in-memory copy.

Every change is audited and announced (`pegasus.notify`, topic SETTINGS, feature `automod`), so
each process's `RuleCache` reloads the guild's rules: at once in this process, within a second
in the others on PostgreSQL. The cache knows which guilds have rules at all, so a message in a
guild without rules costs one dictionary lookup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from random import Random
from typing import Any

import re2
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.automod import AutomodRule
from models.ids import new_public_id
from pegasus import notify
from pegasus.errors import ValidationError
from pegasus.i18n import N_, _
from pegasus.services.audit import ensure_rows, record_audit
from pegasus.services.automod.engine import GuildRules
from pegasus.services.automod.rules import (
    Action,
    Escalation,
    Rule,
    RuleKind,
    actions_json,
    build_params,
    clean_ids,
    clean_name,
)
from pegasus.services.ids import PublicIdKind

__all__ = [
    "FEATURE",
    "MAX_RULES_PER_GUILD",
    "RULE",
    "RuleCache",
    "add_rule",
    "edit_rule",
    "get_rule",
    "list_rules",
    "remove_rule",
]

FEATURE = "automod"
MAX_RULES_PER_GUILD = 100
RULE = PublicIdKind(N_("There is no automod rule {id} in this server."))
_ID_ATTEMPTS = 5

log = logging.getLogger(__name__)


def _state(row: AutomodRule) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": str(row.kind),
        "params": row.params,
        "exempt_roles": row.exempt_roles,
        "exempt_channels": row.exempt_channels,
        "actions": row.actions,
        "escalation": row.escalation,
        "enabled": row.enabled,
    }


async def _announce(guild_id: int) -> None:
    await notify.announce(notify.Topic.SETTINGS, guild_id, FEATURE)


async def add_rule(
    *,
    guild_id: int,
    actor_id: int,
    name: str,
    kind: RuleKind,
    actions: tuple[Action, ...],
    pattern: str | None = None,
    allow: str | None = None,
    deny: str | None = None,
    whole_word: bool | None = None,
    threshold: int | None = None,
    min_account_age: str | None = None,
    exempt_roles: Iterable[int] = (),
    exempt_channels: Iterable[int] = (),
    escalation: Escalation | None = None,
    rng: Random | None = None,
) -> Rule:
    """Store a new rule; every part is checked first, so nothing is stored when one is wrong."""
    kind = RuleKind(kind)
    name = clean_name(name)
    params = build_params(
        kind,
        pattern=pattern,
        allow=allow,
        deny=deny,
        whole_word=whole_word,
        threshold=threshold,
        min_account_age=min_account_age,
    )
    if not actions:
        raise ValidationError(_("A rule needs at least one action."))
    draft = Rule(
        id=0,
        rule_id="",
        guild_id=guild_id,
        name=name,
        kind=kind,
        params=params,
        exempt_roles=frozenset(),
        exempt_channels=frozenset(),
        actions=tuple(actions),
        escalation=escalation,
        enabled=True,
        created_by_id=actor_id,
        created_at=datetime.now(UTC),
    )
    await _check_fits(guild_id, draft)
    await ensure_rows(guild_id, [actor_id])
    for attempt in range(_ID_ATTEMPTS):
        try:
            async with in_transaction() as conn:
                count = await AutomodRule.filter(guild_id=guild_id).using_db(conn).count()
                if count >= MAX_RULES_PER_GUILD:
                    raise ValidationError(
                        _("A server can have at most {limit} automod rules.").format(
                            limit=MAX_RULES_PER_GUILD
                        )
                    )
                row = await AutomodRule.create(
                    rule_id=new_public_id("AM", rng=rng),
                    guild_id=guild_id,
                    name=name,
                    kind=kind,
                    params=params,
                    exempt_roles=clean_ids(exempt_roles),
                    exempt_channels=clean_ids(exempt_channels),
                    actions=actions_json(actions),
                    escalation=escalation.to_json() if escalation else None,
                    enabled=True,
                    created_by_id=actor_id,
                    using_db=conn,
                )
                await record_audit(
                    guild_id=guild_id,
                    actor_id=actor_id,
                    action="automod.add",
                    target_type="automod_rule",
                    target_id=row.rule_id,
                    after=_state(row),
                    using_db=conn,
                )
            break
        except IntegrityError:
            if attempt == _ID_ATTEMPTS - 1:
                raise
    await _announce(guild_id)
    return Rule.from_row(row)


async def _row(guild_id: int, rule_id: str) -> AutomodRule:
    row = await AutomodRule.get_or_none(guild_id=guild_id, rule_id=RULE.parse(rule_id))
    if row is None:
        raise RULE.not_found(rule_id)
    return row


async def get_rule(guild_id: int, rule_id: str) -> Rule:
    return Rule.from_row(await _row(guild_id, rule_id))


async def list_rules(guild_id: int) -> list[Rule]:
    rows = await AutomodRule.filter(guild_id=guild_id).order_by("id")
    return [Rule.from_row(row) for row in rows]


_UNSET: Any = object()


async def edit_rule(
    *,
    guild_id: int,
    rule_id: str,
    actor_id: int,
    name: str | None = None,
    actions: tuple[Action, ...] | None = None,
    pattern: str | None = None,
    allow: str | None = None,
    deny: str | None = None,
    whole_word: bool | None = None,
    threshold: int | None = None,
    min_account_age: str | None = None,
    exempt_roles: Iterable[int] | None = None,
    exempt_channels: Iterable[int] | None = None,
    escalation: Escalation | None = _UNSET,
    enabled: bool | None = None,
) -> Rule:
    """Change the parts given; what the rule looks for is rebuilt from the old values with the
    new ones over them, and checked as when it was added."""
    row = await _row(guild_id, rule_id)
    before = _state(row)
    kind = RuleKind(row.kind)
    looks_for = (pattern, allow, deny, whole_word, threshold, min_account_age)
    if any(value is not None for value in looks_for):
        row.params = build_params(kind, **_merged(kind, row.params, *looks_for))
    if name is not None:
        row.name = clean_name(name)
    if actions is not None:
        if not actions:
            raise ValidationError(_("A rule needs at least one action."))
        row.actions = actions_json(actions)
    if exempt_roles is not None:
        row.exempt_roles = clean_ids(exempt_roles)
    if exempt_channels is not None:
        row.exempt_channels = clean_ids(exempt_channels)
    if escalation is not _UNSET:
        row.escalation = escalation.to_json() if escalation else None
    if enabled is not None:
        row.enabled = enabled
    after = _state(row)
    if after == before:
        raise ValidationError(_("Nothing to change: give at least one new value."))
    if row.enabled:
        await _check_fits(guild_id, Rule.from_row(row))
    await ensure_rows(guild_id, [actor_id])
    async with in_transaction() as conn:
        await row.save(using_db=conn)
        await record_audit(
            guild_id=guild_id,
            actor_id=actor_id,
            action="automod.edit",
            target_type="automod_rule",
            target_id=row.rule_id,
            before=before,
            after=after,
            using_db=conn,
        )
    await _announce(guild_id)
    return Rule.from_row(row)


def _merged(
    kind: RuleKind,
    params: dict[str, Any],
    pattern: str | None,
    allow: str | None,
    deny: str | None,
    whole_word: bool | None,
    threshold: int | None,
    min_account_age: str | None,
) -> dict[str, Any]:
    """`build_params` arguments: the new values, else the stored ones as staff typed them."""
    stored_pattern = params.get("pattern") or ", ".join(
        params.get("words") or params.get("types") or ()
    )
    age = params.get("min_age_seconds")
    return {
        "pattern": pattern if pattern is not None else stored_pattern or None,
        "allow": (
            allow
            if allow is not None
            else ", ".join(map(str, [*params.get("allow", ()), *params.get("allow_guilds", ())]))
            or None
        ),
        "deny": deny if deny is not None else ", ".join(params.get("deny", ())) or None,
        "whole_word": whole_word if whole_word is not None else params.get("whole_word"),
        "threshold": threshold if threshold is not None else params.get("threshold"),
        "min_account_age": (
            min_account_age if min_account_age is not None else (f"{age}s" if age else None)
        ),
    }


async def remove_rule(*, guild_id: int, rule_id: str, actor_id: int) -> Rule:
    """Delete a rule; its hits stay, naming it."""
    row = await _row(guild_id, rule_id)
    rule = Rule.from_row(row)
    await ensure_rows(guild_id, [actor_id])
    async with in_transaction() as conn:
        await row.delete(using_db=conn)
        await record_audit(
            guild_id=guild_id,
            actor_id=actor_id,
            action="automod.remove",
            target_type="automod_rule",
            target_id=rule.rule_id,
            before=_state(row),
            using_db=conn,
        )
    await _announce(guild_id)
    return rule


async def compile_rules(rules: list[Rule]) -> GuildRules:
    """A guild's rules compiled, in a thread: the largest guilds' take a moment (a second for
    100 rules of 100 words), which the event loop does not wait for."""
    return await asyncio.to_thread(GuildRules, rules)


async def _check_fits(guild_id: int, rule: Rule) -> None:
    """Refuse a rule that would make the guild's rules too large to compile together."""
    others = await AutomodRule.filter(guild_id=guild_id, enabled=True).exclude(id=rule.id)
    try:
        await compile_rules([*(Rule.from_row(row) for row in others), rule])
    except re2.error:
        raise ValidationError(
            _(
                "This server's automod rules would grow too large to check every message "
                "quickly: use fewer or shorter words and patterns, or remove a rule first."
            )
        ) from None


class RuleCache:
    """Each guild's compiled rules, for guilds that have enabled rules.

    `load_all` reads which guilds have rules in one query (at start and when announcements may
    have been missed); `reload` rebuilds one guild after a change. Between the two, `get` is a
    dictionary lookup: None for a guild without rules. `by_guild` is that dictionary itself,
    the same object for the cache's life, for the message hook to read without a call.
    """

    def __init__(self) -> None:
        self.by_guild: dict[int, GuildRules] = {}
        self.loaded = False

    def get(self, guild_id: int) -> GuildRules | None:
        return self.by_guild.get(guild_id)

    async def load_all(self) -> None:
        rows = await AutomodRule.filter(enabled=True).order_by("id")
        by_guild: dict[int, list[Rule]] = {}
        for row in rows:
            rule = Rule.from_row(row)
            by_guild.setdefault(rule.guild_id, []).append(rule)
        compiled = {}
        for guild_id, rules in by_guild.items():
            try:
                compiled[guild_id] = await compile_rules(rules)
            except re2.error as error:
                log.error("The automod rules of guild %s do not compile: %s", guild_id, error)
        # Replaced in place: the message hook holds on to the dictionary.
        self.by_guild.clear()
        self.by_guild.update(compiled)
        self.loaded = True

    async def reload(self, guild_id: int) -> None:
        rows = await AutomodRule.filter(guild_id=guild_id, enabled=True).order_by("id")
        if not rows:
            self.by_guild.pop(guild_id, None)
            return
        try:
            self.by_guild[guild_id] = await compile_rules([Rule.from_row(row) for row in rows])
        except re2.error as error:  # the copy compiled before stays
            log.error("The automod rules of guild %s do not compile: %s", guild_id, error)

    async def changed(self, change: notify.Change) -> None:
        """A `notify` subscriber: reload what an announced change made stale."""
        if change.topic is notify.Topic.EVERYTHING:
            await self.load_all()
        elif (
            change.topic is notify.Topic.SETTINGS
            and change.feature in (FEATURE, "")
            and change.guild_id is not None
        ):
            await self.reload(change.guild_id)
