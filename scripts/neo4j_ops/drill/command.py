"""scripts/drill.py: its help, options and main."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import cli, cluster_cli
from ..backup import failover_drills
from ..bolt import Transport
from ..rollout.gates import gather_all
from ..shared.errors import OperationError, UsageError, describe
from ..target import build_target, stack_settings
from .plan import Thresholds, choose, fault_tolerance, refusal
from .run import DEFAULT_DOWN, DEFAULT_RATE, DrillReport, drill, render_text, retry_seconds
from .stopper import DockerStopper, ServerStopper, SsmStopper

DRILL_DOC = """Failover drill: stop the server that leads `system` and the default database while a steady write load
goes through the entry point, and measure what the failover costs.

The leader is read from SHOW DATABASES (the writer of system and of the default database; when they differ, the
default database's leader is stopped and the report says so; --server names another). It is stopped by
`systemctl stop neo4j` through AWS Systems Manager on an aws stack, by `docker stop neo4j-<stack>-<server>` on a
docker stack. Meanwhile a client writes --rate small writes a second to the default database through the stack's
entry point (HAProxy, else the routing URI), retrying each failed write as a driver would. After --down seconds
more the server is started again, and the drill waits until it is back (answering, a member, hosting its
databases, caught up) and holds every write the load saw acknowledged.

Reported: the stop's time; the time from the stop until a new leader acknowledged a write; how long writes
failed; writes made, acknowledged, retried and lost, and failed attempts; the time from the start until the
stopped server was back and caught up. Over neo4j:drillMaxWriteOutageSeconds, drillMaxLostWrites or
drillMaxRecoverySeconds of the stack, the drill fails (exit 1). The record goes to the stack's backup bucket
(<stack>/failover-drills/), where the backup server's freshness check publishes it for
Neo4jFailoverDrillTooOld (neo4j:failoverDrillMaxAgeDays); --textfile-dir writes the metrics too.

Refused before anything is stopped (exit 2): a cluster with fault tolerance 0 (fewer than 3 primaries, or
Community: that is an outage, not a failover), and a production stack (prod, prod-…) without --yes. --dry-run
prints what would be stopped, how, and the load, and stops nothing. Whatever happens once the server is stopped
(an error, Ctrl-C), it is started again before the drill ends.

Exit status: 0 passed (or the dry run), 1 a figure over its threshold or the drill failed, 2 usage, config or a
refusal, 130 interrupted (after the server was started again)."""

DRILL_EXAMPLE = """examples:
  NEO4J_PASSWORD=… make drill STACK=local
  NEO4J_PASSWORD=… make drill STACK=prod DRY_RUN=1
  NEO4J_PASSWORD=… make drill STACK=prod YES=1
  NEO4J_PASSWORD=… .venv/bin/python scripts/drill.py --stack prod --dry-run
  NEO4J_PASSWORD=… .venv/bin/python scripts/drill.py --stack dev --rate 10 --down 30 --json"""


def build_parser():
    p = cli.Parser(prog="drill", description=DRILL_DOC.strip(), epilog=DRILL_EXAMPLE,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    cluster_cli.add_target_arguments(p)
    p.add_argument("--yes", action="store_true", help="run on a production stack (prod, prod-…)")
    p.add_argument("--dry-run", action="store_true", help="print what would be stopped, how, and the load; "
                                                          "stop nothing")
    p.add_argument("--server", metavar="NAME", help="stop this server instead of the leader of system and the "
                                                    "default database")
    p.add_argument("--rate", type=float, default=DEFAULT_RATE, metavar="PER_SECOND",
                   help=f"writes a second through the entry point (default: {DEFAULT_RATE:g})")
    p.add_argument("--down", type=float, default=DEFAULT_DOWN, metavar="SECONDS",
                   help=f"how long the server stays stopped after a new leader accepted writes "
                        f"(default: {DEFAULT_DOWN:g})")
    p.add_argument("--retry-for", type=float, metavar="SECONDS",
                   help="how long the load retries one write before it counts as lost, as an application's retry "
                        "budget (default: 30, a driver's max_transaction_retry_time, or "
                        "neo4j:drillMaxWriteOutageSeconds when longer)")
    p.add_argument("--max-lag", type=float, default=10.0, metavar="SECONDS",
                   help="replication lag allowed once the server is back (default: 10)")
    p.add_argument("--bucket", help="where the drill's record goes (default: the stack output backupBucket)")
    p.add_argument("--textfile-dir", type=Path, metavar="DIR",
                   help="also write this run's metrics for a node exporter's textfile collector here (this run "
                        "only: after a failed run the last-success time there is 0; the bucket keeps the history)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    return p


def main(argv: list[str] | None = None, transport: Transport | None = None, stopper: ServerStopper | None = None,
         s3: Any = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run("drill", lambda: _run(args, transport, stopper, s3))


def make_stopper(settings) -> ServerStopper:
    """The platform's way of stopping a server: SSM on aws, the Docker CLI on docker."""
    if settings is None:
        raise UsageError("--stack is needed: the stack's platform says how a server is stopped (SSM or docker)")
    if settings.platform == "docker":
        return DockerStopper(settings.stack)
    import boto3

    from ..backup.remote import SsmShell

    return SsmStopper(SsmShell(boto3.client("ssm", region_name=settings.region),
                               boto3.client("ec2", region_name=settings.region), settings.stack))


def _run(args, transport: Transport | None, stopper: ServerStopper | None, s3: Any) -> int:
    if args.rate <= 0 or args.down < 0 or args.max_lag < 0 or (args.retry_for is not None and args.retry_for <= 0):
        raise UsageError("--rate and --retry-for must be > 0, --down and --max-lag >= 0")
    settings = stack_settings(args.stack, args.stack_file) if args.stack else None
    thresholds = Thresholds.from_settings(settings) if settings is not None else Thresholds()
    target = build_target(args)
    entry = target.haproxy_uri or target.routing_uri
    if not entry:
        raise UsageError("no entry point: the stack has no haproxyUri or routingUri output (give --uri)")
    log = cli.logger("drill", args.quiet or args.json)
    stack = args.stack or "(no stack)"
    with cluster_cli.bolt_transport(transport, target.tls, args.timeout) as real:
        facts = gather_all(target, real, args.timeout)
        ft = fault_tolerance(target, facts, target.database)
        refused = refusal(stack=args.stack, fault_tolerance=ft, yes=args.yes, dry_run=args.dry_run)
        if refused:
            raise UsageError(refused)
        try:
            plan = choose(target, facts, database=target.database, entry_uri=entry, ft=ft, server=args.server)
        except ValueError as error:
            raise (UsageError if args.server else OperationError)(str(error)) from None
        if stopper is None:
            stopper = make_stopper(settings)
        if args.dry_run:
            report = DrillReport(stack, plan, stopper.describe(plan.server), args.rate, True, thresholds,
                                 retry_for=args.retry_for or retry_seconds(thresholds))
            return cli.print_report(report, args.json, render_text)
        report = drill(target, real, stopper, plan, thresholds, stack=stack, rate=args.rate, down=args.down,
                       timeout=args.timeout, max_lag=args.max_lag, log=log, retry_for=args.retry_for)
    if report.figures is not None:
        report.published = publish(report, args.bucket or target.backup_bucket, args.textfile_dir, s3,
                                   getattr(settings, "region", None), getattr(settings, "backup_s3_endpoint", ""))
    return cli.print_report(report, args.json, render_text, failed=report.failed)


def publish(report: DrillReport, bucket: str | None, textfile_dir: Path | None, s3: Any, region: str | None,
            endpoint: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    """The record into the bucket, the metrics into the textfile directory; where they went, in words (a failure to
    publish is said, not raised: the drill's figures stand)."""
    from dataclasses import asdict

    document = failover_drills.record(stack=report.stack, server=report.plan.server, passed=not report.failed,
                                      finished=now(), figures=asdict(report.figures), exceeded=report.exceeded)
    said = []
    if bucket:
        try:
            if s3 is None:
                from ..backup.s3 import client

                s3 = client(endpoint or None, region)
            said.append(f"recorded in s3://{bucket}/{failover_drills.put_record(s3, bucket, document)}")
        except OperationError as error:
            said.append(f"NOT recorded: {describe(error)}")
    else:
        said.append("not recorded: the stack has no backup bucket (Neo4jFailoverDrillTooOld reads the bucket)")
    if textfile_dir is not None:
        from ..backup.freshness import write_atomically

        passed = document if document["result"] == failover_drills.PASSED else None
        try:
            path = write_atomically(textfile_dir, failover_drills.METRICS_FILE,
                                    failover_drills.metrics(report.stack, document, passed))
            said.append(f"metrics in {path}")
        except OSError as error:
            said.append(f"metrics NOT written to {textfile_dir}: {error.strerror or error}")
    return "; ".join(said)


if __name__ == "__main__":
    sys.exit(main())
