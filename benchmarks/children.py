"""Running a measurement in a child process with a deadline, so that a stuck run fails with a
picture of where it was stuck instead of holding the caller (CI) until its own limit.

A child runs in a process group of its own: the processes it starts (the local Discord, servers,
load generators) inherit its output pipes, and one of them left behind would keep the caller
waiting for the end of that output. On the deadline the child is first asked (SIGUSR1) to print
every asyncio task's stack and every thread's, then the whole group is killed."""

from __future__ import annotations

import asyncio
import faulthandler
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# How long a stuck child gets to print its stacks before its group is killed.
DUMP_GRACE_SECONDS = 3.0
# What is kept of a failed child's output in the report.
TAIL_CHARS = 6000


@dataclass(frozen=True)
class ChildOutcome:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool

    @property
    def failure(self) -> str | None:
        """Why the child failed, with the end of what it printed; None when it succeeded."""
        if self.timed_out:
            where = self.stderr[-TAIL_CHARS:]
            return f"stuck: no result within its deadline; where it was:\n{where}"
        if self.returncode != 0:
            return (self.stderr or self.stdout).strip()[-TAIL_CHARS:]
        return None


def run_child_process(command: list[str], cwd: Path, deadline: float | None) -> ChildOutcome:
    """`command` in a new process group; after `deadline` seconds, its stacks, then the kill.

    Its output goes to files, not pipes: the end of a pipe is only seen once every process
    holding it has exited, and a server the child started and left running would hold it."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            command, stdout=stdout, stderr=stderr, text=True, cwd=cwd, start_new_session=True
        )
        timed_out = False
        try:
            process.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            timed_out = True
            with _suppress_gone():
                os.kill(process.pid, signal.SIGUSR1)
            time.sleep(DUMP_GRACE_SECONDS)
        finally:
            # Whatever the child left running, or the child itself when stuck.
            kill_group(process.pid)
            process.wait()
        stdout.seek(0)
        stderr.seek(0)
        return ChildOutcome(process.returncode, stdout.read(), stderr.read(), timed_out)


def kill_group(pid: int) -> None:
    with _suppress_gone():
        os.killpg(pid, signal.SIGKILL)


class _suppress_gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, ProcessLookupError | PermissionError)


def print_stacks_on_request() -> None:
    """In a child: on SIGUSR1, print the stack of every asyncio task and every thread to stderr.
    Call it from inside the running event loop."""
    loop = asyncio.get_running_loop()

    def dump() -> None:
        out = io.StringIO()
        tasks = asyncio.all_tasks(loop)
        print(f"--- {len(tasks)} asyncio tasks", file=out)
        for task in tasks:
            print(f"- {task.get_name()}:", file=out)
            for line in awaited_chain(task.get_coro()):
                print(f"    {line}", file=out)
        sys.stderr.write(out.getvalue())
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)

    loop.add_signal_handler(signal.SIGUSR1, dump)


def awaited_chain(awaitable: object) -> list[str]:
    """Where a task waits, outermost first: each coroutine it awaits, down to the innermost
    (a task's own stack shows only its outermost frame)."""
    lines = []
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f"{code.co_name} ({code.co_filename}:{frame.f_lineno})")
        else:
            lines.append(repr(awaitable))
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return lines


async def answering_stack_requests(measurement: Coroutine[Any, Any, T]) -> T:
    """`measurement`, with `print_stacks_on_request` in place for as long as it runs."""
    print_stacks_on_request()
    return await measurement
