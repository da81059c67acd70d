"""The drill itself: `drill(target, transport, stopper, plan, thresholds, ...)` → DrillReport.

1. The write load starts through the entry point and must have writes acknowledged before anything is stopped
   (a load that cannot write measures nothing: the drill stops there, the server untouched).
2. The stop (stopper.py) of the planned server, timed from issued to returned.
3. The load keeps writing; the drill waits until a write started after the stop returned is acknowledged (a new
   leader accepts writes), at most the write-outage threshold plus the retry time, then holds the server down
   `down` seconds more under the load.
4. The start, then the rollout's after-gate (rollout/gates.py wait_for_server: it answers, is a member again,
   hosts every database it hosted before, its copies caught up with their writers), then a write through the entry
   point is acknowledged again (its health checks see the server), then the load stops (a write it cut short while
   retrying is left out of the counts, not counted lost) and the server is asked directly until it holds every
   write the load saw acknowledged (queries.py DRILL_COUNT): back and caught up, timed from the start issued,
   within the recovery threshold.
5. The run's nodes are deleted (DRILL_CLEANUP through the entry point).
Whatever happens after the stop (an error, Ctrl-C), the server is started again before the drill ends.
"""
from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from .. import queries as q
from ..bolt import BoltError, Transport
from ..rollout.gates import wait_for_server
from ..shared.errors import OperationError, describe
from ..target import Target
from .load import WriteLoad, outage, tally
from .plan import DrillPlan, Figures, Thresholds, exceeded
from .stopper import ServerStopper

WARM_UP_WRITES = 3  # acknowledged before the stop: the load works through the entry point
# How long the load retries one write: the official drivers' max_transaction_retry_time default (30 s), or the
# stack's outage limit when that is longer (a write is then lost only when writes failed for longer than allowed).
DRIVER_RETRY_SECONDS = 30.0
NEW_LEADER_GRACE = 5.0  # waited for a new leader beyond the outage limit before the server is started again
DEFAULT_RATE, DEFAULT_DOWN = 5.0, 10.0


@dataclass
class DrillReport:
    stack: str
    plan: DrillPlan
    mechanism: str  # what stops and starts the server, in words
    rate: float
    dry_run: bool
    thresholds: Thresholds
    figures: Figures | None = None
    exceeded: list[str] = field(default_factory=list)
    retry_for: float = 0.0  # how long the load retries one write (retry_seconds)
    published: str = ""  # where the figures went
    error: str = ""  # why the drill stopped before its figures

    @property
    def failed(self) -> bool:
        return bool(self.exceeded or self.error)

    def to_json(self) -> dict:
        return {"stack": self.stack, "dryRun": self.dry_run, "server": self.plan.server, "leads": list(self.plan.leads),
                "database": self.plan.database, "entryPoint": self.plan.entry_uri, "mechanism": self.mechanism,
                "ratePerSecond": self.rate, "retrySeconds": self.retry_for,
                "faultTolerance": self.plan.fault_tolerance, "note": self.plan.note,
                "thresholds": asdict(self.thresholds),
                "figures": asdict(self.figures) if self.figures else None, "exceeded": self.exceeded,
                "published": self.published, "error": self.error, "failed": self.failed}


def render_text(report: DrillReport) -> str:
    plan, t = report.plan, report.thresholds
    leads = ", ".join(plan.leads) or "nothing"
    lines = [f"Failover drill of stack {report.stack}: {plan.server} (leads {leads}; fault tolerance "
             f"{plan.fault_tolerance})"]
    if plan.note:
        lines.append(f"note: {plan.note}")
    load = (f"{report.rate:g} writes/s to {plan.database} through {plan.entry_uri} (queries.py DRILL_WRITE), each "
            f"retried for up to {report.retry_for:g} s")
    if report.dry_run:
        lines += [f"would stop: {plan.server} by {report.mechanism}", f"would drive: {load}",
                  f"then wait for {plan.server} to be back, hosting {', '.join(plan.hosted) or 'nothing'}, and to "
                  f"hold every acknowledged write",
                  f"thresholds: write outage {t.max_write_outage_seconds:g} s, lost writes {t.max_lost_writes}, "
                  f"back and caught up {t.max_recovery_seconds:g} s", "dry run: nothing was stopped"]
        return "\n".join(lines)
    lines.append(f"stopped by {report.mechanism}; load: {load}")
    f = report.figures
    if f is not None:
        def secs(value: float | None) -> str:
            return "never" if value is None else f"{value:.1f} s"
        rows = [["stop took", secs(f.stop_seconds), ""],
                ["a new leader accepted writes after", secs(f.new_leader_seconds), "from the stop issued"],
                ["writes failed for", secs(f.write_outage_seconds), f"limit {t.max_write_outage_seconds:g} s"],
                ["writes", str(f.writes), f"{f.acknowledged} acknowledged"],
                ["failed attempts", str(f.failed_attempts), "each retried, or its write lost"],
                ["writes retried", str(f.retried_writes), "acknowledged after a failure"],
                ["writes lost", str(f.lost_writes), f"limit {t.max_lost_writes}"],
                ["back and caught up after", secs(f.recovery_seconds), f"from the start issued; limit "
                                                                       f"{t.max_recovery_seconds:g} s"]]
        from .. import cli

        lines.append(cli.table(["measure", "value", "note"], rows))
    if report.error:
        lines.append(f"FAILED: {report.error}")
    lines += [f"OVER: {item}" for item in report.exceeded]
    if report.published:
        lines.append(report.published)
    if not report.failed:
        lines.append("passed: every figure within the stack's thresholds")
    return "\n".join(lines)


def retry_seconds(thresholds: Thresholds) -> float:
    return max(DRIVER_RETRY_SECONDS, thresholds.max_write_outage_seconds)


def _wait(until: Callable[[], bool], within: float, sleep: Callable[[float], None], clock: Callable[[], float],
          pause: float = 0.2) -> bool:
    deadline = clock() + within
    while not until():
        if clock() >= deadline:
            return False
        sleep(pause)
    return True


def holds_every_write(transport: Transport, target: Target, plan: DrillPlan, run_id: str, wanted: int,
                      timeout: float) -> tuple[bool, str]:
    """(the stopped server holds `wanted` writes of the run, what it said), asked of it directly."""
    statement = dataclasses.replace(q.DRILL_COUNT, database=plan.database)
    try:
        rows = transport.client(plan.server_uri, target.auth).run(
            statement.name, statement.cypher, {"run": run_id}, database=plan.database, timeout=timeout).records
    except BoltError as error:
        return False, describe(error)
    count = int(rows[0]["count"]) if rows else 0
    return count >= wanted, f"holds {count} of the {wanted} acknowledged writes"


def drill(target: Target, transport: Transport, stopper: ServerStopper, plan: DrillPlan, thresholds: Thresholds, *,
          stack: str, rate: float = DEFAULT_RATE, down: float = DEFAULT_DOWN, timeout: float = 5.0,
          max_lag: float = 10.0, log: Callable[[str], None] = lambda _m: None,
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
          run_id: str | None = None, retry_for: float | None = None) -> DrillReport:
    retry_for = retry_for if retry_for is not None else retry_seconds(thresholds)
    report = DrillReport(stack, plan, stopper.describe(plan.server), rate, False, thresholds, retry_for=retry_for)
    run_id = run_id or f"drill-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
    writer = transport.client(plan.entry_uri, target.auth)
    load = WriteLoad(writer, plan.database, run_id, rate=rate, retry_for=retry_for, timeout=timeout, clock=clock)
    log(f"write load: {rate:g} writes/s to {plan.database} through {plan.entry_uri} (run {run_id})")
    load.start()
    stopped = started = False
    try:
        if not _wait(lambda: load.acknowledged() >= WARM_UP_WRITES, thresholds.max_write_outage_seconds, sleep, clock):
            last = next((a.error for a in reversed(load.log()) if not a.ok), "no write finished")
            report.error = f"the load's writes are not acknowledged before anything is stopped: {last}; " \
                           f"{plan.server} was left running"
            return report
        log(f"{plan.server}: stopping it by {report.mechanism}")
        stop_issued = clock()
        stopped = True
        stopper.stop(plan.server)
        stop_returned = clock()
        log(f"{plan.server}: stopped in {stop_returned - stop_issued:.1f} s; waiting for a new leader to accept writes")
        _wait(lambda: load.acknowledged_after(stop_returned) is not None,
              thresholds.max_write_outage_seconds + NEW_LEADER_GRACE, sleep, clock)
        first = load.acknowledged_after(stop_returned)
        log(f"a write was acknowledged {first.finished - stop_issued:.1f} s after the stop" if first else
            "no write acknowledged since the stop")
        sleep(max(0.0, down))
        start_issued = clock()
        log(f"{plan.server}: starting it again")
        started = True
        stopper.start(plan.server)
        remaining = thresholds.max_recovery_seconds - (clock() - start_issued)
        gate = wait_for_server(target, transport, plan.server, set(plan.hosted), within=max(0.0, remaining),
                               timeout=timeout, max_lag=max_lag, log=log, sleep=sleep, clock=clock)
        if gate.ok:  # back means the entry point takes writes again too (HAProxy's checks must see the server)
            gate_done = clock()
            _wait(lambda: load.acknowledged_after(gate_done) is not None,
                  max(0.0, thresholds.max_recovery_seconds - (gate_done - start_issued)), sleep, clock)
        attempts = load.stop()
        recovery = None
        if gate.ok:
            wanted = tally(attempts, load.abandoned).acknowledged
            state = {"said": ""}

            def caught_up() -> bool:
                ok, state["said"] = holds_every_write(transport, target, plan, run_id, wanted, timeout)
                return ok
            remaining = thresholds.max_recovery_seconds - (clock() - start_issued)
            if _wait(caught_up, max(0.0, remaining), sleep, clock, pause=0.5):
                recovery = clock() - start_issued
                log(f"{plan.server}: back and caught up ({state['said']}) {recovery:.1f} s after its start")
            else:
                log(f"{plan.server}: not caught up: {state['said']}")
        else:
            log(f"{plan.server}: not back: {gate.state}")
        counts = tally(attempts, load.abandoned)
        outage_seconds, leader_seconds = outage(attempts, stop_issued, stop_returned)
        report.figures = Figures(stop_returned - stop_issued, leader_seconds, outage_seconds, counts.writes,
                                 counts.acknowledged, counts.failed_attempts, counts.retried_writes,
                                 counts.lost_writes, recovery)
        report.exceeded = exceeded(report.figures, thresholds)
        return report
    except OperationError as error:
        report.error = describe(error)
        return report
    finally:
        load.stop()
        if stopped and not started:  # an error or Ctrl-C while it was down: never leave it stopped
            try:
                log(f"{plan.server}: starting it again (the drill ended while it was stopped)")
                stopper.start(plan.server)
            except OperationError as error:
                report.error = (report.error + "; " if report.error else "") + \
                    f"{plan.server} is STOPPED and starting it failed: {describe(error)}"
        try:
            statement = dataclasses.replace(q.DRILL_CLEANUP, database=plan.database)
            writer.run(statement.name, statement.cypher, {"run": run_id}, database=plan.database, write=True,
                       timeout=timeout)
        except BoltError as error:
            log(f"the run's nodes ({q.DRILL_LABEL} {{run: {run_id!r}}}) stay: {describe(error)}; the next drill "
                f"deletes them after a day")
