"""Pure decisions over SHOW SERVERS / SHOW DATABASES rows: which server a name means, where a database is
hosted, whether the servers that stay can hold a topology, and what makes removing servers unsafe.

Every rule quotes the Operations Manual (neo4j/docs-operations, branches 5.x and dev: clustering/servers.adoc,
clustering/databases.adoc, clustering/introduction.adoc).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..shared.errors import OperationError
from ..shared.versions import Version

SYSTEM = "system"
ONLINE = "online"
# SHOW SERVERS `state` (servers.adoc: "Free, Enabled, Cordoned, Deallocating, Deallocated, or Dropped").
FREE, ENABLED, CORDONED = "Free", "Enabled", "Cordoned"
DEALLOCATING, DEALLOCATED, DROPPED = "Deallocating", "Deallocated", "Dropped"
GONE = (DEALLOCATING, DEALLOCATED, DROPPED)  # can no longer host databases
AVAILABLE = "Available"


class ScalingRefusedError(OperationError):
    """The cluster is not in a state where the change is safe; nothing was changed."""


def server_address(row: dict[str, Any]) -> str:
    return str(row.get("address") or "")


def id_of(row: dict[str, Any]) -> str:
    """How the administration commands name a SHOW SERVERS row's server: its id, else its name (servers.adoc:
    "Either the server ID or its name can be used")."""
    return str(row.get("serverId") or row.get("name"))


def find_server(servers: Iterable[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    """The SHOW SERVERS row of a server given by address (host:port), host, short name (core-1), Neo4j's name
    or id."""
    for row in servers:
        address = server_address(row)
        host = address.rsplit(":", 1)[0]
        if wanted in (address, host, host.split(".", 1)[0], row.get("name"), row.get("serverId")):
            return row
    return None


def user_databases(rows: Iterable[dict[str, Any]], wanted: Sequence[str] | None) -> list[str]:
    """The databases to set the topology of: `wanted`, or every standard database but `system` (composite
    databases have no topology of their own)."""
    if wanted is not None:
        return [d for d in wanted if d != SYSTEM]
    names = {str(r["name"]) for r in rows if r.get("name") and r.get("name") != SYSTEM
             and str(r.get("type") or "standard") == "standard"}
    return sorted(names)


def hosts(rows: Iterable[dict[str, Any]], database: str, role: str | None = None,
          online: bool = False) -> set[str]:
    """Addresses that host `database` (in `role`; only where it is online)."""
    return {server_address(r) for r in rows if r.get("name") == database and r.get("address")
            and (role is None or str(r.get("role") or "").lower() == role)
            and (not online or r.get("currentStatus") == ONLINE)}


def can_host(row: dict[str, Any], mode: str) -> bool:
    """databases.adoc: "the database role must be aligned with the server's `modeConstraint`, which value can
    be `PRIMARY`, or `SECONDARY`, or `NONE`"."""
    constraint = str(row.get("modeConstraint") or "NONE").upper()
    return constraint in ("NONE", mode.upper())


def capacity_problems(servers: Iterable[dict[str, Any]], primaries: int, secondaries: int,
                      leaving: set[str] = frozenset()) -> list[str]:
    """Why the servers that stay cannot hold the topology (empty: they can). databases.adoc: "the `ALTER
    DATABASE` command results in an error if the cluster does not contain sufficient servers to satisfy the
    requested topology"; servers.adoc: "Attempting to deallocate database(s) from a server that would result in
    less available servers than required fails with an error and no changes are made"."""
    staying = [r for r in servers if r.get("state") in (ENABLED, CORDONED) and server_address(r) not in leaving]
    problems = []
    if len(staying) < primaries + secondaries:
        problems.append(f"{primaries} primaries and {secondaries} secondaries need {primaries + secondaries} "
                        f"enabled servers; {len(staying)} would remain")
    for mode, wanted in (("primary", primaries), ("secondary", secondaries)):
        able = sum(1 for r in staying if can_host(r, mode))
        if able < wanted:
            problems.append(f"{wanted} {mode} allocations need {wanted} servers whose modeConstraint allows "
                            f"{mode.upper()}; {able} would remain")
    return problems


def refusals(servers: list[dict[str, Any]], databases: list[dict[str, Any]], leaving: set[str], primaries: int,
             secondaries: int) -> list[str]:
    """What makes removing the `leaving` servers (addresses) unsafe; empty when it is safe. Nothing is
    changed when there is one."""
    problems: list[str] = []
    health = {server_address(r): r.get("health") for r in servers}
    names = sorted({str(r["name"]) for r in databases if r.get("name")})
    for database in names:
        everywhere = hosts(databases, database)
        if everywhere and everywhere <= leaving:
            problems.append(f"{database}: every server that hosts it is leaving ({', '.join(sorted(everywhere))}); "
                            f"it would be lost")
            continue
        primary = hosts(databases, database, "primary")
        going = primary & leaving
        if not going:
            continue
        # introduction.adoc: "A database remains available for writes as long as a simple majority of its
        # primary allocations are functioning."
        remaining = {a for a in primary - leaving if health.get(a) == AVAILABLE}
        if len(remaining) * 2 <= len(primary):
            problems.append(f"{database}: dropping primary {', '.join(sorted(going))} leaves {len(remaining)} "
                            f"available of its {len(primary)} primaries, no majority: it would stop taking writes")
        if len(primary) == 1:
            # servers.adoc: "Deallocation is currently prevented … If the server is hosting a database with an
            # allocation of one primary."
            problems.append(f"{database}: its only primary is on {', '.join(sorted(going))}")
    for address in sorted(leaving):
        offline = sorted({str(r["name"]) for r in databases if server_address(r) == address
                          and r.get("currentStatus") != ONLINE and r.get("name") != SYSTEM})
        if offline:
            # servers.adoc: "Deallocation is currently prevented … If a database, the server is hosting, is offline."
            problems.append(f"{address} hosts {', '.join(offline)} not online: deallocation would be refused")
    problems += capacity_problems(servers, primaries, secondaries, leaving)
    return problems


def deallocated(row: dict[str, Any], version: Version) -> bool:
    """servers.adoc: "do not attempt the next step before `SHOW SERVERS` reports that the deallocating server is
    in the deallocated state" ("no longer hosts any databases besides the `system` database"); before 5.15
    (no Deallocated state) the hosting list alone says it."""
    only_system = set(row.get("hosting") or []) <= {SYSTEM}
    if version.line is not None and version.line.reports_deallocated(version):
        return row.get("state") == DEALLOCATED and only_system
    return row.get("state") in (DEALLOCATING, DEALLOCATED) and only_system


def requested_counts(rows: Iterable[dict[str, Any]], database: str) -> tuple[int, int] | None:
    """The topology `database` was given (SHOW DATABASES YIELD * `requestedPrimariesCount`,
    `requestedSecondariesCount`; listing-databases.adoc), None when the rows do not say."""
    for row in rows:
        if row.get("name") == database:
            primaries, secondaries = row.get("requestedPrimariesCount"), row.get("requestedSecondariesCount")
            if isinstance(primaries, int) and isinstance(secondaries, int):
                return primaries, secondaries
    return None


def database_targets(rows: list[dict[str, Any]], names: Sequence[str], primaries: int, secondaries: int,
                     topologies: Mapping[str, tuple[int, int]] | None, direction: str) -> dict[str, tuple[int, int]]:
    """The topology each database gets when the cluster scales to `primaries` + `secondaries` servers.

    `topologies` None: every database the stack's counts (the stack has no neo4j:databases). Else a database the
    stack defines (neo4j:database, neo4j:databases) gets its own topology; one it does not (unmanaged) keeps the one
    it was given when the cluster grows (left out here), and is lowered only as far as the servers that stay
    require when it shrinks."""
    if topologies is None:
        return {name: (primaries, secondaries) for name in names}
    targets: dict[str, tuple[int, int]] = {}
    for name in names:
        if name in topologies:
            targets[name] = topologies[name]
            continue
        requested = requested_counts(rows, name)
        if direction == "in" and requested is not None:
            lowered = (min(requested[0], primaries), min(requested[1], secondaries))
            if lowered != requested:
                targets[name] = lowered
    return targets


def refuse_single_primary(rows: list[dict[str, Any]], names: list[str], primaries: int) -> None:
    """databases.adoc: "It is not possible to automatically transition to a topology with a single primary
    host. Attempting to do so results in an error." """
    if primaries != 1:
        return
    shrinking = [d for d in names if len(hosts(rows, d, "primary")) > 1]
    if shrinking:
        raise ScalingRefusedError(f"{', '.join(shrinking)}: Neo4j cannot move a database from several primaries to "
                                  f"one (back it up, drop it, seed it again)")


def overview_addresses(member: dict[str, Any]) -> list[str]:
    """host:port of a 4.4 member's bolt address (its `addresses` are URIs: bolt://…, http://…, https://…)."""
    return [a.split("://", 1)[1] for a in member.get("addresses") or [] if str(a).startswith("bolt://")]
