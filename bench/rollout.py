#!/usr/bin/env python3
"""What `make rollout` costs, against real Neo4j Community 5.26 servers on loopback. Prints numbers; asserts nothing.

1. Overhead, for N servers (--servers, default 3): each server's restart time alone (stop, start, until
   `RETURN 1` answers: tests/support/neo4j_dist.py wait_for_bolt), summed; then one whole rollout of the N
   (scripts/neo4j_ops/rollout/run.py with the real gates; the Pulumi step is a stand-in that stops and starts
   the server and returns at once, as `pulumi up` returns once the instance runs). Overhead = rollout time -
   sum of restart times, also as % of that sum; and how much of it the gates' own waits are (the before-gate
   check of the whole cluster, timed on its own, once per step), and the after-gate's own questions on the fresh
   server (after each restart alone, once `RETURN 1` answers: facts.gather's dbms.components and SHOW DATABASES,
   which a restarted 5.26 server answers only seconds after `RETURN 1`, whoever asks). Target: under 10% plus
   the gates' waits. And each step's gate delay: from the moment the restarted server answers `RETURN 1` again
   (a watcher polls every 0.05 s) to the after-gate's "back" line; it does not depend on how long the restart
   itself took on a loaded machine. On a shared machine the restarts alone and the rollout's differ by seconds
   with the load, so the overhead is also given over the rollout's own restarts (each step's stop, start, until
   that watcher saw `RETURN 1`): rollout time / their sum - 1.

2. Failed writes while the server taking writes is replaced, through the real HAProxy running our RENDERED
   haproxy.cfg (a 3-primary enterprise stack's: write backend health-checked on /db/neo4j/cluster/writable;
   only addresses and ports substituted, tests/support/haproxy.py). Community servers are not a cluster and
   have no election, so the writable endpoint is a stand-in: server A is "the leader" while its Bolt port is
   open, server B (the second real server) becomes writable when A's closes and until A is back, and the
   config's third server line points at a stand-in that is never writable. A writer thread runs CREATEs
   through HAProxy's write frontend in a retrying driver session (`session.execute_write`, the driver's
   default 30 s of retries) while the rollout replaces A. The number counted is writes that FAILED after the
   driver's retries (target: zero); it measures HAProxy's health checks + the driver's retries across a
   writer change, not Raft's election (no Raft here), and the data written to B is not replicated to A.

Example:
  python bench/rollout.py
  python bench/rollout.py --servers 5 --json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.render import render_haproxy_cfg  # noqa: E402
from components.topology import plan_topology  # noqa: E402
from scripts.neo4j_ops.bolt import Auth, NeoTransport, TlsOptions  # noqa: E402
from scripts.neo4j_ops.facts import gather  # noqa: E402
from scripts.neo4j_ops.parallel import run_in_background  # noqa: E402
from scripts.neo4j_ops.rollout.gates import cluster_health  # noqa: E402
from scripts.neo4j_ops.rollout.run import rollout  # noqa: E402
from scripts.neo4j_ops.target import ServerSpec, Target  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.support.haproxy import HealthEndpoints, Loopback, loopback_cfg, loopback_dirs, port_open, running_haproxy  # noqa: E402
from tests.support.neo4j_dist import free_port  # noqa: E402
from tests.support.neo4j_local import start_many  # noqa: E402

PASSWORD = "bench-secret-1"
TARGET_OVERHEAD = 0.10
WATCH_PAUSE = 0.05


class RestartStep:
    """The Pulumi boundary: apply = stop the real server and start it again, without waiting. A watcher thread
    notes when the server answers `RETURN 1` again (polled every WATCH_PAUSE s), so each step's gate delay (the
    gate's "back" line minus that moment) can be told apart from the restart itself, whatever the machine's load."""

    def __init__(self, locals_by_name: dict, name: str = "bench"):
        self.name = name
        self.servers = locals_by_name
        self.began: dict[str, float] = {}
        self.answered: dict[str, float] = {}
        self.watchers: list[threading.Thread] = []

    def pending(self, names):
        return {n: ["restart"] for n in names}

    def apply(self, server, log):
        local = self.servers[server]
        self.began[server] = time.perf_counter()
        local.stop()
        local.server.start()
        watcher = threading.Thread(target=self._watch, args=(server, local), daemon=True)
        watcher.start()
        self.watchers.append(watcher)

    def _watch(self, server, local) -> None:
        from neo4j import GraphDatabase

        deadline = time.perf_counter() + 300
        with GraphDatabase.driver(local.uri, auth=("neo4j", PASSWORD), connection_timeout=2) as driver:
            while time.perf_counter() < deadline:
                if port_open(local.bolt_port):
                    try:
                        driver.execute_query("RETURN 1")
                        self.answered[server] = time.perf_counter()
                        return
                    except Exception:  # noqa: BLE001 - not yet: the next poll
                        pass
                time.sleep(WATCH_PAUSE)


class BackTimes:
    """The log the rollout writes, with the moment of each server's "back" line."""

    def __init__(self, log):
        self.log, self.back = log, {}

    def __call__(self, message: str) -> None:
        server, _, rest = message.partition(": ")
        if rest.startswith("back: "):
            self.back[server] = time.perf_counter()
        self.log(f"  {message}")

    def delays(self, step: RestartStep) -> dict[str, float]:
        for watcher in step.watchers:
            watcher.join(10)
        return {s: round(self.back[s] - step.answered[s], 2) for s in self.back if s in step.answered}


def target_of(named: dict) -> Target:
    return Target(servers=[ServerSpec(name, local.uri, "primary") for name, local in named.items()],
                  servers_given=True, routing_uri=None, auth=Auth("neo4j", PASSWORD), tls=TlsOptions())


def restart_alone(local, spec: ServerSpec) -> tuple[float, float]:
    """The restart's time until `RETURN 1` answers; then how long the after-gate's own questions (gather: who it is
    and SHOW DATABASES) take on the fresh server, asked at that moment on a new connection."""
    start = time.perf_counter()
    local.stop()
    local.server.start()
    local.server.wait_for_bolt(300)
    restarted = time.perf_counter()
    transport = NeoTransport(TlsOptions(), 30.0)
    try:
        facts = gather(spec, transport, Auth("neo4j", PASSWORD), 30.0)
    finally:
        run_in_background(transport.close, 5)
    return restarted - start, (time.perf_counter() - restarted) if facts.reachable else float("nan")


def overhead(named: dict, log) -> dict:
    restarts, answers = {}, {}
    target = target_of(named)
    for name, local in named.items():
        restarts[name], answers[name] = restart_alone(local, target.server_named(name))
        log(f"  {name} restarted alone in {restarts[name]:.1f} s; then the gate's questions answered in "
            f"{answers[name]:.2f} s")
    transport = NeoTransport(target.tls, 10.0)
    try:
        cluster_health(target, transport, timeout=10.0, max_lag=10.0)  # warm the connections' first queries
        gate_start = time.perf_counter()
        cluster_health(target, transport, timeout=10.0, max_lag=10.0)
        gate = time.perf_counter() - gate_start
        start = time.perf_counter()
        step, back = RestartStep(named), BackTimes(log)
        report = rollout(target, transport, step, step_timeout=300, timeout=10.0, max_lag=10.0, log=back)
        total = time.perf_counter() - start
        delays = back.delays(step)
        in_rollout = {s: round(step.answered[s] - step.began[s], 2) for s in step.answered if s in step.began}
    finally:
        run_in_background(transport.close, 5)
    summed = sum(restarts.values())
    extra = total - summed
    gates = gate * len(named)  # one before-gate per step
    return {"servers": len(named), "restart_s": {k: round(v, 2) for k, v in restarts.items()},
            "sum_restart_s": round(summed, 2), "rollout_s": round(total, 2), "overhead_s": round(extra, 2),
            "overhead_pct": round(100 * extra / summed, 1), "before_gate_s_each": round(gate, 3),
            "overhead_beyond_gates_pct": round(100 * (extra - gates) / summed, 1),
            "gate_delay_s": delays, "restart_in_rollout_s": in_rollout,
            "first_gather_s": {k: round(v, 2) for k, v in answers.items()},
            "overhead_over_own_restarts_pct": None if len(in_rollout) != len(named) else
            round(100 * (total - sum(in_rollout.values())) / sum(in_rollout.values()), 1),
            "overhead_beyond_first_answers_pct": round(100 * (extra - gates - sum(answers.values())) / summed, 1),
            "rollout_ok": not report.failed}


class Writable:
    """The writable endpoint's stand-in: A while its Bolt port is open, else B; the third never."""

    def __init__(self, a_port: int, b_port: int):
        self.a_port, self.b_port = a_port, b_port

    def answer(self, server: str, path: str) -> tuple[int, str]:
        a_up, b_up = port_open(self.a_port), port_open(self.b_port)
        if path == "/db/neo4j/cluster/writable":
            ok = {"core-1": a_up, "core-2": b_up and not a_up, "core-3": False}[server]
        elif path in ("/db/neo4j/cluster/available", "/"):
            ok = {"core-1": a_up, "core-2": b_up, "core-3": False}[server]
        else:
            ok = False
        return (200, "true") if ok else (404, "false")


def failed_writes(a, b, directory: Path, log) -> dict:
    from neo4j import GraphDatabase

    settings = make_settings(coreCount=3, replicaCount=0, tls="disabled")
    rendered = render_haproxy_cfg(settings, plan_topology(settings))
    health = HealthEndpoints(["core-1", "core-2", "core-3"], Writable(a.bolt_port, b.bolt_port))
    loopback = Loopback(binds={"bolt_write": free_port(), "bolt_read": free_port(), "health": free_port(),
                               "stats": free_port()},
                        servers={"core-1": (a.bolt_port, health.port("core-1")),
                                 "core-2": (b.bolt_port, health.port("core-2")),
                                 "core-3": (b.bolt_port, health.port("core-3"))},
                        nameserver_port=free_port(), maxconn=1000, **loopback_dirs(directory))
    stats = {"ok": 0, "failed": 0, "errors": [], "max_latency_s": 0.0}
    stop = threading.Event()
    try:
        with running_haproxy(loopback_cfg(rendered, loopback), directory, listen_ports=[loopback.binds["bolt_write"]],
                             stats_port=loopback.binds["stats"]) as proxy:
            proxy.wait_for_first_checks()
            uri = f"bolt://127.0.0.1:{loopback.binds['bolt_write']}"
            driver = GraphDatabase.driver(uri, auth=("neo4j", PASSWORD), max_transaction_retry_time=30)

            def write(tx, n):
                tx.run("CREATE (:BenchRollout {n: $n})", n=n).consume()

            def writer():
                n = 0
                with driver.session(database="neo4j") as session:
                    while not stop.is_set():
                        n += 1
                        began = time.perf_counter()
                        try:
                            session.execute_write(write, n)
                            stats["ok"] += 1
                        except Exception as error:  # noqa: BLE001 - counted, that is the measurement
                            stats["failed"] += 1
                            stats["errors"].append(f"{type(error).__name__}: {error}"[:200])
                        stats["max_latency_s"] = max(stats["max_latency_s"], time.perf_counter() - began)
                        time.sleep(0.02)

            thread = threading.Thread(target=writer, daemon=True)
            thread.start()
            time.sleep(3)
            before = stats["ok"]
            named = {"core-1": a, "core-2": b}
            target = target_of(named)
            transport = NeoTransport(target.tls, 10.0)
            start = time.perf_counter()
            report = rollout(target, transport, RestartStep(named), pending={"core-1": ["restart"]},
                             step_timeout=300, timeout=10.0, max_lag=10.0, log=lambda m: log(f"  {m}"))
            replaced = time.perf_counter() - start
            time.sleep(3)
            stop.set()
            thread.join(60)
            run_in_background(transport.close, 5)
            driver.close()
    finally:
        health.close()
    return {"writes_ok": stats["ok"], "writes_failed": stats["failed"], "writes_during_and_after": stats["ok"] - before,
            "max_write_latency_s": round(stats["max_latency_s"], 2), "replace_s": round(replaced, 2),
            "rollout_ok": not report.failed, "errors": stats["errors"][:5]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: python bench/rollout.py --servers 3")
    parser.add_argument("--servers", type=int, default=3, help="servers of the overhead run (default: 3)")
    parser.add_argument("--skip-writes", action="store_true", help="only the overhead run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    count = max(args.servers, 2)
    log(f"starting {count} Neo4j servers …")
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="rollout-bench-") as tmp:
        servers = start_many(tmp, count, password=PASSWORD)
        try:
            named = {f"core-{i + 1}": s for i, s in enumerate(servers[:args.servers])}
            log("overhead over the sum of restart times:")
            results["overhead"] = overhead(named, log)
            if not args.skip_writes:
                log("failed writes through HAProxy while the writer is replaced:")
                (Path(tmp) / "haproxy").mkdir()
                results["writes"] = failed_writes(servers[0], servers[1], Path(tmp) / "haproxy", log)
        finally:
            for local in servers:
                local.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    o = results["overhead"]
    print(f"overhead, {o['servers']} servers: restarts alone {o['sum_restart_s']:.1f} s in sum "
          f"({', '.join(f'{k} {v:.1f} s' for k, v in o['restart_s'].items())}); rollout {o['rollout_s']:.1f} s; "
          f"adds {o['overhead_s']:.1f} s = {o['overhead_pct']:.1f}% (target < {TARGET_OVERHEAD:.0%} plus the gates' "
          f"waits: before-gate {o['before_gate_s_each']:.2f} s per step; beyond them "
          f"{o['overhead_beyond_gates_pct']:.1f}%); rollout ok: {o['rollout_ok']}")
    print(f"gate delay per step (its 'back' line after the server answered RETURN 1 again): "
          f"{', '.join(f'{k} {v:.2f} s' for k, v in o['gate_delay_s'].items()) or 'not measured'}; the gate's "
          f"questions on a fresh server, asked once RETURN 1 answers (restarts alone): "
          f"{', '.join(f'{k} {v:.2f} s' for k, v in o['first_gather_s'].items())}; overhead beyond the gates' "
          f"waits and those first answers: {o['overhead_beyond_first_answers_pct']:.1f}%")
    print(f"the same restarts within the rollout (stop, start, until RETURN 1 answers; the rest of each step is its "
          f"gate delay): {', '.join(f'{k} {v:.1f} s' for k, v in o['restart_in_rollout_s'].items())}; the rollout's "
          f"overhead over these, its own restarts (load that changes between the two runs cancels out): "
          f"{o['overhead_over_own_restarts_pct']}%")
    if "writes" in results:
        w = results["writes"]
        print(f"writes through HAProxy while core-1 (the writer) is replaced ({w['replace_s']:.1f} s): "
              f"{w['writes_failed']} failed (target 0), {w['writes_ok']} succeeded, slowest write "
              f"{w['max_write_latency_s']:.1f} s (retries included); rollout ok: {w['rollout_ok']}")
        for error in w["errors"]:
            print(f"  failed: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
