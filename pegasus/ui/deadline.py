"""No slash command left unanswered when the database (or anything else) is slow.

Discord drops an interaction that gets no first response within 3 seconds, and a command that
waits on a hanging database would miss it: statement timeouts must be longer than that, for
honest slow queries. So every slash command arms a deadline when its checks start. If it has not
answered when the deadline passes, the bot defers for it (Discord shows "thinking…", privately),
and the command's own first answer, when it comes, fills that message instead. The command runs
to its end either way: it is never cancelled halfway, so what it tells the person (its result, or
that the database is not reachable and nothing was changed) stays true.

A deferred answer is ephemeral: a command slow enough to need this loses its public reply, which
is the price of being answered at all. Commands known to be slow defer first themselves.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord.interactions import InteractionResponse

log = logging.getLogger(__name__)

ANSWER_DEADLINE = 2.0  # seconds: the deferral reaches Discord before its 3 seconds

# send_message's options that a followup does not take (or takes under another meaning).
NOT_FOR_FOLLOWUP = ("delete_after",)


class DeadlineResponse(InteractionResponse):  # type: ignore[type-arg]
    """An interaction's response that the deadline can defer without the command noticing:
    after that, `send_message` sends the first followup (which fills the deferral) and
    `defer` does nothing."""

    __slots__ = ("_answering", "deferred_by_deadline")

    def __init__(self, parent: discord.Interaction) -> None:
        super().__init__(parent)
        self._answering = asyncio.Lock()  # the deadline and the command never answer at once
        self.deferred_by_deadline = False

    async def defer_for_command(self) -> bool:
        async with self._answering:
            if self.is_done():
                return False
            await super().defer(ephemeral=True, thinking=True)
            self.deferred_by_deadline = True
            return True

    async def defer(self, **kwargs: Any) -> Any:
        async with self._answering:
            if self.deferred_by_deadline:
                return None
            return await super().defer(**kwargs)

    async def send_message(self, content: Any = None, **kwargs: Any) -> Any:
        async with self._answering:
            if not self.deferred_by_deadline:
                return await super().send_message(content, **kwargs)
        options = {
            key: value
            for key, value in kwargs.items()
            if key not in NOT_FOR_FOLLOWUP and value is not None
        }
        return await self._parent.followup.send(content, **options)


class AnswerDeadline:
    """An interaction check that never refuses: it arms the deadline of a slash command."""

    def __init__(self, after: float = ANSWER_DEADLINE) -> None:
        self.after = after
        self._deferrals: set[asyncio.Task[None]] = set()

    async def __call__(self, interaction: discord.Interaction) -> None:
        handler = asyncio.current_task()
        if interaction.type is not discord.InteractionType.application_command or handler is None:
            return
        if interaction.response.is_done():
            return
        response = DeadlineResponse(interaction)
        interaction._cs_response = response  # type: ignore[attr-defined]  # what .response returns
        timer = asyncio.get_running_loop().call_later(
            self.after, self._expired, interaction, response, handler
        )
        handler.add_done_callback(lambda _done: timer.cancel())

    def _expired(
        self,
        interaction: discord.Interaction,
        response: DeadlineResponse,
        handler: asyncio.Task[object],
    ) -> None:
        if handler.done() or response.is_done():
            return
        task = asyncio.ensure_future(self._defer(interaction, response))
        self._deferrals.add(task)
        task.add_done_callback(self._deferrals.discard)

    async def _defer(self, interaction: discord.Interaction, response: DeadlineResponse) -> None:
        try:
            deferred = await response.defer_for_command()
        except discord.HTTPException as error:
            log.warning("Could not defer slow interaction %s: %s", interaction.id, error)
            return
        if deferred:
            log.info(
                "Deferred interaction %s for its command: no answer after %.1f s",
                interaction.id,
                self.after,
            )
