"""SYNC_COMMANDS decides where `python bot.py` registers its slash commands."""

from __future__ import annotations

import asyncio

from pegasus.localdiscord import BotProcessFactory, LocalDiscord


async def test_guild_sync_registers_in_that_guild_only(
    bot_process: BotProcessFactory, local_discord: LocalDiscord
) -> None:
    guild_id = local_discord.guild.id
    process = await bot_process.start({"SYNC_COMMANDS": f"guild:{guild_id}"})
    await process.wait_ready(timeout=60)
    assert {"ping", "help"} <= set(local_discord.guild_commands(guild_id))
    assert local_discord.global_commands == {}
    reply = await local_discord.guild.member("alice").slash("ping", timeout=15)
    assert (reply.content or "").startswith("Pong!")
    assert await process.terminate(timeout=30) == 0, process.output


async def test_sync_off_registers_nothing(
    bot_process: BotProcessFactory, local_discord: LocalDiscord
) -> None:
    process = await bot_process.start({"SYNC_COMMANDS": "off"})
    async with asyncio.timeout(60):  # no sync to wait for: wait for the gateway session
        while not (local_discord.gateway.identify_count and local_discord.gateway.connected):
            await local_discord.next_change()
    await local_discord.gateway.heartbeat_barrier(timeout=10)
    assert local_discord.global_commands == {}
    assert local_discord.guild_commands(local_discord.guild.id) == {}
    assert await process.terminate(timeout=30) == 0, process.output
