"""Every Cypher statement the tools send, by name.

The name is what recorded responses are filed under (tests/fixtures/enterprise/*/scenario.json);
statements built at run time (GRANT … TO `role`) are filed under their own text.
Where a line needs another statement (4.4: dbms.cluster.overview, dbms.listQueries, SHOW DATABASES
without writer), the choice is made by asking its VersionLine (versions.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .shared.versions import VersionLine

PROBE_LABEL = "NeoClusterCheckProbe"


@dataclass(frozen=True)
class Named:
    name: str
    cypher: str
    database: str | None = None  # None: the user's home database
    write: bool = False  # sent in a write transaction (the routing driver takes it to the database's writer)

    @classmethod
    def built(cls, cypher: str, database: str | None, *, write: bool = True) -> Named:
        """A statement built at run time (a name or a count in it): filed under its own text in recordings."""
        return cls(cypher, cypher, database, write)


# The one way commands send Cypher: `run(statement, params)` → records as plain dicts. bolt.statement_runner
# makes one over a Bolt client; tests pass their own.
Run = Callable[[Named, "dict[str, Any] | None"], "list[dict[str, Any]]"]


COMPONENTS = Named("components", "CALL dbms.components() YIELD name, versions, edition "
                                 "RETURN name, versions, edition")
# One row per database per hosting server, as this server sees the cluster, with each copy's
# lastCommittedTxn and replicationLag (5.x: writer true/false; 4.4: role leader/follower/read_replica).
SHOW_DATABASES = Named("show_databases", "SHOW DATABASES YIELD *", "system")
# Polled on a copy that is behind until it reaches its writer's transaction.
SHOW_DATABASE_LAG = Named("show_database_lag",
                          "SHOW DATABASE $database YIELD name, address, role, writer, lastCommittedTxn, replicationLag",
                          "system")
# 4.4 has no writer column. The 4.4 Operations Manual (neo4j/docs-operations, branch 4.4,
# modules/ROOT/pages/clustering/deploy.adoc, "Detach a Secondary server"): "Use `SHOW DATABASE`
# to see where the different members of the cluster are in terms of committed transactions
# compared to the leader.", with `SHOW DATABASE test00 YIELD
# name,serverID,address,role,lastCommittedTxn,replicationLag`. The same columns, with the name
# compared in WHERE: 4.4's manual documents no parameter for the name in SHOW DATABASE.
SHOW_DATABASE_LAG_44 = Named("show_database_lag",
                             "SHOW DATABASES YIELD name, serverID, address, role, lastCommittedTxn, replicationLag "
                             "WHERE name = $database",
                             "system")
SHOW_SERVERS = Named("show_servers", "SHOW SERVERS YIELD *", "system")  # 5.x+ enterprise
# The cluster's own replication health (5.24+ Enterprise; Operations Manual 5.x,
# clustering/monitoring/status-check.adoc: "CALL dbms.cluster.statusCheck(databases :: LIST<STRING>,
# timeoutMilliseconds = null :: INTEGER)"; "Providing an empty list runs the status check for all *clustered*
# databases on that server"). One row per primary member.
CLUSTER_STATUS_CHECK = Named("cluster_status_check",
                             "CALL dbms.cluster.statusCheck([]) YIELD database, serverName, address, "
                             "replicationSuccessful, memberStatus, error "
                             "RETURN database, serverName, address, replicationSuccessful, memberStatus, error",
                             "system")
# 5.x: which discovery service the server runs (5.x clustering/setup/discovery.adoc; 2025.01 removed v1 and ignores
# the setting). No row where the server does not know the setting.
DISCOVERY_VERSION = Named("discovery_version", "SHOW SETTINGS YIELD name, value "
                                               "WHERE name = 'dbms.cluster.discovery.version' RETURN name, value",
                          "system")
# Moving a leader's databases away before its rollout step (rollout/leadership.py): the cluster "transfers database
# leaderships away from instances where those databases are configured to be read-only using server.databases.read_only"
# (4.4: dbms.databases.read_only), a dynamic setting set on one server: "In a clustered environment,
# `dbms.setConfigValue` affects only the cluster member it is run against" (Enterprise). The setting's value first, so
# the list the server had is kept and set back.
READ_ONLY_SETTING = Named("read_only_setting", "SHOW SETTINGS YIELD name, value "
                                               "WHERE name = 'server.databases.read_only' RETURN name, value", "system")
READ_ONLY_SETTING_44 = Named("read_only_setting", "CALL dbms.listConfig('dbms.databases.read_only') YIELD name, value "
                                                  "RETURN name, value", "system")
SET_CONFIG_VALUE = Named("set_config_value", "CALL dbms.setConfigValue($setting, $value)", "system")
CLUSTER_OVERVIEW = Named("cluster_overview", "CALL dbms.cluster.overview() YIELD id, addresses, databases, groups "
                                             "RETURN id, addresses, databases, groups")  # 4.4 enterprise

# Counts from the count store: constant time whatever the size (backup manifests, restore checks). Standard
# databases only: `system` refuses MATCH on every line ("The following unsupported clauses were used: MATCH."),
# its facts are the block below.
COUNT_NODES = Named("count_nodes", "MATCH (n) RETURN count(n) AS count")
COUNT_RELATIONSHIPS = Named("count_relationships", "MATCH ()-[r]->() RETURN count(r) AS count")

# system facts: what `system` holds, read with statements it accepts (facts.count_system). Real Community servers
# of 4.4.46, 5.26.30 and 2025.10.1 answer COUNT_USERS and COUNT_DATABASES (4.4's SHOW USERS takes YIELD and RETURN
# too); they refuse COUNT_ROLES as an "Unsupported administration command" (roles are Enterprise's).
# SHOW DATABASES lists a database once per hosting server in a cluster: DISTINCT counts each once.
COUNT_USERS = Named("count_users", "SHOW USERS YIELD user RETURN count(user) AS count", "system")
COUNT_ROLES = Named("count_roles", "SHOW ROLES YIELD role RETURN count(role) AS count", "system")  # enterprise
COUNT_DATABASES = Named("count_databases", "SHOW DATABASES YIELD name RETURN count(DISTINCT name) AS count", "system")

SHOW_USERS = Named("show_users", "SHOW USERS", "system")
SHOW_ROLES = Named("show_roles", "SHOW ROLES YIELD role RETURN role", "system")  # enterprise
SHOW_ROLE_PRIVILEGES = Named("show_role_privileges", "SHOW ROLE $role PRIVILEGES AS COMMANDS", "system")
# neo4j:plugins (components/plugins.py): each plugin's version function, on the user's home database (`system` runs
# no function). `check` sends it to every server the plugin runs on; by the plugin's key.
APOC_VERSION = Named("apoc_version", "RETURN apoc.version() AS version")
GDS_VERSION = Named("gds_version", "RETURN gds.version() AS version")
PLUGIN_VERSIONS = {"apoc": APOC_VERSION, "apoc-core": APOC_VERSION, "graph-data-science": GDS_VERSION}

PROBE_WRITE = Named("probe_write", f"CREATE (p:{PROBE_LABEL} {{id: $id, at: datetime(), via: $via}}) "
                                   "RETURN p.id AS id")
PROBE_READ = Named("probe_read", f"MATCH (p:{PROBE_LABEL} {{id: $id}}) RETURN count(p) AS found")
# Also sweeps probes that an interrupted run left behind.
PROBE_DELETE = Named("probe_delete", f"MATCH (p:{PROBE_LABEL}) WHERE p.id = $id "
                                     "OR p.at < datetime() - duration('PT1H') DELETE p RETURN count(*) AS deleted")

# The failover drill's write load (drill/load.py): one small write per tick through the entry point, to the default
# database (the database is set at run time), each a node of its run with its sequence number. DRILL_COUNT asks a
# server directly how many of the run's writes it holds (the stopped server is caught up when it holds every one the
# load saw acknowledged); DRILL_CLEANUP deletes the run's nodes and any a drill interrupted a day ago left behind.
DRILL_LABEL = "NeoClusterDrillWrite"
DRILL_WRITE = Named("drill_write", f"CREATE (w:{DRILL_LABEL} {{run: $run, seq: $seq, at: datetime()}}) "
                                   "RETURN w.seq AS seq", write=True)
DRILL_COUNT = Named("drill_count", f"MATCH (w:{DRILL_LABEL} {{run: $run}}) RETURN count(w) AS count")
DRILL_CLEANUP = Named("drill_cleanup", f"MATCH (w:{DRILL_LABEL}) WHERE w.run = $run "
                                       "OR w.at < datetime() - duration('P1D') DELETE w RETURN count(*) AS deleted",
                      write=True)

SHOW_TRANSACTIONS = Named(
    "show_transactions",
    "SHOW TRANSACTIONS YIELD database, transactionId, currentQueryId, username, clientAddress, currentQuery, "
    "status, elapsedTime, idleTime, activeLockCount, estimatedUsedHeapMemory, pageHits, pageFaults "
    "RETURN *")  # 5.x: the transactions of the server it runs on
LIST_QUERIES = Named(
    "list_queries",
    "CALL dbms.listQueries() YIELD queryId, transactionId, username, query, elapsedTimeMillis, status, "
    "activeLockCount, database RETURN *")  # 4.4
LIST_TRANSACTIONS = Named(
    "list_transactions",
    "CALL dbms.listTransactions() YIELD transactionId, username, currentQuery, elapsedTimeMillis, status, "
    "activeLockCount, database RETURN *")  # 4.4
JMX_HEAP = Named("jmx_heap", "CALL dbms.queryJmx('java.lang:type=Memory') YIELD attributes "
                             "RETURN attributes.HeapMemoryUsage.value.properties AS heap")
MEMORY_SETTINGS = Named("memory_settings", "SHOW SETTINGS YIELD name, value WHERE name STARTS WITH 'server.memory.' "
                                           "RETURN name, value")
MEMORY_SETTINGS_44 = Named("memory_settings",
                           "CALL dbms.listConfig('dbms.memory.') YIELD name, value RETURN name, value")


def show_database_lag(line: VersionLine) -> Named:
    return SHOW_DATABASE_LAG if line.supports_writer_column else SHOW_DATABASE_LAG_44


def memory_settings(line: VersionLine) -> Named:
    return MEMORY_SETTINGS if line.supports_show_settings else MEMORY_SETTINGS_44


def read_only_setting(line: VersionLine) -> Named:
    return READ_ONLY_SETTING if line.supports_show_settings else READ_ONLY_SETTING_44


def read_only_setting_name(line: VersionLine) -> str:
    return "server.databases.read_only" if line.supports_show_settings else "dbms.databases.read_only"


def cluster_view(line: VersionLine) -> Named:
    """How a server lists the cluster's members: SHOW SERVERS, or 4.4's dbms.cluster.overview()."""
    return SHOW_SERVERS if line.supports_show_servers else CLUSTER_OVERVIEW


def quote_name(name: str) -> str:
    """A role or user name as a Cypher identifier: `name` (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


# scaling (scaling/run.py; its administration commands are built at run time: Named.built(…, "system"))
# Which servers the cluster has, asked once before deciding the direction (scaling/command.py).
LIST_SERVERS = Named("list_servers", "SHOW SERVERS YIELD serverId, name, address, state", "system")
LIST_MEMBERS = Named("list_members", "CALL dbms.cluster.overview() YIELD addresses RETURN addresses", "system")  # 4.4
# Scaling asks every question of `system`, the one database every member hosts whatever its allocations.
CLUSTER_OVERVIEW_ON_SYSTEM = Named(CLUSTER_OVERVIEW.name, CLUSTER_OVERVIEW.cypher, "system")  # 4.4


# cluster restore (backup/cluster_execute.py; its administration commands and the SHOW DATABASE of the restored
# copy name a database, so they are built at run time: Named.built(…, "system")). What the name clients use is:
# a local alias of which database (then SHOW_DATABASES above: where each database is hosted, the default one).
SHOW_ALIASES = Named("show_aliases", "SHOW ALIASES FOR DATABASE YIELD name, database, location", "system")


# standard databases (databases/: scripts/databases.py): neo4j:databases created where missing, their topology
# corrected. The name and counts are written into the statement (built at run time: Named.built(…, "system"), filed
# under its own text); the ALTER is scaling's (scaling/statements.py topology_statement).
def create_database(name: str, *, primaries: int | None = None, secondaries: int | None = None,
                    seed_uri: str = "", wait: bool = False) -> str:
    """5.x/2025 create-databases.adoc: `CREATE DATABASE name [IF NOT EXISTS] [TOPOLOGY n PRIMAR{Y|IES}
    [m SECONDAR{Y|IES}]] [OPTIONS "{" option: value[, ...] "}"] [WAIT [n [SEC[OND[S]]]]|NOWAIT]`; seed-from-uri.adoc:
    `CREATE DATABASE foo OPTIONS {existingData: 'use', seedURI:'s3://myBucket/myBackup.backup'}` ("The
    `existingData` option is required in Cypher 5 and deprecated in Cypher 25"). 4.4 (no topology, no seed):
    primaries None."""
    parts = [f"CREATE DATABASE {quote_name(name)} IF NOT EXISTS"]
    if primaries is not None:
        parts.append(f"TOPOLOGY {primaries} {'PRIMARY' if primaries == 1 else 'PRIMARIES'}"
                     + f" {secondaries or 0} {'SECONDARY' if secondaries == 1 else 'SECONDARIES'}")
    if seed_uri:
        if "'" in seed_uri or "\\" in seed_uri:
            raise ValueError(f"seed URI {seed_uri!r}: quotes and backslashes are not written into a statement")
        parts.append(f"OPTIONS {{existingData: 'use', seedURI: '{seed_uri}'}}")
    if wait:
        parts.append("WAIT")
    return " ".join(parts)


# composite databases and their aliases (databases/composites.py), 5.x and 2025 Enterprise. Every alias of this
# cluster with its composite and target (manage-aliases-composite-databases.adoc: `SHOW ALIASES FOR DATABASE` with
# columns name "library.romance", composite "library", database, location "local"/"remote", url, user).
SHOW_ALIAS_TARGETS = Named("show_alias_targets",
                           "SHOW ALIASES FOR DATABASE YIELD name, composite, database, location, url, user", "system")


def _alias(composite: str, alias: str) -> str:
    """manage-aliases-composite-databases.adoc: "CREATE ALIAS `library`.`sci-fi` FOR DATABASE `sci-fi-books`"."""
    return f"{quote_name(composite)}.{quote_name(alias)}"


def _remote(url: str, user: str, ssl_enforced: bool) -> str:
    """` AT 'url' USER user PASSWORD $password` (the password a Bolt parameter: never in a statement's text, a
    recording or --dry-run's output); remote-database-alias-configuration.adoc: "By default, remote aliases require a
    secured URI scheme such as `neo4j+s`. This can be disabled by setting the driver setting `ssl_enforced` to
    `false`"."""
    if "'" in url or "\\" in url:
        raise ValueError(f"alias URI {url!r}: quotes and backslashes are not written into a statement")
    return (f" AT '{url}' USER {quote_name(user)} PASSWORD $password"
            + ("" if ssl_enforced else " DRIVER {ssl_enforced: false}"))


def create_composite(name: str) -> str:
    """create-composite-databases.adoc: `CREATE COMPOSITE DATABASE inventory IF NOT EXISTS`."""
    return f"CREATE COMPOSITE DATABASE {quote_name(name)} IF NOT EXISTS"


def create_alias(composite: str, alias: str, database: str, *, url: str = "", user: str = "",
                 ssl_enforced: bool = True) -> str:
    """manage-aliases-standard-databases.adoc: `CREATE ALIAS name [IF NOT EXISTS] FOR DATABASE targetName [AT 'url'
    USER username PASSWORD 'password' [DRIVER …]]`."""
    text = f"CREATE ALIAS {_alias(composite, alias)} IF NOT EXISTS FOR DATABASE {quote_name(database)}"
    return text + (_remote(url, user, ssl_enforced) if url else "")


def alter_alias(composite: str, alias: str, database: str, *, url: str = "", user: str = "",
                ssl_enforced: bool = True) -> str:
    """manage-aliases-standard-databases.adoc: "ALTER ALIAS `northwind` SET DATABASE TARGET `northwind-graph-2021`",
    remote: "ALTER ALIAS `remote-northwind` SET DATABASE TARGET `northwind-graph-2020` AT "neo4j+s://…"" and
    "SET DATABASE USER bob PASSWORD '…'"."""
    text = f"ALTER ALIAS {_alias(composite, alias)} SET DATABASE TARGET {quote_name(database)}"
    return text + (_remote(url, user, ssl_enforced) if url else "")


def alias_probe(composite: str, alias: str) -> Named:
    """Whether an alias of a composite database answers (checks/composites.py): sent to the composite, a read.
    querying-composite-databases.adoc: "USE cineasts.latest" selects that constituent graph."""
    return Named.built(f"USE {_alias(composite, alias)} RETURN 1 AS ok", composite, write=False)
