"""Where a run's time goes, by module and by pytest-xdist worker (issue 19, item 6): printed at the end of every
run, beside --durations, so CI's log says which modules to share servers in or move first.

A module's seconds are the sum of its tests' setup, call and teardown (its module fixtures' start and stop land
in its first and last test). A worker's busy seconds are the sum over the tests it ran; its last report says when
it went idle: a worker idle long before the other means the schedule has a tail (a slow module started last).

The integration run keeps both CPUs busy, so its wall time follows the CPU it spends, not the seconds its modules
wait: each report also carries the CPU seconds its worker and the worker's finished children (servers, neo4j-admin,
tools) spent since the worker's previous report, and the Neo4j test servers started in that time
(neo4j_dist.SERVER_STARTS), with the CPU those servers had spent when asked to stop (neo4j_dist.SERVER_CPU: the rest
is neo4j-admin, tools, the test process). A child's CPU counts when it is reaped: a module's servers in its last test,
a session server at the end of the run. A machine container's processes are the private dockerd's children, not the
worker's: the rehearsal's CPU is mostly outside its row; so are the processes tests/support/forkrun.py forks from its
warm interpreter (the plans): the fork server reaps them.
"""
from __future__ import annotations

import os
import resource
import time
from collections import defaultdict
from pathlib import Path

import pytest


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
_MODULE_CPU: dict[str, float] = defaultdict(float)
_MODULE_STARTS: dict[str, int] = defaultdict(int)
_MODULE_SERVERS_CPU: dict[str, float] = defaultdict(float)
SHOWN = 15
CPU_SHOWN = 40  # the CPU table goes further: where servers start is the next thing to cut (issue 19)
CPU_KEY = "cpu_seconds"
STARTS_KEY = "neo4j_server_starts"
SERVERS_CPU_KEY = "neo4j_server_cpu_seconds"


def _spent_cpu() -> float:
    """CPU seconds of this process and its reaped children so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _Since:
    """What this process spent since it last attached a report's share."""

    cpu = _spent_cpu()
    starts = 0
    servers = 0.0

    @classmethod
    def take(cls) -> tuple[float, int, float]:
        from tests.support import neo4j_dist

        cpu, starts, servers = _spent_cpu(), neo4j_dist.SERVER_STARTS, neo4j_dist.SERVER_CPU
        share = (cpu - cls.cpu, starts - cls.starts, servers - cls.servers)
        cls.cpu, cls.starts, cls.servers = cpu, starts, servers
        return share


def pytest_collection_finish(session) -> None:  # noqa: ARG001 (the hook's signature)
    """Starts the count after collection: importing and collecting is no module's cost."""
    _Since.take()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001 (the hook's signature)
    """Adds this process's CPU seconds and server starts since its last report to each report (user_properties
    travel from an xdist worker to the controller)."""
    outcome = yield
    report = outcome.get_result()
    cpu, starts, servers = _Since.take()
    # A new list: the report's is the item's own, and every later phase's report would carry this one's share.
    report.user_properties = [*report.user_properties, (CPU_KEY, round(cpu, 3)), (STARTS_KEY, starts),
                              (SERVERS_CPU_KEY, round(servers, 3))]


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
    for key, value in getattr(report, "user_properties", ()):
        if key == CPU_KEY:
            _MODULE_CPU[module] += value
        elif key == STARTS_KEY:
            _MODULE_STARTS[module] += value
        elif key == SERVERS_CPU_KEY:
            _MODULE_SERVERS_CPU[module] += value


def pytest_terminal_summary(terminalreporter) -> None:
    if not _MODULE_SECONDS or getattr(terminalreporter.config, "workerinput", None) is not None:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"slowest {SHOWN} modules (setup + call + teardown, seconds)")
    for module, seconds in sorted(_MODULE_SECONDS.items(), key=lambda item: -item[1])[:SHOWN]:
        write(f"{seconds:8.1f}  {module}")
    if _MODULE_CPU:
        terminalreporter.section(f"most CPU {CPU_SHOWN} modules (CPU seconds of the worker and its reaped children; "
                                 "Neo4j test servers started; of the CPU, theirs until asked to stop)")
        for module, cpu in sorted(_MODULE_CPU.items(), key=lambda item: -item[1])[:CPU_SHOWN]:
            write(f"{cpu:8.1f}  {_MODULE_STARTS[module]:3d}  {_MODULE_SERVERS_CPU[module]:8.1f}  {module}")
        write(f"{sum(_MODULE_CPU.values()):8.1f}  {sum(_MODULE_STARTS.values()):3d}  "
              f"{sum(_MODULE_SERVERS_CPU.values()):8.1f}  in all")
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
