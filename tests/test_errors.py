"""Refusals name people and moments as references: mentions for Discord, plain words elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

from pegasus.errors import ConflictError, PegasusError, channel_ref, role_ref, time_ref, user_ref
from pegasus.i18n import use_locale


def test_references_render_as_mentions_for_discord_and_plain_words_elsewhere() -> None:
    error = ConflictError(
        "Claimed by {who} for {team} in {where}, until {until}.",
        who=user_ref(42),
        team=role_ref(7),
        where=channel_ref(9),
        until=time_ref(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
    )
    assert str(error) == "Claimed by <@42> for <@&7> in <#9>, until <t:1767323040:R>."
    assert error.plain() == (
        "Claimed by user 42 for role 7 in channel 9, until Jan 2, 2026, 3:04\u202fAM UTC."
    )


def test_a_plain_moment_is_written_as_the_readers_language_writes_it() -> None:
    error = ConflictError("{until}", until=time_ref(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)))
    with use_locale("de"):
        assert error.plain() == "02.01.2026, 03:04 UTC"
    with use_locale("fr"):
        assert error.plain() == "2 janv. 2026, 03:04 UTC"


def test_a_message_without_references_is_kept_verbatim_braces_included() -> None:
    error = PegasusError("Use {user} in the template.")
    assert str(error) == error.plain() == "Use {user} in the template."
