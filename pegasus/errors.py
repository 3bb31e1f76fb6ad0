"""Errors whose text is what the user reads.

Services raise these; the command tree turns them into an ephemeral reply. Anything else that
escapes a command is unexpected: it is logged with a reference id and the user is shown that id.
"""

from __future__ import annotations


class PegasusError(Exception):
    """Base of every error that carries its own user-facing message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

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


DATABASE_UNAVAILABLE = (
    "The database is not reachable right now; nothing was changed. Try again in a minute."
)


class DatabaseUnavailable(PegasusError):
    """The database is down or did not answer in time (see pegasus.outage)."""

    def __init__(self, message: str = DATABASE_UNAVAILABLE) -> None:
        super().__init__(message)


def shown_input(text: object, *, limit: int = 40) -> str:
    """What a person typed, quoted inside a refusal: on one line, shortened, code-formatted.

    Refusals are single-line replies, and Discord drops a reply over 2,000 characters, so raw
    input (which can hold line breaks, backticks or thousands of characters) is never echoed
    as is.
    """
    one_line = " ".join(str(text).split()).replace("`", "'")
    if len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    return f"`{one_line}`" if one_line else "nothing"
