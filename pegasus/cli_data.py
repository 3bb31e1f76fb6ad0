"""`python -m pegasus data export-user|delete-user <user id> [--guild id]`: a member's data for
operators, exported or erased through the same declarations as `/privacy export` and
`/privacy delete` (pegasus.services.privacy). Without --guild, every server where something
names the user."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Prompt = Callable[[str], str]


def add_data_parser(sub: Any) -> Any:
    """The `data` group with the member commands; returns its subparsers, where the other
    `data` commands are added."""
    data = sub.add_parser("data", help="Members' and servers' data (reads DATABASE_URL).")
    data_sub = data.add_subparsers(dest="command", required=True)
    export = data_sub.add_parser(
        "export-user", help="Write a JSON file of everything stored about a user."
    )
    export.add_argument("user", type=int, help="The user's Discord id.")
    export.add_argument("--guild", type=int, help="Only this server (default: every server).")
    export.add_argument("--output", type=Path, help="Where to write the file.")
    delete = data_sub.add_parser(
        "delete-user", help="Erase what a user may have erased, as /privacy delete does."
    )
    delete.add_argument("user", type=int, help="The user's Discord id.")
    delete.add_argument("--guild", type=int, help="Only this server (default: every server).")
    delete.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
    return data_sub


async def _guilds(user_id: int, guild_id: int | None) -> list[int]:
    from pegasus.services import privacy

    return [guild_id] if guild_id is not None else await privacy.guilds_of_user(user_id)


async def export_user(user_id: int, guild_id: int | None, output: Path | None) -> str:
    """Write the user's data to a file; the one-line summary."""
    from pegasus.services import privacy

    now = datetime.now(UTC)
    guild_ids = await _guilds(user_id, guild_id)
    documents = {
        str(gid): (
            await privacy.export_member(gid, user_id, now=now, requested_by_member=False)
        ).document
        for gid in guild_ids
    }
    target = output or Path(f"pegasus-data-{user_id}.json")
    target.write_text(
        json.dumps(
            {"user_id": user_id, "generated_at": now.isoformat(), "guilds": documents},
            indent=2, ensure_ascii=False, default=str,
        ),
        encoding="utf-8",
    )
    return f"Exported the data of user {user_id} from {_servers(len(guild_ids))} to {target}."


def confirm_delete(user_id: int, guild_ids: list[int], *, prompt: Prompt) -> bool:
    from pegasus.services import privacy

    plan = privacy.erasure_plan()
    print(f"This erases, for user {user_id} in {_servers(len(guild_ids))}:")
    for what in plan.erased:
        print(f"  - {what}")
    print("It keeps:")
    for kept in plan.kept:
        print(f"  - {kept.what}: {kept.why}")
    return prompt(f"Type the user id ({user_id}) to confirm: ").strip() == str(user_id)


async def delete_user(
    user_id: int, guild_id: int | None, *, assume_yes: bool, prompt: Prompt
) -> tuple[bool, str]:
    """(confirmed, the one-line summary)."""
    from pegasus.services import privacy

    guild_ids = await _guilds(user_id, guild_id)
    if not guild_ids:
        return True, f"Nothing names user {user_id}: nothing to delete."
    if not assume_yes and not confirm_delete(user_id, guild_ids, prompt=prompt):
        return False, "Not confirmed: nothing was deleted."
    removed = 0
    for gid in guild_ids:
        report = await privacy.erase_member(gid, user_id, actor_id=None, now=datetime.now(UTC))
        removed += report.total
    return True, (
        f"Deleted the data of user {user_id} in {_servers(len(guild_ids))}: "
        f"{removed:,} rows removed or no longer naming them; moderation, ticket, security and "
        "audit records kept."
    )


def _servers(count: int) -> str:
    return f"{count:,} server" + ("" if count == 1 else "s")
