"""Hits: each message that set off a rule, stored, and the escalation counted from them.

A hit is written before the rule's actions run, so escalation ("3 hits in 10 minutes → timeout")
counts stored rows and holds across a restart; the hit that escalates is marked, and only hits
after it count towards the next escalation. Once the actions ran, the hit is completed with what
was done and the case or warning that recorded it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.automod import AutomodHit, AutomodRule
from pegasus.services.audit import ensure_rows
from pegasus.services.automod.rules import Rule

__all__ = ["EXCERPT_LENGTH", "Hit", "complete_hit", "count_hits", "record_hit"]

EXCERPT_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    escalated: bool  # this hit set off the rule's escalation


def excerpt(content: str) -> str:
    text = " ".join(content.split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


async def record_hit(
    *,
    guild_id: int,
    rule: Rule,
    user_id: int,
    channel_id: int,
    message_id: int | None,
    content: str,
    reason: str,
    now: datetime,
) -> Hit | None:
    """Store the hit and decide, from the stored hits, whether it sets off the escalation.

    None: this message set off this rule before (a replayed event, an edit that offends the same
    way, the same message handled twice at once): it was acted on then, and is not again.
    """
    await ensure_rows(guild_id, [user_id])
    try:
        return await _store_hit(
            guild_id=guild_id,
            rule=rule,
            user_id=user_id,
            channel_id=channel_id,
            message_id=message_id,
            content=content,
            reason=reason,
            now=now,
        )
    except IntegrityError:
        # The unique (guild, message, rule) refused it; the transaction rolled back, so the
        # escalation count holds only the first.
        return None


async def _store_hit(
    *,
    guild_id: int,
    rule: Rule,
    user_id: int,
    channel_id: int,
    message_id: int | None,
    content: str,
    reason: str,
    now: datetime,
) -> Hit:
    async with in_transaction() as conn:
        # The rule's row, locked: hits of one rule are counted one at a time, so two messages
        # at once cannot both (or neither) be the one that escalates. None: the rule is gone.
        locked = await AutomodRule.filter(id=rule.id).select_for_update().using_db(conn).first()
        row = await AutomodHit.create(
            guild_id=guild_id,
            rule_id=rule.id if locked else None,
            rule_name=rule.name,
            user_id=user_id,
            channel_id=channel_id,
            message_id=message_id,
            excerpt=excerpt(content),
            reason=reason[:200],
            created_at=now,
            using_db=conn,
        )
        escalation = rule.escalation
        if escalation is None or not locked:
            return Hit(row.id, False)
        mine = AutomodHit.filter(rule_id=rule.id, user_id=user_id).using_db(conn)
        last = (
            await mine.filter(escalated=True).order_by("-id").first().values_list("id", flat=True)
        )
        counted = mine.filter(created_at__gte=now - timedelta(seconds=escalation.window_seconds))
        if last is not None:
            counted = counted.filter(id__gt=last)
        if await counted.count() < escalation.hits:
            return Hit(row.id, False)
        await AutomodHit.filter(id=row.id).using_db(conn).update(escalated=True)
        return Hit(row.id, True)


async def complete_hit(
    hit_id: int,
    actions: Sequence[str],
    *,
    case_id: int | None = None,
    warning_id: int | None = None,
) -> None:
    """Record what was done about the hit, and the case or warning that holds it."""
    await AutomodHit.filter(id=hit_id).update(
        actions=list(actions), case_id=case_id, warning_id=warning_id
    )


async def count_hits(guild_id: int, user_id: int) -> int:
    return await AutomodHit.filter(guild_id=guild_id, user_id=user_id).count()
