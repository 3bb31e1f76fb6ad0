"""The economy with every feature loaded, as in production: no command clashes, and the money
leaderboard (the levels feature's /leaderboard) ranks by the net worth the economy keeps."""

from __future__ import annotations

from pegasus.localdiscord.env import DiscordEnv


async def test_money_leaderboard_reads_net_worth(discord_env: DiscordEnv) -> None:
    env = discord_env
    names = set(env.server.global_commands)
    assert {"balance", "pay", "shop", "buy", "economy", "shop-admin", "blackjack"} <= names
    await env.owner.slash("economy give", member=env.bob, amount="5000")
    await env.bob.slash("deposit", amount="4000")
    await env.alice.slash("balance")
    board = await env.carol.slash("leaderboard", category="money")
    text = board.text
    assert f"{env.bob.mention} — 🪙 5,100" in text, text
    assert text.index(env.bob.mention) < text.index(env.alice.mention), text
