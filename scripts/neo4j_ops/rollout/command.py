"""scripts/rollout.py: its help, options and main."""
from __future__ import annotations

import argparse
import sys

from components.topology import plan_topology

from .. import cli, cluster_cli
from ..bolt import Transport
from ..checks.wait import parse_duration
from ..shared.errors import UsageError
from ..target import build_target, stack_settings
from .entry import PAIR, Elbv2TargetHealth, TargetHealth
from .run import render_text, rollout
from .stack import AutomationStack, RolloutStack

ROLLOUT_DOC = """Rolling rollout: apply what `pulumi up` holds back on running Neo4j servers (image, user data,
instance type, subnet), one server at a time, through Pulumi's Automation API.

Order: secondaries first, then primaries that lead no database, the leader(s) last, the one leading the most
databases at the end (roles from SHOW DATABASES on 5.x/2025, from CALL dbms.cluster.overview() on 4.4); it is
computed again before each step. Before a primary that leads a standard database stops (Enterprise), the
database is made read-only on it (CALL dbms.setConfigValue; "Neo4j automatically transfers database
leaderships away from instances where those databases are configured to be read-only", Operations Manual) and
the rollout waits until SHOW DATABASES names another writer (--transfer-timeout), else stops with the list set
back; system's leadership (it cannot be read-only) goes by the election after the stop.
Before each step the cluster must be healthy (the checks of scripts/check.py: every server answers and is
Enabled and Available, databases in their requested state, one writer per database, replication lag
under --max-lag); before a primary stops, on 5.24+ and 2025 Enterprise, CALL dbms.cluster.statusCheck([]) on
every primary must report every replication successful and no member UNAVAILABLE. The step is one `pulumi up`
targeted at that server's instance, data-volume attachment and DNS record (a container on Docker) with
neo4j:rolloutRelease naming it, so its held-back changes apply and nothing else changes. After it the server
must be back within --timeout: answering, Enabled in a formed cluster, hosting every database it hosted
before, caught up; one progress line per change.

On AWS stacks the HAProxy pair follows the servers: haproxy-1, then haproxy-2, each one `pulumi up`
targeted at its instance, NLB target group attachments and DNS record. A node's step starts only while
the other node is healthy in every NLB target group, and is done when its own targets are healthy again
(elbv2 describe-target-health, the operator's AWS credentials), so the pair never has both nodes out.
A Docker stack has one HAProxy container: the rollout leaves it out and says so.

The first failure stops the rollout: the servers not yet done are left untouched, and the last line says
how to resume. Running it again is safe: a server with nothing pending is skipped. --dry-run prints the
order and why, and whether the cluster is healthy enough to start, and changes nothing.

Before anything (Pulumi is not asked either), the version guard: the release each server reports against the
stack's neo4j:version. A change outside the supported paths (a patch; 5.26 -> 2025.x; a calendar release to a
later one; never a downgrade; 4.4 -> 5 only by migration) is refused in one line naming the path.

Exit status: 0 done (or nothing pending, or the dry run), 1 a step or a gate failed, 2 usage error
(including: --stack without the pulumi CLI, an unsupported version change), 130 interrupted (the step under way
finishes in Pulumi's hands; run `make rollout` again to continue)."""

ROLLOUT_EXAMPLE = """examples:
  NEO4J_PASSWORD=… make rollout STACK=prod
  NEO4J_PASSWORD=… .venv/bin/python scripts/rollout.py --stack prod --dry-run
  NEO4J_PASSWORD=… .venv/bin/python scripts/rollout.py --stack prod --from core-2 --timeout 30m
  NEO4J_PASSWORD=… make rollout STACK=prod FROM=haproxy-2      # only the second HAProxy node
  NEO4J_PASSWORD=… .venv/bin/python scripts/rollout.py --outputs-file outputs.json --stack-file Pulumi.prod.yaml \\
      --dry-run --pending core-1,core-2,replica-1"""


def build_parser():
    # check's --timeout (per query) is --query-timeout here: --timeout is each server's time limit, and
    # "resolve" lets it replace the one add_target_arguments adds.
    p = cli.Parser(prog="rollout", description=ROLLOUT_DOC.strip(), epilog=ROLLOUT_EXAMPLE,
                   formatter_class=argparse.RawDescriptionHelpFormatter, conflict_handler="resolve")
    cluster_cli.add_target_arguments(p)
    p.add_argument("--timeout", default="20m", metavar="DURATION", dest="step_timeout",
                   help="time limit of each server's step, from `pulumi up` until it is back and caught up "
                        "(e.g. 20m, 90s; default: 20m)")
    p.add_argument("--query-timeout", type=float, default=5.0, metavar="SECONDS",
                   help="per connection and per query (default: 5)")
    p.add_argument("--max-lag", type=float, default=10.0, metavar="SECONDS",
                   help="replication lag allowed for every copy, before and after each step (default: 10)")
    p.add_argument("--transfer-timeout", default="60s", metavar="DURATION",
                   help="how long a leader's databases may take to move their leadership to another primary before "
                        "its step (Enterprise; e.g. 60s, 2m; default: 60s); past it the rollout stops before "
                        "touching that server")
    p.add_argument("--dry-run", action="store_true", help="print the order and why; change nothing")
    p.add_argument("--from", dest="start_from", metavar="SERVER",
                   help="start at this server: the servers ordered before it are left alone this run")
    p.add_argument("--pending", metavar="SERVERS",
                   help="comma-separated servers to treat as pending instead of asking a Pulumi preview "
                        "(with --dry-run, no Pulumi CLI is needed)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    return p


class _NoStack:
    """--dry-run --pending without --stack: nothing to ask Pulumi, nothing to apply."""
    name = "(no stack)"

    def pending(self, servers):
        raise UsageError("--pending or --stack is needed to know what is pending")

    def apply(self, server, log):
        raise UsageError("applying needs --stack")


def main(argv: list[str] | None = None, transport: Transport | None = None, stack: RolloutStack | None = None,
         entry_health: TargetHealth | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run("rollout", lambda: _run(args, transport, stack, entry_health))


def entry_point(settings) -> tuple[tuple[str, ...], str | None]:
    """(the HAProxy nodes the rollout steps, a note when the stack's HAProxy is left out)."""
    if settings is None:
        return (), None
    nodes = tuple(n.name for n in plan_topology(settings).haproxy_nodes)
    if settings.platform == "aws" and nodes == PAIR:
        return nodes, None
    if nodes:
        return (), (f"HAProxy ({', '.join(nodes)}): left out. The {settings.platform} stack has a single HAProxy, "
                    f"and replacing it cuts every client off whatever the order; `make up` changes it")
    return (), None


def _run(args, transport: Transport | None, stack: RolloutStack | None, entry_health: TargetHealth | None) -> int:
    try:
        step_timeout = parse_duration(args.step_timeout)
    except UsageError:  # its words name check's --wait
        raise UsageError(f"--timeout {args.step_timeout!r}: not a duration; use e.g. 20m, 90s, 1h30m or seconds") \
            from None
    if step_timeout <= 0:
        raise UsageError(f"--timeout {args.step_timeout!r}: must be more than 0")
    try:
        transfer_timeout = parse_duration(args.transfer_timeout)
    except UsageError:
        raise UsageError(f"--transfer-timeout {args.transfer_timeout!r}: not a duration; use e.g. 60s, 2m or "
                         f"seconds") from None
    if transfer_timeout <= 0:
        raise UsageError(f"--transfer-timeout {args.transfer_timeout!r}: must be more than 0")
    if args.query_timeout <= 0 or args.max_lag < 0:
        raise UsageError("--query-timeout must be > 0 and --max-lag >= 0")
    pending, planned = None, None
    if args.pending is not None:
        names = [n.strip() for n in args.pending.split(",") if n.strip()]
        pending = {n: ["named by --pending"] for n in names}
    settings = stack_settings(args.stack, getattr(args, "stack_file", None)) if args.stack else None
    if settings is not None:
        planned = [s.name for s in plan_topology(settings).servers]
    entry_nodes, entry_note = entry_point(settings)
    if entry_nodes and entry_health is None and not args.dry_run:
        entry_health = Elbv2TargetHealth(settings.region)
    if stack is None:
        if args.stack:
            if pending is not None and args.dry_run:
                stack = _NoStack()
                stack.name = args.stack
            else:
                stack = AutomationStack(args.stack, settings.platform if settings else "aws")
        elif args.dry_run and pending is not None:
            stack = _NoStack()
        else:
            raise UsageError("--stack is needed to apply anything (or give --dry-run with --pending SERVERS)")
    args.timeout = args.query_timeout
    target = build_target(args)
    log = cli.logger("rollout", args.quiet or args.json)
    with cluster_cli.bolt_transport(transport, target.tls, args.query_timeout) as real:
        report = rollout(target, real, stack, pending=pending, start_from=args.start_from, dry_run=args.dry_run,
                         step_timeout=step_timeout, timeout=args.query_timeout, max_lag=args.max_lag,
                         transfer_timeout=transfer_timeout, planned=planned, entry_nodes=entry_nodes,
                         entry_health=entry_health, entry_point=entry_note, log=log)
    return cli.print_report(report, args.json, render_text, failed=report.failed)


if __name__ == "__main__":
    sys.exit(main())
