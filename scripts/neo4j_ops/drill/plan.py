"""The failover drill's plan and judgement: pure functions of the cluster's view (SHOW DATABASES through facts.py,
as check and the rollout read it) and the stack's settings.

Which server: the one that leads `system` and the default database. Leaders are the writers of SHOW DATABASES
("`writer`: `true` for the database node that accepts writes", 5.x clustering/monitoring/
show-databases-monitoring.adoc; 4.4, which has no writer column: role `leader`), read from every reachable view
(cluster.writer_claims): a database with no writer, or two, has no leader to drill. When `system` and the default
database are led by different servers, the drill stops the default database's leader (the one the write load
measures) and says that `system`'s leader stays up; --server names another.

Refusals, before anything is stopped:
- fault tolerance 0 (one primary, or Community): stopping the leader stops every write until it is back, which
  measures an outage, not a failover. The stack outputs' faultTolerance, else the primaries hosting the default
  database in the view ((primaries - 1) // 2, the Raft majority rule).
- a production stack (named prod, prod-…, production…) without --yes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .. import cluster
from ..facts import SYSTEM, ServerFacts
from ..target import Target

_PRODUCTION = re.compile(r"^prod(uction)?([-_.].*)?$")


@dataclass(frozen=True)
class Thresholds:
    """The stack's neo4j:drillMax* keys (components/settings.py): over any of them the drill exits 1."""
    max_write_outage_seconds: float = 30.0
    max_lost_writes: int = 0
    max_recovery_seconds: float = 600.0

    @classmethod
    def from_settings(cls, settings) -> Thresholds:
        return cls(float(settings.drill_max_write_outage_seconds), int(settings.drill_max_lost_writes),
                   float(settings.drill_max_recovery_seconds))


@dataclass(frozen=True)
class DrillPlan:
    server: str  # the server the drill stops
    server_uri: str  # its own Bolt URI (the caught-up count asks it directly)
    leads: tuple[str, ...]  # which of system and the default database it leads
    database: str  # the default database: the write load's
    entry_uri: str  # where the load writes: the stack's entry point (HAProxy), else the routing URI
    fault_tolerance: int
    hosted: tuple[str, ...]  # the databases it hosts now: it must host them again to be back
    note: str = ""  # what the plan leaves out (system led elsewhere)


@dataclass(frozen=True)
class Figures:
    """What a drill measured (drill/load.py and run.py fill it)."""
    stop_seconds: float  # the stop command, issued to returned
    new_leader_seconds: float | None  # from the stop issued to the first write a new leader acknowledged
    write_outage_seconds: float  # the first failed write after the stop → the next acknowledged one (0: none failed)
    writes: int
    acknowledged: int
    failed_attempts: int  # attempts that failed (each was retried, or its write lost)
    retried_writes: int  # writes acknowledged after at least one failed attempt
    lost_writes: int  # writes never acknowledged within the retry time
    recovery_seconds: float | None  # from the start issued to back and caught up; None: not within the limit


def is_production(stack: str | None) -> bool:
    return bool(stack) and bool(_PRODUCTION.match(stack.lower()))


def leaders(target: Target, facts: list[ServerFacts], databases: tuple[str, ...]) -> dict[str, str | None]:
    """database → the name of the server every view agrees writes it; None: no writer, or several."""
    claims = cluster.writer_claims(facts)
    found: dict[str, str | None] = {}
    for database in databases:
        writer = cluster.expected_writer(claims.get(database, {}))
        spec = target.server_at(writer)
        found[database] = spec.name if spec is not None else None
    return found


def fault_tolerance(target: Target, facts: list[ServerFacts], database: str) -> int:
    """The stack outputs' faultTolerance; without outputs, from the view: 0 on Community (standalone), else the Raft
    rule over the primaries hosting `database`."""
    if target.fault_tolerance is not None:
        return int(target.fault_tolerance)
    if cluster.is_standalone(facts) or cluster.reference(facts) is None:
        return 0
    primaries = set()
    for f in facts:
        for row in f.databases if f.reachable else []:
            if row.get("name") == database and cluster.role_of(row) == "primary" and row.get("address"):
                primaries.add(row["address"])
    return max(0, (len(primaries) - 1) // 2)


def refusal(*, stack: str | None, fault_tolerance: int, yes: bool, dry_run: bool) -> str | None:
    """Why the drill must not run, in one line; None when it may."""
    if fault_tolerance < 1:
        return (f"fault tolerance {fault_tolerance}: stopping the leader stops every write until it is back (an "
                f"outage, not a failover); the drill needs at least 3 primaries (neo4j:coreCount)")
    if is_production(stack) and not yes and not dry_run:
        return (f"stack {stack} is production: the drill stops its leader while clients write; give --yes "
                f"(make drill STACK={stack} YES=1) to run it")
    return None


def choose(target: Target, facts: list[ServerFacts], *, database: str, entry_uri: str, ft: int,
           server: str | None = None) -> DrillPlan:
    """The plan: the server that leads system and `database` (or the one named), what it hosts, where the load
    goes. ValueError in words when there is no leader to stop."""
    led = leaders(target, facts, (SYSTEM, database))
    note = ""
    if server is not None:
        spec = target.server_named(server)
        if spec is None:
            raise ValueError(f"--server {server}: no such server (servers: "
                             f"{', '.join(s.name for s in target.servers)})")
    else:
        if led[database] is None:
            raise ValueError(f"{database} has no single leader in SHOW DATABASES (none, or several): the cluster is "
                             f"not healthy enough to drill; run `make check`")
        server = led[database]
        if led[SYSTEM] not in (None, server):
            note = (f"system is led by {led[SYSTEM]}, which stays up: this drill fails over {database} only "
                    f"(--server {led[SYSTEM]} drills system's leader)")
        elif led[SYSTEM] is None:
            note = "system has no single leader in SHOW DATABASES"
    spec = target.server_named(server)
    leads = tuple(db for db in (SYSTEM, database) if led[db] == server)
    hosted = tuple(sorted({row["name"] for row in cluster.row_rows(facts, spec) if row.get("type") != "composite"}))
    return DrillPlan(server, spec.uri, leads, database, entry_uri, ft, hosted, note)


def exceeded(figures: Figures, thresholds: Thresholds) -> list[str]:
    """Each threshold the figures are over, in words (empty: the drill passed)."""
    over = []
    if figures.new_leader_seconds is None:
        over.append("no new leader accepted a write")
    if figures.write_outage_seconds > thresholds.max_write_outage_seconds:
        over.append(f"writes failed for {figures.write_outage_seconds:.1f} s, over neo4j:drillMaxWriteOutageSeconds "
                    f"{thresholds.max_write_outage_seconds:g}")
    if figures.lost_writes > thresholds.max_lost_writes:
        over.append(f"{figures.lost_writes} writes lost, over neo4j:drillMaxLostWrites {thresholds.max_lost_writes}")
    if figures.recovery_seconds is None:
        over.append(f"the stopped server was not back and caught up within neo4j:drillMaxRecoverySeconds "
                    f"{thresholds.max_recovery_seconds:g}")
    elif figures.recovery_seconds > thresholds.max_recovery_seconds:
        over.append(f"back and caught up after {figures.recovery_seconds:.1f} s, over "
                    f"neo4j:drillMaxRecoverySeconds {thresholds.max_recovery_seconds:g}")
    return over
