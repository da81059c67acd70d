"""The plan of `make migrate FROM=<4.4 stack> TO=<5.26 stack>` (issue 24, item 3): pure, what was read in, a
`MigrationPlan` out. migrate_command.py reads the two stacks and runs it.

The Upgrade and Migration Guide's order (version-5/migration/backup-databases and migrate-databases):
  1. back up each 4.4 database: "Run the neo4j-admin backup command to back up each of your databases. Use the option
     --include-metadata=all to include all roles and users associated with each of your databases." (a verified
     backup of the stack's bucket, as `make backup` writes them, stands in when one exists)
  2. the new DBMS holds none of them: "Make sure Neo4j 5 does not already host any databases with the same name as
     those that you want to migrate (ignoring the system database)." A new 5.26 stack holds its empty default
     database `neo4j`: dropped first when empty, refused when it holds anything
  3. restore on one 5.26 server and migrate there: "If you are migrating to a cluster, only restore them to one
     server; later you will use this server to seed the others." / "Use the neo4j-admin restore command to restore
     each of your databases, except the system database" / "Use the neo4j-admin database migrate command to update
     the file metadata to the 5 format" (--force-btree-indexes-to-range: offline.py's WHY_MIGRATE). A 4.4 backup
     is never a seed as it is: the guide migrates the restored store before the database is created.
  4. the migrated store, dumped by 5.26, is the seed in the TO stack's bucket, and `CREATE DATABASE … OPTIONS
     {existingData: 'use', seedURI: …}` creates the database on every server of TO (Operations Manual 5.x,
     clustering/databases.adoc: "OPTIONS { existingData: 'use', seedURI: 's3://myBucket/myBackup.backup' }")
  5. users, roles and privileges from 4.4's SHOW USERS / SHOW ROLES / SHOW PRIVILEGES AS COMMANDS, `system` is not
     restored ("except the system database"). 4.4's `ON DEFAULT DATABASE` / `ON DEFAULT GRAPH` are written `ON HOME
     DATABASE` / `ON HOME GRAPH`: 5.x knows only HOME (Operations Manual 5.x, authentication-authorization/
     database-administration.adoc: "The `DATABASE[S] _name_` part of the command can be replaced by `HOME
     DATABASE`."; built-in-roles.adoc lists PUBLIC's "GRANT ACCESS ON HOME DATABASE TO `PUBLIC`"). Passwords are
     not readable from SHOW USERS: each re-created user gets the password given for it, change required.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..backup.cluster_plan import _fetch_command as fetch_command
from ..backup.layout import Backup
from ..queries import quote_name
from ..shared.errors import OperationError, UsageError
from ..shared.versions import LINE_5, LINE_44, Version, dump_file_name
from .offline import migrate_argv

BUILT_IN_ROLES = ("PUBLIC", "reader", "editor", "publisher", "architect", "admin")
SEED_DIR = "/var/lib/neo4j/data/migration"  # on TO's seed server (the data volume, as the restore's backup-staging)
# neo4j-admin runs as the service's account, which owns the data directory (run as root by SSM, what it writes there
# would not be the server's); the download and the upload stay root's (the instance role's aws CLI)
AS_NEO4J = ("runuser", "-u", "neo4j", "--")
WHY_BACKUP = ("version-5/migration/backup-databases: \"Use the option --include-metadata=all to include all roles and "
              "users associated with each of your databases.\"")
WHY_RESTORE = ("version-5/migration/migrate-databases: \"If you are migrating to a cluster, only restore them to one "
               "server; later you will use this server to seed the others.\"")
WHY_FREE = ("version-5/migration/migrate-databases: \"Make sure Neo4j 5 does not already host any databases with the "
            "same name as those that you want to migrate (ignoring the system database).\"")
_DEFAULT = re.compile(r"\bON DEFAULT (DATABASE|GRAPH)\b")


class MigrationError(OperationError):
    """The TO stack's state refuses the migration (exit 1); a version or a name refuses it as a UsageError (exit 2)."""


def check_stacks(from_stack: str, to_stack: str, from_version: str | None, to_version: str | None) -> None:
    """FROM on 4.4, TO on 5.26, two stacks: else one line (UsageError, exit 2)."""
    if from_stack == to_stack:
        raise UsageError(f"TO={to_stack} is FROM: a migration goes into a new 5.26 stack and never changes the 4.4 "
                         f"one; create a stack on neo4j:version 5.26.x and name it as TO")
    have = _parse(from_version)
    if have is None or (have.major, have.minor) != (4, 4):
        raise UsageError(f"FROM={from_stack} runs Neo4j {from_version or 'unknown'}, not 4.4: make migrate moves a 4.4 "
                         f"stack to 5.26; within 5 and on to 2025 it is `make upgrade`")
    want = _parse(to_version)
    if want is None or (want.major, want.minor) != (5, 26):
        raise UsageError(f"TO={to_stack} runs Neo4j {to_version or 'unknown'}, not 5.26: 4.4 databases migrate to the "
                         f"5.26 LTS only (Upgrade and Migration Guide, version-5/migration); set neo4j:version 5.26.x "
                         f"for TO, and reach 2025 afterwards with `make upgrade STACK={to_stack}`")


def _parse(release: str | None) -> Version | None:
    try:
        return Version.parse(release) if release else None
    except ValueError:
        return None


def databases_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The standard databases SHOW DATABASES lists (one row per copy), system and composites left out."""
    names = {str(r["name"]) for r in rows if r.get("name") and r.get("name") != "system"
             and r.get("type") not in ("system", "composite")}
    return sorted(names)


def free_target(databases: list[str], held: Mapping[str, tuple[int, int] | None]) -> list[str]:
    """`held`: each database TO already has → its (nodes, relationships), None when it could not be counted.
    Returns the empty ones to drop first; refuses (MigrationError) any other."""
    def counted(found: tuple[int, int] | None) -> str:
        return "not counted" if found is None else f"{found[0]} nodes, {found[1]} relationships"

    busy = [f"{name} ({counted(held[name])})" for name in databases if name in held and held[name] != (0, 0)]
    if busy:
        raise MigrationError(f"TO already holds {', '.join(busy)}; the guide: \"Make sure Neo4j 5 does not already "
                               f"host any databases with the same name as those that you want to migrate\": migrate "
                               f"into a new stack (make migrate never drops a database that holds data)")
    return [name for name in databases if name in held]


def translate_privilege(command: str) -> tuple[str, str | None]:
    """A 4.4 GRANT/DENY (SHOW PRIVILEGES AS COMMANDS) as 5.26 takes it, and what changed (None: as it is)."""
    translated = _DEFAULT.sub(lambda m: f"ON HOME {m.group(1)}", command)
    if translated != command:
        return translated, "4.4's ON DEFAULT … is ON HOME … in 5"
    return command, None


def newest_verified(backups: Iterable[Backup]) -> Backup | None:
    verified = [b for b in backups if b.restorable and b.manifest is not None and b.manifest.check == "passed"]
    return max(verified, key=lambda b: b.timestamp) if verified else None


def cypher_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


FETCH, RESTORE, MIGRATE, DUMP, UPLOAD, CREATE = "fetch", "restore", "migrate", "dump", "upload", "create"


@dataclass(frozen=True)
class DatabaseMigration:
    database: str
    backup: str  # the 4.4 backup: its s3:// object, or the backup to take
    steps: tuple[str, ...]  # on TO's seed server, with 5.26's neo4j-admin (in words, for the plan)
    seed_uri: str
    create: str  # on TO's system database
    server: str = ""  # TO's seed server
    commands: tuple[tuple[str, str], ...] = ()  # (step, shell command) run on `server`; () without a backup
    seeded: str | None = None  # the sha256 of the seed already in TO's bucket: fetch … upload are not run again
    created: bool = False  # TO already has it, created from that seed: skipped

    def to_json(self) -> dict[str, Any]:
        return {"database": self.database, "backup": self.backup, "steps": list(self.steps),
                "seedURI": self.seed_uri, "create": self.create, "server": self.server,
                "commands": [{"step": k, "command": c} for k, c in self.commands], "seeded": self.seeded,
                "created": self.created}


@dataclass(frozen=True)
class MigrationPlan:
    from_stack: str
    to_stack: str
    from_version: str
    to_version: str
    databases: tuple[DatabaseMigration, ...]
    drops: tuple[str, ...]  # statements: TO's empty databases of the same names
    users: tuple[str, ...]  # statements, in order: users, roles, role grants, privileges
    translated: tuple[tuple[str, str], ...]  # (4.4 command, why it was rewritten)
    kept_users: tuple[str, ...]  # users TO already has: left as they are
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"from": self.from_stack, "to": self.to_stack, "fromVersion": self.from_version,
                "toVersion": self.to_version, "databases": [d.to_json() for d in self.databases],
                "drops": list(self.drops), "users": list(self.users),
                "translated": [{"from": a, "why": b} for a, b in self.translated],
                "keptUsers": list(self.kept_users), "notes": list(self.notes)}


def seed_uri(database: str, *, to_stack: str, to_bucket: str | None, backup: Backup | None, stamp: str) -> str:
    """Where the migrated dump of `database` goes in TO's bucket: under the 4.4 backup's own timestamp, so that a
    re-run finds the seed it uploaded before (`stamp`, the run's time, only when a new backup is to be taken)."""
    at = backup.timestamp if backup is not None else stamp
    return f"s3://{to_bucket or '<TO bucket>'}/{to_stack}/{database}/{at}/{dump_file_name(database)}"


def seed_uris(databases: Iterable[str], backups: Mapping[str, list[Backup]], *, to_stack: str,
              to_bucket: str | None, stamp: str) -> dict[str, str]:
    """Each database's seed URI, as plan_migration plans it (the command asks TO's bucket for them first)."""
    return {name: seed_uri(name, to_stack=to_stack, to_bucket=to_bucket,
                           backup=newest_verified(backups.get(name, [])), stamp=stamp) for name in databases}


def store_commands(database: str, backup_folder: Path, dump_dir: Path) -> dict[str, tuple[str, ...]]:
    """The 5.26 neo4j-admin commands (argv) of one database on the seed server: restore the 4.4 backup folder,
    migrate the store (offline.migrate_argv), dump it into `dump_dir`/<database>.dump. One place for their text:
    database_migration sends them; tests/integration/test_upgrade_real_neo4j.py runs migrate and dump on a real
    5.26.30 (Community has no `database restore`: Enterprise only)."""
    return {RESTORE: ("neo4j-admin", *LINE_5.admin_restore(database, backup_folder)),
            MIGRATE: migrate_argv(database),
            DUMP: ("neo4j-admin", *LINE_5.admin_dump_to_path(database, dump_dir))}


def database_migration(database: str, *, from_stack: str, from_bucket: str | None, backup: Backup | None,
                       to_stack: str, to_bucket: str | None, stamp: str, seed_server: str,
                       region: str | None = None, from_region: str | None = None) -> DatabaseMigration:
    """The steps on TO's seed server (shell commands, the text SSM's AWS-RunShellScript runs): download the 4.4
    backup and check its sha256 (the cluster restore's own download, cluster_plan), `neo4j-admin database restore`,
    `database migrate` (offline.migrate_argv, the text the real servers' test runs), `database dump`, the upload of
    the dump with its sha256 as object metadata (a re-run that finds it does not upload it again)."""
    here = Path(SEED_DIR) / database
    dump_dir = Path(SEED_DIR) / "dumps"
    dump = dump_dir / dump_file_name(database)
    uri = seed_uri(database, to_stack=to_stack, to_bucket=to_bucket, backup=backup, stamp=stamp)
    commands: tuple[tuple[str, str], ...] = ()
    admin = {k: shlex.join((*AS_NEO4J, *v))
             for k, v in store_commands(database, here / "unpacked" / database, dump_dir).items()}
    if backup is not None and backup.manifest is not None and from_bucket:
        name = next((n for n in backup.names if n != "manifest.json"), "")
        source = f"s3://{from_bucket}/{from_stack}/{database}/{backup.timestamp}/{name}"
        fetch, _ = fetch_command(LINE_44, backup.manifest, from_bucket, database, here, from_region or region)
        where = f" --region {shlex.quote(region)}" if region else ""
        commands = (
            (FETCH, f"{fetch} && chown -R neo4j:neo4j {here}"),
            (RESTORE, admin[RESTORE]),
            (MIGRATE, admin[MIGRATE]),
            (DUMP, f"install -d -o neo4j -g neo4j {dump_dir} && {admin[DUMP]}"),
            (UPLOAD, f"sha=$(sha256sum {dump} | cut -d' ' -f1) && aws s3 cp{where} {dump} {uri} --metadata "
                     f"sha256=$sha && rm -rf {here} {dump}"))
        steps = tuple(f"[{seed_server}] {command}" for _, command in commands)
    else:
        source = (f"a new backup on a 4.4 server: neo4j-admin backup --database={database} "
                  f"--backup-dir={SEED_DIR} --include-metadata=all")
        steps = (f"[{seed_server}] copy the 4.4 backup folder to {here / 'unpacked' / database} on this server",
                 *(f"[{seed_server}] {admin[k]}" for k in (RESTORE, MIGRATE, DUMP)),
                 f"[{seed_server}] aws s3 cp {dump} {uri}")
    create = (f"CREATE DATABASE {quote_name(database)} IF NOT EXISTS OPTIONS {{existingData: 'use', seedURI: "
              f"{cypher_string(uri)}}} WAIT")
    return DatabaseMigration(database, source, steps, uri, create, seed_server, commands)


def user_statements(users: Iterable[Mapping[str, Any]], roles: Iterable[str], privileges: Iterable[str],
                    existing_users: Iterable[str], existing_roles: Iterable[str]) \
        -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """The statements re-creating 4.4's users, roles and privileges on TO, the translated privileges, and the users
    TO already has (kept: the admin of the new stack, whose password that stack set)."""
    have_users, have_roles = set(existing_users), set(existing_roles)
    statements: list[str] = []
    kept: list[str] = []
    grants: list[str] = []
    for row in sorted(users, key=lambda r: str(r.get("user"))):
        name = str(row["user"])
        if name in have_users:
            kept.append(name)
            continue
        text = f"CREATE USER {quote_name(name)} SET PASSWORD $password CHANGE REQUIRED"
        if row.get("suspended"):
            text += " SET STATUS SUSPENDED"
        if row.get("home"):
            text += f" SET HOME DATABASE {quote_name(str(row['home']))}"
        statements.append(text)
        grants += [f"GRANT ROLE {quote_name(r)} TO {quote_name(name)}" for r in sorted(row.get("roles") or [])
                   if r != "PUBLIC"]
    statements += [f"CREATE ROLE {quote_name(r)} IF NOT EXISTS" for r in sorted(set(roles))
                   if r not in BUILT_IN_ROLES and r not in have_roles]
    statements += grants
    translated = []
    for command in privileges:
        text, why = translate_privilege(command)
        if why:
            translated.append((command, why))
        statements.append(text)
    return statements, translated, kept


def plan_migration(*, from_stack: str, to_stack: str, from_version: str, to_version: str,
                   from_databases: list[Mapping[str, Any]], to_held: Mapping[str, tuple[int, int] | None],
                   backups: Mapping[str, list[Backup]], from_bucket: str | None, to_bucket: str | None,
                   seed_server: str, stamp: str, users: list[Mapping[str, Any]], roles: list[str],
                   privileges: list[str], to_users: list[str], to_roles: list[str],
                   seeded: Mapping[str, str] | None = None, region: str | None = None,
                   from_region: str | None = None) -> MigrationPlan:
    """Refuses (check_stacks, free_target) or plans; every argument is what was read, nothing is asked here.
    seeded: database → the sha256 of its seed (seed_uris) already in TO's bucket, from an earlier run. A database TO
    has whose seed is there was created by that run: it is skipped, neither refused nor dropped."""
    check_stacks(from_stack, to_stack, from_version, to_version)
    names = databases_of(from_databases)
    if not names:
        raise MigrationError(f"FROM={from_stack} lists no database but system (SHOW DATABASES): nothing to migrate")
    seeded = dict(seeded or {})
    created = {name for name in names if name in to_held and name in seeded}
    drops = free_target(names, {k: v for k, v in to_held.items() if k not in created})
    notes = []
    steps = []
    for name in names:
        found = newest_verified(backups.get(name, []))
        if found is None:
            notes.append(f"{name}: no verified backup in FROM's bucket; the plan takes a new one")
        step = database_migration(name, from_stack=from_stack, from_bucket=from_bucket, backup=found,
                                  to_stack=to_stack, to_bucket=to_bucket, stamp=stamp, seed_server=seed_server,
                                  region=region, from_region=from_region)
        steps.append(replace(step, seeded=seeded.get(name), created=name in created))
    statements, translated, kept = user_statements(users, roles, privileges, to_users, to_roles)
    if not roles:
        notes.append("FROM has no roles to read (SHOW ROLES is Enterprise): users only")
    return MigrationPlan(from_stack, to_stack, from_version, to_version, tuple(steps),
                         tuple(f"DROP DATABASE {quote_name(n)} IF EXISTS WAIT" for n in drops), tuple(statements),
                         tuple(translated), tuple(kept), tuple(notes))


def render_text(plan: MigrationPlan, *, dry_run: bool, done: list[str] | None = None) -> str:
    lines = [f"Migration of stack {plan.from_stack} (Neo4j {plan.from_version}) into stack {plan.to_stack} "
             f"(Neo4j {plan.to_version}); {plan.from_stack} is only read:"]
    if plan.drops:
        lines.append(f"On {plan.to_stack}, the empty databases of the same names first ({WHY_FREE}):")
        lines += [f"  {s}" for s in plan.drops]
    for step in plan.databases:
        if step.created:
            lines.append(f"Database {step.database}: already on {plan.to_stack}, created from its seed "
                         f"{step.seed_uri}: skipped")
            continue
        lines.append(f"Database {step.database}:")
        if step.seeded:
            lines.append(f"  seed already in {plan.to_stack}'s bucket (sha256 {step.seeded}): not made again")
        lines.append(f"  4.4 backup: {step.backup}")
        lines += [f"  {s}" for s in step.steps]
        lines.append(f"  on {plan.to_stack} system: {step.create}")
    lines.append(f"Users, roles and privileges on {plan.to_stack} (from 4.4's SHOW USERS, SHOW ROLES, SHOW PRIVILEGES "
                 f"AS COMMANDS):")
    lines += [f"  {s}" for s in plan.users] or ["  (none)"]
    lines += [f"  rewritten: {a} ({why})" for a, why in plan.translated]
    if plan.kept_users:
        lines.append(f"  kept as {plan.to_stack} has them: {', '.join(plan.kept_users)}")
    lines += [f"note: {n}" for n in plan.notes]
    if done is not None:
        lines += [f"done: {d}" for d in done]
    if dry_run:
        lines.append("dry run: nothing was changed")
    return "\n".join(lines)
