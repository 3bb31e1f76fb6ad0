"""The economy in other languages, through the local Discord: a German member's replies and
buttons are German, and the blackjack timer's post follows the server's language while the
member's own replies stay in theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.economy import BlackjackStatus, EconomyBlackjackGame
from models.guilds import Guild
from models.scheduling import ScheduledAction
from pegasus.i18n import remember_guild_locale
from pegasus.localdiscord.env import DiscordEnv
from pegasus.services import economy
from tests.e2e.test_economy import give

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.economy"))


async def active_blackjack(
    env: DiscordEnv, member: Any, labels: set[str]
) -> tuple[Any, EconomyBlackjackGame]:
    """Start hands until one is still in play (a natural settles at once)."""
    for _ in range(20):
        reply = await member.slash("blackjack", bet="10")
        game = await EconomyBlackjackGame.filter(user_id=member.id).order_by("-id").first()
        assert game is not None
        if game.status == BlackjackStatus.ACTIVE:
            assert {b["label"] for b in reply.buttons} == labels
            return reply, game
    raise AssertionError("twenty naturals in a row")


async def test_a_german_member_plays_in_german(discord_env: DiscordEnv) -> None:
    env = discord_env
    env.alice.user.locale = "de"
    daily = await env.alice.slash("daily")
    assert "Du hast 🪙" in daily.text and "abgeholt" in daily.text, daily.text
    balance = await env.alice.slash("balance")
    assert "Kontostand von" in balance.text and "Geldbörse" in balance.text
    await give(env, env.alice, 10_000)
    reply, game = await active_blackjack(env, env.alice, {"Karte", "Halten"})
    moved = await env.alice.click(reply, label="Halten")
    await game.refresh_from_db()
    assert game.status != BlackjackStatus.ACTIVE and not moved.buttons
    english = await env.bob.slash("balance")
    assert "bob's balance" in english.text.lower() and "Wallet" in english.text


async def test_the_blackjack_timer_posts_in_the_server_s_language(discord_env: DiscordEnv) -> None:
    env = discord_env
    await Guild.filter(id=env.guild.id).update(language="es")
    remember_guild_locale(env.guild.id, "es")
    try:
        await give(env, env.alice, 1000)
        reply, _game = await active_blackjack(env, env.alice, {"Hit", "Stand"})  # hers: English
        await ScheduledAction.filter(kind=economy.BLACKJACK_TIMEOUT_KIND).update(
            due_at=datetime.now(UTC) - timedelta(seconds=1)
        )
        assert await env.bot.scheduler.run_due() == 1
        shown = env.channel("general").bot_messages[-1]
        assert shown.id == reply.message.id and not shown.buttons
        assert "Se acabó el tiempo" in shown.text, shown.text
    finally:
        remember_guild_locale(env.guild.id, None)
