"""Community (and any --method dump): the server stopped (only with --offline-ok) and started again whatever
happened; `neo4j-admin database dump --to-stdout` streamed into an S3 multipart upload (4.4: a dump file staged
locally, then uploaded), then checked."""
from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..facts import Counts
from ..shared.errors import BackupError, UsageError, describe
from ..shared.versions import dump_file_name
from .admin import StderrTail, fresh_dir, kill_group
from .artifact_check import check_artifact, check_loaded_dump, skipped
from .backup_run import BackupRun
from .layout import object_key
from .publish import finish, upload_file
from .s3 import download_verified, human, part_size_for, stream_upload
from .staging import check_staging, scratch_space, store_size


@dataclass(frozen=True)
class DumpSteps:
    """A dump in its two halves: `work` runs while the server is stopped, `complete(result, counts after)` once it
    runs again (the check, the manifest). dump() runs one between a stop and a start; a run of several databases
    (dbms_backup.py) runs every database's `work` within one stop."""
    work: Callable[[], Any]
    complete: Callable[[Any, Counts], dict]


def dump(run: BackupRun) -> dict:
    steps = dump_steps(run)
    result, after = offline(run, steps.work)
    return steps.complete(result, after)


def dump_steps(run: BackupRun) -> DumpSteps:
    """Refuses what cannot work (before anything is stopped) and returns the dump's two halves."""
    opts = run.opts
    if not opts.offline_ok:
        raise UsageError("a dump needs the database offline (Neo4j community cannot dump a running database): "
                         "pass --offline-ok to let backup.py stop Neo4j for the dump's duration "
                         "(--stop-command/--start-command say how)")
    if opts.control is None:
        raise UsageError("a dump needs --stop-command and --start-command")
    if run.facts.members > 1:
        raise UsageError(f"this server is one of {run.facts.members} cluster members: take online backups "
                         f"(--method online --from HOST:6362), not dumps")
    name = dump_file_name(opts.database)
    key = object_key(opts.stack, opts.database, run.stamp, name)
    if not run.line.supports_dump_to_stdout:
        return _dump_via_staging(run, key)
    scratch = scratch_space(run) if opts.check else None
    if scratch is not None:
        # The streamed dump has no local copy. Its check reads the object back from S3 into scratch space
        # on the data volume (the artifact as a restore would get it, sha256 verified), then `database
        # check --from-path` extracts and checks it, while Neo4j runs again: counted here, before the stop.
        check_staging(run, scratch, store_copies=2, what="the check of the dump (its download and extraction)")
    part = part_size_for(store_size(opts.admin, opts.database), opts.part_size)
    run.log(f"stopping Neo4j for the dump; streaming it to s3://{opts.bucket}/{key} in parts of {human(part)}")
    t0 = time.monotonic()

    def work():
        proc = opts.admin.popen(run.line.admin_dump_to_stdout(opts.database))
        tail = StderrTail(proc.stderr, echo=lambda text: run.log(f"  neo4j-admin: {text}"))

        def dump_succeeded() -> None:
            code = proc.wait()
            if code != 0:
                raise BackupError(f"neo4j-admin database dump failed (exit {code}):\n    "
                                  + tail.text().replace("\n", "\n    "))
        try:
            return stream_upload(run.s3, opts.bucket, key, proc.stdout, part_size=part,
                                 concurrency=opts.concurrency, spool_dir=opts.spool_dir, log=run.log,
                                 before_complete=dump_succeeded)
        except BaseException:
            kill_group(proc)
            raise
        finally:
            with contextlib.suppress(Exception):
                proc.stdout.close()

    return DumpSteps(work, lambda uploaded, after: _complete_streamed(run, key, name, scratch, uploaded, after,
                                                                     time.monotonic() - t0))


def _complete_streamed(run: BackupRun, key: str, name: str, scratch, uploaded, after: Counts, seconds: float) -> dict:
    opts = run.opts
    entry = uploaded.entry()
    if scratch is not None:
        try:
            artifact = fresh_dir(scratch / "artifact", None, under=scratch)
            run.log(f"reading the uploaded dump back into {artifact} for its consistency check")
            download_verified(run.s3, opts.bucket, key, artifact / name, entry, log=run.log)
            check = check_artifact(run, artifact, scratch, f"dump {name}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    else:
        check = skipped()
    return finish(run, [entry], "dump", "neo4j-admin database dump --to-stdout", after, seconds,
                  uploaded.size, upload_seconds=uploaded.seconds, check=check)


def _dump_via_staging(run: BackupRun, key: str) -> DumpSteps:
    # 4.4's dump writes only to a file: stage it, then upload it (kept under retention).
    opts = run.opts
    chain = fresh_dir(opts.staging / opts.database / run.stamp, opts.owner, under=opts.staging)
    check_staging(run, chain, store_copies=2 if opts.check else 1,
                  what="a dump" + (" and its check (a scratch store)" if opts.check else ""))
    t0 = time.monotonic()
    return DumpSteps(lambda: opts.admin.run(run.line.admin_dump_to_path(opts.database, chain), log=run.log),
                     lambda _, after: _complete_staged(run, key, chain, after, t0))


def _complete_staged(run: BackupRun, key: str, chain, after: Counts, t0: float) -> dict:
    opts = run.opts
    path = chain / dump_file_name(opts.database)
    uploaded = upload_file(run, path, key)
    if not opts.check:
        check = skipped()
    elif run.line.checks_dumps:
        scratch = scratch_space(run)
        try:
            check = check_artifact(run, chain, scratch, f"dump {path.name}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    else:
        check = check_loaded_dump(run, chain)
    return finish(run, [uploaded.entry()], "dump", "neo4j-admin dump", after, time.monotonic() - t0,
                  uploaded.size, chain=chain, check=check)


def offline(run: BackupRun, work):
    """Run `work` with the server stopped; start it again whatever happens. Returns (result, counts after)."""
    control = run.opts.control
    control.stop()
    failure: BaseException | None = None
    result = None
    try:
        result = work()
    except BaseException as error:
        failure = error
    try:
        after = control.start(run.opts.database)
    except BaseException as error:
        if failure is not None:
            raise BackupError(f"{describe(failure)}\nand then Neo4j did not come back: {describe(error)}; start it "
                              f"by hand: {' '.join(control.start_command)}") from None
        raise BackupError(f"Neo4j did not come back after the dump: {describe(error)}; start it by hand: "
                          f"{' '.join(control.start_command)}") from None
    if failure is not None:
        raise failure
    run.log(f"Neo4j is back: {after}")
    return result, after

