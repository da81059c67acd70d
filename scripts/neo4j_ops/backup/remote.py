"""Running a cluster restore's per-server steps: the RemoteShell boundary, its AWS Systems Manager adapter and the
one-server-at-a-time executors: run_offline_44 (--database system on every line, cluster_plan.plan_system_restore,
and 4.4's older offline procedure) and run_drop_create_44 (4.4, one database under its own name: its Bolt steps and
its per-core steps in one order, cluster_plan._plan_44_keep_name).

The machines have no SSH; their instance role has AmazonSSMManagedInstanceCore, so each step is one
`ssm.send_command(DocumentName="AWS-RunShellScript")` polled with `get_command_invocation`. SSM keeps every
command's text in its history: no step carries a secret (the admin steps are offline `neo4j-admin` commands and
`aws s3 cp` with the instance role; none needs the Neo4j password).
"""
from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..shared.errors import BackupError
from ..shared.versions import dump_file_name

Log = Callable[[str], None]


class RemoteShell(Protocol):
    def run(self, server: str, commands: list[str], timeout: float) -> tuple[int, str, str]:
        """Run `commands` (one shell script) on `server`; (exit code, stdout tail, stderr tail)."""


# SSM GetCommandInvocation's Status is one of Pending | InProgress | Delayed | Success | Cancelled | TimedOut |
# Failed | Cancelling (CommandInvocationStatus in the AWS SDKs' SSM model); the terminal ones below. Any terminal
# status but Success counts as a failure, even with ResponseCode 0.
TERMINAL = ("Success", "Cancelled", "TimedOut", "Failed")


@dataclass
class SsmShell:
    """RemoteShell over boto3: the instance is found by its Name tag `<stack>-<server>`, else (the server is the
    address SHOW DATABASES reports) by its private IP / private DNS name."""
    ssm: Any
    ec2: Any
    stack: str
    poll: float = 3.0
    purpose: str = "restore"  # in each command's Comment: what sent it (SSM's command history shows it)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _ids: dict[str, str] = field(default_factory=dict)

    def instance_id(self, server: str) -> str:
        if server in self._ids:
            return self._ids[server]
        tries = [("tag:Name", f"{self.stack}-{server}")]
        try:
            ipaddress.ip_address(server)
            tries.append(("private-ip-address", server))
        except ValueError:
            tries.append(("private-dns-name", server))
        for name, value in tries:
            found = [i["InstanceId"] for r in self.ec2.describe_instances(
                Filters=[{"Name": name, "Values": [value]},
                         {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
                     for i in r["Instances"]]
            if len(found) > 1:
                raise BackupError(f"{len(found)} running instances match {name}={value}: cannot tell which is {server}")
            if found:
                self._ids[server] = found[0]
                return found[0]
        raise BackupError(f"no running instance for server {server} (tag Name={self.stack}-{server}, or its address)")

    def run(self, server: str, commands: list[str], timeout: float) -> tuple[int, str, str]:
        target = self.instance_id(server)
        sent = self.ssm.send_command(InstanceIds=[target], DocumentName="AWS-RunShellScript",
                                     Parameters={"commands": list(commands),
                                                 "executionTimeout": [str(int(timeout))]},
                                     Comment=f"neo4j-cluster {self.purpose}: {server}"[:100])
        command_id = sent["Command"]["CommandId"]
        deadline = self.clock() + timeout + 60
        while True:
            try:
                got = self.ssm.get_command_invocation(CommandId=command_id, InstanceId=target)
            except self.ssm.exceptions.InvocationDoesNotExist:  # right after send_command: not registered yet
                got = {"Status": "Pending"}
            status = got.get("Status", "")
            if status in TERMINAL:
                code = int(got.get("ResponseCode", -1))
                if status != "Success" and code == 0:
                    code = -1
                return code, got.get("StandardOutputContent", ""), (
                    got.get("StandardErrorContent", "") or (f"SSM status {status}" if status != "Success" else ""))
            if self.clock() > deadline:
                return -1, "", f"no result from SSM after {int(timeout) + 60} s (command {command_id}, last {status})"
            self.sleep(self.poll)


# --- the executor ------------------------------------------------------------------------------------------

STOP, SAFETY, FETCH, UNBIND, RESTORE, START = "stop", "safety", "fetch", "unbind", "restore", "start"
_PREFIX = {"stop Neo4j on": STOP, "save the current database": SAFETY, "download and verify": FETCH,
           "unbind ": UNBIND, "restore the backup on": RESTORE, "start Neo4j on": START}


def stage(step) -> str:
    for prefix, name in _PREFIX.items():
        if step.description.startswith(prefix):
            return name
    return step.kind


def safety_dump(plan) -> str:
    """The safety dump's path on the first core (the plan's safety step writes it: `mkdir -p <dir> && …`)."""
    step = next(s for s in plan.steps if stage(s) == SAFETY)
    return f"{step.command.split(' && ', 1)[0].removeprefix('mkdir -p ')}/{dump_file_name(plan.name)}"


@dataclass
class Progress:
    stopped: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    partial: str = ""  # the server whose restore failed: its store is in an unknown state
    started: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)


def run_offline_44(plan, shell: RemoteShell, log: Log, *, timeout: float = 1800,
                   verify: Callable[[], Any] | None = None, resume: str = "") -> dict[str, Any]:
    """Run a 4.4 plan's admin steps one server at a time (each step one remote command; a non-zero exit stops the
    run), then `verify()`. On a failure before any server was restored: start the stopped servers again with their
    old store (the old database serves again). After some were restored: leave every server stopped and raise a
    BackupError naming each server's store and the resume / rollback commands."""
    admin = [s for s in plan.steps if s.kind == "admin"]
    servers = list(dict.fromkeys(s.server for s in admin))
    safety = safety_dump(plan)
    first = next(s.server for s in admin if stage(s) == SAFETY)
    p = Progress()
    for n, step in enumerate(admin, 1):
        kind = stage(step)
        command = step.command
        if kind == SAFETY:  # a re-run keeps the first dump: after a partial run it holds the old database
            command = f"if [ -s {safety} ]; then echo 'kept the safety dump {safety}'; else {step.command}; fi"
        log(f"step {n}/{len(admin)} on {step.server}: {step.description}")
        try:
            code, out, err = shell.run(step.server, [command], timeout)
        except (Exception, KeyboardInterrupt) as error:  # noqa: BLE001 - SSM/API errors, Ctrl-C: the same clean-up
            code, out, err = -1, "", f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if code == 0:
            p.done.append(f"{step.server}: {step.description}")
            if kind == STOP:
                p.stopped.append(step.server)
            elif kind == RESTORE:
                p.restored.append(step.server)
            elif kind == START:
                p.started.append(step.server)
            continue
        tail = (err or out).strip().splitlines()[-3:]
        why = f"{step.description} failed (exit {code}): " + (" | ".join(tail) or "no output")
        if kind == RESTORE:
            p.partial = step.server
        _failed(plan, shell, log, p, servers, first, safety, why, kind, timeout, resume)
    log(f"every server started; checking that {plan.name!r} is online on {plan.topology.members} members")
    outcome = verify() if verify else None
    return {"done": p.done, "restored": p.restored, "safety_dump": f"{first}:{safety}", "outcome": outcome}


def _failed(plan, shell: RemoteShell, log: Log, p: Progress, servers: list[str], first: str, safety: str, why: str,
            kind: str, timeout: float, resume: str) -> None:
    if kind == START or (p.restored and len(p.restored) == len(servers)):
        raise BackupError(f"{why}\nevery server holds backup {plan.backup}; started: {', '.join(p.started) or 'none'}."
                          f" Start the others (systemctl start neo4j) and run restore.py --cluster --offline-ok "
                          f"--verify-restored")
    if not p.restored:
        again = [s for s in p.stopped if s != p.partial]
        restarted, failed = [], []
        for server in again:
            log(f"starting {server} again with its old store")
            step = next(s for s in plan.steps if stage(s) == START and s.server == server)
            code, _, err = shell.run(server, [step.command], timeout)
            (restarted if code == 0 else failed).append(server if code == 0 else f"{server} ({err.strip()[-200:]})")
        text = f"{why}\nno server was restored. Started again with the old store: {', '.join(restarted) or 'none'}"
        if failed:
            text += f"; could NOT be started: {', '.join(failed)}"
        if p.partial:
            text += (f"; left stopped: {p.partial} (its restore failed part-way: its store is unknown; restore it "
                     f"again or load the safety dump {first}:{safety} before starting it)")
        text += (f". {plan.name!r} serves from the old store once a majority of cores is up" if not failed else "")
        raise BackupError(text)
    old = [s for s in servers if s not in p.restored and s != p.partial]
    lines = [why, "stopped, NOT restarted (a mix of stores must not form a cluster): every server. Stores now:"]
    lines += [f"  {s}: backup {plan.backup} (restored)" for s in p.restored]
    if p.partial:
        lines.append(f"  {p.partial}: unknown (its restore failed part-way)")
    lines += [f"  {s}: the old database (not yet restored)" for s in old]
    again = resume or "restore.py --cluster --offline-ok --yes"
    lines.append(f"resume: fix the cause and run the same command again ({again}): it restores every server again "
                 f"and keeps the safety dump {first}:{safety}")
    # Operations Manual 4.4, backup-restore/restore-dump.adoc: "bin/neo4j-admin load
    # --from=/dumps/neo4j/neo4j-<timestamp>.dump --database=neo4j --force"; clustering/seed.adoc: "If you have
    # started any of the cluster members, stop and unbind each started member." 5.x/2025 (system): the plan's own
    # unbind (dbms unbind-system-db) and `database load --from-path=<dir> --overwrite-destination=true system`.
    lines.append(f"roll back: on {first}: {rollback_command(plan, safety)}; the other servers need that file copied "
                 f"to them first (it is only on {first}), then the same two commands; then start the "
                 f"{'cores, then the read replicas' if plan.line == '4.4' else 'primaries, then the secondaries'}")
    raise BackupError("\n".join(lines))


def rollback_command(plan, safety: str) -> str:
    """The plan's unbind, then loading the safety dump `safety` over the database (the plan's line's words)."""
    import shlex
    from pathlib import PurePosixPath

    from ..shared.versions import line_named

    unbind = next(s.command for s in plan.steps if stage(s) == UNBIND)
    admin = shlex.split(unbind)[0]
    load = line_named(plan.line).admin_load(plan.name, PurePosixPath(safety).parent)
    return f"{unbind} && " + " ".join(shlex.quote(w) for w in [admin, *load])


# --- 4.4: drop, restore on each core, create (cluster_plan._plan_44_keep_name) -----------------------------------

def run_drop_create_44(plan, shell: RemoteShell, run, log: Log, *, timeout: float = 1800, online_timeout: float = 900,
                       poll: float = 2.0, sleep: Callable[[float], None] = time.sleep,
                       clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Run a 4.4 keep-name plan in order: its Bolt steps over `run` (statements on system), its admin steps over
    `shell`, one core at a time. Before DROP DATABASE nothing in the cluster changes: a failure there deletes the
    downloaded copies and says the database serves as before. From the DROP on, a failure stops the run and raises a
    BackupError saying what ran, where the old store's dump is and, in order, every command left to finish (the
    privileges read before the drop among them, word for word)."""
    from ..queries import Named
    from .cluster_execute import Outcome, check_counts, count, wait_online
    from .cluster_plan import privileges_naming

    outcome, t0 = Outcome(plan), clock()
    grants: list[str] = []
    fetched: list[str] = []
    dropped = False
    for n, step in enumerate(plan.steps, 1):
        log(f"step {n}/{len(plan.steps)}: {step.description}" + (f"\n    {step.cypher}" if step.cypher else ""))
        try:
            if step.kind == "admin":
                try:
                    code, out, err = shell.run(step.server, [step.command], timeout)
                except Exception as error:  # noqa: BLE001 - SSM/API errors count as the step failing
                    code, out, err = -1, "", f"{type(error).__name__}: {error}"
                if code != 0:
                    tail = (err or out).strip().splitlines()[-3:]
                    raise BackupError(f"exit {code}: " + (" | ".join(tail) or "no output"))
                if stage(step) == FETCH:
                    fetched.append(step.server)
            elif step.kind == "privileges":
                rows = run(Named.built(step.cypher, "system", write=False), None)
                grants = privileges_naming([str(r.get("command", "")) for r in rows], plan.name)
                log(f"{len(grants)} privileges name {plan.name!r}" + "".join(f"\n    {g}" for g in grants))
            elif step.kind == "cypher":
                if step.phase == "swap":
                    dropped = True  # from here the database may be gone, whatever the answer says
                rows = run(Named.built(step.cypher, "system"), None)
                refused = [r for r in rows if r.get("success") is False]
                if refused:  # WAIT's rows: "whether or not the command completed successfully without timing out"
                    raise BackupError("not done on every member within WAIT's time: " + "; ".join(
                        f"{r.get('address')}: {r.get('state')} {r.get('message')}" for r in refused))
            elif step.kind == "wait_online":
                wait_online(run, step, plan.topology, log, timeout=online_timeout, poll=poll, sleep=sleep, clock=clock)
            elif step.kind == "grant":
                for command in grants:
                    run(Named.built(command, "system"), None)
                    log(f"    {command}")
            elif step.kind == "counts":
                outcome.counts = count(run, step.database)
                check_counts(plan, outcome.counts, log)
            elif step.kind != "note":
                raise BackupError(f"step kind {step.kind!r} is not run from here")
        except (Exception, KeyboardInterrupt) as error:  # noqa: BLE001 - Ctrl-C too: say what is left
            why = f"{step.description} failed: {_said(error)}"
            if not dropped:
                if step.kind == "admin" and stage(step) == FETCH:
                    fetched.append(step.server)  # a part of the download may be there
                raise BackupError(f"{why}\n{_undo_fetch(plan, shell, fetched, timeout)}. Nothing was changed in the "
                                  f"cluster: {plan.name!r} serves as before") from None
            raise BackupError(_left_after_drop(plan, step, grants, why, outcome.done)) from None
        outcome.done.append(step.description)
    outcome.seconds = clock() - t0
    return {"done": outcome.done, "restored": [s.server for s in plan.steps if stage(s) == RESTORE],
            "privileges": grants, "outcome": outcome}


def _said(error: BaseException) -> str:
    from ..shared.errors import describe

    return describe(error) or type(error).__name__


def _undo_fetch(plan, shell: RemoteShell, fetched: list[str], timeout: float) -> str:
    deleted, kept = [], []
    for server in fetched:
        step = next((s for s in plan.steps if s.server == server and s.command.startswith("rm -rf ")), None)
        try:
            code = shell.run(server, [step.command], timeout)[0] if step else -1
        except Exception:  # noqa: BLE001
            code = -1
        (deleted if code == 0 else kept).append(server)
    text = f"downloaded copies deleted on: {', '.join(deleted) or 'none'}"
    return text + (f"; left on: {', '.join(kept)} (delete them by hand)" if kept else "")


def _left_after_drop(plan, failed, grants: list[str], why: str, done: list[str]) -> str:
    """After DROP DATABASE: what ran, where the old store is, and the commands that finish the restore, in order."""
    steps = list(plan.steps)
    left = steps[steps.index(failed):]
    if failed.phase == "swap":
        state = (f"whether {plan.name!r} was dropped is not known from here: SHOW DATABASE {failed.cypher.split()[2]} "
                 f"says. Still listed: nothing changed (run the restore again). Not listed: finish it below")
    else:
        state = f"{plan.name!r} was dropped: nothing serves under it until it is created again"
    lines = [why, f"{state}. Done: " + "; ".join(done[1:] or ["nothing"]),
             "its old store: the dump DROP … DUMP DATA wrote in each server's dbms.directories.dumps.root "
             "(neo4j-admin load --from=<that dump> --database=" + plan.name + " --force on each core, then CREATE "
             "DATABASE, is the way back)",
             "left to do, in order:"]
    for s in left:
        if s.kind == "admin":
            lines.append(f"  on {s.server}: {s.command}")
        elif s.kind == "grant":
            lines += [f"  (system) {g}" for g in grants] or ["  (no privilege named it)"]
        elif s.kind == "counts":
            lines.append(f"  compare its counts with the manifest's {plan.counts}")
        elif s.cypher:
            lines.append(f"  (system) {s.cypher}")
    return "\n".join(lines)
