"""The overview's figures that are read from their features' tables (money, tickets), and the
member timeline through the feature services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.giveaways import Giveaway, GiveawayEntry, GiveawayStatus
from models.tickets import Ticket, TicketStatus
from pegasus.services import directory, member_timeline, stats
from pegasus.services.economy import accounts, staff

GUILD = 515_151_515_151
ALICE, BOB, STAFF = 616_161_616_161, 717_171_717_171, 818_181_818_181


async def test_money_tickets_and_the_member_timeline(db: str) -> None:
    for user_id in (ALICE, BOB, STAFF):
        await directory.ensure_member(GUILD, user_id)
    now = datetime.now(UTC)
    await accounts.get_balance(GUILD, ALICE)  # opens her account with the starting balance
    await accounts.get_balance(GUILD, BOB)
    await accounts.pay(GUILD, ALICE, BOB, 40)
    await staff.admin_adjust(GUILD, STAFF, ALICE, 500, take=False, reason="event prize")
    start = (await accounts.find_balance(GUILD, ALICE)).currency  # the settings' currency
    # Today's figures: half an hour ago, unless that was yesterday (just after midnight UTC).
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    opened = max(now - timedelta(minutes=30), midnight)
    for number, (wait, closed) in enumerate([(60, True), (300, False), (None, False)], start=1):
        await Ticket.create(
            guild_id=GUILD,
            user_id=ALICE,
            number=number,
            status=TicketStatus.CLOSED if closed else TicketStatus.OPEN,
            created_at=opened,
            first_response_at=None if wait is None else opened + timedelta(seconds=wait),
            closed_at=now if closed else None,
            rating=5 if closed else None,
        )

    for public_id, winners in (("G-AAAAA", [ALICE]), ("G-BBBBB", [BOB])):
        giveaway = await Giveaway.create(
            giveaway_id=public_id,
            guild_id=GUILD,
            channel_id=1,
            prize=f"Prize {public_id}",
            winner_count=1,
            starts_at=opened,
            ends_at=now,
            status=GiveawayStatus.ENDED,
            seed_hash="0" * 64,
            seed="1" * 64,
            winners=winners,
        )
        await GiveawayEntry.create(giveaway=giveaway, user_id=ALICE, entries=2)

    charts = await stats.guild_charts(GUILD, 7, now.date())
    today = charts.days[-1]
    supply, ledger = await accounts.total_money(GUILD)  # wallets and banks, and the ledger
    assert supply == ledger
    assert today.money_supply == supply
    assert today.transactions == 5  # two starting balances, a payment's two legs, one grant
    assert today.money_moved == (supply - 500) + 40 * 2 + 500  # starting, paid, granted
    assert charts.days[-2].money_supply == 0  # before today's transactions there was none
    assert (today.tickets_opened, today.tickets_closed) == (3, 1)
    assert charts.median_first_response_seconds == 180  # of 60 and 300; unanswered left out

    timeline = await member_timeline.member_timeline(GUILD, ALICE, now)
    titles = [event.title for event in timeline.events]
    assert "Opened ticket #0001 (closed, rated 5/5)" in titles
    assert sum(title.startswith("Opened ticket") for title in titles) == 3
    assert [t for t in titles if t.startswith("Flagged")] == [
        "Flagged: admin of +500 wallet, +0 bank"
    ]
    assert timeline.money == start.format(timeline.wallet + timeline.bank)
    assert [event.at for event in timeline.events] == sorted(
        (event.at for event in timeline.events), reverse=True
    )
