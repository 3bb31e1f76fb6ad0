"""The verification gate: the timer that removes members who never verify, and the age rule.

A member who joins while the gate is on gets a `verification.timeout` action in
`scheduled_actions` (one per member: rescheduling replaces it), written before anything else
happens to them, so a restart or a crash never forgets it. Verifying cancels it; when it comes
due, the bot kicks the member only if they are still unverified, so a repeat is harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.raids import VerificationSettings
from models.security import Severity
from pegasus import scheduler
from pegasus.errors import PermissionDenied, time_ref
from pegasus.i18n import format_number, ngettext
from pegasus.services.audit import record_security_event
from pegasus.services.settings import ensure_settings_row

__all__ = [
    "TIMEOUT_KIND",
    "cancel_timeout",
    "record_panel",
    "record_timeout_kick",
    "require_old_enough",
    "schedule_timeout",
]

TIMEOUT_KIND = "verification.timeout"


def _key(guild_id: int, user_id: int) -> str:
    return f"{guild_id}:{user_id}"


async def schedule_timeout(guild_id: int, user_id: int, due_at: datetime) -> int:
    return await scheduler.schedule(
        TIMEOUT_KIND,
        due_at,
        {"user_id": user_id},
        guild_id=guild_id,
        dedupe_key=_key(guild_id, user_id),
    )


async def cancel_timeout(guild_id: int, user_id: int) -> int:
    return await scheduler.cancel(TIMEOUT_KIND, _key(guild_id, user_id))


def require_old_enough(created_at: datetime, now: datetime, min_days: int) -> None:
    """Refuse an account younger than `min_days`, saying when it may verify."""
    if min_days <= 0:
        return
    ready_at = created_at + timedelta(days=min_days)
    if now < ready_at:
        text = ngettext(
            "Your account is too new to verify here: accounts must be at least {days} day old. "
            "You can verify {when}.",
            "Your account is too new to verify here: accounts must be at least {days} days old. "
            "You can verify {when}.",
            min_days,
        )
        raise PermissionDenied(
            text.format(days=format_number(min_days), when="{when}"), when=time_ref(ready_at)
        )


async def record_panel(guild_id: int, channel_id: int, message_id: int) -> None:
    """Remember where the "Verify" message was posted (state, not a setting)."""
    await ensure_settings_row(VerificationSettings, guild_id)
    await VerificationSettings.filter(guild_id=guild_id).update(
        verification_channel_id=channel_id, verification_message_id=message_id
    )


async def record_timeout_kick(guild_id: int, user_id: int, waited_seconds: int) -> None:
    await record_security_event(
        guild_id=guild_id,
        user_id=user_id,
        action="security.verification_timeout",
        severity=Severity.LOW,
        description=f"Kicked: not verified within {waited_seconds} seconds of joining.",
        metadata={"waited_seconds": waited_seconds},
    )
