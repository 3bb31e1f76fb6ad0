"""Giveaways speak the member's language in replies and refusals, and the server's language in
the giveaway message and the winners' announcement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cogs.giveaways import render
from models.giveaways import GiveawayStatus
from pegasus.errors import ValidationError
from pegasus.i18n import remember_guild_locale, use_locale
from pegasus.services import giveaways as service
from pegasus.services.giveaways import (
    BonusEntries,
    Entrant,
    GiveawayInfo,
    RequirementNotMet,
    Requirements,
)

GUILD = 424_242
NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)


@pytest.fixture
def spanish_server() -> Iterator[int]:
    remember_guild_locale(GUILD, "es")
    yield GUILD
    remember_guild_locale(GUILD, None)


def ended_giveaway(requirements: Requirements | None = None) -> GiveawayInfo:
    return GiveawayInfo(
        id=1,
        giveaway_id="G-7K2QX",
        guild_id=GUILD,
        channel_id=10,
        message_id=11,
        host_id=12,
        prize="Nitro",
        description=None,
        winner_count=1,
        starts_at=NOW - timedelta(days=1),
        ends_at=NOW,
        status=GiveawayStatus.ENDED,
        entry_count=3,
        requirements=requirements or Requirements(),
        bonus_entries=BonusEntries(),
        seed_hash="ab" * 32,
        seed="cd" * 32,
        entries_digest=None,
        winners=(7,),
        draws=(),
        ended_at=NOW,
        announced_at=None,
        announcement_confirmed_at=None,
        cancelled_by_id=None,
        created_at=NOW - timedelta(days=1),
    )


async def test_a_refusal_is_in_the_members_language() -> None:
    with use_locale("de"), pytest.raises(ValidationError) as refused:
        await service.reroll(GUILD, "G-7K2QX", count=0, now=NOW)
    assert str(refused.value) == "Du kannst zwischen 1 und 50 Gewinner neu auslosen."


async def test_a_requirement_names_the_role_and_the_day_it_is_met_in_french() -> None:
    giveaway = ended_giveaway(Requirements(role_ids=(5,), min_account_age_days=30))
    with use_locale("fr"), pytest.raises(RequirementNotMet) as refused:
        await service.check_requirements(giveaway, Entrant(user_id=7), now=NOW)
    assert str(refused.value) == "Vous avez besoin du rôle <@&5> pour participer à ce concours."

    young = Entrant(user_id=7, role_ids=frozenset({5}), account_created_at=NOW - timedelta(days=1))
    ready = int((NOW + timedelta(days=29)).timestamp())
    with use_locale("fr"), pytest.raises(RequirementNotMet) as refused:
        await service.check_requirements(giveaway, young, now=NOW)
    assert str(refused.value) == (
        "Votre compte Discord doit avoir au moins 30 jours pour participer à ce concours "
        f"(ce sera le cas <t:{ready}:R>)."
    )
    # The same refusal in English reads as before.
    with pytest.raises(RequirementNotMet) as refused:
        await service.check_requirements(giveaway, young, now=NOW)
    assert str(refused.value) == (
        "Your Discord account must be at least 30 days old to enter this giveaway "
        f"(it will be <t:{ready}:R>)."
    )


def test_the_announcement_and_the_message_follow_the_server(spanish_server: int) -> None:
    giveaway = ended_giveaway()
    # Whoever ended it (a German member here), the post to everyone is in the server's language.
    with use_locale("de"):
        text = render.announcement(giveaway, [7])
        embed = render.giveaway_embed(giveaway)
    assert text == (
        "🎉 ¡Enhorabuena <@7>! Has ganado **Nitro**.\n"
        "Sorteo `G-7K2QX`: comprueba el sorteo con `/giveaway verify`."
    )
    assert embed.title == "🎉 Nitro (terminado)"
    assert [field.name for field in embed.fields][:2] == ["Ganadores", "Participaciones"]


def test_the_winners_dm_follows_their_own_choice_else_the_server(spanish_server: int) -> None:
    giveaway = ended_giveaway()
    dm = render.winner_dm(giveaway, "Pegasus HQ", None, user_id=7)
    assert dm.startswith("🎉 Has ganado **Nitro** en el sorteo `G-7K2QX` de **Pegasus HQ**.")
