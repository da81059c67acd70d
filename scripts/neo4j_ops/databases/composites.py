"""Pure: the statements that bring the cluster's composite databases and their aliases to the stack's
neo4j:composites (5.x and 2025 Enterprise), from SHOW DATABASES and SHOW ALIASES FOR DATABASE rows.

Each composite before its aliases (an alias in a composite needs the composite: manage-aliases-composite-
databases.adoc, "The namespace must be the name of the composite database"); an alias missing is created, one whose
target (database, URI, user) differs is altered, one the stack does not list is reported and never dropped. A remote
alias's password goes as the Bolt parameter $password (the stack secret neo4j:aliasPasswords): Neo4j never shows it,
so a password alone cannot be compared; `--rotate-alias-passwords` re-sends them.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.databases import AliasSpec, CompositeSpec, full_alias_name

from .. import queries as q
from ..scaling.statements import Statement


@dataclass
class CompositesPlan:
    statements: list[Statement] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)  # composites and aliases the stack does not list
    notes: list[str] = field(default_factory=list)


def missing_passwords(composites: Iterable[CompositeSpec], passwords: Mapping[str, str]) -> list[str]:
    """The remote aliases (<composite>.<alias>) without a password in `passwords`."""
    return [full_alias_name(c.name, a.name) for c in composites for a in c.aliases
            if a.remote and not passwords.get(full_alias_name(c.name, a.name))]


def _statement(cypher: str, alias: AliasSpec, label: str, passwords: Mapping[str, str]) -> Statement:
    return Statement(cypher, {"password": passwords[label]} if alias.remote else {})


def plan_composites(composites: Iterable[CompositeSpec], database_rows: Iterable[dict[str, Any]],
                    alias_rows: Iterable[dict[str, Any]], passwords: Mapping[str, str], *,
                    rotate_passwords: bool = False) -> CompositesPlan:
    kinds: dict[str, str] = {}
    for row in database_rows:
        kinds.setdefault(str(row.get("name") or ""), str(row.get("type") or "standard"))
    aliases = {str(r.get("name")): r for r in alias_rows if r.get("name")}
    result = CompositesPlan()
    composites = tuple(composites)
    for composite in composites:
        kind = kinds.get(composite.name)
        if kind is None:
            result.statements.append(Statement(q.create_composite(composite.name)))
        elif kind != "composite":
            result.notes.append(f"{composite.name}: the cluster has a {kind} database of that name; its composite "
                                f"and aliases are left out (drop or rename it by hand)")
            continue
        for alias in composite.aliases:
            label = full_alias_name(composite.name, alias.name)
            there = aliases.get(label)
            options = {"url": alias.uri, "user": alias.user, "ssl_enforced": alias.ssl_enforced}
            if there is None:
                cypher = q.create_alias(composite.name, alias.name, alias.database, **options)
                result.statements.append(_statement(cypher, alias, label, passwords))
                continue
            location = "remote" if alias.remote else "local"
            if str(there.get("location") or "") != location:
                result.notes.append(f"{label}: a {there.get('location')} alias in the cluster, {location} in the "
                                    f"stack; Neo4j alters neither into the other (drop it by hand, then re-run)")
                continue
            wanted = (alias.database, alias.uri or None, alias.user or None)
            found = (there.get("database"), there.get("url") or None, there.get("user") or None)
            if wanted != found or (alias.remote and rotate_passwords):
                cypher = q.alter_alias(composite.name, alias.name, alias.database, **options)
                result.statements.append(_statement(cypher, alias, label, passwords))
    names = {c.name for c in composites}
    labels = {full_alias_name(c.name, a.name) for c in composites for a in c.aliases}
    result.unmanaged = sorted({n for n, k in kinds.items() if k == "composite" and n not in names}
                              | {n for n, r in aliases.items() if r.get("composite") in names and n not in labels})
    return result
