"""restore.py --cluster: restore a cluster's database from a backup in S3, planned first, then executed.

5.x and 2025 (`VersionLine.seeds_from_uri`): the old database keeps serving until the restored copy is
online on every member it is allocated to. The plan:

  1. CREATE DATABASE `<db>-restore-<backup timestamp>` TOPOLOGY n PRIMARIES m SECONDARIES
       OPTIONS {existingData: 'use', seedURI: 's3://<bucket>/<stack>/<db>/<timestamp>/<artifact>'}
     (a differential backup: its chain is first copied into one folder, `…/seed-<timestamp>/`, as
     CloudSeedProvider looks for the chain in the folder of the differential artifact)
  2. wait until SHOW DATABASE lists it online on n + m members (fail fast on "Unable to start database")
  3. count its nodes and relationships and compare them with the backup's manifest
  4. switch clients to it:
       the name clients use is a local alias      ALTER ALIAS `<db>` SET DATABASE TARGET `<new>`: no window;
                                                   then STOP DATABASE `<old target>` (kept, not dropped), and if
                                                   it was the default database, dbms.setDefaultDatabase (below)
       the name is the default database itself    the manual's "Change the default database": STOP DATABASE
                                                   `<db>`, CALL dbms.setDefaultDatabase('<new>'): clients of
                                                   the default database wait between the two statements
                                                   (< 1 s); clients naming `<db>` must move to an alias (the
                                                   report prints how), which makes the next restore window-free
       --no-swap                                   nothing: both stay, the report says how to switch
  5. the old database is never dropped here; the report prints the DROP DATABASE for the operator.

If anything before the switch fails, only the new database is dropped (DROP DATABASE … IF EXISTS) and the
old one has served throughout; if the switch itself fails, it is undone (START DATABASE `<db>`) first.

4.4 has no seed from URI: the plan is the Operations Manual's offline procedure (stop every core, unbind,
restore on each core in turn, start them), printed per core for Session Manager, with a safety dump on the
first core. It stops the database, so it is refused without --offline-ok. Only its Cypher checks (online on
every member, counts) run from here; the per-core commands are run on each core by the operator.

Pure: `plan_cluster_restore` (and `ClusterState.parse`). `execute` takes `run(cypher, params, database)`
and a progress callback, so tests replay recorded responses through it.
"""
from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..facts import Counts
from ..queries import COUNT_NODES, COUNT_RELATIONSHIPS, quote_name
from ..shared.errors import BackupError, InterruptedRunError, UsageError
from ..shared.versions import VersionLine, dump_file_name
from .layout import Manifest, object_key
from .remote import SsmShell, run_offline_44

Run = Callable[[str, dict[str, Any], str], list[dict[str, Any]]]  # cypher, params, database -> records
Log = Callable[[str], None]

# Operations Manual (5.x, database-administration/standard-databases/naming-databases.adoc): "Length must be
# between 3 and 63 characters", "Subsequent characters must be ASCII alphabetic or numeric characters, dots or
# dashes", "Names cannot end with dots or dashes", "normalized to lowercase". No underscores.
_DATABASE_NAME = re.compile(r"^[a-z][a-z0-9.-]{1,61}[a-z0-9]$")
RESTORED_INFIX = "-restore-"

# Statements that read the cluster's state before planning (run on system).
SHOW_ALIASES = "SHOW ALIASES FOR DATABASE YIELD name, database, location"
SHOW_DATABASES = "SHOW DATABASES YIELD *"

ONLINE = "online"


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


@dataclass(frozen=True)
class Step:
    kind: str  # cypher | wait_online | counts | copy_chain | delete_chain | admin | note
    description: str
    cypher: str = ""
    database: str = "system"
    phase: str = "prepare"  # prepare (before the switch) | swap | after (the restored copy serves)
    undo: str = ""  # Cypher that undoes this swap step if a later swap step fails
    server: str = ""  # 4.4: the core an admin step runs on
    command: str = ""  # 4.4: the shell command
    copies: tuple[tuple[str, str], ...] = ()  # copy_chain/delete_chain: (source key, staged key)

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
                         topology: Topology | None = None, swap: bool = True, cores: tuple[str, ...] = (),
                         replicas: tuple[str, ...] = (), region: str | None = None,
                         work_dir: Path = Path("/var/lib/neo4j/data/backup-staging"),
                         neo4j_admin: str = "neo4j-admin", stop_command: str = "systemctl stop neo4j",
                         start_command: str = "systemctl start neo4j") -> Plan:
    """The steps that restore `manifest`'s backup into the cluster under `state.name`. Pure; UsageError when
    the restore cannot be done as asked (the message says which flag or what to do)."""
    if not line.seeds_from_uri:
        return _plan_44(line, manifest, bucket, state, cores, replicas, region, work_dir, neo4j_admin, stop_command,
                        start_command)
    if manifest.version_line == "4.4":
        raise UsageError(f"backup {manifest.timestamp} is a Neo4j 4.4 backup folder: it cannot seed a Neo4j "
                         f"{line} cluster. Restore it into a 4.4 server and back that up with this line's backup.py")
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
    db = state.name
    if m.backup_type == "differential":
        raise UsageError(f"backup {m.timestamp} is a differential 5.x artifact: it cannot be restored into 4.4")
    artifact = m.files[0].name
    here = work_dir / f"neo4j-cluster-restore-{db}-{m.timestamp}"
    key = object_key(m.stack, m.database, m.timestamp, artifact)
    where = f" --region {shlex.quote(region)}" if region else ""
    fetch = (f"mkdir -p {here} && aws s3 cp{where} s3://{bucket}/{key} {here}/{artifact} && "
             f"echo '{m.files[0].sha256}  {here}/{artifact}' | sha256sum -c -")
    if m.backup_type == "dump":
        source = here
        apply = line.admin_load(db, source)
        fetch += f" && mv {here}/{artifact} {source / dump_file_name(db)}" if artifact != dump_file_name(db) else ""
    else:
        fetch += f" && mkdir -p {here}/unpacked && tar -xf {here}/{artifact} -C {here}/unpacked"
        apply = line.admin_restore(db, here / "unpacked")
    safety = work_dir / f"neo4j-safety-{db}-{m.timestamp}"
    admin = neo4j_admin
    members = cores + replicas
    steps: list[Step] = [
        Step("note", f"this STOPS database {db!r} on every core: from the first stop until the cores are started "
                     f"again and the database is online, clients get no answer (4.4 has no seed from URI)")]
    steps += [Step("admin", f"stop Neo4j on {c}", server=c, command=stop_command) for c in members]
    steps.append(Step("admin", f"save the current database on {cores[0]} first (a safety dump)", server=cores[0],
                      command=f"mkdir -p {safety} && " + _shell([admin, *line.admin_dump_to_path(db, safety)])))
    for c in members:
        steps.append(Step("admin", f"download and verify the backup on {c}", server=c, command=fetch))
        steps.append(Step("admin", f"unbind {c} from the cluster state", server=c, command=_shell([admin, "unbind"])))
        steps.append(Step("admin", f"restore the backup on {c}", server=c, command=_shell([admin, *apply])))
    steps += [Step("admin", f"start Neo4j on {c} (start every core: the cluster forms when enough are up)",
                   server=c, command=start_command) for c in cores]
    steps += [Step("admin", f"start Neo4j on {c} (a read replica, once the cores are up)", server=c,
                   command=start_command) for c in replicas]
    steps.append(Step("wait_online", f"wait until {db!r} is online on every member ({len(members)})",
                      f"SHOW DATABASE {quote_name(db)} YIELD name, address, role, requestedStatus, currentStatus, "
                      f"error"))
    steps.append(Step("counts", f"count nodes and relationships: the manifest says {m.counts}", database=db))
    notes = ("the cores' admin steps run on each core (Session Manager; no SSH): in this order, one core at a "
             "time, e.g. aws ssm send-command --document-name AWS-RunShellScript --targets "
             "Key=tag:Name,Values=<stack>-<core> --parameters commands=[…]; then restore.py --cluster "
             "--offline-ok --verify-restored runs the last two checks",
             f"if a core's restore fails, load the safety dump {safety / dump_file_name(db)} on every core the "
             f"same way (neo4j-admin load --force) before starting them")
    return Plan(line.name, db, m.timestamp, db, db, "offline", f"s3://{bucket}/{key}",
                Topology(len(cores), len(replicas)),
                tuple(steps), "nothing: the database is offline from the first stop to the start", notes,
                m.counts, m.counts_exact)


def _shell(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


# --- execution -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    plan: Plan
    done: list[str] = field(default_factory=list)  # descriptions of the steps that ran
    counts: Counts | None = None
    rolled_back: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"restored": self.plan.backup, "database": self.plan.restored, "name": self.plan.name,
                "old": self.plan.old, "swap": self.plan.swap, "done": self.done,
                "counts": self.counts.__dict__ if self.counts else None, "notes": list(self.plan.notes),
                "seconds": round(self.seconds, 3)}


def read_state(run: Run, name: str) -> ClusterState:
    """The cluster's view of `name` (an alias? the default database? where hosted?)."""
    aliases = run(SHOW_ALIASES, {}, "system")
    databases = run(SHOW_DATABASES, {}, "system")
    return ClusterState.parse(name, aliases, databases)


# Roles a copy reports in SHOW DATABASE: 5.x primary | secondary; 4.4 leader | follower | read_replica.
_PRIMARY_ROLES, _SECONDARY_ROLES = ("primary", "leader", "follower"), ("secondary", "read_replica")


def wait_online(run: Run, step: Step, topology: Topology, log: Log, *, timeout: float, poll: float = 2.0,
                sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
    """Until the database is online on topology.members members, in its roles ("Verify that the restored database
    is online on the desired number of servers, in the desired roles", 5.x clustering/databases.adoc)."""
    members = topology.members
    deadline = clock() + timeout
    last, next_note = "no answer yet", clock()
    while True:
        rows = run(step.cypher, {}, "system")
        online = [r for r in rows if r.get("currentStatus") == ONLINE]
        failed = [r for r in rows if r.get("requestedStatus") == ONLINE
                  and r.get("currentStatus") in ("offline", "quarantined")
                  and (r.get("statusMessage") or r.get("error"))]
        if failed:
            raise BackupError("the restored database did not start on " + "; ".join(
                f"{r.get('address')}: {r.get('statusMessage') or r.get('error')}" for r in failed)
                + " (the server's debug.log says why: seed URI, S3 access, provider)")
        roles = [str(r.get("role", "")).lower() for r in online]
        primaries = sum(1 for r in roles if r in _PRIMARY_ROLES)
        secondaries = sum(1 for r in roles if r in _SECONDARY_ROLES)
        if primaries >= topology.primaries and secondaries >= topology.secondaries:
            log(f"online on {len(online)} members: " + ", ".join(f"{r.get('address')} ({r.get('role')})"
                                                             for r in online))
            return
        last = (f"{len(online)} of {members} online, {primaries} of {topology.primaries} primaries and "
                f"{secondaries} of {topology.secondaries} secondaries: "
                + ", ".join(f"{r.get('address')} {r.get('currentStatus')} {r.get('role')}" for r in rows))
        if clock() >= deadline:
            raise BackupError(f"not online on {members} members within {timeout:.0f}s ({last})")
        if clock() >= next_note:
            log(f"waiting: {last}")
            next_note = clock() + 15
        sleep(poll)


def count(run: Run, database: str) -> Counts:
    nodes = run(COUNT_NODES.cypher, {}, database)
    relationships = run(COUNT_RELATIONSHIPS.cypher, {}, database)
    return Counts(int(nodes[0]["count"]), int(relationships[0]["count"]))


def check_counts(plan: Plan, found: Counts, log: Log) -> None:
    expected = plan.counts
    if expected is None or found == expected:
        log(f"counts match the manifest: {found}")
        return
    if plan.counts_exact:
        raise BackupError(f"{plan.restored!r} holds {found}, the manifest of backup {plan.backup} says {expected}: "
                          f"the restore is not the backup")
    log(f"counts differ from the manifest ({found} restored, {expected} recorded), which recorded them as inexact "
        f"(writes went on during the online backup): accepted")


Copier = Callable[[Step, bool], None]  # (copy_chain/delete_chain step, delete?) -> None


def execute(plan: Plan, run: Run, log: Log, *, copier: Copier | None = None, timeout: float = 900,
            poll: float = 2.0, sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.monotonic) -> Outcome:
    """Run a 5.x/2025 plan. Before the switch, any failure drops only the new database (and a staged chain);
    a failed switch is undone first. Raises BackupError saying what ran, what was undone and what serves."""
    if plan.swap == "offline":
        raise UsageError("a 4.4 plan's admin steps run on each core (see the plan); --verify runs its checks")
    outcome, t0 = Outcome(plan), clock()
    undo: list[str] = []
    swapped = False
    for n, step in enumerate(plan.steps, 1):
        log(f"step {n}/{len(plan.steps)}: {step.description}" + (f"\n    {step.cypher}" if step.cypher else ""))
        try:
            if step.kind == "cypher":
                run(step.cypher, {}, step.database)
            elif step.kind == "wait_online":
                wait_online(run, step, plan.topology, log, timeout=timeout, poll=poll, sleep=sleep, clock=clock)
            elif step.kind == "counts":
                outcome.counts = count(run, step.database)
                check_counts(plan, outcome.counts, log)
            elif step.kind in ("copy_chain", "delete_chain"):
                if copier is None:
                    raise BackupError("no S3 client to stage the differential chain with")
                copier(step, step.kind == "delete_chain")
            elif step.kind == "note":
                pass
            else:
                raise BackupError(f"step kind {step.kind!r} is not run from here")
        except BaseException as error:  # noqa: BLE001 - KeyboardInterrupt too: the old database must serve
            if swapped or step.phase == "after":
                raise BackupError(f"{_text(error)}\n{plan.restored!r} serves {plan.name!r} now; what is left to do "
                                  f"by hand: " + "; ".join(s.cypher or s.description for s in plan.steps[n - 1:]
                                                          if s.phase == "after")) from None
            outcome.rolled_back = _roll_back(plan, run, undo, copier, log)
            serving = plan.old or "nothing (there was no database under that name)"
            failure = (InterruptedRunError if isinstance(error, (KeyboardInterrupt, InterruptedRunError))
                       else BackupError)
            raise failure(f"{step.description} failed: {_text(error) or 'interrupted'}\nrolled back: "
                          f"{'; '.join(outcome.rolled_back) or 'nothing to undo'}. {serving!r} serves "
                          f"{plan.name!r} as before") from None
        if step.undo:
            undo.append(step.undo)
        if step.phase == "swap" and step is _last_swap(plan):
            swapped = True
        outcome.done.append(step.description)
    outcome.seconds = clock() - t0
    return outcome


def _last_swap(plan: Plan) -> Step | None:
    swaps = [s for s in plan.steps if s.phase == "swap"]
    return swaps[-1] if swaps else None


def _roll_back(plan: Plan, run: Run, undo: list[str], copier: Copier | None, log: Log) -> list[str]:
    done: list[str] = []
    for cypher in reversed(undo):
        log(f"undoing: {cypher}")
        try:
            run(cypher, {}, "system")
            done.append(cypher)
        except BaseException as error:  # noqa: BLE001
            done.append(f"{cypher} FAILED ({_text(error)}): run it by hand")
    drop = f"DROP DATABASE {quote_name(plan.restored)} IF EXISTS"
    log(f"dropping only the new database: {drop}")
    try:
        run(drop, {}, "system")
        done.append(drop)
    except BaseException as error:  # noqa: BLE001
        done.append(f"{drop} FAILED ({_text(error)}): run it by hand")
    staged = next((s for s in plan.steps if s.kind == "copy_chain"), None)
    if staged is not None and copier is not None:
        try:
            copier(staged, True)
            done.append("deleted the staged chain")
        except BaseException as error:  # noqa: BLE001
            done.append(f"deleting the staged chain failed ({_text(error)})")
    return done


def _text(error: BaseException) -> str:
    from ..shared.errors import describe

    return describe(error)


def s3_copier(s3, bucket: str, log: Log) -> Copier:
    """Copies a differential chain into its seed folder (S3 CopyObject: no download), or deletes that copy."""
    def work(step: Step, delete: bool) -> None:
        for source, staged in step.copies:
            if delete:
                s3.delete_object(Bucket=bucket, Key=staged)
            else:
                s3.copy_object(Bucket=bucket, Key=staged, CopySource={"Bucket": bucket, "Key": source})
                log(f"copied s3://{bucket}/{source} to {staged}")
    return work


# --- words -------------------------------------------------------------------------------------------------


def describe_plan(plan: Plan) -> str:
    lines = [f"cluster restore plan (Neo4j {plan.line}): backup {plan.backup} into {plan.restored!r} for "
             f"{plan.name!r}, {plan.topology}",
             f"seed: {plan.seed_uri}",
             f"serving meanwhile: {plan.serving}"]
    for n, step in enumerate(plan.steps, 1):
        where = f" [{step.server}]" if step.server else ""
        lines.append(f"{n:>2}. {step.description}{where}")
        if step.cypher:
            lines.append(f"      {step.cypher}" + (f"   (on {step.database})" if step.database != "system" else ""))
        if step.command:
            lines.append(f"      $ {step.command}")
        for source, staged in step.copies:
            lines.append(f"      {source} -> {staged}" if step.kind == "copy_chain" else f"      delete {staged}")
    if plan.swap != "offline":
        lines.append(f"on failure before the switch: DROP DATABASE {quote_name(plan.restored)} IF EXISTS, nothing "
                     f"else; {plan.old!r} keeps serving")
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)


def describe_outcome(outcome: Outcome) -> str:
    plan = outcome.plan
    head = {"alias": f"alias {plan.name!r} now targets {plan.restored!r}",
            "default": f"{plan.restored!r} is now the default database",
            "none": f"{plan.restored!r} is online beside {plan.old!r} (nothing switched)"}[plan.swap]
    lines = [f"restored backup {plan.backup} into {plan.restored!r} on {plan.topology}: {outcome.counts}, as its "
             f"manifest says; {head} ({outcome.seconds:.1f}s)", "what it did:"]
    lines += [f"  - {d}" for d in outcome.done]
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)


# --- the job restore.py --cluster runs ----------------------------------------------------------------------


@dataclass
class ClusterRestoreOptions:
    bucket: str
    stack: str
    database: str
    uri: str  # Bolt URI of the cluster (neo4j://… routes administration commands to the system leader)
    auth: Any  # bolt.Auth | None
    at: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    version: str | None = None  # default: asked over Bolt
    dry_run: bool = False
    swap: bool = True
    primaries: int | None = None
    secondaries: int | None = None
    offline_ok: bool = False
    verify_restored: bool = False  # 4.4: after the per-core steps, run the plan's checks
    orchestrate: bool = False  # 4.4: run the per-server steps over SSM (remote.py), one server at a time
    sha_check: bool = True
    work_dir: Path = Path("/var/lib/neo4j/data/backup-staging")
    neo4j_admin: str = "neo4j-admin"
    stop_command: str = "systemctl stop neo4j"
    start_command: str = "systemctl start neo4j"
    timeout: float = 900
    poll: float = 2.0  # seconds between two SHOW DATABASE while waiting for the seed
    log: Log = print


def bolt_run(client) -> Run:
    """`run(cypher, params, database)` over the runtime's Bolt client (write mode for what changes things). The
    statements are built at run time, so each is filed under its own text (recorded.py: --record / replay)."""
    def run(cypher: str, params: dict[str, Any], database: str) -> list[dict[str, Any]]:
        write = not cypher.lstrip().upper().startswith(("SHOW", "MATCH"))
        return client.run(cypher, cypher, params, database=database, write=write, timeout=60).records
    return run


def verify_backup(opts: ClusterRestoreOptions, s3, chosen) -> str:
    """Refuse a backup whose consistency check failed (the manifest's `check`: passed | failed | skipped; layout's
    `choose` already passes over them); verify every file's sha256 by a download (sizes were checked against the
    bucket when it was listed). A backup that was never checked (skipped, or made before backups were checked)
    is only restored after that download. Returns what was verified, in words."""
    from .restore_backup import RestoreOptions, _fetch, check_room, download_need

    m = chosen.manifest
    check = getattr(m, "check", None) or "skipped"
    if check == "failed":
        raise BackupError(f"backup {m.timestamp}'s manifest says its consistency check failed: choose another "
                          f"with --at (restore.py --list shows them)")
    if not opts.sha_check:
        if check != "passed":
            raise UsageError(f"backup {m.timestamp} was not consistency-checked (check: {check}): its files' sha256 "
                             f"are verified before it seeds anything; drop --skip-sha-check")
        return "its consistency check passed and the object sizes match the manifest (--skip-sha-check)"
    if opts.dry_run:
        return "would download every file and compare its sha256 with the manifest before changing anything"
    import shutil

    directory = opts.work_dir / f"neo4j-cluster-verify-{opts.database}-{m.timestamp}"
    check_room(opts.work_dir, [("download", download_need(m))])
    job = RestoreOptions(bucket=opts.bucket, stack=opts.stack, database=opts.database, neo4j=None, admin=None,
                         endpoint_url=opts.endpoint_url, region=opts.region, log=opts.log)
    try:
        _fetch(job, s3, chosen, directory, checked=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return f"every file's size and sha256 match the manifest (consistency check: {check})"


def run_cluster_restore(opts: ClusterRestoreOptions, *, transport=None, shell=None) -> dict[str, Any]:
    from ..bolt import NeoTransport
    from ..facts import gather
    from ..shared.versions import line_of
    from .restore_backup import RestoreOptions, _pick
    from .s3 import check_bucket, client

    log = opts.log
    s3 = client(opts.endpoint_url, opts.region)
    check_bucket(s3, opts.bucket)
    chosen = _pick(RestoreOptions(bucket=opts.bucket, stack=opts.stack, database=opts.database, neo4j=None,
                                  admin=None, at=opts.at, log=log), s3)
    own_transport = transport is None
    transport = transport or NeoTransport(timeout=30)
    try:
        from ..facts import ServerSpec

        facts = gather(ServerSpec("cluster", opts.uri), transport, opts.auth, 30)
        if facts.error is not None:
            raise BackupError(f"cannot ask the cluster at {opts.uri}: {facts.error.message}")
        if facts.edition and facts.edition != "enterprise":
            raise UsageError(f"Neo4j at {opts.uri} is {facts.edition}: --cluster needs Enterprise (CREATE DATABASE "
                             f"and seed from URI are Enterprise-only). Restore a standalone server without --cluster")
        try:
            line = line_of(opts.version or facts.version or "")
        except ValueError as error:
            raise UsageError(str(error)) from None
        run = bolt_run(transport.client(opts.uri, opts.auth))
        if line.seeds_from_uri:
            state = read_state(run, opts.database)
        else:
            state = ClusterState(opts.database, None, tuple(facts.databases))
        topology = None
        if opts.primaries is not None or opts.secondaries is not None:
            current = state.topology_of(state.serving or opts.database) if state.serving else None
            topology = Topology(opts.primaries if opts.primaries is not None else (current.primaries if current else 1),
                                opts.secondaries if opts.secondaries is not None
                                else (current.secondaries if current else 0))
        def hosts(*roles: str) -> tuple[str, ...]:  # 4.4 roles: leader | follower | read_replica
            return tuple(sorted({str(r.get("address", "")).rsplit(":", 1)[0] for r in state.rows_of(opts.database)
                                 if str(r.get("role", "")).lower() in roles}))
        cores, replicas = hosts("leader", "follower"), hosts("read_replica")
        plan = plan_cluster_restore(line, chosen.manifest, opts.bucket, state, topology=topology, swap=opts.swap,
                                    cores=cores, replicas=replicas, region=opts.region, work_dir=opts.work_dir,
                                    neo4j_admin=opts.neo4j_admin,
                                    stop_command=opts.stop_command, start_command=opts.start_command)
        verified = verify_backup(opts, s3, chosen)
        log(f"backup {chosen.timestamp}: {verified}")
        if opts.dry_run:
            return {"cluster": plan.to_json(), "dry_run": True, "verified": verified,
                    "summary": "dry run, nothing changed\n" + describe_plan(plan)}
        if plan.swap == "offline":
            if not opts.offline_ok:
                raise UsageError(f"Neo4j {line} has no seed from URI: its cluster restore stops {opts.database!r} on "
                                 f"every core. Add --offline-ok to accept that, --dry-run to see the plan")
            if not opts.verify_restored and (opts.orchestrate or shell is not None):
                if shell is None:
                    import boto3

                    shell = SsmShell(boto3.client("ssm", region_name=opts.region),
                                     boto3.client("ec2", region_name=opts.region), opts.stack)
                checks = Plan(plan.line, plan.name, plan.backup, plan.restored, plan.old, "none", plan.seed_uri,
                              plan.topology, tuple(s for s in plan.steps if s.kind in ("wait_online", "counts")),
                              plan.serving, (), plan.counts, plan.counts_exact)
                ran = run_offline_44(plan, shell, log, verify=lambda: execute(checks, run, log, timeout=opts.timeout,
                                                                              poll=opts.poll))
                return {"cluster": plan.to_json(), "outcome": ran["outcome"].to_json(), "verified": verified,
                        "servers": ran["done"], "safety_dump": ran["safety_dump"],
                        "summary": f"4.4 cluster restore of backup {plan.backup} done on {', '.join(ran['restored'])}"
                                   f", one server at a time: {opts.database!r} is online on {plan.topology.members} "
                                   f"members and holds {ran['outcome'].counts}, as its manifest says (safety dump of "
                                   f"the old database: {ran['safety_dump']})"}
            if not opts.verify_restored:
                return {"cluster": plan.to_json(), "dry_run": False, "verified": verified,
                        "summary": "run these on the servers, in order (nothing was changed from here); then run "
                                   "again with --verify-restored\n" + describe_plan(plan)}
            checks = Plan(plan.line, plan.name, plan.backup, plan.restored, plan.old, "none", plan.seed_uri,
                          plan.topology, tuple(s for s in plan.steps if s.kind in ("wait_online", "counts")),
                          plan.serving, (), plan.counts, plan.counts_exact)
            outcome = execute(checks, run, log, timeout=opts.timeout, poll=opts.poll)
            return {"cluster": plan.to_json(), "outcome": outcome.to_json(), "verified": verified,
                    "summary": f"4.4 cluster restore of backup {plan.backup} verified: {opts.database!r} is online on "
                               f"{plan.topology.members} members and holds {outcome.counts}, as its manifest says"}
        outcome = execute(plan, run, log, copier=s3_copier(s3, opts.bucket, log), timeout=opts.timeout,
                          poll=opts.poll)
        return {"cluster": plan.to_json(), "outcome": outcome.to_json(), "verified": verified,
                "summary": describe_outcome(outcome)}
    finally:
        if own_transport:
            transport.close()
