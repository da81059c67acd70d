"""backup.py and restore.py: their help, options and results. The work is make_backup's and restore_backup's.

scripts/backup.py and scripts/restore.py only call `backup_main` / `restore_main`; on the backup
server they are what the timer runs (templates/backup/neo4j-backup.sh.j2).
"""
from __future__ import annotations

from argparse import Namespace
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .. import cli
from ..shared.errors import UsageError
from . import options
from .admin import split_command
from .backup_run import BackupOptions
from .cluster_all import run_all
from .cluster_restore import ClusterRestoreOptions, replay_cluster_restore, run_cluster_restore
from .dbms_backup import describe_run, run_dbms_backup
from .make_backup import run_backup
from .point_in_time import Until, parse_until
from .restore_backup import RestoreOptions, catalogue, drill, restore
from .retention import prune
from .run_manifest import ALL, is_pattern, wanted_databases
from .s3 import human, part_size_for

Log = Callable[[str], None]

BACKUP_DOC = """Back up a Neo4j database to S3: s3://<bucket>/<stack>/<database>/<UTC timestamp>/, manifest last.

Enterprise: `neo4j-admin database backup --type=FULL`, then `--type=DIFF` (never AUTO: it may fall back to a full
backup silently, and the manifest records the type), from a server that hosts the database (chosen at
run time from the cluster's SHOW DATABASES: a secondary, else a follower; --from names a preferred one) into a local
chain (a full backup, then differentials; a new chain every --full-every-days), then the new artifact
is uploaded. 4.4: `neo4j-admin backup`, uploaded as a tar of the backup folder.
Community: Neo4j cannot dump a running database, so with --offline-ok the server is stopped,
`neo4j-admin database dump --to-stdout` is streamed into an S3 multipart upload (bounded memory, no
local copy), and the server is started again whatever happens.

Every backup is then consistency-checked (neo4j-admin database check of the artifact: the dump read
back from S3, a full artifact, a differential's chain aggregated in scratch space; 4.4: the backup's
own --check-consistency, a dump loaded into a scratch store); the report goes beside the manifest
(check-report.txt) and the manifest says check: passed|failed|skipped. A failed one exits 1 and is
never restored. 5.26 and 2025: neo4j-admin writes a full backup straight to s3:// (--via-staging: local chain).

The manifest (size, sha256, Neo4j version, database, node and relationship counts, backup type, check)
is written last: a backup without one is incomplete and never restored. Then local staging copies older
than --local-retention-days are deleted, never the newest complete one. Nothing already in S3 is changed:
the bucket keeps every backup locked (Object Lock) for the retention plus one full-backup interval and then
expires it by age, so when backups stop the newest chain stays whole at least the retention after the last.

--database '*' backs up the whole DBMS: every database the server lists when the run starts (SHOW DATABASES:
each standard database, and system), or several (--database neo4j,system; a pattern such as 'sales*'). Each
has its own chain, check and manifest (Community: every dump within one stop of the server); then the run
manifest s3://<bucket>/<stack>/runs/<timestamp>.json, written last, lists each database's prefix and status,
the composite databases and the aliases (their definitions, never a password). One database failing does not
stop the others: the run exits 1 naming it.

Examples:
  NEO4J_PASSWORD=… python scripts/backup.py --bucket acme-neo4j-backups --stack prod --offline-ok
  NEO4J_PASSWORD=… python scripts/backup.py --bucket acme-neo4j-backups --stack prod --database '*' --offline-ok
  NEO4J_PASSWORD=… python scripts/backup.py --bucket acme-neo4j-backups --stack prod \\
      --from replica-2.prod.neo4j.internal:6362 --staging-dir /var/lib/neo4j/data/backup-staging
  python scripts/backup.py --stack prod --prune-only --local-retention-days 3

Exit status: 0 backed up; 1 the backup failed (the message says why; no manifest was written) or
its consistency check failed (its manifest marks it failed); 2 bad options or configuration;
130 interrupted (the upload is aborted, Neo4j started again).
"""

RESTORE_DOC = """Restore a Neo4j database from the backups backup.py keeps in S3, or prove that it would work.

Picks the newest complete backup (--latest) or the one at --at TIMESTAMP (a backup's timestamp, or
any time: then the newest complete backup taken at or before it); a backup without its manifest is
never used. Every file is downloaded and checked against the manifest's size and sha256 before the
server is touched. Then Neo4j is stopped, the current database saved (--no-safety-dump skips it),
the backup loaded or restored over it, Neo4j started, and the node and relationship counts compared
with the manifest. If loading fails, the saved database is put back.

--until restores to a point in time (Enterprise 5.x and 2025): "YYYY-MM-DD hh:mm:ss" in UTC, or a transaction
id (not included). It takes the newest complete chain whose full backup started at or before that time (a
transaction id: the newest chain) and has `neo4j-admin database restore --restore-until` replay its logs up
to it; the counts are not compared with the manifest's, which are the backup's. 4.4 has no --restore-until
and a dump holds one moment: for them, --at.

--verify-only is the restore drill: the same download and checks, then a restore into a throw-away
server on free loopback ports (--scratch-command, default `neo4j console` with NEO4J_CONF pointing at
a scratch directory), counts compared, the server and its files removed. Production is not touched.

--cluster restores a cluster (Enterprise) through --uri. 5.24+ and 2025: <db> keeps its name, its
privileges and its place as the default database (HAProxy's health checks, check and the nightly backup
go on naming it): its store is replaced from the backup's S3 URI on every member (CALL
dbms.cluster.recreateDatabase, 2025.04+ dbms.recreateDatabase), then it is waited for and its counts
compared with the manifest. --beside instead creates `<db>-restore-<timestamp>` seeded from the backup,
and once it is online everywhere points the alias clients use at it (ALTER ALIAS: no window) or makes it
the default database; the old one is kept, stopped, and any failure before the switch drops only the new
one. --database system restores users, roles and privileges offline on every server (the manual's disaster
recovery: stop all, unbind-system-db, restore, start all; --offline-ok). --all restores every database of a
backup run under its own name, then its composites and aliases. 4.4 (--offline-ok: the database is unavailable
between its drop and its creation): the manual's procedure, under its own name, without stopping any member:
its privileges read, DROP DATABASE … DUMP DATA, neo4j-admin restore on every core one at a time over AWS
Systems Manager (SSM; instances tagged Name=<stack>-<server>), CREATE DATABASE, the privileges granted again
(the old stop-every-core procedure is ClusterRestoreOptions.offline_44). --dry-run
prints the plan; with --replay SCENARIO.json it plans against a recorded cluster (a stand-in for trying
plans offline; no Neo4j, no S3).

Examples:
  python scripts/restore.py --bucket acme-neo4j-backups --stack prod --list
  NEO4J_PASSWORD=… python scripts/restore.py --bucket acme-neo4j-backups --stack prod --latest --verify-only
  NEO4J_PASSWORD=… python scripts/restore.py --bucket acme-neo4j-backups --stack prod \\
      --until "2025-01-31 02:30:00" --neo4j-admin 'runuser -u neo4j -- neo4j-admin' --yes
  NEO4J_PASSWORD=… python scripts/restore.py --bucket acme-neo4j-backups --stack prod \\
      --at 20250131T020000Z --neo4j-admin 'runuser -u neo4j -- neo4j-admin' --yes
  NEO4J_PASSWORD=… python scripts/restore.py --bucket acme-neo4j-backups --stack prod --latest --cluster \
      --uri neo4j://core-1.prod.neo4j.internal:7687 --dry-run
  python scripts/restore.py --stack prod --latest --cluster --dry-run \
      --replay tests/fixtures/enterprise/cluster-restore/5.26-cluster.json

Exit status: 0 restored (or drill passed, or listed); 1 the restore or drill failed, or the backup is
corrupted (the message says why); 2 bad options or configuration; 130 interrupted.
"""


def backup_parser() -> cli.Parser:
    summary, _, rest = BACKUP_DOC.partition("\n\n")
    p = cli.parser("backup.py", summary, rest, show_defaults=True)
    options.add_common(p)
    b = p.add_argument_group("backup")
    b.add_argument("--method", choices=("auto", "dump", "online"), default="auto",
                   help="auto: online for enterprise, dump for community")
    b.add_argument("--from", dest="source", metavar="HOST:PORT", default="auto",
                   help="enterprise: the backup listener to prefer, e.g. replica-2.prod.neo4j.internal:6362. In a "
                   "cluster the server is chosen at run time from the cluster's view among those hosting the "
                   "database (a secondary, else a follower); auto: no preference (port 6362)")
    b.add_argument("--offline-ok", action="store_true",
                   help="community: allow stopping Neo4j for the dump (it cannot dump a running database)")
    b.add_argument("--staging-dir", type=Path, default=Path("/var/lib/neo4j/data/backup-staging"),
                   help="local staging for enterprise chains and 4.4 dumps: on the data volume, never the root "
                   "disk; its free space is checked before anything starts")
    b.add_argument("--min-free", type=options.size_arg, default=1024 ** 3,
                   help="least free space the staging directory needs before a backup that stages starts")
    b.add_argument("--local-retention-days", type=int, default=3,
                   help="delete staging chains unchanged for this long (never the newest complete backup)")
    b.add_argument("--full-every-days", type=int, default=7, help="enterprise: start a new chain (full backup) "
                   "when the current one is older than this")
    b.add_argument("--part-size", type=options.size_arg, default=None,
                   help="S3 part size, e.g. 64MiB (default: 8MiB, more for stores over ~40 GB)")
    b.add_argument("--concurrency", type=int, default=10,
                   help="parts uploaded at once (default 10, as aws s3 cp; each holds an 8 MiB part)")
    b.add_argument("--spool-dir", help="where parts larger than 8MiB are spooled (default: $TMPDIR)")
    b.add_argument("--prune-only", action="store_true", help="only apply the local staging retention")
    b.add_argument("--no-check", action="store_true", help="skip the consistency check of the backup artifact "
                   "(neo4j-admin database check; 4.4: check-consistency); the manifest then says check: skipped")
    b.add_argument("--type", dest="kind", choices=("auto", "full", "diff"), default="auto",
                   help="enterprise 5.x/2025: full starts a new chain (neo4j-backup.timer, weekly); diff extends the "
                   "newest complete chain of the database (neo4j-backup-diff.timer), or takes a full backup and says "
                   "so when there is none; auto: a new chain every --full-every-days")
    b.add_argument("--via-staging", action="store_true", help="5.26/2025: back up into the local chain (full, then "
                   "differentials) and upload, instead of neo4j-admin writing a full backup straight to S3")
    return p


def backup_main(argv: list[str] | None = None) -> int:
    return _main("backup", backup_parser(), argv, _backup, describe_backup)


def _main(prog: str, parser: cli.Parser, argv: list[str] | None, work: Callable[[Namespace, Log], dict],
          describe: Callable[[dict], str]) -> int:
    args = parser.parse_args(argv)
    log = cli.logger(prog, args.quiet)
    def body() -> int:
        report = work(args, log)
        return cli.print_report(report, args.json, describe, failed=bool(report.get("failed")))
    return cli.run(prog, body)


def _backup(args: Namespace, log: Log) -> dict:
    if args.local_retention_days < 1 or args.full_every_days < 1 or args.concurrency < 1:
        raise UsageError("--local-retention-days, --full-every-days and --concurrency must be at least 1")
    if args.part_size is not None:
        part_size_for(None, args.part_size)  # refuses parts S3 would refuse
    if args.kind != "auto" and args.method == "dump":
        raise UsageError(f"--type {args.kind} is for an online backup (Enterprise): a dump is always whole")
    wanted = wanted_databases(args.database)
    if args.prune_only:
        names = ([d.name for d in sorted(args.staging_dir.iterdir()) if d.is_dir()] if ALL in wanted
                 and args.staging_dir.is_dir() else [name for name in wanted if name != ALL])
        decisions = [d for name in names
                     for d in prune(args.staging_dir, name, args.local_retention_days, datetime.now(UTC), log=log)]
        return {"pruned": [d.chain.name for d in decisions if d.delete],
                "kept": [d.chain.name for d in decisions if not d.delete]}
    options.require_bucket(args)
    job = BackupOptions(
        **options.job_arguments(args, log), offline_ok=args.offline_ok, source=args.source, method=args.method,
        staging=args.staging_dir, local_retention_days=args.local_retention_days,
        full_every_days=args.full_every_days, part_size=args.part_size, concurrency=args.concurrency,
        spool_dir=args.spool_dir, min_free=args.min_free, check=not args.no_check, via_staging=args.via_staging,
        kind=args.kind)
    if len(wanted) == 1 and not is_pattern(wanted[0]):
        job.database = wanted[0]
        return run_backup(job)
    return run_dbms_backup(job, wanted)


def describe_backup(result: dict) -> str:
    if "run" in result:
        return describe_run(result)
    if "backup" not in result:
        return f"pruned {len(result['pruned'])} staging chain(s), kept {len(result['kept'])}"
    counts = ", ".join(f"{value} {key}" for key, value in result["counts"].items())
    return (f"backup {result['backup']} complete: {result['prefix']} ({result['type']}, {human(result['size'])}, "
            f"{counts})")


def restore_parser() -> cli.Parser:
    summary, _, rest = RESTORE_DOC.partition("\n\n")
    p = cli.parser("restore.py", summary, rest, show_defaults=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--latest", action="store_true", help="the newest complete backup")
    which.add_argument("--at", metavar="TIMESTAMP", help="a backup's timestamp (20250131T020000Z), or a time: "
                       "the newest complete backup at or before it")
    which.add_argument("--until", metavar="WHEN", help="Enterprise 5.x/2025: restore up to a UTC time "
                       "\"2025-01-31 02:30:00\" or a transaction id (not included), replaying the chain that "
                       "reaches it")
    which.add_argument("--list", action="store_true", help="list the backups and whether each can be restored")
    options.add_common(p)
    r = p.add_argument_group("restore")
    r.add_argument("--verify-only", action="store_true",
                   help="restore drill: restore into a throw-away server, compare counts, touch nothing else")
    r.add_argument("--yes", action="store_true", help="confirm replacing the production database")
    r.add_argument("--work-dir", type=Path, default=Path("/var/lib/neo4j/data/backup-staging"),
                   help="where downloads, the safety dump and the drill's scratch server live")
    r.add_argument("--no-safety-dump", action="store_true",
                   help="do not save the current database before replacing it")
    r.add_argument("--edition", choices=("community", "enterprise"), help="edition of the local Neo4j "
                   "(default: asked over Bolt, else the backup's)")
    r.add_argument("--scratch-command", default="neo4j console",
                   help="runs the drill's server in the foreground; gets NEO4J_HOME and NEO4J_CONF")
    r.add_argument("--scratch-heap", default="512m", help="heap of the drill's server")
    r.add_argument("--scratch-page-cache", default="256m", help="page cache of the drill's server")
    r.add_argument("--keep-scratch", action="store_true", help="keep the drill's files (for a post-mortem)")
    c = p.add_argument_group("cluster (Enterprise; see the --cluster plan with --dry-run)")
    c.add_argument("--cluster", action="store_true",
                   help="restore the cluster's database on every member through --uri (use neo4j://…): 5.x/2025 "
                   "replace "
                   "its store from the backup's S3 URI under its own name (--beside: a new database, then switch "
                   "clients); 4.4 drops it, restores every core one at a time over SSM and creates it again")
    c.add_argument("--dry-run", action="store_true", help="print the plan (steps, Cypher, what serves) and change "
                   "nothing")
    c.add_argument("--primaries", type=int, help="primaries of the restored database (default: the current one's)")
    c.add_argument("--secondaries", type=int, help="secondaries of the restored database (default: the current "
                   "one's)")
    c.add_argument("--beside", action="store_true", help="5.x/2025: restore into a new database, <db>-restore-"
                   "<timestamp>, and switch clients to it (ALTER ALIAS, or the default database), instead of replacing "
                   "the store of <db> under its own name (the default: dbms.recreateDatabase, privileges kept)")
    c.add_argument("--no-swap", action="store_true", help="with --beside: restore beside the current database; "
                   "switch nothing")
    c.add_argument("--all", action="store_true", help="5.24+/2025: every standard database of the newest backup run "
                   "(runs/<timestamp>.json; --at picks an older one) under its own name, then the run's composite "
                   "databases and aliases; a remote alias's password comes from NEO4J_ALIAS_PASSWORD_<NAME>. system: "
                   "--database system (offline, every server)")
    c.add_argument("--replay", type=Path, metavar="SCENARIO.json", help="try a plan offline: the cluster and the "
                   "bucket are a recorded scenario's (tests/fixtures/enterprise/cluster-restore/*-cluster.json, "
                   "derived from the Operations Manual), not a live cluster or S3; only with --dry-run")
    c.add_argument("--offline-ok", action="store_true", help="4.4: accept that the database is unavailable "
                   "between its drop and its creation; --database system: accept that every server stops")
    c.add_argument("--verify-restored", action="store_true", help="4.4: after the per-core steps ran, check the "
                   "database is online on every core and its counts are the manifest's")
    c.add_argument("--skip-sha-check", action="store_true", help="a backup whose consistency check passed: trust "
                   "it and the object sizes instead of downloading it to compare sha256 first")
    c.add_argument("--seed-timeout", type=float, default=900, help="seconds to wait for the seeded database to be "
                   "online on every member")
    return p


def restore_main(argv: list[str] | None = None) -> int:
    return _main("restore", restore_parser(), argv, _restore, describe_restore)


def _restore(args: Namespace, log: Log) -> dict:
    if not (args.cluster and args.replay):  # --replay: the scenario's manifests stand in for the bucket
        options.require_bucket(args)
    if args.list:
        job = RestoreOptions(bucket=args.bucket, stack=args.stack, database=args.database, neo4j=None,
                             admin=None, endpoint_url=args.endpoint_url, region=args.region, log=log)
        # Listing reads each manifest and compares the objects' sizes with it; the sha256 needs a download.
        return {"backups": [_row(b) for b in catalogue(job)], "checked": "sizes"}
    until = _until(args.until)
    if until is not None and args.cluster:
        raise UsageError("--until restores one server's database (neo4j-admin --restore-until): it does not go with "
                         "--cluster; restore a backup with --at, or restore --until on one server and seed from it")
    if args.cluster:
        return _cluster_restore(args, log)
    if args.all:
        raise UsageError("--all restores a cluster: it goes with --cluster")
    if not args.verify_only and not args.yes:
        raise UsageError("a restore replaces the database: add --yes to confirm, or --verify-only for a drill")
    fitted = options.machine_fit(args, log)  # on a smaller machine, the drill's server gets the least budget too
    job = RestoreOptions(
        **options.job_arguments(args, log, fitted), at=None if args.latest else args.at, until=until,
        work_dir=args.work_dir, safety_dump=not args.no_safety_dump, edition=args.edition,
        scratch_command=split_command(args.scratch_command, "--scratch-command"),
        scratch_heap=fitted.bounds.heap if fitted.smaller else args.scratch_heap,
        scratch_page_cache=fitted.bounds.off_heap if fitted.smaller else args.scratch_page_cache,
        keep_scratch=args.keep_scratch,
        start_timeout=args.start_timeout)
    if not args.work_dir.is_dir():
        raise UsageError(f"--work-dir {args.work_dir} is not a directory")
    return drill(job) if args.verify_only else restore(job)


def _until(text: str | None) -> Until | None:
    if text is None:
        return None
    try:
        return parse_until(text)
    except ValueError as error:
        raise UsageError(f"--until: {error}") from None


def _cluster_restore(args: Namespace, log: Log) -> dict:
    if args.verify_only:
        raise UsageError("--verify-only (the drill) and --cluster do not go together: run the drill without --cluster")
    if not args.dry_run and not args.yes:
        raise UsageError("a cluster restore switches clients to the restored database: add --yes to confirm, or "
                         "--dry-run to see the plan")
    if args.replay is not None and not args.dry_run:
        raise UsageError("--replay answers from a recorded scenario: it only goes with --dry-run")
    if args.no_swap and not args.beside:
        raise UsageError("--no-swap goes with --beside: the default restore keeps the name and switches nothing")
    if args.all and (args.replay is not None or args.beside):
        raise UsageError("--all goes with neither --replay nor --beside")
    if args.replay is None and not args.work_dir.is_dir():
        raise UsageError(f"--work-dir {args.work_dir} is not a directory")
    job = ClusterRestoreOptions(
        bucket=args.bucket or "", stack=args.stack, database=args.database, uri=args.uri,
        auth=None if args.replay else options.local_neo4j(args, log).auth, at=None if args.latest else args.at,
        endpoint_url=args.endpoint_url, region=args.region, version=args.neo4j_version, dry_run=args.dry_run,
        swap=not args.no_swap, beside=args.beside,
        primaries=args.primaries, secondaries=args.secondaries, offline_ok=args.offline_ok,
        verify_restored=args.verify_restored, orchestrate=True, sha_check=not args.skip_sha_check,
        work_dir=args.work_dir,
        neo4j_admin=args.neo4j_admin, stop_command=args.stop_command, start_command=args.start_command,
        timeout=args.seed_timeout, log=log)
    if args.all:
        return run_all(job)
    if args.replay is not None:
        return replay_cluster_restore(job, args.replay)
    return run_cluster_restore(job)


def _row(backup) -> dict:
    m = backup.manifest
    row = {"timestamp": backup.timestamp, "status": backup.status, "problem": backup.problem}
    if m is not None:
        row.update(type=m.backup_type, size=m.size, neo4j_version=m.neo4j_version, nodes=m.counts.nodes,
                   relationships=m.counts.relationships, check=m.check)
    return row


def describe_restore(result: dict) -> str:
    if "backups" in result:
        lines = [f"{'timestamp':<18}{'status':<14}{'type':<14}{'size':>11}  {'nodes':>12}  {'relationships':>13}  note"]
        for row in result["backups"]:
            size = human(row["size"]) if "size" in row else "-"
            lines.append(f"{row['timestamp']:<18}{row['status']:<14}{row.get('type', '-'):<14}{size:>11}  "
                         f"{row.get('nodes', '-')!s:>12}  {row.get('relationships', '-')!s:>13}  "
                         f"{row['problem'] or ''}")
        if not result["backups"]:
            lines.append("(no backups)")
        lines.append("checked: each object's size against its manifest, not its sha256 (a restore and --verify-only "
                     "download it and check both)")
        return "\n".join(lines)
    if "cluster" in result or "all" in result:
        return result["summary"]
    counts = result["counts"]
    if "verified" in result:
        return (f"restore drill passed: backup {result['verified']} restores and holds {counts['nodes']} nodes, "
                f"{counts['relationships']} relationships")
    if result.get("until"):
        return (f"restored backup {result['restored']}'s chain until {result['until']}: {counts['nodes']} nodes, "
                f"{counts['relationships']} relationships")
    return (f"restored backup {result['restored']}: {counts['nodes']} nodes, {counts['relationships']} "
            f"relationships, as its manifest says")
