"""The options backup.py and restore.py share (S3, the local Neo4j, output) and what they turn into.

The runner, exit codes and progress lines are the runtime's (neo4j_ops/cli.py), as for every command.
"""
from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bolt import Auth
from ..shared.errors import UsageError
from .admin import AdminTool, MemoryBounds, split_command
from .machine_fit import MachineFit, fit_this_machine
from .server import LocalNeo4j, ServerControl


@dataclass
class Job:
    """What a backup and a restore both work with: where the backups are, the local Neo4j, neo4j-admin."""
    bucket: str
    stack: str
    database: str
    neo4j: LocalNeo4j | None  # None: only S3 is needed (restore --list)
    admin: AdminTool | None
    endpoint_url: str | None = None
    region: str | None = None
    control: ServerControl | None = None  # how to stop and start the local server
    version: str | None = None  # Neo4j version to assume (default: asked over Bolt)
    owner: str | None = None  # user that neo4j-admin (and the drill's server) run as: owns what is made for them
    log: Callable[[str], None] = print


def add_common(parser: argparse.ArgumentParser) -> None:
    s3 = parser.add_argument_group("S3")
    s3.add_argument("--bucket", default=os.environ.get("BACKUP_BUCKET"),
                    help="bucket holding the backups (default: $BACKUP_BUCKET)")
    s3.add_argument("--stack", required=True, help="stack name: the first part of every object key")
    s3.add_argument("--database", default="neo4j", help="database to back up / restore")
    s3.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL_S3") or None,
                    help="S3 endpoint for S3-compatible stores or moto (default: AWS)")
    s3.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
                    help="AWS region (default: $AWS_REGION, then the AWS configuration)")

    neo = parser.add_argument_group("Neo4j")
    neo.add_argument("--neo4j-home", type=Path, default=os.environ.get("NEO4J_HOME"),
                     help="NEO4J_HOME for neo4j-admin (default: $NEO4J_HOME, else neo4j-admin's own)")
    neo.add_argument("--neo4j-conf", type=Path, default=os.environ.get("NEO4J_CONF"),
                     help="directory of neo4j.conf (default: $NEO4J_CONF, else <home>/conf)")
    neo.add_argument("--neo4j-admin", default="neo4j-admin", metavar="COMMAND",
                     help="how to run neo4j-admin, e.g. 'runuser -u neo4j -- neo4j-admin'")
    neo.add_argument("--owner", metavar="USER", help="user neo4j-admin runs as (see --neo4j-admin): gets the "
                     "directories this tool makes for it")
    neo.add_argument("--neo4j-version", help="Neo4j version to assume (default: asked over Bolt)")
    neo.add_argument("--admin-heap", metavar="SIZE", type=neo4j_size_arg,
                     help="HEAP_SIZE of every neo4j-admin run (backup, aggregate, check, restore), e.g. 512m; the "
                     "backup job passes its host's budget (make plan prints it). Default: the JVM's choice")
    neo.add_argument("--admin-off-heap", metavar="SIZE", type=neo4j_size_arg,
                     help="the backup's --pagecache and the check's --max-off-heap-memory (aggregate-backup and "
                     "4.4's check-consistency: their page cache, in an --additional-config file). Default: "
                     "neo4j-admin's (8m for a 4.4 backup; 90%% of free memory for a check)")
    neo.add_argument("--check-threads", metavar="N", type=int,
                     help="the check's --threads (5.x+; 4.4 has none). Default: the number of CPUs")
    neo.add_argument("--admin-sized-for", metavar="SIZE", type=size_arg,
                     help="the machine memory the budget above was sized for (the backup job passes its host's): "
                     "on a machine with less (its instance keeps the old type until make rollout), neo4j-admin and "
                     "the drill's server get the least budget instead (256m heap, 128m off-heap)")
    neo.add_argument("--uri", default="bolt://localhost:7687", help="Bolt URI of the local server")
    neo.add_argument("--user", default="neo4j", help="Bolt user")
    neo.add_argument("--password-env", default="NEO4J_PASSWORD", metavar="VARIABLE",
                     help="environment variable holding the Bolt password")
    neo.add_argument("--no-auth", action="store_true", help="the server has authentication disabled")
    neo.add_argument("--stop-command", default="systemctl stop neo4j", help="stops the local server")
    neo.add_argument("--start-command", default="systemctl start neo4j",
                     help="starts the local server (backup.py then waits until the database answers)")
    neo.add_argument("--start-timeout", type=float, default=300, help="seconds to wait for the database to answer")

    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the result as JSON")
    out.add_argument("--quiet", action="store_true", help="no progress lines, only the result and errors")


def local_neo4j(args: argparse.Namespace, log: Callable[[str], None]) -> LocalNeo4j:
    if args.no_auth:
        return LocalNeo4j(args.uri, None, log=log)
    password = os.environ.get(args.password_env)
    if not password:
        raise UsageError(f"${args.password_env} is not set: put the password of Neo4j user {args.user!r} in it "
                         f"(or name another variable with --password-env, or pass --no-auth)")
    return LocalNeo4j(args.uri, Auth(args.user, password), log=log)


def machine_fit(args: argparse.Namespace, log: Callable[[str], None]) -> MachineFit:
    """The memory bounds of the options, or the least ones on a machine smaller than --admin-sized-for."""
    fitted = fit_this_machine(MemoryBounds(args.admin_heap, args.admin_off_heap, args.check_threads),
                              args.admin_sized_for)
    if fitted.note:
        log(fitted.note)
    return fitted


def admin_tool(args: argparse.Namespace, bounds: MemoryBounds) -> AdminTool:
    home = args.neo4j_home.absolute() if args.neo4j_home else None
    conf = args.neo4j_conf.absolute() if args.neo4j_conf else None
    if home is not None and not home.is_dir():
        raise UsageError(f"--neo4j-home {home} is not a directory")
    if conf is not None and not (conf / "neo4j.conf").is_file():
        raise UsageError(f"--neo4j-conf {conf} holds no neo4j.conf")
    if args.check_threads is not None and args.check_threads < 1:
        raise UsageError(f"--check-threads: got {args.check_threads}; allowed: 1 or more")
    return AdminTool(split_command(args.neo4j_admin, "--neo4j-admin"), home, conf,
                     bounds=bounds)


def server_control(args: argparse.Namespace, neo4j: LocalNeo4j, log: Callable[[str], None]) -> ServerControl:
    return ServerControl(split_command(args.stop_command, "--stop-command"),
                         split_command(args.start_command, "--start-command"), neo4j, log, args.start_timeout)


def job_arguments(args: argparse.Namespace, log: Callable[[str], None],
                  fitted: MachineFit | None = None) -> dict[str, Any]:
    """The Job fields both commands take from the shared options (the Bolt password is read here)."""
    neo4j = local_neo4j(args, log)
    fitted = fitted or machine_fit(args, log)
    return {"bucket": args.bucket, "stack": args.stack, "database": args.database, "neo4j": neo4j,
            "admin": admin_tool(args, fitted.bounds), "endpoint_url": args.endpoint_url, "region": args.region,
            "control": server_control(args, neo4j, log), "version": args.neo4j_version, "owner": args.owner,
            "log": log}


def require_bucket(args: argparse.Namespace) -> None:
    if not args.bucket:
        raise UsageError("no bucket: pass --bucket or set $BACKUP_BUCKET")


def neo4j_size_arg(text: str) -> str:
    """A size neo4j-admin reads (HEAP_SIZE, --pagecache, --max-off-heap-memory): digits and k, m or g."""
    value = text.strip().lower()
    if not re.fullmatch(r"[1-9][0-9]*[kmg]", value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 512m or 2g")
    return value


def size_arg(text: str) -> int:
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    try:
        if value and value[-1] in units:
            return int(float(value[:-1]) * units[value[-1]])
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 16MiB or 64m") from None
