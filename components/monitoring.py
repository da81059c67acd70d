"""Prometheus + Grafana configuration for a Neo4j cluster: `render_monitoring(...)`.

Pure Python (no Pulumi): returns {relative path: text}. Every decision -- which series an alert
reads, its threshold, its `for:` -- is made here; the templates under templates/prometheus and
templates/grafana only lay the values out. The Grafana dashboard is built as a Python dict and
serialised with json.dumps (a JSON template would need comma/escaping logic in Jinja).

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
the name into a `database` label with label_replace. 4.4 accepts both values of
`metrics.namespaces.enabled`; 5.x always namespaces.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from components.templating import render_template

VERSION_LINES = ("4.4", "5", "2025")
ROLES = ("primary", "secondary")

JOB_NEO4J = "neo4j"
JOB_NODE = "node"
JOB_HAPROXY = "haproxy"
DATASOURCE_UID = "neo4j-prometheus"
RULE_FILES_GLOB = "rules/*.yml"  # relative to prometheus.yml: Prometheus resolves it against the config's directory

PROMETHEUS_CONFIG = "prometheus/prometheus.yml"
PROMETHEUS_RULES = "prometheus/rules/neo4j-alerts.yml"
GRAFANA_DATASOURCE = "grafana/provisioning/datasources/prometheus.yml"
GRAFANA_DASHBOARD_PROVIDER = "grafana/provisioning/dashboards/neo4j.yml"
GRAFANA_DASHBOARD = "grafana/dashboards/neo4j-cluster.json"

# Where each rendered file belongs on the monitoring node (Debian's prometheus package, Grafana's
# Debian package). The dashboard provider below points Grafana at GRAFANA_DASHBOARDS_DIR.
GRAFANA_DASHBOARDS_DIR = "/var/lib/grafana/dashboards/neo4j"
MONITORING_NODE_PATHS = {
    PROMETHEUS_CONFIG: "/etc/prometheus/prometheus.yml",
    PROMETHEUS_RULES: "/etc/prometheus/rules/neo4j-alerts.yml",
    GRAFANA_DATASOURCE: "/etc/grafana/provisioning/datasources/prometheus.yml",
    GRAFANA_DASHBOARD_PROVIDER: "/etc/grafana/provisioning/dashboards/neo4j.yml",
    GRAFANA_DASHBOARD: f"{GRAFANA_DASHBOARDS_DIR}/neo4j-cluster.json",
}

ALERT_NAMES = (
    "Neo4jServerDown",
    "Neo4jOpenTransactionsHigh",
    "Neo4jPageCacheHitRatioLow",
    "Neo4jGcPauseLong",
    "Neo4jDiskUsageHigh",
    "Neo4jReplicationLagHigh",
    "Neo4jMultipleLeaders",
)

# Stop-the-world collectors (JMX bean name lower-cased, spaces -> underscores, as Neo4j reports
# them): G1 (Neo4j's default), Parallel, Serial. Concurrent-cycle beans ("G1 Concurrent GC" on
# JDK 20+, ZGC/Shenandoah cycles) are left out: their time is not pause time.
STOP_THE_WORLD_COLLECTORS = (
    "g1_young_generation", "g1_old_generation", "ps_scavenge", "ps_marksweep", "copy", "marksweepcompact",
)
# Filesystems that never hold Neo4j data.
PSEUDO_FILESYSTEMS = "tmpfs|devtmpfs|ramfs|overlay|squashfs|nsfs|autofs|proc|sysfs|efivarfs|fuse.lxcfs"

RATE_WINDOW = "5m"
GC_WINDOW = "1m"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
_IPV6_RE = re.compile(r"^[0-9A-Fa-f:.]+$")
_URL_RE = re.compile(r"^https?://[^\s\"'\\]+$")
_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")


@dataclass(frozen=True)
class ScrapeTarget:  # one Neo4j server
    name: str  # "core-1", "replica-1"
    role: str  # "primary" | "secondary"
    address: str  # DNS name or IP reachable from the monitoring node
    metrics_port: int  # Neo4j Prometheus endpoint (server.metrics.prometheus.endpoint), 2004
    node_exporter_port: int  # 9100, prometheus-node-exporter on each server (for disk/CPU)


@dataclass(frozen=True)
class AlertThresholds:  # defaults = the operations guide
    open_transactions: int = 100
    page_cache_hit_ratio: float = 0.90
    gc_pause_seconds: float = 1.0
    disk_used_ratio: float = 0.80
    replication_lag_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.open_transactions < 1:
            raise ValueError(f"open_transactions must be >= 1, got {self.open_transactions}")
        for field in ("page_cache_hit_ratio", "disk_used_ratio"):
            value = getattr(self, field)
            if not 0 < value < 1:
                raise ValueError(f"{field} is a ratio in (0, 1), got {value}")
        for field in ("gc_pause_seconds", "replication_lag_seconds"):
            value = getattr(self, field)
            if value <= 0:
                raise ValueError(f"{field} must be > 0, got {value}")


# --------------------------------------------------------------------------------------------
# Metric names per version line
# --------------------------------------------------------------------------------------------

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
    # 5.x: raft metrics are documented as cluster.raft.*; some 5.x builds reported cluster.core.*.
    "5": Neo4jMetricNames("neo4j_dbms_", "neo4j_database_", "cluster_(?:raft|core)_is_leader"),
    "2025": Neo4jMetricNames("neo4j_dbms_", "neo4j_database_", "cluster_raft_is_leader"),
}

# What the servers' metrics filter must let through (4.4 `metrics.filter`, 5.x/2025.x
# `server.metrics.filter`). Setting the filter replaces Neo4j's default list.
METRICS_FILTER_PATTERNS = {
    "4.4": ("*page_cache.hits", "*page_cache.page_faults", "*vm.gc.time.*", "*transaction.active",
            "*transaction.last_committed_tx_id", "*causal_clustering.core.is_leader"),
    "5": ("*page_cache.hits", "*page_cache.page_faults", "*vm.gc.time.*", "*transaction.active",
          "*transaction.last_committed_tx_id", "*cluster.raft.is_leader", "*cluster.core.is_leader"),
    "2025": ("*page_cache.hits", "*page_cache.page_faults", "*vm.gc.time.*", "*transaction.active",
             "*transaction.last_committed_tx_id", "*cluster.raft.is_leader"),
}

# The Neo4j metric names (as the filter sees them, prefix `neo4j`, database `neo4j`) the rules read.
REQUIRED_METRICS = {
    "4.4": ("neo4j.page_cache.hits", "neo4j.page_cache.page_faults", "neo4j.vm.gc.time.g1_young_generation",
            "neo4j.vm.gc.time.g1_old_generation", "neo4j.neo4j.transaction.active",
            "neo4j.neo4j.transaction.last_committed_tx_id", "neo4j.neo4j.causal_clustering.core.is_leader"),
    "5": ("neo4j.dbms.page_cache.hits", "neo4j.dbms.page_cache.page_faults",
          "neo4j.dbms.vm.gc.time.g1_young_generation", "neo4j.dbms.vm.gc.time.g1_old_generation",
          "neo4j.database.neo4j.transaction.active", "neo4j.database.neo4j.transaction.last_committed_tx_id",
          "neo4j.database.neo4j.cluster.raft.is_leader"),
}
REQUIRED_METRICS["2025"] = REQUIRED_METRICS["5"]


def metrics_filter_patterns(version_line: str) -> tuple[str, ...]:
    _check_version_line(version_line)
    return METRICS_FILTER_PATTERNS[version_line]


def required_neo4j_settings(version_line: str, *, metrics_port: int = 2004) -> dict[str, str]:
    """neo4j.conf settings every server needs for the scrape config and rules to have data."""
    _check_version_line(version_line)
    ns = "" if version_line == "4.4" else "server."
    return {
        f"{ns}metrics.enabled": "true",
        f"{ns}metrics.prometheus.enabled": "true",
        # The default (localhost:2004) is unreachable from the monitoring node.
        f"{ns}metrics.prometheus.endpoint": f"0.0.0.0:{metrics_port}",
        f"{ns}metrics.filter": ",".join(METRICS_FILTER_PATTERNS[version_line]),
    }


# --------------------------------------------------------------------------------------------
# PromQL building blocks (shared by the alert rules and the dashboard)
# --------------------------------------------------------------------------------------------

def _selector(name_regex: str, job: str = JOB_NEO4J, offset: str | None = None) -> str:
    if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", name_regex):
        sel = f'{name_regex}{{job="{job}"}}'
    else:
        sel = f'{{__name__=~"{name_regex}", job="{job}"}}'
    return f"{sel} offset {offset}" if offset else sel


def _by_database(names: Neo4jMetricNames, suffix: str, offset: str | None = None) -> str:
    """A per-database series with the database name moved from the metric name into `database`."""
    regex = names.database_metric(suffix)
    selector = _selector(regex.replace("(.+)", ".+"), offset=offset)
    return f'label_replace({selector}, "database", "$1", "__name__", "{regex}")'


def _gc_time_by_collector(names: Neo4jMetricNames, offset: str | None = None) -> str:
    collectors = "|".join(STOP_THE_WORLD_COLLECTORS)
    selector = _selector(names.global_metric(f"vm_gc_time_(?:{collectors})_total"), offset=offset)
    regex = names.global_metric("vm_gc_time_(.+)_total")
    return f'label_replace({selector}, "gc", "$1", "__name__", "{regex}")'


def _disk_selector(metric: str, data_mountpoint: str | None) -> str:
    matchers = [f'job="{JOB_NODE}"', f'fstype!~"{PSEUDO_FILESYSTEMS}"']
    if data_mountpoint:
        matchers.append(f'mountpoint="{data_mountpoint}"')
    return f"{metric}{{{', '.join(matchers)}}}"


def _queries(names: Neo4jMetricNames, *, lag_offset: str, data_mountpoint: str | None) -> dict[str, str]:
    hits = f"rate({_selector(names.global_metric('page_cache_hits_total'))}[{RATE_WINDOW}])"
    faults = f"rate({_selector(names.global_metric('page_cache_page_faults_total'))}[{RATE_WINDOW}])"
    committed = "transaction_last_committed_tx_id_total"
    return {
        "neo4j_up": f'up{{job="{JOB_NEO4J}"}}',
        "open_transactions": _by_database(names, "transaction_active"),
        # Computed from the two counters: well defined over the window and NaN (no alert) when idle.
        "page_cache_hit_ratio": f"{hits}\n/\n({hits} + {faults})",
        # Milliseconds of stop-the-world GC each collector accumulated during the last GC_WINDOW.
        "gc_seconds_per_window": (
            f"(\n  {_gc_time_by_collector(names)}\n  -\n  {_gc_time_by_collector(names, offset=GC_WINDOW)}\n)"
            " / 1000"),
        "disk_used_ratio": (
            f"1 - (\n  {_disk_selector('node_filesystem_avail_bytes', data_mountpoint)}\n  /\n"
            f"  {_disk_selector('node_filesystem_size_bytes', data_mountpoint)}\n)"),
        # Transactions a server still lacks of what the most advanced member had committed
        # `lag_offset` ago; > 0 means it is more than the lag threshold behind.
        "transactions_behind": (
            f"max by (stack, database) (\n  {_by_database(names, committed, offset=lag_offset)}\n)\n"
            f"- on (stack, database) group_right ()\n{_by_database(names, committed)}"),
        "leaders": f"sum by (stack, database) (\n  {_by_database(names, names.is_leader)}\n)",
        "cpu_busy": (f'1 - avg by (stack, server, role, instance) '
                     f'(rate(node_cpu_seconds_total{{job="{JOB_NODE}", mode="idle"}}[{RATE_WINDOW}]))'),
        "haproxy_backend_active_servers": f'haproxy_backend_active_servers{{job="{JOB_HAPROXY}"}}',
        "haproxy_frontend_current_sessions": f'haproxy_frontend_current_sessions{{job="{JOB_HAPROXY}"}}',
    }


# --------------------------------------------------------------------------------------------
# Alerts
# --------------------------------------------------------------------------------------------

def _num(value: float) -> str:
    """A threshold as PromQL/prose text: 100, 0.9, 1, 10.5."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _indent(expr: str) -> str:
    return "\n".join("  " + line for line in expr.splitlines())


def _percent(ratio: float) -> str:
    return f"{_num(round(ratio * 100, 6))}%"


def _alert(name: str, expr: str, for_duration: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "expr": expr,
        "for_duration": for_duration,
        "severity": severity,
        # Pre-quoted (JSON strings are YAML double-quoted scalars); the `{{ $labels.x }}` parts are
        # Prometheus templates, expanded by Prometheus, not by Jinja.
        "summary_yaml": json.dumps(summary),
        "description_yaml": json.dumps(description),
    }


def _alerts(q: dict[str, str], t: AlertThresholds, *, lag_offset: str) -> list[dict[str, Any]]:
    return [
        _alert(
            "Neo4jServerDown", f"{q['neo4j_up']} == 0", "1m", "critical",
            "Neo4j server {{ $labels.server }} is down",
            "The Neo4j metrics endpoint {{ $labels.instance }} of {{ $labels.server }} ({{ $labels.role }}) "
            "in stack {{ $labels.stack }} has not answered a scrape for 1 minute."),
        _alert(
            "Neo4jOpenTransactionsHigh", f"{q['open_transactions']} > {t.open_transactions}", "5m", "warning",
            "{{ $value | printf \"%.0f\" }} open transactions on {{ $labels.server }} ({{ $labels.database }})",
            f"{{{{ $labels.server }}}} has had more than {t.open_transactions} open transactions in database "
            "{{ $labels.database }} for 5 minutes (now {{ $value | printf \"%.0f\" }}). "
            "Look for long-running or leaked transactions (SHOW TRANSACTIONS)."),
        _alert(
            "Neo4jPageCacheHitRatioLow",
            f"(\n{_indent(q['page_cache_hit_ratio'])}\n) < {_num(t.page_cache_hit_ratio)}", "10m", "warning",
            "Page cache hit ratio {{ $value | humanizePercentage }} on {{ $labels.server }}",
            f"Over the last {RATE_WINDOW}, {{{{ $value | humanizePercentage }}}} of page cache lookups on "
            f"{{{{ $labels.server }}}} were hits (threshold {_percent(t.page_cache_hit_ratio)}, for 10 minutes). "
            "The store no longer fits in the page cache; reads go to disk."),
        _alert(
            "Neo4jGcPauseLong", f"{q['gc_seconds_per_window']} > {_num(t.gc_pause_seconds)}", "0s", "warning",
            "{{ $value | printf \"%.2f\" }}s of GC pause on {{ $labels.server }} ({{ $labels.gc }})",
            f"The {{{{ $labels.gc }}}} collector on {{{{ $labels.server }}}} stopped the JVM for "
            f"{{{{ $value | printf \"%.2f\" }}}}s within {GC_WINDOW} (threshold {_num(t.gc_pause_seconds)}s): "
            "at least one long pause or a burst of them. Long pauses can cost the server its cluster "
            "membership or leadership; check heap sizing and the GC log."),
        _alert(
            "Neo4jDiskUsageHigh", f"{q['disk_used_ratio']} > {_num(t.disk_used_ratio)}", "10m", "warning",
            "Disk {{ $labels.mountpoint }} on {{ $labels.server }} is {{ $value | humanizePercentage }} full",
            f"Filesystem {{{{ $labels.mountpoint }}}} ({{{{ $labels.device }}}}) on {{{{ $labels.server }}}} "
            f"has been more than {_percent(t.disk_used_ratio)} used for 10 minutes "
            "(now {{ $value | humanizePercentage }}). Neo4j stops a database whose disk fills up."),
        _alert(
            "Neo4jReplicationLagHigh", f"(\n{_indent(q['transactions_behind'])}\n) > 0", "1m", "warning",
            "{{ $labels.server }} lags more than "
            f"{_num(t.replication_lag_seconds)}s behind on {{{{ $labels.database }}}}",
            f"{{{{ $labels.server }}}} ({{{{ $labels.role }}}}) has not yet applied "
            "{{ $value | printf \"%.0f\" }} transactions of database {{ $labels.database }} that the most "
            f"advanced cluster member had committed {lag_offset} ago, for 1 minute: its replication lag "
            f"exceeds {_num(t.replication_lag_seconds)}s."),
        _alert(
            "Neo4jMultipleLeaders", f"{q['leaders']} > 1", "1m", "critical",
            "{{ $value | printf \"%.0f\" }} leaders for database {{ $labels.database }}",
            "{{ $value | printf \"%.0f\" }} servers of stack {{ $labels.stack }} have reported themselves "
            "leader of database {{ $labels.database }} for 1 minute (a leader switch overlaps for a few "
            "seconds at most). Check the cluster for a network partition."),
    ]


# --------------------------------------------------------------------------------------------
# Dashboard (built in Python: JSON)
# --------------------------------------------------------------------------------------------

def _thresholds(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


def _panel(pid: int, title: str, targets: list[tuple[str, str]], *, unit: str, x: int, y: int,
           kind: str = "timeseries", thresholds: dict[str, Any] | None = None, w: int = 12,
           description: str = "") -> dict[str, Any]:
    datasource = {"type": "prometheus", "uid": DATASOURCE_UID}
    defaults: dict[str, Any] = {"unit": unit}
    if thresholds:
        defaults["thresholds"] = thresholds
        if kind == "timeseries":
            defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource,
        "gridPos": {"h": 8, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": datasource, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _dashboard_uid(stack: str) -> str:
    uid = f"neo4j-{stack}"
    if len(uid) <= 40:
        return uid
    return f"neo4j-{hashlib.sha256(stack.encode()).hexdigest()[:16]}"


def build_dashboard(*, stack: str, version_line: str, q: dict[str, str], t: AlertThresholds,
                    haproxy: bool) -> dict[str, Any]:
    specs = [
        ("Neo4j endpoints up", [(q["neo4j_up"], "{{server}}")], "none",
         _thresholds(("red", None), ("green", 1)), "Scrape success of each server's Neo4j metrics endpoint."),
        ("Leaders per database", [(q["leaders"], "{{database}}")], "none",
         _thresholds(("red", None), ("green", 1), ("red", 2)), "Exactly one leader per database is healthy."),
        ("Open transactions", [(q["open_transactions"], "{{server}} {{database}}")], "none",
         _thresholds(("green", None), ("red", t.open_transactions)), ""),
        ("Page cache hit ratio", [(q["page_cache_hit_ratio"], "{{server}}")], "percentunit",
         _thresholds(("red", None), ("green", t.page_cache_hit_ratio)), f"Hits / lookups over {RATE_WINDOW}."),
        (f"Stop-the-world GC per {GC_WINDOW}", [(q["gc_seconds_per_window"], "{{server}} {{gc}}")], "s",
         _thresholds(("green", None), ("red", t.gc_pause_seconds)), ""),
        ("Transactions behind the cluster", [(q["transactions_behind"], "{{server}} {{database}}")], "none",
         _thresholds(("green", None), ("red", 1)),
         "Transactions each server lacks of what the most advanced member had committed "
         f"{_num(t.replication_lag_seconds)}s (plus one scrape interval) earlier."),
        ("Disk used", [(q["disk_used_ratio"], "{{server}} {{mountpoint}}")], "percentunit",
         _thresholds(("green", None), ("red", t.disk_used_ratio)), ""),
        ("CPU busy", [(q["cpu_busy"], "{{server}}")], "percentunit", None, "From node exporter."),
    ]
    if haproxy:
        specs += [
            ("HAProxy active servers per backend", [(q["haproxy_backend_active_servers"], "{{proxy}}")], "none",
             None, ""),
            ("HAProxy current sessions per frontend", [(q["haproxy_frontend_current_sessions"], "{{proxy}}")],
             "none", None, ""),
        ]
    panels = []
    for i, (title, targets, unit, thresholds, description) in enumerate(specs):
        panels.append(_panel(i + 1, title, targets, unit=unit, thresholds=thresholds, description=description,
                             x=(i % 2) * 12, y=(i // 2) * 8))
    return {
        "uid": _dashboard_uid(stack),
        "title": f"Neo4j cluster {stack}",
        "description": f"Neo4j {version_line} cluster {stack}; thresholds match the Prometheus alert rules.",
        "tags": ["neo4j", stack],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------

def _check_version_line(version_line: str) -> None:
    if version_line not in VERSION_LINES:
        raise ValueError(f"version_line must be one of {VERSION_LINES}, got {version_line!r}")


def _duration_ms(text: str) -> int:
    m = _DURATION_RE.match(text)
    if not text or not m or not any(m.groups()):
        raise ValueError(f"not a Prometheus duration (e.g. 15s, 1m): {text!r}")
    h, mi, s, ms = (int(g) if g else 0 for g in m.groups())
    return ((h * 60 + mi) * 60 + s) * 1000 + ms


def _format_ms(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _endpoint(address: str, port: int) -> str:
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    if ":" in address:
        if not _IPV6_RE.match(address):
            raise ValueError(f"invalid address {address!r}")
        return f"[{address}]:{port}"
    if not _HOST_RE.match(address):
        raise ValueError(f"invalid address {address!r}")
    return f"{address}:{port}"


def _check_name(kind: str, value: str) -> None:
    if not _NAME_RE.match(value):
        raise ValueError(f"invalid {kind} {value!r}: letters, digits, '.', '_', '-' only")


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

def render_monitoring(*, stack: str, version_line: str, targets: list[ScrapeTarget], thresholds: AlertThresholds,
                      haproxy_target: str | None, prometheus_url: str, scrape_interval: str = "15s",
                      data_mountpoint: str | None = None) -> dict[str, str]:
    """Returns {relative_path: text} for: 'prometheus/prometheus.yml', 'prometheus/rules/neo4j-alerts.yml',
    'grafana/provisioning/datasources/prometheus.yml', 'grafana/provisioning/dashboards/neo4j.yml',
    'grafana/dashboards/neo4j-cluster.json'.

    data_mountpoint: restrict Neo4jDiskUsageHigh to this mountpoint (e.g. "/var/lib/neo4j"); by
    default every real (non-pseudo) filesystem of the Neo4j servers is watched, so a data
    directory on the root volume is covered too.
    """
    _check_version_line(version_line)
    _check_name("stack", stack)
    if not targets:
        raise ValueError("at least one scrape target is needed")
    if not _URL_RE.match(prometheus_url):
        raise ValueError(f"prometheus_url must be an http(s) URL, got {prometheus_url!r}")
    interval_ms = _duration_ms(scrape_interval)
    if not 1000 <= interval_ms <= 60_000:
        raise ValueError(f"scrape_interval must be between 1s and 1m, got {scrape_interval}")
    if data_mountpoint is not None and not re.fullmatch(r"/[A-Za-z0-9._/-]*", data_mountpoint):
        raise ValueError(f"invalid data_mountpoint {data_mountpoint!r}")

    seen: set[str] = set()
    neo4j_targets, node_targets = [], []
    for target in targets:
        _check_name("server name", target.name)
        if target.role not in ROLES:
            raise ValueError(f"role of {target.name} must be one of {ROLES}, got {target.role!r}")
        if target.name in seen:
            raise ValueError(f"duplicate scrape target {target.name}")
        seen.add(target.name)
        neo4j_targets.append({"endpoint": _endpoint(target.address, target.metrics_port),
                              "server": target.name, "role": target.role})
        node_targets.append({"endpoint": _endpoint(target.address, target.node_exporter_port),
                             "server": target.name, "role": target.role})

    haproxy = None
    if haproxy_target is not None:
        host, sep, port = haproxy_target.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"haproxy_target must be host:port, got {haproxy_target!r}")
        haproxy = {"endpoint": _endpoint(host.strip("[]"), int(port)), "server": "haproxy"}

    # Compare against the most advanced member's position one threshold plus one scrape interval
    # ago: samples of different targets are up to one interval apart, so an up-to-date server is
    # never reported; a server lagging threshold + 2 intervals always is.
    lag_offset = _format_ms(round(thresholds.replication_lag_seconds * 1000) + interval_ms)
    names = METRIC_NAMES[version_line]
    queries = _queries(names, lag_offset=lag_offset, data_mountpoint=data_mountpoint)

    prometheus_yml = render_template(
        "prometheus/prometheus.yml.j2",
        stack=stack, version_line=version_line, scrape_interval=scrape_interval, rule_files=[RULE_FILES_GLOB],
        jobs={"neo4j": JOB_NEO4J, "node": JOB_NODE, "haproxy": JOB_HAPROXY},
        neo4j_targets=neo4j_targets, node_targets=node_targets, haproxy=haproxy)
    rules_yml = render_template(
        "prometheus/neo4j-alerts.yml.j2",
        stack=stack, version_line=version_line, group_name=f"neo4j-{stack}",
        alerts=_alerts(queries, thresholds, lag_offset=lag_offset))
    datasource_yml = render_template(
        "grafana/datasource.yml.j2",
        datasource_name=f"Prometheus {stack}", uid=DATASOURCE_UID, url=prometheus_url,
        scrape_interval=scrape_interval)
    provider_yml = render_template(
        "grafana/dashboards.yml.j2", stack=stack, folder="Neo4j", path=GRAFANA_DASHBOARDS_DIR)
    dashboard = build_dashboard(stack=stack, version_line=version_line, q=queries, t=thresholds,
                                haproxy=haproxy is not None)
    return {
        PROMETHEUS_CONFIG: prometheus_yml,
        PROMETHEUS_RULES: rules_yml,
        GRAFANA_DATASOURCE: datasource_yml,
        GRAFANA_DASHBOARD_PROVIDER: provider_yml,
        GRAFANA_DASHBOARD: json.dumps(dashboard, indent=2) + "\n",
    }
