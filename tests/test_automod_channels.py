"""Where a message was said, for automod's channel exemptions, read from discord.py's own channel
objects (built offline from gateway payloads): a thread counts as its channel and that channel's
category."""

from __future__ import annotations

from typing import Any

import discord

from cogs.automod import channel_ids

GUILD, CATEGORY, TEXT, LOOSE, THREAD = 10, 20, 30, 40, 50


def channel(channel_id: int, kind: int, parent_id: int | None = None) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": kind,
        "name": f"c{channel_id}",
        "position": 0,
        "parent_id": str(parent_id) if parent_id else None,
        "permission_overwrites": [],
    }


def guild_with_channels() -> discord.Guild:
    client = discord.Client(intents=discord.Intents.default())
    data = {
        "id": str(GUILD),
        "name": "g",
        "owner_id": "1",
        "roles": [],
        "emojis": [],
        "features": [],
        "channels": [
            channel(CATEGORY, 4),
            channel(TEXT, 0, CATEGORY),
            channel(LOOSE, 0),
        ],
    }
    return discord.Guild(data=data, state=client._connection)  # type: ignore[arg-type]


def thread_in(guild: discord.Guild, parent_id: int) -> discord.Thread:
    data = {
        **channel(THREAD, 11, parent_id),
        "guild_id": str(GUILD),
        "owner_id": "1",
        "message_count": 0,
        "member_count": 1,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-01-01T00:00:00+00:00",
            "locked": False,
        },
    }
    return discord.Thread(guild=guild, state=guild._state, data=data)  # type: ignore[arg-type]


def test_a_channel_counts_with_its_category() -> None:
    guild = guild_with_channels()
    assert channel_ids(guild.get_channel(TEXT)) == (TEXT, CATEGORY)  # type: ignore[arg-type]
    assert channel_ids(guild.get_channel(LOOSE)) == (LOOSE,)  # type: ignore[arg-type]


def test_a_thread_counts_with_its_channel_and_that_channels_category() -> None:
    guild = guild_with_channels()
    assert channel_ids(thread_in(guild, TEXT)) == (THREAD, TEXT, CATEGORY)
    assert channel_ids(thread_in(guild, LOOSE)) == (THREAD, LOOSE)
