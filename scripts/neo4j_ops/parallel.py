"""Run tasks at once, each with a deadline, on daemon threads.

A Bolt read can block forever on a server that accepted the connection and then stopped
answering (a paused VM, a half-open firewall). Futures of a ThreadPoolExecutor would keep the
interpreter alive at exit, so the tasks run on daemon threads: a task that misses its deadline is
reported as timed out and abandoned, and the command still ends.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class TaskTimeoutError(Exception):
    """The task did not finish before its deadline."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"no answer within {seconds:g} s")


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def run_all(tasks: Mapping[str, Callable[[], Any]], timeout: float | Mapping[str, float]) -> dict[str, Outcome]:
    """Start every task now; wait for each until its deadline. Never raises for a task's error."""
    outcomes = {name: Outcome() for name in tasks}
    done = {name: threading.Event() for name in tasks}

    def runner(name: str, task: Callable[[], Any]) -> None:
        start = time.monotonic()
        try:
            outcomes[name].value = task()
        except BaseException as error:  # noqa: BLE001 - reported to the caller, never lost
            outcomes[name].error = error
        finally:
            outcomes[name].seconds = time.monotonic() - start
            done[name].set()

    started = time.monotonic()
    for name, task in tasks.items():
        threading.Thread(target=runner, args=(name, task), name=f"task-{name}", daemon=True).start()
    for name in tasks:
        limit = timeout[name] if isinstance(timeout, Mapping) else timeout
        remaining = max(0.0, started + limit - time.monotonic())
        if not done[name].wait(remaining):
            outcomes[name] = Outcome(error=TaskTimeoutError(limit), seconds=limit)
    return outcomes


def run_in_background(function: Callable[[], Any], timeout: float) -> None:
    """Run `function` (a cleanup such as closing drivers) for at most `timeout` seconds."""
    thread = threading.Thread(target=function, name="cleanup", daemon=True)
    thread.start()
    thread.join(timeout)
