"""The consistency check of a backup artifact (neo4j-admin database check; 4.4: a dump loaded into a scratch
store, then check-consistency): its outcome, passed | failed | skipped, with the report a manifest points to."""
from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..shared.versions import dump_file_name
from .admin import fresh_dir, last_lines, own, write_new
from .backup_run import BackupRun
from .layout import Manifest
from .staging import scratch_space


@dataclass(frozen=True)
class Check:
    result: str  # passed | failed | skipped (layout.CHECK_RESULTS)
    detail: str
    report: str | None  # check-report.txt; None when skipped


def skipped(why: str = "--no-check") -> Check:
    return Check("skipped", f"not checked: {why}", None)


def reason(output: str) -> str:
    """The line of neo4j-admin's output that says what went wrong (not its progress dots)."""
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and not line.strip().startswith(".") and "%" not in line[-6:]]
    for line in reversed(lines):
        if any(word in line.lower() for word in ("inconsisten", "failed", "error", "exception", "invalid")):
            return line[:300]
    return lines[-1][:300] if lines else "(no output)"


def check_artifact(run: BackupRun, source: Path | str, scratch: Path, what: str) -> Check:
    """`neo4j-admin database check --from-path=<source>` (5.x+): extracts into scratch, reports there."""
    temp, reports = scratch / "temp", scratch / "reports"
    for directory in (temp, reports):
        fresh_dir(directory, run.opts.owner, under=scratch)
    args = run.line.admin_check(run.opts.database, source, temp, reports)
    run.log(f"checking the consistency of {what}")
    t0 = time.monotonic()
    code, output = run.opts.admin.call(args, log=run.log)
    return judge(run, code, output, [args], reports, what, time.monotonic() - t0)


def check_loaded_dump(run: BackupRun, chain: Path) -> Check:
    """4.4: load the dump into a scratch store (its own NEO4J_CONF) and check that store."""
    opts = run.opts
    scratch = scratch_space(run)
    try:
        conf, reports = scratch / "conf", scratch / "reports"
        for directory in (reports, scratch / "data", scratch / "logs"):
            fresh_dir(directory, opts.owner, under=scratch)
        fresh_dir(conf, None, under=scratch)  # root's: what neo4j-admin reads, neo4j cannot change
        write_new(conf / "neo4j.conf", f"{run.line.data_directory_setting}={scratch / 'data'}\n", under=scratch)
        what = f"dump {dump_file_name(opts.database)} (loaded into a scratch store)"
        load = run.line.admin_load(opts.database, chain)
        t0 = time.monotonic()
        code, output = opts.admin.call(load, conf=conf, log=run.log)
        if code != 0:
            return judge(run, code, output, [load], reports, what, time.monotonic() - t0)
        check = run.line.admin_check_store(opts.database, reports)
        run.log(f"checking the consistency of {what}")
        code, more = opts.admin.call(check, conf=conf, log=run.log)
        return judge(run, code, output + "\n" + more, [load, check], reports, what, time.monotonic() - t0)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def judge(run: BackupRun, code: int, output: str, commands: list[list[str]], reports: Path, what: str,
          seconds: float) -> Check:
    """A check's outcome: exit 0 passed, anything else failed ("If the consistency checker finds errors,
    it exits with an exit code other than `0` and writes a report file", 5.x consistency-checker.adoc),
    with the report file(s) and the output's tail for check-report.txt."""
    found = sorted(reports.rglob("*.report")) if reports.is_dir() else []
    result = "passed" if code == 0 else "failed"
    detail = (f"{what}: consistent ({seconds:.1f}s)" if code == 0
              else f"{what}: exit {code}: {reason(output)}")
    lines = [f"consistency check of {what}: {result}",
             *[f"command: {run.opts.admin.describe(c)}" for c in commands], f"exit status: {code}",
             f"seconds: {seconds:.1f}", "", "output (last 200 lines):", last_lines(output, 200)]
    for path in found:
        with contextlib.suppress(OSError):
            # neo4j-admin (the neo4j user) wrote the reports: a link planted among them is not read through.
            with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), errors="replace") as report:
                lines += ["", f"--- {path.name} ---", report.read(4 * 1024 * 1024)]
    run.log(f"consistency check {result}: {detail}")
    return Check(result, detail, "\n".join(lines) + "\n")


def check_chain(run: BackupRun, chain: Path, runs: list[Manifest], new: Path) -> Check:
    """A full artifact is checked as it is. A differential cannot be ("consistency check is not supported
    for differential backups. The backup chain must be aggregated into a full backup artifact before
    running consistency check", 5.x consistency-checker.adoc): its chain is hard-linked into scratch
    space, aggregated there (aggregate-backup writes a new artifact and unlinks the old names: the
    chain's own files are untouched), and the result checked."""
    scratch = scratch_space(run)
    try:
        artifacts = fresh_dir(scratch / "artifacts", None, under=scratch)
        for path in [chain / f.name for m in runs for f in m.files] + [new]:
            try:
                os.link(path, artifacts / path.name)
            except OSError:
                shutil.copy2(path, artifacts / path.name, follow_symlinks=False)  # a link stays a link
        own(scratch, run.opts.owner)
        if not runs:
            return check_artifact(run, artifacts, scratch, f"full backup {new.name}")
        what = f"differential backup {new.name} with its chain {chain.name} ({len(runs) + 1} artifacts, aggregated)"
        aggregate = run.line.admin_aggregate(run.opts.database, artifacts)
        t0 = time.monotonic()
        code, output = run.opts.admin.call(aggregate, log=run.log)
        if code != 0:
            return judge(run, code, output, [aggregate], scratch / "reports", what, time.monotonic() - t0)
        check = check_artifact(run, artifacts, scratch, what)
        return Check(check.result, check.detail, f"aggregated first: {run.opts.admin.describe(aggregate)} "
                     f"(exit 0, {time.monotonic() - t0:.1f}s)\n{last_lines(output, 20)}\n\n{check.report}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

