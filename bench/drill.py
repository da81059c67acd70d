#!/usr/bin/env python3
"""The failover drill's figures (`make drill`, scripts/neo4j_ops/drill/run.py) where it can run here: against two real
Neo4j Community 5.26 servers on loopback behind the real HAProxy running our RENDERED haproxy.cfg of a 3-primary stack
(only addresses and ports substituted, tests/support/haproxy.py). Prints numbers; asserts nothing.

Community servers are not a cluster and have no election, so the leader is a stand-in, as in bench/rollout.py: the
write backend's health endpoint (/db/neo4j/cluster/writable) says server A is the writer while A's Bolt port is open,
B when it is not. The drill stops A by a process stand-in for SSM/docker (SIGTERM to its JVM, then a new JVM); its
load writes through HAProxy's write frontend. So "a new leader accepted writes after" measures HAProxy's health checks
(every 2 s, 2 failures; our haproxy.cfg) plus the load's retries across the writer change, not Raft's election. B's
writes are not replicated to A, so "back and caught up" cannot pass here: the bench prints when A was back (the
rollout's after-gate line) instead, and the drill's own verdict on catching up (not caught up) as it is.

Example:
  python bench/drill.py
  python bench/drill.py --rate 10 --down 5 --json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rollout import Writable  # noqa: E402
from components.render import render_haproxy_cfg  # noqa: E402
from components.topology import plan_topology  # noqa: E402
from scripts.neo4j_ops.bolt import Auth, NeoTransport, TlsOptions  # noqa: E402
from scripts.neo4j_ops.drill.plan import DrillPlan, Thresholds  # noqa: E402
from scripts.neo4j_ops.drill.run import drill  # noqa: E402
from scripts.neo4j_ops.parallel import run_in_background  # noqa: E402
from scripts.neo4j_ops.target import ServerSpec, Target  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.support.haproxy import HealthEndpoints, Loopback, loopback_cfg, loopback_dirs, running_haproxy  # noqa: E402
from tests.support.neo4j_dist import free_port  # noqa: E402
from tests.support.neo4j_local import start_many  # noqa: E402

PASSWORD = "bench-secret-1"


class ProcessStopper:
    """STAND-IN for SSM's `systemctl stop|start neo4j` and `docker stop|start`: SIGTERM to the JVM, then a new one."""

    def __init__(self, local):
        self.local = local

    def describe(self, server: str) -> str:
        return f"the process stand-in (SIGTERM to {server}'s JVM, then a new JVM)"

    def stop(self, server: str) -> None:
        self.local.stop()

    def start(self, server: str) -> None:
        self.local.server.start()


def run(a, b, directory: Path, args, log) -> dict:
    settings = make_settings(coreCount=3, replicaCount=0, tls="disabled")
    rendered = render_haproxy_cfg(settings, plan_topology(settings))
    health = HealthEndpoints(["core-1", "core-2", "core-3"], Writable(a.bolt_port, b.bolt_port))
    loopback = Loopback(binds={"bolt_write": free_port(), "bolt_read": free_port(), "health": free_port(),
                               "stats": free_port()},
                        servers={"core-1": (a.bolt_port, health.port("core-1")),
                                 "core-2": (b.bolt_port, health.port("core-2")),
                                 "core-3": (b.bolt_port, health.port("core-3"))},
                        nameserver_port=free_port(), maxconn=1000, **loopback_dirs(directory))
    back: dict[str, float] = {}
    lines: list[str] = []

    def note(message: str) -> None:
        lines.append(message)
        if message.startswith("core-1: back: "):
            back.setdefault("at", time.monotonic())
        if message.startswith("core-1: starting it again"):
            back.setdefault("start", time.monotonic())
        log(f"  {message}")

    try:
        with running_haproxy(loopback_cfg(rendered, loopback), directory, listen_ports=[loopback.binds["bolt_write"]],
                             stats_port=loopback.binds["stats"]) as proxy:
            proxy.wait_for_first_checks()
            entry = f"bolt://127.0.0.1:{loopback.binds['bolt_write']}"
            target = Target(servers=[ServerSpec("core-1", a.uri, "primary"), ServerSpec("core-2", b.uri, "primary")],
                            servers_given=True, routing_uri=None, auth=Auth("neo4j", PASSWORD), tls=TlsOptions(),
                            haproxy_uri=entry, stack="bench")
            plan = DrillPlan("core-1", a.uri, ("system", "neo4j"), "neo4j", entry, 1, ("neo4j", "system"),
                             "the leader is a stand-in: HAProxy's writable check names A while it answers, else B")
            thresholds = Thresholds(args.max_outage, 0, args.max_recovery)
            transport = NeoTransport(TlsOptions(), 5.0)
            try:
                report = drill(target, transport, ProcessStopper(a), plan, thresholds, stack="bench", rate=args.rate,
                               down=args.down, timeout=5.0, log=note)
            finally:
                run_in_background(transport.close, 5)
    finally:
        health.close()
    return {"figures": asdict(report.figures) if report.figures else None, "exceeded": report.exceeded,
            "error": report.error, "back_after_start_s": round(back["at"] - back["start"], 2)
            if "at" in back and "start" in back else None, "rate": args.rate, "down_s": args.down}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: python bench/drill.py --rate 10")
    parser.add_argument("--rate", type=float, default=5.0, help="writes a second (default: 5)")
    parser.add_argument("--down", type=float, default=5.0, help="seconds A stays down after B took writes (default: 5)")
    parser.add_argument("--max-outage", type=float, default=30.0, help="the outage threshold (default: 30)")
    parser.add_argument("--max-recovery", type=float, default=45.0,
                        help="how long the drill waits for A to be back and caught up (default: 45; it cannot catch "
                             "up here)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log("starting 2 Neo4j servers …")
    with tempfile.TemporaryDirectory(prefix="drill-bench-") as tmp:
        servers = start_many(tmp, 2, password=PASSWORD)
        try:
            (Path(tmp) / "haproxy").mkdir()
            result = run(servers[0], servers[1], Path(tmp) / "haproxy", args, log)
        finally:
            for local in servers:
                local.stop()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    f = result["figures"]
    if f is None:
        print(f"the drill stopped before its figures: {result['error']}")
        return 0
    leader = "never" if f["new_leader_seconds"] is None else f"{f['new_leader_seconds']:.1f} s"
    print(f"drill of core-1 (A) at {result['rate']:g} writes/s, down {result['down_s']:g} s after B took writes: "
          f"stop took {f['stop_seconds']:.1f} s; a write acknowledged by the new writer (B, via HAProxy's checks) "
          f"{leader} after the stop; writes failed for {f['write_outage_seconds']:.1f} s; {f['writes']} writes, "
          f"{f['acknowledged']} acknowledged, {f['failed_attempts']} failed attempts, {f['retried_writes']} retried, "
          f"{f['lost_writes']} lost")
    caught = "never (B's writes are not replicated on Community)" if f["recovery_seconds"] is None \
        else f"{f['recovery_seconds']:.1f} s after its start"
    print(f"A back (after-gate) {result['back_after_start_s']} s after its start; caught up: {caught}")
    for item in result["exceeded"]:
        print(f"  over: {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
