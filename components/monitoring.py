"""Prometheus + Grafana configuration for a Neo4j cluster: `render_monitoring(...)`.

Pure Python (no Pulumi): returns {relative path: text}. Every decision -- which series an alert
reads, its threshold, its `for:` -- is made here; the templates under templates/prometheus and
templates/grafana only lay the values out. The Grafana dashboard is built with Grafana's own typed
builders (grafana-foundation-sdk: every panel, query and threshold a typed object of Grafana's schema) and
serialised by its encoder.

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

Only what exists is scraped, alerted on and drawn: metrics are an Enterprise feature (Community
servers have no endpoint on 2004), and node exporter runs on the AWS servers only. A target
without a metrics port (or node exporter port) is left out of that job; the alerts and panels that
read a job exist only when the job has a target. METRICS_FILTER, the servers' `metrics.filter`,
lives here next to the rules and panels that need what it lets through.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import common, dashboard, prometheus, timeseries
from grafana_foundation_sdk.builders import text as text_panel
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as dashboard_model
from grafana_foundation_sdk.models import text as text_model

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

# Every alert, and the scrape job whose series it reads: an alert is rendered only when its job
# has a target (no Neo4j metrics on Community, no node exporter in the Docker stack).
ALERT_JOBS = {
    "Neo4jServerDown": JOB_NEO4J,
    "Neo4jMachineDown": JOB_NODE,
    "Neo4jOpenTransactionsHigh": JOB_NEO4J,
    "Neo4jPageCacheHitRatioLow": JOB_NEO4J,
    "Neo4jGcPauseLong": JOB_NEO4J,
    "Neo4jDiskUsageHigh": JOB_NODE,
    "Neo4jReplicationLagHigh": JOB_NEO4J,
    "Neo4jMultipleLeaders": JOB_NEO4J,
    # Published by the machine itself through node exporter's textfile collector (setup-neo4j.sh):
    "Neo4jBootFailed": JOB_NODE,
    "Neo4jCertificateExpiresSoon": JOB_NODE,
    "Neo4jCertificateRenewalFailed": JOB_NODE,  # renew-certificates.sh (neo4j-cert-renew.timer)
    # Written on the backup server from the bucket's manifests and drill records (scripts/neo4j_ops/backup/
    # freshness.py, neo4j-backup-freshness.timer), so they ride on its node exporter.
    "Neo4jBackupTooOld": JOB_NODE,
    "Neo4jRestoreDrillTooOld": JOB_NODE,
    "Neo4jBackupFreshnessUnknown": JOB_NODE,
}
# Days before a served certificate expires from which Neo4jCertificateExpiresSoon fires.
CERTIFICATE_EXPIRY_WARNING_DAYS = 30
ALERT_NAMES = tuple(ALERT_JOBS)

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
    # Neo4j Prometheus endpoint (server.metrics.prometheus.endpoint), 2004; None: the server exports no
    # metrics (Community Edition: metrics are Enterprise-only), so it is not in the `neo4j` job.
    metrics_port: int | None
    # prometheus-node-exporter (disk/CPU), 9100; None: none runs there (the Docker stack's containers).
    node_exporter_port: int | None


@dataclass(frozen=True)
class AlertThresholds:  # defaults = the operations guide
    open_transactions: int = 100
    page_cache_hit_ratio: float = 0.90
    gc_pause_seconds: float = 1.0
    disk_used_ratio: float = 0.80
    replication_lag_seconds: float = 10.0
    # A daily backup plus two hours of slack: the newest complete backup may be this old.
    backup_max_age_hours: float = 26.0
    # neo4j:restoreDrillMaxAgeDays: the weekly drill plus a day.
    restore_drill_max_age_days: float = 8.0

    def __post_init__(self) -> None:
        if self.open_transactions < 1:
            raise ValueError(f"open_transactions must be >= 1, got {self.open_transactions}")
        for field in ("page_cache_hit_ratio", "disk_used_ratio"):
            value = getattr(self, field)
            if not 0 < value < 1:
                raise ValueError(f"{field} is a ratio in (0, 1), got {value}")
        for field in ("gc_pause_seconds", "replication_lag_seconds", "backup_max_age_hours",
                      "restore_drill_max_age_days"):
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
    _check_version_line(version_line)
    return ",".join(METRICS_FILTER[version_line])


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
        "node_up": f'up{{job="{JOB_NODE}"}}',
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
        "boot_failed": f'neo4j_cluster_boot_failed{{job="{JOB_NODE}"}}',
        "certificate_days_left": f'(neo4j_cluster_certificate_expiry_seconds{{job="{JOB_NODE}"}} - time()) / 86400',
        "certificate_renewal_failed": f'neo4j_cluster_certificate_renewal_failed{{job="{JOB_NODE}"}}',
        # Ages from the freshness metrics (0: none/never, which makes the age huge). One backup server
        # writes them; max by keeps one series per database whatever the scrape labels.
        "backup_age_hours": (f'(time() - max by (stack, database) (neo4j_backup_last_complete_timestamp_seconds'
                             f'{{job="{JOB_NODE}"}})) / 3600'),
        "drill_age_days": (f'(time() - max by (stack, database) (neo4j_restore_drill_last_success_timestamp_seconds'
                           f'{{job="{JOB_NODE}"}})) / 86400'),
        "first_backup_age_days": (f'(time() - max by (stack, database) (neo4j_backup_first_complete_timestamp_seconds'
                                  f'{{job="{JOB_NODE}"}})) / 86400'),
        "freshness_last_run": f'neo4j_backup_freshness_last_run_timestamp_seconds{{job="{JOB_NODE}"}}',
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


def _alerts(q: dict[str, str], t: AlertThresholds, *, lag_offset: str, jobs: set[str]) -> list[dict[str, Any]]:
    alerts = [
        _alert(
            "Neo4jServerDown", f"{q['neo4j_up']} == 0", "1m", "critical",
            "Neo4j server {{ $labels.server }} is down",
            "The Neo4j metrics endpoint {{ $labels.instance }} of {{ $labels.server }} ({{ $labels.role }}) "
            "in stack {{ $labels.stack }} has not answered a scrape for 1 minute."),
        _alert(
            "Neo4jMachineDown", f"{q['node_up']} == 0", "1m", "critical",
            "Machine of Neo4j server {{ $labels.server }} is unreachable",
            "Node exporter {{ $labels.instance }} on {{ $labels.server }} ({{ $labels.role }}) in stack "
            "{{ $labels.stack }} has not answered a scrape for 1 minute: the machine is down or unreachable "
            "from the monitoring node, and its disks are not watched meanwhile."),
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
        _alert(
            "Neo4jBootFailed", f"{q['boot_failed']} == 1", "0s", "critical",
            "Boot script of {{ $labels.server }} failed at step {{ $labels.step }}",
            "setup-neo4j.sh on {{ $labels.server }} ({{ $labels.role }}) in stack {{ $labels.stack }} stopped at "
            "step {{ $labels.step }}: the machine runs but is not (fully) configured. Read "
            "/var/lib/neo4j-cluster/boot-status and /var/log/cloud-init-output.log on it, fix the cause, and run "
            "/usr/local/lib/neo4j-cluster/setup-neo4j.sh again (it is safe to re-run) or replace the instance."),
        _alert(
            "Neo4jCertificateExpiresSoon",
            f"{q['certificate_days_left']} < {CERTIFICATE_EXPIRY_WARNING_DAYS}", "0s", "warning",
            "{{ $labels.scope }} certificate of {{ $labels.server }} expires in {{ $value | printf \"%.0f\" }} days",
            "The {{ $labels.scope }} certificate that {{ $labels.server }} in stack {{ $labels.stack }} serves "
            f"expires within {CERTIFICATE_EXPIRY_WARNING_DAYS} days "
            "({{ $value | printf \"%.1f\" }} days left). Renew it (`pulumi up` rotates it into Secrets Manager) "
            "and bring it to the server before it expires: clients and cluster members then refuse it."),
        _alert(
            "Neo4jCertificateRenewalFailed", f"{q['certificate_renewal_failed']} == 1", "0s", "warning",
            "Certificate renewal on {{ $labels.server }} failed at step {{ $labels.step }}",
            "renew-certificates.sh on {{ $labels.server }} in stack {{ $labels.stack }} failed at step "
            "{{ $labels.step }}, so a renewed certificate does not reach the server. Read `journalctl -u "
            "neo4j-cert-renew` and /var/lib/neo4j-cluster/cert-renew-status on it; once fixed, run "
            "`systemctl start neo4j-cert-renew` (safe to re-run)."),
        _alert(
            "Neo4jBackupTooOld", f"{q['backup_age_hours']} > {_num(t.backup_max_age_hours)}", "0s", "critical",
            "Newest complete backup of {{ $labels.database }} is {{ $value | printf \"%.1f\" }} hours old",
            f"The newest restorable backup of database {{{{ $labels.database }}}} in stack {{{{ $labels.stack }}}} "
            f"completed {{{{ $value | printf \"%.1f\" }}}} hours ago (more than {_num(t.backup_max_age_hours)}h; "
            "a huge value means there is none), as the bucket's manifests say. Read `journalctl -u "
            "neo4j-backup` on the backup server and run `systemctl start neo4j-backup` once the cause is fixed."),
        _alert(
            "Neo4jRestoreDrillTooOld",
            f"{q['drill_age_days']} > {_num(t.restore_drill_max_age_days)}\nand on (stack, database)\n"
            f"{q['first_backup_age_days']} > {_num(t.restore_drill_max_age_days)}", "0s", "warning",
            "Last passed restore drill of {{ $labels.database }} is {{ $value | printf \"%.1f\" }} days old",
            f"No restore drill of database {{{{ $labels.database }}}} in stack {{{{ $labels.stack }}}} has passed for "
            f"{{{{ $value | printf \"%.1f\" }}}} days (more than {_num(t.restore_drill_max_age_days)}, "
            "neo4j:restoreDrillMaxAgeDays; a huge value means never, though backups have existed that long): "
            "nobody knows whether the backups restore. Read `journalctl -u neo4j-restore-drill` on the backup "
            "server and run `systemctl start neo4j-restore-drill`."),
        _alert(
            "Neo4jBackupFreshnessUnknown",
            f"time() - max by (stack) ({q['freshness_last_run']}) > 3600\nor\nabsent({q['freshness_last_run']})",
            "30m", "warning",
            "Backup freshness is unknown",
            "The backup server has not read the bucket's manifests for over an hour (or never published them): "
            "Neo4jBackupTooOld and Neo4jRestoreDrillTooOld cannot fire. Read `journalctl -u "
            "neo4j-backup-freshness` on the backup server (bucket access, the tooling under "
            "/usr/local/lib/neo4j-cluster/scripts)."),
    ]
    assert [a["name"] for a in alerts] == list(ALERT_NAMES)
    return [a for a in alerts if ALERT_JOBS[a["name"]] in jobs]


# --------------------------------------------------------------------------------------------
# Dashboard (Grafana's own typed builders: grafana-foundation-sdk)
# --------------------------------------------------------------------------------------------

DATASOURCE = dashboard_model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
PANEL_HEIGHT, PANEL_WIDTH, ROW_WIDTH = 8, 12, 24


@dataclass(frozen=True)
class PanelSpec:
    job: str  # the scrape job whose series it draws: no panel without a target in that job
    title: str
    targets: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str
    thresholds: tuple[tuple[str, float | None], ...] = ()  # (color, from value); () = none drawn
    description: str = ""


def _timeseries(pid: int, spec: PanelSpec, *, x: int, y: int) -> timeseries.Panel:
    panel = (timeseries.Panel().id(pid).title(spec.title).description(spec.description).datasource(DATASOURCE)
             .grid_pos(dashboard_model.GridPos(h=PANEL_HEIGHT, w=PANEL_WIDTH, x=x, y=y)).unit(spec.unit)
             .legend(common.VizLegendOptions().display_mode(common_model.LegendDisplayMode.LIST)
                     .placement(common_model.LegendPlacement.BOTTOM).show_legend(True))
             .tooltip(common.VizTooltipOptions().mode(common_model.TooltipDisplayMode.SINGLE)
                      .sort(common_model.SortOrder.NONE)))
    if spec.thresholds:
        panel = (panel.thresholds(dashboard.ThresholdsConfig().mode(dashboard_model.ThresholdsMode.ABSOLUTE).steps(
            [dashboard_model.Threshold(color=color, value=value) for color, value in spec.thresholds]))
            .thresholds_style(common.GraphThresholdsStyleConfig().mode(common_model.GraphThresholdsStyleMode.LINE)))
    for index, (expr, legend) in enumerate(spec.targets):
        panel = panel.with_target(prometheus.Dataquery().ref_id(chr(ord("A") + index)).datasource(DATASOURCE)
                                  .expr(expr).legend_format(legend))
    return panel


def _dashboard_uid(stack: str) -> str:
    uid = f"neo4j-{stack}"
    if len(uid) <= 40:
        return uid
    return f"neo4j-{hashlib.sha256(stack.encode()).hexdigest()[:16]}"


def build_dashboard(*, stack: str, version_line: str, q: dict[str, str], t: AlertThresholds,
                    jobs: set[str]) -> dashboard.Dashboard:
    """Panels of the scrape jobs in `jobs` only: a panel whose series nobody exports stays out."""
    specs = [
        PanelSpec(JOB_NEO4J, "Neo4j endpoints up", ((q["neo4j_up"], "{{server}}"),), "none",
                  (("red", None), ("green", 1)), "Scrape success of each server's Neo4j metrics endpoint."),
        PanelSpec(JOB_NODE, "Machines up", ((q["node_up"], "{{server}}"),), "none",
                  (("red", None), ("green", 1)), "Scrape success of node exporter on each Neo4j server."),
        PanelSpec(JOB_NEO4J, "Leaders per database", ((q["leaders"], "{{database}}"),), "none",
                  (("red", None), ("green", 1), ("red", 2)), "Exactly one leader per database is healthy."),
        PanelSpec(JOB_NEO4J, "Open transactions", ((q["open_transactions"], "{{server}} {{database}}"),), "none",
                  (("green", None), ("red", t.open_transactions))),
        PanelSpec(JOB_NEO4J, "Page cache hit ratio", ((q["page_cache_hit_ratio"], "{{server}}"),), "percentunit",
                  (("red", None), ("green", t.page_cache_hit_ratio)), f"Hits / lookups over {RATE_WINDOW}."),
        PanelSpec(JOB_NEO4J, f"Stop-the-world GC per {GC_WINDOW}", ((q["gc_seconds_per_window"], "{{server}} {{gc}}"),),
                  "s", (("green", None), ("red", t.gc_pause_seconds))),
        PanelSpec(JOB_NEO4J, "Transactions behind the cluster",
                  ((q["transactions_behind"], "{{server}} {{database}}"),), "none", (("green", None), ("red", 1)),
                  "Transactions each server lacks of what the most advanced member had committed "
                  f"{_num(t.replication_lag_seconds)}s (plus one scrape interval) earlier."),
        PanelSpec(JOB_NODE, "Disk used", ((q["disk_used_ratio"], "{{server}} {{mountpoint}}"),), "percentunit",
                  (("green", None), ("red", t.disk_used_ratio))),
        PanelSpec(JOB_NODE, "CPU busy", ((q["cpu_busy"], "{{server}}"),), "percentunit",
                  description="From node exporter."),
        PanelSpec(JOB_HAPROXY, "HAProxy active servers per backend",
                  ((q["haproxy_backend_active_servers"], "{{proxy}}"),), "none"),
        PanelSpec(JOB_HAPROXY, "HAProxy current sessions per frontend",
                  ((q["haproxy_frontend_current_sessions"], "{{proxy}}"),), "none"),
    ]
    board = (dashboard.Dashboard(f"Neo4j cluster {stack}").uid(_dashboard_uid(stack))
             .description(f"Neo4j {version_line} cluster {stack}; thresholds match the Prometheus alert rules.")
             .tags(["neo4j", stack]).timezone("browser").readonly()
             .tooltip(dashboard_model.DashboardCursorSync.CROSSHAIR).refresh("30s").version(1).time("now-6h", "now")
             .variables([]).annotations([]))
    missing = []
    if JOB_NEO4J not in jobs:
        missing.append("No Neo4j server has a metrics endpoint (Neo4j metrics are an Enterprise Edition feature), "
                       "so there are no Neo4j panels or Neo4j alerts.")
    if JOB_NODE not in jobs:
        missing.append("No node exporter runs on the Neo4j servers (as in the Docker stack), so there are no "
                       "machine, disk or CPU panels.")
    top, pid = 0, 1
    if missing:
        board = board.with_panel(text_panel.Panel().id(pid).title("What this dashboard shows")
                                 .grid_pos(dashboard_model.GridPos(h=4, w=ROW_WIDTH, x=0, y=0))
                                 .mode(text_model.TextMode.MARKDOWN).content("\n\n".join(missing)))
        top, pid = 4, pid + 1
    for index, spec in enumerate(spec for spec in specs if spec.job in jobs):
        board = board.with_panel(_timeseries(pid + index, spec, x=(index % 2) * PANEL_WIDTH,
                                             y=top + (index // 2) * PANEL_HEIGHT))
    return board


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
                      data_mountpoint: str | None = None,
                      haproxy_targets: Mapping[str, str] | None = None) -> dict[str, str]:
    """Returns {relative_path: text} for: 'prometheus/prometheus.yml', 'prometheus/rules/neo4j-alerts.yml',
    'grafana/provisioning/datasources/prometheus.yml', 'grafana/provisioning/dashboards/neo4j.yml',
    'grafana/dashboards/neo4j-cluster.json'.

    A target's metrics_port / node_exporter_port of None leaves it out of the `neo4j` / `node` job; the
    alerts and panels of a job without targets are not rendered (see ALERT_JOBS).

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
        labels = {"server": target.name, "role": target.role}
        if target.metrics_port is not None:
            neo4j_targets.append({"endpoint": _endpoint(target.address, target.metrics_port), **labels})
        if target.node_exporter_port is not None:
            node_targets.append({"endpoint": _endpoint(target.address, target.node_exporter_port), **labels})

    # haproxy_targets: each HAProxy node by its name (the AWS pair); haproxy_target: the one node "haproxy".
    haproxy = []
    named = dict(haproxy_targets or {}) or ({"haproxy": haproxy_target} if haproxy_target is not None else {})
    for server, haproxy_at in named.items():
        host, sep, port = haproxy_at.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"haproxy_target must be host:port, got {haproxy_at!r}")
        haproxy.append({"endpoint": _endpoint(host.strip("[]"), int(port)), "server": server})

    # Compare against the most advanced member's position one threshold plus one scrape interval
    # ago: samples of different targets are up to one interval apart, so an up-to-date server is
    # never reported; a server lagging threshold + 2 intervals always is.
    lag_offset = _format_ms(round(thresholds.replication_lag_seconds * 1000) + interval_ms)
    names = METRIC_NAMES[version_line]
    queries = _queries(names, lag_offset=lag_offset, data_mountpoint=data_mountpoint)
    jobs = {job for job, present in ((JOB_NEO4J, neo4j_targets), (JOB_NODE, node_targets), (JOB_HAPROXY, haproxy))
            if present}

    prometheus_yml = render_template(
        "prometheus/prometheus.yml.j2",
        stack=stack, version_line=version_line, scrape_interval=scrape_interval, rule_files=[RULE_FILES_GLOB],
        jobs={"neo4j": JOB_NEO4J, "node": JOB_NODE, "haproxy": JOB_HAPROXY},
        neo4j_targets=neo4j_targets, node_targets=node_targets, haproxy=haproxy)
    rules_yml = render_template(
        "prometheus/neo4j-alerts.yml.j2",
        stack=stack, version_line=version_line, group_name=f"neo4j-{stack}",
        alerts=_alerts(queries, thresholds, lag_offset=lag_offset, jobs=jobs))
    datasource_yml = render_template(
        "grafana/datasource.yml.j2",
        datasource_name=f"Prometheus {stack}", uid=DATASOURCE_UID, url=prometheus_url,
        scrape_interval=scrape_interval)
    provider_yml = render_template(
        "grafana/dashboards.yml.j2", stack=stack, folder="Neo4j", path=GRAFANA_DASHBOARDS_DIR)
    board = build_dashboard(stack=stack, version_line=version_line, q=queries, t=thresholds, jobs=jobs).build()
    return {
        PROMETHEUS_CONFIG: prometheus_yml,
        PROMETHEUS_RULES: rules_yml,
        GRAFANA_DATASOURCE: datasource_yml,
        GRAFANA_DASHBOARD_PROVIDER: provider_yml,
        GRAFANA_DASHBOARD: JSONEncoder(indent=2).encode(board) + "\n",
    }
