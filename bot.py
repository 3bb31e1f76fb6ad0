"""Start Pegasus: read the settings, then run the bot until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from pegasus.config import Settings
from pegasus.errors import ConfigError
from pegasus.runner import run


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
