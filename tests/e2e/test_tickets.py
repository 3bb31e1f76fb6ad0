"""Support tickets end to end, through the local Discord: members click, type and run commands,
and the tests look at the channels, permissions, messages, files and the database."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import discord
import pytest

from models.scheduling import ActionStatus, ScheduledAction
from models.security import AuditLog
from models.tickets import Ticket, TicketMessage, TicketStatus
from pegasus.localdiscord import ActionRefused, CommandUnavailable, FakeChannel, FakeMember, Reply
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import tickets as service

PANEL_ID = re.compile(r"TP-[0-9A-Z]+")

# Only what tickets need, so these tests speak about tickets alone.
pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.tickets"))


# ------------------------------------------------------------------------------ helpers


async def make_panel(env: DiscordEnv, *, max_per_user: int = 1, log_channel: bool = True) -> str:
    """The owner creates a panel with Moderator as staff, adds a Help button and posts it in
    #general; transcripts go to #logs."""
    created = await env.owner.slash(
        "ticket-panel create",
        title="Support",
        description="Need help? Open a ticket.",
        support_role=env.guild.role("Moderator"),
        max_per_user=max_per_user,
    )
    match = PANEL_ID.search(created.content or "")
    assert created.ephemeral and match, created.content
    panel_id = match.group(0)
    added = await env.owner.slash("ticket-panel button", panel=panel_id, label="Help")
    assert "added" in (added.content or ""), added.content
    sent = await env.owner.slash("ticket-panel send", panel=panel_id)
    assert sent.ephemeral and "posted" in (sent.content or ""), sent.content
    if log_channel:
        settings = await env.owner.slash("ticket-panel settings", log_channel=env.channel("logs"))
        assert env.channel("logs").mention in (settings.content or ""), settings.content
    return panel_id


def panel_message(env: DiscordEnv):  # type: ignore[no-untyped-def]
    return next(m for m in env.channel("general").bot_messages if m.buttons)


async def open_ticket(
    env: DiscordEnv, member: FakeMember, reason: str = "My order never arrived"
) -> Reply:
    form = await member.click(panel_message(env), label="Help")
    assert form.kind == "modal", form.content
    done = await member.submit_modal(form, {"reason": reason})
    await env.settle()
    return done


async def close_with(
    env: DiscordEnv, member: FakeMember, channel: FakeChannel, reason: str | None = None
) -> Reply:
    options = {"reason": reason} if reason else {}
    prompt = await member.slash("ticket close", in_channel=channel, **options)
    assert prompt.ephemeral and "Close ticket #" in (prompt.content or ""), prompt.content
    done = await member.click(prompt, label="Close ticket")
    await env.settle()
    return done


async def ticket_number(number: int) -> Ticket:
    return await Ticket.get(number=number)


# ------------------------------------------------------------------------------ the whole life


async def test_the_whole_life_of_a_ticket(discord_env: DiscordEnv) -> None:
    env = discord_env
    alice, mod, owner, bob = env.alice, env.mod, env.owner, env.bob
    await make_panel(env)

    # Opening: a modal asks the reason, then a private channel appears.
    done = await open_ticket(env, alice)
    channel = env.guild.channel("ticket-0001")
    assert done.ephemeral and channel.mention in (done.content or "")
    assert channel.can_see(alice) and channel.can_see(mod) and channel.can_see(owner)
    assert not channel.can_see(bob) and not channel.can_see(env.carol)
    welcome = channel.bot_messages[0]
    assert "My order never arrived" in welcome.text and alice.mention in welcome.text
    assert {b["label"] for b in welcome.buttons} == {"Claim", "Close"}
    ticket = await ticket_number(1)
    assert (ticket.channel_id, ticket.status, ticket.user_id) == (
        channel.id,
        TicketStatus.OPEN,
        alice.id,
    )

    # Claim with the button.
    claimed = await mod.click(welcome, label="Claim")
    assert not claimed.ephemeral and "claimed this ticket" in (claimed.content or "")
    assert (await ticket_number(1)).status is TicketStatus.CLAIMED

    # Conversation: messages, an edit and a deletion are stored.
    question = await alice.say(channel, "Order 1234 <b>never</b> came")
    answer = await mod.say(channel, "Looking into it")
    typo = await alice.say(channel, "it was a gift")
    await alice.edit(question, "Order 1234 never came, paid by card")
    await alice.delete(typo)
    await env.settle()
    stored = {m.message_id: m for m in await TicketMessage.filter(ticket_id=ticket.id)}
    assert stored[question.id].content == "Order 1234 never came, paid by card"
    assert stored[question.id].edit_history[0]["content"] == "Order 1234 <b>never</b> came"
    assert stored[typo.id].deleted_at is not None
    assert stored[answer.id].author_id == mod.id
    assert (await ticket_number(1)).first_response_at is not None

    # Lock: only staff write. Unlock returns to claimed.
    locked = await mod.slash("ticket lock", in_channel=channel)
    assert "locked" in (locked.content or "")
    assert not channel.permissions_for(alice).send_messages
    assert channel.permissions_for(mod).send_messages
    with pytest.raises(ActionRefused):
        await alice.say(channel, "hello?")
    assert (await ticket_number(1)).status is TicketStatus.LOCKED
    await mod.slash("ticket unlock", in_channel=channel)
    assert channel.permissions_for(alice).send_messages
    assert (await ticket_number(1)).status is TicketStatus.CLAIMED

    # Freeze: nobody but admins write.
    await mod.slash("ticket freeze", in_channel=channel)
    assert not channel.permissions_for(alice).send_messages
    assert not channel.permissions_for(mod).send_messages
    assert channel.permissions_for(owner).send_messages
    assert (await ticket_number(1)).status is TicketStatus.FROZEN
    await owner.slash("ticket unfreeze", in_channel=channel)
    assert (
        channel.permissions_for(alice).send_messages and channel.permissions_for(mod).send_messages
    )

    # Add and remove a member; rename.
    await mod.slash("ticket add", in_channel=channel, member=bob)
    assert channel.can_see(bob) and channel.permissions_for(bob).send_messages
    await mod.slash("ticket remove", in_channel=channel, member=bob)
    assert not channel.can_see(bob)
    renamed = await mod.slash("ticket rename", in_channel=channel, name="Lost Order")
    assert "lost-order" in (renamed.content or "")
    assert channel.name == "lost-order"

    # Unclaim, and the opener's own copy of the transcript on demand.
    await mod.slash("ticket unclaim", in_channel=channel)
    assert (await ticket_number(1)).status is TicketStatus.OPEN
    copy = await alice.slash("ticket transcript", in_channel=channel)
    assert copy.ephemeral and copy.attachments[0].filename == "ticket-0001-transcript.html"

    # Close with confirmation: transcript to #logs, DM to the opener, then the channel goes.
    closing = await close_with(env, mod, channel, reason="Refund sent")
    assert "Closing" in (closing.content or "")
    assert channel.deleted
    closed = await ticket_number(1)
    assert closed.status is TicketStatus.CLOSED
    assert (closed.closed_by_id, closed.close_reason) == (mod.id, "Refund sent")
    log_post = env.channel("logs").bot_messages[-1]
    assert "Ticket #0001 closed" in log_post.text and "Refund sent" in log_post.text
    page = log_post.attachments[0].data.decode()
    assert log_post.attachments[0].filename == "ticket-0001-transcript.html"
    assert "Order 1234 never came, paid by card" in page
    assert "Order 1234 &lt;b&gt;never&lt;/b&gt; came" in page  # the earlier version, escaped
    assert "Looking into it" in page and "it was a gift" in page
    dm = env.server.dms(alice)[-1]
    assert dm.attachments[0].filename == "ticket-0001-transcript.html"
    assert [b["label"] for b in dm.buttons] == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"]
    assert closed.id not in (await service.open_ticket_channels()).values()
    assert channel.id not in env.bot.get_cog("Tickets").open_channels  # type: ignore[union-attr]

    # Rating with an optional comment.
    form = await alice.click(dm, label="4 ★")
    assert form.kind == "modal"
    thanks = await alice.submit_modal(form, {"comment": "Quick and kind"})
    assert "★★★★☆" in (thanks.content or "")
    await env.settle()
    rated = await ticket_number(1)
    assert (rated.rating, rated.rating_comment) == (4, "Quick and kind")
    log_lines = [m.text for m in env.channel("logs").bot_messages]
    assert any("was rated ★★★★☆" in line for line in log_lines), log_lines
    assert any("commented" in line and "Quick and kind" in line for line in log_lines), log_lines

    # Statistics.
    stats = await mod.slash("ticket stats")
    assert stats.ephemeral
    assert "4.00 / 5" in stats.text and "Tickets closed" in stats.text
    fields = {f["name"]: f["value"] for f in (stats.embed or {}).get("fields", [])}
    # The moderator answered at once: the median first response is a duration, not "none yet".
    assert re.fullmatch(r"\d+s", fields["Median first response"]), fields
    mine = await mod.slash("ticket stats", member=mod)
    assert "Tickets handled" in mine.text
    mine_fields = {f["name"]: f["value"] for f in (mine.embed or {}).get("fields", [])}
    # Unclaimed, then closed by the moderator: the moderator handled it, and its rating counts.
    assert mine_fields["Tickets handled"] == "1"
    assert mine_fields["Average rating"] == "4.00 / 5 (1 rating)"


async def test_reopen_gives_a_closed_ticket_a_new_channel(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    old = env.guild.channel("ticket-0001")
    await close_with(env, env.alice, old)
    assert old.deleted

    refused = await env.alice.slash("ticket reopen", number=1)
    assert refused.ephemeral and "Only the ticket's staff can reopen" in (refused.content or "")
    reopened = await env.mod.slash("ticket reopen", number=1)
    await env.settle()
    channel = env.guild.find_channel("ticket-0001")
    assert channel is not None and channel.id != old.id and not channel.deleted
    assert channel.mention in (reopened.content or "")
    assert channel.can_see(env.alice) and not channel.can_see(env.bob)
    ticket = await ticket_number(1)
    assert ticket.status is TicketStatus.OPEN and ticket.channel_id == channel.id
    # Messages in the new channel are recorded too.
    said = await env.alice.say(channel, "still broken")
    await env.settle()
    assert await TicketMessage.filter(message_id=said.id, ticket_id=ticket.id).exists()


async def test_a_reopen_discord_refuses_leaves_the_ticket_closed_as_it_was(
    discord_env: DiscordEnv,
) -> None:
    """Undoing a reopen restores who closed the ticket, when and why, not an automatic close."""
    env = discord_env
    await make_panel(env)
    await env.owner.slash("ticket-panel settings", auto_close_hours=5)
    await open_ticket(env, env.alice)
    await close_with(env, env.alice, env.guild.channel("ticket-0001"))
    before = await ticket_number(1)
    env.server.faults.fail(
        "POST", f"/guilds/{env.guild.id}/channels", status=403, code=50013,
        message="Missing Permissions",
    )

    refused = await env.mod.slash("ticket reopen", number=1)
    await env.settle()

    after = await ticket_number(1)
    assert after.status is TicketStatus.CLOSED
    assert (after.closed_by_id, after.closed_at, after.close_reason, after.reopened_at) == (
        env.alice.id, before.closed_at, before.close_reason, None
    )
    # The timer the reopen started is stopped with it.
    assert not await ScheduledAction.filter(
        kind=service.AUTOCLOSE_KIND, status=ActionStatus.PENDING
    ).exists()
    assert refused.ephemeral and env.guild.find_channel("ticket-0001") is None
    reopened = await env.mod.slash("ticket reopen", number=1)
    assert env.guild.channel("ticket-0001").mention in (reopened.content or "")


async def test_a_settings_change_is_audited_with_before_and_after(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env, log_channel=False)

    answer = await env.owner.slash(
        "ticket-panel settings", log_channel=env.channel("logs"), auto_close_hours=12
    )

    assert answer.ephemeral and "12 hours" in answer.text
    [entry] = await AuditLog.filter(action="tickets.settings")
    assert entry.actor_id == env.owner.id  # type: ignore[attr-defined]
    assert entry.before == {"log_channel_id": None, "auto_close_hours": None}
    assert entry.after == {"log_channel_id": env.channel("logs").id, "auto_close_hours": 12}


# ------------------------------------------------------------------------------ refusals


async def test_channels_the_bot_cannot_use_are_refused_naming_what_is_missing(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    bot_role = env.guild.role("Pegasus")
    no_files = await env.guild.create_text_channel(
        "no-files", overwrites=[env.guild.overwrite_for(bot_role, deny=["attach_files"])]
    )
    no_embeds = await env.guild.create_text_channel(
        "no-embeds", overwrites=[env.guild.overwrite_for(bot_role, deny=["embed_links"])]
    )
    await env.settle()
    panel_id = await make_panel(env, log_channel=False)

    logs = await env.owner.slash("ticket-panel settings", log_channel=no_files)
    posted = await env.owner.slash("ticket-panel send", panel=panel_id, channel=no_embeds)

    assert logs.ephemeral and logs.content == (
        f"I can't post transcripts in {no_files.mention}: I need Attach Files there."
    )
    assert posted.ephemeral and posted.content == (
        f"I can't post in {no_embeds.mention}: I need Embed Links there."
    )
    assert not no_embeds.bot_messages
    assert (await service.get_settings(env.guild.id)).log_channel_id is None


async def test_permission_refusals(discord_env: DiscordEnv) -> None:
    env = discord_env
    alice, bob = env.alice, env.bob
    await make_panel(env)
    await open_ticket(env, alice)
    channel = env.guild.channel("ticket-0001")
    welcome = channel.bot_messages[0]

    with pytest.raises(CommandUnavailable):
        await alice.slash("ticket-panel create", title="x", description="y")

    for command in ("ticket claim", "ticket lock", "ticket freeze", "ticket rename"):
        options = {"name": "x"} if command == "ticket rename" else {}
        reply = await alice.slash(command, in_channel=channel, **options)
        assert reply.ephemeral and "Only the ticket's staff" in (reply.content or ""), command
    refused = await alice.click(welcome, label="Claim")
    assert refused.ephemeral and "Only the ticket's staff can claim" in (refused.content or "")
    added = await alice.slash("ticket add", in_channel=channel, member=bob)
    assert added.ephemeral and not channel.can_see(bob)

    # Someone outside the ticket cannot close it, even with the button's id.
    outsider = await bob.click(welcome, label="Close")
    assert outsider.ephemeral and "Only the member who opened" in (outsider.content or "")
    assert not channel.deleted

    claimed = await env.mod.slash("ticket claim", in_channel=channel)
    assert not claimed.ephemeral
    again = await env.mod.slash("ticket claim", in_channel=channel)
    assert again.ephemeral and "already claimed" in (again.content or "")

    outside = await env.mod.slash("ticket claim")  # in #general
    assert outside.ephemeral and "not a ticket channel" in (outside.content or "")
    stats = await alice.slash("ticket stats")
    assert stats.ephemeral and "Only ticket staff" in (stats.content or "")

    ticket = await ticket_number(1)
    assert ticket.status is TicketStatus.CLAIMED and ticket.claimed_by_id == env.mod.id


async def test_the_open_ticket_limit_is_refused_before_the_form(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env, max_per_user=1)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")

    again = await env.alice.click(panel_message(env), label="Help")
    assert again.kind != "modal" and again.ephemeral
    assert "already have 1 open ticket" in (again.content or "")
    assert channel.mention in (again.content or "")
    assert await Ticket.filter(user_id=env.alice.id).count() == 1

    # Another member is not limited by Alice's ticket.
    await open_ticket(env, env.bob)
    assert env.guild.find_channel("ticket-0002") is not None


async def test_a_paused_panel_refuses_new_tickets(discord_env: DiscordEnv) -> None:
    env = discord_env
    panel_id = await make_panel(env)
    edited = await env.owner.slash("ticket-panel edit", panel=panel_id, active=False)
    assert "updated" in (edited.content or "")
    refused = await env.alice.click(panel_message(env), label="Help")
    assert refused.ephemeral and "closed for now" in (refused.content or "")
    listing = await env.owner.slash("ticket-panel list")
    assert panel_id in listing.text and "paused" in listing.text


# ------------------------------------------------------------------------------ restarts, races


async def test_close_button_works_after_a_restart(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    welcome = channel.bot_messages[0]

    await env.restart_bot()

    # Messages are still recorded: the open ticket channels were loaded at start-up.
    said = await env.alice.say(channel, "are you there?")
    await env.settle()
    assert await TicketMessage.filter(message_id=said.id).exists()

    prompt = await env.alice.click(welcome, label="Close")
    assert prompt.ephemeral and "Close ticket #0001?" in (prompt.content or "")
    await env.alice.click(prompt, label="Close ticket")
    await env.settle()
    assert channel.deleted
    ticket = await ticket_number(1)
    assert ticket.status is TicketStatus.CLOSED and ticket.closed_by_id == env.alice.id
    assert "are you there?" in env.channel("logs").bot_messages[-1].attachments[0].data.decode()


async def test_panel_button_works_after_a_restart(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env)
    await env.restart_bot()
    await open_ticket(env, env.carol)
    assert env.guild.find_channel("ticket-0001") is not None
    assert (await ticket_number(1)).user_id == env.carol.id


async def test_two_members_opening_at_the_same_instant(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env)
    members = [env.alice, env.bob, env.carol]
    forms = [await m.click(panel_message(env), label="Help") for m in members]
    replies = await asyncio.gather(
        *(
            m.submit_modal(form, {"reason": f"help {m.name}"})
            for m, form in zip(members, forms, strict=True)
        )
    )
    await env.settle()
    assert all(r.ephemeral and "is open" in (r.content or "") for r in replies)
    tickets = await Ticket.all().order_by("number")
    assert [t.number for t in tickets] == [1, 2, 3]
    assert {t.user_id for t in tickets} == {m.id for m in members}
    for ticket in tickets:
        channel = env.guild.channel(f"ticket-{ticket.number:04d}")
        assert channel.id == ticket.channel_id
        opener = env.guild.member(ticket.user_id)
        assert channel.can_see(opener)
        assert all(not channel.can_see(m) for m in members if m is not opener)


# ------------------------------------------------------------------------------ failures


async def test_transcript_failure_keeps_the_channel_and_tells_staff(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    logs = env.channel("logs")
    env.server.faults.fail(
        "POST",
        f"/channels/{logs.id}/messages",
        status=403,
        code=50013,
        message="Missing Permissions",
    )

    await close_with(env, env.mod, channel)

    assert not channel.deleted
    warning = channel.bot_messages[-1]
    assert "transcript could not be written" in warning.text and "stays open" in warning.text
    ticket = await ticket_number(1)
    assert ticket.status is TicketStatus.OPEN and ticket.closed_at is None
    assert env.server.dms(env.alice) == []
    # Still recorded, and closing works once the log channel accepts the transcript.
    await env.alice.say(channel, "still here")
    await env.settle()
    await close_with(env, env.mod, channel)
    assert channel.deleted
    assert "still here" in logs.bot_messages[-1].attachments[0].data.decode()


async def test_a_deleted_transcript_channel_keeps_the_ticket_open(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    await env.guild.delete_channel("logs")
    await env.settle()
    await close_with(env, env.alice, channel)
    assert not channel.deleted
    assert "no longer exists" in channel.bot_messages[-1].text
    assert (await ticket_number(1)).status is TicketStatus.OPEN


async def test_closing_without_a_log_channel_still_sends_the_transcript_to_the_opener(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await make_panel(env, log_channel=False)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    await close_with(env, env.alice, channel)
    assert channel.deleted
    assert env.server.dms(env.alice)[-1].attachments[0].filename == "ticket-0001-transcript.html"
    assert env.channel("logs").bot_messages == []


# ------------------------------------------------------------------------------ auto-close


async def age_ticket(number: int, hours: float) -> Ticket:
    """Pretend the ticket was opened `hours` ago and its timer is due now."""
    ticket = await ticket_number(number)
    earlier = discord.utils.utcnow() - timedelta(hours=hours)
    await Ticket.filter(id=ticket.id).update(created_at=earlier)
    await TicketMessage.filter(ticket_id=ticket.id).update(created_at=earlier)
    await ScheduledAction.filter(
        kind=service.AUTOCLOSE_KIND, dedupe_key=f"ticket:{ticket.id}", status=ActionStatus.PENDING
    ).update(due_at=discord.utils.utcnow() - timedelta(seconds=1))
    return ticket


async def test_auto_close_after_hours_without_messages(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env)
    await env.owner.slash("ticket-panel settings", auto_close_hours=2)
    await open_ticket(env, env.alice)
    await open_ticket(env, env.bob)
    quiet = env.guild.channel("ticket-0001")
    busy = env.guild.channel("ticket-0002")
    await age_ticket(1, hours=3)
    await age_ticket(2, hours=3)
    await env.bob.say(busy, "any news?")  # activity now: ticket 2 must wait
    await env.settle()

    assert await env.bot.scheduler.run_due() == 2
    await env.settle()

    assert quiet.deleted
    closed = await ticket_number(1)
    assert closed.status is TicketStatus.CLOSED and closed.closed_by_id is None
    assert "2 hours" in (closed.close_reason or "")
    assert "Ticket #0001 closed" in env.channel("logs").bot_messages[-1].text

    assert not busy.deleted
    assert (await ticket_number(2)).status is TicketStatus.OPEN
    [timer] = await ScheduledAction.filter(kind=service.AUTOCLOSE_KIND, status=ActionStatus.PENDING)
    assert timer.payload["ticket_id"] == str((await ticket_number(2)).id)
    assert timer.due_at > discord.utils.utcnow() + timedelta(hours=1, minutes=50)


async def test_deleting_a_ticket_channel_by_hand_closes_the_ticket(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    await env.alice.say(channel, "hello")
    await env.settle()
    await env.guild.delete_channel(channel)
    await env.settle()
    ticket = await ticket_number(1)
    assert ticket.status is TicketStatus.CLOSED
    assert ticket.close_reason == "The channel was deleted."
    assert "hello" in env.channel("logs").bot_messages[-1].attachments[0].data.decode()


# ------------------------------------------------------------------------------ panels


async def test_managing_panels(discord_env: DiscordEnv) -> None:
    env = discord_env
    owner = env.owner
    panel_id = await make_panel(env)
    posted = panel_message(env)
    more = await owner.slash(
        "ticket-panel button",
        panel=panel_id,
        label="Billing",
        style="success",
        emoji="💳",
        name_format="billing-{number}",
        welcome_message="Hi {user}, billing will answer.",
    )
    assert "(2/5)" in (more.content or "") and "posted panel was updated" in (more.content or "")
    assert [b["label"] for b in posted.buttons] == ["Help", "Billing"]
    bad = await owner.slash("ticket-panel button", panel=panel_id, label="X", emoji="nope")
    assert bad.ephemeral and "not an emoji" in (bad.content or "")

    # A ticket of the second type gets its own name and welcome message.
    form = await env.bob.click(posted, label="Billing")
    await env.bob.submit_modal(form, {"reason": "double charge"})
    await env.settle()
    channel = env.guild.channel("billing-0001")
    assert f"Hi {env.bob.mention}, billing will answer." in channel.bot_messages[0].text

    edited = await owner.slash(
        "ticket-panel edit", panel=panel_id, title="Help desk", remove_button=1
    )
    assert "updated" in (edited.content or "")
    assert posted.embed is not None and posted.embed["title"] == "Help desk"
    assert [b["label"] for b in posted.buttons] == ["Billing"]

    suggested = await owner.autocomplete("ticket-panel send", "panel", "help")
    assert [c["value"] for c in suggested] == [panel_id]
    assert await owner.autocomplete("ticket-panel send", "panel", "nothing like it") == []
    listing = await owner.slash("ticket-panel list")
    assert panel_id in listing.text and "Help desk" in listing.text
    assert env.channel("logs").mention in listing.text

    prompt = await owner.slash("ticket-panel delete", panel=panel_id)
    assert prompt.ephemeral and "Delete panel" in (prompt.content or "")
    deleted = await owner.click(prompt, label="Delete panel")
    await env.settle()
    assert "deleted" in (deleted.content or "")
    assert posted.deleted
    empty = await owner.slash("ticket-panel list")
    assert "No ticket panels yet" in (empty.content or "")
    # The ticket it opened lives on.
    assert (await ticket_number(1)).panel_id is None
    assert not channel.deleted


# ------------------------------------------------------------------------------ audit additions


async def test_a_button_type_uses_its_own_category_and_staff_role(discord_env: DiscordEnv) -> None:
    """Panel options (category, support role, colour) apply to every button; a button's own
    category and support role take precedence."""
    env = discord_env
    owner = env.owner
    billing_team = await env.guild.create_role("Billing team")
    carol_staff = env.carol
    await env.guild.add_role(carol_staff, billing_team)
    support = await env.guild.create_category("Support")
    billing = await env.guild.create_category("Billing")
    await env.settle()
    created = await owner.slash(
        "ticket-panel create",
        title="Help desk",
        description="Pick a topic.",
        support_role=env.guild.role("Moderator"),
        category=support,
        color="#FF8800",
    )
    panel_id = PANEL_ID.search(created.content or "").group(0)  # type: ignore[union-attr]
    await owner.slash("ticket-panel button", panel=panel_id, label="General")
    await owner.slash(
        "ticket-panel button",
        panel=panel_id,
        label="Billing",
        category=billing,
        support_role=billing_team,
    )
    await owner.slash("ticket-panel send", panel=panel_id)
    posted = panel_message(env)
    assert posted.embed is not None and posted.embed["color"] == 0xFF8800

    form = await env.alice.click(posted, label="General")
    await env.alice.submit_modal(form, {"reason": "question"})
    form = await env.bob.click(posted, label="Billing")
    await env.bob.submit_modal(form, {"reason": "refund"})
    await env.settle()

    general = env.guild.channel("ticket-0001")
    assert general.category is not None and general.category.id == support.id
    assert general.can_see(env.mod) and not general.can_see(carol_staff)
    refund = env.guild.channel("ticket-0002")
    assert refund.category is not None and refund.category.id == billing.id
    assert refund.can_see(carol_staff) and refund.can_see(env.bob)
    assert not refund.can_see(env.mod) and not refund.can_see(env.alice)
    # The button's role is the staff of that ticket: Carol may claim it, the moderator may not.
    claimed = await carol_staff.slash("ticket claim", in_channel=refund)
    assert not claimed.ephemeral and "claimed this ticket" in (claimed.content or "")
    welcome = refund.bot_messages[0]
    assert billing_team.mention in welcome.content and env.guild.role("Moderator").mention not in (
        welcome.content
    )


async def test_an_older_copy_of_a_panel_opens_the_ticket_type_its_button_names(
    discord_env: DiscordEnv,
) -> None:
    """A panel posted twice is refreshed only where it was last posted. After a button is
    removed, the older copy's positions are stale: its buttons must still open the type they
    name, or refuse, never another type."""
    env = discord_env
    owner = env.owner
    security = await env.guild.create_role("Security team")
    await env.settle()
    panel_id = await make_panel(env)  # Help (Moderator), posted in #general
    await owner.slash(
        "ticket-panel button", panel=panel_id, label="Report a leak", support_role=security
    )
    old_copy = panel_message(env)
    assert [b["label"] for b in old_copy.buttons] == ["Help", "Report a leak"]
    await owner.slash("ticket-panel send", panel=panel_id, channel=env.channel("announcements"))
    await owner.slash("ticket-panel edit", panel=panel_id, remove_button=1)  # Help goes

    # "Help" on the old copy was removed: refused, rather than opening a leak report.
    refused = await env.alice.click(old_copy, label="Help")
    assert refused.kind != "modal" and refused.ephemeral
    assert "removed from the panel" in (refused.content or "")
    # "Report a leak" on the old copy still opens a leak report, seen by the security team.
    form = await env.bob.click(old_copy, label="Report a leak")
    assert form.kind == "modal" and "Report a leak" in form.modal.title  # type: ignore[union-attr]
    await env.bob.submit_modal(form, {"reason": "found a token"})
    await env.settle()
    ticket = await ticket_number(1)
    assert ticket.button_index == 0 and ticket.support_role_ids == [security.id]
    assert ticket.user_id == env.bob.id


async def test_closing_posts_and_dms_the_transcript_before_deleting_the_channel(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    logs = env.channel("logs")
    await close_with(env, env.mod, channel)
    assert channel.deleted

    def first(method: str, check) -> int:  # type: ignore[no-untyped-def]
        return next(i for i, r in enumerate(env.server.requests) if r.method == method and check(r))

    posted = first("POST", lambda r: r.path == f"/channels/{logs.id}/messages")
    dm_message = env.server.dms(env.alice)[-1]
    dmed = first(
        "POST", lambda r: r.path == f"/channels/{dm_message.channel.id}/messages" and r.files
    )
    deleted = first("DELETE", lambda r: r.path == f"/channels/{channel.id}")
    assert posted < deleted and dmed < deleted


async def test_more_refusals_are_private_and_say_why(discord_env: DiscordEnv) -> None:
    env = discord_env
    alice, bob, mod = env.alice, env.bob, env.mod
    await make_panel(env)
    await open_ticket(env, alice)
    channel = env.guild.channel("ticket-0001")
    await mod.slash("ticket lock", in_channel=channel)
    await mod.slash("ticket add", in_channel=channel, member=bob)

    for command, options in (
        ("ticket unlock", {}),
        ("ticket unfreeze", {}),
        ("ticket remove", {"member": bob}),
    ):
        reply = await alice.slash(command, in_channel=channel, **options)
        assert reply.ephemeral and "Only the ticket's staff" in (reply.content or ""), command
    assert channel.can_see(bob)
    ticket = await ticket_number(1)
    assert ticket.status is TicketStatus.LOCKED and ticket.participant_ids == [bob.id]

    # Only the claimer (or an admin) gives a claimed ticket back.
    await mod.slash("ticket claim", in_channel=channel)
    other_staff = await env.guild.add_member("helper", roles=[env.guild.role("Moderator")])
    await env.settle()
    refused = await other_staff.slash("ticket unclaim", in_channel=channel)
    assert refused.ephemeral and "who claimed this ticket" in (refused.content or "")
    assert (await ticket_number(1)).claimed_by_id == mod.id

    # Transcripts are for the opener and staff; a member added to the ticket is neither.
    copy = await bob.slash("ticket transcript", number=1)
    assert copy.ephemeral and "Only the member who opened" in (copy.content or "")
    assert not copy.attachments
    # Panels are for Manage Server: a moderator does not even see the commands.
    with pytest.raises(CommandUnavailable):
        await mod.slash("ticket-panel list")


async def test_the_rating_buttons_work_after_a_restart(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    await close_with(env, env.alice, env.guild.channel("ticket-0001"))
    dm = env.server.dms(env.alice)[-1]

    await env.restart_bot()

    outsider = await env.bob.click(dm, label="2 ★")  # someone given the message's ids
    assert outsider.ephemeral and "Only the member who opened" in (outsider.content or "")
    form = await env.alice.click(dm, label="2 ★")
    assert form.kind == "modal"
    thanks = await env.alice.submit_modal(form, {"comment": ""})
    assert thanks.ephemeral and "★★☆☆☆." in (thanks.content or "")
    await env.settle()
    rated = await ticket_number(1)
    assert (rated.rating, rated.rating_comment, rated.user_id) == (2, None, env.alice.id)
