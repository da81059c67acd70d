"""Pure: the statements that bring the cluster's standard databases to the stack's neo4j:databases, from what
`SHOW DATABASES YIELD *` lists. Nothing here sends anything (run.py does).

  - a database the stack lists and the cluster does not: CREATE DATABASE … IF NOT EXISTS (5.x/2025 with its
    TOPOLOGY, and its seed; 4.4 without), WAIT where the entry asks for it;
  - one it lists whose requested counts differ (5.x/2025): ALTER DATABASE … SET TOPOLOGY (the default database
    only when an entry names it: otherwise `make scale` keeps it at the stack's counts);
  - one the cluster lists and the stack does not (not `system`, not a composite database): reported as
    unmanaged, never dropped.

Manual (neo4j/docs-operations, 5.x and dev): create-databases.adoc "appending `IF NOT EXISTS` to the command
ensures that no error is returned and that nothing happens if the database already exists"; alter-databases.adoc
`ALTER DATABASE name [IF EXISTS] SET TOPOLOGY n PRIMAR{Y|IES} [m SECONDAR{Y|IES}]`; listing-databases.adoc
(`requestedPrimariesCount`, `requestedSecondariesCount`, `type`: "standard", "system" or "composite").
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.databases import SYSTEM, DatabaseTopology

from .. import queries as q
from ..scaling.statements import Statement, topology_statement
from ..shared.versions import Version


@dataclass(frozen=True)
class Listed:
    """A database as SHOW DATABASES lists it (its rows folded into one)."""
    name: str
    type: str  # "standard" | "system" | "composite" (4.4 has no type column: "standard", `system` "system")
    primaries: int | None  # requested counts (5.x/2025); None where the line has none (4.4, composites)
    secondaries: int | None


@dataclass
class DatabasesPlan:
    statements: list[Statement] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)  # standard databases the stack does not list
    notes: list[str] = field(default_factory=list)


def _count(row: dict[str, Any], requested: str, current: str) -> int | None:
    for column in (requested, current):
        value = row.get(column)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def listed(rows: Iterable[dict[str, Any]]) -> dict[str, Listed]:
    """SHOW DATABASES YIELD * rows (one per database per hosting server) → name → Listed."""
    found: dict[str, Listed] = {}
    for row in rows:
        name = str(row.get("name") or "")
        if not name or name in found:
            continue
        kind = str(row.get("type") or (SYSTEM if name == SYSTEM else "standard"))
        found[name] = Listed(name, kind, _count(row, "requestedPrimariesCount", "currentPrimariesCount"),
                             _count(row, "requestedSecondariesCount", "currentSecondariesCount"))
    return found


def plan(wanted: Sequence[DatabaseTopology], rows: Iterable[dict[str, Any]], version: Version, *,
         enterprise: bool = True) -> DatabasesPlan:
    """The statements, in the stack's order, that make the cluster hold `wanted` (Settings.database_topologies)."""
    line = version.line
    allocates = bool(line and line.allocates_databases) and enterprise
    existing = listed(rows)
    result = DatabasesPlan()
    for database in wanted:
        there = existing.get(database.name)
        if there is None:
            if database.default:
                result.notes.append(f"{database.name}: the default database is not listed; Neo4j creates it "
                                    f"(initial.dbms.default_database), not this command")
                continue
            if allocates:
                cypher = q.create_database(database.name, primaries=database.primaries,
                                           secondaries=database.secondaries, seed_uri=database.seed_uri,
                                           wait=database.wait)
            else:
                cypher = q.create_database(database.name, wait=database.wait)
            result.statements.append(Statement(cypher))
            continue
        if there.type != "standard":
            result.notes.append(f"{database.name}: listed as a {there.type} database, not a standard one; "
                                f"left as it is")
            continue
        if not allocates or not database.listed or there.primaries is None:
            continue
        if (there.primaries, there.secondaries) != (database.primaries, database.secondaries):
            result.notes.append(f"{database.name}: {there.primaries} primaries {there.secondaries} secondaries "
                                f"requested now; the stack says {database.primaries} and {database.secondaries}")
            result.statements.append(topology_statement(version, database.name, database.primaries,
                                                        database.secondaries))
    names = {d.name for d in wanted}
    result.unmanaged = sorted(n for n, d in existing.items() if d.type == "standard" and n not in names)
    return result
