"""Errors whose text is what the user reads.

Services raise these; the command tree turns them into an ephemeral reply. Anything else that
escapes a command is unexpected: it is logged with a reference id and the user is shown that id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pegasus.i18n import N_, _, format_utc


@dataclass(frozen=True, slots=True)
class Ref:
    """Someone or something a refusal names: Discord shows a mention, other clients plain text."""

    kind: Literal["user", "role", "channel", "time"]
    value: int  # a Discord id, or a Unix time for "time"

    def for_discord(self) -> str:
        if self.kind == "time":
            return f"<t:{self.value}:R>"
        prefix = {"user": "@", "role": "@&", "channel": "#"}[self.kind]
        return f"<{prefix}{self.value}>"

    def plain(self) -> str:
        if self.kind == "time":
            return format_utc(datetime.fromtimestamp(self.value, UTC))
        return f"{self.kind} {self.value}"


def user_ref(user_id: int) -> Ref:
    return Ref("user", user_id)


def role_ref(role_id: int) -> Ref:
    return Ref("role", role_id)


def channel_ref(channel_id: int) -> Ref:
    return Ref("channel", channel_id)


def time_ref(moment: datetime) -> Ref:
    return Ref("time", int(moment.timestamp()))


class PegasusError(Exception):
    """Base of every error that carries its own user-facing message.

    A message may name members, roles, channels or moments as `{placeholders}` given as `Ref`s:
    services write no Discord markup, so `str(error)` (what Discord shows) renders mentions and
    `error.plain()` (for the REST API) plain words.
    """

    def __init__(self, message: str, **refs: Ref) -> None:
        self.template = message
        self.refs = refs
        self.message = self._render(Ref.for_discord)
        super().__init__(self.message)

    def _render(self, show: Callable[[Ref], str]) -> str:
        if not self.refs:
            return self.template
        return self.template.format_map({name: show(ref) for name, ref in self.refs.items()})

    def plain(self) -> str:
        return self._render(Ref.plain)

    def __str__(self) -> str:
        return self.message


class ConfigError(PegasusError):
    """A setting is missing or malformed; the message names the variable and the fix."""


class ValidationError(PegasusError):
    """Input from a person was not acceptable; nothing was changed."""


class NotFoundError(PegasusError):
    """The thing asked for does not exist (in this server)."""


class PermissionDenied(PegasusError):
    """The caller may not do this."""


class ConflictError(PegasusError):
    """The action clashes with the current state (already claimed, already ended, ...)."""


class InsufficientFunds(PegasusError):
    """A debit would take a balance below zero."""


class CooldownActive(PegasusError):
    """The action is on cooldown until a known time."""

    def __init__(self, message: str, retry_at: float | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class Blacklisted(PegasusError):
    """The user, channel or guild is blacklisted."""


DATABASE_UNAVAILABLE = N_(
    "The database is not reachable right now; nothing was changed. Try again in a minute."
)


class DatabaseUnavailable(PegasusError):
    """The database is down or did not answer in time (see pegasus.outage)."""

    def __init__(self, message: str = DATABASE_UNAVAILABLE) -> None:
        super().__init__(_(message))


def shown_input(text: object, *, limit: int = 40) -> str:
    """What a person typed, quoted inside a refusal: on one line, shortened, code-formatted.

    Refusals are single-line replies, and Discord drops a reply over 2,000 characters, so raw
    input (which can hold line breaks, backticks or thousands of characters) is never echoed
    as is.
    """
    one_line = " ".join(str(text).split()).replace("`", "'")
    if len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    return f"`{one_line}`" if one_line else _("nothing")
