"""What a machine's boot did, read from inside it: cloud-init's own status and the modules that failed, the steps
setup-neo4j.sh logged, the boot-status file and metric it writes, and the journal of our boot units."""
from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from dataclasses import dataclass

from tests.support.rehearsal.machine import Machine

BOOT_STATUS = "/var/lib/neo4j-cluster/boot-status"  # templates/neo4j/setup-neo4j.sh.j2 BOOT_STATUS
BOOT_METRIC = "/var/lib/prometheus/node-exporter/neo4j_cluster_boot.prom"
# cloud-final runs runcmd (setup-neo4j.sh); the rest are the units our boot enables.
BOOT_UNITS = ("cloud-final.service", "neo4j.service", "grow-data-volume.timer", "neo4j-failed-logins.timer")
# Written by cloud-init when its final stage (runcmd) has ended, whatever the outcome.
FINAL_RESULT = "/run/cloud-init/result.json"
WHY_LINES = 4
MODULE_FAILED = re.compile(r"Running module (\S+) .* failed")


@dataclass(frozen=True)
class BootReport:
    waited_seconds: float
    cloud_init: str             # done, error, running (the wait timed out), disabled, …
    cloud_init_long: str        # `cloud-init status --long`
    failed_modules: tuple[str, ...]  # cloud-init modules that failed, in order
    stage_errors: tuple[str, ...]    # errors per stage (/run/cloud-init/status.json)
    setup_lines: tuple[str, ...]     # setup-neo4j.sh's own lines, in order
    failed_step_output: tuple[str, ...]  # every line the boot printed during the step that failed (its why)
    boot_status: dict[str, str]      # BOOT_STATUS's state, step, time ({} when never written)
    boot_metric: str
    journals: dict[str, str]         # unit → its journal

    @property
    def completed(self) -> bool:
        return self.cloud_init == "done" and self.boot_status.get("state") == "done"

    def where_it_stopped(self) -> str:
        """One line: how far the boot got and why it stopped there."""
        if self.completed:
            return "boot done"
        step = self.boot_status.get("step", "(setup-neo4j.sh never wrote its boot status)")
        state = self.boot_status.get("state", "none")
        # Its last lines: the why (a retried step prints the same failure once per attempt).
        why = " | ".join(self.failed_step_output[-WHY_LINES:]) or "(no output)"
        return f"stopped at setup-neo4j.sh step {step} (state {state}): {why}"

    def text(self) -> str:
        parts = [f"cloud-init: {self.cloud_init} (waited {self.waited_seconds:.0f}s)", self.cloud_init_long.rstrip(),
                 "cloud-init modules failed: " + (", ".join(self.failed_modules) or "none"),
                 *(f"  {error}" for error in self.stage_errors),
                 "setup-neo4j.sh:", *(f"  {line}" for line in self.setup_lines),
                 "output of the step that failed:", *(f"  {line}" for line in self.failed_step_output),
                 f"boot status ({BOOT_STATUS}): {self.boot_status or 'not written'}",
                 f"boot metric ({BOOT_METRIC}):", *(f"  {line}" for line in self.boot_metric.splitlines()
                                                    if not line.startswith("#")),
                 *(f"journal of {unit}:\n{journal.rstrip()}" for unit, journal in self.journals.items()),
                 f"=> {self.where_it_stopped()}"]
        return "\n".join(parts)


def _failed_step_output(output: str) -> tuple[str, ...]:
    lines = output.splitlines()
    failed = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith("setup-neo4j: FAILED")), None)
    if failed is None:
        return ()
    start = next((i for i in range(failed - 1, -1, -1) if lines[i].startswith("setup-neo4j: step ")), failed)
    return tuple(lines[start + 1:failed])


def _stage_errors(machine: Machine) -> tuple[str, ...]:
    raw = machine.exec("cat", "/run/cloud-init/status.json").stdout
    try:
        stages = json.loads(raw)["v1"]
    except (ValueError, KeyError):
        return ()
    return tuple(f"{stage}: {error}" for stage, value in stages.items() if isinstance(value, dict)
                 for error in value.get("errors", []))


# A test's limit for one machine's boot (a warm one takes about a minute).
BOOT_TIMEOUT_SECONDS = 300


def boot_report(machine: Machine, timeout: float = 600) -> BootReport:
    """Waits for cloud-init to finish (at most `timeout` seconds), then reads what the boot did."""
    started = time.monotonic()
    deadline = started + timeout
    # `cloud-init status --wait` first (it waits for cloud-init to start and run), then the final stage's end:
    # cloud-init 22.4's --wait returns as soon as a module failed, while later modules and runcmd still run.
    with contextlib.suppress(subprocess.TimeoutExpired):  # the boot still runs: reported as cloud-init's status
        machine.exec("cloud-init", "status", "--wait", timeout=timeout)
    while time.monotonic() < deadline and machine.exec("test", "-e", FINAL_RESULT).returncode != 0:
        time.sleep(2)
    waited = time.monotonic() - started
    long = machine.exec("cloud-init", "status", "--long").stdout
    status = re.search(r"^status: (\S+)", long, re.MULTILINE)
    log = machine.exec("cat", "/var/log/cloud-init.log").stdout
    output = machine.exec("cat", "/var/log/cloud-init-output.log").stdout
    boot_status = machine.exec("cat", BOOT_STATUS).stdout.split()
    return BootReport(
        waited_seconds=waited,
        cloud_init=status.group(1) if status else "unknown",
        cloud_init_long=long,
        failed_modules=tuple(dict.fromkeys(MODULE_FAILED.findall(log))),
        stage_errors=_stage_errors(machine),
        setup_lines=tuple(line for line in output.splitlines() if line.startswith("setup-neo4j:")),
        failed_step_output=_failed_step_output(output),
        boot_status=dict(item.split("=", 1) for item in boot_status if "=" in item),
        boot_metric=machine.exec("cat", BOOT_METRIC).stdout,
        journals={unit: machine.exec("journalctl", "--no-pager", "-o", "short-monotonic", "-u", unit, "-n",
                                     "40").stdout for unit in BOOT_UNITS})
