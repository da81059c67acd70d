"""Enterprise: the online backup from a backup listener. 5.26 and 2025: a full backup straight to the backup's own
S3 prefix; their differentials (--type diff), and every backup with --via-staging or on a 5.x before 5.24:
`neo4j-admin database backup` into a local chain (full, then differentials) and the new artifact uploaded; 4.4: a
backup folder updated in place and uploaded whole, as a tar."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from ..shared.errors import BackupError, UsageError, describe
from ..shared.versions import Version
from .admin import StderrTail, indent, kill_group, last_lines, own
from .artifact_check import check_artifact, check_chain, judge, reason, skipped
from .backup_run import BackupRun
from .chains import current_chain, new_chain
from .layout import CHECK_REPORT, MANIFEST, FileEntry, Manifest, Parent, backup_prefix, object_key
from .publish import finish, upload_file
from .s3 import human, part_size_for, stream_upload
from .staging import check_staging, scratch_space, tree_size


def online(run: BackupRun) -> dict:
    opts = run.opts
    if opts.kind != "auto" and not run.line.backs_up_to_artifacts:
        raise UsageError(f"--type {opts.kind} needs Neo4j 5.x or 2025: 4.4's neo4j-admin backup has no --type "
                         f"(it is incremental into its folder); leave --type out")
    if run.line.backs_up_to_s3(Version.parse(run.version)) and not opts.via_staging:
        if opts.kind != "diff":
            return _online_to_s3(run)
        # A differential needs its chain in the directory it writes to; each backup straight to S3 has a prefix
        # of its own, so differentials extend the local chain.
        run.log("--type diff: differentials extend the local chain (a backup straight to S3 is a full one)")
    if opts.kind == "full":
        run.log(f"--type full: starting a new chain of {opts.database} with a full backup")
        chain, runs = new_chain(run), []
    else:
        chain, runs = current_chain(run)
        if opts.kind == "diff" and not runs:
            run.log(f"--type diff: {opts.database} has no complete chain to extend: taking a FULL backup instead, "
                    f"which starts one")
    t0 = time.monotonic()
    if not run.line.backs_up_to_artifacts:
        return _online_folder(run, chain, runs, t0)
    kind = "DIFF" if runs else "FULL"
    check_staging(run, chain, store_copies=(0.1 if runs else 1) + (2 if opts.check else 0),
                  what=("a differential backup" if runs else "a full backup")
                  + (" and its check (aggregated copy, extraction)" if opts.check else ""))
    try:
        new = _artifact(run, chain, kind)
    except BackupError as error:
        if kind != "DIFF":
            raise
        # The chain is broken (its artifacts damaged, or the transactions a differential needs pruned on
        # the source): AUTO would silently change the type the manifest must record, so FULL, a new chain.
        run.log(f"the differential backup onto chain {chain.name} failed ({reason(str(error))}): starting "
                f"a new chain with a full backup")
        chain, runs, kind = new_chain(run), [], "FULL"
        check_staging(run, chain, store_copies=1 + (2 if opts.check else 0), what="a full backup")
        new = _artifact(run, chain, kind)
    key = object_key(opts.stack, opts.database, run.stamp, new.name)
    uploaded = upload_file(run, new, key)
    check = check_chain(run, chain, runs, new) if opts.check else skipped()
    after = opts.neo4j.facts(opts.database).counts
    return finish(run, [uploaded.entry()], "differential" if runs else "full",
                  f"neo4j-admin database backup --type={kind}", after, time.monotonic() - t0,
                  uploaded.size, chain=chain, parents=tuple(Parent(m.timestamp, m.files) for m in runs),
                  check=check)


def _artifact(run: BackupRun, chain: Path, kind: str) -> Path:
    before = set(chain.glob("*.backup"))
    run.opts.admin.run(run.line.admin_online_backup(run.opts.database, run.opts.source, chain, kind=kind),
                       log=run.log)
    new = sorted(set(chain.glob("*.backup")) - before)
    if len(new) != 1:
        raise BackupError(f"neo4j-admin database backup left {len(new)} new artifact(s) in {chain}, "
                          f"expected one: {', '.join(p.name for p in new) or 'none'}")
    return new[0]


def _online_folder(run: BackupRun, chain: Path, runs: list[Manifest], t0: float) -> dict:
    """4.4: `neo4j-admin backup` into the chain's folder: incremental when it holds a backup, falling back
    to full (the old folder moved aside to <database>.err.N) when the incremental fails. The backup runs
    its own consistency check (exit 2: "Backup succeeded but consistency check failed", 3: "… found
    inconsistencies", 4.4 online-backup.adoc); the folder is uploaded whole, as a tar."""
    opts = run.opts
    check_staging(run, chain, store_copies=1, what="a 4.4 backup folder (checked in place)")
    before = {p.name for p in chain.glob(f"{opts.database}.err.*")}
    reports = chain / f"check-{run.stamp}"
    if opts.check:
        reports.mkdir(exist_ok=True)
        own(reports, opts.owner)
    args = run.line.admin_online_backup(opts.database, opts.source, chain, check=opts.check, report_dir=reports)
    code, output = opts.admin.call(args, log=run.log)
    seconds = time.monotonic() - t0
    try:
        if code not in (0, 2, 3) or (code in (2, 3) and not opts.check):
            raise BackupError(f"{opts.admin.describe(args)} failed (exit {code}):\n"
                              f"{indent(last_lines(output, 25))}")
        what = f"4.4 backup folder {opts.database}"
        check = judge(run, code, output, [args], reports, what, seconds) if opts.check else skipped()
    finally:
        shutil.rmtree(reports, ignore_errors=True)
    moved = sorted({p.name for p in chain.glob(f"{opts.database}.err.*")} - before)
    if moved:
        run.log(f"the incremental backup into chain {chain.name} failed and neo4j-admin fell back to a full "
                f"backup (the old folder was moved to {', '.join(moved)}, now removed: it is in S3)")
        for name in moved:
            shutil.rmtree(chain / name, ignore_errors=True)
        how = "full, after the incremental failed"
    else:
        how = "incremental" if runs else "full"
    name = f"{opts.database}.backup.tar"
    key = object_key(opts.stack, opts.database, run.stamp, name)
    proc = subprocess.Popen(["tar", "-C", str(chain), "-cf", "-", opts.database], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    tail = StderrTail(proc.stderr)

    def tar_succeeded() -> None:
        if proc.wait() != 0:
            raise BackupError(f"tar of {chain / opts.database} failed: {tail.text()}")
    try:
        uploaded = stream_upload(run.s3, opts.bucket, key, proc.stdout, part_size=part_size_for(
            tree_size(chain / opts.database), opts.part_size), concurrency=opts.concurrency,
            spool_dir=opts.spool_dir, log=run.log, before_complete=tar_succeeded)
    except BaseException:
        kill_group(proc)
        raise
    after = opts.neo4j.facts(opts.database).counts
    # Every upload is the whole folder: a full backup in S3 whatever the run was locally.
    return finish(run, [uploaded.entry()], "full", f"neo4j-admin backup ({how}; 4.4 backup folder, as tar)",
                  after, time.monotonic() - t0, uploaded.size, chain=chain, check=check)


def _online_to_s3(run: BackupRun) -> dict:
    """5.26, 2025: `neo4j-admin database backup --to-path=s3://<bucket>/<backup prefix>` writes the artifact
    straight into the backup's own prefix; nothing is kept locally. It still needs a local --temp-path the
    size of the store ("the backup process still requires a temporary local directory to store the
    database store files and transaction logs before … streaming the backup artifact to the cloud
    destination", dev online-backup.adoc): on the data volume, removed afterwards. Each run is a full
    backup (--type=FULL): a differential needs its chain in the same directory, and every backup here
    has a prefix of its own. The manifest is then written from the objects listed under the prefix
    (each read back once for its sha256); the check reads the artifact from S3 too."""
    opts = run.opts
    prefix = backup_prefix(opts.stack, opts.database, run.stamp)
    target = f"s3://{opts.bucket}/{prefix}"
    scratch = scratch_space(run)
    try:
        check_staging(run, scratch, store_copies=1, what="neo4j-admin's --temp-path for a backup to S3"
                      + (" (then the check's extraction)" if opts.check else ""))
        if opts.endpoint_url:
            # "the environments variables `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`" (aws-s3-overrides.adoc)
            opts.admin.extra_env.setdefault("AWS_ENDPOINT_URL_S3", opts.endpoint_url)
        if opts.region:
            opts.admin.extra_env.setdefault("AWS_REGION", opts.region)
        temp = scratch / "backup-temp"
        temp.mkdir()
        own(scratch, opts.owner)
        t0 = time.monotonic()
        run.log(f"backing up straight to {target} (--temp-path {temp})")
        opts.admin.run(run.line.admin_online_backup(opts.database, opts.source, target, kind="FULL",
                                                    temp_dir=temp), log=run.log)
        seconds = time.monotonic() - t0
        shutil.rmtree(temp, ignore_errors=True)
        files = _listed_files(run, prefix)
        if run.line.checks_from_s3(Version.parse(run.version)) and opts.check:
            check = check_artifact(run, target, scratch, f"full backup {target}")
        else:
            check = skipped("--no-check" if not opts.check else "this line cannot check a backup in S3")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    after = opts.neo4j.facts(opts.database).counts
    return finish(run, files, "full", "neo4j-admin database backup --type=FULL --to-path=s3://…", after,
                  seconds, sum(f.size for f in files), check=check)


def _listed_files(run: BackupRun, prefix: str) -> list[FileEntry]:
    """What neo4j-admin wrote under the prefix, each object read back once (streamed) for its sha256."""
    import hashlib

    from botocore.exceptions import BotoCoreError, ClientError

    opts = run.opts
    files = []
    try:
        listing = run.s3.list_objects_v2(Bucket=opts.bucket, Prefix=prefix).get("Contents", [])
        for item in listing:
            name = item["Key"][len(prefix):]
            if not name or "/" in name or name in (MANIFEST, CHECK_REPORT):
                continue
            digest = hashlib.sha256()
            body = run.s3.get_object(Bucket=opts.bucket, Key=item["Key"])["Body"]
            for chunk in body.iter_chunks(chunk_size=8 * 1024 * 1024):
                digest.update(chunk)
            files.append(FileEntry(name, item["Size"], digest.hexdigest()))
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"reading what neo4j-admin wrote to s3://{opts.bucket}/{prefix} failed: "
                          f"{describe(error)}; no manifest was written") from None
    if not files:
        raise BackupError(f"neo4j-admin database backup reported success but wrote nothing under "
                          f"s3://{opts.bucket}/{prefix}; no manifest was written")
    run.log(f"neo4j-admin wrote {', '.join(f'{f.name} ({human(f.size)})' for f in files)} under {prefix}")
    return files

