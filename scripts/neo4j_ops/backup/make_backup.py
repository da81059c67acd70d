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

from ..errors import BackupError, UsageError, describe
from ..facts import Counts, ServerFacts
from ..versions import VersionLine, dump_file_name, line_of
from .admin import AdminTool, StderrTail, kill_group, own
from .layout import FileEntry, Manifest, ManifestError, Parent, backup_prefix, object_key, parse_manifest
from .layout import timestamp as make_timestamp
from .options import Job
from .retention import prune, verified_run
from .s3 import check_bucket, check_writable, client, human, part_size_for, put_manifest, stream_upload
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
        return self._finish([uploaded.entry()], "dump", "neo4j-admin database dump --to-stdout", after, seconds,
                            uploaded.size, upload_seconds=uploaded.seconds)

    def _dump_via_staging(self, key: str) -> dict:
        # 4.4's dump writes only to a file: stage it, then upload it (kept under retention).
        opts = self.opts
        chain = opts.staging / opts.database / self.stamp
        chain.mkdir(parents=True, exist_ok=True)
        own(chain, opts.owner)
        self._check_staging(chain, full=True)  # before Neo4j is stopped
        t0 = time.monotonic()
        _, after = self._offline(lambda: opts.admin.run(self.line.admin_dump_to_path(opts.database, chain),
                                                        log=self.log))
        path = chain / dump_file_name(opts.database)
        uploaded = self._upload_file(path, key)
        result = self._finish([uploaded.entry()], "dump", "neo4j-admin dump", after, time.monotonic() - t0,
                              uploaded.size, chain=chain)
        return result

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

    # -- enterprise: online backup into a local chain -------------------------------------------------

    def online(self) -> dict:
        opts = self.opts
        chain, runs = self._chain()
        self._check_staging(chain, full=not runs or not self.line.backs_up_to_artifacts)
        t0 = time.monotonic()
        if not self.line.backs_up_to_artifacts:
            opts.admin.run(self.line.admin_online_backup(opts.database, opts.source, chain), log=self.log)
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
            backup_type, parents, method = "full", (), "neo4j-admin backup (4.4 backup folder, as tar)"
        else:
            before = set(chain.glob("*.backup"))
            opts.admin.run(self.line.admin_online_backup(opts.database, opts.source, chain), log=self.log)
            new = sorted(set(chain.glob("*.backup")) - before)
            if len(new) != 1:
                raise BackupError(f"neo4j-admin database backup left {len(new)} new artifact(s) in {chain}, "
                                  f"expected one: {', '.join(p.name for p in new) or 'none'}")
            key = object_key(opts.stack, opts.database, self.stamp, new[0].name)
            uploaded = self._upload_file(new[0], key)
            backup_type = "differential" if runs else "full"
            parents = tuple(Parent(m.timestamp, m.files) for m in runs)
            method = "neo4j-admin database backup --type=AUTO"
        after = opts.neo4j.facts(opts.database).counts
        return self._finish([uploaded.entry()], backup_type, method, after, time.monotonic() - t0, uploaded.size,
                            chain=chain, parents=parents)

    def _chain(self) -> tuple[Path, list[Manifest]]:
        """The chain directory this run adds to, and the uploaded runs already in it."""
        opts = self.opts
        root = opts.staging / opts.database
        chains = sorted(p for p in root.glob("*T*Z") if p.is_dir()) if root.is_dir() else []
        if chains:
            current = chains[-1]
            runs = _local_manifests(current)
            recorded = {f.name for m in runs for f in m.files}
            unrecorded = [p.name for p in current.glob("*.backup") if p.name not in recorded]
            age = self.started - datetime.strptime(current.name, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            if not self.line.backs_up_to_artifacts:
                unrecorded = []  # the 4.4 folder is updated in place; every run uploads all of it
            if not runs:
                self.log(f"chain {current.name} has no uploaded run: starting a new chain with a full backup")
            elif unrecorded:
                self.log(f"chain {current.name} holds artifact(s) never uploaded ({', '.join(unrecorded)}): "
                         f"starting a new chain with a full backup")
            elif age > timedelta(days=opts.full_every_days):
                self.log(f"chain {current.name} is {age.days} days old (--full-every-days "
                         f"{opts.full_every_days}): starting a new chain with a full backup")
            else:
                self.log(f"adding to chain {current.name} ({len(runs)} uploaded run(s))")
                return current, runs
        chain = root / self.stamp
        chain.mkdir(parents=True, exist_ok=True)
        own(chain, opts.owner)
        return chain, []

    # -- common ---------------------------------------------------------------------------------------

    def _check_staging(self, chain: Path, *, full: bool) -> None:
        """Refuse to start unless the staging directory has room for what neo4j-admin will write there:
        about the store's size for a full backup or a dump, a tenth of it for a differential, and never
        less than --min-free."""
        opts = self.opts
        store = _store_size(opts.admin, opts.database) or 0
        need = max(opts.min_free, store if full else store // 10)
        free = shutil.disk_usage(chain).free
        what = "a full backup" if full else "a differential backup"
        if free < need:
            basis = f"the store of {opts.database!r} here is {human(store)}" if store else \
                f"the floor --min-free is {human(opts.min_free)}"
            raise UsageError(f"staging {chain} has {human(free)} free; {what} of {opts.database!r} needs about "
                             f"{human(need)} ({basis}). Nothing was started: free space there, grow the data "
                             f"volume (neo4j:dataVolumeSizeGb), or pass another --staging-dir")
        self.log(f"staging {chain}: {human(free)} free, {what} needs about {human(need)}")

    def _upload_file(self, path: Path, key: str):
        with open(path, "rb") as source:
            return stream_upload(self.s3, self.opts.bucket, key, source,
                                 part_size=part_size_for(path.stat().st_size, self.opts.part_size),
                                 concurrency=self.opts.concurrency, spool_dir=self.opts.spool_dir, log=self.log)

    def _finish(self, files: list[FileEntry], backup_type: str, method: str, after: Counts, seconds: float,
                size: int, chain: Path | None = None, parents: tuple[Parent, ...] = (),
                upload_seconds: float | None = None) -> dict:
        opts = self.opts
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
            chain=chain.name if chain else None)
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
                "neo4j_version": self.version, "edition": self.facts.edition}


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
