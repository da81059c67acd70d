#!/usr/bin/env python3
"""How `make plan` scales with the cluster: wall time and peak memory per cluster size.

Plans the prod stack at 3+0, 5+2, 7+10 and 11+20 servers (primaries + secondaries), each in a
fresh process as `make plan` runs it, and compares with the floor: a program that only imports
pulumi_aws and creates one VPC under the same recording mocks. Prints numbers; asserts nothing.

Example:
  python bench/plan_scaling.py
  python bench/plan_scaling.py --runs 5 --json
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SIZES = ((3, 0), (5, 2), (7, 10), (11, 20))
TARGET = (7, 10)  # the target: this plan within 1.5x of the floor

FLOOR_PROGRAM = """\
import pulumi_aws as aws
aws.ec2.Vpc("floor", cidr_block="10.0.0.0/16")
"""
FLOOR_DRIVER = """\
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from components.program.recording import run_program
run_program(Path({program!r}), project="neo4j-cluster", stack="floor", config={{}}, secret_keys=[])
"""


def measure(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident memory (bytes) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"plan_scaling: {' '.join(command)} failed:\n{child.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss * 1024  # Linux reports kilobytes


def best_of(command: list[str], runs: int) -> tuple[float, int]:
    results = [measure(command) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results)


def stack_file(directory: Path, cores: int, replicas: int) -> Path:
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    document["config"]["neo4j:coreCount"] = cores
    document["config"]["neo4j:replicaCount"] = replicas
    path = directory / f"Pulumi.bench-{cores}-{replicas}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def resource_count(out_dir: Path) -> int:
    return len(json.loads((out_dir / "plan.json").read_text())["resources"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: python bench/plan_scaling.py")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the fastest counts (default 3)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)

    python = sys.executable
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        program = directory / "floor.py"
        program.write_text(FLOOR_PROGRAM)
        seconds, memory = best_of([python, "-c", FLOOR_DRIVER.format(root=str(ROOT), program=str(program))],
                                  args.runs)
        rows.append({"plan": "floor (pulumi_aws + 1 VPC)", "servers": 0, "resources": 1, "seconds": seconds,
                     "peak_mib": memory / 2 ** 20})
        floor = seconds
        for cores, replicas in SIZES:
            out_dir = directory / f"out-{cores}-{replicas}"
            command = [python, "scripts/plan.py", "--stack", "bench", "--stack-file",
                       str(stack_file(directory, cores, replicas)), "--out", str(out_dir)]
            seconds, memory = best_of(command, args.runs)
            rows.append({"plan": f"prod {cores}+{replicas}", "servers": cores + replicas,
                         "resources": resource_count(out_dir), "seconds": seconds, "peak_mib": memory / 2 ** 20})
    for row in rows:
        row["x_floor"] = row["seconds"] / floor
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'plan':<28}{'servers':>8}{'resources':>10}{'wall s':>9}{'x floor':>9}{'peak MiB':>10}")
    for row in rows:
        print(f"{row['plan']:<28}{row['servers']:>8}{row['resources']:>10}{row['seconds']:>9.2f}"
              f"{row['x_floor']:>9.2f}{row['peak_mib']:>10.0f}")
    sized = [r for r in rows if r["servers"]]
    per_server = statistics.mean(
        (b["seconds"] - a["seconds"]) / (b["servers"] - a["servers"]) for a, b in itertools.pairwise(sized))
    target = next(r for r in rows if r["plan"] == f"prod {TARGET[0]}+{TARGET[1]}")
    print(f"\nmarginal cost: {per_server * 1000:.0f} ms per server; "
          f"{TARGET[0]}+{TARGET[1]} is {target['x_floor']:.2f}x the floor (target 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
