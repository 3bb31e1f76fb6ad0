"""Interactions in flight (what the server waits for) and `Reply`, what a person got back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pegasus.localdiscord.state import (
    Attachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    message_text,
    walk_components,
)

if TYPE_CHECKING:
    from pegasus.localdiscord.server import LocalDiscord

# Interaction types and callback types, as Discord numbers them.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
KIND_NAMES = {
    CHANNEL_MESSAGE: "message",
    DEFERRED_CHANNEL_MESSAGE: "deferred",
    DEFERRED_UPDATE: "deferred_update",
    UPDATE_MESSAGE: "update",
    AUTOCOMPLETE_RESULT: "autocomplete",
    MODAL: "modal",
}


@dataclass
class ModalField:
    custom_id: str
    label: str | None
    style: int
    required: bool
    value: str | None
    min_length: int | None
    max_length: int | None
    type: int = 4


@dataclass
class Modal:
    custom_id: str
    title: str
    components: list[dict[str, Any]]
    interaction: PendingInteraction

    @property
    def fields(self) -> list[ModalField]:
        found: list[ModalField] = []
        for component in self.components:
            label = None
            if component.get("type") == 18:  # Label wrapping one input
                label = component.get("label")
                inner = [component.get("component") or {}]
            else:
                inner = list(walk_components([component]))
            for item in inner:
                if item.get("type") in (3, 4, 5, 6, 7, 8) and item.get("custom_id"):
                    found.append(
                        ModalField(
                            item["custom_id"],
                            item.get("label", label),
                            item.get("style", 1),
                            item.get("required", True),
                            item.get("value"),
                            item.get("min_length"),
                            item.get("max_length"),
                            item["type"],
                        )
                    )
        return found


class PendingInteraction:
    """An interaction sent to the bot, and everything the bot answered to it."""

    def __init__(
        self,
        server: LocalDiscord,
        *,
        id: int,
        token: str,
        type: int,
        member: FakeMember | None,
        channel: FakeChannel,
        guild: FakeGuild | None,
        what: str,
        message: FakeMessage | None = None,
        command_type: int = 1,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.server = server
        self.id, self.token, self.type = id, token, type
        self.member, self.channel, self.guild = member, channel, guild
        self.what = what
        self.message = message  # the message a component or modal belongs to
        self.command_type = command_type
        self.created = loop.time()
        self.response_type: int | None = None
        self.response: dict[str, Any] | None = None
        self.original: FakeMessage | None = None
        self.modal: Modal | None = None
        self.choices: list[dict[str, Any]] | None = None
        self.followups: list[FakeMessage] = []
        self.loading = False
        self.acked: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        self.changed = asyncio.Event()
        self.reply = Reply(self)

    @property
    def deferred(self) -> bool:
        return self.response_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE)

    def on_callback(self, type: int, data: dict[str, Any]) -> None:
        self.response_type = type
        self.response = data
        if not self.acked.done():
            self.acked.set_result(None)
        if type != DEFERRED_CHANNEL_MESSAGE and not self.done.done():
            self.done.set_result(None)
        self._changed()

    def on_filled(self) -> None:
        """The deferred ("thinking") response got its content."""
        self.loading = False
        if not self.done.done():
            self.done.set_result(None)
        self._changed()

    def on_followup(self, message: FakeMessage) -> None:
        self.followups.append(message)
        self._changed()

    def _changed(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class Reply:
    """What an interaction got back. Attributes follow the response as it changes."""

    def __init__(self, pending: PendingInteraction) -> None:
        self._p = pending
        self._followup_cursor = 0
        self._edit_cursor = 0

    def __repr__(self) -> str:
        eph = " ephemeral" if self.ephemeral else ""
        return f"<Reply {self.kind}{eph} to {self._p.what}: {self.text[:80]!r}>"

    # what it is ----------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return KIND_NAMES.get(self._p.response_type or 0, "none")

    @property
    def interaction_id(self) -> int:
        return self._p.id

    @property
    def token(self) -> str:
        return self._p.token

    @property
    def deferred(self) -> bool:
        return self._p.deferred

    @property
    def message(self) -> FakeMessage | None:
        """The response message; for a button that updated its message, that message."""
        if self._p.response_type in (UPDATE_MESSAGE, DEFERRED_UPDATE):
            return self._p.message
        return self._p.original

    @property
    def modal(self) -> Modal | None:
        return self._p.modal

    @property
    def choices(self) -> list[dict[str, Any]]:
        return list(self._p.choices or [])

    @property
    def followups(self) -> list[FakeMessage]:
        return list(self._p.followups)

    # what it shows -------------------------------------------------------------------------
    @property
    def ephemeral(self) -> bool:
        msg = self.message
        return bool(msg and msg.ephemeral)

    @property
    def content(self) -> str | None:
        msg = self.message
        return msg.content if msg is not None else None

    @property
    def embeds(self) -> list[dict[str, Any]]:
        msg = self.message
        return list(msg.embeds) if msg is not None else []

    @property
    def embed(self) -> dict[str, Any] | None:
        embeds = self.embeds
        return embeds[0] if embeds else None

    @property
    def text(self) -> str:
        if self.modal is not None:
            return f"[modal {self.modal.title}]"
        return message_text(self.content, self.embeds)

    @property
    def components(self) -> list[dict[str, Any]]:
        msg = self.message
        return list(msg.components) if msg is not None else []

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in walk_components(self.components) if c.get("type") == 2]

    @property
    def attachments(self) -> list[Attachment]:
        msg = self.message
        return list(msg.attachments) if msg is not None else []

    # what comes next -----------------------------------------------------------------------
    async def next_followup(self, timeout: float = 5.0) -> FakeMessage:
        """The next followup message not yet returned by this method."""
        p = self._p

        async def arrived() -> FakeMessage:
            while len(p.followups) <= self._followup_cursor:
                await p.changed.wait()
            return p.followups[self._followup_cursor]

        found = await p.server.wait(arrived(), timeout=timeout, what=f"a followup to {p.what}")
        self._followup_cursor += 1
        return found

    async def wait_edit(self, timeout: float = 5.0) -> FakeMessage:
        """The response message after its next edit by the bot."""
        p = self._p

        async def edited() -> FakeMessage:
            while True:
                msg = self.message
                if msg is not None and len(msg.edits) > self._edit_cursor:
                    return msg
                await p.changed.wait()

        found = await p.server.wait(edited(), timeout=timeout, what=f"an edit of {p.what}")
        self._edit_cursor = len(found.edits)
        return found

    def _mark_seen(self) -> None:
        msg = self.message
        self._edit_cursor = len(msg.edits) if msg is not None else 0
