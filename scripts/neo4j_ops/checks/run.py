"""One check run: `run_checks(target, transport)` → CheckReport.

Phase 1 runs at once: every server's facts (direct Bolt: reachable, authenticated, version, how
it sees the cluster), the routing probe, the HAProxy probe, the TLS probes and the backup
bucket probe. Phase 2 (needs the facts) runs at once too: replication lag, users and roles,
the reader-cannot-write probe and the metrics endpoints. Each task has a deadline, so a server
that hangs costs one timeout, not the run."""
from __future__ import annotations

import time
from typing import Any

from .. import cluster
from ..bolt import UNREACHABLE, BoltError, Transport
from ..facts import ServerFacts, gather
from ..parallel import run_all
from ..target import Target
from .access import reader_cannot_write, users_and_roles
from .boot import boot_failed_message, boot_failures
from .composites import composite_results
from .endpoints import backup_result, check_metrics, s3_probe
from .lag import lag_result, measure_lag
from .membership import connect_result, databases_result, topology_result, writers_result
from .overview import overview_rows
from .plugins import plugin_results
from .results import FAIL, SKIP, CheckReport, CheckResult, reason
from .routing import haproxy_result, routing_result, write_read_probe
from .tls import tls_probe, tls_result


def run_checks(target: Target, transport: Transport, *, timeout: float = 5.0, max_lag: float = 10.0) -> CheckReport:
    start = time.monotonic()
    phase1: dict[str, Any] = {}
    limits: dict[str, float] = {}
    for spec in target.servers:
        phase1[f"facts:{spec.name}"] = (lambda s=spec: gather(s, transport, target.auth, timeout))
        limits[f"facts:{spec.name}"] = 4 * timeout + 1
    if target.routing_uri:
        phase1["routing"] = lambda: write_read_probe(transport, target.auth, target.routing_uri, target.routing_uri,
                                                     target.database, timeout, "routing")
        limits["routing"] = 4 * timeout + 1
    if target.haproxy_uri:
        phase1["haproxy"] = lambda: write_read_probe(transport, target.auth, target.haproxy_uri,
                                                     target.haproxy_read_uri or target.haproxy_uri,
                                                     target.database, timeout, "haproxy")
        limits["haproxy"] = 4 * timeout + 1
    if target.tls_expected in ("optional", "required") and target.tls.encrypted:
        def tls_all():
            return run_all({s.name: (lambda s=s: tls_probe(transport, s, target.auth, target.tls))
                            for s in target.servers}, 2 * timeout + 1)
        phase1["tls"] = tls_all
        limits["tls"] = 2 * timeout + 2
    if target.backup_bucket:
        phase1["backup"] = lambda: s3_probe(target.backup_bucket, target.aws_region, timeout)
        limits["backup"] = 4 * timeout + 1
    one = run_all(phase1, limits)

    facts = []
    for spec in target.servers:
        outcome = one[f"facts:{spec.name}"]
        if outcome.ok:
            facts.append(outcome.value)
        else:
            facts.append(ServerFacts(spec, error=BoltError(UNREACHABLE, f"{spec.name}: {reason(outcome)}")))
    results = [connect_result(target, f) for f in facts]
    failed_boots = boot_failures([f.spec for f in facts if not f.reachable], transport, timeout)
    for result in results:
        if result.server in failed_boots:
            result.detail += "; " + boot_failed_message(result.server, failed_boots[result.server])
    ref = cluster.reference(facts)

    two: dict[str, Any] = {}
    if ref is not None:
        two["lag"] = lambda: measure_lag(target, facts, transport, max_lag, timeout)
        two["users"] = lambda: users_and_roles(target, ref, transport, timeout)
        two["reader"] = lambda: reader_cannot_write(target, ref, transport, timeout)
        two["metrics"] = lambda: check_metrics(target, ref, transport, timeout)
    two_limits = {"lag": max_lag + 3 * timeout + 2, "users": 3 * timeout + 1, "reader": 3 * timeout + 1,
                  "metrics": 2 * timeout + 2}
    second = run_all(two, two_limits)

    results.append(topology_result(target, facts))
    results.append(databases_result(target, facts))
    results.append(writers_result(target, facts))
    lag = second.get("lag")
    results.append(lag_result(lag, max_lag) if lag else CheckResult("replication-lag", SKIP, "no server reachable"))
    results.append(routing_result(target, facts, one.get("routing")))
    results.append(haproxy_result(target, one.get("haproxy")))
    results.append(tls_result(target, one.get("tls")))
    for key, name in (("users", "users"), ("reader", "reader-cannot-write"), ("metrics", "metrics")):
        outcome = second.get(key)
        if outcome is None:
            results.append(CheckResult(name, SKIP, "no server reachable"))
        elif outcome.ok:
            results.append(outcome.value)
        else:
            results.append(CheckResult(name, FAIL, reason(outcome)))
    results.append(backup_result(target, one.get("backup")))
    results += composite_results(target, transport, timeout)
    results += plugin_results(target, facts, transport, timeout)

    lags = lag.value if lag is not None and lag.ok and isinstance(lag.value, list) else []
    return CheckReport(overview_rows(target, facts, lags), results, time.monotonic() - start,
                       ref.version if ref else None, ref.edition if ref else None, facts)
