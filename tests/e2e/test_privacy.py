"""/privacy export and /privacy delete through the local Discord: the file a member gets is
checked against the database, and after an erasure no row names the member outside the tables
kept as the server's records, while every balance still equals its ledger."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tortoise.models import Model

from models.economy import EconomyBalance, EconomyGamblingStats, EconomyTransaction
from models.giveaways import Giveaway, GiveawayEntry
from models.guilds import Member, User
from models.levels import UserXP, XpHistogram
from models.moderation import MemberWarning
from models.security import AuditLog
from models.tickets import Ticket, TicketMessage
from pegasus.localdiscord import FakeMember
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services.privacy import declarations
from tests.e2e.test_tickets import make_panel, open_ticket
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.discord_env(
    extensions=(
        "cogs.core", "cogs.levels", "cogs.economy", "cogs.moderation", "cogs.giveaways",
        "cogs.privacy",
    ),
    scheduler_poll_interval=3600,
)

GIVEAWAY_ID = re.compile(r"G-[0-9A-Z]{5}")
WARN_ID = re.compile(r"W-[0-9A-Z]{5}")


async def flush_activity(env: DiscordEnv) -> None:
    await env.settle()
    assert env.bot.activity_buffer is not None
    await env.bot.activity_buffer.flush()
    await env.settle()


async def a_member_with_history(env: DiscordEnv) -> dict[str, str]:
    """alice earns, pays, gambles, chats, enters a giveaway and gets warned; bob pays her."""
    await env.owner.slash("economy give", member=env.alice, amount="500")
    await env.alice.slash("pay", member=env.bob, amount="40")
    await env.bob.slash("pay", member=env.alice, amount="15")
    await env.alice.slash("coinflip", bet="10", side="heads")
    await env.alice.say("general", "hello there")
    await flush_activity(env)
    started = await env.owner.slash("giveaway start", prize="Nitro", duration="1h", winners=1)
    giveaway_id = GIVEAWAY_ID.search(started.text).group(0)  # type: ignore[union-attr]
    message = next(
        m for m in reversed(env.channel("general").bot_messages) if giveaway_id in m.text
    )
    await env.alice.click(message, label="Enter")
    await env.bob.click(message, label="Enter")
    warned = await env.mod.slash("warn", member=env.alice, title="Spamming", level=2)
    warn_id = WARN_ID.search(warned.text).group(0)  # type: ignore[union-attr]
    await env.settle()
    return {"giveaway": giveaway_id, "warning": warn_id}


def exported(files: list[Any]) -> dict[str, Any]:
    [file] = files
    assert file.filename.endswith(".json")
    return json.loads(file.data)


async def books_balance(guild_id: int) -> None:
    """Each wallet and bank equals the sum of its own ledger rows."""
    for row in await EconomyBalance.filter(guild_id=guild_id):
        rows = await EconomyTransaction.filter(
            guild_id=guild_id, user_id=row.user_id  # type: ignore[attr-defined]
        ).values_list("amount", "bank_amount")
        assert (row.wallet, row.bank) == (sum(a for a, _ in rows), sum(b for _, b in rows))


# ------------------------------------------------------------------------------------ export


async def test_export_sends_by_dm_what_the_database_holds(discord_env: DiscordEnv) -> None:
    env = discord_env
    made = await a_member_with_history(env)

    reply = await env.alice.slash("privacy export")

    assert reply.ephemeral and "direct messages" in (reply.content or "")
    document = exported(env.server.dms(env.alice)[-1].attachments)
    assert (document["guild_id"], document["user_id"]) == (env.guild.id, env.alice.id)
    features = document["features"]
    assert all(part["explanation"] for part in features.values())
    assert set(features) == set(declarations())

    economy = features["economy"]["data"]
    balance = await EconomyBalance.get(guild_id=env.guild.id, user_id=env.alice.id)
    assert (economy["balance"]["wallet"], economy["balance"]["bank"]) == (balance.wallet, 0)
    ledger = await EconomyTransaction.filter(guild_id=env.guild.id, user_id=env.alice.id)
    assert {row["id"] for row in economy["ledger"]} == {str(row.id) for row in ledger}
    assert sum(row["amount"] for row in economy["ledger"]) == balance.wallet
    stats = await EconomyGamblingStats.get(guild_id=env.guild.id, user_id=env.alice.id)
    assert economy["gambling_stats"][0]["games_played"] == stats.games_played == 1

    levels = features["levels"]["data"]
    xp = await UserXP.get(guild_id=env.guild.id, user_id=env.alice.id)
    assert levels["xp"]["xp"] == xp.xp > 0
    assert levels["membership_and_activity"]["messages"] == 1

    [entry] = features["giveaways"]["data"]["entries"]
    assert entry["giveaway__giveaway_id"] == made["giveaway"]
    [warning] = features["moderation"]["data"]["warnings_about_you"]
    assert (warning["warn_id"], warning["title"], warning["level"]) == (
        made["warning"], "Spamming", 2,
    )
    assert features["moderation"]["kept_when_you_delete_your_data"]
    # Nothing of bob's is in alice's file but the fact that he paid her.
    assert all(row.get("related_user_id") in (None, env.owner.id, env.bob.id)
               for row in economy["ledger"])
    assert await AuditLog.filter(action="privacy.export", actor_id=env.alice.id).count() == 1


async def test_export_once_a_day(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.alice.slash("privacy export")

    again = await env.alice.slash("privacy export")

    assert again.ephemeral and "once a day" in (again.content or "")
    assert len(env.server.dms(env.alice)) == 1
    bob = await env.bob.slash("privacy export")  # the limit is each member's own
    assert "direct messages" in (bob.content or "")


async def test_export_with_closed_dms_is_a_private_file(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.alice.slash("balance")
    env.alice.user.dms_open = False

    reply = await env.alice.slash("privacy export")

    assert reply.ephemeral and "closed" in (reply.content or "")
    document = exported(reply.attachments)
    assert document["features"]["economy"]["data"]["balance"]["wallet"] == 100
    assert env.server.dms(env.alice) == []


# ------------------------------------------------------------------------------------ delete


def names(value: object, user_id: int) -> bool:
    if isinstance(value, list):
        return user_id in value
    return value == user_id


async def rows_naming(user_id: int) -> dict[str, int]:
    """Table → how many rows name the member, over every declared column."""
    found: dict[str, int] = {}
    for declaration in declarations().values():
        for model, columns in declaration.covers:
            if model is User:
                continue
            count = await count_naming(model, columns, user_id)
            if count:
                found[model._meta.db_table] = found.get(model._meta.db_table, 0) + count
    return found


async def count_naming(model: type[Model], columns: tuple[str, ...], user_id: int) -> int:
    meta = model._meta
    attributes = [
        f"{column}_id" if column in meta.fk_fields else column for column in columns
    ]
    rows = await model.all().values_list(*attributes)
    return sum(1 for row in rows if any(names(value, user_id) for value in row))


def kept_tables() -> set[str]:
    return {table for d in declarations().values() for kept in d.kept for table in kept.tables}


async def test_delete_erases_what_goes_keeps_the_records_and_the_books_balance(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    made = await a_member_with_history(env)
    bob_received = await EconomyTransaction.get(
        guild_id=env.guild.id, user_id=env.bob.id, related_user_id=env.alice.id, amount=40
    )
    money_before = await bob_money(env.guild.id, env.bob)
    await eventually(shows_entries(env, made["giveaway"], 2), "the message shows 2 entries", 15)

    prompt = await env.alice.slash("privacy delete")
    assert prompt.ephemeral
    assert "XP" in prompt.text and "wallet" in prompt.text and "giveaways" in prompt.text
    assert "moderation cases and warnings" in prompt.text  # what stays is said before
    done = await env.alice.click(prompt, label="Delete my data")
    await env.settle()

    text = done.message.text if done.message else done.text
    assert "was deleted" in text and "ledger rows" in text
    assert "Kept, and why" in text and "moderation" in text
    # Nothing names alice outside the tables kept as the server's records.
    remaining = await rows_naming(env.alice.id)
    assert set(remaining) <= kept_tables(), remaining
    assert await EconomyBalance.filter(user_id=env.alice.id).count() == 0
    assert await UserXP.filter(user_id=env.alice.id).count() == 0
    assert await Member.filter(guild_id=env.guild.id, user_id=env.alice.id).count() == 0
    # The running giveaway lost her entry, and its count followed.
    giveaway = await Giveaway.get(giveaway_id=made["giveaway"])
    assert await GiveawayEntry.filter(giveaway_id=giveaway.id).count() == 1
    assert giveaway.entry_count == 1
    await eventually(shows_entries(env, made["giveaway"], 1), "the message shows 1 entry", 15)
    # The records stay.
    assert await MemberWarning.filter(warn_id=made["warning"], user_id=env.alice.id).exists()
    # Every remaining balance equals its ledger; bob's half of her payment keeps its amount.
    await books_balance(env.guild.id)
    assert await bob_money(env.guild.id, env.bob) == money_before
    kept_half = await EconomyTransaction.get(id=bob_received.id)
    assert kept_half.amount == bob_received.amount
    assert kept_half.related_user_id is None  # type: ignore[attr-defined]
    # The XP histogram no longer counts her.
    ranked = await UserXP.filter(guild_id=env.guild.id, xp__gt=0).count()
    counted = sum(await XpHistogram.filter(guild_id=env.guild.id).values_list(
        "members", flat=True
    ))
    assert counted == ranked
    # Audited with counts, never with the erased content.
    [audit] = await AuditLog.filter(action="privacy.erase", target_id=str(env.alice.id))
    assert audit.actor_id == env.alice.id  # type: ignore[attr-defined]
    assert audit.after and audit.after["removed"]["economy: balances"] == 1
    assert "hello" not in json.dumps(audit.after)


def shows_entries(env: DiscordEnv, giveaway_id: str, count: int) -> Callable[[], Awaitable[bool]]:
    posted = next(m for m in env.channel("general").bot_messages if giveaway_id in m.text)

    async def check() -> bool:
        [entries] = [f for f in posted.embed["fields"] if f["name"] == "Entries"]
        return entries["value"] == str(count)

    return check


async def bob_money(guild_id: int, bob: FakeMember) -> tuple[int, int]:
    row = await EconomyBalance.get(guild_id=guild_id, user_id=bob.id)
    return row.wallet, row.bank


async def test_cancelled_delete_changes_nothing(discord_env: DiscordEnv) -> None:
    env = discord_env
    await env.alice.slash("balance")

    prompt = await env.alice.slash("privacy delete")
    cancelled = await env.alice.click(prompt, label="Cancel")

    assert "nothing was changed" in (cancelled.content or cancelled.text)
    assert await EconomyBalance.filter(user_id=env.alice.id).count() == 1
    assert not await AuditLog.filter(action="privacy.erase").exists()


@pytest.mark.discord_env(extensions=("cogs.core", "cogs.tickets", "cogs.privacy"))
async def test_tickets_are_exported_and_kept(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice, reason="My order never arrived")
    ticket = await Ticket.get(user_id=env.alice.id)
    channel = env.channel(ticket.channel_id)  # type: ignore[arg-type]
    await env.alice.say(channel, "It was order 1234")
    await env.mod.say(channel, "Looking into it")
    await env.settle()

    await env.alice.slash("privacy export")
    tickets = exported(env.server.dms(env.alice)[-1].attachments)["features"]["tickets"]["data"]
    [opened] = tickets["tickets_you_opened"]
    assert (opened["number"], opened["reason"]) == (ticket.number, "My order never arrived")
    stored = await TicketMessage.filter(author_id=env.alice.id).values_list("content", flat=True)
    assert [m["content"] for m in tickets["your_messages_in_tickets"]] == stored
    assert "It was order 1234" in stored and "Looking into it" not in stored

    prompt = await env.alice.slash("privacy delete")
    done = await env.alice.click(prompt, label="Delete my data")
    await env.settle()

    text = done.message.text if done.message else done.text
    assert "tickets you opened" in text
    assert await Ticket.filter(user_id=env.alice.id).count() == 1
    assert await TicketMessage.filter(author_id=env.alice.id).count() == len(stored)
