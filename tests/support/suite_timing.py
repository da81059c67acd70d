"""Where a run's time goes, by module and by pytest-xdist worker (issue 19, item 6): printed at the end of every
run, beside --durations, so CI's log says which modules to share servers in or move first.

A module's seconds are the sum of its tests' setup, call and teardown (its module fixtures' start and stop land
in its first and last test). A worker's busy seconds are the sum over the tests it ran; its last report says when
it went idle: a worker idle long before the other means the schedule has a tail (a slow module started last).
"""
from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat; None where there is none."""
    try:
        fields = [float(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


_STARTED = time.monotonic()
_CPU_AT_START = _cpu_times()
_MODULE_SECONDS: dict[str, float] = defaultdict(float)
_WORKER_SECONDS: dict[str, float] = defaultdict(float)
_WORKER_LAST: dict[str, float] = {}
SHOWN = 15


def _worker(report) -> str:
    node = getattr(report, "node", None)  # set by pytest-xdist on the controller
    gateway = getattr(node, "gateway", None)
    return getattr(gateway, "id", "main")


def pytest_runtest_logreport(report) -> None:
    module = report.nodeid.split("::", 1)[0]
    worker = _worker(report)
    _MODULE_SECONDS[module] += report.duration
    _WORKER_SECONDS[worker] += report.duration
    _WORKER_LAST[worker] = time.monotonic() - _STARTED


def pytest_terminal_summary(terminalreporter) -> None:
    if not _MODULE_SECONDS or getattr(terminalreporter.config, "workerinput", None) is not None:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"slowest {SHOWN} modules (setup + call + teardown, seconds)")
    for module, seconds in sorted(_MODULE_SECONDS.items(), key=lambda item: -item[1])[:SHOWN]:
        write(f"{seconds:8.1f}  {module}")
    if len(_WORKER_SECONDS) > 1 or "main" not in _WORKER_SECONDS:
        terminalreporter.section("workers (busy seconds; last report, seconds after the run started)")
        for worker in sorted(_WORKER_SECONDS):
            write(f"{worker}: busy {_WORKER_SECONDS[worker]:.1f}, last report at {_WORKER_LAST[worker]:.1f}")
    now = _cpu_times()
    if _CPU_AT_START is not None and now is not None and now[1] > _CPU_AT_START[1]:
        # The whole machine's, not only this run's: with nothing else running, the share of the CPUs the run kept
        # busy (well under 100% means the run waits more than it computes: room to overlap).
        busy = (now[0] - _CPU_AT_START[0]) / (now[1] - _CPU_AT_START[1])
        write(f"CPU busy during the run: {busy:.0%} of {os.cpu_count()} CPUs (whole machine, /proc/stat)")
