"""Prometheus + Grafana configuration for a Neo4j cluster: `render_monitoring(...)`.

Pure Python (no Pulumi): returns {relative path: text}. Every decision -- which series an alert
reads, its threshold, its `for:` -- is made here; the templates under templates/prometheus and
templates/grafana only lay the values out.

Only what exists is scraped, alerted on and drawn: metrics are an Enterprise feature (Community
servers have no endpoint on 2004), and node exporter runs on the AWS servers only. The alerts and
panels that read a job exist only when the job has a target.

  metrics     what Neo4j exports per version line: metric names, the servers' metrics.filter
  scrape      the scrape jobs and their targets, prometheus.yml
  queries     the PromQL the alert rules and the dashboard share
  thresholds  AlertThresholds (the operations guide's defaults)
  alerts      the alert rules and the job each one reads
  dashboard   Grafana: data source, dashboard provider, the dashboard (grafana-foundation-sdk)
  files       the delivered files and where each belongs on the monitoring node
  durations   Prometheus durations

The names below are the package's interface (`from components.monitoring import X`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from components.monitoring.alerts import (
    ALERT_ALSO_NEEDS,
    ALERT_JOBS,
    ALERT_NAMES,
    CERTIFICATE_EXPIRY_WARNING_DAYS,
    FAILED_LOGINS_THRESHOLD,
    render_alert_rules,
)
from components.monitoring.dashboard import (
    DATASOURCE_UID,
    build_dashboard,
    render_dashboard,
    render_dashboard_provider,
    render_datasource,
)
from components.monitoring.durations import duration_ms, format_ms
from components.monitoring.files import (
    GRAFANA_DASHBOARD,
    GRAFANA_DASHBOARD_PROVIDER,
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_DATASOURCE,
    MONITORING_NODE_PATHS,
    PROMETHEUS_CONFIG,
    PROMETHEUS_RULES,
    RULE_FILES_GLOB,
)
from components.monitoring.metrics import (
    METRIC_NAMES,
    METRICS_FILTER,
    VERSION_LINES,
    Neo4jMetricNames,
    check_version_line,
    metrics_filter,
)
from components.monitoring.queries import (
    FAILED_LOGINS_WINDOW,
    GC_WINDOW,
    PSEUDO_FILESYSTEMS,
    RATE_WINDOW,
    STOP_THE_WORLD_COLLECTORS,
    promql_queries,
)
from components.monitoring.scrape import (
    JOB_HAPROXY,
    JOB_NEO4J,
    JOB_NODE,
    ROLES,
    Ec2Discovery,
    ScrapeTarget,
    check_name,
    render_prometheus_config,
    scrape_jobs,
)
from components.monitoring.thresholds import AlertThresholds

__all__ = [
    "ALERT_ALSO_NEEDS", "ALERT_JOBS", "ALERT_NAMES", "CERTIFICATE_EXPIRY_WARNING_DAYS", "DATASOURCE_UID",
    "FAILED_LOGINS_THRESHOLD",
    "FAILED_LOGINS_WINDOW", "GC_WINDOW",
    "GRAFANA_DASHBOARD", "GRAFANA_DASHBOARD_PROVIDER", "GRAFANA_DASHBOARDS_DIR", "GRAFANA_DATASOURCE",
    "JOB_HAPROXY", "JOB_NEO4J", "JOB_NODE", "METRIC_NAMES", "METRICS_FILTER", "MONITORING_NODE_PATHS",
    "PROMETHEUS_CONFIG", "PROMETHEUS_RULES", "PSEUDO_FILESYSTEMS", "RATE_WINDOW", "ROLES", "RULE_FILES_GLOB",
    "STOP_THE_WORLD_COLLECTORS", "VERSION_LINES", "AlertThresholds", "Ec2Discovery", "Neo4jMetricNames", "ScrapeTarget",
    "build_dashboard", "metrics_filter", "render_monitoring",
]

_URL_RE = re.compile(r"^https?://[^\s\"'\\]+$")


def render_monitoring(*, stack: str, version_line: str, targets: list[ScrapeTarget], thresholds: AlertThresholds,
                      haproxy_target: str | None, prometheus_url: str, scrape_interval: str = "15s",
                      data_mountpoint: str | None = None,
                      haproxy_targets: Mapping[str, str] | None = None,
                      haproxy_node_exporter_port: int | None = None,
                      discovery: Ec2Discovery | None = None) -> dict[str, str]:
    """Returns {relative_path: text} for: 'prometheus/prometheus.yml', 'prometheus/rules/neo4j-alerts.yml',
    'grafana/provisioning/datasources/prometheus.yml', 'grafana/provisioning/dashboards/neo4j.yml',
    'grafana/dashboards/neo4j-cluster.json'.

    A target's metrics_port / node_exporter_port of None leaves it out of the `neo4j` / `node` job; the
    alerts and panels of a job without targets are not rendered (see ALERT_JOBS).

    data_mountpoint: restrict Neo4jDiskUsageHigh to this mountpoint (e.g. "/var/lib/neo4j"); by
    default every real (non-pseudo) filesystem of the machines node exporter runs on is watched, so a data
    directory on the root volume is covered too.

    discovery: the servers' jobs find them by EC2 service discovery (AWS) instead of listing `targets`, which
    still decide which jobs, alerts and panels exist.
    """
    check_version_line(version_line)
    check_name("stack", stack)
    if not targets:
        raise ValueError("at least one scrape target is needed")
    if not _URL_RE.match(prometheus_url):
        raise ValueError(f"prometheus_url must be an http(s) URL, got {prometheus_url!r}")
    interval_ms = duration_ms(scrape_interval)
    if not 1000 <= interval_ms <= 60_000:
        raise ValueError(f"scrape_interval must be between 1s and 1m, got {scrape_interval}")
    if data_mountpoint is not None and not re.fullmatch(r"/[A-Za-z0-9._/-]*", data_mountpoint):
        raise ValueError(f"invalid data_mountpoint {data_mountpoint!r}")
    jobs = scrape_jobs(targets, haproxy_target=haproxy_target, haproxy_targets=haproxy_targets,
                       haproxy_node_exporter_port=haproxy_node_exporter_port)

    # Compare against the most advanced member's position one threshold plus one scrape interval
    # ago: samples of different targets are up to one interval apart, so an up-to-date server is
    # never reported; a server lagging threshold + 2 intervals always is.
    lag_offset = format_ms(round(thresholds.replication_lag_seconds * 1000) + interval_ms)
    queries = promql_queries(METRIC_NAMES[version_line], lag_offset=lag_offset, data_mountpoint=data_mountpoint)
    present = jobs.present
    return {
        PROMETHEUS_CONFIG: render_prometheus_config(stack=stack, version_line=version_line,
                                                    scrape_interval=scrape_interval, jobs=jobs, discovery=discovery),
        PROMETHEUS_RULES: render_alert_rules(stack=stack, version_line=version_line, queries=queries,
                                             thresholds=thresholds, lag_offset=lag_offset, jobs=present),
        GRAFANA_DATASOURCE: render_datasource(stack=stack, prometheus_url=prometheus_url,
                                              scrape_interval=scrape_interval),
        GRAFANA_DASHBOARD_PROVIDER: render_dashboard_provider(stack=stack),
        GRAFANA_DASHBOARD: render_dashboard(stack=stack, version_line=version_line, queries=queries,
                                            thresholds=thresholds, jobs=present),
    }
