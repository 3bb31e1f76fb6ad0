"""Tickets service: panels, opening, numbering under concurrency, status rules, auto-close,
message history, ratings and statistics, on the real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models.scheduling import ActionStatus, ScheduledAction
from models.tickets import Ticket, TicketMessage, TicketPanel, TicketStatus
from pegasus.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from pegasus.services import tickets as svc
from pegasus.services.directory import ensure_member
from pegasus.services.tickets import Actor, AutoCloseVerdict, ButtonStyle

GUILD = 1_000
OTHER_GUILD = 2_000
SUPPORT_ROLE = 500
ALICE, BOB, CAROL = 11, 12, 13
STAFF, STAFF2, ADMIN = 21, 22, 23
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

staff = Actor(STAFF, is_staff=True)
staff2 = Actor(STAFF2, is_staff=True)
admin = Actor(ADMIN, is_admin=True)
alice = Actor(ALICE)
bob = Actor(BOB)


async def make_panel(guild_id: int = GUILD, *, max_per_user: int = 1, buttons: int = 1) -> str:
    panel = await svc.create_panel(
        guild_id,
        title="Support",
        description="Open a ticket",
        support_role_ids=[SUPPORT_ROLE],
        max_tickets_per_user=max_per_user,
    )
    for i in range(buttons):
        await svc.add_button(guild_id, panel.panel_id, label=f"Type {i + 1}")
    return panel.panel_id


async def open_with_channel(
    panel_id: str, user_id: int, channel_id: int, *, now: datetime = T0, index: int = 0
) -> Ticket:
    opened = await svc.open_ticket(
        GUILD, panel_id, index, user_id, reason="help", user_name=f"user{user_id}", now=now
    )
    return await svc.attach_channel(opened.ticket.id, channel_id, now=now)


def record(
    message_id: int,
    author_id: int,
    at: datetime,
    *,
    bot: bool = False,
    content: str | None = None,
) -> svc.MessageRecord:
    return svc.MessageRecord(
        message_id=message_id,
        author_id=author_id,
        author_name=f"user{author_id}",
        author_is_bot=bot,
        content=f"message {message_id}" if content is None else content,
        created_at=at,
    )


async def say(
    ticket: Ticket, message_id: int, author_id: int, at: datetime, *, bot: bool = False
) -> None:
    await svc.record_message(ticket.id, record(message_id, author_id, at, bot=bot))


# ------------------------------------------------------------------------------ panels


async def test_panel_lifecycle(db: str) -> None:
    panel = await svc.create_panel(
        GUILD, title=" Help desk ", description="Ask us", color=svc.parse_color("#5865F2")
    )
    assert panel.panel_id.startswith("TP-")
    assert panel.title == "Help desk"
    assert panel.color == 0x5865F2

    for label in ("Billing", "Bugs", "Other", "Partners", "Appeals"):
        await svc.add_button(GUILD, panel.panel_id.lower(), label=label, style=ButtonStyle.SUCCESS)
    with pytest.raises(ConflictError, match="already has 5 buttons"):
        await svc.add_button(GUILD, panel.panel_id, label="Sixth")

    edited = await svc.edit_panel(GUILD, panel.panel_id, title="Desk", remove_button=2)
    assert edited.title == "Desk"
    assert [b.label for b in svc.panel_buttons(edited)] == [
        "Billing",
        "Other",
        "Partners",
        "Appeals",
    ]
    stored = await svc.get_panel(GUILD, panel.panel_id)
    assert [b.label for b in svc.panel_buttons(stored)] == [
        "Billing",
        "Other",
        "Partners",
        "Appeals",
    ]
    assert svc.panel_buttons(stored)[0].style is ButtonStyle.SUCCESS

    with pytest.raises(ValidationError, match="from 1 to 4"):
        await svc.edit_panel(GUILD, panel.panel_id, remove_button=9)
    with pytest.raises(ValidationError, match="Nothing to change"):
        await svc.edit_panel(GUILD, panel.panel_id)
    # Another guild cannot see or touch it.
    with pytest.raises(NotFoundError):
        await svc.get_panel(OTHER_GUILD, panel.panel_id)

    assert [p.panel_id for p in await svc.list_panels(GUILD)] == [panel.panel_id]
    await svc.delete_panel(GUILD, panel.panel_id)
    assert await svc.list_panels(GUILD) == []


async def test_panel_validation(db: str) -> None:
    with pytest.raises(ValidationError, match="title"):
        await svc.create_panel(GUILD, title="", description="x")
    with pytest.raises(ValidationError, match="from 1 to"):
        await svc.create_panel(GUILD, title="t", description="d", max_tickets_per_user=0)
    assert svc.parse_color("blue") == svc.parse_color("#3498DB")  # the colours /rankcard knows
    with pytest.raises(ValidationError, match="not a colour"):
        svc.parse_color("bleu")
    panel = await svc.create_panel(GUILD, title="t", description="d")
    with pytest.raises(ValidationError, match=r"\{number\} and \{user\}"):
        await svc.add_button(GUILD, panel.panel_id, label="x", name_format="t-{id}")
    with pytest.raises(ValidationError, match="label"):
        await svc.add_button(GUILD, panel.panel_id, label=" ")


def test_emoji_validation() -> None:
    assert svc.validate_emoji(" 🎫 ") == "🎫"
    assert svc.validate_emoji("👩🏽‍💻") == "👩🏽‍💻"
    assert svc.validate_emoji("<:help:123456789012345678>") == "<:help:123456789012345678>"
    assert svc.validate_emoji("<a:spin:123456789012345678>") == "<a:spin:123456789012345678>"
    assert svc.validate_emoji("") is None and svc.validate_emoji(None) is None
    for bad in ("ticket", ":help:", "🎫 help", "<:x:1>"):
        with pytest.raises(ValidationError, match="not an emoji"):
            svc.validate_emoji(bad)


def test_channel_names() -> None:
    assert svc.channel_name_from("ticket-{number}", number=1, user_name="x") == "ticket-0001"
    assert (
        svc.channel_name_from("{user} Help {number}", number=12, user_name="Alice B!")
        == "alice-b-help-0012"
    )
    assert svc.clean_channel_name("  Billing / Refund ") == "billing--refund"
    assert len(svc.clean_channel_name("a" * 300)) == 100


# ------------------------------------------------------------------------------ opening


async def test_open_ticket_numbers_and_channel_details(db: str) -> None:
    panel = await svc.create_panel(
        GUILD, title="t", description="d", support_role_ids=[SUPPORT_ROLE], category_id=77
    )
    await svc.add_button(GUILD, panel.panel_id, label="General")
    await svc.add_button(
        GUILD,
        panel.panel_id,
        label="Billing",
        support_role_ids=[600, 601],
        category_id=88,
        name_format="bill-{user}-{number}",
        welcome_message="Hello {user}, billing here.",
    )
    first = await svc.open_ticket(
        GUILD, panel.panel_id, 0, ALICE, reason=" my app crashed ", user_name="Alice", now=T0
    )
    second = await svc.open_ticket(
        GUILD, panel.panel_id, 1, BOB, reason=None, user_name="Bob", now=T0
    )
    assert (first.ticket.number, second.ticket.number) == (1, 2)
    assert first.channel_name == "ticket-0001"
    assert first.category_id == 77 and first.support_role_ids == (SUPPORT_ROLE,)
    # The welcome names the opener with {user}: the cog renders the mention.
    assert first.welcome_message == svc.DEFAULT_WELCOME and "{user}" in first.welcome_message
    assert first.ticket.reason == "my app crashed"
    assert (first.label, second.label) == ("General", "Billing")
    assert second.channel_name == "bill-bob-0002"
    assert second.category_id == 88 and second.support_role_ids == (600, 601)
    assert second.welcome_message == "Hello {user}, billing here."
    # Numbers are per guild.
    other = await make_panel(OTHER_GUILD)
    opened = await svc.open_ticket(OTHER_GUILD, other, 0, ALICE, reason=None, user_name="a", now=T0)
    assert opened.ticket.number == 1


async def test_open_refusals(db: str) -> None:
    panel_id = await make_panel()
    with pytest.raises(NotFoundError, match="button was removed"):
        await svc.open_ticket(GUILD, panel_id, 3, ALICE, reason=None, user_name="a", now=T0)
    await svc.edit_panel(GUILD, panel_id, is_active=False)
    with pytest.raises(ConflictError, match="closed for now"):
        await svc.open_ticket(GUILD, panel_id, 0, ALICE, reason=None, user_name="a", now=T0)
    with pytest.raises(NotFoundError, match="deleted"):
        await svc.open_ticket(GUILD, "TP-NOPE2", 0, ALICE, reason=None, user_name="a", now=T0)
    await svc.edit_panel(GUILD, panel_id, is_active=True)
    with pytest.raises(ValidationError, match="reason"):
        await svc.open_ticket(GUILD, panel_id, 0, ALICE, reason="x" * 1001, user_name="a", now=T0)


async def test_open_ticket_limit_per_member(db: str) -> None:
    panel_id = await make_panel(max_per_user=2)
    await open_with_channel(panel_id, ALICE, 9001)
    await open_with_channel(panel_id, ALICE, 9002)
    with pytest.raises(ConflictError, match=r"2 open tickets .*<#9001>, <#9002>"):
        await svc.open_ticket(GUILD, panel_id, 0, ALICE, reason=None, user_name="a", now=T0)
    # Others are not affected, and a closed ticket frees a place; the refused try used no number.
    bobs = await svc.open_ticket(GUILD, panel_id, 0, BOB, reason=None, user_name="b", now=T0)
    assert bobs.ticket.number == 3
    first = await svc.ticket_in_channel(GUILD, 9001)
    await svc.close(first.id, alice, reason=None, now=T0)
    again = await svc.open_ticket(GUILD, panel_id, 0, ALICE, reason=None, user_name="a", now=T0)
    assert again.ticket.number == 4


async def test_simultaneous_openings_get_distinct_sequential_numbers(db: str) -> None:
    panel_id = await make_panel()
    members = list(range(100, 120))

    async def open_for(user_id: int) -> int:
        opened = await svc.open_ticket(
            GUILD, panel_id, 0, user_id, reason=None, user_name=str(user_id), now=T0
        )
        return opened.ticket.number

    numbers = await asyncio.gather(*(open_for(m) for m in members))
    assert sorted(numbers) == list(range(1, 21))
    assert await Ticket.filter(guild_id=GUILD).count() == 20


async def test_one_member_racing_the_limit_gets_one_ticket(db: str) -> None:
    panel_id = await make_panel(max_per_user=1)
    # Her rows exist already, so nothing but the ticket rules orders the racing transactions.
    await ensure_member(GUILD, ALICE)

    async def attempt() -> int | None:
        try:
            opened = await svc.open_ticket(
                GUILD, panel_id, 0, ALICE, reason=None, user_name="a", now=T0
            )
        except ConflictError:
            return None
        return opened.ticket.number

    results = await asyncio.gather(*(attempt() for _ in range(8)))
    assert [r for r in results if r is not None] == [1]
    assert await Ticket.filter(guild_id=GUILD, user_id=ALICE).count() == 1


async def test_abandon_ticket_forgets_it(db: str) -> None:
    panel_id = await make_panel()
    opened = await svc.open_ticket(GUILD, panel_id, 0, ALICE, reason=None, user_name="a", now=T0)
    await svc.abandon_ticket(opened.ticket.id)
    assert not await Ticket.filter(id=opened.ticket.id).exists()
    retry = await svc.open_ticket(GUILD, panel_id, 0, ALICE, reason=None, user_name="a", now=T0)
    assert retry.ticket.number == 2


# ------------------------------------------------------------------------------ status changes


async def test_claim_lock_freeze_and_derived_status(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    assert ticket.status is TicketStatus.OPEN

    with pytest.raises(PermissionDenied, match="Only the ticket's staff can claim"):
        await svc.claim(ticket.id, alice, now=T0)
    claimed = await svc.claim(ticket.id, staff, now=T0)
    assert claimed.status is TicketStatus.CLAIMED and claimed.claimed_by_id == STAFF
    with pytest.raises(ConflictError, match="already claimed by <@21>"):
        await svc.claim(ticket.id, staff2, now=T0)
    with pytest.raises(ConflictError, match="already claimed this ticket"):
        await svc.claim(ticket.id, staff, now=T0)

    locked = await svc.lock(ticket.id, staff2, now=T0)
    assert locked.status is TicketStatus.LOCKED
    frozen = await svc.freeze(ticket.id, staff, now=T0)
    assert frozen.status is TicketStatus.FROZEN
    with pytest.raises(ConflictError, match="already frozen"):
        await svc.freeze(ticket.id, staff, now=T0)
    assert (await svc.unfreeze(ticket.id, staff, now=T0)).status is TicketStatus.LOCKED
    # Unlocking returns to "claimed", not "open": the claim still stands.
    assert (await svc.unlock(ticket.id, staff, now=T0)).status is TicketStatus.CLAIMED
    with pytest.raises(ConflictError, match="not locked"):
        await svc.unlock(ticket.id, staff, now=T0)

    with pytest.raises(PermissionDenied, match="Only <@21>"):
        await svc.unclaim(ticket.id, staff2, now=T0)
    assert (await svc.unclaim(ticket.id, admin, now=T0)).status is TicketStatus.OPEN
    with pytest.raises(ConflictError, match="Nobody has claimed"):
        await svc.unclaim(ticket.id, staff, now=T0)

    stored = await Ticket.get(id=ticket.id)
    assert stored.status is TicketStatus.OPEN
    assert stored.claimed_by_id is None and stored.locked_at is None and stored.frozen_at is None


async def test_members_of_a_ticket(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    with pytest.raises(PermissionDenied):
        await svc.add_participant(ticket.id, alice, BOB, now=T0)
    added = await svc.add_participant(ticket.id, staff, BOB, now=T0)
    assert added.participant_ids == (BOB,)
    with pytest.raises(ConflictError, match="already in this ticket"):
        await svc.add_participant(ticket.id, staff, BOB, now=T0)
    with pytest.raises(ConflictError, match="opened this ticket"):
        await svc.add_participant(ticket.id, staff, ALICE, now=T0)
    with pytest.raises(ConflictError, match="cannot be removed"):
        await svc.remove_participant(ticket.id, staff, ALICE, now=T0)
    removed = await svc.remove_participant(ticket.id, staff, BOB, now=T0)
    assert removed.participant_ids == ()
    assert (await Ticket.get(id=ticket.id)).participant_ids == []

    with pytest.raises(PermissionDenied):
        await svc.rename(ticket.id, alice, "x")
    _, name = await svc.rename(ticket.id, staff, "Refund Request")
    assert name == "refund-request"
    with pytest.raises(ValidationError):
        await svc.rename(ticket.id, staff, "!!!")


async def test_close_undo_and_reopen(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    await svc.claim(ticket.id, staff, now=T0)
    with pytest.raises(PermissionDenied, match="opened this ticket or its staff"):
        await svc.close(ticket.id, bob, reason=None, now=T0)

    closed = await svc.close(ticket.id, alice, reason="solved", now=T0 + timedelta(hours=1))
    assert closed.status is TicketStatus.CLOSED
    assert (closed.closed_by_id, closed.close_reason) == (ALICE, "solved")
    with pytest.raises(ConflictError, match="is already closed"):
        await svc.close(ticket.id, staff, reason=None, now=T0)
    with pytest.raises(ConflictError, match="is closed"):
        await svc.lock(ticket.id, staff, now=T0)
    assert 9001 not in await svc.open_ticket_channels()

    restored = await svc.undo_close(ticket.id, now=T0)
    assert restored.status is TicketStatus.CLAIMED  # as it was before the failed close
    assert restored.closed_at is None and restored.close_reason is None
    assert (await svc.open_ticket_channels())[9001] == ticket.id

    await svc.close(ticket.id, None, reason="inactive", now=T0)
    with pytest.raises(PermissionDenied):
        await svc.reopen(ticket.id, alice, now=T0)
    reopened = await svc.reopen(ticket.id, staff, now=T0 + timedelta(days=1))
    assert reopened.status is TicketStatus.CLAIMED
    assert reopened.reopened_at == T0 + timedelta(days=1)
    with pytest.raises(ConflictError, match="is not closed"):
        await svc.reopen(ticket.id, staff, now=T0)


async def test_two_staff_closing_at_once_close_it_once(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)

    async def attempt(actor: Actor) -> bool:
        try:
            await svc.close(ticket.id, actor, reason=None, now=T0)
        except ConflictError:
            return False
        return True

    results = await asyncio.gather(*(attempt(a) for a in (staff, staff2, admin, alice)))
    assert sorted(results) == [False, False, False, True]


async def test_actor_rows_are_created_for_foreign_keys(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    newcomer = Actor(987_654_321_012_345_678, is_staff=True)
    claimed = await svc.claim(ticket.id, newcomer, now=T0)
    assert claimed.claimed_by_id == newcomer.user_id


# ------------------------------------------------------------------------------ auto-close


async def pending_autoclose(ticket: Ticket) -> list[ScheduledAction]:
    return await ScheduledAction.filter(
        kind=svc.AUTOCLOSE_KIND, dedupe_key=f"ticket:{ticket.id}", status=ActionStatus.PENDING
    )


async def test_autoclose_timer_follows_activity(db: str) -> None:
    await svc.configure(GUILD, auto_close_hours=24)
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    [timer] = await pending_autoclose(ticket)
    assert timer.due_at == T0 + timedelta(hours=24)
    assert timer.payload == {"ticket_id": str(ticket.id)}

    # A member wrote 10 hours in (bot messages do not count): the timer moves, nothing closes.
    await say(ticket, 1, ALICE, T0 + timedelta(hours=10))
    await say(ticket, 2, 999, T0 + timedelta(hours=20), bot=True)
    check = await svc.check_autoclose(ticket.id, now=T0 + timedelta(hours=24))
    assert check.verdict is AutoCloseVerdict.WAIT
    assert check.due_at == T0 + timedelta(hours=34)
    [timer] = await pending_autoclose(ticket)
    assert timer.due_at == T0 + timedelta(hours=34)

    check = await svc.check_autoclose(ticket.id, now=T0 + timedelta(hours=34))
    assert check.verdict is AutoCloseVerdict.CLOSE and check.hours == 24

    await svc.close(ticket.id, None, reason="inactive", now=T0 + timedelta(hours=34))
    assert await pending_autoclose(ticket) == []
    check = await svc.check_autoclose(ticket.id, now=T0 + timedelta(hours=50))
    assert check.verdict is AutoCloseVerdict.SKIP


async def test_autoclose_off_frozen_and_reopened(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    assert await pending_autoclose(ticket) == []  # off by default
    assert (await svc.check_autoclose(ticket.id, now=T0)).verdict is AutoCloseVerdict.SKIP

    await svc.configure(GUILD, auto_close_hours=2)
    await svc.freeze(ticket.id, staff, now=T0)
    check = await svc.check_autoclose(ticket.id, now=T0 + timedelta(hours=5))
    assert check.verdict is AutoCloseVerdict.WAIT  # nobody can write in a frozen ticket
    assert check.due_at == T0 + timedelta(hours=7)

    await svc.unfreeze(ticket.id, staff, now=T0)
    await svc.close(ticket.id, staff, reason=None, now=T0 + timedelta(hours=6))
    await svc.reopen(ticket.id, staff, now=T0 + timedelta(hours=8))
    [timer] = await pending_autoclose(ticket)
    assert timer.due_at == T0 + timedelta(hours=10)
    check = await svc.check_autoclose(ticket.id, now=T0 + timedelta(hours=9))
    assert check.verdict is AutoCloseVerdict.WAIT and check.due_at == T0 + timedelta(hours=10)

    await svc.configure(GUILD, auto_close_hours=0)
    assert (await svc.check_autoclose(ticket.id, now=T0)).verdict is AutoCloseVerdict.SKIP
    with pytest.raises(ValidationError, match="hours"):
        await svc.configure(GUILD, auto_close_hours=10_000)


async def test_settings(db: str) -> None:
    settings = await svc.get_settings(GUILD)
    assert settings.log_channel_id is None and settings.auto_close_hours is None
    settings = await svc.configure(GUILD, log_channel_id=42, auto_close_hours=12)
    assert (settings.log_channel_id, settings.auto_close_hours) == (42, 12)
    settings = await svc.configure(GUILD, clear_log_channel=True)
    assert (settings.log_channel_id, settings.auto_close_hours) == (None, 12)


# ------------------------------------------------------------------------------ messages


async def test_messages_edits_deletions_and_first_response(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    await say(ticket, 1, 999, T0 + timedelta(minutes=1), bot=True)  # the welcome message
    await say(ticket, 2, ALICE, T0 + timedelta(minutes=2))
    await say(ticket, 2, ALICE, T0 + timedelta(minutes=2))  # replayed by the gateway: ignored
    assert (await Ticket.get(id=ticket.id)).first_response_at is None
    await say(ticket, 3, STAFF, T0 + timedelta(minutes=7))
    await say(ticket, 4, STAFF2, T0 + timedelta(minutes=9))
    assert (await Ticket.get(id=ticket.id)).first_response_at == T0 + timedelta(minutes=7)

    fixed = record(2, ALICE, T0 + timedelta(minutes=2), content="fixed typo")
    edit_at = T0 + timedelta(minutes=3)
    await svc.record_edit(ticket.id, fixed, previous_content="message 2", edited_at=edit_at)
    # The same edit again (a replay), and an update that did not change the text.
    await svc.record_edit(ticket.id, fixed, previous_content="message 2", edited_at=edit_at)
    later = T0 + timedelta(minutes=4)
    await svc.record_edit(ticket.id, fixed, previous_content="fixed typo", edited_at=later)
    deleted = await svc.record_deletions(ticket.id, [3, 777], deleted_at=T0 + timedelta(minutes=8))
    assert deleted == 1

    messages = await svc.ticket_messages(ticket.id)
    assert [m.message_id for m in messages] == [1, 2, 3, 4]
    edited = messages[1]
    assert edited.content == "fixed typo"
    assert edited.edited_at == T0 + timedelta(minutes=3)
    assert [h["content"] for h in edited.edit_history] == ["message 2"]
    assert messages[2].deleted_at == T0 + timedelta(minutes=8)
    assert messages[0].author_is_bot and not messages[1].author_is_bot


@pytest.mark.parametrize("order", ["message first", "edit first"])
async def test_an_edit_is_kept_whatever_order_the_events_are_handled_in(
    db: str, order: str
) -> None:
    """Discord's client updates a cached message in place, so the message may be stored with
    its edited text, or the edit handled before the message: the history is the same."""
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    edited = record(5, ALICE, T0, content="after")
    edit_at = T0 + timedelta(minutes=1)
    if order == "message first":
        await svc.record_message(ticket.id, edited)  # already shows the edited text
        await svc.record_edit(ticket.id, edited, previous_content="before", edited_at=edit_at)
    else:
        await svc.record_edit(ticket.id, edited, previous_content="before", edited_at=edit_at)
        await svc.record_message(ticket.id, edited)
    [stored] = await svc.ticket_messages(ticket.id)
    assert stored.content == "after"
    assert [h["content"] for h in stored.edit_history] == ["before"]
    assert stored.edited_at == edit_at


async def test_a_deletion_handled_before_its_message_keeps_the_message(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    gone = record(6, ALICE, T0, content="oops")
    deleted_at = T0 + timedelta(seconds=5)
    assert await svc.record_deletions(ticket.id, [6], deleted_at=deleted_at, known=[gone]) == 1
    await svc.record_message(ticket.id, gone)
    [stored] = await svc.ticket_messages(ticket.id)
    assert (stored.content, stored.deleted_at) == ("oops", deleted_at)


async def test_open_ticket_channels_lists_only_open_tickets(db: str) -> None:
    panel_id = await make_panel(max_per_user=3)
    first = await open_with_channel(panel_id, ALICE, 9001)
    await open_with_channel(panel_id, BOB, 9002)
    await svc.open_ticket(GUILD, panel_id, 0, CAROL, reason=None, user_name="c", now=T0)
    await svc.close(first.id, alice, reason=None, now=T0)
    assert set(await svc.open_ticket_channels()) == {9002}


async def test_transcript_from_stored_messages(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    await svc.record_message(
        ticket.id,
        svc.MessageRecord(
            message_id=1,
            author_id=ALICE,
            author_name="alice",
            author_is_bot=False,
            content="<b>not bold</b> & more",
            created_at=T0,
            attachments=[{"name": "log.txt", "url": "https://cdn.example/log.txt"}],
        ),
    )
    closed = await svc.close(ticket.id, staff, reason="done", now=T0 + timedelta(hours=1))
    names = {ALICE: "Alice", STAFF: "Sam (staff)"}
    transcript = await svc.build_transcript(
        closed, guild_name="Pegasus Test", name_of=names.__getitem__, now=T0 + timedelta(hours=1)
    )
    assert transcript.filename == "ticket-0001-transcript.html"
    assert transcript.message_count == 1
    page = transcript.html
    assert "Ticket #0001" in page
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; more" in page
    assert "<b>not bold</b>" not in page
    assert 'href="https://cdn.example/log.txt"' in page
    assert "Sam (staff)" in page and "Alice" in page and "done" in page
    assert svc.can_read_transcript(closed, alice) and svc.can_read_transcript(closed, staff)
    assert not svc.can_read_transcript(closed, bob)


# ------------------------------------------------------------------------------ ratings, stats


async def test_rating_rules(db: str) -> None:
    panel_id = await make_panel()
    ticket = await open_with_channel(panel_id, ALICE, 9001)
    with pytest.raises(ConflictError, match="rate it once it is closed"):
        await svc.rate(ticket.id, ALICE, 5, now=T0)
    await svc.close(ticket.id, staff, reason=None, now=T0)
    with pytest.raises(PermissionDenied, match="Only the member who opened"):
        await svc.rate(ticket.id, BOB, 5, now=T0)
    with pytest.raises(ValidationError, match="1 to 5"):
        await svc.rate(ticket.id, ALICE, 6, now=T0)
    with pytest.raises(ConflictError, match="stars first"):
        await svc.comment_rating(ticket.id, ALICE, "great", now=T0)
    rated = await svc.rate(ticket.id, ALICE, 4, now=T0)
    assert rated.rating == 4 and rated.rated_at == T0
    commented = await svc.comment_rating(ticket.id, ALICE, "  quick and kind ", now=T0)
    assert (commented.rating, commented.rating_comment) == (4, "quick and kind")
    changed = await svc.rate(ticket.id, ALICE, 5, now=T0)
    assert (changed.rating, changed.rating_comment) == (5, "quick and kind")


async def test_stats(db: str) -> None:
    panel_id = await make_panel(max_per_user=5)
    plan = [  # (opener, claimer, minutes to first response, rating)
        (ALICE, STAFF, 10, 5),
        (BOB, STAFF, 30, 3),
        (CAROL, STAFF2, 20, None),
        (ALICE, None, 60, 4),  # closed unclaimed by STAFF
    ]
    for i, (opener, claimer, minutes, rating) in enumerate(plan):
        ticket = await open_with_channel(panel_id, opener, 9000 + i)
        if claimer:
            await svc.claim(ticket.id, Actor(claimer, is_staff=True), now=T0)
        await say(ticket, 100 + i, claimer or STAFF, T0 + timedelta(minutes=minutes))
        await svc.close(ticket.id, staff, reason=None, now=T0 + timedelta(hours=2))
        if rating:
            await svc.rate(ticket.id, opener, rating, now=T0)
    await open_with_channel(panel_id, BOB, 9100)  # still open, no response yet

    guild = await svc.stats(GUILD)
    assert (guild.opened, guild.open_now, guild.handled, guild.rated) == (5, 1, 4, 3)
    assert guild.average_rating == pytest.approx(4.0)
    assert guild.median_first_response_seconds == 25 * 60

    sam = await svc.stats(GUILD, staff_id=STAFF)
    assert (sam.handled, sam.rated) == (3, 3)
    assert sam.average_rating == pytest.approx(4.0)
    assert sam.median_first_response_seconds == 30 * 60

    other = await svc.stats(GUILD, staff_id=STAFF2)
    assert (other.handled, other.rated, other.average_rating) == (1, 0, None)
    assert other.median_first_response_seconds == 20 * 60

    empty = await svc.stats(OTHER_GUILD)
    assert (empty.opened, empty.handled, empty.average_rating) == (0, 0, None)
    assert empty.median_first_response_seconds is None
    assert await TicketPanel.filter(guild_id=GUILD).count() == 1
    assert await TicketMessage.all().count() == 4


async def test_check_can_open_refuses_before_the_form(db: str) -> None:
    panel_id = await make_panel(max_per_user=1)
    await svc.check_can_open(GUILD, panel_id, 0, ALICE)  # nothing open yet: fine
    await open_with_channel(panel_id, ALICE, 9001)
    with pytest.raises(ConflictError, match="<#9001>"):
        await svc.check_can_open(GUILD, panel_id, 0, ALICE)
    with pytest.raises(NotFoundError, match="button was removed"):
        await svc.check_can_open(GUILD, panel_id, 4, BOB)
    await svc.edit_panel(GUILD, panel_id, is_active=False)
    with pytest.raises(ConflictError, match="closed for now"):
        await svc.check_can_open(GUILD, panel_id, 0, BOB)


async def test_support_roles_of_the_guild(db: str) -> None:
    assert await svc.support_role_ids(GUILD) == set()
    panel = await svc.create_panel(GUILD, title="t", description="d", support_role_ids=[1, 2])
    await svc.add_button(GUILD, panel.panel_id, label="a", support_role_ids=[3])
    await make_panel(OTHER_GUILD)
    assert await svc.support_role_ids(GUILD) == {1, 2, 3}


async def test_reopened_channel_name_follows_the_button(db: str) -> None:
    panel = await svc.create_panel(GUILD, title="t", description="d")
    await svc.add_button(GUILD, panel.panel_id, label="Billing", name_format="bill-{number}")
    opened = await svc.open_ticket(
        GUILD, panel.panel_id, 0, ALICE, reason=None, user_name="a", now=T0
    )
    assert await svc.reopened_channel_name(opened.ticket, "alice") == "bill-0001"
    await svc.delete_panel(GUILD, panel.panel_id)
    orphan = await svc.get_ticket(opened.ticket.id)
    assert await svc.reopened_channel_name(orphan, "alice") == "ticket-0001"


async def test_a_stale_button_position_is_found_by_its_label(db: str) -> None:
    panel = await svc.create_panel(GUILD, title="t", description="d")
    await svc.add_button(GUILD, panel.panel_id, label="Help", support_role_ids=[1])
    await svc.add_button(GUILD, panel.panel_id, label="Leak", support_role_ids=[2])
    await svc.edit_panel(GUILD, panel.panel_id, remove_button=1)
    # An older copy still says Leak is second, and Help first.
    assert (await svc.check_can_open(GUILD, panel.panel_id, 1, ALICE, label="Leak")).label == "Leak"
    with pytest.raises(NotFoundError, match="button was removed"):
        await svc.check_can_open(GUILD, panel.panel_id, 0, ALICE, label="Help")
    with pytest.raises(NotFoundError, match="button was removed"):
        await svc.open_ticket(
            GUILD, panel.panel_id, 0, ALICE, reason=None, user_name="a", now=T0, label="Help"
        )
    opened = await svc.open_ticket(
        GUILD, panel.panel_id, 1, ALICE, reason=None, user_name="a", now=T0, label="Leak"
    )
    assert (opened.label, opened.ticket.button_index, opened.support_role_ids) == ("Leak", 0, (2,))
    # Without a label (a caller that does not know it) the position is taken as it is.
    assert (await svc.check_can_open(GUILD, panel.panel_id, 0, BOB)).label == "Leak"
