"""What a Neo4j server exports, per version line: the Prometheus names of its metrics and the servers'
metrics filter that lets them through.

Metric names (Neo4j Operations Manual, "Metrics reference" for 4.4, 5.x and 2025.x; the
Prometheus endpoint replaces dots with underscores and appends `_total` to counters):

  series (5.x / 2025.x)                                   4.4 (namespaces on | off)
  neo4j_dbms_page_cache_hits_total                        neo4j_dbms_page_cache_hits_total | neo4j_page_cache_hits_total
  neo4j_dbms_page_cache_page_faults_total                 same pattern
  neo4j_dbms_vm_gc_time_<collector>_total   (ms)          same pattern
  neo4j_database_<db>_transaction_active                  ..._database_<db>_... | neo4j_<db>_transaction_active
  neo4j_database_<db>_transaction_last_committed_tx_id_total   same pattern
  neo4j_database_<db>_cluster_raft_is_leader              neo4j_[database_]<db>_causal_clustering_core_is_leader

The database name is part of the metric name, so rules select with `{__name__=~"..."}` and move
the name into a `database` label with label_replace (components/monitoring/queries.py). 4.4 accepts
both values of `metrics.namespaces.enabled`; 5.x always namespaces.

METRICS_FILTER, the servers' `metrics.filter`, lives here next to the names the rules and panels read.
"""
from __future__ import annotations

from dataclasses import dataclass

VERSION_LINES = ("4.4", "5", "2025")


def check_version_line(version_line: str) -> None:
    if version_line not in VERSION_LINES:
        raise ValueError(f"version_line must be one of {VERSION_LINES}, got {version_line!r}")


@dataclass(frozen=True)
class Neo4jMetricNames:
    """Regex fragments for the Prometheus names of one version line (Prometheus anchors them)."""
    global_prefix: str  # before a DBMS-wide metric
    database_prefix: str  # before <db>_<metric>
    is_leader: str  # per-database raft leadership gauge, after <db>_

    def global_metric(self, suffix: str) -> str:
        return f"{self.global_prefix}{suffix}"

    def database_metric(self, suffix: str) -> str:
        """Regex with one capture group: the database name."""
        return f"{self.database_prefix}(.+)_{suffix}"


METRIC_NAMES = {
    # metrics.namespaces.enabled=false (4.4 default): neo4j.<db>.x / neo4j.x; true: neo4j.database.<db>.x / neo4j.dbms.x
    "4.4": Neo4jMetricNames("neo4j_(?:dbms_)?", "neo4j_(?:database_)?", "causal_clustering_core_is_leader"),
    # 5.x: "<prefix>.cluster.raft.is_leader" (Metrics reference, Raft metrics). `cluster.core.is_leader`
    # only ever appeared in a wrong default of server.metrics.filter on the settings page (corrected in
    # neo4j/docs-operations#1340): no server exports it, and the filter below does not let it through.
    "5": Neo4jMetricNames("neo4j_dbms_", "neo4j_database_", "cluster_raft_is_leader"),
    "2025": Neo4jMetricNames("neo4j_dbms_", "neo4j_database_", "cluster_raft_is_leader"),
}

# The servers' metrics filter: 4.4 `metrics.filter`, 5.x/2025.x `server.metrics.filter`, written into
# neo4j.conf by components/render.py. Operations Manual, Configuration settings: "Specifies which
# metrics should be enabled by using a comma separated list of globbing patterns. Only the metrics
# matching the filter will be enabled." The patterns match Neo4j's dotted names, prefix included
# (`neo4j.database.neo4j.cluster.raft.is_leader`; 4.4 without namespaces
# `neo4j.neo4j.causal_clustering.core.is_leader`), before the Prometheus endpoint turns dots into
# underscores. Setting the filter replaces Neo4j's default list, so this is the everyday part of
# that default plus every series the alert rules and the dashboard read
# (tests/unit/test_monitoring_render.py checks each one).
_GENERAL_METRICS = (
    "*check_point.*", "*transaction.active*", "*transaction.committed*", "*transaction.last_committed_tx_id",
    "*transaction.rollbacks*", "*page_cache.hit*", "*page_cache.page_faults", "*page_cache.usage_ratio",
    "*vm.gc.time.*", "*vm.heap.used", "*vm.pause_time", "*vm.thread*", "*store.size*", "*db.query.execution*",
)
METRICS_FILTER = {
    "4.4": ("*bolt.connections*", "*causal_clustering.core.is_leader", "*causal_clustering.core.commit_index",
            "*causal_clustering.core.append_index", "*causal_clustering.core.applied_index",
            "*causal_clustering.read_replica.pull_update_highest_tx_id_received", *_GENERAL_METRICS),
    "5": ("*bolt.connections*", "*cluster.raft.is_leader", "*cluster.raft.commit_index", "*cluster.raft.append_index",
          "*cluster.raft.applied_index", "*cluster.raft.last_leader_message", *_GENERAL_METRICS),
}
METRICS_FILTER["2025"] = METRICS_FILTER["5"]


def metrics_filter(version_line: str) -> str:
    """The value of (server.)metrics.filter in neo4j.conf."""
    check_version_line(version_line)
    return ",".join(METRICS_FILTER[version_line])
