"""Warnings: issue with a case, edits kept with before/after, removal, expiry, history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from random import Random

import pytest

from models.moderation import CaseType, MemberWarning, ModCase, WarningEdit, WarningEditKind
from models.scheduling import ActionStatus, ScheduledAction
from pegasus.errors import ConflictError, NotFoundError, ValidationError
from pegasus.services import moderation

GUILD = 111_111_111_111_111_111
MOD = 900_000_000_000_000_001
OTHER_MOD = 900_000_000_000_000_002
ALICE = 800_000_000_000_000_001
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def warn(user_id: int = ALICE, **kwargs) -> moderation.IssuedWarning:
    kwargs.setdefault("title", "Spamming")
    kwargs.setdefault("now", NOW)
    return await moderation.issue_warning(
        guild_id=GUILD, user_id=user_id, moderator_id=MOD, **kwargs
    )


async def test_warning_creates_its_case(db: str) -> None:
    issued = await warn(
        description="Posted the same link 10 times",
        level=3,
        proof=["https://example.com/shot.png"],
        rng=Random(1),
    )

    warning, case = issued.warning, issued.case
    assert warning.warn_id.startswith("W-") and len(warning.warn_id) == 7
    assert warning.case_id == case.id
    assert case.type == CaseType.WARN and case.case_number == 1
    assert case.reason == "Spamming" and case.proof == ("https://example.com/shot.png",)
    assert case.metadata == {"warn_id": warning.warn_id, "level": 3}
    stored = await MemberWarning.get(id=warning.id)
    assert (stored.level, stored.active, stored.description) == (
        3,
        True,
        "Posted the same link 10 times",
    )
    assert issued.fired == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": "  "}, "needs a title"),
        ({"title": "x" * 257}, "at most 256"),
        ({"level": 0}, "between 1 and 5"),
        ({"level": 6}, "between 1 and 5"),
        ({"proof": ["not a link"]}, "must be a link"),
        ({"expires_in_seconds": 0}, "in the future"),
    ],
)
async def test_invalid_warnings_are_refused(db: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        await warn(**kwargs)
    assert await ModCase.all().count() == 0


async def test_warning_with_expiry_schedules_it_and_expires_once(db: str) -> None:
    issued = await warn(expires_in_seconds=7 * 86400)

    timer = await ScheduledAction.get(kind=moderation.KIND_WARNING_EXPIRE)
    assert timer.due_at == NOW + timedelta(days=7)
    assert timer.payload == {"warning_id": issued.warning.id}
    later = NOW + timedelta(days=7)
    results = await asyncio.gather(
        *(moderation.expire_warning(issued.warning.id, now=later) for _ in range(3))
    )
    assert sorted(results) == [False, False, True]
    stored = await MemberWarning.get(id=issued.warning.id)
    assert not stored.active
    [edit] = await WarningEdit.filter(warning_id=stored.id)
    assert edit.kind == WarningEditKind.EXPIRE and edit.editor_id is None  # type: ignore[attr-defined]


async def test_list_warnings_active_and_all(db: str) -> None:
    first = await warn(title="one")
    second = await warn(title="two", now=NOW + timedelta(minutes=1), expires_in_seconds=60)
    third = await warn(title="three", now=NOW + timedelta(minutes=2))
    await moderation.remove_warning(GUILD, first.warning.warn_id, remover_id=MOD, now=NOW)

    later = NOW + timedelta(minutes=5)  # second has expired (its timer has not run yet)
    everything = await moderation.list_warnings(GUILD, ALICE, now=later)
    counting = await moderation.list_warnings(GUILD, ALICE, now=later, include_inactive=False)
    assert [w.title for w in everything] == ["three", "two", "one"]
    assert [w.warn_id for w in counting] == [third.warning.warn_id]
    assert second.warning.expires_at is not None


async def test_edit_keeps_before_and_after(db: str) -> None:
    issued = await warn(level=2)
    later = NOW + timedelta(hours=1)

    warning, edit = await moderation.edit_warning(
        GUILD, issued.warning.warn_id.lower(), editor_id=OTHER_MOD, now=later, level=4
    )
    await moderation.edit_warning(
        GUILD, issued.warning.warn_id, editor_id=MOD, now=later, title="Spam", description="d"
    )

    assert warning.level == 4
    assert (warning.edited_by_id, warning.edited_at) == (OTHER_MOD, later)
    assert (edit.before, edit.after) == ({"level": 2}, {"level": 4})
    stored = await MemberWarning.get(id=issued.warning.id)
    assert (stored.title, stored.description, stored.level) == ("Spam", "d", 4)
    assert stored.edited_by_id == MOD and stored.edited_at == later  # type: ignore[attr-defined]
    _, history = await moderation.warning_history(GUILD, issued.warning.warn_id)
    assert [(h.kind, h.before, h.after) for h in history] == [
        ("edit", {"level": 2}, {"level": 4}),
        ("edit", {"title": "Spamming", "description": None}, {"title": "Spam", "description": "d"}),
    ]
    assert history[0].editor_id == OTHER_MOD


async def test_edit_refusals(db: str) -> None:
    issued = await warn(level=2)
    warn_id = issued.warning.warn_id
    with pytest.raises(ValidationError, match="Say what to change"):
        await moderation.edit_warning(GUILD, warn_id, editor_id=MOD, now=NOW)
    with pytest.raises(ValidationError, match="nothing changed"):
        await moderation.edit_warning(GUILD, warn_id, editor_id=MOD, now=NOW, level=2)
    with pytest.raises(NotFoundError):
        await moderation.edit_warning(GUILD, "W-ZZZZZ", editor_id=MOD, now=NOW, level=3)
    with pytest.raises(NotFoundError):  # another guild's warning is not found here
        await moderation.edit_warning(222, warn_id, editor_id=MOD, now=NOW, level=3)
    await moderation.remove_warning(GUILD, warn_id, remover_id=MOD, now=NOW)
    with pytest.raises(ConflictError, match="was removed"):
        await moderation.edit_warning(GUILD, warn_id, editor_id=MOD, now=NOW, level=3)


async def test_remove_is_kept_and_cancels_expiry(db: str) -> None:
    issued = await warn(expires_in_seconds=3600)

    removed = await moderation.remove_warning(
        GUILD, issued.warning.warn_id, remover_id=OTHER_MOD, now=NOW, reason="mistake"
    )

    assert not removed.active
    assert (removed.removed_by_id, removed.removed_reason) == (OTHER_MOD, "mistake")
    stored = await MemberWarning.get(id=issued.warning.id)
    assert (stored.active, stored.removed_reason, stored.removed_at) == (False, "mistake", NOW)
    assert stored.removed_by_id == OTHER_MOD  # type: ignore[attr-defined]
    timer = await ScheduledAction.get(kind=moderation.KIND_WARNING_EXPIRE)
    assert timer.status == ActionStatus.CANCELLED
    _, history = await moderation.warning_history(GUILD, issued.warning.warn_id)
    assert [(h.kind, h.reason) for h in history] == [("remove", "mistake")]
    with pytest.raises(ConflictError, match="already removed"):
        await moderation.remove_warning(GUILD, issued.warning.warn_id, remover_id=MOD, now=NOW)
    # A removed warning does not expire later either.
    assert not await moderation.expire_warning(issued.warning.id, now=NOW + timedelta(hours=2))


async def test_concurrent_warnings_each_get_a_case(db: str) -> None:
    results = await asyncio.gather(*(warn(title=f"w{i}") for i in range(15)))

    numbers = sorted(r.case.case_number for r in results)
    assert numbers == list(range(1, 16))
    assert len({r.warning.warn_id for r in results}) == 15
