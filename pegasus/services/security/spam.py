"""Anti-spam: mass mentions and the same text again and again, decided in memory.

`SpamDetector` (the security cog owns one) flags a message with more than `max_mentions`
mentions, or the same text `max_duplicates` times in a row within `DUPLICATE_WINDOW_SECONDS`;
`record_spam` logs it. The database is written only when a message is spam.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from models.security import Severity
from pegasus.i18n import _, use_locale
from pegasus.services.audit import ensure_rows, record_security_event
from pegasus.services.community import SecurityConfig

__all__ = [
    "DUPLICATE_WINDOW_SECONDS",
    "SpamDetector",
    "SpamKind",
    "SpamVerdict",
    "count_mentions",
    "record_spam",
]

DUPLICATE_WINDOW_SECONDS = 30.0
_MENTION = re.compile(r"<@[!&]?\d+>|@everyone|@here")
_SPACES = re.compile(r"\s+")


def count_mentions(content: str) -> int:
    """Mentions of users, roles, @everyone and @here in a message, repeats included."""
    return len(_MENTION.findall(content or ""))


class SpamKind(StrEnum):
    MENTIONS = "mentions"
    DUPLICATES = "duplicates"


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    kind: SpamKind
    count: int  # mentions in the message, or identical messages in a row
    limit: int

    def reason(self) -> str:
        if self.kind is SpamKind.MENTIONS:
            return _("too many mentions ({count}, the limit is {limit})").format(
                count=self.count, limit=self.limit
            )
        return _("the same message {count} times in a row").format(count=self.count)


@dataclass
class _Run:
    text: str
    count: int
    first_at: float
    last_at: float


class SpamDetector:
    """The last message of each member, to spot repeats; entries older than the window go."""

    def __init__(self, window_seconds: float = DUPLICATE_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._runs: dict[tuple[int, int], _Run] = {}  # least recently active first

    def check(
        self,
        guild_id: int,
        user_id: int,
        content: str,
        now: datetime,
        config: SecurityConfig,
    ) -> SpamVerdict | None:
        """A verdict when this message is spam, None otherwise (memory only)."""
        if not config.spam_protection_on:
            return None
        moment = now.timestamp()
        self._expire(moment)
        mentions = count_mentions(content)
        verdict = None
        if mentions > config.max_mentions:
            verdict = SpamVerdict(SpamKind.MENTIONS, mentions, config.max_mentions)
        repeats = self._count_repeat(guild_id, user_id, content, moment)
        if verdict is None and repeats >= config.max_duplicates:
            verdict = SpamVerdict(SpamKind.DUPLICATES, repeats, config.max_duplicates)
        return verdict

    def _count_repeat(self, guild_id: int, user_id: int, content: str, moment: float) -> int:
        text = _SPACES.sub(" ", (content or "").strip()).casefold()
        key = (guild_id, user_id)
        run = self._runs.pop(key, None)  # re-inserted below: the dict stays ordered by activity
        if not text:
            return 0  # attachments or stickers only: nothing to compare
        if run is None or run.text != text or moment - run.first_at > self.window_seconds:
            run = _Run(text=text, count=0, first_at=moment, last_at=moment)
        run.count += 1
        run.last_at = moment
        self._runs[key] = run
        return run.count

    def _expire(self, moment: float) -> None:
        cutoff = moment - self.window_seconds
        while self._runs:
            key, run = next(iter(self._runs.items()))
            if run.last_at > cutoff:
                break
            del self._runs[key]

    def __len__(self) -> int:
        return len(self._runs)


async def record_spam(
    guild_id: int,
    user_id: int,
    verdict: SpamVerdict,
    *,
    channel_id: int,
    message_id: int,
    deleted: bool,
) -> None:
    """Write the `security_logs` entry of a spam message."""
    await ensure_rows(guild_id, [user_id])
    with use_locale(None):  # the stored record stays in English, as every security log
        reason = verdict.reason()
    await record_security_event(
        guild_id=guild_id,
        user_id=user_id,
        action=f"security.spam_{verdict.kind.value}",
        severity=Severity.MEDIUM,
        description=f"Message removed: {reason}."
        if deleted
        else f"Spam not removed (missing permission): {reason}.",
        metadata={
            "channel_id": channel_id,
            "message_id": message_id,
            "count": verdict.count,
            "limit": verdict.limit,
            "deleted": deleted,
        },
    )
