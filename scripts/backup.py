#!/usr/bin/env python3
"""Back up a Neo4j database to S3: s3://<bucket>/<stack>/<database>/<UTC timestamp>/, manifest last.

Enterprise: `neo4j-admin database backup --type=AUTO` from the backup listener (--from) into a local
chain (a full backup, then differentials; a new chain every --full-every-days), then the new artifact
is uploaded. 4.4: `neo4j-admin backup`, uploaded as a tar of the backup folder.
Community: Neo4j cannot dump a running database, so with --offline-ok the server is stopped,
`neo4j-admin database dump --to-stdout` is streamed into an S3 multipart upload (bounded memory, no
local copy), and the server is started again whatever happens.

The manifest (size, sha256, Neo4j version, database, node and relationship counts, backup type) is
written last: a backup without one is incomplete and never restored. Then local staging copies older
than --local-retention-days are deleted, never the newest complete one. S3's own retention is the
bucket's lifecycle rules.

Examples:
  NEO4J_PASSWORD=… python scripts/backup.py --bucket acme-neo4j-backups --stack prod --offline-ok
  NEO4J_PASSWORD=… python scripts/backup.py --bucket acme-neo4j-backups --stack prod \\
      --from replica-2.prod.neo4j.internal:6362 --staging-dir /var/backups/neo4j
  python scripts/backup.py --stack prod --prune-only --local-retention-days 3

Exit status: 0 backed up; 1 the backup failed (the message says why; no manifest was written);
2 bad options or configuration.
"""
from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.backup import cli
from scripts.neo4j_ops.backup.make_backup import BackupOptions, run_backup
from scripts.neo4j_ops.backup.retention import prune
from scripts.neo4j_ops.backup.s3 import human, part_size_for
from scripts.neo4j_ops.errors import UsageError

PROG = "backup"


def parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    p = argparse.ArgumentParser(prog="backup.py", description=doc.split("\n\n")[0],
                                epilog="\n\n".join(doc.split("\n\n")[1:]), formatter_class=cli.Formatter)
    cli.add_common(p)
    b = p.add_argument_group("backup")
    b.add_argument("--method", choices=("auto", "dump", "online"), default="auto",
                   help="auto: online for enterprise, dump for community")
    b.add_argument("--from", dest="source", metavar="HOST:PORT",
                   help="enterprise: the backup listener to back up from, e.g. replica-2.prod.neo4j.internal:6362")
    b.add_argument("--offline-ok", action="store_true",
                   help="community: allow stopping Neo4j for the dump (it cannot dump a running database)")
    b.add_argument("--staging-dir", type=Path, default=Path("/var/backups/neo4j"),
                   help="local staging for enterprise chains and 4.4 dumps")
    b.add_argument("--local-retention-days", type=int, default=3,
                   help="delete staging chains unchanged for this long (never the newest complete backup)")
    b.add_argument("--full-every-days", type=int, default=7, help="enterprise: start a new chain (full backup) "
                   "when the current one is older than this")
    b.add_argument("--part-size", type=cli.size_arg, default=None,
                   help="S3 part size, e.g. 64MiB (default: 8MiB, more for stores over ~40 GB)")
    b.add_argument("--concurrency", type=int, default=8, help="parts uploaded at once")
    b.add_argument("--spool-dir", help="where parts larger than 8MiB are spooled (default: $TMPDIR)")
    b.add_argument("--prune-only", action="store_true", help="only apply the local staging retention")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    log = cli.logger(PROG, args.quiet)

    def work() -> dict:
        if args.local_retention_days < 1 or args.full_every_days < 1 or args.concurrency < 1:
            raise UsageError("--local-retention-days, --full-every-days and --concurrency must be at least 1")
        if args.part_size is not None:
            part_size_for(None, args.part_size)  # refuses parts S3 would refuse
        if args.prune_only:
            decisions = prune(args.staging_dir, args.database, args.local_retention_days, datetime.now(UTC), log=log)
            return {"pruned": [d.chain.name for d in decisions if d.delete],
                    "kept": [d.chain.name for d in decisions if not d.delete]}
        cli.require_bucket(args)
        conn = cli.connection(args)
        options = BackupOptions(
            bucket=args.bucket, stack=args.stack, database=args.database, connection=conn,
            admin=cli.admin_tool(args), endpoint_url=args.endpoint_url, region=args.region,
            control=cli.server_control(args, conn, log), offline_ok=args.offline_ok, source=args.source,
            method=args.method, version=args.neo4j_version, staging=args.staging_dir,
            local_retention_days=args.local_retention_days, full_every_days=args.full_every_days,
            part_size=args.part_size, concurrency=args.concurrency, spool_dir=args.spool_dir, owner=args.owner,
            log=log)
        return run_backup(options)

    def describe(result: dict) -> str:
        if "backup" not in result:
            return f"pruned {len(result['pruned'])} staging chain(s), kept {len(result['kept'])}"
        counts = result["counts"]
        return (f"backup {result['backup']} complete: {result['prefix']} ({result['type']}, {human(result['size'])}, "
                f"{counts['nodes']} nodes, {counts['relationships']} relationships)")

    return cli.run(PROG, work, args.json, describe)


if __name__ == "__main__":
    sys.exit(main())
