"""scripts/migrate.py (`make migrate FROM=<4.4 stack> TO=<5.26 stack> [DRY_RUN=1]`): its help, options and the run.

Reads both stacks (their stack files' neo4j:version, then each one's running release, SHOW DATABASES, users, roles,
privileges; FROM's verified backups), plans with migrate.py (pure), prints the plan. FROM is only ever read.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import cli, queries
from ..bolt import BoltError, Transport, statement_runner
from ..cluster_cli import bolt_transport
from ..shared.errors import UsageError
from ..target import build_target, read_user_passwords, stack_settings
from .migrate import (
    MigrationError,
    MigrationPlan,
    check_stacks,
    databases_of,
    plan_migration,
    render_text,
    seed_uris,
)
from .migrate_run import check_runnable, run_database_steps

SHOW_PRIVILEGES_AS_COMMANDS = "SHOW PRIVILEGES AS COMMANDS"

MIGRATE_DOC = """Migrate a 4.4 stack into a new 5.26 stack, as the Upgrade and Migration Guide does it ("Migrate
databases from 4.4 LTS"): per database of FROM (SHOW DATABASES on its system database), its 4.4 backup (the newest
verified one in FROM's bucket, or a new `neo4j-admin backup --include-metadata=all`), restored on one server of TO
and migrated there (`neo4j-admin database restore`, `neo4j-admin database migrate --force-btree-indexes-to-range`: a
4.4 backup cannot seed 5.26 as it is), dumped as the seed in TO's bucket, then CREATE DATABASE … OPTIONS
{existingData: 'use', seedURI: …} on TO; then the users, roles and privileges of 4.4's SHOW USERS / SHOW ROLES /
SHOW PRIVILEGES AS COMMANDS (ON DEFAULT DATABASE|GRAPH is written ON HOME … for 5). FROM is never changed.

Refused in one line: FROM not on 4.4, TO not on 5.26 (2025 comes afterwards: `make upgrade STACK=<TO>`), TO the same
stack as FROM (exit 2); TO already holding one of the databases with data (exit 1; an empty one, such as a new
stack's default `neo4j`, is dropped first).

A real run runs the plan, printing each step before it runs it (on standard error; the plan and what was done
at the end): the shell steps on TO's first server through AWS Systems Manager (AWS-RunShellScript, the instance
found by its Name tag <TO>-<server>, as the cluster restore does), CREATE DATABASE on TO, then the users (each
user with the password --user-passwords-file gives it, change required; users TO has are kept). A re-run goes on
where the last one stopped: a database TO already has from its seed is skipped, a seed already in TO's bucket
(with its sha256) is not made again. A failure stops with the database and the step named. Refused before
anything is sent: a database with no verified backup in FROM's bucket (run `make backup STACK=<FROM>` first), TO
on the docker platform (no Systems Manager there).
--users-only re-creates only the users, roles and privileges.

Exit status: 0 done (or the dry run), 1 refused or failed, 2 usage or versions, 130 interrupted."""

MIGRATE_EXAMPLE = """examples:
  NEO4J_PASSWORD=… make migrate FROM=legacy TO=prod DRY_RUN=1
  # offline, against recorded stacks (stand-ins DERIVED from the manual, tests/fixtures/enterprise/README.md):
  NEO4J_PASSWORD=x .venv/bin/python scripts/migrate.py --from legacy --to prod --dry-run \\
      --from-uri bolt://core-1.legacy.neo4j.internal:7687 --to-uri bolt://core-1.prod.neo4j.internal:7687 \\
      --to-ca-cert CA.pem --replay tests/fixtures/enterprise/migrate-4.4-legacy.json \\
      --replay tests/fixtures/enterprise/migrate-5.26-prod.json
  # the users, roles and privileges alone, for real:
  NEO4J_PASSWORD=… make migrate FROM=legacy TO=prod ARGS='--users-only --user-passwords-file passwords.json'"""


def build_parser():
    p = cli.Parser(prog="migrate", description=MIGRATE_DOC.strip(), epilog=MIGRATE_EXAMPLE,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    for side, what in (("from", "the 4.4 stack (only read)"), ("to", "the new 5.26 stack")):
        g = p.add_argument_group(f"{side.upper()}: {what}")
        g.add_argument(f"--{side}", required=True, metavar="STACK", dest=f"{side}_stack", help="stack name")
        g.add_argument(f"--{side}-stack-file", metavar="FILE", help="stack config instead of Pulumi.<stack>.yaml")
        g.add_argument(f"--{side}-outputs-file", metavar="FILE", help="saved `pulumi stack output --json "
                                                                    "--show-secrets` (instead of running pulumi)")
        g.add_argument(f"--{side}-uri", metavar="URI", help="a server or the entry point, e.g. bolt://host:7687")
        g.add_argument(f"--{side}-password-env", default="NEO4J_PASSWORD", metavar="VAR",
                       help="variable holding the admin's password (default: NEO4J_PASSWORD)")
        g.add_argument(f"--{side}-ca-cert", metavar="FILE", help="the stack's CA certificate (PEM) for TLS")
    p.add_argument("--user", default="neo4j", help="the admin user on both stacks (default: neo4j)")
    p.add_argument("--user-passwords-file", metavar="FILE",
                   help="JSON user → password for the users re-created on TO (SHOW USERS has no passwords)")
    p.add_argument("--users-only", action="store_true", help="re-create users, roles and privileges on TO only")
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument("--replay", type=Path, action="append", metavar="SCENARIO.json",
                   help="with --dry-run: the stacks answer from recorded scenarios (give one per stack)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per query (default: 10)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    return p


def main(argv: list[str] | None = None, transport: Transport | None = None, backups: dict | None = None,
         now=None, shell=None, seeds=None) -> int:
    """`transport` and `backups` (database → FROM's backups) stand in for the stacks and the bucket in tests; `shell`
    (a RemoteShell) for SSM on TO's servers, `seeds` ({database: seed URI} → {database: sha256 of the seed found})
    for TO's bucket."""
    args = build_parser().parse_args(argv)
    return cli.run("migrate", lambda: _run(args, transport, backups, now or (lambda: datetime.now(UTC)), shell,
                                           seeds))


def _target(args, side: str):
    ns = argparse.Namespace(stack=getattr(args, f"{side}_stack"), outputs_file=getattr(args, f"{side}_outputs_file"),
                            stack_file=getattr(args, f"{side}_stack_file"), uri=getattr(args, f"{side}_uri"),
                            servers=None, user=args.user, password_env=getattr(args, f"{side}_password_env"),
                            ca_cert=getattr(args, f"{side}_ca_cert"), timeout=args.timeout)
    return build_target(ns)


def _version(settings) -> str | None:
    return settings.version if settings is not None else None


def _replayed(args) -> tuple[dict, dict]:
    from ..backup.layout import Backup, ManifestError, parse_manifest
    from ..recorded import load_scenario

    if not args.dry_run:
        raise UsageError("--replay answers from recorded scenarios: it only goes with --dry-run")
    merged: dict[str, Any] = {"endpoints": {}}
    found: dict[str, list] = {}
    for path in args.replay:
        try:
            scenario = load_scenario(path)
            manifests = [parse_manifest(json.dumps(m)) for m in scenario.get("backups", [])]
        except (OSError, ValueError, ManifestError) as error:
            raise UsageError(f"--replay {path}: {error}") from None
        merged["endpoints"].update(scenario.get("endpoints") or {})
        for m in manifests:
            if m.stack == args.from_stack:
                found.setdefault(m.database, []).append(
                    Backup(m.timestamp, tuple(f.name for f in m.files) + ("manifest.json",), m))
            if scenario.get("bucket"):
                merged["from_bucket" if m.stack == args.from_stack else "to_bucket"] = scenario["bucket"]
        endpoints = scenario.get("endpoints") or {}
        if scenario.get("bucket") and any(args.to_stack in str(e.get("uri")) for e in endpoints.values()):
            merged["to_bucket"] = scenario["bucket"]
    return merged, found


class _Side:
    """One stack over Bolt: its system database, and counts on a named database."""

    def __init__(self, transport: Transport, target, timeout: float):
        uri = target.servers[0].uri
        self.client = transport.client(uri, target.auth, tls=target.tls)
        self.run = statement_runner(self.client, timeout)
        self.timeout = timeout
        self.server = target.servers[0].name

    def release(self) -> str | None:
        rows = self.run(queries.COMPONENTS)
        return next((str(v) for r in rows if r.get("name") == "Neo4j Kernel" for v in (r.get("versions") or [])),
                    None)

    def optional(self, statement: queries.Named) -> list[dict[str, Any]]:
        """An Enterprise-only read (roles, privileges): none on Community."""
        try:
            return self.run(statement)
        except BoltError as error:
            if "nsupported administration command" in error.message or "community" in error.message.lower():
                return []
            raise

    def count(self, database: str) -> tuple[int, int] | None:
        try:
            nodes = self.client.run(queries.COUNT_NODES.name, queries.COUNT_NODES.cypher, database=database,
                                    timeout=self.timeout).records
            rels = self.client.run(queries.COUNT_RELATIONSHIPS.name, queries.COUNT_RELATIONSHIPS.cypher,
                                   database=database, timeout=self.timeout).records
            return int(nodes[0]["count"]), int(rels[0]["count"])
        except (BoltError, LookupError, TypeError, ValueError):
            return None

    def write(self, cypher: str, params: dict[str, Any] | None = None) -> None:
        self.run(queries.Named.built(cypher, "system"), params)

    def write_rows(self, cypher: str) -> list[dict[str, Any]]:
        return self.run(queries.Named.built(cypher, "system"), None)


def _bucket_backups(target, settings, databases: list[str]) -> dict:
    from ..backup.s3 import client, list_backups

    if not target.backup_bucket or settings is None:
        return {}
    s3 = client(settings.backup_s3_endpoint or None, target.aws_region or settings.region)
    return {db: list_backups(s3, target.backup_bucket, settings.stack, db) for db in databases}


def server_name(address: str) -> str:
    """The server SsmShell finds (by its Name tag <stack>-<server>, or its private IP): a stack output's name as
    it is; from --to-uri's host:port, an IP as it is, else the host's first label (core-1.prod.neo4j.internal →
    core-1, the stack's DNS names: components/topology.py)."""
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        return host.split(".", 1)[0]


def _bucket_seeds(target, settings) -> Any:
    """{database: seed URI} → {database: the sha256 metadata of the seed object in TO's bucket, when there}."""
    def found(uris: dict[str, str]) -> dict[str, str]:
        from botocore.exceptions import ClientError

        from ..backup.s3 import client

        if not target.backup_bucket or settings is None:
            return {}
        s3 = client(settings.backup_s3_endpoint or None, target.aws_region or settings.region)
        seen = {}
        for database, uri in uris.items():
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            try:
                sha = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")
            except ClientError:
                continue
            if sha:
                seen[database] = sha
        return seen
    return found


def _ssm_shell(settings, target, stack: str):
    if settings is None or settings.platform == "docker":
        raise UsageError(f"TO={stack} is not an AWS stack: make migrate "
                         f"runs the database steps through AWS Systems Manager; on docker, run the printed steps "
                         f"with docker exec (--dry-run prints them), then ARGS=--users-only")
    import boto3

    from ..backup.remote import SsmShell

    region = target.aws_region or settings.region
    return SsmShell(boto3.client("ssm", region_name=region), boto3.client("ec2", region_name=region), settings.stack,
                    purpose="migrate")


def _run(args, transport: Transport | None, backups: dict | None, now, shell=None, seeds=None) -> int:
    log = cli.logger("migrate", args.quiet or args.json)
    if args.replay and not args.dry_run:
        raise UsageError("--replay answers from recorded scenarios: it only goes with --dry-run")
    from_settings = stack_settings(args.from_stack, args.from_stack_file)
    to_settings = stack_settings(args.to_stack, args.to_stack_file)
    # the stack files first: a refusal before anything is asked
    check_stacks(args.from_stack, args.to_stack, _version(from_settings) or "4.4", _version(to_settings) or "5.26")
    scenario = None
    if args.replay:
        scenario, backups = _replayed(args)
    source, target = _target(args, "from"), _target(args, "to")
    if scenario is not None:
        from ..recorded import RecordedTransport

        transport = RecordedTransport(scenario)
    from_bucket, to_bucket = source.backup_bucket, target.backup_bucket
    if scenario is not None:  # the recorded stacks' buckets (their manifests, and where the seeds go)
        from_bucket, to_bucket = from_bucket or scenario.get("from_bucket"), to_bucket or scenario.get("to_bucket")
    passwords = read_user_passwords(args.user_passwords_file, None)
    with bolt_transport(transport, source.tls, args.timeout) as real:
        old, new = _Side(real, source, args.timeout), _Side(real, target, args.timeout)
        log(f"reading {args.from_stack} (4.4) and {args.to_stack} (5.26)")
        from_version, to_version = old.release(), new.release()
        check_stacks(args.from_stack, args.to_stack, from_version, to_version)
        from_rows = old.run(queries.SHOW_DATABASES)
        names = databases_of(from_rows)
        to_names = {str(r.get("name")) for r in new.run(queries.SHOW_DATABASES)}
        held = {name: new.count(name) for name in names if name in to_names}
        if backups is None:
            backups = _bucket_backups(source, from_settings, names)
        users = old.run(queries.SHOW_USERS)
        roles = [str(r["role"]) for r in old.optional(queries.SHOW_ROLES)]
        privileges = [str(r["command"]) for r in old.optional(
            queries.Named.built(SHOW_PRIVILEGES_AS_COMMANDS, "system", write=False))]
        to_users = [str(r["user"]) for r in new.run(queries.SHOW_USERS)]
        to_roles = [str(r["role"]) for r in new.optional(queries.SHOW_ROLES)]
        stamp = now().strftime("%Y%m%dT%H%M%SZ")
        if seeds is None and scenario is None and not args.users_only:
            seeds = _bucket_seeds(target, to_settings)
        seeded = seeds(seed_uris(names, backups or {}, to_stack=args.to_stack, to_bucket=to_bucket,
                                 stamp=stamp)) if seeds is not None else {}
        region = target.aws_region or (to_settings.region if to_settings is not None else None)
        from_region = source.aws_region or (from_settings.region if from_settings is not None else None)
        plan = plan_migration(from_stack=args.from_stack, to_stack=args.to_stack, from_version=from_version or "",
                              to_version=to_version or "", from_databases=from_rows, to_held=held,
                              backups=backups or {}, from_bucket=from_bucket,
                              to_bucket=to_bucket, seed_server=server_name(new.server),
                              stamp=stamp, users=users, roles=roles,
                              privileges=privileges, to_users=to_users, to_roles=to_roles, seeded=seeded,
                              region=region, from_region=from_region)
        done: list[str] | None = None
        if not args.dry_run:
            done = []
            if not args.users_only:
                _check_passwords(plan, passwords)
                check_runnable(plan)
                shell = shell or _ssm_shell(to_settings, target, args.to_stack)
                done += run_database_steps(plan, shell, lambda s: new.write_rows(s), print_progress(args))
            done += _recreate_users(plan, new, passwords, log)
    return cli.print_report(_Report(plan, args.dry_run, done), args.json, lambda r: r.text(), failed=False)


def print_progress(args):
    """Each database step, printed before it runs (standard error; --quiet or --json: none)."""
    return cli.logger("migrate", args.quiet or args.json)


def _check_passwords(plan: MigrationPlan, passwords: dict[str, str]) -> None:
    missing = sorted({s.split("`")[1] for s in plan.users if s.startswith("CREATE USER")} - set(passwords))
    if missing:
        raise UsageError(f"--user-passwords-file names no password for {', '.join(missing)}: SHOW USERS does not "
                         f"give passwords; give each re-created user one (it must change it at first login)")


def _recreate_users(plan: MigrationPlan, new: _Side, passwords: dict[str, str], log) -> list[str]:
    _check_passwords(plan, passwords)
    done = []
    for statement in plan.users:
        params = None
        if statement.startswith("CREATE USER"):
            params = {"password": passwords[statement.split("`")[1]]}
        try:
            new.write(statement, params)
        except BoltError as error:
            raise MigrationError(f"{plan.to_stack}: {statement}: {error.message} (done before it: {len(done)} of "
                                   f"{len(plan.users)}; {plan.from_stack} unchanged)") from None
        log(statement)
        done.append(statement)
    return done


class _Report:
    def __init__(self, plan: MigrationPlan, dry_run: bool, done: list[str] | None):
        self.plan, self.dry_run, self.done = plan, dry_run, done

    def text(self) -> str:
        return render_text(self.plan, dry_run=self.dry_run, done=self.done)

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "dryRun": self.dry_run, "done": self.done}
