"""Plugins a Neo4j line ships in its own package, and where each may run: pure data and pure functions.

Installed at boot from the package's own directories, never downloaded: the Operations Manual,
"Configure plugins" (neo4j/docs-operations, configuration/plugins.adoc), each line:
- 4.4: "The JAR files for these products are located in the _product_ and _labs_ folders and can be installed
  as plugins." and ". Move or copy the plugins (_.jar files_) from _<NEO4J_HOME>/products_ and
  _<NEO4J_HOME>/labs_ to the _<NEO4J_HOME>/plugins_ directory."
- 5.x: "Both Neo4j Community Edition (CE) and Enterprise Edition (EE) come with a range of pre-installed
  products, such as Gen AI, Graph Data Science, and Fleet management in the _products_ directory and the APOC
  Core jar file in the _labs_ directory."
- dev (2025): "Both Neo4j Community Edition (CE) and Enterprise Edition (EE) come with a range of pre-installed
  products, such as Gen AI, Bloom, and Graph Data Science in the _products_ directory, and the APOC Core jar
  file in the _labs_ directory." and "Fleet management is also included in the _products_ directory in
  versions Neo4j 4.4.45+, 5.26.12+, and versions between 2025.08.0 and 2026.02.2 inclusive."

The file names are the official image's (neo4j/docker-neo4j, docker-image-src/<4.4|5|calver>/coredb/
neo4j-plugins.json, "location"), which copies the same jars from /var/lib/neo4j/labs and products. The keys
are the manual's "Key" column, which is also what the image's NEO4J_PLUGINS takes. Bloom is left out: it
needs a licence file and an unmanaged extension of its own, and nothing here asks for it.

Where GDS runs follows the GDS manual, "GDS with Neo4j cluster" (neo4j/graph-data-science,
doc/modules/ROOT/pages/production-deployment/neo4j-cluster.adoc, branches 2.13 to 2026.03): see
`GDS_CLUSTER_RULE` and `plugin_servers`.
"""
from __future__ import annotations

from dataclasses import dataclass

from scripts.neo4j_ops.shared.versions import Version

APOC_CORE = "apoc"
GDS = "graph-data-science"


@dataclass(frozen=True)
class Plugin:
    key: str  # the manual's Key column, the image's NEO4J_PLUGINS name
    title: str
    directory: str  # "labs" | "products", under NEO4J_HOME (the Debian package's /var/lib/neo4j)
    jar_glob: str  # the one jar of it the package ships there
    namespaces: tuple[str, ...]  # procedure and function namespaces: dbms.security.procedures.unrestricted/allowlist
    everywhere: bool = True  # every server; False: GDS, on the servers `plugin_servers` picks

    @property
    def path_glob(self) -> str:
        return f"{self.directory}/{self.jar_glob}"


_APOC = dict(title="APOC Core", directory="labs", jar_glob="apoc-*-core.jar", namespaces=("apoc.*",))
_GDS = Plugin(GDS, "Graph Data Science", "products", "neo4j-graph-data-science-*.jar", ("gds.*",), everywhere=False)
_GENAI = Plugin("genai", "GenAI", "products", "neo4j-genai-plugin-*.jar", ("genai.*",))
# "Starting with Neo4j 2025.11, GenAI procedures, available in Cypher 25, have the new prefix `ai.*`." (dev)
_GENAI_2025_11 = Plugin("genai", "GenAI", "products", "neo4j-genai-plugin-*.jar", ("genai.*", "ai.*"))
_FLEET = Plugin("fleet-management", "Fleet management", "products", "neo4j-fleet-management-*.jar",
                ("fleetManagement.*",))

# 4.4's manual names APOC Core `apoc-core` (its `apoc` is the full library, downloaded, not shipped).
APOC_KEY = {"4.4": "apoc-core", "5": APOC_CORE, "2025": APOC_CORE}


def shipped_plugins(version: str, line: str) -> dict[str, Plugin]:
    """The plugins the package of `version` (of `line`) ships in labs/ and products/, by key."""
    v = Version.parse(version)
    plugins = [Plugin(APOC_KEY[line], **_APOC), _GDS]
    if line != "4.4":
        plugins.append(_GENAI_2025_11 if v >= Version(2025, 11, 0) else _GENAI)
    fleet_since = {"4.4": Version(4, 4, 45), "5": Version(5, 26, 12), "2025": Version(2025, 8, 0)}[line]
    if fleet_since <= v < Version(2026, 3, 0):
        plugins.append(_FLEET)
    return {p.key: p for p in plugins}


# The GDS manual, "GDS with Neo4j cluster", quoted by the tests and the refusal:
GDS_CLUSTER_RULE = {
    "4.4": "The cluster must contain at least one _Read Replica_ instance",
    "5": "The cluster must contain at least one _Secondary_ machine",
    "2025": "The cluster must contain at least one _Secondary_ machine",
}
GDS_NOT_ON_PRIMARIES = ("Since GDS performs large computations with the full resources of the system it is not "
                        "suitable to run on instances that serve the transactional workload of the cluster.")
GDS_LICENSE_ON_SECONDARY = "A valid GDS Enterprise Edition license must be installed and configured on the"


def gds_server_names(core_count: int, replica_count: int) -> tuple[str, ...]:
    """Where GDS runs: the one server of a standalone stack; in a cluster one secondary, the last, dedicated to
    it ("GDS workloads are not load-balanced if there are more than one _Secondary_ instances", so one is all
    GDS uses); never a primary. A cluster without secondaries has none (settings refuse GDS there)."""
    if core_count == 1 and replica_count == 0:
        return ("core-1",)
    return (f"replica-{replica_count}",) if replica_count else ()


def plugin_servers(plugins: tuple[str, ...], version: str, line: str, core_count: int,
                   replica_count: int) -> dict[str, tuple[Plugin, ...]]:
    """Server name → the plugins installed on it, in the stack's order (every server listed, maybe with none)."""
    catalogue = shipped_plugins(version, line)
    names = [f"core-{i}" for i in range(1, core_count + 1)] + [f"replica-{i}" for i in range(1, replica_count + 1)]
    gds_on = set(gds_server_names(core_count, replica_count))
    return {name: tuple(catalogue[key] for key in plugins
                        if key in catalogue and (catalogue[key].everywhere or name in gds_on))
            for name in names}


def namespaces_of(plugins: tuple[Plugin, ...]) -> tuple[str, ...]:
    return tuple(ns for plugin in plugins for ns in plugin.namespaces)


def privilege_namespace(privilege: str) -> str | None:
    """`EXECUTE PROCEDURE gds.* ON DBMS` → "gds"; a privilege naming no procedure or function namespace → None."""
    words = privilege.split()
    for i, word in enumerate(words[:-1]):
        if word.upper() in ("PROCEDURE", "PROCEDURES", "FUNCTION", "FUNCTIONS") and i > 0:
            name = words[i + 1].split(",")[0]
            head = name.split(".")[0]
            return head if head and head != "*" else None
    return None


def missing_plugin_warnings(roles: tuple, plugins: tuple[str, ...], version: str, line: str) -> list[str]:
    """One line per role granted a namespace of a plugin the stack does not install (apoc.*, gds.*)."""
    shipped = shipped_plugins(version, line)
    installed = {ns.split(".")[0] for key in plugins if key in shipped for ns in shipped[key].namespaces}
    owners = {"apoc": APOC_KEY[line], "gds": GDS}
    warnings = []
    for role in roles:
        for privilege in role.privileges:
            namespace = privilege_namespace(privilege)
            if namespace in owners and namespace not in installed:
                warnings.append(f"WARNING: role {role.name} is granted {privilege!r}, but neo4j:plugins does not "
                                f"install {owners[namespace]}: the role can run none of {namespace}.* (add "
                                f"{owners[namespace]} to neo4j:plugins)")
    return warnings
