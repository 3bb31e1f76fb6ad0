"""Reserve → act → confirm or undo: what each outcome does to the reservation."""

from __future__ import annotations

import pytest

from pegasus.ui.flows import run_flow


class Refused(Exception):
    """Stands for Discord refusing the act."""


async def test_a_successful_act_is_confirmed_and_nothing_is_undone() -> None:
    log: list[str] = []

    async def reserve() -> str:
        log.append("reserve")
        return "ticket"

    async def act(reserved: str) -> str:
        log.append(f"act {reserved}")
        return "channel"

    async def confirm(reserved: str, done: str) -> str:
        log.append(f"confirm {reserved} {done}")
        return "attached"

    async def undo(reserved: str, error: BaseException) -> None:
        log.append("undo")

    outcome = await run_flow(reserve=reserve, act=act, confirm=confirm, undo=undo)

    assert outcome.ok and outcome.unwrap() == "attached"
    assert log == ["reserve", "act ticket", "confirm ticket channel"]


async def test_a_refused_act_is_undone_and_its_error_kept() -> None:
    undone: list[tuple[str, BaseException]] = []

    async def act(reserved: str) -> str:
        raise Refused("no")

    async def undo(reserved: str, error: BaseException) -> str:
        undone.append((reserved, error))
        return "refunded"

    async def confirm(reserved: str, done: str) -> str:
        raise AssertionError("a refused act is never confirmed")

    async def reserve() -> str:
        return "purchase"

    outcome = await run_flow(
        reserve=reserve, act=act, confirm=confirm, undo=undo, undo_on=(Refused,)
    )

    assert not outcome.ok and outcome.undone == "refunded"
    assert [(r, type(e)) for r, e in undone] == [("purchase", Refused)]
    with pytest.raises(Refused):
        outcome.unwrap()


async def test_nothing_reserved_means_nothing_done() -> None:
    async def reserve() -> None:
        return None

    async def act(reserved: object) -> None:
        raise AssertionError("nothing was reserved, so nothing is done")

    async def undo(reserved: object, error: BaseException) -> None:
        raise AssertionError("nothing to undo")

    outcome = await run_flow(reserve=reserve, act=act, undo=undo)

    assert outcome.reserved is None and not outcome.ok


async def test_an_error_not_meant_for_undo_is_raised_and_the_reservation_kept() -> None:
    undone: list[object] = []

    async def reserve() -> str:
        return "claim"

    async def act(reserved: str) -> None:
        raise KeyError("a bug, not a refusal")

    async def undo(reserved: str, error: BaseException) -> None:
        undone.append(reserved)

    with pytest.raises(KeyError):
        await run_flow(reserve=reserve, act=act, undo=undo, undo_on=(Refused,))
    assert undone == []


async def test_a_failing_undo_keeps_the_act_error_which_explains_what_happened() -> None:
    async def reserve() -> str:
        return "ticket"

    async def act(reserved: str) -> None:
        raise Refused("Discord said no")

    async def undo(reserved: str, error: BaseException) -> None:
        raise RuntimeError("the database is down too")

    with pytest.raises(Refused) as raised:
        await run_flow(reserve=reserve, act=act, undo=undo, undo_on=(Refused,))
    assert isinstance(raised.value.__cause__, RuntimeError)
