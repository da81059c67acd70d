"""How fresh the backups and the restore drills are, read from the bucket (the truth, not a job's own claim),
written as node exporter textfile metrics for Prometheus (Neo4jBackupTooOld, Neo4jRestoreDrillTooOld).

Per database, in one file written atomically (a temporary file renamed over it, so node exporter never reads
half a file):
  neo4j_backup_last_complete_timestamp_seconds{database}   completion time of the newest restorable backup
                                                           (complete, every object there, check not failed,
                                                           and so is its chain); 0: there is none
  neo4j_backup_first_complete_timestamp_seconds{database}  the oldest restorable backup still in the bucket; 0: none
  neo4j_restore_drill_last_success_timestamp_seconds{database}  the newest drill record under
                                                           <stack>/<database>/drills/ (restore_backup.drill
                                                           writes one when a drill passes); 0: never
  neo4j_backup_freshness_last_run_timestamp_seconds        when this ran and could read the bucket
  neo4j_failover_drill_last_success_timestamp_seconds{stack}  the newest passed failover drill (`make drill`) under
                                                           <stack>/failover-drills/, with the newest run's time and
                                                           figures (failover_drills.py); 0: never
On a bucket that cannot be read the file is left as it was: its last-run time goes stale, which
Neo4jBackupFreshnessUnknown reports.

The databases are those with a prefix in the bucket (every one a backup run found on the server, a database
created after the job was rendered too), plus each --database named (reported 0 until it has a backup).

Run on a timer on the backup server (neo4j-backup-freshness.timer):
  python3 -m scripts.neo4j_ops.backup.freshness --bucket B --stack prod --database neo4j --database system
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..shared.errors import BackupError, UsageError, describe
from . import failover_drills
from .layout import database_prefix, is_timestamp, parse_time
from .run_manifest import RUNS

TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"  # Debian's prometheus-node-exporter textfile collector
METRICS_FILE = "neo4j_backup_freshness.prom"
DRILLS = "drills"

BACKUP_METRIC = "neo4j_backup_last_complete_timestamp_seconds"
FIRST_BACKUP_METRIC = "neo4j_backup_first_complete_timestamp_seconds"
DRILL_METRIC = "neo4j_restore_drill_last_success_timestamp_seconds"
RUN_METRIC = "neo4j_backup_freshness_last_run_timestamp_seconds"


def drill_key(stack: str, database: str, stamp: str) -> str:
    """Where a passed drill leaves its record: <stack>/<database>/drills/<UTC timestamp>.json."""
    return f"{database_prefix(stack, database)}{DRILLS}/{stamp}.json"


def drill_record(*, stack: str, database: str, verified: str, finished: datetime, seconds: float,
                 counts: dict, host: str) -> bytes:
    return json.dumps({"stack": stack, "database": database, "result": "passed", "verified_backup": verified,
                       "finished": finished.strftime("%Y-%m-%dT%H:%M:%SZ"), "seconds": round(seconds, 3),
                       "counts": counts, "host": host}, indent=2).encode()


def put_drill_record(s3, bucket: str, stack: str, database: str, stamp: str, body: bytes) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    key = drill_key(stack, database, stamp)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"the drill passed, but writing its record s3://{bucket}/{key} failed: "
                          f"{describe(error)}; Neo4jRestoreDrillTooOld will not see this drill") from None
    return key


@dataclass(frozen=True)
class Freshness:
    database: str
    last_backup: float  # epoch seconds; 0: none
    first_backup: float
    last_drill: float


def _epoch(text: str) -> float:
    return parse_time(text).timestamp()


def newest_drill(s3, bucket: str, stack: str, database: str) -> float:
    """The finish time of the newest passed drill recorded in the bucket; 0 when there is none."""
    prefix = f"{database_prefix(stack, database)}{DRILLS}/"
    stamps = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix):]
            if name.endswith(".json") and is_timestamp(name[:-len(".json")]):
                stamps.append(name[:-len(".json")])
    for stamp in sorted(stamps, reverse=True):  # the newest record that says passed
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}{stamp}.json")["Body"].read()
        try:
            record = json.loads(body)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("result") == "passed":
            try:
                return _epoch(str(record.get("finished") or stamp))
            except ValueError:
                return _epoch(stamp)
    return 0.0


def databases_in_bucket(s3, bucket: str, stack: str) -> list[str]:
    """Every database with a prefix under <stack>/ (a database created after the job was rendered too). <stack>/runs/
    holds the run manifests (<timestamp>.json), not a database: it counts only if it holds backup prefixes (a
    database named `runs`)."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{stack}/", Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            found.append(common["Prefix"][len(stack) + 1:].rstrip("/"))
    if RUNS in found and not any(is_timestamp(name) for name in _folders(s3, bucket, f"{stack}/{RUNS}/")):
        found.remove(RUNS)
    # <stack>/failover-drills/ holds the failover drill's records (<timestamp>.json), likewise not a database.
    drills = failover_drills.FOLDER
    if drills in found and not any(is_timestamp(name) for name in _folders(s3, bucket, f"{stack}/{drills}/")):
        found.remove(drills)
    return found


def _folders(s3, bucket: str, prefix: str) -> list[str]:
    return [common["Prefix"][len(prefix):].rstrip("/")
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
            for common in page.get("CommonPrefixes", [])]


def measure(s3, bucket: str, stack: str, databases: Iterable[str]) -> list[Freshness]:
    from botocore.exceptions import BotoCoreError, ClientError

    from .s3 import list_backups

    try:
        names = sorted(set(databases) | set(databases_in_bucket(s3, bucket, stack)))
        out = []
        for database in names:
            restorable = [b for b in list_backups(s3, bucket, stack, database) if b.restorable]
            times = sorted(_epoch(b.manifest.completed) for b in restorable)
            out.append(Freshness(database, times[-1] if times else 0.0, times[0] if times else 0.0,
                                 newest_drill(s3, bucket, stack, database)))
        return out
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"reading s3://{bucket}/{stack}/ failed: {describe(error)}") from None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def render(results: list[Freshness], now: float) -> str:
    """The Prometheus text exposition of `results` (HELP, TYPE, one sample per database)."""
    lines = []
    for metric, help_text, attr in (
            (BACKUP_METRIC, "Completion time of the newest restorable backup in the bucket (0: none).",
             "last_backup"),
            (FIRST_BACKUP_METRIC, "Completion time of the oldest restorable backup still in the bucket (0: none).",
             "first_backup"),
            (DRILL_METRIC, "Finish time of the newest passed restore drill recorded in the bucket (0: never).",
             "last_drill")):
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{database="{_label(r.database)}"}} {getattr(r, attr):.0f}' for r in results]
    lines += [f"# HELP {RUN_METRIC} When the freshness check last read the bucket.", f"# TYPE {RUN_METRIC} gauge",
              f"{RUN_METRIC} {now:.0f}"]
    return "\n".join(lines) + "\n"


def write_atomically(directory: Path, name: str, text: str) -> Path:
    """Write `text` to directory/name through a temporary file in the same directory and a rename."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    # A dot-name: node exporter's textfile collector reads only *.prom, so it never sees the temporary file.
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def run(s3, bucket: str, stack: str, databases: Iterable[str], textfile_dir: Path,
        log: Callable[[str], None] = print, now: Callable[[], float] = time.time) -> list[Freshness]:
    from botocore.exceptions import BotoCoreError, ClientError

    results = measure(s3, bucket, stack, databases)
    try:
        newest, passed = failover_drills.newest_records(s3, bucket, stack)
    except (ClientError, BotoCoreError) as error:
        raise BackupError(f"reading s3://{bucket}/{stack}/{failover_drills.FOLDER}/ failed: {describe(error)}") \
            from None
    path = write_atomically(textfile_dir, METRICS_FILE,
                            render(results, now()) + failover_drills.metrics(stack, newest, passed))
    for r in results:
        def show(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else "none"
        log(f"{r.database}: newest restorable backup {show(r.last_backup)}, last passed drill {show(r.last_drill)}")
    log(f"failover drill: newest {newest['finished'] + ' ' + newest['result'] if newest else 'none'}, last passed "
        f"{passed['finished'] if passed else 'none'}")
    log(f"wrote {path}")
    return results


def freshness_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neo4j-backup-freshness", description=__doc__.split("\n\n")[0],
        epilog="example: python3 -m scripts.neo4j_ops.backup.freshness --bucket my-bucket --stack prod "
               "--database neo4j --database system", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bucket", default=os.environ.get("BACKUP_BUCKET"),
                        help="bucket holding the backups (default: $BACKUP_BUCKET)")
    parser.add_argument("--stack", required=True, help="stack name: the first part of every object key")
    parser.add_argument("--database", action="append", default=[],
                        help="a database that must have backups (repeat); databases found in the bucket are "
                             "reported too")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_S3") or None,
                        help="S3 endpoint for S3-compatible stores (default: $AWS_ENDPOINT_URL_S3, else AWS)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
                        help="AWS region (default: $AWS_REGION)")
    parser.add_argument("--textfile-dir", type=Path, default=Path(TEXTFILE_DIR),
                        help=f"node exporter's textfile directory (default: {TEXTFILE_DIR})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = freshness_parser().parse_args(argv)
    try:
        if not args.bucket:
            raise UsageError("no bucket: pass --bucket or set $BACKUP_BUCKET")
        from .s3 import check_bucket, client

        s3 = client(args.endpoint_url, args.region)
        check_bucket(s3, args.bucket)
        run(s3, args.bucket, args.stack, args.database, args.textfile_dir,
            log=lambda line: print(f"neo4j-backup-freshness: {line}", flush=True))
    except (UsageError, BackupError) as error:
        print(f"neo4j-backup-freshness: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    except OSError as error:
        print(f"neo4j-backup-freshness: writing to {args.textfile_dir} failed: {error.strerror or error}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
