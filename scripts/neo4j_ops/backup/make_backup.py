"""One backup run: take it, upload it, write its manifest last, prune local staging.

Community (and any `--method dump`): the server is stopped (only with --offline-ok), `neo4j-admin
database dump --to-stdout` is streamed into an S3 multipart upload, the server is started again
whatever happened. Enterprise: `neo4j-admin database backup --type=AUTO` from the backup address
into a local chain directory (full, then differentials), and the new artifact is uploaded.
"""
from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..facts import Counts, ServerFacts
from ..shared.errors import BackupError, UsageError, describe
from ..shared.versions import VersionLine, dump_file_name, line_of
from .admin import AdminTool, StderrTail, indent, kill_group, last_lines, own
from .expiry import tag_expirable
from .layout import (
    CHECK_REPORT,
    MANIFEST,
    FileEntry,
    Manifest,
    ManifestError,
    Parent,
    backup_prefix,
    is_timestamp,
    object_key,
    parse_manifest,
)
from .layout import timestamp as make_timestamp
from .options import Job
from .retention import prune, verified_run
from .s3 import (
    check_bucket,
    check_writable,
    client,
    download_verified,
    human,
    part_size_for,
    put_manifest,
    stream_upload,
)
from .source import choose_source

DEFAULT_BACKUP_PORT = 6362


@dataclass
class BackupOptions(Job):
    offline_ok: bool = False  # community: the server may be stopped for the dump (with `control`)
    source: str | None = None  # enterprise: host:port of the backup listener
    method: str = "auto"  # auto | dump | online
    staging: Path = Path("/var/lib/neo4j/data/backup-staging")  # on the data volume, not the root disk
    local_retention_days: int = 3
    full_every_days: int = 7
    part_size: int | None = None
    concurrency: int = 8
    spool_dir: str | None = None
    min_free: int = 1024 ** 3  # the least free space staging must have before a backup that stages starts
    check: bool = True  # consistency-check the artifact (--no-check: the manifest says skipped)
    via_staging: bool = False  # 2025: keep the local chain instead of backing up straight to S3
    tag_expiry: bool = True  # tag older backups expirable=true after a complete, checked run (expiry.py)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def run_backup(opts: BackupOptions) -> dict:
    log = opts.log
    s3 = client(opts.endpoint_url, opts.region, opts.concurrency)
    check_bucket(s3, opts.bucket)
    started = opts.now()
    stamp = make_timestamp(started)
    existing = s3.list_objects_v2(Bucket=opts.bucket, Prefix=backup_prefix(opts.stack, opts.database, stamp),
                                  MaxKeys=1)
    if existing.get("KeyCount"):
        raise BackupError(f"s3://{opts.bucket}/{backup_prefix(opts.stack, opts.database, stamp)} already exists: "
                          f"another backup ran this second; try again")
    check_writable(s3, opts.bucket, object_key(opts.stack, opts.database, stamp, dump_file_name(opts.database)))
    if not opts.neo4j.port_open():
        raise BackupError(f"Neo4j is not running: nothing answers at {opts.neo4j.uri} (start it: "
                          f"{' '.join(opts.control.start_command) if opts.control else 'systemctl start neo4j'})")
    log(f"asking Neo4j at {opts.neo4j.uri} for its version and the counts of {opts.database!r}")
    try:
        facts = opts.neo4j.facts(opts.database)
    except BackupError as error:
        raise BackupError(f"{error}\nNeo4j must be running when a backup starts: its version and the counts the "
                          f"manifest records are read over Bolt (--uri)") from None
    version = opts.version or facts.version
    try:
        line = line_of(version)
    except ValueError as error:
        raise UsageError(str(error)) from None
    method = opts.method if opts.method != "auto" else ("online" if facts.edition == "enterprise" else "dump")
    log(f"Neo4j {version} {facts.edition}; {facts.counts} in {opts.database!r}; backup method: {method}")
    context = _Run(opts, s3, stamp, started, facts, version, line)
    if method == "online":
        if facts.edition != "enterprise":
            raise UsageError("online backups need Neo4j Enterprise; this server is community: use --method dump")
        opts.source = backup_source(opts, facts)
        result = context.online()
        result["source"] = opts.source
    else:
        result = context.dump()
    decisions = prune(opts.staging, opts.database, opts.local_retention_days, opts.now(), log=log)
    result["pruned"] = [d.chain.name for d in decisions if d.delete]
    result["peak_rss_bytes"] = peak_rss()
    result["children_peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if result["check"] == "failed":
        raise BackupError(f"backup {stamp} was uploaded but failed its consistency check: its manifest marks it "
                          f"failed, so no restore will pick it and it keeps no older backup from expiring. "
                          f"{result['check_detail']}\nreport: {result['prefix']}{CHECK_REPORT}")
    if opts.tag_expiry:
        try:
            result["expiry"] = tag_expirable(s3, opts.bucket, opts.stack, opts.database, log=log)
        except BackupError as error:  # the backup is complete; old backups just do not expire yet
            log(f"warning: {error}")
            result["expiry"] = {"error": str(error)}
    return result


def backup_source(opts: BackupOptions, facts: ServerFacts) -> str:
    """The backup listener to use: in a cluster, a server that hosts the database, from the cluster's own
    view (source.py; --from only names the one preferred); standalone, --from or this server."""
    named = opts.source if opts.source and opts.source != "auto" else None
    port = int(named.rsplit(":", 1)[1]) if named and ":" in named else DEFAULT_BACKUP_PORT
    if facts.members <= 1:
        return named or f"localhost:{port}"
    chosen = choose_source(facts.databases, opts.database, port, named)
    opts.log(f"backing up {opts.database!r} from {chosen.address}: {chosen.why}")
    return chosen.address


class _Run:
    def __init__(self, opts: BackupOptions, s3, stamp: str, started: datetime, facts: ServerFacts, version: str,
                 line: VersionLine):
        self.opts, self.s3, self.stamp, self.started = opts, s3, stamp, started
        self.facts, self.version, self.line = facts, version, line
        self.log = opts.log

    # -- community: offline dump, streamed ------------------------------------------------------------

    def dump(self) -> dict:
        opts = self.opts
        if not opts.offline_ok:
            raise UsageError("a dump needs the database offline (Neo4j community cannot dump a running database): "
                             "pass --offline-ok to let backup.py stop Neo4j for the dump's duration "
                             "(--stop-command/--start-command say how)")
        if opts.control is None:
            raise UsageError("a dump needs --stop-command and --start-command")
        if self.facts.members > 1:
            raise UsageError(f"this server is one of {self.facts.members} cluster members: take online backups "
                             f"(--method online --from HOST:6362), not dumps")
        name = dump_file_name(opts.database)
        key = object_key(opts.stack, opts.database, self.stamp, name)
        if not self.line.supports_dump_to_stdout:
            return self._dump_via_staging(key)
        scratch = self._scratch() if opts.check else None
        if scratch is not None:
            # The streamed dump has no local copy. Its check reads the object back from S3 into scratch space
            # on the data volume (the artifact as a restore would get it, sha256 verified), then `database
            # check --from-path` extracts and checks it, while Neo4j runs again: counted here, before the stop.
            self._check_staging(scratch, store_copies=2, what="the check of the dump (its download and extraction)")
        part = part_size_for(_store_size(opts.admin, opts.database), opts.part_size)
        self.log(f"stopping Neo4j for the dump; streaming it to s3://{opts.bucket}/{key} in parts of {human(part)}")
        t0 = time.monotonic()

        def work():
            proc = opts.admin.popen(self.line.admin_dump_to_stdout(opts.database))
            tail = StderrTail(proc.stderr, echo=lambda text: self.log(f"  neo4j-admin: {text}"))

            def dump_succeeded() -> None:
                code = proc.wait()
                if code != 0:
                    raise BackupError(f"neo4j-admin database dump failed (exit {code}):\n    "
                                      + tail.text().replace("\n", "\n    "))
            try:
                return stream_upload(self.s3, opts.bucket, key, proc.stdout, part_size=part,
                                     concurrency=opts.concurrency, spool_dir=opts.spool_dir, log=self.log,
                                     before_complete=dump_succeeded)
            except BaseException:
                kill_group(proc)
                raise
            finally:
                with contextlib.suppress(Exception):
                    proc.stdout.close()

        uploaded, after = self._offline(work)
        seconds = time.monotonic() - t0
        entry = uploaded.entry()
        if scratch is not None:
            try:
                artifact = scratch / "artifact"
                artifact.mkdir(parents=True, exist_ok=True)
                self.log(f"reading the uploaded dump back into {artifact} for its consistency check")
                download_verified(self.s3, opts.bucket, key, artifact / name, entry, log=self.log)
                check = self._check_artifact(artifact, scratch, f"dump {name}")
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        else:
            check = _skipped()
        return self._finish([entry], "dump", "neo4j-admin database dump --to-stdout", after, seconds,
                            uploaded.size, upload_seconds=uploaded.seconds, check=check)

    def _dump_via_staging(self, key: str) -> dict:
        # 4.4's dump writes only to a file: stage it, then upload it (kept under retention).
        opts = self.opts
        chain = opts.staging / opts.database / self.stamp
        chain.mkdir(parents=True, exist_ok=True)
        own(chain, opts.owner)
        self._check_staging(chain, store_copies=2 if opts.check else 1,
                            what="a dump" + (" and its check (a scratch store)" if opts.check else ""))
        t0 = time.monotonic()
        _, after = self._offline(lambda: opts.admin.run(self.line.admin_dump_to_path(opts.database, chain),
                                                        log=self.log))
        path = chain / dump_file_name(opts.database)
        uploaded = self._upload_file(path, key)
        if not opts.check:
            check = _skipped()
        elif self.line.checks_dumps:
            scratch = self._scratch()
            try:
                check = self._check_artifact(chain, scratch, f"dump {path.name}")
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        else:
            check = self._check_loaded_dump(chain)
        return self._finish([uploaded.entry()], "dump", "neo4j-admin dump", after, time.monotonic() - t0,
                            uploaded.size, chain=chain, check=check)

    def _offline(self, work):
        """Run `work` with the server stopped; start it again whatever happens. Returns (result, counts after)."""
        control = self.opts.control
        control.stop()
        failure: BaseException | None = None
        result = None
        try:
            result = work()
        except BaseException as error:
            failure = error
        try:
            after = control.start(self.opts.database)
        except BaseException as error:
            if failure is not None:
                raise BackupError(f"{describe(failure)}\nand then Neo4j did not come back: {describe(error)}; start it "
                                  f"by hand: {' '.join(control.start_command)}") from None
            raise BackupError(f"Neo4j did not come back after the dump: {describe(error)}; start it by hand: "
                              f"{' '.join(control.start_command)}") from None
        if failure is not None:
            raise failure
        self.log(f"Neo4j is back: {after}")
        return result, after

    # -- the consistency check of the artifact --------------------------------------------------------

    def _scratch(self) -> Path:
        """Scratch space for a check, on the data volume beside the chains (not a timestamp: never a chain)."""
        staging = self.opts.staging
        if not staging.is_dir() and not staging.parent.is_dir():
            raise UsageError(f"--staging-dir {staging} does not exist, nor does {staging.parent} (is the data volume "
                             f"mounted?): the consistency check needs scratch space there; pass another "
                             f"--staging-dir, or --no-check")
        scratch = staging / self.opts.database / f"check-{self.stamp}"
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True)
        own(scratch, self.opts.owner)
        return scratch

    def _check_artifact(self, source: Path | str, scratch: Path, what: str) -> Check:
        """`neo4j-admin database check --from-path=<source>` (5.x+): extracts into scratch, reports there."""
        temp, reports = scratch / "temp", scratch / "reports"
        for directory in (temp, reports):
            directory.mkdir(parents=True, exist_ok=True)
        own(scratch, self.opts.owner)
        args = self.line.admin_check(self.opts.database, source, temp, reports)
        self.log(f"checking the consistency of {what}")
        t0 = time.monotonic()
        code, output = self.opts.admin.call(args, log=self.log)
        return self._judge(code, output, [args], reports, what, time.monotonic() - t0)

    def _check_loaded_dump(self, chain: Path) -> Check:
        """4.4: load the dump into a scratch store (its own NEO4J_CONF) and check that store."""
        opts = self.opts
        scratch = self._scratch()
        try:
            conf, reports = scratch / "conf", scratch / "reports"
            for directory in (conf, reports, scratch / "data", scratch / "logs"):
                directory.mkdir(parents=True, exist_ok=True)
            (conf / "neo4j.conf").write_text(f"{self.line.data_directory_setting}={scratch / 'data'}\n")
            own(scratch, opts.owner)
            what = f"dump {dump_file_name(opts.database)} (loaded into a scratch store)"
            load = self.line.admin_load(opts.database, chain)
            t0 = time.monotonic()
            code, output = opts.admin.call(load, conf=conf, log=self.log)
            if code != 0:
                return self._judge(code, output, [load], reports, what, time.monotonic() - t0)
            check = self.line.admin_check_store(opts.database, reports)
            self.log(f"checking the consistency of {what}")
            code, more = opts.admin.call(check, conf=conf, log=self.log)
            return self._judge(code, output + "\n" + more, [load, check], reports, what, time.monotonic() - t0)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _judge(self, code: int, output: str, commands: list[list[str]], reports: Path, what: str,
               seconds: float) -> Check:
        """A check's outcome: exit 0 passed, anything else failed ("If the consistency checker finds errors,
        it exits with an exit code other than `0` and writes a report file", 5.x consistency-checker.adoc),
        with the report file(s) and the output's tail for check-report.txt."""
        found = sorted(reports.rglob("*.report")) if reports.is_dir() else []
        result = "passed" if code == 0 else "failed"
        detail = (f"{what}: consistent ({seconds:.1f}s)" if code == 0
                  else f"{what}: exit {code}: {_reason(output)}")
        lines = [f"consistency check of {what}: {result}",
                 *[f"command: {self.opts.admin.describe(c)}" for c in commands], f"exit status: {code}",
                 f"seconds: {seconds:.1f}", "", "output (last 200 lines):", last_lines(output, 200)]
        for path in found:
            with contextlib.suppress(OSError):
                lines += ["", f"--- {path.name} ---", path.read_text(errors="replace")[:4 * 1024 * 1024]]
        self.log(f"consistency check {result}: {detail}")
        return Check(result, detail, "\n".join(lines) + "\n")

    # -- enterprise: online backup into a local chain -------------------------------------------------

    def online(self) -> dict:
        opts = self.opts
        if self.line.backs_up_to_s3 and not opts.via_staging:
            return self._online_to_s3()
        chain, runs = self._chain()
        t0 = time.monotonic()
        if not self.line.backs_up_to_artifacts:
            return self._online_folder(chain, runs, t0)
        kind = "DIFF" if runs else "FULL"
        self._check_staging(chain, store_copies=(0.1 if runs else 1) + (2 if opts.check else 0),
                            what=("a differential backup" if runs else "a full backup")
                            + (" and its check (aggregated copy, extraction)" if opts.check else ""))
        try:
            new = self._artifact(chain, kind)
        except BackupError as error:
            if kind != "DIFF":
                raise
            # The chain is broken (its artifacts damaged, or the transactions a differential needs pruned on
            # the source): AUTO would silently change the type the manifest must record, so FULL, a new chain.
            self.log(f"the differential backup onto chain {chain.name} failed ({_reason(str(error))}): starting "
                     f"a new chain with a full backup")
            chain, runs, kind = self._new_chain(), [], "FULL"
            self._check_staging(chain, store_copies=1 + (2 if opts.check else 0), what="a full backup")
            new = self._artifact(chain, kind)
        key = object_key(opts.stack, opts.database, self.stamp, new.name)
        uploaded = self._upload_file(new, key)
        check = self._check_chain(chain, runs, new) if opts.check else _skipped()
        after = opts.neo4j.facts(opts.database).counts
        return self._finish([uploaded.entry()], "differential" if runs else "full",
                            f"neo4j-admin database backup --type={kind}", after, time.monotonic() - t0,
                            uploaded.size, chain=chain, parents=tuple(Parent(m.timestamp, m.files) for m in runs),
                            check=check)

    def _artifact(self, chain: Path, kind: str) -> Path:
        before = set(chain.glob("*.backup"))
        self.opts.admin.run(self.line.admin_online_backup(self.opts.database, self.opts.source, chain, kind=kind),
                            log=self.log)
        new = sorted(set(chain.glob("*.backup")) - before)
        if len(new) != 1:
            raise BackupError(f"neo4j-admin database backup left {len(new)} new artifact(s) in {chain}, "
                              f"expected one: {', '.join(p.name for p in new) or 'none'}")
        return new[0]

    def _check_chain(self, chain: Path, runs: list[Manifest], new: Path) -> Check:
        """A full artifact is checked as it is. A differential cannot be ("consistency check is not supported
        for differential backups. The backup chain must be aggregated into a full backup artifact before
        running consistency check", 5.x consistency-checker.adoc): its chain is hard-linked into scratch
        space, aggregated there (aggregate-backup writes a new artifact and unlinks the old names: the
        chain's own files are untouched), and the result checked."""
        scratch = self._scratch()
        try:
            artifacts = scratch / "artifacts"
            artifacts.mkdir()
            for path in [chain / f.name for m in runs for f in m.files] + [new]:
                try:
                    os.link(path, artifacts / path.name)
                except OSError:
                    shutil.copy2(path, artifacts / path.name)
            own(scratch, self.opts.owner)
            if not runs:
                return self._check_artifact(artifacts, scratch, f"full backup {new.name}")
            what = f"differential backup {new.name} with its chain {chain.name} ({len(runs) + 1} artifacts, aggregated)"
            aggregate = self.line.admin_aggregate(self.opts.database, artifacts)
            t0 = time.monotonic()
            code, output = self.opts.admin.call(aggregate, log=self.log)
            if code != 0:
                return self._judge(code, output, [aggregate], scratch / "reports", what, time.monotonic() - t0)
            check = self._check_artifact(artifacts, scratch, what)
            return Check(check.result, check.detail, f"aggregated first: {self.opts.admin.describe(aggregate)} "
                         f"(exit 0, {time.monotonic() - t0:.1f}s)\n{last_lines(output, 20)}\n\n{check.report}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _online_folder(self, chain: Path, runs: list[Manifest], t0: float) -> dict:
        """4.4: `neo4j-admin backup` into the chain's folder: incremental when it holds a backup, falling back
        to full (the old folder moved aside to <database>.err.N) when the incremental fails. The backup runs
        its own consistency check (exit 2: "Backup succeeded but consistency check failed", 3: "… found
        inconsistencies", 4.4 online-backup.adoc); the folder is uploaded whole, as a tar."""
        opts = self.opts
        self._check_staging(chain, store_copies=1, what="a 4.4 backup folder (checked in place)")
        before = {p.name for p in chain.glob(f"{opts.database}.err.*")}
        reports = chain / f"check-{self.stamp}"
        if opts.check:
            reports.mkdir(exist_ok=True)
            own(reports, opts.owner)
        args = self.line.admin_online_backup(opts.database, opts.source, chain, check=opts.check, report_dir=reports)
        code, output = opts.admin.call(args, log=self.log)
        seconds = time.monotonic() - t0
        try:
            if code not in (0, 2, 3) or (code in (2, 3) and not opts.check):
                raise BackupError(f"{opts.admin.describe(args)} failed (exit {code}):\n"
                                  f"{indent(last_lines(output, 25))}")
            what = f"4.4 backup folder {opts.database}"
            check = self._judge(code, output, [args], reports, what, seconds) if opts.check else _skipped()
        finally:
            shutil.rmtree(reports, ignore_errors=True)
        moved = sorted({p.name for p in chain.glob(f"{opts.database}.err.*")} - before)
        if moved:
            self.log(f"the incremental backup into chain {chain.name} failed and neo4j-admin fell back to a full "
                     f"backup (the old folder was moved to {', '.join(moved)}, now removed: it is in S3)")
            for name in moved:
                shutil.rmtree(chain / name, ignore_errors=True)
            how = "full, after the incremental failed"
        else:
            how = "incremental" if runs else "full"
        name = f"{opts.database}.backup.tar"
        key = object_key(opts.stack, opts.database, self.stamp, name)
        proc = subprocess.Popen(["tar", "-C", str(chain), "-cf", "-", opts.database], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        tail = StderrTail(proc.stderr)

        def tar_succeeded() -> None:
            if proc.wait() != 0:
                raise BackupError(f"tar of {chain / opts.database} failed: {tail.text()}")
        try:
            uploaded = stream_upload(self.s3, opts.bucket, key, proc.stdout, part_size=part_size_for(
                _tree_size(chain / opts.database), opts.part_size), concurrency=opts.concurrency,
                spool_dir=opts.spool_dir, log=self.log, before_complete=tar_succeeded)
        except BaseException:
            kill_group(proc)
            raise
        after = opts.neo4j.facts(opts.database).counts
        # Every upload is the whole folder: a full backup in S3 whatever the run was locally.
        return self._finish([uploaded.entry()], "full", f"neo4j-admin backup ({how}; 4.4 backup folder, as tar)",
                            after, time.monotonic() - t0, uploaded.size, chain=chain, check=check)

    def _online_to_s3(self) -> dict:
        """2025: `neo4j-admin database backup --to-path=s3://<bucket>/<backup prefix>` writes the artifact
        straight into the backup's own prefix; nothing is kept locally. It still needs a local --temp-path the
        size of the store ("the backup process still requires a temporary local directory to store the
        database store files and transaction logs before … streaming the backup artifact to the cloud
        destination", dev online-backup.adoc): on the data volume, removed afterwards. Each run is a full
        backup (--type=FULL): a differential needs its chain in the same directory, and every backup here
        has a prefix of its own. The manifest is then written from the objects listed under the prefix
        (each read back once for its sha256); the check reads the artifact from S3 too."""
        opts = self.opts
        prefix = backup_prefix(opts.stack, opts.database, self.stamp)
        target = f"s3://{opts.bucket}/{prefix}"
        scratch = self._scratch()
        try:
            self._check_staging(scratch, store_copies=1, what="neo4j-admin's --temp-path for a backup to S3"
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
            self.log(f"backing up straight to {target} (--temp-path {temp})")
            opts.admin.run(self.line.admin_online_backup(opts.database, opts.source, target, kind="FULL",
                                                         temp_dir=temp), log=self.log)
            seconds = time.monotonic() - t0
            shutil.rmtree(temp, ignore_errors=True)
            files = self._listed_files(prefix)
            if self.line.checks_from_s3 and opts.check:
                check = self._check_artifact(target, scratch, f"full backup {target}")
            else:
                check = _skipped("--no-check" if not opts.check else "this line cannot check a backup in S3")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        after = opts.neo4j.facts(opts.database).counts
        return self._finish(files, "full", "neo4j-admin database backup --type=FULL --to-path=s3://…", after,
                            seconds, sum(f.size for f in files), check=check)

    def _listed_files(self, prefix: str) -> list[FileEntry]:
        """What neo4j-admin wrote under the prefix, each object read back once (streamed) for its sha256."""
        import hashlib

        from botocore.exceptions import BotoCoreError, ClientError

        opts = self.opts
        files = []
        try:
            listing = self.s3.list_objects_v2(Bucket=opts.bucket, Prefix=prefix).get("Contents", [])
            for item in listing:
                name = item["Key"][len(prefix):]
                if not name or "/" in name or name in (MANIFEST, CHECK_REPORT):
                    continue
                digest = hashlib.sha256()
                body = self.s3.get_object(Bucket=opts.bucket, Key=item["Key"])["Body"]
                for chunk in body.iter_chunks(chunk_size=8 * 1024 * 1024):
                    digest.update(chunk)
                files.append(FileEntry(name, item["Size"], digest.hexdigest()))
        except (ClientError, BotoCoreError) as error:
            raise BackupError(f"reading what neo4j-admin wrote to s3://{opts.bucket}/{prefix} failed: "
                              f"{describe(error)}; no manifest was written") from None
        if not files:
            raise BackupError(f"neo4j-admin database backup reported success but wrote nothing under "
                              f"s3://{opts.bucket}/{prefix}; no manifest was written")
        self.log(f"neo4j-admin wrote {', '.join(f'{f.name} ({human(f.size)})' for f in files)} under {prefix}")
        return files

    def _new_chain(self) -> Path:
        chain = self.opts.staging / self.opts.database / self.stamp
        chain.mkdir(parents=True, exist_ok=True)
        own(chain, self.opts.owner)
        return chain

    def _chain(self) -> tuple[Path, list[Manifest]]:
        """The chain directory this run adds to, and the uploaded runs already in it; a new chain (and a full
        backup) when there is none, or it is damaged, failed a check, or is older than --full-every-days."""
        opts = self.opts
        root = opts.staging / opts.database
        chains = sorted(p for p in root.iterdir() if p.is_dir() and is_timestamp(p.name)) if root.is_dir() else []
        if chains:
            current = chains[-1]
            copies = sorted(current.glob("manifest-*.json"))
            runs = _local_manifests(current)
            recorded = {f.name for m in runs for f in m.files}
            unrecorded = [p.name for p in current.glob("*.backup") if p.name not in recorded]
            age = self.started - datetime.strptime(current.name, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            failed = [m.timestamp for m in runs if m.check == "failed"]
            if not self.line.backs_up_to_artifacts:
                unrecorded = []  # the 4.4 folder is updated in place; every run uploads all of it
            if not runs:
                self.log(f"chain {current.name} has no uploaded run: starting a new chain with a full backup")
            elif len(runs) != len(copies):
                self.log(f"chain {current.name} is damaged ({len(copies) - len(runs)} of its runs no longer match "
                         f"their files): starting a new chain with a full backup")
            elif unrecorded:
                self.log(f"chain {current.name} holds artifact(s) never uploaded ({', '.join(unrecorded)}): "
                         f"starting a new chain with a full backup")
            elif failed:
                self.log(f"chain {current.name} holds backup {failed[-1]}, which failed its consistency check: "
                         f"starting a new chain with a full backup")
            elif age > timedelta(days=opts.full_every_days):
                self.log(f"chain {current.name} is {age.days} days old (--full-every-days "
                         f"{opts.full_every_days}): starting a new chain with a full backup")
            else:
                self.log(f"adding to chain {current.name} ({len(runs)} uploaded run(s))")
                return current, runs
        return self._new_chain(), []

    # -- common ---------------------------------------------------------------------------------------

    def _check_staging(self, where: Path, *, store_copies: float, what: str) -> None:
        """Refuse to start unless the staging directory has room for what will be written there: about
        `store_copies` times the store's size (a full backup or a dump is one, a differential a tenth, the
        check's scratch copy and extraction one each), and never less than --min-free."""
        opts = self.opts
        store = _store_size(opts.admin, opts.database) or 0
        need = max(opts.min_free, int(store * store_copies))
        free = shutil.disk_usage(where).free
        if free < need:
            basis = f"the store of {opts.database!r} here is {human(store)}" if store else \
                f"the floor --min-free is {human(opts.min_free)}"
            raise UsageError(f"staging {where} has {human(free)} free; {what} of {opts.database!r} needs about "
                             f"{human(need)} ({basis}). Nothing was started: free space there, grow the data "
                             f"volume (neo4j:dataVolumeSizeGb), pass another --staging-dir"
                             + (", or --no-check" if opts.check else ""))
        self.log(f"staging {where}: {human(free)} free, {what} needs about {human(need)}")

    def _upload_file(self, path: Path, key: str):
        with open(path, "rb") as source:
            return stream_upload(self.s3, self.opts.bucket, key, source,
                                 part_size=part_size_for(path.stat().st_size, self.opts.part_size),
                                 concurrency=self.opts.concurrency, spool_dir=self.opts.spool_dir, log=self.log)

    def _finish(self, files: list[FileEntry], backup_type: str, method: str, after: Counts, seconds: float,
                size: int, chain: Path | None = None, parents: tuple[Parent, ...] = (),
                upload_seconds: float | None = None, check: Check | None = None) -> dict:
        opts = self.opts
        check = check or _skipped()
        before = self.facts.counts
        exact = before == after
        if not exact:
            self.log(f"counts changed during the backup ({before} before, {after} after): the manifest records "
                     f"the counts before, marked inexact")
        manifest = Manifest(
            stack=opts.stack, database=opts.database, timestamp=self.stamp, backup_type=backup_type, method=method,
            neo4j_version=self.version, edition=self.facts.edition, version_line=self.line.name, files=tuple(files),
            counts=before, counts_exact=exact, started=self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            completed=opts.now().strftime("%Y-%m-%dT%H:%M:%SZ"), host=socket.gethostname(), parents=parents,
            chain=chain.name if chain else None, check=check.result, check_detail=check.detail)
        if check.report is not None:
            self._put_report(check.report)
        key = put_manifest(self.s3, opts.bucket, manifest)
        if chain is not None:
            (chain / f"manifest-{self.stamp}.json").write_text(manifest.to_json())
        prefix = f"s3://{opts.bucket}/{backup_prefix(opts.stack, opts.database, self.stamp)}"
        self.log(f"backup {self.stamp} complete: {prefix} ({backup_type}, {human(size)} in {seconds:.1f}s, "
                 f"{human(size / max(seconds, 1e-6))}/s; manifest {key.rsplit('/', 1)[-1]} written last)")
        return {"backup": self.stamp, "prefix": prefix, "type": backup_type, "files": [f.__dict__ for f in files],
                "size": size, "sha256": files[0].sha256, "seconds": round(seconds, 3),
                "upload_seconds": round(upload_seconds, 3) if upload_seconds is not None else None,
                "bytes_per_second": round(size / max(upload_seconds or seconds, 1e-6)),
                "counts": {"nodes": before.nodes, "relationships": before.relationships}, "counts_exact": exact,
                "neo4j_version": self.version, "edition": self.facts.edition, "check": check.result,
                "check_detail": check.detail}

    def _put_report(self, report: str) -> None:
        """check-report.txt beside the manifest, before it: a manifest that says "passed" or "failed" always
        has its report."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = object_key(self.opts.stack, self.opts.database, self.stamp, CHECK_REPORT)
        try:
            self.s3.put_object(Bucket=self.opts.bucket, Key=key, Body=report.encode(), ContentType="text/plain")
        except (ClientError, BotoCoreError) as error:
            raise BackupError(f"writing the check report s3://{self.opts.bucket}/{key} failed: {describe(error)}; "
                              f"no manifest was written: the backup stays incomplete") from None


@dataclass(frozen=True)
class Check:
    result: str  # passed | failed | skipped (layout.CHECK_RESULTS)
    detail: str
    report: str | None  # check-report.txt; None when skipped


def _skipped(why: str = "--no-check") -> Check:
    return Check("skipped", f"not checked: {why}", None)


def _reason(output: str) -> str:
    """The line of neo4j-admin's output that says what went wrong (not its progress dots)."""
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and not line.strip().startswith(".") and "%" not in line[-6:]]
    for line in reversed(lines):
        if any(word in line.lower() for word in ("inconsisten", "failed", "error", "exception", "invalid")):
            return line[:300]
    return lines[-1][:300] if lines else "(no output)"


def peak_rss() -> int:
    """Peak resident memory of this process, in bytes: VmHWM (ru_maxrss would also count the memory of
    the process that forked us, which Linux carries over exec)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _local_manifests(chain: Path) -> list[Manifest]:
    runs = []
    for path in sorted(chain.glob("manifest-*.json")):
        if verified_run(path) is None:
            continue
        try:
            runs.append(parse_manifest(path.read_bytes()))
        except (OSError, ManifestError):
            continue
    return runs


def _tree_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _store_size(admin: AdminTool, database: str) -> int | None:
    """Bytes of the store and its transaction logs on disk: the dump is at most about this large."""
    conf_dir = admin.conf or (admin.home / "conf" if admin.home else None)
    data = admin.home / "data" if admin.home else None
    if conf_dir is not None:
        with contextlib.suppress(OSError):
            for raw in (conf_dir / "neo4j.conf").read_text().splitlines():
                key, _, value = raw.strip().partition("=")
                if key.strip() in ("server.directories.data", "dbms.directories.data") and value.strip():
                    candidate = Path(value.strip())
                    if candidate.is_absolute() or admin.home:
                        data = candidate if candidate.is_absolute() else admin.home / candidate
    if data is None:
        return None
    size = _tree_size(data / "databases" / database) + _tree_size(data / "transactions" / database)
    return size or None


def summary_json(result: dict) -> str:
    return json.dumps(result, indent=2)
