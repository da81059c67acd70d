"""Who a server is, as every command asks it over Bolt: where it is (ServerSpec) and what it said (ServerFacts).

`gather(spec, transport, auth, timeout)` asks one server who it is (dbms.components), what it hosts
(SHOW DATABASES) and, on Enterprise, how it sees the cluster (the line's cluster view: SHOW SERVERS,
or dbms.cluster.overview() on 4.4). check and diagnose read the databases and the cluster view;
backup and restore the version, edition, member count and `count_graph` of one database.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from . import queries as q
from .bolt import Auth, BoltError, Client, Transport, address_of
from .shared.versions import VersionLine, server_line


@dataclass(frozen=True)
class ServerSpec:
    name: str
    uri: str  # direct Bolt URI of this server
    role: str | None = None  # expected: "primary" | "secondary"; None = not known
    zone: str | None = None
    hostname: str | None = None
    private_ip: str | None = None

    @property
    def address(self) -> str:
        return address_of(self.uri)

    @property
    def aliases(self) -> frozenset[str]:
        """Every host:port this server may be reported under (advertised name, IP, the URI's host)."""
        port = self.address.rsplit(":", 1)[1]
        names = {self.address}
        for host in (self.hostname, self.private_ip):
            if host:
                names.add(f"{host}:{port}")
                names.add(f"{host}:7687")
        return frozenset(names)


@dataclass(frozen=True)
class Counts:
    nodes: int
    relationships: int

    def __str__(self) -> str:
        return f"{self.nodes} nodes, {self.relationships} relationships"


@dataclass
class ServerFacts:
    spec: ServerSpec
    error: BoltError | None = None
    version: str | None = None
    edition: str | None = None
    databases: list[dict[str, Any]] = field(default_factory=list)  # SHOW DATABASES rows, this server's view
    servers: list[dict[str, Any]] | None = None  # SHOW SERVERS rows (5.x+ enterprise)
    overview: list[dict[str, Any]] | None = None  # dbms.cluster.overview rows (4.4 enterprise)
    cluster_view_error: BoltError | None = None
    seconds: float = 0.0
    counts: Counts | None = None  # of one database, when asked (backup, restore)

    @property
    def reachable(self) -> bool:
        return self.error is None

    @property
    def line(self) -> VersionLine:
        return server_line(self.version)

    @property
    def enterprise(self) -> bool:
        return (self.edition or "").lower() == "enterprise"

    @property
    def members(self) -> int:
        """Servers of the cluster as this one lists them; 1 when standalone (or it lists none)."""
        rows = self.servers if self.servers is not None else self.overview
        return len(rows) if rows else 1

    def own_rows(self) -> list[dict[str, Any]]:
        """This server's rows about itself (the authoritative ones for its own role and status)."""
        return [row for row in self.databases if row.get("address") in self.spec.aliases]


def gather(spec: ServerSpec, transport: Transport, auth: Auth | None, timeout: float) -> ServerFacts:
    facts = ServerFacts(spec)
    start = time.monotonic()
    client = transport.client(spec.uri, auth)
    try:
        component = next((r for r in client.run(q.COMPONENTS.name, q.COMPONENTS.cypher, timeout=timeout).records
                          if r.get("name") == "Neo4j Kernel"), None)
        if component:
            facts.version = (component.get("versions") or [None])[0]
            facts.edition = component.get("edition")
        facts.databases = client.run(q.SHOW_DATABASES.name, q.SHOW_DATABASES.cypher,
                                     database=q.SHOW_DATABASES.database, timeout=timeout).records
        if facts.enterprise:
            try:
                view = q.cluster_view(facts.line)
                rows = client.run(view.name, view.cypher, database=view.database, timeout=timeout).records
                if facts.line.supports_show_servers:
                    facts.servers = rows
                else:
                    facts.overview = rows
            except BoltError as error:
                facts.cluster_view_error = error
    except BoltError as error:
        facts.error = error
    facts.seconds = time.monotonic() - start
    return facts


def count_graph(client: Client, database: str, timeout: float) -> Counts:
    """Nodes and relationships of `database`, from the count store (constant time whatever the size)."""
    nodes, relationships = (client.run(named.name, named.cypher, database=database, timeout=timeout).records
                            for named in (q.COUNT_NODES, q.COUNT_RELATIONSHIPS))
    return Counts(int(nodes[0]["count"]), int(relationships[0]["count"]))
