"""`python -m pegasus data purge-guild <guild id>`: delete one server's data now.

The bot deletes a server's data by itself GUILD_DATA_RETENTION_DAYS after leaving it; this is
for an operator who is asked to (or must) do it at once. It shows what will go, asks for the
server id to be typed (unless --yes), and prints one line with what was deleted.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Prompt = Callable[[str], str]


def add_purge_guild_parser(data_commands: Any) -> None:
    """`purge-guild` in the `data` group (`data_commands` is its subparsers)."""
    purge = data_commands.add_parser(
        "purge-guild", help="Delete everything stored for one server (asks you to type its id)."
    )
    purge.add_argument("guild_id", type=int, help="The server's Discord id.")
    purge.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")


def confirm_purge(
    guild_id: int, counts: dict[str, int], still_there: bool, *, prompt: Prompt = input
) -> bool:
    """Show what a purge deletes and ask the operator to type the server id."""
    rows = sum(counts.values())
    tables = ", ".join(f"{table} {n:,}" for table, n in sorted(counts.items()) if n)
    print(
        f"This deletes everything Pegasus stores for server {guild_id}: {rows:,} rows "
        f"({tables}). It cannot be undone."
    )
    if still_there:
        print(
            "Pegasus is still in this server: it will start storing its members and settings "
            "again from nothing. Remove the bot from the server first to keep it gone."
        )
    return prompt(f"Type the server id ({guild_id}) to confirm: ").strip() == str(guild_id)


async def purge_guild(args: argparse.Namespace, *, prompt: Prompt = input) -> int:
    """Run `data purge-guild` on an open database; returns the exit status."""
    from pegasus.services import retention

    guild_id: int = args.guild_id
    counts = await retention.guild_data_counts(guild_id)
    if not any(counts.values()):
        print(f"Nothing is stored for server {guild_id}: nothing was deleted.")
        return 0
    still_there = counts["guilds"] > 0 and await retention.guild_left_at(guild_id) is None
    if not args.yes and not confirm_purge(guild_id, counts, still_there, prompt=prompt):
        print("Not confirmed: nothing was deleted.")
        return 1
    summary = await retention.purge_guild(guild_id)
    print(
        f"Deleted server {guild_id}'s data: {summary.rows:,} rows from "
        f"{len(summary.tables)} tables."
    )
    return 0
