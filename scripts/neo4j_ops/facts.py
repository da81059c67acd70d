"""Who a server is, as every command asks it over Bolt: where it is (ServerSpec) and what it said (ServerFacts).

`gather(spec, transport, auth, timeout)` asks one server who it is (dbms.components), what it hosts
(SHOW DATABASES) and, on Enterprise, how it sees the cluster (the line's cluster view: SHOW SERVERS,
or dbms.cluster.overview() on 4.4). check and diagnose read the databases and the cluster view;
backup and restore the version, edition, member count and `count_graph` of one database (of `system`, which
refuses MATCH, what it holds: SystemCounts, read with statements it accepts).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from . import queries as q
from .bolt import TIMEOUT, Auth, BoltError, Client, Transport, address_of, statement_runner
from .parallel import TaskTimeoutError, run_all
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


SYSTEM = "system"


@dataclass(frozen=True)
class Counts:
    """What a standard database holds (a backup manifest's "counts", compared after a restore)."""
    nodes: int
    relationships: int

    def __str__(self) -> str:
        return f"{self.nodes} nodes, {self.relationships} relationships"

    def to_json(self) -> dict[str, int]:
        return {"nodes": self.nodes, "relationships": self.relationships}


@dataclass(frozen=True)
class SystemCounts:
    """What `system` holds, read with statements it accepts (it refuses MATCH on every line): its users, its
    databases (each once, however many servers host it) and, on Enterprise, its roles (None on Community,
    which has none to count). Compared after a restore as Counts are: equal or not."""
    users: int
    databases: int
    roles: int | None = None

    def __str__(self) -> str:
        roles = [] if self.roles is None else [f"{self.roles} roles"]
        return ", ".join([f"{self.users} users", *roles, f"{self.databases} databases"])

    def to_json(self) -> dict[str, int]:
        shown = {"users": self.users, "databases": self.databases}
        if self.roles is not None:
            shown["roles"] = self.roles
        return shown


def counts_from_json(document: Any) -> Counts | SystemCounts:
    """A manifest's "counts" back: {"nodes", "relationships"} of a standard database, {"users", "databases"
    [, "roles"]} of `system`. ValueError saying which key is missing or not a whole number."""
    if not isinstance(document, dict):
        raise ValueError(f"'counts' is {type(document).__name__}, not an object")
    system = "users" in document
    keys = ("users", "databases", "roles") if system else ("nodes", "relationships")
    values: dict[str, int] = {}
    for key in keys:
        value = document.get(key)
        if value is None and key == "roles":
            continue
        if key not in document:
            raise ValueError(f"'counts' has no {key!r}")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"'counts' {key!r} is {type(value).__name__}, not int")
        values[key] = value
    return SystemCounts(**values) if system else Counts(**values)


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
    counts: Counts | SystemCounts | None = None  # of one database, when asked (backup, restore)

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
    """Who the server is (dbms.components, then the cluster view its line has) and, at the same time, what it
    hosts (SHOW DATABASES): two sessions at once on the server's one driver, so a round takes the longer of the
    two, not their sum (a freshly started server answers each only seconds after its default database is up).
    An error of the first is the one reported, as when they were asked one after the other. The login comes first,
    alone: a wrong password costs one failed attempt, as it did, not one per session (Neo4j locks the user out
    after dbms.security.auth_max_failed_attempts, default 3, for dbms.security.auth_lock_time, default 5 s)."""
    facts = ServerFacts(spec)
    start = time.monotonic()
    client = transport.client(spec.uri, auth)
    try:
        client.verify()
    except BoltError as error:
        facts.error = error
        facts.seconds = time.monotonic() - start
        return facts

    def identity() -> ServerFacts:  # its own ServerFacts: a task abandoned at its deadline changes nothing here
        found = ServerFacts(spec)
        component = next((r for r in client.run(q.COMPONENTS.name, q.COMPONENTS.cypher, timeout=timeout).records
                          if r.get("name") == "Neo4j Kernel"), None)
        if component:
            found.version = (component.get("versions") or [None])[0]
            found.edition = component.get("edition")
        if found.enterprise:
            try:
                view = q.cluster_view(found.line)
                rows = client.run(view.name, view.cypher, database=view.database, timeout=timeout).records
                if found.line.supports_show_servers:
                    found.servers = rows
                else:
                    found.overview = rows
            except BoltError as error:
                found.cluster_view_error = error
        return found

    def databases() -> list[dict[str, Any]]:
        return client.run(q.SHOW_DATABASES.name, q.SHOW_DATABASES.cypher, database=q.SHOW_DATABASES.database,
                          timeout=timeout).records

    # the bound every caller that runs gather on a thread gives it (check, check --wait, the rollout's gates)
    outcomes = run_all({"identity": identity, "databases": databases}, 4 * timeout + 1)
    for outcome in outcomes.values():  # identity first: its error is the one reported
        if isinstance(outcome.error, TaskTimeoutError):
            facts.error = BoltError(TIMEOUT, f"{spec.name} did not answer within {outcome.error.seconds:g} s")
            break
        if outcome.error is not None and not isinstance(outcome.error, BoltError):
            raise outcome.error  # a bug, not an answer: raised as before
        if outcome.error is not None:
            facts.error = outcome.error
            break
    who = outcomes["identity"]
    if who.ok:
        facts.version, facts.edition = who.value.version, who.value.edition
    if facts.error is None:  # a failed server's facts say who it is at most, as before: no half answer
        facts.databases = outcomes["databases"].value
        facts.servers, facts.overview = who.value.servers, who.value.overview
        facts.cluster_view_error = who.value.cluster_view_error
    facts.seconds = time.monotonic() - start
    return facts


def count_graph(client: Client, database: str, timeout: float, *,
                enterprise: bool | None = None) -> Counts | SystemCounts:
    """What `database` holds (count_database), asked over one Bolt client."""
    return count_database(statement_runner(client, timeout), database, enterprise=enterprise)


def count_database(run: q.Run, database: str, *, enterprise: bool | None = None) -> Counts | SystemCounts:
    """Nodes and relationships of a standard database, from the count store (constant time whatever the size);
    of `system`, which refuses MATCH, its users, databases and roles (count_system)."""
    if is_system(database):
        return count_system(run, enterprise=enterprise)
    nodes, relationships = (run(replace(named, database=database), None)
                            for named in (q.COUNT_NODES, q.COUNT_RELATIONSHIPS))
    return Counts(int(nodes[0]["count"]), int(relationships[0]["count"]))


def count_system(run: q.Run, *, enterprise: bool | None = None) -> SystemCounts:
    """Users and databases of `system` and, on Enterprise, its roles (Community refuses SHOW ROLES as an
    "Unsupported administration command"). `enterprise` None: dbms.components() says."""
    if enterprise is None:
        enterprise = any(row.get("name") == "Neo4j Kernel" and str(row.get("edition") or "").lower() == "enterprise"
                         for row in run(q.COMPONENTS, None))

    def count(named: q.Named) -> int:
        return int(run(named, None)[0]["count"])

    return SystemCounts(users=count(q.COUNT_USERS), databases=count(q.COUNT_DATABASES),
                        roles=count(q.COUNT_ROLES) if enterprise else None)


def is_system(database: str) -> bool:
    return database.lower() == SYSTEM  # database names are case-insensitive
