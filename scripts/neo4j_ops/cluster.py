"""Pure functions over the facts gathered from each server (facts.py): the cluster as a whole.

Writers per database, topology problems, database states, the rows the overview tables show: all
computed from ServerFacts without further I/O, so the same functions serve the real servers and
recorded enterprise responses.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .bolt import UNSUPPORTED, BoltError
from .facts import ServerFacts, ServerSpec
from .shared.versions import VersionLine
from .target import Target

ROLE_44 = {"LEADER": "primary", "FOLLOWER": "primary", "READ_REPLICA": "secondary"}


def reference(facts: list[ServerFacts]) -> ServerFacts | None:
    """The first reachable server: its version and edition stand for the cluster's."""
    return next((f for f in facts if f.reachable), None)


def database_names(facts: list[ServerFacts]) -> list[str]:
    names: dict[str, None] = {}
    for f in facts:
        for row in f.databases:
            if row.get("type", "standard") != "composite":
                names.setdefault(row["name"], None)
    return sorted(names, key=lambda n: (n == "system", n))


def writer_claims(facts: list[ServerFacts]) -> dict[str, dict[str, set[str]]]:
    """database → writer address → the servers whose view says so (every view is counted).

    A row says so by is_writer (5.x's writer column; 4.4's role leader or standalone). A healthy
    cluster has exactly one writer address per database in every view; two addresses is a split
    brain (each side of a partition elects its own leader, or a stale view), none is a cluster
    without a leader.
    """
    claims: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for f in facts:
        if not f.reachable:
            continue
        for row in f.databases:
            if row.get("type") == "composite":
                continue
            claims[row["name"]]  # every database appears, even with no writer
            if is_writer(row) and row.get("address"):
                claims[row["name"]][row["address"]].add(f.spec.name)
    return claims


def is_writer(row: dict[str, Any]) -> bool:
    """Does this SHOW DATABASES row say its server writes the database? 5.x: its `writer` column; 4.4, which
    has none: role 'leader' in a cluster, 'standalone' on a server of its own."""
    if "writer" in row:
        return bool(row["writer"])
    return str(row.get("role", "")).lower() in ("leader", "standalone")


def expected_writer(claims: dict[str, set[str]]) -> str | None:
    return next(iter(claims)) if len(claims) == 1 else None


def row_about(facts: list[ServerFacts], spec: ServerSpec, database: str) -> dict[str, Any] | None:
    """The row about `spec` hosting `database`: from its own view first, else any other view."""
    own = next((f for f in facts if f.spec == spec), None)
    ordered = ([own] if own else []) + [f for f in facts if f is not own]
    for f in ordered:
        if not f.reachable:
            continue
        for row in f.databases:
            if row.get("name") == database and row.get("address") in spec.aliases:
                return row
    return None


def role_of(row: dict[str, Any]) -> str:
    """'primary' | 'secondary' | 'unknown' from a SHOW DATABASES row of either dialect."""
    role = str(row.get("role") or "unknown").lower()
    return {"leader": "primary", "follower": "primary", "read_replica": "secondary"}.get(role, role)


def display_role(row: dict[str, Any] | None, standalone: bool) -> str:
    if row is None:
        return "-"
    if standalone:
        return "standalone"
    if is_writer(row):
        return "leader"
    role = role_of(row)
    return "follower" if role == "primary" else role


@dataclass
class TopologyView:
    problems: list[str]
    notes: list[str]
    members: int


def topology(target: Target, facts: list[ServerFacts], line: VersionLine) -> TopologyView:
    """The cluster's members against the expected servers, from the view the line lists them in."""
    return topology_5(target, facts) if line.supports_show_servers else topology_44(target, facts)


def topology_5(target: Target, facts: list[ServerFacts]) -> TopologyView:
    """SHOW SERVERS (any reachable enterprise server's view) against the expected servers."""
    view = next((f for f in facts if f.reachable and f.servers is not None), None)
    problems, notes = [], []
    if view is None:
        return TopologyView(["no reachable server answered SHOW SERVERS"], [], 0)
    rows = view.servers or []
    matched: set[int] = set()
    for spec in target.servers:
        index, row = next(((i, r) for i, r in enumerate(rows) if r.get("address") in spec.aliases), (None, None))
        if row is None:
            problems.append(f"{spec.name} ({spec.address}) is not a member: SHOW SERVERS on {view.spec.name} "
                            f"does not list it (not started, or cannot reach the discovery endpoints)")
            continue
        matched.add(index)
        state, health = row.get("state"), row.get("health")
        if state != "Enabled":
            hint = " (run ENABLE SERVER '<name>' on the system database)" if state == "Free" else ""
            problems.append(f"{spec.name} is {state}, expected Enabled{hint}")
        if health != "Available":
            problems.append(f"{spec.name} is {health} (no contact with the cluster)")
        if spec.role:
            constraint = str(row.get("modeConstraint") or "NONE").lower()
            if constraint not in ("none", spec.role):
                problems.append(f"{spec.name} is constrained to {constraint}, expected {spec.role}")
            actual = {role_of(r) for r in (row_rows(facts, spec))}
            actual.discard("unknown")
            if actual and actual != {spec.role}:
                problems.append(f"{spec.name} hosts databases as {', '.join(sorted(actual))}, expected {spec.role}")
    for i, row in enumerate(rows):
        if i in matched:
            continue
        name = row.get("name")
        if row.get("state") == "Free":
            problems.append(f"server {name} ({row.get('address')}) is Free: started but never enabled")
        elif row.get("health") != "Available" and row.get("state") not in ("Dropped", "Deallocated"):
            problems.append(f"server {name} ({row.get('address')}) is {row.get('health')}: a stale member? "
                            f"(DEALLOCATE DATABASES FROM SERVER / DROP SERVER once replaced)")
        elif target.servers_given:
            notes.append(f"also a member: {name} ({row.get('address')})")
    return TopologyView(problems, notes, len(rows))


def row_rows(facts: list[ServerFacts], spec: ServerSpec) -> list[dict[str, Any]]:
    """Rows about `spec` (every database it hosts), from its own view when reachable."""
    own = next((f for f in facts if f.spec == spec and f.reachable), None)
    sources = [own] if own else [f for f in facts if f.reachable]
    seen, rows = set(), []
    for f in sources:
        for row in f.databases:
            if row.get("address") in spec.aliases and row.get("name") not in seen:
                seen.add(row.get("name"))
                rows.append(row)
    return rows


def topology_44(target: Target, facts: list[ServerFacts]) -> TopologyView:
    """dbms.cluster.overview (4.4): every expected server listed, with the expected role."""
    view = next((f for f in facts if f.reachable and f.overview is not None), None)
    if view is None:
        return TopologyView(["no reachable server answered dbms.cluster.overview()"], [], 0)
    problems, notes = [], []
    members = []
    for row in view.overview or []:
        bolt = next((a for a in row.get("addresses") or [] if a.startswith("bolt://")), None)
        members.append((bolt.split("://", 1)[1] if bolt else None, row))
    matched = set()
    for spec in target.servers:
        found = next(((addr, row) for addr, row in members if addr in spec.aliases), None)
        if found is None:
            problems.append(f"{spec.name} ({spec.address}) is not in dbms.cluster.overview() on {view.spec.name}")
            continue
        matched.add(found[0])
        roles = {ROLE_44.get(str(role).upper(), "unknown") for role in (found[1].get("databases") or {}).values()}
        if spec.role and roles and roles != {spec.role}:
            problems.append(f"{spec.name} has role(s) {', '.join(sorted(found[1]['databases'].values()))}, "
                            f"expected {spec.role}")
    for addr, _row in members:
        if addr not in matched and target.servers_given:
            notes.append(f"also a member: {addr}")
    return TopologyView(problems, notes, len(members))


def database_status_problems(target: Target, facts: list[ServerFacts]) -> list[str]:
    problems = []
    ref = reference(facts)
    for row in (ref.databases if ref else []):
        # A server that is down still has its databases listed, with no address (5.x).
        if row.get("address") is None and row.get("currentStatus") not in (None, row.get("requestedStatus")):
            server = row.get("serverID") or "a server"
            message = _status_message(row)
            problems.append(f"{row['name']} on {server} is {row['currentStatus']}{message}")
    for spec in target.servers:
        for row in row_rows(facts, spec):
            requested, current = row.get("requestedStatus"), row.get("currentStatus")
            if requested and current and requested != current:
                message = _status_message(row)
                problems.append(f"{row['name']} on {spec.name} is {current}, requested {requested}{message}")
    return problems


def _status_message(row: dict[str, Any]) -> str:
    """': why' from statusMessage (5.x) or error (4.4's name of that column), else ''."""
    text = row.get("statusMessage") or row.get("error")
    return f": {text}" if text else ""


def is_standalone(facts: list[ServerFacts]) -> bool:
    ref = reference(facts)
    return ref is not None and not ref.enterprise


def is_unsupported(error: BoltError | None) -> bool:
    return error is not None and error.kind == UNSUPPORTED
