"""scripts/check.py: its help, options and main."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable

from .. import cli, cluster_cli
from ..bolt import Transport
from ..target import build_target
from .overview import describe_target, render_text
from .run import run_checks
from .wait import WaitOutcome, parse_duration, wait_until_ready

CHECK_DOC = """Post-deploy checks of a Neo4j cluster over Bolt, servers in parallel.

Checks: every server reachable directly over Bolt, authentication, the expected version;
topology (SHOW SERVERS on 5.x+, dbms.cluster.overview() on 4.4; skipped on a standalone
community server); one writer per database (split brain is reported loudly); replication lag
of every copy under --max-lag; a write through the routing URI lands on the writer and a read
with its bookmark sees it (the probe node is removed); the same through HAProxy; TLS (plain Bolt
refused when required, Bolt over TLS with the cluster CA works); users and roles exist and a
reader cannot write; the Prometheus endpoint (enterprise); the backup bucket is writable.

Prints the cluster overview (server, address, role, database, health, lag), then one line per
check: PASS, FAIL or SKIP and why. Exit status: 0 everything that ran passed, 1 a check failed,
2 usage error (including: --stack without the pulumi CLI), 130 interrupted.

With --wait DURATION (e.g. 20m, as the deploy workflow runs it after `pulumi up`) it first waits
until every server answers and the cluster has formed, printing one line per server on standard
error whenever its state changes; when the time is up it names what is still missing and exits 1.
A name that does not resolve is said plainly: the machine running check must resolve the
cluster's private zone (the zone associated with its VPC, or a Route 53 Resolver endpoint)."""


CHECK_EXAMPLE = """examples:
  NEO4J_PASSWORD=… python scripts/check.py --stack prod
  NEO4J_PASSWORD=… python scripts/check.py --stack prod --wait 20m
  NEO4J_PASSWORD=… python scripts/check.py --uri bolt://127.0.0.1:7687 --expect-version 5.26.30
  NEO4J_PASSWORD=… python scripts/check.py --uri neo4j://10.40.1.10:7687 \\
      --servers core-1:primary=10.40.1.10:7687,core-2:primary=10.40.2.10:7687,core-3:primary=10.40.3.10:7687 \\
      --haproxy-uri bolt://10.40.1.5:7687 --tls required --ca-cert ca.crt --json"""


def build_parser():
    p = cli.parser("check", CHECK_DOC, CHECK_EXAMPLE)
    cluster_cli.add_target_arguments(p)
    expect = p.add_argument_group("expectations (default: from the stack config)")
    expect.add_argument("--expect-version", metavar="X.Y.Z", help="Neo4j version every server must run "
                                                                  "(a prefix such as 5.26 is accepted)")
    expect.add_argument("--expect-edition", choices=("community", "enterprise"))
    expect.add_argument("--tls", choices=("disabled", "optional", "required"),
                        help="TLS level the servers must enforce (optional/required need --ca-cert)")
    expect.add_argument("--max-lag", type=float, default=10.0, metavar="SECONDS",
                        help="replication lag allowed for every copy (default: 10)")
    expect.add_argument("--composites", action="store_true",
                        help="also probe each composite database of neo4j:composites through every alias "
                             "(USE composite.alias RETURN 1): FAIL names the composite or alias target that does not "
                             "answer (make databases creates them)")
    expect.add_argument("--expect-user", action="append", metavar="NAME", help="a user that must exist (repeat)")
    expect.add_argument("--expect-plugin", action="append", metavar="KEY[@SERVER,...]",
                        help="a plugin whose version procedure must answer (apoc.version(), gds.version()), on the "
                             "servers named or every server (repeat; default: the stack's neo4j:plugins)")
    expect.add_argument("--reader-user", metavar="NAME", help="user with only the reader role: must not be able "
                                                              "to write (default: the first such configured user)")
    expect.add_argument("--user-passwords-file", metavar="FILE", help="JSON object user → password (for the "
                                                                      "reader probe)")
    expect.add_argument("--user-passwords-env", default="NEO4J_USER_PASSWORDS", metavar="VAR",
                        help="environment variable with that JSON object (default: NEO4J_USER_PASSWORDS)")
    more = p.add_argument_group("more endpoints")
    more.add_argument("--haproxy-uri", metavar="URI", help="HAProxy's write frontend, e.g. bolt://10.40.1.5:7687")
    more.add_argument("--haproxy-read-uri", metavar="URI", help="HAProxy's read frontend (default: the write one)")
    more.add_argument("--metrics-port", type=int, metavar="PORT", help="Prometheus port on each server "
                                                                       "(default: 2004)")
    more.add_argument("--metrics-url", action="append", metavar="[NAME=]URL", help="explicit metrics URL (repeat)")
    more.add_argument("--backup-bucket", metavar="NAME", help="S3 bucket the backups go to: must be writable")
    more.add_argument("--aws-region", metavar="REGION", help="region of the backup bucket")
    p.add_argument("--wait", metavar="DURATION", help="first wait up to DURATION (20m, 90s, 1h) until every server "
                                                      "answers and the cluster has formed")
    p.add_argument("--record", metavar="FILE", help="also write every answer to FILE as a replayable scenario "
                                                    "(how tests/fixtures/enterprise/ is refreshed from a live cluster)")
    return p


def main(argv: list[str] | None = None, *, transport: Transport | None = None,
         sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        within = parse_duration(args.wait) if args.wait else None
        target = build_target(args)
        waited: list[WaitOutcome] = []

        def run(real: Transport):
            if within is not None:
                log = cli.logger("check", False)
                log(f"waiting up to {args.wait} until all {len(target.servers)} servers answer and the cluster "
                    f"has formed")
                outcome = wait_until_ready(target, real, within=within, timeout=args.timeout, log=log,
                                           sleep=sleep, clock=clock)
                waited.append(outcome)
                if outcome.ready:
                    log(f"ready after {outcome.seconds:.0f} s ({outcome.rounds} rounds); running the checks")
                else:
                    print(f"check: NOT READY after {outcome.seconds:.0f} s (--wait {args.wait}): still missing: "
                          + "; ".join(outcome.missing),
                          file=sys.stderr, flush=True)
            return run_checks(target, real, timeout=args.timeout, max_lag=args.max_lag)

        code = cluster_cli.report_on_servers(
            args, target, transport, progress=describe_target(target) + " …",
            source=f"scripts/check.py from {describe_target(target)}", run=run,
            render=lambda report: render_text(report, target), failed=lambda report: not report.ok)
        if waited and not waited[0].ready:
            return cli.EXIT_FAILED
        return code

    return cli.run("check", body)
