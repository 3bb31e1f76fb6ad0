"""Reserve in the database, act on Discord, then confirm or undo: one shape for every flow that
must keep the two in step.

Discord and the database cannot share a transaction. So a flow first *reserves* what it is about
to do (a ticket row with its number, a claim on an announcement, a paid purchase), then *acts*
on Discord (creates the channel, posts, gives the role), and then either *confirms* the
reservation with what Discord returned, or, when Discord refused, *undoes* it, so the database
never claims what Discord does not show. `run_flow` is that sequence, written once:

    outcome = await run_flow(
        reserve=lambda: tickets.open_ticket(...),
        act=lambda opened: guild.create_text_channel(...),
        confirm=lambda opened, channel: tickets.attach_channel(opened.ticket.id, channel.id, ...),
        undo=lambda opened, error: tickets.abandon_ticket(opened.ticket.id),
        undo_on=(discord.HTTPException,),
    )
    ticket = outcome.unwrap()  # the act's error again, after the undo, if Discord refused

A reservation that comes back None means there was nothing to do (someone else holds it): the
flow stops there, `outcome.reserved` is False. A refusal while reserving needs no undo and is
raised as is. An error of the act that is not in `undo_on` is raised without undoing (for
example a cancelled task, when the reservation should run out by itself instead).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["FlowOutcome", "run_flow"]

log = logging.getLogger(__name__)

R = TypeVar("R")  # what was reserved
A = TypeVar("A")  # what the act on Discord returned
C = TypeVar("C")  # what the confirmation returned
U = TypeVar("U")  # what the undo returned


@dataclass(frozen=True, slots=True)
class FlowOutcome(Generic[R, C, U]):
    """How a flow ended: confirmed, undone after the act failed, or not reserved at all."""

    reserved: R | None
    confirmed: C | None = None
    error: BaseException | None = None  # what the act raised; the reservation was undone
    undone: U | None = None  # what the undo returned

    @property
    def ok(self) -> bool:
        """Reserved, acted and confirmed."""
        return self.reserved is not None and self.error is None

    def unwrap(self) -> C:
        """What the confirmation returned; the act's error (after its undo) if it failed."""
        if self.error is not None:
            raise self.error
        if self.reserved is None:
            problem = "nothing was reserved"  # a misuse of the outcome, for developers
            raise LookupError(problem)
        return self.confirmed  # type: ignore[return-value]


async def run_flow(
    *,
    reserve: Callable[[], Awaitable[R | None]],
    act: Callable[[R], Awaitable[A]],
    undo: Callable[[R, BaseException], Awaitable[U]],
    confirm: Callable[[R, A], Awaitable[C]] | None = None,
    undo_on: tuple[type[BaseException], ...] = (Exception,),
) -> FlowOutcome[R, C, U]:
    """Reserve, act, then confirm, or undo when the act raised one of `undo_on`.

    Without `confirm`, the act's result is the confirmed value. An undo that itself fails is
    logged and the act's error is kept (it is the one that explains what happened); the undo's
    error is chained to it.
    """
    reserved = await reserve()
    if reserved is None:
        return FlowOutcome(reserved=None)
    try:
        done = await act(reserved)
    except undo_on as error:
        try:
            undone = await undo(reserved, error)
        except Exception as undo_error:
            log.error("Undoing %r after %r failed", reserved, error, exc_info=undo_error)
            raise error from undo_error
        return FlowOutcome(reserved=reserved, error=error, undone=undone)
    confirmed = await confirm(reserved, done) if confirm is not None else done
    return FlowOutcome(reserved=reserved, confirmed=confirmed)  # type: ignore[arg-type]
