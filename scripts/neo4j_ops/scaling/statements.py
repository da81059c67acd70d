"""The statements scaling sends that are built at run time (a server id, a database name or a count in them):
ALTER DATABASE … SET TOPOLOGY, ENABLE SERVER, cordonServer, [DRYRUN] DEALLOCATE DATABASES FROM SERVER[S],
DROP SERVER. Pure: each builder returns a Statement; run.py sends it.

The words quoted are the Operations Manual's (neo4j/docs-operations, branches 5.x and dev: clustering/
servers.adoc, clustering/databases.adoc, reference/procedures.adoc).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import queries as q
from ..shared.versions import Version
from .plan import SYSTEM, ScalingRefusedError

SECRET_PARAMS = ("password",)
# Server ids are UUIDs and our server names host names; anything else is refused rather than quoted.
_SAFE_LITERAL = re.compile(r"^[A-Za-z0-9._:-]+$")


@dataclass(frozen=True)
class Statement:
    """One administration command and its parameters, sent to `system` as a write (the routing driver takes it
    to the system database's writer) and filed under its own text in recordings."""
    cypher: str
    params: dict[str, Any] = field(default_factory=dict)
    ran: bool = True  # False: a dry run only printed it

    @property
    def named(self) -> q.Named:
        return q.Named.built(self.cypher, SYSTEM)

    @property
    def shown_params(self) -> dict[str, Any]:
        """The parameters as printed and reported: a password (a remote alias's) never, only that one is sent."""
        return {k: ("[secret]" if k in SECRET_PARAMS else v) for k, v in self.params.items()}

    def text(self) -> str:
        shown = f"  // {self.shown_params}" if self.params else ""
        return f"{self.cypher};{shown}"

    def to_json(self) -> dict[str, Any]:
        return {"cypher": self.cypher, "params": self.shown_params, "ran": self.ran}


def literal(value: str) -> str:
    """A server id or name as a Cypher string literal. The administration commands take them as literals
    (servers.adoc: "ENABLE SERVER 'serverId'", "DROP SERVER 'server name'")."""
    if not _SAFE_LITERAL.match(value):
        raise ScalingRefusedError(f"server {value!r}: not an id or name this tool writes into a statement")
    return f"'{value}'"


def topology_statement(version: Version, database: str, primaries: int, secondaries: int) -> Statement:
    """databases.adoc, "Alter database topology": `ALTER DATABASE foo SET TOPOLOGY 2 PRIMARIES 1 SECONDARY`;
    "starting from 5.26, you can use parameters": `ALTER DATABASE $dbname SET TOPOLOGY $primary PRIMARIES
    $secondary SECONDARIES`."""
    if version.line is not None and version.line.topology_parameters(version):
        return Statement("ALTER DATABASE $dbname SET TOPOLOGY $primary PRIMARIES $secondary SECONDARIES",
                         {"dbname": database, "primary": primaries, "secondary": secondaries})
    return Statement(f"ALTER DATABASE {q.quote_name(database)} SET TOPOLOGY {primaries} PRIMARIES "
                     f"{secondaries} SECONDARIES")


def enable_statement(server_id: str) -> Statement:
    """servers.adoc, "Enabled state": `ENABLE SERVER 'serverId'`; without OPTIONS "the default server's
    values are taken from the settings" (initial.server.mode_constraint, which our neo4j.conf sets per role);
    "If the server is already enabled and the command is executed with the same options, nothing is
    changed"."""
    return Statement(f"ENABLE SERVER {literal(server_id)}")


def cordon_statement(server_id: str) -> Statement:
    """servers.adoc, "Cordoned state": "A server in a _cordoned_ state cannot be assigned to host any newly
    created databases; however, the server retains the databases it already hosts", run as
    `CALL dbms.cluster.cordonServer('…')` (built-in-procedures.adoc: "The name or id of the server to be
    cordoned"); "A server in the _cordoned_ state can be transitioned to _deallocating_ state or back to
    _enabled_"."""
    return Statement("CALL dbms.cluster.cordonServer($server)", {"server": server_id})


def deallocate_statement(server_ids: Sequence[str], *, dry_run: bool) -> Statement:
    """servers.adoc: `DEALLOCATE DATABASE[S] FROM SERVER[S] 'name'[, ...]`; "The command can be used with
    `DRYRUN` to get a view of how the databases would be moved from the deallocated server(s)"."""
    servers = ", ".join(literal(s) for s in server_ids)
    noun = "SERVERS" if len(server_ids) > 1 else "SERVER"
    return Statement(f"{'DRYRUN ' if dry_run else ''}DEALLOCATE DATABASES FROM {noun} {servers}")


def drop_statement(server_id: str) -> Statement:
    """servers.adoc, "Dropping a server": "Either the server ID or its name can be used":
    `DROP SERVER '135ad202-…'`."""
    return Statement(f"DROP SERVER {literal(server_id)}")
