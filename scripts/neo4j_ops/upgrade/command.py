"""scripts/upgrade.py (`make upgrade STACK=… VERSION=… [DRY_RUN=1]`): its help, options and the run.

1. VERSION is a release the program deploys, and the path from what each server runs to it is supported
   (shared/upgrade_paths.py): else one line, exit 2, before anything else is asked.
2. The preflight (preflight.py): a verified backup of every database within neo4j:upgradeMaxBackupAgeHours, every
   database in its requested status, hosting equal to requested hosting, the cluster status check where the line
   has it, discovery v2 for 5.26 → 2025. A failure stops here (exit 1) with every server untouched.
3. The rollout (rollout/run.py, the same one `make rollout` runs) with the target release expected on each server
   after its step; then the full check (checks/run.py, `make check`'s).
--dry-run prints 1 and 2 and the rollout's order, and changes nothing; with --replay SCENARIO.json the cluster and the
bucket are a recorded scenario (tests/fixtures/enterprise/: a stand-in for trying the plan offline, as restore.py's).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.topology import plan_topology

from .. import cli, cluster_cli
from ..bolt import Transport
from ..checks.wait import parse_duration
from ..rollout.gates import gather_all
from ..rollout.run import RolloutReport, rollout
from ..rollout.run import render_text as rollout_text
from ..rollout.stack import AutomationStack, RolloutStack
from ..rollout.version_guard import check_version_change, running_versions
from ..shared.errors import OperationError, UsageError
from ..shared.versions import deployable_line
from ..target import build_target, stack_settings
from .preflight import Preflight, database_names, gather_preflight

UPGRADE_DOC = """Upgrade a running cluster to another Neo4j release: the version guard, a preflight, the rolling
rollout with the new release, then the full check.

Version guard: the release each server reports against VERSION. Supported (Upgrade and Migration Guide): a patch
within a line; a rolling minor upgrade within 5; 5.26 LTS -> any 2025.x or later (discovery v2 first); a calendar
release to a later one. Refused in one line (exit 2): a downgrade; 5.x below 5.26 -> 2025 (first 5.26); 4.4 -> 5 or
2025, a migration (`make migrate FROM=… TO=…`).

Preflight: a verified backup (consistency check passed, restorable) of every database, system too, completed within
neo4j:upgradeMaxBackupAgeHours (default 24); every database's requested status equal to its current one; SHOW
SERVERS hosting equal to requestedHosting (5.x+); CALL dbms.cluster.statusCheck([]) on every primary (5.24+, 2025):
every replication successful, no member UNAVAILABLE; 5.26 -> 2025: dbms.cluster.discovery.version V2_ONLY on every
server. Any failure stops here, every server untouched.

Then the rollout (`make rollout`'s: one server at a time, secondaries first, the leaders last, each gated, each
expected back on VERSION) and `make check`'s checks. The stack file must already name VERSION (neo4j:version), and
`make up` must have run (it holds the servers back): the rollout applies what it held back.

--dry-run prints the guard's path, the preflight and the rollout's order (every server not yet on VERSION), and
changes nothing; it needs no Pulumi CLI.

Exit status: 0 done (or the dry run), 1 the preflight, a step or the check failed, 2 usage or an unsupported version
change, 130 interrupted."""

UPGRADE_EXAMPLE = """examples:
  NEO4J_PASSWORD=… make upgrade STACK=prod VERSION=2025.10.1 DRY_RUN=1
  NEO4J_PASSWORD=… make upgrade STACK=prod VERSION=2025.10.1
  # offline, against the recorded 5.26 cluster (a stand-in, DERIVED from the manual):
  NEO4J_PASSWORD=x .venv/bin/python scripts/upgrade.py --stack prod --version 2025.10.1 --dry-run \\
      --outputs-file tests/fixtures/enterprise/stack-outputs-prod.json --ca-cert CA.pem \\
      --replay tests/fixtures/enterprise/upgrade-5.26-prod.json"""


def build_parser():
    p = cli.Parser(prog="upgrade", description=UPGRADE_DOC.strip(), epilog=UPGRADE_EXAMPLE,
                   formatter_class=argparse.RawDescriptionHelpFormatter, conflict_handler="resolve")
    cluster_cli.add_target_arguments(p)
    p.add_argument("--version", required=True, metavar="X.Y.Z", help="the release to upgrade to, e.g. 2025.10.1")
    p.add_argument("--dry-run", action="store_true",
                   help="print the guard, the preflight and the order; change nothing")
    p.add_argument("--replay", type=Path, metavar="SCENARIO.json",
                   help="with --dry-run: the cluster and the bucket's manifests from a recorded scenario")
    p.add_argument("--timeout", default="20m", metavar="DURATION", dest="step_timeout",
                   help="time limit of each server's step (default: 20m)")
    p.add_argument("--query-timeout", type=float, default=5.0, metavar="SECONDS",
                   help="per connection and per query (default: 5)")
    p.add_argument("--max-lag", type=float, default=10.0, metavar="SECONDS",
                   help="replication lag allowed before and after each step (default: 10)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    return p


@dataclass
class UpgradeReport:
    stack: str
    running: dict[str, str]
    target: str
    paths: list[str]
    preflight: Preflight
    dry_run: bool
    rollout: RolloutReport | None = None
    check: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return (not self.preflight.ok and not self.dry_run) or bool(self.rollout and self.rollout.failed) or \
            bool(self.check is not None and self.check.failed)

    def to_json(self) -> dict:
        return {"stack": self.stack, "running": self.running, "version": self.target, "paths": self.paths,
                "preflight": self.preflight.to_json(), "preflightOk": self.preflight.ok, "dryRun": self.dry_run,
                "rollout": self.rollout.to_json() if self.rollout else None,
                "check": self.check.to_json() if self.check is not None else None, "notes": self.notes,
                "failed": self.failed}


def render_text(report: UpgradeReport) -> str:
    lines = [f"Upgrade of stack {report.stack} to Neo4j {report.target}:"]
    lines += [f"  path: {p}" for p in report.paths]
    lines.append("Preflight:")
    lines.append(cli.table(["check", "status", "detail"],
                           [[f.name, f.status, f.detail] for f in report.preflight.findings]))
    if not report.preflight.ok:
        lines.append("the preflight FAILED: " + ("a real run would stop here, every server untouched" if report.dry_run
                                                 else "stopped before any server; every server untouched"))
    if report.rollout is not None:
        lines.append(rollout_text(report.rollout))
    if report.check is not None:
        lines.append("The full check (make check's) on " + report.target + ":")
        lines.append(cli.table(["check", "status", "detail"],
                               [[r.name + (f" ({r.server})" if r.server else ""), r.status, r.detail]
                                for r in report.check.results]))
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


class _Planned:
    """The dry run's stack: an upgrade changes every server's release, so what is pending is known without Pulumi."""

    def __init__(self, name: str):
        self.name = name

    def pending(self, servers):
        raise UsageError("the dry run names what is pending itself")

    def apply(self, server, log):
        raise UsageError("a dry run applies nothing")


def main(argv: list[str] | None = None, transport: Transport | None = None, stack: RolloutStack | None = None,
         backups: dict | None = None, now: Callable[[], datetime] | None = None) -> int:
    """`backups` (database → backups) and `now` stand in for the bucket and the clock in tests."""
    args = build_parser().parse_args(argv)
    return cli.run("upgrade", lambda: _run(args, transport, stack, backups, now or (lambda: datetime.now(UTC))))


def _replayed(args) -> tuple[dict, dict]:
    from ..backup.layout import Backup, ManifestError, parse_manifest
    from ..recorded import load_scenario

    if not args.dry_run:
        raise UsageError("--replay answers from a recorded scenario: it only goes with --dry-run")
    try:
        recorded = load_scenario(args.replay)
        manifests = [parse_manifest(json.dumps(m)) for m in recorded.get("backups", [])]
    except (OSError, ValueError, ManifestError) as error:
        raise UsageError(f"--replay {args.replay}: {error}") from None
    found: dict[str, list] = {}
    for m in manifests:
        if m.stack == args.stack:
            found.setdefault(m.database, []).append(Backup(m.timestamp, tuple(f.name for f in m.files)
                                                           + ("manifest.json",), m))
    return recorded, found


def _bucket_backups(target, settings, databases: list[str]) -> dict:
    from ..backup.s3 import client, list_backups

    if not target.backup_bucket:
        return {}
    s3 = client(settings.backup_s3_endpoint or None, target.aws_region or settings.region)
    found = {}
    for database in databases:
        found[database] = list_backups(s3, target.backup_bucket, settings.stack, database)
    return found


def _run(args, transport: Transport | None, stack: RolloutStack | None, backups: dict | None,
         now: Callable[[], datetime]) -> int:
    try:
        deployable_line(args.version)
    except ValueError as error:
        raise UsageError(f"--version {args.version}: not a release this program deploys (expected {error})") from None
    try:
        step_timeout = parse_duration(args.step_timeout)
    except UsageError:
        raise UsageError(f"--timeout {args.step_timeout!r}: not a duration; use e.g. 20m, 90s or seconds") from None
    if not args.stack:
        raise UsageError("--stack is needed: the stack file holds neo4j:upgradeMaxBackupAgeHours and the servers")
    settings = stack_settings(args.stack, getattr(args, "stack_file", None))
    if settings is None:
        raise UsageError(f"--stack {args.stack}: no Pulumi.{args.stack}.yaml (or give --stack-file)")
    notes = []
    if settings.version != args.version:
        if not args.dry_run:
            raise UsageError(f"--version {args.version}: Pulumi.{args.stack}.yaml names neo4j:version "
                             f"{settings.version}; set neo4j:version: {args.version} there and run `make up "
                             f"STACK={args.stack}` (it holds the servers back), then `make upgrade` again")
        notes.append(f"Pulumi.{args.stack}.yaml still names neo4j:version {settings.version}: set "
                     f"{args.version} and run `make up STACK={args.stack}` before the real run")
    scenario = None
    if args.replay is not None:
        scenario, backups = _replayed(args)
    args.timeout = args.query_timeout
    target = dataclasses.replace(build_target(args), expect_version=None)
    if scenario is not None:
        from ..recorded import RecordedTransport

        transport = RecordedTransport(scenario, tls=target.tls)
    log = cli.logger("upgrade", args.quiet or args.json)
    with cluster_cli.bolt_transport(transport, target.tls, args.query_timeout) as real:
        facts = gather_all(target, real, args.query_timeout)
        running = running_versions(facts)
        if not running:
            raise OperationError("no server answered with its release (dbms.components()): cannot tell what runs, so "
                                 "no path to " + args.version + " can be judged; every server untouched; "
                                 + "; ".join(f.error.message for f in facts if f.error is not None))
        paths = check_version_change(facts, args.version, key="VERSION")
        databases = database_names(facts)
        if backups is None:
            backups = _bucket_backups(target, settings, databases)
        found = {db: backups.get(db, []) for db in databases}
        preflight = gather_preflight(target, real, facts, paths, found,
                                     max_age_hours=settings.upgrade_max_backup_age_hours, timeout=args.query_timeout,
                                     now=now)
        report = UpgradeReport(args.stack, running, args.version, [str(p) for p in paths], preflight, args.dry_run,
                               notes=notes)
        upgraded = dataclasses.replace(target, expect_version=args.version)
        planned = [s.name for s in plan_topology(settings).servers]
        if args.dry_run:
            pending = {name: [f"Neo4j {version} → {args.version}"] for name, version in running.items()
                       if version != args.version}
            report.rollout = rollout(upgraded, real, _Planned(args.stack), pending=pending, dry_run=True,
                                     timeout=args.query_timeout, max_lag=args.max_lag, planned=planned, log=log)
        elif preflight.ok:
            from ..checks.run import run_checks

            stack = stack or AutomationStack(args.stack, settings.platform)
            report.rollout = rollout(upgraded, real, stack, step_timeout=step_timeout, timeout=args.query_timeout,
                                     max_lag=args.max_lag, planned=planned, log=log)
            if not report.rollout.failed:
                log("every server done; the full check")
                report.check = run_checks(upgraded, real, timeout=args.query_timeout, max_lag=args.max_lag)
    return cli.print_report(report, args.json, render_text, failed=report.failed)


if __name__ == "__main__":
    sys.exit(main())
