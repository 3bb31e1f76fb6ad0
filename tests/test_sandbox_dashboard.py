"""`python -m pegasus sandbox --keep`: the dashboard runs beside the demo, its address printed,
logging in through the local Discord; everything stays up until Ctrl-C, then stops cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp

from pegasus.localdiscord.env import ROOT


async def test_sandbox_keep_serves_the_dashboard_until_ctrl_c(tmp_path: os.PathLike[str]) -> None:
    env = {
        **os.environ,
        "SANDBOX_DATABASE_URL": f"sqlite://{tmp_path}/sandbox.sqlite3",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DISCORD_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pegasus", "sandbox", "--keep",
        cwd=str(ROOT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    printed = ""
    try:
        async with asyncio.timeout(120):
            while "Stop with Ctrl-C" not in printed:
                line = await process.stdout.readline()
                assert line, printed  # the sandbox ended before it said it keeps running
                printed += line.decode()
        discord_url = re.search(r"a local Discord on (http://127\.0\.0\.1:\d+)", printed)
        dashboard = re.search(r"Dashboard: (http://127\.0\.0\.1:\d+)/dashboard", printed)
        board = re.search(r"Public leaderboard: (http://\S+/leaderboard)", printed)
        assert discord_url and dashboard and board, printed
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{dashboard.group(1)}/dashboard") as home:
                assert home.status == 200
                assert "Log in with Discord" in await home.text()  # the client secret is set
            async with http.get(
                f"{dashboard.group(1)}/dashboard/login", allow_redirects=False
            ) as login:
                assert login.status == 302
                assert login.headers["Location"].startswith(f"{discord_url.group(1)}/")
                assert "/oauth2/authorize" in login.headers["Location"]
            async with http.get(board.group(1)) as public:
                assert public.status == 200
                assert "alice" in await public.text()  # the scene's members earned XP
        await asyncio.sleep(1)
        assert process.returncode is None  # still up after the scene
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = printed + rest.decode()
    assert process.returncode == 0, text
    assert "Stopped." in text
    assert "Traceback" not in text, text
