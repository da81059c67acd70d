"""The files render_monitoring delivers, by their path relative to the monitoring artifacts, and where
each belongs on the monitoring node (the adapters place them there: components/aws/user_data.py,
components/docker/layout.py)."""
from __future__ import annotations

PROMETHEUS_CONFIG = "prometheus/prometheus.yml"
PROMETHEUS_RULES = "prometheus/rules/neo4j-alerts.yml"
GRAFANA_DATASOURCE = "grafana/provisioning/datasources/prometheus.yml"
GRAFANA_DASHBOARD_PROVIDER = "grafana/provisioning/dashboards/neo4j.yml"
GRAFANA_DASHBOARD = "grafana/dashboards/neo4j-cluster.json"

RULE_FILES_GLOB = "rules/*.yml"  # relative to prometheus.yml: Prometheus resolves it against the config's directory

# Where each rendered file belongs on the monitoring node (Debian's prometheus package, Grafana's
# Debian package). The dashboard provider points Grafana at GRAFANA_DASHBOARDS_DIR.
GRAFANA_DASHBOARDS_DIR = "/var/lib/grafana/dashboards/neo4j"
MONITORING_NODE_PATHS = {
    PROMETHEUS_CONFIG: "/etc/prometheus/prometheus.yml",
    PROMETHEUS_RULES: "/etc/prometheus/rules/neo4j-alerts.yml",
    GRAFANA_DATASOURCE: "/etc/grafana/provisioning/datasources/prometheus.yml",
    GRAFANA_DASHBOARD_PROVIDER: "/etc/grafana/provisioning/dashboards/neo4j.yml",
    GRAFANA_DASHBOARD: f"{GRAFANA_DASHBOARDS_DIR}/neo4j-cluster.json",
}
