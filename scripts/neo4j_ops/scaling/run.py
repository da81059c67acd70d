"""Scaling the secondaries, executed: the statements (statements.py) sent in order through `run`, with the
decisions of plan.py between them and the waits for the cluster to follow.

The two entry points (command.py calls them; the rollout may too):

    scale_out(run, version, databases, primaries, secondaries, progress, *,
              expected_addresses=(), dry_run=False, wait=Wait()) -> ScaleResult
        After `pulumi up` created the new machines: wait until the cluster lists as many servers as the
        topology asks for (and every expected address), ENABLE SERVER those left Free, set every user
        database's topology to `primaries` PRIMARIES `secondaries` SECONDARIES, then wait until each database
        is online on that many servers (and on every expected address).

    scale_in(run, version, leaving_addresses, databases, primaries, secondaries, progress, *,
             dry_run=False, wait=Wait()) -> ScaleResult
        Before `pulumi up` removes machines: refuse what would break a database (see `refusals`), cordon the
        leaving servers and lower the topology to `secondaries` first, DRYRUN DEALLOCATE, DEALLOCATE DATABASES
        FROM SERVERS, wait until the leaving servers host only `system` (Deallocated), DROP SERVER each. Re-runs
        skip what is done.

    run(statement, params) -> records  the one queries.Run (bolt.statement_runner(client)); every statement
                                       scaling sends goes to `system`
    version                            the cluster's Version (versions.py); its line picks the dialect
    databases                          user databases to set the topology of; None: every standard database
                                       SHOW DATABASES lists, `system` never
    progress(message)                  one line per step and per poll
    dry_run                            read the cluster and print the Cypher; change nothing, wait for nothing

On 4.4 there is nothing to allocate: read replicas join and leave by themselves. scale_out then only
waits for them in dbms.cluster.overview(); scale_in checks that the leaving servers are read replicas
and sends nothing.

Every rule below quotes the Operations Manual (neo4j/docs-operations, branches 5.x and dev: clustering/
servers.adoc and clustering/databases.adoc; 4.4: clustering/deploy.adoc).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .. import queries as q
from ..shared.errors import OperationError, UsageError
from ..shared.versions import Version
from .plan import (
    DEALLOCATED,
    DEALLOCATING,
    DROPPED,
    ENABLED,
    FREE,
    GONE,
    SYSTEM,
    ScalingRefusedError,
    capacity_problems,
    database_targets,
    deallocated,
    find_server,
    hosts,
    id_of,
    overview_addresses,
    refusals,
    refuse_single_primary,
    server_address,
    user_databases,
)
from .statements import (
    Statement,
    cordon_statement,
    deallocate_statement,
    drop_statement,
    enable_statement,
    topology_statement,
)

Progress = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Wait:
    timeout_seconds: float = 900.0
    interval_seconds: float = 5.0
    sleep: Callable[[float], None] = lambda seconds: time.sleep(seconds)  # noqa: E731 (looked up when called)
    clock: Callable[[], float] = lambda: time.monotonic()  # noqa: E731


@dataclass
class ScaleResult:
    direction: str  # "out" | "in"
    version: str
    dry_run: bool
    statements: list[Statement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)  # DRYRUN DEALLOCATE rows
    dropped: list[str] = field(default_factory=list)  # addresses of the servers dropped (scale in)

    def to_json(self) -> dict[str, Any]:
        return {"direction": self.direction, "version": self.version, "dryRun": self.dry_run,
                "statements": [s.to_json() for s in self.statements], "notes": self.notes, "moves": self.moves,
                "dropped": self.dropped}


# --- the runner ---------------------------------------------------------------------------------------


class _Session:
    def __init__(self, run: q.Run, result: ScaleResult, progress: Progress, wait: Wait):
        self.run, self.result, self.progress, self.wait = run, result, progress, wait

    def read(self, statement: q.Named) -> list[dict[str, Any]]:
        return self.run(statement, None)

    def write(self, statement: Statement) -> list[dict[str, Any]]:
        self.result.statements.append(replace(statement, ran=not self.result.dry_run))
        if self.result.dry_run:
            self.progress(f"would run: {statement.text()}")
            return []
        self.progress(f"running: {statement.text()}")
        return self.run(statement.named, statement.params)

    def poll(self, what: str, done: Callable[[], str | None]) -> None:
        """Call `done` until it returns None (finished); it returns what is still missing otherwise."""
        start = self.wait.clock()
        while True:
            missing = done()
            if missing is None:
                return
            waited = self.wait.clock() - start
            if waited >= self.wait.timeout_seconds:
                raise OperationError(f"{what}: still {missing} after {waited:.0f}s; nothing more was changed "
                                     f"(run the same command again to resume)")
            self.progress(f"waiting for {what}: {missing}")
            self.wait.sleep(self.wait.interval_seconds)

    def wait_for_each(self, what: str, statement: q.Named, items: Sequence[T],
                      missing: Callable[[list[dict[str, Any]], T], str | None]) -> None:
        """Read `statement` until `missing(rows, item)` is None for every item; until then the poll says what each
        item still misses."""
        def still_missing() -> str | None:
            current = self.read(statement)
            return "; ".join(m for m in (missing(current, item) for item in items) if m) or None

        self.poll(what, still_missing)


def _check_counts(primaries: int, secondaries: int) -> None:
    if primaries < 1 or secondaries < 0:
        raise UsageError(f"topology {primaries} primaries {secondaries} secondaries: allowed: at least 1 primary "
                         f"and 0 or more secondaries")


def scale_out(run: q.Run, version: Version, databases: Sequence[str] | None, primaries: int, secondaries: int,
              progress: Progress, *, expected_addresses: Sequence[str] = (), dry_run: bool = False,
              wait: Wait = Wait(), topologies: Mapping[str, tuple[int, int]] | None = None) -> ScaleResult:
    _check_counts(primaries, secondaries)
    result = ScaleResult("out", str(version), dry_run)
    session = _Session(run, result, progress, wait)
    line = version.line
    if line is None or not line.allocates_databases:
        return _scale_out_44(session, databases, primaries, secondaries, expected_addresses)

    seen_free: set[str] = set()
    enabled_here: set[str] = set()
    target = primaries + secondaries

    def servers_ready() -> str | None:
        servers = session.read(q.SHOW_SERVERS)
        active = [r for r in servers if r.get("state") not in GONE]
        missing = [a for a in expected_addresses if find_server(active, a) is None]
        for row in active:
            server_id = id_of(row)
            if row.get("state") != FREE or server_id in enabled_here:
                continue
            if server_id in seen_free or dry_run:
                # Free on two polls: initial.dbms.automatically_enable_free_servers did not enable it.
                session.write(enable_statement(server_id))
                enabled_here.add(server_id)
            else:
                seen_free.add(server_id)
        waiting = [server_address(r) for r in active if r.get("state") == FREE and not dry_run]
        if missing:
            return f"{', '.join(missing)} not listed by SHOW SERVERS yet"
        if len(active) < target:
            return f"{len(active)} of {target} servers listed"
        if waiting:
            return f"{', '.join(waiting)} still Free"
        return None

    if dry_run:
        missing = servers_ready()
        if missing:
            result.notes.append(f"would wait until the new servers are enabled: {missing}")
    else:
        session.poll("the new servers to be enabled", servers_ready)
    servers = session.read(q.SHOW_SERVERS)
    problems = capacity_problems(servers, primaries, secondaries)
    if problems and not dry_run:
        raise ScalingRefusedError("the cluster cannot hold the topology: " + "; ".join(problems))
    rows = session.read(q.SHOW_DATABASES)
    targets = database_targets(rows, user_databases(rows, databases), primaries, secondaries, topologies, "out")
    names = list(targets)
    _refuse_single_primaries(rows, targets)
    for database, (own_primaries, own_secondaries) in targets.items():
        session.write(topology_statement(version, database, own_primaries, own_secondaries))
    if dry_run:
        result.notes.append("dry run: nothing was changed and nothing was waited for")
        return result

    def not_hosted(current: list[dict[str, Any]], database: str) -> str | None:
        own_primaries, own_secondaries = targets[database]
        primary = hosts(current, database, "primary", online=True)
        secondary = hosts(current, database, "secondary", online=True)
        # Only a database on every server of the stack is bound to be on the new ones too.
        everywhere = (own_primaries, own_secondaries) == (primaries, secondaries)
        absent = [a for a in expected_addresses if a not in primary | secondary] if everywhere else []
        if len(primary) >= own_primaries and len(secondary) >= own_secondaries and not absent:
            return None
        return (f"{database} online on {len(primary)}/{own_primaries} primaries, {len(secondary)}/{own_secondaries} "
                f"secondaries" + (f", not yet on {', '.join(absent)}" if absent else ""))

    session.wait_for_each("the databases to be hosted on the new servers", q.SHOW_DATABASES, names, not_hosted)
    result.notes.append("; ".join(f"{name}: {p} primaries, {s} secondaries" for name, (p, s) in targets.items())
                        + (", all online" if targets else "no user database to allocate"))
    return result


def _refuse_single_primaries(rows: list[dict[str, Any]], targets: Mapping[str, tuple[int, int]]) -> None:
    """refuse_single_primary for each database at its own count of primaries."""
    for count in sorted({p for p, _ in targets.values()}):
        refuse_single_primary(rows, [d for d, (p, _) in targets.items() if p == count], count)


def _scale_out_44(session: _Session, databases: Sequence[str] | None, primaries: int, secondaries: int,
                  expected_addresses: Sequence[str]) -> ScaleResult:
    """4.4 clustering/deploy.adoc, "Add a Secondary server to an existing cluster": "Now start the new Read
    Replica and let it add itself to the existing cluster." Nothing to send: only wait for it in
    `CALL dbms.cluster.overview()` ("it is possible to connect to any of the instances and run
    `CALL dbms.cluster.overview()` to check the status of the cluster")."""
    result = session.result
    result.notes.append("Neo4j 4.4: read replicas join by themselves and host every database; nothing to enable "
                        "or allocate, only waited for them in dbms.cluster.overview()")
    session.progress(result.notes[-1])

    def joined() -> str | None:
        members = session.read(q.CLUSTER_OVERVIEW_ON_SYSTEM)
        names = databases if databases is not None else sorted(
            {d for m in members for d in (m.get("databases") or {}) if d != SYSTEM})
        addresses = {a for m in members for a in overview_addresses(m)}
        short = [a for a in expected_addresses if a not in addresses]
        for database in names:
            replicas = sum(1 for m in members if (m.get("databases") or {}).get(database) == "READ_REPLICA")
            cores = sum(1 for m in members if (m.get("databases") or {}).get(database) in ("LEADER", "FOLLOWER"))
            if replicas < secondaries or cores < primaries:
                short.append(f"{database}: {cores}/{primaries} cores, {replicas}/{secondaries} read replicas")
        return "; ".join(short) or None

    if result.dry_run:
        result.notes.append("dry run: nothing to send on 4.4; not waited")
        return result
    session.poll("the read replicas to join", joined)
    return result


def listed_addresses(run: q.Run, version: Version) -> list[str]:
    """Bolt addresses (host:port) of the servers the cluster has; gone ones (Deallocating, Dropped …) left out."""
    if version.line is not None and version.line.allocates_databases:
        return [server_address(r) for r in run(q.LIST_SERVERS, None) if r.get("address") and r.get("state") not in GONE]
    return [a for m in run(q.LIST_MEMBERS, None) for a in overview_addresses(m)]


def scale_in(run: q.Run, version: Version, leaving_addresses: Sequence[str], databases: Sequence[str] | None,
             primaries: int, secondaries: int, progress: Progress, *, dry_run: bool = False,
             wait: Wait = Wait(), topologies: Mapping[str, tuple[int, int]] | None = None) -> ScaleResult:
    _check_counts(primaries, secondaries)
    result = ScaleResult("in", str(version), dry_run)
    session = _Session(run, result, progress, wait)
    line = version.line
    if line is None or not line.allocates_databases:
        return _scale_in_44(session, leaving_addresses)

    servers = session.read(q.SHOW_SERVERS)
    rows = session.read(q.SHOW_DATABASES)
    leaving_rows = []
    for wanted in leaving_addresses:
        row = find_server(servers, wanted)
        if row is None:
            result.notes.append(f"{wanted}: not in SHOW SERVERS (already gone)")
        elif row.get("state") == DROPPED:
            result.notes.append(f"{wanted}: already dropped")
        else:
            leaving_rows.append(row)
    for note in result.notes:
        progress(note)
    if not leaving_rows:
        result.notes.append("nothing to move: the machines may go")
        return result
    leaving = {server_address(r) for r in leaving_rows}
    still_hosting = [r for r in leaving_rows if r.get("state") not in (DEALLOCATING, DEALLOCATED)]
    if still_hosting:
        problems = refusals(servers, rows, leaving, primaries, secondaries)
        if problems:
            raise ScalingRefusedError("refused, nothing was changed: " + "; ".join(problems))
        # Cordon, then lower the topology: databases.adoc, "If the `ALTER DATABASE` command decreases the
        # number of allocations of a database, allocations on cordoned servers are removed first", so the copies
        # that go are the leaving servers' and none is moved onto a staying server only to be copied back.
        for row in still_hosting:
            if row.get("state") == ENABLED:
                session.write(cordon_statement(id_of(row)))
        targets = database_targets(rows, user_databases(rows, databases), primaries, secondaries, topologies, "in")
        for database, (own_primaries, own_secondaries) in targets.items():
            session.write(topology_statement(version, database, own_primaries, own_secondaries))
        ids = [id_of(r) for r in still_hosting]
        if line.dry_runs_deallocation(version):
            plan = deallocate_statement(ids, dry_run=True)
            moves = session.run(plan.named, plan.params)
            result.statements.append(plan)
            result.moves = moves
            for move in moves:
                progress(f"{move.get('database')}: {move.get('fromServerName')} -> {move.get('toServerName')} "
                         f"({move.get('mode')})")
            if not moves:
                progress("DRYRUN DEALLOCATE: no copy moves (the lowered topology needs none)")
        session.write(deallocate_statement(ids, dry_run=False))
    if dry_run:
        for row in leaving_rows:
            session.write(drop_statement(id_of(row)))
        result.notes.append("dry run: nothing was changed and nothing was waited for")
        return result

    def not_deallocated(current: list[dict[str, Any]], row: dict[str, Any]) -> str | None:
        now = find_server(current, server_address(row)) or {}
        if deallocated(now, version):
            return None
        return f"{server_address(row)} {now.get('state')} hosting {', '.join(now.get('hosting') or [])}"

    session.wait_for_each("the leaving servers to be deallocated", q.SHOW_SERVERS, leaving_rows, not_deallocated)
    for row in leaving_rows:
        session.write(drop_statement(id_of(row)))
        result.dropped.append(server_address(row))
    # servers.adoc: "Once this command has been executed successfully, the Neo4j process on the server in
    # question may be stopped."
    result.notes.append(f"dropped {', '.join(result.dropped)}: their machines may go now")
    return result


def _scale_in_44(session: _Session, leaving_addresses: Sequence[str]) -> ScaleResult:
    """4.4 clustering/introduction.adoc: "Read Replica instances should typically be run in relatively large
    numbers and treated as disposable. Losing a Read Replica does not impact the cluster's availability"; there is
    no allocation to move. A core is not removed by scaling: refused."""
    result = session.result
    members = session.read(q.CLUSTER_OVERVIEW_ON_SYSTEM)
    cores = []
    for wanted in leaving_addresses:
        member = next((m for m in members if wanted in overview_addresses(m)
                       or wanted in [a.rsplit(":", 1)[0] for a in overview_addresses(m)]), None)
        if member is None:
            result.notes.append(f"{wanted}: not in dbms.cluster.overview() (already gone)")
        elif any(role in ("LEADER", "FOLLOWER") for role in (member.get("databases") or {}).values()):
            cores.append(wanted)
    if cores:
        raise ScalingRefusedError(f"refused, nothing was changed: {', '.join(cores)} is a core member; scaling removes "
                             f"read replicas only")
    result.notes.append("Neo4j 4.4: nothing to deallocate; read replicas hold no allocation and leave the cluster "
                        "when their machines stop")
    for note in result.notes:
        session.progress(note)
    return result


def render_text(result: ScaleResult) -> str:
    verb = "would run" if result.dry_run else "ran"
    lines = [f"scale {result.direction} (Neo4j {result.version}): {verb} {len(result.statements)} statement"
             f"{'s' if len(result.statements) != 1 else ''}"]
    lines += [f"  {s.text()}" for s in result.statements]
    lines += [f"  move: {m.get('database')} {m.get('fromServerName')} -> {m.get('toServerName')} ({m.get('mode')})"
              for m in result.moves]
    lines += [f"  . {note}" for note in result.notes]
    return "\n".join(lines)
