"""The cluster restore's plan, pure: what the cluster has under the name clients use (ClusterState, from SHOW
ALIASES and SHOW DATABASES), and the steps that restore a backup into it (Plan, Step), with no I/O.

5.24+ and 2025 (`VersionLine.recreate_procedure`) replace the database's store from the backup's S3 URI under its
own name, with its privileges (the default); --beside (`beside=True`, 5.x+) seeds a new database and switches
clients to it; 4.4 has no seed from URI, so its plan is the Operations Manual's offline procedure, per core
(cluster_restore.py says the whole procedure). `plan_cluster_restore` raises UsageError when the restore cannot be
done as asked.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..facts import Counts
from ..queries import quote_name
from ..shared.errors import UsageError
from ..shared.versions import Version, VersionLine, dump_file_name
from .layout import Manifest, object_key

# Operations Manual (5.x, database-administration/standard-databases/naming-databases.adoc): "Length must be
# between 3 and 63 characters", "Subsequent characters must be ASCII alphabetic or numeric characters, dots or
# dashes", "Names cannot end with dots or dashes", "normalized to lowercase". No underscores.
_DATABASE_NAME = re.compile(r"^[a-z][a-z0-9.-]{1,61}[a-z0-9]$")
RESTORED_INFIX = "-restore-"


def restored_name(database: str, stamp: str) -> str:
    """`neo4j` + backup 20250131T020000Z -> `neo4j-restore-20250131t020000z`: valid, and the same on a re-run."""
    suffix = RESTORED_INFIX + stamp.lower()
    base = database.lower().replace("_", "-")[: 63 - len(suffix)].rstrip(".-")
    name = base + suffix
    if not _DATABASE_NAME.match(name):
        raise UsageError(f"--database {database!r}: cannot name its restored copy {name!r} (database names are "
                         f"3-63 of a-z 0-9 . -, starting with a letter)")
    return name


def cypher_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Topology:
    primaries: int
    secondaries: int

    @property
    def members(self) -> int:
        return self.primaries + self.secondaries

    def clause(self) -> str:
        # "TOPOLOGY 2 PRIMARIES 1 SECONDARY", "1 PRIMARY 0 SECONDARY" (5.x clustering/databases.adoc).
        p = "PRIMARY" if self.primaries == 1 else "PRIMARIES"
        s = "SECONDARY" if self.secondaries in (0, 1) else "SECONDARIES"
        return f"TOPOLOGY {self.primaries} {p} {self.secondaries} {s}"

    def __str__(self) -> str:
        p, s = self.primaries, self.secondaries
        return f"{p} primar{'y' if p == 1 else 'ies'}, {s} secondar{'y' if s == 1 else 'ies'}"


@dataclass(frozen=True)
class ClusterState:
    """What the cluster has under the name clients use, from SHOW ALIASES and SHOW DATABASES (on system)."""
    name: str
    alias_target: str | None  # the name is a local alias of this database
    rows: tuple[dict[str, Any], ...]  # SHOW DATABASES YIELD *: one row per database per member

    @classmethod
    def parse(cls, name: str, aliases: list[dict[str, Any]], databases: list[dict[str, Any]]) -> ClusterState:
        target = next((a.get("database") for a in aliases
                       if str(a.get("name", "")).lower() == name.lower() and a.get("location", "local") == "local"),
                      None)
        return cls(name, target, tuple(databases))

    def rows_of(self, database: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if str(r.get("name", "")).lower() == database.lower()]

    @property
    def serving(self) -> str | None:
        """The database clients of the name reach now."""
        if self.alias_target:
            return self.alias_target
        return self.name if self.rows_of(self.name) else None

    @property
    def is_default(self) -> bool:
        return self.is_default_database(self.name)

    def is_default_database(self, database: str) -> bool:
        return any(r.get("default") is True for r in self.rows_of(database))

    def topology_of(self, database: str) -> Topology | None:
        """The database's topology: SHOW DATABASES YIELD *'s requested…Count, else current…Count (5.x; the real
        5.26 answers them), else its rows' roles (primary | secondary; a member that is down says unknown)."""
        rows = self.rows_of(database)
        if not rows:
            return None
        for kind in ("requested", "current"):
            p, s = rows[0].get(f"{kind}PrimariesCount"), rows[0].get(f"{kind}SecondariesCount")
            if isinstance(p, int) and isinstance(s, int) and p > 0:
                return Topology(p, s)
        roles = [str(r.get("role", "")).lower() for r in rows]
        return Topology(sum(1 for r in roles if r in ("primary", "unknown")), roles.count("secondary"))

    def exists(self, database: str) -> bool:
        return bool(self.rows_of(database))

    def type_of(self, database: str) -> str:
        """standard | composite | system (5.x SHOW DATABASES `type`; 4.4 has no such column: standard)."""
        rows = self.rows_of(database)
        return str(rows[0].get("type") or "standard").lower() if rows else ""

    def start_times(self, database: str) -> tuple[tuple[str, str], ...]:
        """(address, lastStartTime) of each member hosting `database` (SHOW DATABASES YIELD *, 5.x+)."""
        return tuple((str(r.get("address", "")), str(r.get("lastStartTime")))
                     for r in self.rows_of(database) if r.get("lastStartTime") is not None)


@dataclass(frozen=True)
class Step:
    kind: str  # cypher | wait_online | counts | copy_chain | delete_chain | admin | note | privileges | grant
    description: str
    cypher: str = ""
    database: str = "system"
    phase: str = "prepare"  # prepare (before the switch) | swap | after (the restored copy serves)
    undo: str = ""  # Cypher that undoes this swap step if a later swap step fails
    server: str = ""  # 4.4: the core an admin step runs on
    command: str = ""  # 4.4: the shell command
    copies: tuple[tuple[str, str], ...] = ()  # copy_chain/delete_chain: (source key, staged key)
    started: tuple[tuple[str, str], ...] = ()  # wait_online after a recreate: (address, lastStartTime) before it
    secret_env: str = ""  # the environment variable the statement's $password is read from when it runs (never shown)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", (), [])}


@dataclass(frozen=True)
class Plan:
    line: str
    name: str  # the name clients use
    backup: str  # backup timestamp
    restored: str  # the database the backup is restored into (5.x+); the name itself on 4.4
    old: str | None  # what serves before; kept (stopped) after
    swap: str  # alias | default | none | offline
    seed_uri: str
    topology: Topology
    steps: tuple[Step, ...]
    serving: str  # what serves clients during the restore, in words
    notes: tuple[str, ...] = ()
    counts: Counts | None = None
    counts_exact: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "name": self.name, "backup": self.backup, "restored": self.restored,
                "old": self.old, "swap": self.swap, "seed_uri": self.seed_uri,
                "topology": asdict(self.topology), "serving": self.serving, "notes": list(self.notes),
                "steps": [s.to_json() for s in self.steps]}


def checks_only(plan: Plan) -> Plan:
    """A 4.4 plan's Cypher checks alone (online on every member, the counts): what runs from here once the per-core
    steps are done, switching nothing."""
    return replace(plan, swap="none", notes=(),
                   steps=tuple(s for s in plan.steps if s.kind in ("wait_online", "counts")))


def seed_location(manifest: Manifest, bucket: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The seedURI, and the S3 copies a differential chain needs first.

    Operations Manual (5.x, seed-from-uri.adoc, CloudSeedProvider): "Starting from Neo4j 5.26, the
    `CloudSeedProvider` supports using differential backup files as seeds. With the provided differential
    backup file, the `CloudSeedProvider` searches the directory containing differential backup files for a
    backup chain ending at the specified differential backup". Our backups each sit under their own
    timestamp, so a differential's chain is copied into one folder, seed-<timestamp>/, first.
    """
    m = manifest
    artifact = m.files[0].name
    if m.backup_type != "differential":
        return f"s3://{bucket}/{object_key(m.stack, m.database, m.timestamp, artifact)}", ()
    folder = f"{m.stack}/{m.database}/seed-{m.timestamp}/"
    copies = [(object_key(m.stack, m.database, p.timestamp, f.name), folder + f.name)
              for p in m.parents for f in p.files]
    copies += [(object_key(m.stack, m.database, m.timestamp, f.name), folder + f.name) for f in m.files]
    return f"s3://{bucket}/{folder}{artifact}", tuple(copies)


def plan_cluster_restore(line: VersionLine, manifest: Manifest, bucket: str, state: ClusterState, *,
                         version: Version | None = None, beside: bool = False,
                         topology: Topology | None = None, swap: bool = True, cores: tuple[str, ...] = (),
                         replicas: tuple[str, ...] = (), region: str | None = None,
                         work_dir: Path = Path("/var/lib/neo4j/data/backup-staging"),
                         neo4j_admin: str = "neo4j-admin", stop_command: str = "systemctl stop neo4j",
                         start_command: str = "systemctl start neo4j", offline: bool = False) -> Plan:
    """The steps that restore `manifest`'s backup into the cluster under `state.name`. Pure; UsageError when
    the restore cannot be done as asked (the message says which flag or what to do). `system` is restored offline
    on every server (plan_system_restore; `cores` then are the servers hosting it as primaries, `replicas` as
    secondaries), on every line. 4.4: the database is dropped, restored on each core and created again under its
    name (_plan_44_keep_name); `offline=True` plans the older procedure that stops and unbinds every member."""
    if state.name.lower() == "system":
        if beside:
            raise UsageError("system cannot be restored beside itself: it is restored offline on every server "
                             "under its own name (drop --beside)")
        return plan_system_restore(line, manifest, bucket, cores, replicas, region=region, work_dir=work_dir,
                                   neo4j_admin=neo4j_admin, stop_command=stop_command, start_command=start_command)
    if not line.seeds_from_uri:
        if not offline:
            return _plan_44_keep_name(line, manifest, bucket, state, cores, replicas, region, work_dir, neo4j_admin)
        return _plan_44(line, manifest, bucket, state, cores, replicas, region, work_dir, neo4j_admin, stop_command,
                        start_command)
    if manifest.version_line == "4.4":
        raise UsageError(f"backup {manifest.timestamp} is a Neo4j 4.4 backup folder: it cannot seed a Neo4j "
                         f"{line} cluster. Restore it into a 4.4 server and back that up with this line's backup.py")
    if not beside:
        procedure = line.recreate_procedure(version) if version is not None else None
        if procedure is None:
            raise UsageError(f"Neo4j {version or line} has no procedure that recreates a database under its own name "
                             f"(5.24+): pass --beside to restore into a new database and switch clients to it")
        return _plan_recreate(line, procedure, manifest, bucket, state, topology)
    name, m = state.name, manifest
    new = restored_name(name, m.timestamp)
    old = state.serving
    if old is not None and old.lower() == new:
        raise UsageError(f"backup {m.timestamp} is already restored: {name!r} serves {new!r}. Nothing to do")
    if topology is None:
        topology = (state.topology_of(old) if old else None)
        if topology is None:
            raise UsageError(f"no database {name!r} to take the topology from: pass --primaries and --secondaries")
    if topology.primaries < 1 or topology.secondaries < 0:
        raise UsageError("--primaries must be at least 1 and --secondaries at least 0")
    mode = "none"
    if swap:
        if state.alias_target:
            mode = "alias"
        elif old is not None and state.is_default:
            mode = "default"
        elif old is not None:
            raise UsageError(f"{name!r} is a database that is neither an alias nor the default database: restore.py "
                             f"cannot switch its clients to the restored copy. Pass --no-swap to restore beside "
                             f"it and switch yourself, or make {name!r} an alias first")
    uri, copies = seed_location(m, bucket)
    q_new = quote_name(new)
    steps: list[Step] = []
    if state.exists(new):
        steps.append(Step("cypher", f"drop {new!r}, left by an earlier run that did not finish (it serves no one)",
                          f"DROP DATABASE {q_new} IF EXISTS"))
    if copies:
        steps.append(Step("copy_chain", f"copy the {len(copies)} files of the differential chain into one folder, "
                          f"as CloudSeedProvider needs them", copies=copies))
    # Operations Manual (5.x, clustering/databases.adoc, "Restore a database from a URI"): "CREATE DATABASE foo
    # TOPOLOGY [desired number of primaries] PRIMARIES [desired number of secondaries] SECONDARIES OPTIONS
    # { existingData: 'use', seedURI: 's3://myBucket/myBackup.backup' }". Dev (2025): "The `existingData`
    # option is required in Cypher 5 and deprecated in Cypher 25", so it is kept for both lines.
    steps.append(Step("cypher", f"create {new!r} seeded from the backup on {topology} (the old database serves on)",
                      f"CREATE DATABASE {q_new} {topology.clause()} "
                      f"OPTIONS {{existingData: 'use', seedURI: {cypher_string(uri)}}}"))
    # "Download and validation of the seed is only performed as the new database is started. If it fails, the
    # database is not available and it has the `statusMessage`: `Unable to start database`" (seed-from-uri.adoc);
    # "Verify that the restored database is online on the desired number of servers, in the desired roles by
    # running the `SHOW DATABASES` command" (clustering/databases.adoc).
    steps.append(Step("wait_online", f"wait until {new!r} is online on {topology.members} members",
                      f"SHOW DATABASE {q_new} YIELD name, address, role, requestedStatus, currentStatus, "
                      f"statusMessage"))
    steps.append(Step("counts", f"count nodes and relationships of {new!r}: the manifest says {m.counts}",
                      database=new))
    notes: list[str] = []
    if mode == "alias":
        # 5.x aliases/manage-aliases-standard-databases.adoc: "ALTER ALIAS `northwind` SET DATABASE TARGET
        # `northwind-graph-2021`"; "When a query is run against a database alias, it will be redirected to the
        # target database."
        steps.append(Step("cypher", f"point alias {name!r} at {new!r}: clients of {name!r} move with no window",
                          f"ALTER ALIAS {quote_name(name)} SET DATABASE TARGET {q_new}", phase="swap",
                          undo=f"ALTER ALIAS {quote_name(name)} SET DATABASE TARGET {quote_name(old)}"))
        serving = f"{old!r} (through alias {name!r}) until the alias points at {new!r}"
        if state.is_default_database(old):
            # The old target is also the default database (clients that name no database): it moves the manual's
            # way (see "default" below), after the alias.
            steps += _default_switch(old, new)
            serving += "; clients of the default database then wait for one statement"
        else:
            steps.append(Step("cypher", f"stop the old database {old!r} (kept, not dropped)",
                              f"STOP DATABASE {quote_name(old)}", phase="after"))
    elif mode == "default":
        steps += _default_switch(old, new)
        serving = (f"{old!r} until it is stopped for the switch; clients of the default database then wait for "
                   f"one statement; clients naming {name!r} explicitly lose it (see the notes)")
        notes.append(f"clients that name {name!r} (the deploy's neo4j:database, health checks, backups) need it "
                     f"to be an alias of {new!r}: when satisfied, DROP DATABASE {quote_name(old)}; CREATE ALIAS "
                     f"{quote_name(name)} FOR DATABASE {q_new}. After that, restores move the clients of {name!r} "
                     f"with no window")
    else:
        serving = f"{old!r}, untouched" if old else "nothing (there is no database under that name)"
        notes.append(f"nothing was switched (--no-swap): switch with ALTER ALIAS … SET DATABASE TARGET {q_new}, "
                     f"or see the README")
    if copies:
        steps.append(Step("delete_chain", "delete the staged copy of the chain (the database holds the data now)",
                          copies=copies, phase="after"))
    if old is not None and mode != "none":
        notes.append(f"the old database {old!r} is kept, stopped: DROP DATABASE {quote_name(old)} when satisfied")
    notes.append("users and roles are the cluster's own (the system database is not restored); privileges "
                 f"granted on {old!r} by name are not on {new!r}" if old else "")
    return Plan(line.name, name, m.timestamp, new, old, mode, uri, topology, tuple(steps), serving,
                tuple(n for n in notes if n), m.counts, m.counts_exact)


def _plan_recreate(line: VersionLine, procedure: str, m: Manifest, bucket: str, state: ClusterState,
                   topology: Topology | None) -> Plan:
    """The database keeps its name, its privileges and its place as the default: its store is replaced from the
    backup. Operations Manual 5.x, database-administration/standard-databases/recreate-database.adoc: the
    procedure "allows you: Change the database store to a specified backup, while keeping all the associated
    privileges for the database"; "If no topology option is defined, the database will be recreated with the
    previous topology"; "The recreate procedure works only for real user databases and not for composite
    databases, or the `system` database"; "To check if the recreation is successful, use the `SHOW DATABASES`
    command and verify that all allocations have been started." A name that is a local alias keeps pointing
    at its target, whose store is replaced."""
    name = state.name
    target = state.alias_target or name
    if target.lower() == "system":
        raise UsageError("system is restored offline on every server (restore.py --cluster --database system), "
                         "not recreated: the recreate procedure refuses it")
    if not state.exists(target):
        raise UsageError(f"no database {target!r} in the cluster's SHOW DATABASES: nothing to recreate. Pass "
                         f"--beside (with --primaries/--secondaries) to create it seeded from the backup")
    if state.type_of(target) not in ("standard", ""):
        raise UsageError(f"{target!r} is a {state.type_of(target)} database: the recreate procedure works only for "
                         f"standard databases (composites are recreated from the catalogue, not restored)")
    uri, copies = seed_location(m, bucket)
    options = [f"seedURI: {cypher_string(uri)}"]
    if topology is not None:
        if topology.primaries < 1 or topology.secondaries < 0:
            raise UsageError("--primaries must be at least 1 and --secondaries at least 0")
        # recreate-database.adoc: "`primaries` Number of primary allocations for the recreated database";
        # "You cannot set secondaries without primaries."
        options += [f"primaries: {topology.primaries}", f"secondaries: {topology.secondaries}"]
    else:
        topology = state.topology_of(target) or Topology(1, 0)
    q = quote_name(target)
    steps: list[Step] = []
    if copies:
        steps.append(Step("copy_chain", f"copy the {len(copies)} files of the differential chain into one folder, "
                          f"as CloudSeedProvider needs them", copies=copies))
    # Example in recreate-database.adoc: CALL dbms.cluster.recreateDatabase("neo4j", {seedURI:
    # "s3://myBucket/myBackup.backup"}); dev: CALL dbms.recreateDatabase(…) with the same options.
    steps.append(Step("cypher", f"replace the store of {target!r} with the backup: it keeps its name, its "
                      f"privileges and its topology ({topology}); it is unavailable until it starts again",
                      f"CALL {procedure}({cypher_string(target)}, {{{', '.join(options)}}})", phase="swap"))
    steps.append(Step("wait_online", f"wait until {target!r} has started again from the backup on {topology.members} "
                      f"members", f"SHOW DATABASE {q} YIELD name, address, role, requestedStatus, currentStatus, "
                      f"statusMessage, lastStartTime", phase="after", started=state.start_times(target)))
    steps.append(Step("counts", f"count nodes and relationships of {target!r}: the manifest says {m.counts}",
                      database=target, phase="after"))
    if copies:
        steps.append(Step("delete_chain", "delete the staged copy of the chain (the database holds the data now)",
                          copies=copies, phase="after"))
    via = f" (through alias {name!r})" if target != name else ""
    notes = [f"{target!r} keeps its name{via}: HAProxy's health checks, check and the nightly backup go on naming it; "
             f"users, roles and privileges are the cluster's own and stay as they are (system is not restored)",
             f"the current store of {target!r} is replaced, not kept: its newest backup is the way back "
             f"(restore.py --list shows them)"]
    return Plan(line.name, name, m.timestamp, target, target, "recreate", uri, topology, tuple(steps),
                f"{target!r} until the procedure stops it; then nothing under {name!r} until it has started from the "
                f"backup", tuple(notes), m.counts, m.counts_exact)


def _default_switch(old: str, new: str) -> list[Step]:
    # 5.x clustering/databases.adoc, "Change the default database": "Stop the current default database using
    # the command `STOP DATABASE <database-name>`. Run `CALL dbms.setDefaultDatabase("newDefaultDatabaseName")`
    # against the `system` database"; built-in-procedures.adoc: "The database must exist and the old default
    # database must be stopped." (dev, 2025: the same procedure and steps.)
    return [Step("cypher", f"stop {old!r}, the default database (kept, not dropped): clients of the default database "
                 f"wait from here", f"STOP DATABASE {quote_name(old)}", phase="swap",
                 undo=f"START DATABASE {quote_name(old)}"),
            Step("cypher", f"make {new!r} the default database: to here",
                 f"CALL dbms.setDefaultDatabase({cypher_string(new)})", phase="swap")]


def admin_unbind(line: VersionLine, database: str) -> list[str]:
    """The neo4j-admin words that unbind a stopped server before a store is put under it. 4.4: `unbind` (its whole
    cluster state). 5.x/2025, `system`: `dbms unbind-system-db` (5.x/dev clustering/unbind-system-database.adoc:
    "remove and archive the cluster state for the `system` database, so that the server can rebind to a new
    `system` database in the cluster"; "The Neo4j process must be shut down on all servers before running the
    `neo4j-admin dbms unbind-system-db` command"). A 5.x standard database is never restored offline here."""
    if not line.seeds_from_uri:
        return ["unbind"]
    if database.lower() != "system":
        raise UsageError(f"Neo4j {line} restores {database!r} online (recreate or --beside), not offline")
    return ["dbms", "unbind-system-db"]


def _fetch_command(line: VersionLine, m: Manifest, bucket: str, db: str, here: Path, region: str | None
                   ) -> tuple[str, list[str]]:
    """The shell command that downloads the backup (a differential: its whole chain) into `here` and checks each
    file's sha256, and the neo4j-admin words that put it under the stopped server."""
    where = f" --region {shlex.quote(region)}" if region else ""
    files = [(p.timestamp, f) for p in m.parents for f in p.files] + [(m.timestamp, f) for f in m.files]
    parts = [f"mkdir -p {here}"]
    for stamp, f in files:
        parts.append(f"aws s3 cp{where} s3://{bucket}/{object_key(m.stack, m.database, stamp, f.name)} "
                     f"{here}/{f.name}")
        parts.append(f"echo '{f.sha256}  {here}/{f.name}' | sha256sum -c -")
    artifact = m.files[0].name
    if m.backup_type == "dump":
        if artifact != dump_file_name(db):
            parts.append(f"mv {here}/{artifact} {here / dump_file_name(db)}")
        return " && ".join(parts), line.admin_load(db, here)
    if m.is_folder_archive:  # 4.4: the backup folder, uploaded as one tar
        parts.append(f"mkdir -p {here}/unpacked && tar -xf {here}/{artifact} -C {here}/unpacked")
        return " && ".join(parts), line.admin_restore(db, here / "unpacked")
    # 5.x/2025: "--from-path … If the directory contains multiple backups, it will select the most recent backup
    # chain" (restore-backup.adoc): the chain's artifacts sit side by side in `here`.
    return " && ".join(parts), line.admin_restore(db, here)


def _plan_44(line: VersionLine, m: Manifest, bucket: str, state: ClusterState, cores: tuple[str, ...],
             replicas: tuple[str, ...], region: str | None, work_dir: Path, neo4j_admin: str, stop_command: str,
             start_command: str) -> Plan:
    """Operations Manual 4.4, clustering/seed.adoc, "Seed a cluster from a database dump (offline)": "If you
    have started any of the cluster members, stop and unbind each started member", "Use `neo4j-admin load` to
    seed each of the Core members", "Start each cluster member". With a backup: `neo4j-admin restore
    --from=… --database=… --force` on each core (backup-restore/restore-backup.adoc). Read replicas get the same
    steps, so that none of them serves the old store beside the restored cores."""
    if not cores:
        raise UsageError(f"no core hosts {state.name!r} in the cluster's SHOW DATABASES (at --uri): nothing to plan")
    if m.backup_type == "differential":
        raise UsageError(f"backup {m.timestamp} is a differential 5.x artifact: it cannot be restored into 4.4")
    db = state.name
    notes = ("the cores' admin steps run on each core (Session Manager; no SSH): in this order, one core at a "
             "time, e.g. aws ssm send-command --document-name AWS-RunShellScript --targets "
             "Key=tag:Name,Values=<stack>-<core> --parameters commands=[…]; then restore.py --cluster "
             "--offline-ok --verify-restored runs the last two checks",
             f"if a core's restore fails, load the safety dump "
             f"{work_dir / f'neo4j-safety-{db}-{m.timestamp}' / dump_file_name(db)} on every core the same way "
             f"(neo4j-admin load --force) before starting them")
    return _plan_offline(line, m, bucket, db, cores, replicas, region, work_dir, neo4j_admin, stop_command,
                         start_command, f"this STOPS database {db!r} on every core: from the first stop until the "
                         f"cores are started again and the database is online, clients get no answer (4.4 has no "
                         f"seed from URI)", notes)


SHOW_PRIVILEGES_AS_COMMANDS = "SHOW PRIVILEGES AS COMMANDS"


def privileges_naming(commands: list[str], database: str) -> list[str]:
    """The GRANT/DENY commands (SHOW PRIVILEGES AS COMMANDS' `command` column) that name `database`. The 4.4 Cypher
    Manual's example output names it quoted: "DENY ACCESS ON DATABASE `neo4j` TO `noAccessUsers`" (manage-privileges
    .adoc); "GRANT MATCH {*} ON GRAPH * NODE * TO `architect`" names every graph and stays through a DROP. A plain
    name is also taken unquoted (Community 4.4 echoes `DENY ACCESS ON DATABASE neo4j TO noAccessUsers` so)."""
    names = [re.escape(quote_name(database))]
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", database):
        names.append(re.escape(database))
    pattern = re.compile(r"\b(?:DATABASES?|GRAPHS?)\s+(?:" + "|".join(names) + r")(?=[\s,]|$)", re.IGNORECASE)
    return [c for c in commands if pattern.search(c)]


def _plan_44_keep_name(line: VersionLine, m: Manifest, bucket: str, state: ClusterState, cores: tuple[str, ...],
                       replicas: tuple[str, ...], region: str | None, work_dir: Path, neo4j_admin: str) -> Plan:
    """A 4.4 database restored in the running cluster under its own name, no member stopped or unbound. Operations
    Manual 4.4, clustering/seed.adoc, "Restore a database on each Core instance" ("These scenarios are useful when
    you want to restore a database in a running cluster"):

        . To ensure that the `movies1` database does not exist in the cluster, on one of the Core members, use
          Cypher Shell and run `DROP DATABASE movies1`. [...] Dropping a database also deletes the users and roles
          associated with it.
        . Restore the database on each Core member in the cluster. [`neo4j-admin restore --from=… --database=…`]
          However, restoring a database does not automatically create it.
        . On one of the Core instances, run `CREATE DATABASE movies1` against the `system` database [...]
        . Verify that the `movies1` database is online on all members.

    Read replicas are not restored (the manual restores each Core member); they copy the store from a core once the
    database exists. Around it: the backup is downloaded and verified on each core BEFORE the drop (until the drop
    nothing changes), the privileges naming the database are read first (SHOW PRIVILEGES AS COMMANDS, 4.4 Cypher
    Manual manage-privileges.adoc) and granted again once it is online; DROP … DUMP DATA keeps the old store as a
    dump ("a dump of the store files is produced first, and stored in the path configured using the
    `dbms.directories.dumps.root` setting"; "can be similarly restored using `neo4j-admin load`", 4.4 Cypher Manual
    administration/databases.adoc); WAIT makes DROP and CREATE return once done (its `success` column says so)."""
    db = state.name
    if not cores:
        raise UsageError(f"no core hosts {db!r} in the cluster's SHOW DATABASES (at --uri): nothing to plan. A "
                         f"database the cluster no longer has is restored with neo4j-admin restore on each core and "
                         f"CREATE DATABASE {quote_name(db)} (Operations Manual 4.4, clustering/seed.adoc)")
    if m.backup_type == "differential":
        raise UsageError(f"backup {m.timestamp} is a differential 5.x artifact: it cannot be restored into 4.4")
    if m.version_line != "4.4":
        raise UsageError(f"backup {m.timestamp} is a Neo4j {m.version_line} backup: it cannot be restored into a "
                         f"Neo4j 4.4 cluster")
    here = work_dir / f"neo4j-cluster-restore-{db}-{m.timestamp}"
    fetch, apply = _fetch_command(line, m, bucket, db, here, region)
    q = quote_name(db)
    steps: list[Step] = [
        Step("note", f"{db!r} is unavailable from DROP DATABASE to its CREATE DATABASE on every member; every other "
             f"database serves throughout (no member is stopped or unbound)"),
        Step("privileges", f"read the privileges that name {db!r} (dropping it deletes them)",
             SHOW_PRIVILEGES_AS_COMMANDS)]
    steps += [Step("admin", f"download and verify the backup on {c}", server=c, command=fetch) for c in cores]
    steps.append(Step("cypher", f"drop {db!r} on every member, its store dumped first into dbms.directories.dumps.root "
                      f"on the servers (the way back: neo4j-admin load)", f"DROP DATABASE {q} DUMP DATA WAIT",
                      phase="swap"))
    steps += [Step("admin", f"restore the backup on {c}", server=c, command=_shell([neo4j_admin, *apply]),
                   phase="after") for c in cores]
    steps.append(Step("cypher", f"create {db!r} again: the cores start it from the restored store"
                      + (f", the read replicas ({len(replicas)}) copy it from a core" if replicas else ""),
                      f"CREATE DATABASE {q} WAIT", phase="after"))
    steps.append(Step("wait_online", f"wait until {db!r} is online on every member ({len(cores) + len(replicas)})",
                      f"SHOW DATABASE {q} YIELD name, address, role, requestedStatus, currentStatus, "
                      f"{line.database_status_column}", phase="after"))
    steps.append(Step("grant", f"grant again the privileges that named {db!r} (read in step 2)", phase="after"))
    steps.append(Step("counts", f"count nodes and relationships of {db!r}: the manifest says {m.counts}", database=db,
                      phase="after"))
    steps += [Step("admin", f"delete the downloaded backup on {c}", server=c, command=f"rm -rf {here}",
                   phase="after") for c in cores]
    notes = (f"{db!r} keeps its name: HAProxy's health checks, check and the nightly backup go on naming it; its "
             f"privileges are granted again as they were read before the drop; users and roles are the cluster's own "
             f"(system is not restored)",
             "the admin steps run on each core over Session Manager, one core at a time; the backup is downloaded "
             "and verified on every core before anything changes",
             "the old store is kept as a dump in each server's dbms.directories.dumps.root (DROP … DUMP DATA): "
             "delete it when satisfied")
    key = object_key(m.stack, m.database, m.timestamp, m.files[0].name)
    return Plan(line.name, db, m.timestamp, db, db, "drop-create", f"s3://{bucket}/{key}",
                Topology(len(cores), len(replicas)), tuple(steps),
                f"{db!r} until DROP DATABASE; then nothing under {db!r} until CREATE DATABASE has started it from the "
                f"backup on every member", notes, m.counts, m.counts_exact)


def plan_system_restore(line: VersionLine, m: Manifest, bucket: str, primaries: tuple[str, ...],
                        secondaries: tuple[str, ...] = (), *, region: str | None = None,
                        work_dir: Path = Path("/var/lib/neo4j/data/backup-staging"), neo4j_admin: str = "neo4j-admin",
                        stop_command: str = "systemctl stop neo4j",
                        start_command: str = "systemctl start neo4j") -> Plan:
    """`system` (users, roles, privileges, the catalogue) restored offline on every server, the manual's disaster
    recovery with the backup in place of the surviving copy. Operations Manual 5.x and dev,
    clustering/multi-region-deployment/disaster-recovery.adoc, "Make the `system` database write-available":

        . Shut down the Neo4j process on all servers.
        . On each server, run `bin/neo4j-admin dbms unbind-system-db` to reset the `system` database state on the
          servers.
        . On each server, run `bin/neo4j-admin database load system --from-path=[path-to-dump]
          --overwrite-destination=true` to load the current `system` database dump.
        . Start the Neo4j process on all servers.

    (its steps 3-5 find the most up-to-date surviving copy and replace lost servers: here the backup is the copy,
    restored with `neo4j-admin database restore --overwrite-destination=true system`, or loaded when it is a
    dump). 4.4, clustering/seed.adoc: "Any seeding that includes restoring the `system` database needs to be
    done offline"; "If you cannot drop the database because your seeds include the `system` database (which
    cannot be dropped), you must run `neo4j-admin unbind`"; then `neo4j-admin restore --from=… --database=system
    --force` on every member. Every server, primaries (4.4: cores) first, then secondaries (read replicas)."""
    if not primaries:
        raise UsageError("no server hosts 'system' in the cluster's SHOW DATABASES (at --uri): nothing to plan")
    if m.version_line != line.name and "4.4" in (m.version_line, line.name):
        raise UsageError(f"backup {m.timestamp} of system is a Neo4j {m.version_line} backup: it cannot be restored "
                         f"into a Neo4j {line} cluster")
    notes = ("every database of the cluster is unavailable from the first stop until the servers are started again "
             "(the manual: \"This causes downtime for all databases in the cluster until the processes are started "
             "again\"); the other databases' stores are untouched",
             f"users, roles, privileges, aliases and the list of databases become those of backup {m.timestamp}: a "
             f"database created after it keeps its store on disk but system no longer knows it (CREATE DATABASE … "
             f"OPTIONS {{existingData: 'use'}} brings it back); remote aliases keep their encrypted passwords, "
             f"readable with the same keystore",
             "the servers' discovery settings are the stack's own neo4j.conf, unchanged (the manual: \"ensure that "
             "the discovery settings are correct\")",
             "the admin steps run on each server over Session Manager, one server at a time; restore.py --cluster "
             "--database system --offline-ok --yes runs them and then checks that system answers on every server "
             "and holds the manifest's users")
    warning = ("this STOPS Neo4j on every server: every database is unavailable until they are started again "
               "(system is restored offline: the recreate procedure refuses it)")
    return _plan_offline(line, m, bucket, "system", primaries, secondaries, region, work_dir, neo4j_admin,
                         stop_command, start_command, warning, notes)


def _plan_offline(line: VersionLine, m: Manifest, bucket: str, db: str, cores: tuple[str, ...],
                  replicas: tuple[str, ...], region: str | None, work_dir: Path, neo4j_admin: str, stop_command: str,
                  start_command: str, warning: str, notes: tuple[str, ...]) -> Plan:
    """Stop every server; a safety dump on the first; on each server: download and verify, unbind, restore; start
    the primaries (cores), then the secondaries (replicas); wait until the database is online on every server;
    compare its counts with the manifest. remote.run_offline_44 runs it, one server at a time."""
    here = work_dir / f"neo4j-cluster-restore-{db}-{m.timestamp}"
    fetch, apply = _fetch_command(line, m, bucket, db, here, region)
    safety = work_dir / f"neo4j-safety-{db}-{m.timestamp}"
    admin = neo4j_admin
    members = cores + replicas
    primary, secondary = ("core", "read replica") if not line.seeds_from_uri else ("primary", "secondary")
    steps: list[Step] = [Step("note", warning)]
    steps += [Step("admin", f"stop Neo4j on {c}", server=c, command=stop_command) for c in members]
    steps.append(Step("admin", f"save the current database on {cores[0]} first (a safety dump)", server=cores[0],
                      command=f"mkdir -p {safety} && " + _shell([admin, *line.admin_dump_to_path(db, safety)])))
    for c in members:
        steps.append(Step("admin", f"download and verify the backup on {c}", server=c, command=fetch))
        steps.append(Step("admin", f"unbind {c} from the cluster state", server=c,
                          command=_shell([admin, *admin_unbind(line, db)])))
        steps.append(Step("admin", f"restore the backup on {c}", server=c, command=_shell([admin, *apply])))
    steps += [Step("admin", f"start Neo4j on {c} (start every {primary}: the cluster forms when enough are up)",
                   server=c, command=start_command) for c in cores]
    steps += [Step("admin", f"start Neo4j on {c} (a {secondary}, once the {primary}s are up)", server=c,
                   command=start_command) for c in replicas]
    steps.append(Step("wait_online", f"wait until {db!r} is online on every member ({len(members)})",
                      f"SHOW DATABASE {quote_name(db)} YIELD name, address, role, requestedStatus, currentStatus, "
                      f"{line.database_status_column}"))
    what = "its users, databases and roles" if db.lower() == "system" else "nodes and relationships"
    steps.append(Step("counts", f"count {what}: the manifest says {m.counts}", database=db))
    key = object_key(m.stack, m.database, m.timestamp, m.files[0].name)
    return Plan(line.name, db, m.timestamp, db, db, "offline", f"s3://{bucket}/{key}",
                Topology(len(cores), len(replicas)),
                tuple(steps), f"nothing: {'every database' if db.lower() == 'system' else 'the database'} is "
                f"offline from the first stop to the start", notes, m.counts, m.counts_exact)


def _shell(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)
