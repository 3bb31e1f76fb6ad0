"""What every refusal must look like to the person who typed the bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pegasus.errors import PegasusError

T = TypeVar("T")

# Discord refuses message content longer than 2,000 characters: a longer refusal never arrives.
DISCORD_CONTENT_LIMIT = 2000


def check_refusal(error: BaseException) -> None:
    """A refusal is a PegasusError whose message is non-empty, one line and deliverable."""
    assert isinstance(error, PegasusError), f"{type(error).__name__}: {error!r}"
    message = str(error)
    assert message.strip(), "empty refusal message"
    assert "\n" not in message and "\r" not in message, f"multi-line message: {message!r}"
    assert len(message) <= DISCORD_CONTENT_LIMIT, f"message of {len(message)} characters"


def outcome(call: Callable[..., T], *args: Any, **kwargs: Any) -> T | PegasusError:
    """The result of `call`, or the PegasusError it raised (after checking it is a proper
    refusal). Any other exception propagates and fails the test."""
    try:
        return call(*args, **kwargs)
    except Exception as error:
        check_refusal(error)
        assert isinstance(error, PegasusError)
        return error
