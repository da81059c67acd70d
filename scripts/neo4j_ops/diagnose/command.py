"""scripts/diagnose.py: the run over every server, its help, options and main."""
from __future__ import annotations

import re
import time

from .. import cli, cluster, cluster_cli
from ..bolt import BoltError, Transport
from ..checks.lag import measure_lag
from ..facts import ServerFacts
from ..parallel import TaskTimeoutError, run_all
from ..target import Target, build_target, stack_settings
from .cluster_findings import analyse
from .gather import ServerDiagnosis, gather_server
from .report import DiagnoseReport, Thresholds, render_text


def run_diagnosis(target: Target, transport: Transport, *, timeout: float = 5.0,
                  thresholds: Thresholds | None = None) -> DiagnoseReport:
    thresholds = thresholds or Thresholds()
    start = time.monotonic()
    outcomes = run_all({s.name: (lambda s=s: gather_server(target, s, transport, timeout)) for s in target.servers},
                       6 * timeout + 2)
    diagnoses = []
    for spec in target.servers:
        outcome = outcomes[spec.name]
        if outcome.ok:
            diagnoses.append(outcome.value)
        else:
            message = str(outcome.error) if isinstance(outcome.error, TaskTimeoutError) else repr(outcome.error)
            diagnoses.append(ServerDiagnosis(ServerFacts(spec, error=BoltError("unreachable", message))))
    facts = [d.facts for d in diagnoses]
    ref = cluster.reference(facts)
    lags = measure_lag(target, facts, transport, thresholds.max_lag_seconds, timeout) if ref else None
    findings = analyse(target, diagnoses, lags, thresholds)
    return DiagnoseReport(findings, time.monotonic() - start, ref.version if ref else None,
                          ref.edition if ref else None, len(target.servers))


DIAGNOSE_DOC = """Troubleshooting report of a running Neo4j cluster: findings with suggested actions.

Looks at: servers that cannot be reached; writers per database (no leader, split brain);
membership (SHOW SERVERS / dbms.cluster.overview); databases not in their requested state;
replication lag; slow queries (SHOW TRANSACTIONS on 5.x+, dbms.listQueries on 4.4) over
--slow-query; idle and blocked transactions; heap use (JMX); page-cache size, hit and usage
ratio (Enterprise metrics endpoint).

Exit status: 0 nothing needs attention, 1 a critical or warning finding, 2 usage error, 130 interrupted."""


DIAGNOSE_EXAMPLE = """examples:
  NEO4J_PASSWORD=… .venv/bin/python scripts/diagnose.py --stack prod
  NEO4J_PASSWORD=… .venv/bin/python scripts/diagnose.py --uri bolt://127.0.0.1:7687 --slow-query 0.5 --json"""


def build_parser():
    p = cli.parser("diagnose", DIAGNOSE_DOC, DIAGNOSE_EXAMPLE)
    cluster_cli.add_target_arguments(p)
    p.add_argument("--slow-query", type=float, metavar="SECONDS",
                   help="report queries and open transactions older than this (default: the stack's "
                        "neo4j:slowQueryThreshold, else 1)")
    p.add_argument("--max-lag", type=float, default=10.0, metavar="SECONDS", help="replication lag allowed "
                                                                                  "(default: 10)")
    p.add_argument("--heap-warn", type=float, default=0.85, metavar="RATIO", help="heap use that is a warning "
                                                                                  "(default: 0.85)")
    p.add_argument("--hit-ratio-warn", type=float, default=0.98, metavar="RATIO",
                   help="page-cache hit ratio below which it is a warning (default: 0.98)")
    p.add_argument("--metrics-port", type=int, metavar="PORT", help="Prometheus port on each server (default: 2004)")
    p.add_argument("--metrics-url", action="append", metavar="[NAME=]URL", help="explicit metrics URL (repeat)")
    p.add_argument("--tls", choices=("disabled", "optional", "required"),
                   help="TLS level of the servers (default: the stack's; optional/required need --ca-cert)")
    p.add_argument("--record", metavar="FILE", help="also write every answer to FILE as a replayable scenario")
    return p


def main(argv: list[str] | None = None, *, transport: Transport | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        target = build_target(args)
        slow = args.slow_query
        if slow is None:
            settings = stack_settings(args.stack, args.stack_file)
            slow = _seconds(settings.slow_query_threshold) if settings else 1.0
        thresholds = Thresholds(slow, args.max_lag, args.heap_warn, args.hit_ratio_warn)
        return cluster_cli.report_on_servers(
            args, target, transport, progress=f"diagnosing {len(target.servers)} server(s) …",
            source=f"scripts/diagnose.py from {len(target.servers)} server(s)",
            run=lambda real: run_diagnosis(target, real, timeout=args.timeout, thresholds=thresholds),
            render=lambda report: render_text(report, target), failed=lambda report: report.attention)

    return cli.run("diagnose", body)


def _seconds(duration: str) -> float:
    match = re.match(r"^(\d+)(ms|s|m|h)$", duration)
    if not match:
        return 1.0
    number, unit = int(match[1]), match[2]
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
