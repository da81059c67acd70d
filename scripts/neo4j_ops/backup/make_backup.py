"""One backup run: take it, upload it, write its manifest last, prune local staging.

Community (and any `--method dump`): the server is stopped (only with --offline-ok), `neo4j-admin
database dump --to-stdout` is streamed into an S3 multipart upload, the server is started again
whatever happened. Enterprise: `neo4j-admin database backup --type=FULL` (then `--type=DIFF`, never AUTO)
from the backup address into a local chain directory (full, then differentials), and the new artifact is uploaded.

`run_backup` is the procedure; its steps, each a module over one BackupRun (backup_run.py):
  dump            the Community dump, offline, streamed (4.4: staged)
  online          the Enterprise online backup: a local chain (chains.py), a 4.4 folder, or straight to S3
  artifact_check  the consistency check of what was backed up
  publish         the upload, the check report and the manifest, written last
  staging         room on the staging directory, the check's scratch space, the store's size
"""
from __future__ import annotations

import contextlib
import json
import resource
from pathlib import Path

from ..facts import ServerFacts
from ..shared.errors import BackupError, UsageError
from ..shared.versions import VersionLine, dump_file_name, line_of
from .backup_run import BackupOptions, BackupRun
from .dump import dump
from .layout import CHECK_REPORT, backup_prefix, object_key
from .layout import timestamp as make_timestamp
from .online import online
from .retention import prune
from .s3 import check_bucket, check_writable, client
from .source import choose_sources, from_option

DEFAULT_BACKUP_PORT = 6362


def run_backup(opts: BackupOptions) -> dict:
    run, method = prepare(opts)
    if method == "online":
        opts.source = backup_source(opts, run.facts, run.line)
        result = online(run)
        result["source"] = opts.source
    else:
        result = dump(run)
    return conclude(run, result)


def prepare(opts: BackupOptions, facts: ServerFacts | None = None) -> tuple[BackupRun, str]:
    """The run's bucket, timestamp and server facts, and its method (online | dump); refuses what cannot work.
    `facts`: what the server said, already asked (a run of several databases asks once for all of them)."""
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
    if facts is None:
        facts = ask_facts(opts, opts.database)
    version = opts.version or facts.version
    try:
        line = line_of(version)
    except ValueError as error:
        raise UsageError(str(error)) from None
    method = opts.method if opts.method != "auto" else ("online" if facts.edition == "enterprise" else "dump")
    log(f"Neo4j {version} {facts.edition}; {facts.counts} in {opts.database!r}; backup method: {method}")
    if method == "online" and facts.edition != "enterprise":
        raise UsageError("online backups need Neo4j Enterprise; this server is community: use --method dump")
    return BackupRun(opts, s3, stamp, started, facts, version, line), method


def ask_facts(opts: BackupOptions, database: str | None) -> ServerFacts:
    """What the running server says of itself (and the counts of `database`, unless None)."""
    if not opts.neo4j.port_open():
        raise BackupError(f"Neo4j is not running: nothing answers at {opts.neo4j.uri} (start it: "
                          f"{' '.join(opts.control.start_command) if opts.control else 'systemctl start neo4j'})")
    opts.log(f"asking Neo4j at {opts.neo4j.uri} for its version"
             + (f" and the counts of {database!r}" if database is not None else " and its databases"))
    try:
        return opts.neo4j.facts(database)
    except BackupError as error:
        raise BackupError(f"{error}\nNeo4j must be running when a backup starts: its version and the counts the "
                          f"manifest records are read over Bolt (--uri)") from None


def conclude(run: BackupRun, result: dict) -> dict:
    """After the backup's manifest: local retention, memory figures, a failed check's exit. Nothing in S3 changes:
    the bucket expires backups by age once their Object Lock ends (components/aws/backup_store.py)."""
    opts, log, stamp = run.opts, run.log, run.stamp
    decisions = prune(opts.staging, opts.database, opts.local_retention_days, opts.now(), log=log)
    result["pruned"] = [d.chain.name for d in decisions if d.delete]
    result["peak_rss_bytes"] = peak_rss()
    result["children_peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if result["check"] == "failed":
        raise BackupError(f"backup {stamp} was uploaded but failed its consistency check: its manifest marks it "
                          f"failed, so no restore will pick it. "
                          f"{result['check_detail']}\nreport: {result['prefix']}{CHECK_REPORT}")
    return result


def backup_source(opts: BackupOptions, facts: ServerFacts, line: VersionLine) -> str:
    """neo4j-admin's --from: in a cluster, every server that hosts the database online, best first, from the
    cluster's own view (source.py: secondaries, then primaries that do not lead it; --from names a preferred
    one), as one list on 5.x and 2025 (the manual recommends several: a backup succeeds while some server is
    down) and the best alone on 4.4 (one --from); standalone, --from or this server."""
    named = opts.source if opts.source and opts.source != "auto" else None
    port = int(named.rsplit(":", 1)[1]) if named and ":" in named else DEFAULT_BACKUP_PORT
    if facts.members <= 1:
        return named or f"localhost:{port}"
    sources = choose_sources(facts.databases, opts.database, port, named)
    chosen = from_option(sources, line.name)
    opts.log(f"backing up {opts.database!r} from {chosen}: {sources[0].why}")
    return chosen


def peak_rss() -> int:
    """Peak resident memory of this process, in bytes: VmHWM (ru_maxrss would also count the memory of
    the process that forked us, which Linux carries over exec)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def summary_json(result: dict) -> str:
    return json.dumps(result, indent=2)
