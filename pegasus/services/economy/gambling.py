"""Games of chance: coinflip, dice, slots, roulette and blackjack, with per-game stats.

A game's outcome is drawn from `rng` *before* its transaction, so a retried transaction settles
the same outcome. The bet and the payout are one ledger row (`amount` = payout - bet) whose UPDATE
requires the whole bet in the wallet. Blackjack spans several clicks: the bet is debited when the
hand is dealt, the hand lives in `economy_blackjack_games`, every move is a conditional UPDATE on
the version it read, and the payout row carries a key per game, so it is paid exactly once.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from models.economy import (
    BlackjackStatus,
    EconomyBlackjackGame,
    EconomyGamblingStats,
    Game,
    TransactionType,
)
from pegasus import scheduler
from pegasus.errors import (
    ConflictError,
    InsufficientFunds,
    NotFoundError,
    PermissionDenied,
    ValidationError,
    shown_input,
)
from pegasus.i18n import N_, _

from .amounts import ALL, Amount, Currency
from .ledger import AlreadyProcessed, atomic, ensure_accounts, locked_balance, move
from .settings import EconomyConfig

__all__ = [
    "BLACKJACK_TIMEOUT",
    "BLACKJACK_TIMEOUT_KIND",
    "COIN_SIDES",
    "RED_NUMBERS",
    "ROULETTE_SPACES",
    "SLOT_PAIR",
    "SLOT_SYMBOLS",
    "SLOT_TRIPLES",
    "BlackjackStatus",
    "BlackjackView",
    "Game",
    "GameResult",
    "GameStats",
    "Outcome",
    "attach_blackjack_message",
    "blackjack_hit",
    "blackjack_stand",
    "check_bet",
    "coinflip",
    "coinflip_outcome",
    "dealer_plays",
    "dice",
    "dice_outcome",
    "expire_blackjack",
    "gambling_stats",
    "get_blackjack",
    "hand_value",
    "is_blackjack",
    "judge",
    "new_deck",
    "parse_roulette_space",
    "play",
    "record_game",
    "roulette",
    "roulette_colour",
    "roulette_outcome",
    "roulette_wins",
    "slots",
    "slots_outcome",
    "start_blackjack",
]

BLACKJACK_TIMEOUT = timedelta(minutes=10)
BLACKJACK_TIMEOUT_KIND = "economy.blackjack_timeout"

# --------------------------------------------------------------------------------------------
# Outcomes: pure functions of the rng
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a game drew and what it pays back per coin staked (0 = lost, 1 = bet returned)."""

    multiplier: Fraction
    detail: dict[str, Any] = field(default_factory=dict)


COIN_SIDES = ("heads", "tails")


def coinflip_outcome(side: str, rng: random.Random) -> Outcome:
    side = side.strip().lower()
    if side not in COIN_SIDES:
        raise ValidationError(_("Pick `heads` or `tails`."))
    landed = rng.choice(COIN_SIDES)
    return Outcome(Fraction(2) if landed == side else Fraction(0),
                   {"side": side, "landed": landed})


def dice_outcome(rng: random.Random) -> Outcome:
    """Two dice each; the higher total wins double, a tie gives the bet back."""
    player = [rng.randint(1, 6), rng.randint(1, 6)]
    house = [rng.randint(1, 6), rng.randint(1, 6)]
    if sum(player) > sum(house):
        multiplier = Fraction(2)
    elif sum(player) == sum(house):
        multiplier = Fraction(1)
    else:
        multiplier = Fraction(0)
    return Outcome(multiplier, {"player": player, "house": house})


SLOT_SYMBOLS = ("🍒", "🍋", "🍊", "🍇", "🔔", "💎", "7️⃣")
# Three of a kind pays this many times the bet; any pair pays 1.5x. Expected return ≈ 84%.
SLOT_TRIPLES = {"🍒": 3, "🍋": 4, "🍊": 5, "🍇": 8, "🔔": 10, "💎": 20, "7️⃣": 50}
SLOT_PAIR = Fraction(3, 2)


def slots_outcome(rng: random.Random) -> Outcome:
    reels = [rng.choice(SLOT_SYMBOLS) for _reel in range(3)]
    if reels[0] == reels[1] == reels[2]:
        multiplier = Fraction(SLOT_TRIPLES[reels[0]])
    elif len(set(reels)) == 2:
        multiplier = SLOT_PAIR
    else:
        multiplier = Fraction(0)
    return Outcome(multiplier, {"reels": reels})


RED_NUMBERS = frozenset(
    {1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36}
)
# Translators: what a member may bet on at /roulette. Keep the words they type in English
# (red, black, odd, even, low, high, 1st, 2nd, 3rd); the rest may be translated.
ROULETTE_SPACES = N_(
    "a number 0-36, red, black, odd, even, low (1-18), high (19-36), or 1st, 2nd, 3rd (dozens)"
)
_DOZENS = {"1st": 1, "2nd": 2, "3rd": 3}


def roulette_colour(number: int) -> str:
    if number == 0:
        return "green"
    return "red" if number in RED_NUMBERS else "black"


def parse_roulette_space(space: str) -> str:
    cleaned = space.strip().lower()
    # isdecimal, not isdigit: int() refuses digits such as "²"; two digits keep int() cheap.
    if cleaned.isdecimal() and len(cleaned) <= 2 and int(cleaned) <= 36:
        return str(int(cleaned))
    if cleaned in ("red", "black", "odd", "even", "low", "high", *_DOZENS):
        return cleaned
    raise ValidationError(
        _("{text} is not a roulette space. Bet on {spaces}.").format(
            text=shown_input(space, limit=20), spaces=_(ROULETTE_SPACES)
        )
    )


def roulette_wins(space: str, number: int) -> Fraction:
    """The payout multiplier of a bet on `space` when the ball lands on `number` (European)."""
    if space.isdigit():
        return Fraction(36) if int(space) == number else Fraction(0)
    if number == 0:
        return Fraction(0)
    hit = {
        "red": number in RED_NUMBERS,
        "black": number not in RED_NUMBERS,
        "odd": number % 2 == 1,
        "even": number % 2 == 0,
        "low": number <= 18,
        "high": number >= 19,
    }.get(space)
    if hit is not None:
        return Fraction(2) if hit else Fraction(0)
    return Fraction(3) if (number - 1) // 12 + 1 == _DOZENS[space] else Fraction(0)


def roulette_outcome(space: str, rng: random.Random) -> Outcome:
    space = parse_roulette_space(space)
    number = rng.randint(0, 36)
    return Outcome(roulette_wins(space, number),
                   {"space": space, "number": number, "colour": roulette_colour(number)})


# --------------------------------------------------------------------------------------------
# Settling a game: one ledger row and the stats
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GameResult:
    game: Game
    bet: int
    payout: int
    detail: dict[str, Any]
    wallet: int
    currency: Currency

    @property
    def profit(self) -> int:
        return self.payout - self.bet

    @property
    def won(self) -> bool:
        return self.payout > self.bet

    @property
    def push(self) -> bool:
        return self.payout == self.bet


def check_bet(settings: EconomyConfig, bet: int) -> None:
    currency = settings.currency
    if bet < settings.min_bet or bet > settings.max_bet:
        raise ValidationError(
            _("Bets here are between {minimum} and {maximum}.").format(
                minimum=currency.format(settings.min_bet),
                maximum=currency.format(settings.max_bet),
            )
        )


async def record_game(
    conn: BaseDBAsyncClient, guild_id: int, user_id: int, game: Game, bet: int, payout: int
) -> None:
    """Add one finished game to the member's stats for `game` (inside the settling transaction)."""
    profit = payout - bet
    rows = EconomyGamblingStats.filter(guild_id=guild_id, user_id=user_id, game=game).using_db(conn)
    changes: dict[str, Any] = {
        "games_played": F("games_played") + 1,
        "total_wagered": F("total_wagered") + bet,
        "total_won": F("total_won") + payout,
    }
    if profit > 0:
        changes["games_won"] = F("games_won") + 1
        changes["current_streak"] = F("current_streak") + 1
    elif profit < 0:
        changes["current_streak"] = 0
    if not await rows.update(**changes):
        # The first game of this kind; a concurrent first game makes this INSERT fail and the
        # whole transaction is retried (atomic), then updating the row created meanwhile.
        await EconomyGamblingStats.create(
            guild_id=guild_id, user_id=user_id, game=game, games_played=1,
            games_won=1 if profit > 0 else 0, total_wagered=bet, total_won=payout,
            current_streak=1 if profit > 0 else 0, using_db=conn,
        )
    if profit > 0:
        await rows.filter(biggest_win__lt=profit).update(biggest_win=profit)
        await rows.filter(best_streak__lt=F("current_streak")).update(
            best_streak=F("current_streak")
        )
    elif profit < 0:
        await rows.filter(biggest_loss__lt=-profit).update(biggest_loss=-profit)


def _payout(bet: int, multiplier: Fraction) -> int:
    return bet * multiplier.numerator // multiplier.denominator


async def play(
    game: Game,
    guild_id: int,
    user_id: int,
    bet: Amount,
    outcome: Outcome,
    *,
    idempotency_key: str | None = None,
) -> GameResult:
    """Settle a one-shot game whose `outcome` was already drawn."""
    settings = await ensure_accounts(guild_id, [user_id])
    currency = settings.currency
    if bet != ALL:
        check_bet(settings, bet)

    async def run(conn: BaseDBAsyncClient) -> GameResult:
        stake = bet
        if stake == ALL:
            stake = (await locked_balance(conn, guild_id, user_id)).wallet
            if stake <= 0:
                raise InsufficientFunds(_("Your wallet is empty."))
            check_bet(settings, stake)
        payout = _payout(stake, outcome.multiplier)
        await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.GAMBLE,
            wallet=payout - stake, require_wallet=stake, currency=currency,
            description=f"{game.value.capitalize()}: bet {stake:,}, paid {payout:,}",
            metadata={"game": game.value, "bet": stake, "payout": payout, **outcome.detail},
            idempotency_key=idempotency_key, gambled=stake, earned=max(0, payout - stake),
            short_message=_("You don't have {amount} in your wallet to bet.").format(
                amount=currency.format(stake)
            ),
        )
        await record_game(conn, guild_id, user_id, game, stake, payout)
        wallet = (await locked_balance(conn, guild_id, user_id)).wallet
        return GameResult(game, stake, payout, outcome.detail, wallet, currency)

    return await atomic(run, idempotency_key=idempotency_key)


async def coinflip(guild_id: int, user_id: int, bet: Amount, side: str, *, rng: random.Random,
                   idempotency_key: str | None = None) -> GameResult:
    return await play(Game.COINFLIP, guild_id, user_id, bet, coinflip_outcome(side, rng),
                      idempotency_key=idempotency_key)


async def dice(guild_id: int, user_id: int, bet: Amount, *, rng: random.Random,
               idempotency_key: str | None = None) -> GameResult:
    return await play(Game.DICE, guild_id, user_id, bet, dice_outcome(rng),
                      idempotency_key=idempotency_key)


async def slots(guild_id: int, user_id: int, bet: Amount, *, rng: random.Random,
                idempotency_key: str | None = None) -> GameResult:
    return await play(Game.SLOTS, guild_id, user_id, bet, slots_outcome(rng),
                      idempotency_key=idempotency_key)


async def roulette(guild_id: int, user_id: int, bet: Amount, space: str, *, rng: random.Random,
                   idempotency_key: str | None = None) -> GameResult:
    return await play(Game.ROULETTE, guild_id, user_id, bet, roulette_outcome(space, rng),
                      idempotency_key=idempotency_key)


# --------------------------------------------------------------------------------------------
# Blackjack
# --------------------------------------------------------------------------------------------

RANKS = ("A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K")
SUITS = ("♠", "♥", "♦", "♣")


def new_deck(rng: random.Random) -> list[str]:
    deck = [rank + suit for suit in SUITS for rank in RANKS]
    rng.shuffle(deck)
    return deck


def hand_value(cards: Sequence[str]) -> int:
    """Best total not over 21 if possible: aces count 11, or 1 when 11 would bust."""
    total, aces = 0, 0
    for card in cards:
        rank = card[:-1]
        if rank == "A":
            total, aces = total + 11, aces + 1
        elif rank in ("J", "Q", "K"):
            total += 10
        else:
            total += int(rank)
    while total > 21 and aces:
        total, aces = total - 10, aces - 1
    return total


def is_blackjack(cards: Sequence[str]) -> bool:
    return len(cards) == 2 and hand_value(cards) == 21


def dealer_plays(dealer: list[str], deck: list[str]) -> tuple[list[str], list[str]]:
    """The dealer draws to 17 or more (standing on soft 17)."""
    dealer, deck = list(dealer), list(deck)
    while hand_value(dealer) < 17:
        dealer.append(deck.pop(0))
    return dealer, deck


def judge(player: Sequence[str], dealer: Sequence[str], bet: int) -> tuple[BlackjackStatus, int]:
    """Final status and payout (stake included) once the player is done."""
    mine, theirs = hand_value(player), hand_value(dealer)
    if mine > 21:
        return BlackjackStatus.DEALER_WON, 0
    if is_blackjack(player) and not is_blackjack(dealer):
        return BlackjackStatus.BLACKJACK, bet + bet * 3 // 2
    if is_blackjack(dealer) and not is_blackjack(player):
        return BlackjackStatus.DEALER_WON, 0
    if theirs > 21 or mine > theirs:
        return BlackjackStatus.PLAYER_WON, bet * 2
    if mine == theirs:
        return BlackjackStatus.PUSH, bet
    return BlackjackStatus.DEALER_WON, 0


@dataclass(frozen=True, slots=True)
class BlackjackView:
    game_id: int
    user_id: int
    bet: int
    player: list[str]
    dealer: list[str]  # while active only the dealer's first card is shown
    status: BlackjackStatus
    payout: int
    version: int
    currency: Currency
    channel_id: int | None = None
    message_id: int | None = None

    @property
    def active(self) -> bool:
        return self.status == BlackjackStatus.ACTIVE

    @property
    def player_value(self) -> int:
        return hand_value(self.player)

    @property
    def dealer_value(self) -> int:
        return hand_value(self.dealer)


def _view(game: EconomyBlackjackGame, currency: Currency) -> BlackjackView:
    active = game.status == BlackjackStatus.ACTIVE
    return BlackjackView(
        game_id=game.id, user_id=game.user_id,  # type: ignore[attr-defined]
        bet=game.bet, player=list(game.player_hand),
        dealer=list(game.dealer_hand[:1]) if active else list(game.dealer_hand),
        status=game.status, payout=game.payout, version=game.version, currency=currency,
        channel_id=game.channel_id, message_id=game.message_id,
    )


async def start_blackjack(
    guild_id: int,
    user_id: int,
    bet: Amount,
    *,
    rng: random.Random,
    now: datetime,
    idempotency_key: str | None = None,
) -> BlackjackView:
    """Deal a hand and hold the bet. A natural 21 settles at once."""
    settings = await ensure_accounts(guild_id, [user_id])
    currency = settings.currency
    if bet != ALL:
        check_bet(settings, bet)
    deck = new_deck(rng)
    player, dealer, deck = [deck[0], deck[2]], [deck[1], deck[3]], deck[4:]

    async def run(conn: BaseDBAsyncClient) -> BlackjackView:
        stake = bet
        if stake == ALL:
            stake = (await locked_balance(conn, guild_id, user_id)).wallet
            check_bet(settings, stake)
        await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.GAMBLE,
            wallet=-stake, currency=currency, description=f"Blackjack: bet {stake:,} held",
            metadata={"game": Game.BLACKJACK.value, "bet": stake, "held": True},
            idempotency_key=idempotency_key, gambled=stake,
            short_message=_("You don't have {amount} in your wallet to bet.").format(
                amount=currency.format(stake)
            ),
        )
        game = await EconomyBlackjackGame.create(
            guild_id=guild_id, user_id=user_id, bet=stake, deck=deck, player_hand=player,
            dealer_hand=dealer, using_db=conn,
        )
        if is_blackjack(player) or is_blackjack(dealer):
            status, payout = judge(player, dealer, stake)
            return await _settle(conn, game, status, payout, dealer, deck, currency)
        await scheduler.schedule(
            BLACKJACK_TIMEOUT_KIND, now + BLACKJACK_TIMEOUT, {"game_id": game.id},
            guild_id=guild_id, dedupe_key=f"economy:blackjack:{game.id}", using_db=conn,
        )
        return _view(game, currency)

    return await atomic(run, idempotency_key=idempotency_key)


async def _settle(
    conn: BaseDBAsyncClient,
    game: EconomyBlackjackGame,
    status: BlackjackStatus,
    payout: int,
    dealer: list[str],
    deck: list[str],
    currency: Currency,
    player: list[str] | None = None,
) -> BlackjackView:
    """Finish an active game exactly once: pay, move it out of `active`, count it in the stats."""
    guild_id, user_id = game.guild_id, game.user_id  # type: ignore[attr-defined]
    if payout:
        await move(
            conn, guild_id=guild_id, user_id=user_id, type=TransactionType.GAMBLE,
            wallet=payout, currency=currency,
            description=f"Blackjack: paid {payout:,} on a bet of {game.bet:,}",
            metadata={"game": Game.BLACKJACK.value, "bet": game.bet, "payout": payout,
                      "game_id": game.id, "result": status.value},
            idempotency_key=_settle_key(game.id),
            earned=max(0, payout - game.bet),
        )
    changes: dict[str, Any] = {"status": status, "payout": payout, "dealer_hand": dealer,
                               "deck": deck, "version": game.version + 1}
    if player is not None:
        changes["player_hand"] = player
    finished = await EconomyBlackjackGame.filter(
        id=game.id, version=game.version, status=BlackjackStatus.ACTIVE
    ).using_db(conn).update(**changes)
    if not finished:
        raise ConflictError(_("This game already moved on: look at the latest hand."))
    await record_game(conn, guild_id, user_id, Game.BLACKJACK, game.bet, payout)
    await scheduler.cancel(BLACKJACK_TIMEOUT_KIND, f"economy:blackjack:{game.id}", using_db=conn)
    for name, value in changes.items():
        setattr(game, name, value)
    return _view(game, currency)


async def _load_game(game_id: int, user_id: int | None) -> EconomyBlackjackGame:
    game = await EconomyBlackjackGame.get_or_none(id=game_id)
    if game is None:
        raise NotFoundError(_("That blackjack game no longer exists."))
    if user_id is not None and game.user_id != user_id:  # type: ignore[attr-defined]
        raise PermissionDenied(_("This isn't your game: start your own with /blackjack."))
    if game.status != BlackjackStatus.ACTIVE:
        raise ConflictError(_("This game is already over."))
    return game


async def blackjack_hit(game_id: int, user_id: int) -> BlackjackView:
    """Draw a card. Over 21 loses; exactly 21 stands automatically."""
    game = await _load_game(game_id, user_id)
    settings = await ensure_accounts(game.guild_id, [user_id])  # type: ignore[attr-defined]
    currency = settings.currency
    player = [*game.player_hand, game.deck[0]]
    deck = game.deck[1:]

    async def run(conn: BaseDBAsyncClient) -> BlackjackView:
        if hand_value(player) >= 21:
            dealer, rest = (game.dealer_hand, deck) if hand_value(player) > 21 else \
                dealer_plays(game.dealer_hand, deck)
            status, payout = judge(player, dealer, game.bet)
            return await _settle(conn, game, status, payout, dealer, rest, currency, player)
        moved = await EconomyBlackjackGame.filter(
            id=game.id, version=game.version, status=BlackjackStatus.ACTIVE
        ).using_db(conn).update(player_hand=player, deck=deck, version=game.version + 1)
        if not moved:
            raise ConflictError(_("This game already moved on: look at the latest hand."))
        game.player_hand, game.deck, game.version = player, deck, game.version + 1
        return _view(game, currency)

    return await _once(game, run)


async def blackjack_stand(game_id: int, user_id: int | None) -> BlackjackView:
    """The player stops; the dealer plays and the game settles. `user_id` None: the timeout."""
    game = await _load_game(game_id, user_id)
    settings = await ensure_accounts(game.guild_id, [game.user_id])  # type: ignore[attr-defined]
    currency = settings.currency
    dealer, deck = dealer_plays(game.dealer_hand, game.deck)
    status, payout = judge(game.player_hand, dealer, game.bet)

    async def run(conn: BaseDBAsyncClient) -> BlackjackView:
        return await _settle(conn, game, status, payout, dealer, deck, currency)

    return await _once(game, run)


def _settle_key(game_id: int) -> str:
    return f"economy:blackjack:{game_id}:settle"


async def _once(
    game: EconomyBlackjackGame, run: Callable[[BaseDBAsyncClient], Awaitable[BlackjackView]]
) -> BlackjackView:
    """Run a move; a twin move that settled the game first turns this one into a refusal."""
    try:
        return await atomic(run, idempotency_key=_settle_key(game.id))
    except AlreadyProcessed:
        raise ConflictError(_("This game is already over.")) from None


async def expire_blackjack(game_id: int) -> BlackjackView | None:
    """The scheduler's timeout: an abandoned hand stands as it is. A finished game is left alone."""
    try:
        return await blackjack_stand(game_id, None)
    except (ConflictError, NotFoundError):
        return None


async def attach_blackjack_message(game_id: int, channel_id: int, message_id: int) -> None:
    """Remember where the hand is shown (for the timeout to update it)."""
    await EconomyBlackjackGame.filter(id=game_id).update(
        channel_id=channel_id, message_id=message_id
    )


async def get_blackjack(game_id: int) -> BlackjackView:
    game = await EconomyBlackjackGame.get_or_none(id=game_id)
    if game is None:
        raise NotFoundError(_("That blackjack game no longer exists."))
    settings = await ensure_accounts(game.guild_id, [game.user_id])  # type: ignore[attr-defined]
    return _view(game, settings.currency)


# --------------------------------------------------------------------------------------------
# Stats
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GameStats:
    game: Game
    played: int
    won: int
    wagered: int
    paid: int
    biggest_win: int
    biggest_loss: int
    streak: int
    best_streak: int

    @property
    def profit(self) -> int:
        return self.paid - self.wagered


async def gambling_stats(guild_id: int, user_id: int) -> tuple[list[GameStats], Currency]:
    settings = await ensure_accounts(guild_id, [user_id])
    rows = await EconomyGamblingStats.filter(guild_id=guild_id, user_id=user_id)
    by_game = {row.game: row for row in rows}
    stats = [
        GameStats(game, r.games_played, r.games_won, r.total_wagered, r.total_won,
                  r.biggest_win, r.biggest_loss, r.current_streak, r.best_streak)
        for game in Game if (r := by_game.get(game)) is not None
    ]
    return stats, settings.currency
