"""`python -m pegasus.localdiscord serve [--port P] [--members N]`: a local Discord in its own
process, for benchmarks where the server must not share the bot's CPU (see control.py)."""

from __future__ import annotations

import argparse
import asyncio
import json

from pegasus.localdiscord.demo import build_demo_guild
from pegasus.localdiscord.server import LocalDiscord


async def serve(port: int, members: int, guilds: int = 0, guild_members: int = 0) -> None:
    server = LocalDiscord(port=port, control=True)
    build_demo_guild(server, extra_members=members)
    add_plain_guilds(server, guilds, guild_members)
    await server.start()
    print(
        json.dumps(
            {
                "api_base": server.api_base,
                "gateway_url": server.gateway_url,
                "token": server.token,
                "control_url": server.control_url,
            }
        ),
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def add_plain_guilds(server: LocalDiscord, count: int, members: int) -> None:
    """`count` more guilds of `members` plain members each (start-up benchmarks)."""
    for index in range(count):
        guild = server.create_guild(f"Guild {index}", owner=f"owner{index:05d}")
        for number in range(members):
            guild.new_member(server.create_user(f"g{index:05d}m{number:06d}"))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pegasus.localdiscord")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="Serve the demo guild until killed.")
    serve_parser.add_argument("--port", type=int, default=0)
    serve_parser.add_argument("--members", type=int, default=0, help="extra plain members")
    serve_parser.add_argument("--guilds", type=int, default=0, help="extra guilds")
    serve_parser.add_argument(
        "--guild-members", type=int, default=0, help="plain members of each extra guild"
    )
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.members, args.guilds, args.guild_members))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
