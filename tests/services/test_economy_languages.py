"""The economy in other languages: refusals of the services and the embeds follow the language of
the context (the member's, set by the bot before a handler runs), with numbers written the
language's way; English stays as it was."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from cogs.economy import render
from models.economy import Game, TransactionType
from pegasus.errors import InsufficientFunds, ValidationError
from pegasus.i18n import use_locale
from pegasus.services import economy
from pegasus.services.economy import Currency

GUILD = 900_000_000_000_000_031
ALICE = 100_000_000_000_000_031
BOB = 100_000_000_000_000_032
COINS = Currency("coins", "🪙")


def test_amount_refusals_follow_the_language() -> None:
    with use_locale("de"), pytest.raises(ValidationError, match="ist kein Betrag"):
        economy.parse_amount("1,0,0")
    with use_locale("fr"), pytest.raises(ValidationError, match="Le montant doit être positif"):
        economy.parse_amount("-5")
    with pytest.raises(ValidationError, match="The amount must be positive"):
        economy.parse_amount("-5")


def test_amounts_are_written_the_language_s_way() -> None:
    assert COINS.format(1_234_567) == "🪙 1,234,567"
    with use_locale("de"):
        assert COINS.format(1_234_567) == "🪙 1.234.567"


async def test_a_service_refusal_is_in_the_member_s_language(db: str) -> None:
    with use_locale("de"), pytest.raises(ValidationError, match="nicht selbst bezahlen"):
        await economy.pay(GUILD, ALICE, ALICE, 10)
    with use_locale("de"), pytest.raises(
        InsufficientFunds, match=re.escape("Du hast keine 🪙 1.500 in deiner Geldbörse")
    ):
        await economy.pay(GUILD, ALICE, BOB, 1_500)
    with use_locale("es"), pytest.raises(ValidationError, match="Apuesta a"):
        economy.parse_roulette_space("purple")


def test_embeds_follow_the_language() -> None:
    result = economy.GameResult(
        Game.COINFLIP, 100, 200, {"side": "heads", "landed": "heads"}, 1_300, COINS
    )
    with use_locale("es"):
        embed = render.game_embed("Ana", result)
    assert embed.title == "🪙 Cara o cruz"
    assert "Elegiste **cara**" in (embed.description or "")
    assert "**Ana ganó 🪙 100**" in (embed.description or "")
    english = render.game_embed("Ana", result)
    assert english.title == "🪙 Coinflip" and "You called **heads**" in (english.description or "")


def test_the_ledger_counts_its_rows_with_plural_forms() -> None:
    entry = economy.LedgerEntry(
        id=uuid.uuid4(), guild_id=GUILD, user_id=ALICE, type=TransactionType.DEPOSIT,
        amount=-50, bank_amount=50, description="Deposit to the bank", metadata={},
        related_user_id=None, related_transaction_id=None,
        created_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    page = economy.LedgerPage([entry], 1, 1, 1, COINS)
    assert render.transactions_embed("Ana", page).footer.text == "Page 1 of 1 · 1 transaction"
    with use_locale("fr"):
        embed = render.transactions_embed("Ana", page)
    assert embed.footer.text == "Page 1 sur 1 · 1 transaction"
    assert "**Dépôt**" in (embed.description or "") and "Dépôt à la banque" in (
        embed.description or ""
    )
