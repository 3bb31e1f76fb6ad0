"""Games of chance: outcomes, bets, stats and blackjack settling exactly once."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from fractions import Fraction

import pytest

from models.economy import (
    BlackjackStatus,
    EconomyBalance,
    EconomyBlackjackGame,
    EconomyGamblingStats,
    EconomyTransaction,
    Game,
    TransactionType,
)
from models.scheduling import ActionStatus, ScheduledAction
from pegasus.errors import ConflictError, InsufficientFunds, PermissionDenied, ValidationError
from pegasus.services import economy
from pegasus.services.economy import ALL, AlreadyProcessed, Outcome
from tests.services.test_economy import (
    ALICE,
    BOB,
    GUILD,
    NOW,
    STAFF,
    assert_books_balance,
    wallet_of,
)


class DeckRng(random.Random):
    """Deals the given cards first (player, dealer, player, dealer, then draws)."""

    def __init__(self, *cards: str) -> None:
        super().__init__(0)
        self.cards = list(cards)

    def shuffle(self, x: list) -> None:  # type: ignore[override]
        rest = [card for card in x if card not in self.cards]
        x[:] = self.cards + rest


# -------------------------------------------------------------------------------- pure outcomes


def test_coinflip_pays_double_on_the_called_side() -> None:
    outcomes = [economy.coinflip_outcome("Heads", random.Random(seed)) for seed in range(50)]
    for outcome in outcomes:
        expected = Fraction(2) if outcome.detail["landed"] == "heads" else Fraction(0)
        assert outcome.multiplier == expected
    assert {o.detail["landed"] for o in outcomes} == {"heads", "tails"}
    with pytest.raises(ValidationError, match="heads"):
        economy.coinflip_outcome("edge", random.Random(0))


def test_dice_higher_total_wins_and_a_tie_returns_the_bet() -> None:
    for seed in range(100):
        outcome = economy.dice_outcome(random.Random(seed))
        mine, theirs = sum(outcome.detail["player"]), sum(outcome.detail["house"])
        expected = 2 if mine > theirs else 1 if mine == theirs else 0
        assert outcome.multiplier == expected


def test_slots_pay_triples_and_pairs() -> None:
    for seed in range(300):
        outcome = economy.slots_outcome(random.Random(seed))
        reels = outcome.detail["reels"]
        if len(set(reels)) == 1:
            assert outcome.multiplier == economy.SLOT_TRIPLES[reels[0]]
        elif len(set(reels)) == 2:
            assert outcome.multiplier == Fraction(3, 2)
        else:
            assert outcome.multiplier == 0


def test_slots_return_less_than_they_take() -> None:
    symbols = economy.SLOT_SYMBOLS
    expected = Fraction(0)
    for a in symbols:
        for b in symbols:
            for c in symbols:
                if a == b == c:
                    expected += economy.SLOT_TRIPLES[a]
                elif len({a, b, c}) == 2:
                    expected += economy.SLOT_PAIR
    expected /= len(symbols) ** 3
    assert Fraction(1, 2) < expected < 1


@pytest.mark.parametrize(
    ("space", "number", "multiplier"),
    [("17", 17, 36), ("17", 18, 0), ("0", 0, 36), ("red", 1, 2), ("red", 2, 0),
     ("black", 2, 2), ("red", 0, 0), ("odd", 3, 2), ("even", 0, 0), ("low", 18, 2),
     ("high", 19, 2), ("1st", 12, 3), ("2nd", 13, 3), ("3rd", 36, 3), ("3rd", 24, 0)],
)
def test_roulette_pays_by_space(space: str, number: int, multiplier: int) -> None:
    assert economy.roulette_wins(economy.parse_roulette_space(space), number) == multiplier


def test_roulette_refuses_unknown_spaces() -> None:
    for bad in ("37", "purple", "-1"):
        with pytest.raises(ValidationError, match="roulette space"):
            economy.parse_roulette_space(bad)


@pytest.mark.parametrize(
    ("cards", "value"),
    [(["A♠", "K♥"], 21), (["A♠", "A♥"], 12), (["A♠", "A♥", "9♦"], 21), (["10♠", "9♥", "5♣"], 24),
     (["A♠", "6♥", "10♦"], 17), (["5♠", "5♥"], 10)],
)
def test_hand_values(cards: list[str], value: int) -> None:
    assert economy.hand_value(cards) == value


def test_judge() -> None:
    assert economy.judge(["A♠", "K♥"], ["9♠", "9♥"], 100) == (BlackjackStatus.BLACKJACK, 250)
    assert economy.judge(["A♠", "K♥"], ["A♦", "Q♥"], 100) == (BlackjackStatus.PUSH, 100)
    assert economy.judge(["10♠", "K♥"], ["9♠", "9♥"], 100) == (BlackjackStatus.PLAYER_WON, 200)
    assert economy.judge(["10♠", "K♥", "5♦"], ["9♠", "9♥"], 100)[1] == 0
    assert economy.judge(["10♠", "7♥"], ["9♠", "9♥"], 100)[1] == 0
    assert economy.judge(["10♠", "7♥"], ["9♠", "9♥", "K♣"], 100)[1] == 200


# -------------------------------------------------------------------------------- one-shot games


async def test_a_win_pays_and_is_counted(db: str) -> None:
    result = await economy.play(Game.COINFLIP, GUILD, ALICE, 40, Outcome(Fraction(2)))
    assert (result.payout, result.profit, result.wallet, result.won) == (80, 40, 140, True)
    stats = await EconomyGamblingStats.get(guild_id=GUILD, user_id=ALICE, game=Game.COINFLIP)
    assert (stats.games_played, stats.games_won, stats.total_wagered, stats.total_won) == (
        1, 1, 40, 80
    )
    assert (stats.biggest_win, stats.current_streak, stats.best_streak) == (40, 1, 1)
    row = await EconomyBalance.get(guild_id=GUILD, user_id=ALICE)
    assert (row.total_gambled, row.total_earned) == (40, 40)
    ledger = await EconomyTransaction.get(
        guild_id=GUILD, user_id=ALICE, type=TransactionType.GAMBLE
    )
    assert ledger.amount == 40 and ledger.metadata["bet"] == 40
    await assert_books_balance()


async def test_losses_pushes_and_streaks(db: str) -> None:
    for multiplier in (2, 2, 0, 1, 2):
        await economy.play(Game.DICE, GUILD, ALICE, 10, Outcome(Fraction(multiplier)))
    stats = await EconomyGamblingStats.get(guild_id=GUILD, user_id=ALICE, game=Game.DICE)
    assert (stats.games_played, stats.games_won) == (5, 3)
    assert (stats.current_streak, stats.best_streak) == (1, 2)
    assert (stats.biggest_win, stats.biggest_loss) == (10, 10)
    assert await wallet_of(ALICE) == (120, 0)
    await assert_books_balance()


async def test_bets_outside_the_limits_or_the_wallet_change_nothing(db: str) -> None:
    await economy.update_settings(GUILD, min_bet=10, max_bet=50)
    with pytest.raises(ValidationError, match="between 🪙 10 and 🪙 50"):
        await economy.play(Game.SLOTS, GUILD, ALICE, 5, Outcome(Fraction(2)))
    with pytest.raises(ValidationError, match="between"):
        await economy.play(Game.SLOTS, GUILD, ALICE, 51, Outcome(Fraction(2)))
    await economy.deposit(GUILD, ALICE, 80)
    # A winning game still needs the whole stake in the wallet.
    with pytest.raises(InsufficientFunds, match="to bet"):
        await economy.play(Game.SLOTS, GUILD, ALICE, 30, Outcome(Fraction(2)))
    assert await wallet_of(ALICE) == (20, 80)
    assert not await EconomyGamblingStats.exists()
    await assert_books_balance()


async def test_betting_all_stakes_the_wallet_within_the_limits(db: str) -> None:
    result = await economy.play(Game.ROULETTE, GUILD, ALICE, ALL, Outcome(Fraction(0)))
    assert result.bet == 100 and result.wallet == 0
    with pytest.raises(InsufficientFunds, match="empty"):
        await economy.play(Game.ROULETTE, GUILD, ALICE, ALL, Outcome(Fraction(0)))
    await economy.admin_adjust(GUILD, STAFF, ALICE, 10**6, take=False)
    with pytest.raises(ValidationError, match="between"):
        await economy.play(Game.ROULETTE, GUILD, ALICE, ALL, Outcome(Fraction(0)))


async def test_each_game_function_settles(db: str) -> None:
    rng = random.Random(7)
    results = [
        await economy.coinflip(GUILD, ALICE, 10, "tails", rng=rng),
        await economy.dice(GUILD, ALICE, 10, rng=rng),
        await economy.slots(GUILD, ALICE, 10, rng=rng),
        await economy.roulette(GUILD, ALICE, 10, "red", rng=rng),
    ]
    assert [r.game for r in results] == [Game.COINFLIP, Game.DICE, Game.SLOTS, Game.ROULETTE]
    stats, currency = await economy.gambling_stats(GUILD, ALICE)
    assert [s.game for s in stats] == [Game.COINFLIP, Game.DICE, Game.SLOTS, Game.ROULETTE]
    assert sum(s.profit for s in stats) == sum(r.profit for r in results)
    assert currency.symbol == "🪙"
    await assert_books_balance()


async def test_a_game_request_delivered_twice_settles_once(db: str) -> None:
    await economy.play(
        Game.COINFLIP, GUILD, ALICE, 10, Outcome(Fraction(2)), idempotency_key="i:9"
    )
    with pytest.raises(AlreadyProcessed):
        await economy.play(
            Game.COINFLIP, GUILD, ALICE, 10, Outcome(Fraction(2)), idempotency_key="i:9"
        )
    assert await wallet_of(ALICE) == (110, 0)


async def test_concurrent_first_games_create_one_stats_row(db: str) -> None:
    await economy.admin_adjust(GUILD, STAFF, BOB, 10_000, take=False)
    await asyncio.gather(
        *(economy.play(Game.SLOTS, GUILD, BOB, 10, Outcome(Fraction(i % 3))) for i in range(12))
    )
    stats = await EconomyGamblingStats.get(guild_id=GUILD, user_id=BOB, game=Game.SLOTS)
    assert stats.games_played == 12 and stats.total_wagered == 120
    await assert_books_balance()


# -------------------------------------------------------------------------------- blackjack


async def test_blackjack_holds_the_bet_then_pays_a_win_on_stand(db: str) -> None:
    rng = DeckRng("10♠", "9♥", "Q♣", "7♦")  # player 10+Q = 20, dealer 9+7 = 16, draws 2♠…
    view = await economy.start_blackjack(GUILD, ALICE, 50, rng=rng, now=NOW)
    assert view.active and view.player_value == 20 and view.dealer == ["9♥"]
    assert await wallet_of(ALICE) == (50, 0)  # the bet is held
    timer = await ScheduledAction.get(kind=economy.BLACKJACK_TIMEOUT_KIND)
    assert timer.payload == {"game_id": view.game_id} and timer.status == ActionStatus.PENDING
    done = await economy.blackjack_stand(view.game_id, ALICE)
    assert done.status == BlackjackStatus.PLAYER_WON and done.payout == 100
    assert done.dealer_value > 21 or done.dealer_value < 20
    assert await wallet_of(ALICE) == (150, 0)
    await timer.refresh_from_db()
    assert timer.status == ActionStatus.CANCELLED
    stats = await EconomyGamblingStats.get(guild_id=GUILD, user_id=ALICE, game=Game.BLACKJACK)
    assert (stats.games_played, stats.games_won, stats.total_won) == (1, 1, 100)
    await assert_books_balance()


async def test_blackjack_bust_on_hit_loses_the_held_bet(db: str) -> None:
    rng = DeckRng("10♠", "9♥", "6♣", "7♦", "K♠")
    view = await economy.start_blackjack(GUILD, ALICE, 40, rng=rng, now=NOW)
    bust = await economy.blackjack_hit(view.game_id, ALICE)
    assert bust.status == BlackjackStatus.DEALER_WON and bust.player_value == 26
    assert bust.payout == 0 and await wallet_of(ALICE) == (60, 0)
    with pytest.raises(ConflictError, match="over"):
        await economy.blackjack_stand(view.game_id, ALICE)
    await assert_books_balance()


async def test_blackjack_hit_keeps_playing_below_21(db: str) -> None:
    rng = DeckRng("2♠", "9♥", "3♣", "7♦", "4♠", "K♣")
    view = await economy.start_blackjack(GUILD, ALICE, 10, rng=rng, now=NOW)
    after = await economy.blackjack_hit(view.game_id, ALICE)
    assert after.active and after.player == ["2♠", "3♣", "4♠"] and after.version == 1
    stored = await economy.get_blackjack(view.game_id)
    assert stored.player == after.player and stored.dealer == ["9♥"]


async def test_a_natural_settles_at_once_at_three_to_two(db: str) -> None:
    view = await economy.start_blackjack(
        GUILD, ALICE, 20, rng=DeckRng("A♠", "9♥", "K♣", "7♦"), now=NOW
    )
    assert view.status == BlackjackStatus.BLACKJACK and view.payout == 50
    assert await wallet_of(ALICE) == (130, 0)
    assert not await ScheduledAction.filter(kind=economy.BLACKJACK_TIMEOUT_KIND).exists()
    await assert_books_balance()


async def test_only_the_player_may_move(db: str) -> None:
    view = await economy.start_blackjack(GUILD, ALICE, 10, rng=DeckRng("2♠", "9♥", "3♣", "7♦"),
                                          now=NOW)
    with pytest.raises(PermissionDenied, match="isn't your game"):
        await economy.blackjack_hit(view.game_id, BOB)


async def test_double_clicks_settle_exactly_once(db: str) -> None:
    view = await economy.start_blackjack(
        GUILD, ALICE, 50, rng=DeckRng("10♠", "9♥", "Q♣", "7♦"), now=NOW
    )
    results = await asyncio.gather(
        *(economy.blackjack_stand(view.game_id, ALICE) for _ in range(8)),
        *(economy.blackjack_hit(view.game_id, ALICE) for _ in range(4)),
        economy.expire_blackjack(view.game_id),
        return_exceptions=True,
    )
    settled = [r for r in results if isinstance(r, economy.BlackjackView) and not r.active]
    assert len(settled) == 1, results
    others = [r for r in results if r is not settled[0]]
    assert all(isinstance(r, ConflictError) or r is None for r in others), results
    game = await EconomyBlackjackGame.get(id=view.game_id)
    payouts = await EconomyTransaction.filter(
        idempotency_key=f"economy:blackjack:{view.game_id}:settle"
    ).count()
    assert payouts == (1 if game.payout else 0)
    assert await wallet_of(ALICE) == (50 + game.payout, 0)
    stats = await EconomyGamblingStats.get(guild_id=GUILD, user_id=ALICE, game=Game.BLACKJACK)
    assert stats.games_played == 1
    await assert_books_balance()


async def test_double_clicks_on_a_losing_hand_settle_exactly_once(db: str) -> None:
    """A lost hand pays nothing, so no payout row's key can stop a second settlement: only the
    conditional UPDATE on the game's version does."""
    view = await economy.start_blackjack(
        GUILD, ALICE, 50, rng=DeckRng("10♠", "9♥", "6♣", "Q♦"), now=NOW
    )
    results = await asyncio.gather(
        *(economy.blackjack_stand(view.game_id, ALICE) for _ in range(8)),
        economy.expire_blackjack(view.game_id),
        return_exceptions=True,
    )
    settled = [r for r in results if isinstance(r, economy.BlackjackView)]
    assert len(settled) == 1 and settled[0].status == BlackjackStatus.DEALER_WON, results
    assert all(isinstance(r, ConflictError) or r is None for r in results
               if r is not settled[0]), results
    stats = await EconomyGamblingStats.get(guild_id=GUILD, user_id=ALICE, game=Game.BLACKJACK)
    assert (stats.games_played, stats.total_wagered, stats.biggest_loss) == (1, 50, 50)
    assert await wallet_of(ALICE) == (50, 0)
    await assert_books_balance()


async def test_an_abandoned_hand_stands_when_the_timer_fires(db: str) -> None:
    view = await economy.start_blackjack(
        GUILD, ALICE, 30, rng=DeckRng("10♠", "9♥", "Q♣", "8♦"), now=NOW
    )
    timer = await ScheduledAction.get(kind=economy.BLACKJACK_TIMEOUT_KIND)
    assert timer.due_at == NOW + timedelta(minutes=10)
    ended = await economy.expire_blackjack(view.game_id)
    assert ended is not None and ended.status == BlackjackStatus.PLAYER_WON
    assert await economy.expire_blackjack(view.game_id) is None
    assert await wallet_of(ALICE) == (130, 0)
    await assert_books_balance()


async def test_blackjack_bet_is_validated_before_dealing(db: str) -> None:
    with pytest.raises(InsufficientFunds):
        await economy.start_blackjack(GUILD, ALICE, 101, rng=random.Random(1), now=NOW)
    with pytest.raises(ValidationError):
        await economy.start_blackjack(GUILD, ALICE, 1, rng=random.Random(1), now=NOW)
    assert not await EconomyBlackjackGame.exists()
    await assert_books_balance()
