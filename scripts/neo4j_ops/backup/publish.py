"""What makes a backup complete: its artifact uploaded, then its check report, then its manifest, written last
(a prefix without a manifest is never restored)."""
from __future__ import annotations

import socket
from dataclasses import asdict
from pathlib import Path

from ..facts import Counts
from ..shared.errors import BackupError, describe
from .artifact_check import Check, skipped
from .backup_run import BackupRun
from .layout import CHECK_REPORT, FileEntry, Manifest, Parent, backup_prefix, object_key
from .s3 import human, part_size_for, put_manifest, stream_upload


def upload_file(run: BackupRun, path: Path, key: str):
    with open(path, "rb") as source:
        return stream_upload(run.s3, run.opts.bucket, key, source,
                             part_size=part_size_for(path.stat().st_size, run.opts.part_size),
                             concurrency=run.opts.concurrency, spool_dir=run.opts.spool_dir, log=run.log)


def finish(run: BackupRun, files: list[FileEntry], backup_type: str, method: str, after: Counts, seconds: float,
           size: int, chain: Path | None = None, parents: tuple[Parent, ...] = (),
           upload_seconds: float | None = None, check: Check | None = None) -> dict:
    opts = run.opts
    check = check or skipped()
    before = run.facts.counts
    exact = before == after
    if not exact:
        run.log(f"counts changed during the backup ({before} before, {after} after): the manifest records "
                f"the counts before, marked inexact")
    manifest = Manifest(
        stack=opts.stack, database=opts.database, timestamp=run.stamp, backup_type=backup_type, method=method,
        neo4j_version=run.version, edition=run.facts.edition, version_line=run.line.name, files=tuple(files),
        counts=before, counts_exact=exact, started=run.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        completed=opts.now().strftime("%Y-%m-%dT%H:%M:%SZ"), host=socket.gethostname(), parents=parents,
        chain=chain.name if chain else None, check=check.result, check_detail=check.detail)
    if check.report is not None:
        put_report(run, check.report)
    key = put_manifest(run.s3, opts.bucket, manifest)
    if chain is not None:
        (chain / f"manifest-{run.stamp}.json").write_text(manifest.to_json())
    prefix = f"s3://{opts.bucket}/{backup_prefix(opts.stack, opts.database, run.stamp)}"
    run.log(f"backup {run.stamp} complete: {prefix} ({backup_type}, {human(size)} in {seconds:.1f}s, "
            f"{human(size / max(seconds, 1e-6))}/s; manifest {key.rsplit('/', 1)[-1]} written last)")
    return {"backup": run.stamp, "prefix": prefix, "type": backup_type, "files": [f.__dict__ for f in files],
            "size": size, "sha256": files[0].sha256, "seconds": round(seconds, 3),
            "upload_seconds": round(upload_seconds, 3) if upload_seconds is not None else None,
            "bytes_per_second": round(size / max(upload_seconds or seconds, 1e-6)),
            "counts": counts_of(before), "counts_exact": exact,
            "neo4j_version": run.version, "edition": run.facts.edition, "check": check.result,
            "check_detail": check.detail}


def counts_of(counts) -> dict[str, int]:
    """A database's counts as the result shows them: nodes and relationships, or what `system` holds (users,
    databases, roles) with statements it accepts."""
    return {key: value for key, value in asdict(counts).items() if value is not None}


def put_report(run: BackupRun, report: str) -> None:
    """check-report.txt beside the manifest, before it: a manifest that says "passed" or "failed" always
    has its report."""
    from botocore.exceptions import BotoCoreError, ClientError

    key = object_key(run.opts.stack, run.opts.database, run.stamp, CHECK_REPORT)
    try:
        run.s3.put_object(Bucket=run.opts.bucket, Key=key, Body=report.encode(), ContentType="text/plain")
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"writing the check report s3://{run.opts.bucket}/{key} failed: {describe(error)}; "
                          f"no manifest was written: the backup stays incomplete") from None
