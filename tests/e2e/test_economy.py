"""The economy end to end, through the local Discord: members run the commands and click the
buttons; the tests read what the bot answered and what the database holds."""

from __future__ import annotations

import pytest

from models.economy import EconomyBalance, EconomyTransaction
from tests.discord_local.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.economy"))


async def wallet(env: DiscordEnv, member) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    row = await EconomyBalance.get(guild_id=env.guild.id, user_id=member.id)
    return row.wallet, row.bank


async def test_balance_opens_an_account(discord_env: DiscordEnv) -> None:
    env = discord_env
    reply = await env.alice.slash("balance")
    assert not reply.ephemeral
    assert "alice" in reply.text.lower() and "🪙 100" in reply.text
    assert await wallet(env, env.alice) == (100, 0)
    assert await EconomyTransaction.filter(user_id=env.alice.id).count() == 1
