"""Running a cluster restore's plan (5.x/2025) over the runtime's one `Run` (queries.py): read the cluster's
state, wait until the seeded database is online, compare its counts with the manifest, and on failure roll back so
that the old database serves as before. `execute` takes `run` and a progress callback, so tests replay recorded
responses through it.

The plan's statements name databases, so they are built at run time (Named.built, filed under their own text in
recordings); a plan's `cypher` steps and the undo statements change the cluster and go as writes, its SHOW
DATABASE and the counts as reads.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..facts import Counts, SystemCounts, count_system, is_system
from ..queries import COUNT_NODES, COUNT_RELATIONSHIPS, SHOW_ALIASES, SHOW_DATABASES, Named, Run, quote_name
from ..shared.errors import BackupError, InterruptedRunError, UsageError
from .cluster_plan import ClusterState, Plan, Step, Topology

Log = Callable[[str], None]

ONLINE = "online"


@dataclass
class Outcome:
    plan: Plan
    done: list[str] = field(default_factory=list)  # descriptions of the steps that ran
    counts: Counts | None = None
    rolled_back: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"restored": self.plan.backup, "database": self.plan.restored, "name": self.plan.name,
                "old": self.plan.old, "swap": self.plan.swap, "done": self.done,
                "counts": self.counts.__dict__ if self.counts else None, "notes": list(self.plan.notes),
                "seconds": round(self.seconds, 3)}


def read_state(run: Run, name: str) -> ClusterState:
    """The cluster's view of `name` (an alias? the default database? where hosted?)."""
    aliases = run(SHOW_ALIASES, None)
    databases = run(SHOW_DATABASES, None)
    return ClusterState.parse(name, aliases, databases)


# Roles a copy reports in SHOW DATABASE: 5.x primary | secondary; 4.4 leader | follower | read_replica.
_PRIMARY_ROLES, _SECONDARY_ROLES = ("primary", "leader", "follower"), ("secondary", "read_replica")


def wait_online(run: Run, step: Step, topology: Topology, log: Log, *, timeout: float, poll: float = 2.0,
                sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
    """Until the database is online on topology.members members, in its roles ("Verify that the restored database
    is online on the desired number of servers, in the desired roles", 5.x clustering/databases.adoc). After a
    recreate (step.started), a member counts once its lastStartTime differs from the one before the procedure:
    until then it may still report the old store online ("The procedure initiates a process, which when complete,
    will have synchronized and started all database instances within the cluster", 5.x built-in-procedures.adoc)."""
    members = topology.members
    before = dict(step.started)
    deadline = clock() + timeout
    last, next_note = "no answer yet", clock()
    while True:
        rows = run(Named.built(step.cypher, "system", write=False), None)
        online = [r for r in rows if r.get("currentStatus") == ONLINE
                  and not (before and before.get(str(r.get("address", ""))) == str(r.get("lastStartTime")))]
        failed = [r for r in rows if r.get("requestedStatus") == ONLINE
                  and r.get("currentStatus") in ("offline", "quarantined")
                  and (r.get("statusMessage") or r.get("error"))]
        if failed:
            raise BackupError("the restored database did not start on " + "; ".join(
                f"{r.get('address')}: {r.get('statusMessage') or r.get('error')}" for r in failed)
                + " (the server's debug.log says why: seed URI, S3 access, provider)")
        roles = [str(r.get("role", "")).lower() for r in online]
        primaries = sum(1 for r in roles if r in _PRIMARY_ROLES)
        secondaries = sum(1 for r in roles if r in _SECONDARY_ROLES)
        if primaries >= topology.primaries and secondaries >= topology.secondaries:
            log(f"online on {len(online)} members: " + ", ".join(f"{r.get('address')} ({r.get('role')})"
                                                             for r in online))
            return
        last = (f"{len(online)} of {members} online, {primaries} of {topology.primaries} primaries and "
                f"{secondaries} of {topology.secondaries} secondaries: "
                + ", ".join(f"{r.get('address')} {r.get('currentStatus')} {r.get('role')}" for r in rows))
        if clock() >= deadline:
            raise BackupError(f"not online on {members} members within {timeout:.0f}s ({last})")
        if clock() >= next_note:
            log(f"waiting: {last}")
            next_note = clock() + 15
        sleep(poll)


def count(run: Run, database: str) -> Counts | SystemCounts:
    """Nodes and relationships of a standard database; of `system` (which refuses MATCH), its users, databases and
    roles (facts.count_system; a cluster is Enterprise)."""
    if is_system(database):
        return count_system(run, enterprise=True)
    nodes = run(replace(COUNT_NODES, database=database), None)
    relationships = run(replace(COUNT_RELATIONSHIPS, database=database), None)
    return Counts(int(nodes[0]["count"]), int(relationships[0]["count"]))


def check_counts(plan: Plan, found: Counts | SystemCounts, log: Log) -> None:
    expected = plan.counts
    if isinstance(found, SystemCounts):
        _check_system(plan, found, expected, log)
        return
    if expected is None or found == expected:
        log(f"counts match the manifest: {found}")
        return
    if plan.counts_exact:
        raise BackupError(f"{plan.restored!r} holds {found}, the manifest of backup {plan.backup} says {expected}: "
                          f"the restore is not the backup")
    log(f"counts differ from the manifest ({found} restored, {expected} recorded), which recorded them as inexact "
        f"(writes went on during the online backup): accepted")


def _check_system(plan: Plan, found: SystemCounts, expected: object, log: Log) -> None:
    """A restored `system` holds the backup's users (the issue's test: a user dropped after the backup is back);
    its databases and roles are reported beside them. A manifest without system counts (made before backups
    counted system) only shows that system answers."""
    if not isinstance(expected, SystemCounts):
        log(f"system answers on every server and holds {found}; the manifest of backup {plan.backup} has no system "
            f"counts to compare with")
        return
    if found.users != expected.users:
        raise BackupError(f"system holds {found.users} users, the manifest of backup {plan.backup} says "
                          f"{expected.users}: the restore is not the backup")
    differ = [f"{k} {getattr(found, k)} (manifest: {getattr(expected, k)})" for k in ("databases", "roles")
              if getattr(expected, k) is not None and getattr(found, k) != getattr(expected, k)]
    log(f"system holds {found.users} users, as the manifest says" + (f"; differs: {', '.join(differ)}"
                                                                      if differ else f" ({found})"))


Copier = Callable[[Step, bool], None]  # (copy_chain/delete_chain step, delete?) -> None


def execute(plan: Plan, run: Run, log: Log, *, copier: Copier | None = None, timeout: float = 900,
            poll: float = 2.0, sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.monotonic) -> Outcome:
    """Run a 5.x/2025 plan. Before the switch, any failure drops only the new database (and a staged chain);
    a failed switch is undone first. Raises BackupError saying what ran, what was undone and what serves."""
    if plan.swap == "offline":
        raise UsageError("a 4.4 plan's admin steps run on each core (see the plan); --verify runs its checks")
    outcome, t0 = Outcome(plan), clock()
    undo: list[str] = []
    swapped = False
    for n, step in enumerate(plan.steps, 1):
        log(f"step {n}/{len(plan.steps)}: {step.description}" + (f"\n    {step.cypher}" if step.cypher else ""))
        try:
            if step.kind == "cypher":
                run(Named.built(step.cypher, step.database), None)
            elif step.kind == "wait_online":
                wait_online(run, step, plan.topology, log, timeout=timeout, poll=poll, sleep=sleep, clock=clock)
            elif step.kind == "counts":
                outcome.counts = count(run, step.database)
                check_counts(plan, outcome.counts, log)
            elif step.kind in ("copy_chain", "delete_chain"):
                if copier is None:
                    raise BackupError("no S3 client to stage the differential chain with")
                copier(step, step.kind == "delete_chain")
            elif step.kind == "note":
                pass
            else:
                raise BackupError(f"step kind {step.kind!r} is not run from here")
        except BaseException as error:  # noqa: BLE001 - KeyboardInterrupt too: the old database must serve
            if plan.swap == "recreate":
                _recreate_failed(plan, run, step, error, copier, log, outcome)
            if swapped or step.phase == "after":
                raise BackupError(f"{_text(error)}\n{plan.restored!r} serves {plan.name!r} now; what is left to do "
                                  f"by hand: " + "; ".join(s.cypher or s.description for s in plan.steps[n - 1:]
                                                          if s.phase == "after")) from None
            outcome.rolled_back = _roll_back(plan, run, undo, copier, log)
            serving = plan.old or "nothing (there was no database under that name)"
            failure = (InterruptedRunError if isinstance(error, (KeyboardInterrupt, InterruptedRunError))
                       else BackupError)
            raise failure(f"{step.description} failed: {_text(error) or 'interrupted'}\nrolled back: "
                          f"{'; '.join(outcome.rolled_back) or 'nothing to undo'}. {serving!r} serves "
                          f"{plan.name!r} as before") from None
        if step.undo:
            undo.append(step.undo)
        if step.phase == "swap" and step is _last_swap(plan):
            swapped = True
        outcome.done.append(step.description)
    outcome.seconds = clock() - t0
    return outcome


def _recreate_failed(plan: Plan, run: Run, step: Step, error: BaseException, copier: Copier | None, log: Log,
                     outcome: Outcome) -> None:
    """A recreate plan has nothing to drop: before the procedure ran, the database is as it was (a staged chain is
    deleted); once it ran, the store is being replaced and there is no old one to go back to."""
    failure = InterruptedRunError if isinstance(error, (KeyboardInterrupt, InterruptedRunError)) else BackupError
    why = f"{step.description} failed: {_text(error) or 'interrupted'}"
    if step.phase == "prepare":
        outcome.rolled_back = _drop_staged(plan, copier)
        undone = "; ".join(outcome.rolled_back) or "nothing to undo"
        raise failure(f"{why}\nnothing was changed in the cluster ({undone}). {plan.restored!r} serves {plan.name!r} "
                      f"as before") from None
    if step.phase == "swap":
        outcome.rolled_back = _drop_staged(plan, copier)
        raise failure(f"{why}\nthe procedure was refused, so {plan.restored!r} serves {plan.name!r} as before (if it "
                      f"timed out instead, SHOW DATABASE {quote_name(plan.restored)} YIELD * says whether it started: "
                      f"its lastStartTime changes)") from None
    left = [s.cypher or s.description for s in plan.steps[plan.steps.index(step):]]
    raise failure(f"{why}\nthe store of {plan.restored!r} was being replaced by backup {plan.backup} (same name, same "
                  f"privileges); there is no old store to go back to. Left to do: {'; '.join(left)}. If it did not "
                  f"start, its statusMessage and the servers' debug.log say why; run restore.py --cluster again with "
                  f"the same or another --at") from None


def _drop_staged(plan: Plan, copier: Copier | None) -> list[str]:
    staged = next((s for s in plan.steps if s.kind == "copy_chain"), None)
    if staged is None or copier is None:
        return []
    try:
        copier(staged, True)
        return ["deleted the staged chain"]
    except BaseException as error:  # noqa: BLE001
        return [f"deleting the staged chain failed ({_text(error)})"]


def _last_swap(plan: Plan) -> Step | None:
    swaps = [s for s in plan.steps if s.phase == "swap"]
    return swaps[-1] if swaps else None


def _roll_back(plan: Plan, run: Run, undo: list[str], copier: Copier | None, log: Log) -> list[str]:
    done: list[str] = []
    drop = f"DROP DATABASE {quote_name(plan.restored)} IF EXISTS"
    # The swap steps undone in reverse, then the new database dropped: each tried, whatever the one before did.
    for note, cypher in [*((f"undoing: {c}", c) for c in reversed(undo)),
                         (f"dropping only the new database: {drop}", drop)]:
        log(note)
        try:
            run(Named.built(cypher, "system"), None)
            done.append(cypher)
        except BaseException as error:  # noqa: BLE001
            done.append(f"{cypher} FAILED ({_text(error)}): run it by hand")
    return done + _drop_staged(plan, copier)


def _text(error: BaseException) -> str:
    from ..shared.errors import describe

    return describe(error)


def s3_copier(s3, bucket: str, log: Log) -> Copier:
    """Copies a differential chain into its seed folder (S3 CopyObject: no download), or deletes that copy."""
    def work(step: Step, delete: bool) -> None:
        for source, staged in step.copies:
            if delete:
                s3.delete_object(Bucket=bucket, Key=staged)
            else:
                s3.copy_object(Bucket=bucket, Key=staged, CopySource={"Bucket": bucket, "Key": source})
                log(f"copied s3://{bucket}/{source} to {staged}")
    return work

