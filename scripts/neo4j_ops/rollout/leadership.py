"""Moving a leader's databases away before its rollout step (issue 24 item 6): leader balancing spreads the leaders
of many databases across the primaries, so a primary's step may stop the leader of several.

What the Operations Manual has, per line (neo4j/docs-operations, branches 4.4, 5.x and dev, the 2025 manual):
- No procedure moves a database's leader on demand, on any line. The built-in procedure lists (4.4
  reference/procedures.adoc; 5.x and dev procedures/built-in-procedures.adoc) have none: their dbms.cluster.*
  procedures are overview, role, routing, protocols, setDefaultDatabase, quarantineDatabase, readReplicaToggle (4.4)
  and cordonServer, uncordonServer, reallocate…, deallocate…, recreateDatabase, statusCheck, … (5.x, dev). The
  leader_transfer settings (4.4 `causal_clustering.leadership_priority_group`, 5.x/dev
  `db.cluster.raft.leader_transfer.priority_tag`) are neo4j.conf preferences ("Using this setting will disable
  leadership balancing"), not a one-off move.
- What every line documents is that the cluster moves leaderships away from a server where a database is read-only:
  "Additionally, Neo4j automatically transfers database leaderships away from instances where those databases are
  configured to be read-only using server.databases.read_only or similar." (5.x and dev clustering/setup/routing.adoc,
  "Leadership balancing"; 4.4 clustering/internals.adoc says it of dbms.databases.read_only). That setting is dynamic
  (the tables of configuration/dynamic-settings.adoc list "server.databases.read_only", 4.4's
  "dbms.databases.read_only"), set on one server with dbms.setConfigValue (Enterprise, admin only): "Changes do not
  persist and are lost if the server is restarted. In a clustered environment, `dbms.setConfigValue` affects only the
  cluster member it is run against." (4.4 reference/procedures.adoc; 5.x and dev procedures/built-in-procedures.adoc)
- `system` cannot be read-only ("Value 'system' can't be included in read only databases collection!", 4.4
  configuration-settings.adoc; "... but not with the name system", 5.x). Its leadership, and that of a database no
  other primary hosts, goes by the election after the stop, the fallback: "For any databases where the leaver was
  playing the _Leader_ role, each of those leaderships will be transferred to other Core Servers." (4.4
  clustering-advanced/lifecycle.adoc, "Core shutdown").

So, before the step of a primary that leads a standard database another primary also hosts: the server's read-only
list gets those databases (added to what it had), and the rollout waits until SHOW DATABASES names another writer of
each, within a time limit; if one does not move, the list is set back and the rollout stops before touching the
server. The step restarts the server, which drops the change; a server that still holds the changed list after its
step (a step that did not restart it) gets its old list back.

A read-only database refuses writes sent to that server until its leadership has moved (a client error, which
drivers do not retry); the election after a stop instead leaves the database without a writer for the failure
detection window (the drivers retry that). The move is the shorter gap.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import cluster, queries
from ..bolt import UNREACHABLE, BoltError, Transport, statement_runner
from ..facts import ServerFacts
from ..shared.errors import describe
from ..shared.versions import VersionLine
from ..target import Target
from .gates import FIRST_PAUSE, MAX_PAUSE, gather_all

SYSTEM = "system"


@dataclass(frozen=True)
class Plan:
    server: str
    movable: tuple[str, ...]  # standard databases it leads that another primary hosts: moved before its step
    left: tuple[tuple[str, str], ...]  # (database, why) left to the election after the stop

    def describe(self, moved: str = "") -> str:
        """What happens to its leaderships, planned (or done: `moved` says where they went)."""
        parts = []
        if moved:
            parts.append(f"leadership moved first: {moved}")
        elif self.movable:
            parts.append(f"before it stops, the leadership of {', '.join(self.movable)} moves away (read-only "
                         f"there, dbms.setConfigValue)")
        for database, why in self.left:
            parts.append(f"{database}: by the election after the stop ({why})")
        return "; ".join(parts)


@dataclass(frozen=True)
class Transfer:
    server: str
    setting: str  # server.databases.read_only | dbms.databases.read_only
    before: str  # the server's value before (set back if the step did not restart it)
    value: str  # what the rollout set
    databases: tuple[str, ...]


def applies(facts: list[ServerFacts]) -> bool:
    """An Enterprise cluster: a Community server is standalone and leads for no one."""
    ref = cluster.reference(facts)
    return ref is not None and ref.enterprise


def leads(target: Target, facts: list[ServerFacts], server: str) -> list[str]:
    """The databases SHOW DATABASES names `server` the one writer of (every view counted)."""
    spec = target.server_named(server)
    if spec is None:
        return []
    return sorted(db for db, writers in cluster.writer_claims(facts).items()
                  if cluster.expected_writer(writers) in spec.aliases)


def plan(target: Target, facts: list[ServerFacts], server: str) -> Plan:
    spec = target.server_named(server)
    movable, left = [], []
    for database in leads(target, facts, server):
        others = {row.get("address") for f in facts if f.reachable for row in f.databases
                  if row.get("name") == database and cluster.role_of(row) == "primary"
                  and row.get("address") and row.get("address") not in spec.aliases}
        if database == SYSTEM:
            left.append((database, "system cannot be made read-only"))
        elif not others:
            left.append((database, "no other primary hosts it"))
        else:
            movable.append(database)
    return Plan(server, tuple(movable), tuple(left))


def _runner(target: Target, transport: Transport, server: str, timeout: float) -> queries.Run:
    return statement_runner(transport.client(target.server_named(server).uri, target.auth), timeout)


def read_only_value(target: Target, transport: Transport, server: str, line: VersionLine, timeout: float) -> str:
    setting = queries.read_only_setting_name(line)
    rows = _runner(target, transport, server, timeout)(queries.read_only_setting(line), None)
    return next((str(row.get("value") or "") for row in rows if row.get("name") == setting), "")


def start(target: Target, transport: Transport, facts: list[ServerFacts], moves: Plan, timeout: float) -> Transfer:
    """The server's read-only list with the movable databases added (BoltError when it refuses)."""
    line = cluster.reference(facts).line
    setting = queries.read_only_setting_name(line)
    before = read_only_value(target, transport, moves.server, line, timeout)
    names = [name.strip() for name in before.split(",") if name.strip()]
    value = ",".join(names + [db for db in moves.movable if db not in names])
    _runner(target, transport, moves.server, timeout)(queries.SET_CONFIG_VALUE, {"setting": setting, "value": value})
    return Transfer(moves.server, setting, before, value, moves.movable)


def still_led(target: Target, facts: list[ServerFacts], transfer: Transfer) -> list[str]:
    """The databases of the transfer SHOW DATABASES does not yet show another single writer of."""
    spec = target.server_named(transfer.server)
    claims = cluster.writer_claims(facts)
    return [db for db in transfer.databases
            if cluster.expected_writer(claims.get(db, {})) in (None, *spec.aliases)]


def wait_moved(target: Target, transport: Transport, transfer: Transfer, *, within: float, timeout: float,
               log: Callable[[str], None], sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> tuple[list[str], list[ServerFacts], str]:
    """([], the facts that show it, where each went) once SHOW DATABASES names another writer of every database;
    else what is still led when `within` seconds passed."""
    start_at = clock()
    pause = FIRST_PAUSE
    while True:
        facts = gather_all(target, transport, timeout)
        left = still_led(target, facts, transfer)
        if not left:
            claims = cluster.writer_claims(facts)
            words = []
            for db in transfer.databases:
                spec = target.server_at(cluster.expected_writer(claims[db]))
                words.append(f"{db} → {spec.name if spec else cluster.expected_writer(claims[db])}")
            moved = ", ".join(words)
            log(f"{transfer.server}: leadership moved ({moved}) in {clock() - start_at:.1f} s")
            return [], facts, moved
        now = clock()
        if now - start_at >= within:
            return left, facts, ""
        sleep(min(pause, within - (now - start_at)))
        pause = min(MAX_PAUSE, pause * 1.5)


def restore(target: Target, transport: Transport, facts: list[ServerFacts], transfer: Transfer,
            timeout: float) -> str | None:
    """Set the server's old list back if it still holds the rollout's, saying so; None when it does not (the
    restart dropped the change: MANUAL "lost if the server is restarted")."""
    try:
        ref = cluster.reference(facts)
        if ref is None:
            raise BoltError(UNREACHABLE, "no server answers")
        now = read_only_value(target, transport, transfer.server, ref.line, timeout)
        if now != transfer.value or now == transfer.before:
            return None
        _runner(target, transport, transfer.server, timeout)(queries.SET_CONFIG_VALUE,
                                                             {"setting": transfer.setting, "value": transfer.before})
        return f"{transfer.setting} on {transfer.server} set back to {transfer.before!r}"
    except BoltError as error:
        return f"could not set {transfer.setting} on {transfer.server} back to {transfer.before!r}: " \
               f"{describe(error)} (it is dropped when the server restarts)"
