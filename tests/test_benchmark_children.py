"""A benchmark's child process that gets stuck fails with where it was stuck, and takes the
processes it started with it (one left behind would hold the caller's pipes open)."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

from benchmarks.children import run_child_process

ROOT = Path(__file__).resolve().parent.parent

STUCK_CHILD = textwrap.dedent(
    """
    import asyncio, subprocess, sys
    from benchmarks.children import answering_stack_requests

    async def waiting_for_an_answer_that_never_comes() -> None:
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(grandchild.pid, flush=True)
        await asyncio.Event().wait()

    asyncio.run(answering_stack_requests(waiting_for_an_answer_that_never_comes()))
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child not yet reaped by its (killed) parent is a zombie: gone for our purpose.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(")")[-1].split()[0] != "Z"


def test_a_stuck_child_reports_its_stack_and_its_group_is_killed() -> None:
    started = time.monotonic()
    outcome = run_child_process([sys.executable, "-c", STUCK_CHILD], ROOT, deadline=3.0)
    assert time.monotonic() - started < 30
    assert outcome.timed_out
    failure = outcome.failure
    assert failure is not None and failure.startswith("stuck")
    assert "waiting_for_an_answer_that_never_comes" in failure
    grandchild = int(outcome.stdout.split()[0])
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)


def test_a_finished_child_gives_its_output() -> None:
    outcome = run_child_process([sys.executable, "-c", "print('figures')"], ROOT, deadline=30.0)
    assert (outcome.failure, outcome.stdout.strip()) == (None, "figures")


def test_a_failed_child_gives_the_end_of_its_error() -> None:
    outcome = run_child_process(
        [sys.executable, "-c", "raise SystemExit('the database was not reachable')"], ROOT, 30.0
    )
    assert outcome.failure is not None and "the database was not reachable" in outcome.failure


LEAVING_A_SERVER_BEHIND = textwrap.dedent(
    """
    import subprocess, sys
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(server.pid, flush=True)
    print("figures", flush=True)
    """
)


def test_a_server_left_running_neither_holds_the_caller_nor_survives() -> None:
    """The server inherited the child's output: waiting for the end of it would wait for the
    server (this is how a smoke run once held CI for an hour)."""
    started = time.monotonic()
    outcome = run_child_process(
        [sys.executable, "-c", LEAVING_A_SERVER_BEHIND], ROOT, deadline=120.0
    )
    assert time.monotonic() - started < 60
    assert outcome.failure is None and not outcome.timed_out
    server_pid, result = outcome.stdout.split()
    assert result == "figures"
    deadline = time.monotonic() + 5
    while alive(int(server_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(int(server_pid))
