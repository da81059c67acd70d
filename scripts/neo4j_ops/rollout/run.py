"""The rollout loop: `rollout(target, transport, stack, ...)` → RolloutReport.

1. What is pending: the stack's preview (stack.py), or the names given (--pending).
2. The cluster's health and view (gates.py, order.py): the order of the steps, printed with --dry-run.
3. Per step, one server at a time: the cluster must be healthy (else stop before touching it); the order
   is computed again from that moment's view (a leader may have moved), and the first pending server of
   it goes; `apply` (one targeted `pulumi up` with that server released); then the after-gate waits until
   it is back, Enabled, hosting its databases and caught up, within the time limit.
4. Then, on AWS stacks, the HAProxy pair (entry.py): haproxy-1, then haproxy-2, each a targeted `up` of
   that node, started only while the other node is healthy in the NLB, done when its own NLB targets are
   healthy again; so the pair never has both nodes out. (Docker stacks have one HAProxy: left out, said so.)
5. The first failure stops the run: the servers not yet done are left untouched, and the report says how
   to resume. A re-run is idempotent: a server whose changes were applied has nothing pending and is
   skipped, so resuming is running the same command again (FROM only makes the starting point explicit).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from .. import cli
from ..bolt import BoltError, Transport
from ..shared.errors import OpsError, UsageError, describe
from ..target import Target
from . import leadership, status_check
from .entry import TargetHealth, node_health, other, step_reason, wait_for_node
from .gates import cluster_health, gather_all, hosted_databases, wait_for_server
from .order import Step, order, view_from_facts
from .stack import RolloutStack
from .version_guard import check_version_change

PLANNED, DONE, SKIPPED, FAILED, NOT_STARTED = "planned", "done", "skipped", "FAILED", "not started"


@dataclass
class StepRecord:
    server: str
    reason: str
    status: str
    detail: str = ""
    apply_seconds: float | None = None
    gate_seconds: float | None = None


@dataclass
class RolloutReport:
    stack: str
    dry_run: bool
    source: str  # where the roles were read
    steps: list[StepRecord] = field(default_factory=list)
    nothing_pending: list[str] = field(default_factory=list)
    health_problems: list[str] = field(default_factory=list)  # before the first step
    resume: str | None = None
    seconds: float = 0.0
    server_set: str | None = None  # the stack plans other servers than run: `make scale` changes that
    entry_point: str | None = None  # what the rollout does with the stack's HAProxy, when it is left out

    @property
    def failed(self) -> bool:
        return any(s.status == FAILED for s in self.steps)

    def to_json(self) -> dict:
        return {"stack": self.stack, "dryRun": self.dry_run, "rolesFrom": self.source,
                "steps": [asdict(s) for s in self.steps], "nothingPending": self.nothing_pending,
                "healthProblems": self.health_problems, "resume": self.resume, "failed": self.failed,
                "serverSet": self.server_set, "entryPoint": self.entry_point,
                "seconds": round(self.seconds, 1)}


def resume_command(stack: str, server: str) -> str:
    return f"make rollout STACK={stack} FROM={server}"


def render_text(report: RolloutReport) -> str:
    rows = []
    for index, step in enumerate(report.steps, 1):
        took = "" if step.apply_seconds is None else \
            f"{step.apply_seconds + (step.gate_seconds or 0):.0f} s"
        rows.append([str(index), step.server, step.status, took, step.detail or step.reason])
    lines = []
    if rows:
        title = "Rollout order" if report.dry_run else "Rollout"
        lines += [f"{title} of stack {report.stack} (roles from {report.source}):",
                  cli.table(["step", "server", "status", "took", "why / what happened"], rows)]
    else:
        lines.append(f"Stack {report.stack}: nothing pending on any server; nothing to roll out.")
    if report.nothing_pending and rows:
        lines.append(f"nothing pending (left alone): {', '.join(report.nothing_pending)}")
    if report.health_problems:
        lines.append("the cluster is NOT healthy now: " + "; ".join(report.health_problems))
        if report.dry_run:
            lines.append("a real run would stop before the first step")
    if report.server_set:
        lines.append(report.server_set)
    if report.entry_point:
        lines.append(report.entry_point)
    if report.resume:
        lines.append(f"resume with: {report.resume}")
    return "\n".join(lines)


def server_set_note(stack: str, running: list[str], planned: list[str] | None) -> str | None:
    """When the stack plans other servers than those running: which, and that scaling is its own command
    (scripts/scale.py runs the Cypher that adds or removes servers safely; a rollout step only replaces)."""
    if planned is None:
        return None
    new, gone = [n for n in planned if n not in running], [n for n in running if n not in planned]
    parts = []
    if new:
        parts.append(f"the stack plans {', '.join(new)}, not running yet")
    if gone:
        parts.append(f"runs {', '.join(gone)}, which the stack no longer plans")
    if not parts:
        return None
    return (f"server set: {'; '.join(parts)}. The rollout only replaces running servers: machines come and go "
            f"with `make up`, and `make scale STACK={stack}` moves the databases onto or off them "
            f"(scripts/scale.py --help)")


def rollout(target: Target, transport: Transport, stack: RolloutStack, *, pending: dict[str, list[str]] | None = None,
            start_from: str | None = None, dry_run: bool = False, step_timeout: float = 1200.0,
            timeout: float = 5.0, max_lag: float = 10.0, transfer_timeout: float = 60.0,
            planned: list[str] | None = None,
            entry_nodes: tuple[str, ...] = (), entry_health: TargetHealth | None = None,
            entry_point: str | None = None, log: Callable[[str], None] = lambda _m: None,
            sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) \
        -> RolloutReport:
    start = clock()
    names = [s.name for s in target.servers]
    entry_nodes = tuple(entry_nodes)
    everything = names + list(entry_nodes)
    if start_from is not None and start_from not in everything:
        raise UsageError(f"--from {start_from}: no such server (servers: {', '.join(everything)})")
    if target.expect_version:  # the version guard: before Pulumi is asked anything (version_guard.py)
        check_version_change(gather_all(target, transport, timeout), target.expect_version)
    if pending is None:
        log("asking Pulumi what is pending on each server (a preview with every server released)")
        pending = stack.pending(everything)
    unknown = sorted(set(pending) - set(everything))
    if unknown:
        raise UsageError(f"--pending: {', '.join(unknown)} is no server of the cluster "
                         f"(servers: {', '.join(everything)})")
    pending_names = [n for n in names if pending.get(n)]
    entry_pending = [n for n in entry_nodes if pending.get(n)]

    health = cluster_health(target, transport, timeout=timeout, max_lag=max_lag)
    view = view_from_facts(target, health.facts)
    report = RolloutReport(stack.name, dry_run, view.source,
                           nothing_pending=[n for n in everything if n not in pending_names + entry_pending],
                           health_problems=list(health.problems),
                           server_set=server_set_note(stack.name, names, planned), entry_point=entry_point)
    # The HAProxy nodes go after every Neo4j server, haproxy-1 first (entry.py says why).
    full = [s.server for s in order(view, names)] + list(entry_nodes)
    skip_before = set()
    if start_from is not None:
        skip_before = set(full[:full.index(start_from)])
    entry_steps = [Step(n, 3, step_reason(n)) for n in entry_pending]
    steps: list[Step] = [s for s in order(view, pending_names)] + entry_steps
    for step in steps:
        if step.server in skip_before:
            report.steps.append(StepRecord(step.server, step.reason, SKIPPED, f"before --from {start_from}: "
                                                                              f"left alone this run"))
    remaining = [s.server for s in steps if s.server not in skip_before and s.server not in entry_nodes]
    entry_remaining = [s.server for s in entry_steps if s.server not in skip_before]
    if dry_run or not (remaining or entry_remaining):
        for step in steps:
            if step.server in entry_remaining:
                changes = "; ".join(pending.get(step.server) or [])
                report.steps.append(StepRecord(step.server, step.reason, PLANNED,
                                               f"{step.reason} — pending: {changes}" if changes else step.reason))
            if step.server in remaining:
                changes = "; ".join(pending.get(step.server) or [])
                reason = step.reason
                if leadership.applies(health.facts):  # what happens to its leaderships (leadership.py)
                    moves = leadership.plan(target, health.facts, step.server)
                    if moves.movable or moves.left:
                        reason += f"; {moves.describe()}"
                report.steps.append(StepRecord(step.server, step.reason, PLANNED,
                                               f"{reason} — pending: {changes}" if changes else reason))
        report.seconds = clock() - start
        return report

    total = len(remaining) + len(entry_remaining)
    done = 0
    while remaining:
        if done:
            health = cluster_health(target, transport, timeout=timeout, max_lag=max_lag)
        step = order(view_from_facts(target, health.facts), remaining)[0]
        if not health.healthy:
            report.steps.append(StepRecord(step.server, step.reason, FAILED,
                                           "not started: the cluster is not healthy: " + "; ".join(health.problems)))
            report.resume = resume_command(stack.name, step.server)
            break
        spec = target.server_named(step.server)
        if spec is not None and (spec.role or "primary") == "primary" and status_check.applies(health.facts):
            # the cluster's own replication health before a primary stops (status_check.py; 5.24+, 2025)
            found, _rows = status_check.problems(status_check.ask(target, transport, health.facts, timeout))
            if found:
                report.steps.append(StepRecord(step.server, step.reason, FAILED,
                                               "not started: dbms.cluster.statusCheck: " + "; ".join(found)))
                report.resume = resume_command(stack.name, step.server)
                break
        transfer, moved_note = None, ""
        if leadership.applies(health.facts):
            # the leaderships it holds move away before it stops, where the line can (leadership.py)
            moves = leadership.plan(target, health.facts, step.server)
            if moves.movable:
                log(f"{step.server}: leads {', '.join(moves.movable)}: moving the leadership away first "
                    f"(at most {transfer_timeout:.0f} s)")
                try:
                    transfer = leadership.start(target, transport, health.facts, moves, timeout)
                    left, after, moved = leadership.wait_moved(target, transport, transfer, within=transfer_timeout,
                                                               timeout=timeout, log=log, sleep=sleep, clock=clock)
                except BoltError as error:
                    left, after, moved = list(moves.movable), health.facts, ""
                    moved_note = f": {describe(error)}"
                if left:
                    undone = (leadership.restore(target, transport, after, transfer, timeout) if transfer else
                              None) or "nothing was changed"
                    report.steps.append(StepRecord(
                        step.server, step.reason, FAILED,
                        f"not started: the leadership of {', '.join(left)} did not move away within "
                        f"{transfer_timeout:.0f} s{moved_note}; {undone}"))
                    report.resume = resume_command(stack.name, step.server)
                    break
                health.facts = after  # the view with the new leaders (what the step hosts is unchanged)
                moved_note = moves.describe(moved)
            elif moves.left:
                moved_note = moves.describe()
        remaining.remove(step.server)
        log(f"{step.server} [{done + 1}/{total}]: {step.reason}; applying what is pending "
            f"({'; '.join(pending.get(step.server) or [])}) with a targeted pulumi up")
        record = StepRecord(step.server, step.reason, DONE)
        report.steps.append(record)
        hosted = hosted_databases(target, health.facts, step.server)
        began = clock()
        try:
            stack.apply(step.server, log)
        except OpsError as error:
            record.status, record.detail = FAILED, f"pulumi up failed: {describe(error)}"
            undone = leadership.restore(target, transport, health.facts, transfer, timeout) \
                if transfer is not None else None
            record.detail += f"; {undone}" if undone else ""
            record.apply_seconds = clock() - began
            report.resume = resume_command(stack.name, step.server)
            break
        record.apply_seconds = clock() - began
        log(f"{step.server}: applied in {record.apply_seconds:.0f} s; waiting for it to be back "
            f"(at most {step_timeout:.0f} s)")
        gate = wait_for_server(target, transport, step.server, hosted, within=step_timeout, timeout=timeout,
                               max_lag=max_lag, log=log, sleep=sleep, clock=clock)
        record.gate_seconds = gate.seconds
        undone = ""
        if transfer is not None:  # a step that did not restart the server leaves the rollout's read-only list
            words = leadership.restore(target, transport, health.facts, transfer, timeout)
            undone = f"; {words}" if words else ""
        if not gate.ok:
            record.status = FAILED
            record.detail = f"applied, but not back within {step_timeout:.0f} s: {gate.state}{undone}"
            report.resume = resume_command(stack.name, step.server) + \
                f"   (once {step.server} is back: .venv/bin/python scripts/check.py --stack {stack.name})"
            break
        record.detail = f"{gate.state} in {gate.seconds:.0f} s" + (f"; {moved_note}" if moved_note else "") + undone
        log(f"{step.server}: done ({record.apply_seconds + gate.seconds:.0f} s)")
        done += 1
    if not report.failed and not remaining:
        done = _entry_steps(report, stack, entry_health, entry_remaining, pending, done, total,
                            step_timeout=step_timeout, log=log, sleep=sleep, clock=clock)
    for server in remaining + entry_remaining:
        if server not in {s.server for s in report.steps}:
            reason = next(s.reason for s in steps if s.server == server)
            report.steps.append(StepRecord(server, reason, NOT_STARTED, "left untouched"))
    report.seconds = clock() - start
    return report


def _entry_steps(report: RolloutReport, stack: RolloutStack, health: TargetHealth | None, nodes: list[str],
                 pending: dict[str, list[str]], done: int, total: int, *, step_timeout: float,
                 log: Callable[[str], None], sleep: Callable[[float], None], clock: Callable[[], float]) -> int:
    """The HAProxy nodes, one at a time; `nodes` loses each node as it starts. Stops at the first failure."""
    if nodes and health is None:
        raise UsageError("the HAProxy steps need the NLB's target health (boto3 elbv2); none was given")
    while nodes:
        node = nodes.pop(0)
        record = StepRecord(node, step_reason(node), DONE)
        report.steps.append(record)
        try:
            ok, state = node_health(health, stack.entry_targets(other(node)))
        except OpsError as error:
            ok, state = False, describe(error)
        if not ok:
            record.status = FAILED
            record.detail = f"not started: {other(node)} is not healthy in the NLB ({state}): replacing {node} " \
                            f"now could leave the entry point without a node"
            report.resume = resume_command(stack.name, node)
            break
        log(f"{node} [{done + 1}/{total}]: {other(node)} is healthy in the NLB ({state}); applying what is "
            f"pending ({'; '.join(pending.get(node) or [])}) with a targeted pulumi up")
        began = clock()
        try:
            stack.apply(node, log)
        except OpsError as error:
            record.status, record.detail = FAILED, f"pulumi up failed: {describe(error)}"
            record.apply_seconds = clock() - began
            report.resume = resume_command(stack.name, node)
            break
        record.apply_seconds = clock() - began
        log(f"{node}: applied in {record.apply_seconds:.0f} s; waiting for its NLB targets to be healthy "
            f"(at most {step_timeout:.0f} s)")
        gate = wait_for_node(stack, health, node, within=step_timeout, log=log, sleep=sleep, clock=clock)
        record.gate_seconds = gate.seconds
        if not gate.ok:
            record.status = FAILED
            record.detail = f"applied, but not healthy in the NLB within {step_timeout:.0f} s: {gate.state}"
            report.resume = resume_command(stack.name, node)
            break
        record.detail = f"{gate.state} in {gate.seconds:.0f} s"
        log(f"{node}: done ({record.apply_seconds + gate.seconds:.0f} s)")
        done += 1
    return done
