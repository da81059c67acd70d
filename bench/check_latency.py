#!/usr/bin/env python3
"""Wall time of a full `scripts/check.py` run against 1, 4 and 8 real local Neo4j servers.

Starts 8 Neo4j Community 5.26 servers configured by our templates (tests/support/neo4j_local.py,
the same code as the test fixtures), then checks the first 1, 4 and 8 of them, servers in
parallel: in-process (`run_checks` with a fresh transport each run, so connections are opened
every time) and as the command a human runs (a new Python process). Each size is run once to
warm the servers, then --runs times. Targets: under 2 s for one server, and no more than 1.5x that
for eight. Prints numbers; asserts nothing.

Example:
  python bench/check_latency.py
  python bench/check_latency.py --runs 7 --json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.neo4j_ops.bolt import Auth, NeoTransport, TlsOptions
from scripts.neo4j_ops.checks import run_checks
from scripts.neo4j_ops.parallel import run_in_background
from scripts.neo4j_ops.target import ServerSpec, Target
from tests.support.neo4j_local import start_many

SIZES = (1, 4, 8)
PASSWORD = "bench-secret-1"
TARGET_ONE = 2.0
TARGET_RATIO = 1.5


def in_process(servers) -> tuple[float, bool]:
    target = Target(servers=[ServerSpec(f"s{i + 1}", s.uri) for i, s in enumerate(servers)], servers_given=True,
                    routing_uri=servers[0].uri.replace("bolt://", "neo4j://"), auth=Auth("neo4j", PASSWORD),
                    tls=TlsOptions())
    transport = NeoTransport(target.tls, 5.0)
    start = time.perf_counter()
    report = run_checks(target, transport)
    elapsed = time.perf_counter() - start
    run_in_background(transport.close, 5)
    return elapsed, report.ok


def command(servers) -> tuple[float, bool]:
    spec = ",".join(f"s{i + 1}={s.uri}" for i, s in enumerate(servers))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check.py"), "--servers", spec, "--uri",
                           servers[0].uri], capture_output=True, text=True, env={**os.environ,
                                                                                "NEO4J_PASSWORD": PASSWORD})
    return time.perf_counter() - start, proc.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="example: "
                                     "python bench/check_latency.py --runs 5")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per size and mode (default: 5)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    print(f"starting {max(SIZES)} Neo4j servers …", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="check-bench-") as tmp:
        servers = start_many(tmp, max(SIZES), password=PASSWORD)
        try:
            print(f"  up in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
            results = {}
            for size in SIZES:
                subset = servers[:size]
                in_process(subset)  # warm-up: first queries on a fresh server compile their plans
                for mode, run in (("in-process", in_process), ("command", command)):
                    samples = [run(subset) for _ in range(args.runs)]
                    times = [t for t, _ in samples]
                    results[(size, mode)] = {"servers": size, "mode": mode, "median_s": statistics.median(times),
                                             "min_s": min(times), "max_s": max(times),
                                             "all_passed": all(ok for _, ok in samples)}
        finally:
            for local in servers:
                local.stop()

    rows = list(results.values())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'servers':>7}  {'mode':<10}  {'median':>7}  {'min':>6}  {'max':>6}  passed")
    for row in rows:
        print(f"{row['servers']:>7}  {row['mode']:<10}  {row['median_s']:>6.3f}s  {row['min_s']:>5.3f}s  "
              f"{row['max_s']:>5.3f}s  {row['all_passed']}")
    for mode in ("in-process", "command"):
        one, eight = results[(1, mode)]["median_s"], results[(8, mode)]["median_s"]
        print(f"{mode}: 1 server {one:.3f} s (target < {TARGET_ONE:g} s); 8 servers {eight:.3f} s = "
              f"{eight / one:.2f}x of one (target <= {TARGET_RATIO:g}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
