"""`python -m pegasus.localdiscord serve [--port P] [--members N]`: a local Discord in its own
process, for benchmarks where the server must not share the bot's CPU (see control.py)."""

from __future__ import annotations

import argparse
import asyncio
import json

from pegasus.localdiscord.demo import build_demo_guild
from pegasus.localdiscord.server import LocalDiscord


async def serve(port: int, members: int) -> None:
    server = LocalDiscord(port=port, control=True)
    build_demo_guild(server, extra_members=members)
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pegasus.localdiscord")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="Serve the demo guild until killed.")
    serve_parser.add_argument("--port", type=int, default=0)
    serve_parser.add_argument("--members", type=int, default=0, help="extra plain members")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.members))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
