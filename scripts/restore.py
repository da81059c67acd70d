#!/usr/bin/env python3
"""Restore a Neo4j database from the backups backup.py keeps in S3, or prove that it would work.

Picks the newest complete backup (--latest) or the one at --at TIMESTAMP (a backup's timestamp, or
any time: then the newest complete backup taken at or before it); a backup without its manifest is
never used. Every file is downloaded and checked against the manifest's size and sha256 before the
server is touched. Then Neo4j is stopped, the current database saved (--no-safety-dump skips it),
the backup loaded or restored over it, Neo4j started, and the node and relationship counts compared
with the manifest. If loading fails, the saved database is put back.

--verify-only is the restore drill: the same download and checks, then a restore into a throw-away
server on free loopback ports (--scratch-command, default `neo4j console` with NEO4J_CONF pointing at
a scratch directory), counts compared, the server and its files removed. Production is not touched.

Examples:
  python scripts/restore.py --bucket acme-neo4j-backups --stack prod --list
  NEO4J_PASSWORD=… python scripts/restore.py --bucket acme-neo4j-backups --stack prod --latest --verify-only
  NEO4J_PASSWORD=… python scripts/restore.py --bucket acme-neo4j-backups --stack prod \\
      --at 20250131T020000Z --neo4j-admin 'runuser -u neo4j -- neo4j-admin' --yes

Exit status: 0 restored (or drill passed, or listed); 1 the restore or drill failed, or the backup is
corrupted (the message says why); 2 bad options or configuration.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.backup import cli
from scripts.neo4j_ops.backup.neo4j import split_command
from scripts.neo4j_ops.backup.restore_backup import RestoreOptions, catalogue, drill, restore
from scripts.neo4j_ops.backup.s3 import human
from scripts.neo4j_ops.errors import UsageError

PROG = "restore"


def parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    p = argparse.ArgumentParser(prog="restore.py", description=doc.split("\n\n")[0],
                                epilog="\n\n".join(doc.split("\n\n")[1:]), formatter_class=cli.Formatter)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--latest", action="store_true", help="the newest complete backup")
    which.add_argument("--at", metavar="TIMESTAMP", help="a backup's timestamp (20250131T020000Z), or a time: "
                       "the newest complete backup at or before it")
    which.add_argument("--list", action="store_true", help="list the backups and whether each can be restored")
    cli.add_common(p)
    r = p.add_argument_group("restore")
    r.add_argument("--verify-only", action="store_true",
                   help="restore drill: restore into a throw-away server, compare counts, touch nothing else")
    r.add_argument("--yes", action="store_true", help="confirm replacing the production database")
    r.add_argument("--work-dir", type=Path, default=Path("/var/tmp"),
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
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    log = cli.logger(PROG, args.quiet)

    def work() -> dict:
        cli.require_bucket(args)
        if args.list:
            options = RestoreOptions(bucket=args.bucket, stack=args.stack, database=args.database, connection=None,
                                     admin=None, endpoint_url=args.endpoint_url, region=args.region, log=log)
            return {"backups": [_row(b) for b in catalogue(options)]}
        if not args.verify_only and not args.yes:
            raise UsageError("a restore replaces the database: add --yes to confirm, or --verify-only for a drill")
        conn = cli.connection(args)
        options = RestoreOptions(
            bucket=args.bucket, stack=args.stack, database=args.database, connection=conn,
            admin=cli.admin_tool(args), endpoint_url=args.endpoint_url, region=args.region,
            at=None if args.latest else args.at, control=cli.server_control(args, conn, log),
            work_dir=args.work_dir, safety_dump=not args.no_safety_dump, version=args.neo4j_version,
            edition=args.edition, scratch_command=split_command(args.scratch_command, "--scratch-command"),
            scratch_heap=args.scratch_heap, scratch_page_cache=args.scratch_page_cache,
            keep_scratch=args.keep_scratch, start_timeout=args.start_timeout, owner=args.owner, log=log)
        if not args.work_dir.is_dir():
            raise UsageError(f"--work-dir {args.work_dir} is not a directory")
        return drill(options) if args.verify_only else restore(options)

    return cli.run(PROG, work, args.json, describe)


def _row(backup) -> dict:
    m = backup.manifest
    row = {"timestamp": backup.timestamp, "status": backup.status, "problem": backup.problem}
    if m is not None:
        row.update(type=m.backup_type, size=m.size, neo4j_version=m.neo4j_version, nodes=m.counts.nodes,
                   relationships=m.counts.relationships)
    return row


def describe(result: dict) -> str:
    if "backups" in result:
        lines = [f"{'timestamp':<18}{'status':<14}{'type':<14}{'size':>11}  {'nodes':>12}  {'relationships':>13}  note"]
        for row in result["backups"]:
            size = human(row["size"]) if "size" in row else "-"
            lines.append(f"{row['timestamp']:<18}{row['status']:<14}{row.get('type', '-'):<14}{size:>11}  "
                         f"{row.get('nodes', '-')!s:>12}  {row.get('relationships', '-')!s:>13}  "
                         f"{row['problem'] or ''}")
        if not result["backups"]:
            lines.append("(no backups)")
        return "\n".join(lines)
    counts = result["counts"]
    if "verified" in result:
        return (f"restore drill passed: backup {result['verified']} restores and holds {counts['nodes']} nodes, "
                f"{counts['relationships']} relationships")
    return (f"restored backup {result['restored']}: {counts['nodes']} nodes, {counts['relationships']} "
            f"relationships, as its manifest says")


if __name__ == "__main__":
    sys.exit(main())
